"""Layer IR: a validated DAG of NHWC layers with part tags, bit widths and costs.

Shapes are ``(H, W, C)`` tuples for batch 1. Every layer produces one tensor
named after the layer; graph inputs are named tensors too. Costs:

``macs``
    Multiply-accumulates of one inference, times ``repeat``: conv / depthwise /
    grouped conv ``Ho*Wo*Cout*kh*kw*Cin/groups``; conv_transpose
    ``Hi*Wi*Cin*kh*kw*Cout/groups``; fc ``H*W*C*units`` (input flattened); mul
    one multiply per output element. Every other op costs 0 MACs (adds, pools,
    resampling, RoIAlign and proposal decode are data movement or vector work).
``params``
    Weights plus bias of the layer (not times ``repeat``).
``weight_bytes``
    Weights at ``w_bits`` (int4 packs two per byte, 32 -> 4 bytes) plus biases
    at 4 bytes each (int32 accumulator bias, or float32 on the float path).

Ops (:class:`Op`): ``conv`` (dense or grouped), ``depthwise`` (``groups == Cin``,
``Cout = multiplier * Cin``), ``conv_transpose``, ``fc`` (input of any shape,
flattened; output ``(1, 1, units)``; or *batched*: output ``(H, W, units)`` of an
input ``(H, W, C)``, one row per pixel, as a FULLY_CONNECTED with batch > 1),
``add`` (equal shapes), ``mul``
(element-wise; an input may be ``(1, 1, C)`` and broadcast, as in
squeeze-excite), ``concat`` (channels), ``upsample`` (nearest, integer factor
``stride``; output may be cropped by less than one factor, as a resize to a
target size does), ``maxpool`` / ``avgpool`` (window ``kernel``), ``global_avgpool``
(to ``(1, 1, C)``), ``pad`` (explicit ``padding``; may also append zero channels,
as TFLite channel padding does in BlazeFace's residual blocks; 0 MACs), ``activation`` (stand-alone
non-linearity), ``roi_align`` (inputs: feature maps then a proposals tensor;
output ``(kh, kw, C)`` per RoI, ``repeat`` = RoIs), ``proposals`` (anchor decode
+ NMS, output ``(1, N, 4)`` boxes), ``prelu`` (``x`` if ``x >= 0`` else
``alpha[c] * x``: one slope per channel, counted as C weights, 0 MACs: vector
work), ``resize_bilinear`` (any output H, W; coordinate convention ``resize``;
4 taps per output element of vector work, 0 MACs), ``depth_to_space`` (block
``stride``: ``(H, W, C b^2)`` -> ``(H b, W b, C)``, data movement, 0 MACs).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace

from sw.graph.ops import RESIZE_MODES, WEIGHTED, Activation, Op, Part
from sw.graph.shape_rules import check_op_shapes

__all__ = [
    "Op",
    "Part",
    "Activation",
    "Shape",
    "Padding",
    "Layer",
    "Graph",
    "Totals",
    "BITS",
    "FLOAT_BITS",
]

Shape = tuple[int, int, int]
Padding = tuple[tuple[int, int], tuple[int, int]]

FLOAT_BITS = 32
BITS = frozenset({2, 3, 4, 5, 6, 7, 8, 16, FLOAT_BITS})
BIAS_BYTES = 4


def _positive_pair(layer: str, what: str, value: tuple[int, int]) -> tuple[int, int]:
    if len(value) != 2 or any(isinstance(v, bool) or not isinstance(v, int) or v < 1 for v in value):
        raise ValueError(f"layer '{layer}': {what} must be two positive integers, got {value!r}")
    return (value[0], value[1])


#: Largest feature-map height/width and channel count the IR accepts: beyond them a model is a
#: typo (a SCALE-Sim row with an extra digit) and would only produce hours of meaningless work.
MAX_SPATIAL = 65536
MAX_CHANNELS = 2**20


def _shape(layer: str, what: str, value: tuple[int, ...]) -> Shape:
    if len(value) != 3 or any(isinstance(v, bool) or not isinstance(v, int) or v < 1 for v in value):
        raise ValueError(f"layer '{layer}': {what} must be (H, W, C) positive integers, got {value!r}")
    if value[0] > MAX_SPATIAL or value[1] > MAX_SPATIAL or value[2] > MAX_CHANNELS:
        raise ValueError(f"layer '{layer}': {what} {value[0]}x{value[1]}x{value[2]} exceeds the supported "
                         f"{MAX_SPATIAL}x{MAX_SPATIAL} pixels and {MAX_CHANNELS:,} channels")
    return (value[0], value[1], value[2])


@dataclass(frozen=True)
class Layer:
    """One layer: op, NHWC shapes, window geometry, part tag and bit widths.

    Parameters
    ----------
    name
        Unique within its graph; also the name of the tensor it produces.
    op
        :class:`Op` (a plain string such as ``"conv"`` is converted).
    inputs
        Names of the producing layers or graph inputs, in operand order.
    in_shapes
        ``(H, W, C)`` of each input; must equal the producers' output shapes.
    out_shape
        ``(H, W, C)`` of the output (per execution when ``repeat > 1``).
    kernel, stride, dilation
        ``(h, w)`` of the window (conv, pools, RoIAlign output size). For
        ``upsample``, ``stride`` is the integer scale factor.
    padding
        ``((top, bottom), (left, right))`` explicit pixels.
    groups
        Convolution groups (``Cin`` for depthwise).
    activation
        Fused non-linearity, or None (linear).
    bias
        Whether a weighted layer has one bias per output channel (folded
        batch-norm counts as bias).
    part
        :class:`Part` tag used by bit-width policies and reports.
    w_bits, a_bits
        Weight and activation widths; 32 means float (float path, float cost).
    repeat
        Executions per inference (e.g. per-RoI layers run once per proposal; every
        layer of a model imported with batch N runs once per image).
    shares_weights
        Name of an earlier layer whose weights this layer reuses (heads shared
        across pyramid levels); shared weights count once in graph totals.
    resize
        ``resize_bilinear`` only: source-coordinate convention, one of
        ``asymmetric``, ``align_corners``, ``half_pixel`` (see :data:`sw.graph.ops.RESIZE_MODES`).
    sparsity
        Fraction of weights that are zero in the file's sparse storage (weights
        densified at import); ``weight_bytes`` stays dense, ``sparse_weight_bytes``
        counts the non-zeros only.
    """

    name: str
    op: Op
    inputs: tuple[str, ...]
    in_shapes: tuple[Shape, ...]
    out_shape: Shape
    kernel: tuple[int, int] = (1, 1)
    stride: tuple[int, int] = (1, 1)
    dilation: tuple[int, int] = (1, 1)
    padding: Padding = ((0, 0), (0, 0))
    groups: int = 1
    activation: Activation | None = None
    bias: bool = False
    part: Part = Part.BACKBONE
    w_bits: int = 4
    a_bits: int = 4
    repeat: int = 1
    shares_weights: str | None = None
    resize: str | None = None
    sparsity: float = 0.0

    def __post_init__(self) -> None:
        name = self.name
        if not isinstance(name, str) or not name:
            raise ValueError(f"layer name must be a non-empty string, got {name!r}")
        try:
            set_ = object.__setattr__
            set_(self, "op", Op(self.op))
            set_(self, "part", Part(self.part))
            if self.activation is not None:
                set_(self, "activation", Activation(self.activation))
        except ValueError as exc:
            raise ValueError(f"layer '{name}': {exc}") from None
        set_(self, "inputs", tuple(self.inputs))
        set_(self, "in_shapes", tuple(_shape(name, "input shape", tuple(s)) for s in self.in_shapes))
        set_(self, "out_shape", _shape(name, "output shape", tuple(self.out_shape)))
        for what in ("kernel", "stride", "dilation"):
            set_(self, what, _positive_pair(name, what, tuple(getattr(self, what))))
        pad = tuple(tuple(p) for p in self.padding)
        if len(pad) != 2 or any(len(p) != 2 or min(p) < 0 for p in pad):
            raise ValueError(f"layer '{name}': padding must be ((top, bottom), (left, right)) >= 0, got {self.padding!r}")
        set_(self, "padding", pad)
        for what in ("w_bits", "a_bits"):
            if getattr(self, what) not in BITS:
                raise ValueError(f"layer '{name}': {what} must be one of {sorted(BITS)}, got {getattr(self, what)!r}")
        if self.groups < 1 or self.repeat < 1:
            raise ValueError(f"layer '{name}': groups and repeat must be >= 1")
        if not self.inputs or len(self.inputs) != len(self.in_shapes):
            raise ValueError(f"layer '{name}': needs at least one input and one shape per input, "
                             f"got {len(self.inputs)} inputs and {len(self.in_shapes)} shapes")
        if (self.op is Op.RESIZE_BILINEAR) != (self.resize is not None) or (
                self.resize is not None and self.resize not in RESIZE_MODES):
            raise ValueError(f"layer '{name}': resize must be one of {RESIZE_MODES} for resize_bilinear "
                             f"and None otherwise, got {self.resize!r}")
        if not 0.0 <= self.sparsity < 1.0 or (self.sparsity and self.op not in WEIGHTED):
            raise ValueError(f"layer '{name}': sparsity must be in [0, 1) and only on weighted ops, got {self.sparsity!r}")
        if self.bias and self.op not in WEIGHTED:
            raise ValueError(f"layer '{name}': op {self.op.value} has no bias")
        check_op_shapes(self)

    @property
    def weight_count(self) -> int:
        """Number of weights, excluding bias."""
        if self.op is Op.FC:
            depth = self.in_shapes[0][2] if self.batched_rows > 1 else math.prod(self.in_shapes[0])
            return depth * self.out_shape[2]
        if self.op is Op.PRELU:
            return self.out_shape[2]
        if self.op in WEIGHTED:
            cin, cout = self.in_shapes[0][2], self.out_shape[2]
            return self.kernel[0] * self.kernel[1] * cin // self.groups * cout
        return 0

    @property
    def bias_count(self) -> int:
        """Number of biases (one per output channel when ``bias``)."""
        return self.out_shape[2] if self.bias else 0

    @property
    def params(self) -> int:
        """Weights plus biases (not multiplied by ``repeat``)."""
        return self.weight_count + self.bias_count

    @property
    def weight_bytes(self) -> int:
        """Bytes of weights at ``w_bits`` (packed) plus 4-byte biases."""
        return math.ceil(self.weight_count * self.w_bits / 8) + self.bias_count * BIAS_BYTES

    @property
    def batched_rows(self) -> int:
        """Rows of a batched fc (``H * W`` of its output), 1 for a flattening fc and other ops."""
        return self.out_shape[0] * self.out_shape[1] if self.op is Op.FC else 1

    @property
    def sparse_weight_bytes(self) -> int:
        """Bytes of the non-zero weights (``(1 - sparsity)`` of them) plus biases: the weight traffic of a
        layer whose weights were stored sparse."""
        return math.ceil(round(self.weight_count * (1.0 - self.sparsity)) * self.w_bits / 8) + self.bias_count * BIAS_BYTES

    @property
    def macs(self) -> int:
        """Multiply-accumulates per inference (all ``repeat`` executions)."""
        ho, wo, cout = self.out_shape
        if self.op in (Op.CONV, Op.DEPTHWISE):
            per = ho * wo * cout * self.kernel[0] * self.kernel[1] * (self.in_shapes[0][2] // self.groups)
        elif self.op is Op.CONV_TRANSPOSE:
            hi, wi, cin = self.in_shapes[0]
            per = hi * wi * cin * self.kernel[0] * self.kernel[1] * (cout // self.groups)
        elif self.op is Op.FC:
            per = self.weight_count * self.batched_rows
        elif self.op is Op.MUL:
            per = ho * wo * cout
        else:
            per = 0
        return per * self.repeat

    @property
    def is_float(self) -> bool:
        """True if weights or activations run on the float path (32 bits)."""
        return FLOAT_BITS in (self.w_bits, self.a_bits)

    def to_dict(self) -> dict:
        """JSON-ready description with derived costs."""
        return {
            "name": self.name,
            "op": self.op.value,
            "inputs": list(self.inputs),
            "in_shapes": [list(s) for s in self.in_shapes],
            "out_shape": list(self.out_shape),
            "kernel": list(self.kernel),
            "stride": list(self.stride),
            "dilation": list(self.dilation),
            "padding": [list(p) for p in self.padding],
            "groups": self.groups,
            "activation": self.activation.value if self.activation else None,
            "bias": self.bias,
            "part": self.part.value,
            "w_bits": self.w_bits,
            "a_bits": self.a_bits,
            "repeat": self.repeat,
            "shares_weights": self.shares_weights,
            "resize": self.resize,
            "sparsity": self.sparsity,
            "macs": self.macs,
            "params": self.params,
            "weight_bytes": self.weight_bytes,
        }


@dataclass(frozen=True)
class Totals:
    """Sums over layers: MACs per inference, unique parameters and their bytes."""

    layers: int
    macs: int
    params: int
    weight_bytes: int

    def to_dict(self) -> dict:
        """JSON-ready copy."""
        return {"layers": self.layers, "macs": self.macs, "params": self.params, "weight_bytes": self.weight_bytes}


BitPair = tuple[int, int]


@dataclass(frozen=True)
class Graph:
    """A validated DAG of layers in topological order.

    Parameters
    ----------
    name
        Model name.
    inputs
        ``((tensor_name, (H, W, C)), ...)`` graph inputs.
    layers
        Layers, each after all its producers.
    outputs
        Names of the layers whose tensors are model outputs.

    Raises
    ------
    ValueError
        Duplicate names, unknown or later producers, an input shape that differs
        from its producer's output shape, bad weight sharing or unknown outputs.
    """

    name: str
    inputs: tuple[tuple[str, Shape], ...]
    layers: tuple[Layer, ...]
    outputs: tuple[str, ...]
    _index: Mapping[str, Layer] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "inputs", tuple((n, tuple(s)) for n, s in self.inputs))
        object.__setattr__(self, "layers", tuple(self.layers))
        object.__setattr__(self, "outputs", tuple(self.outputs))
        shapes: dict[str, Shape] = {}
        for tensor, shape in self.inputs:
            if tensor in shapes:
                raise ValueError(f"graph '{self.name}': duplicate input '{tensor}'")
            shapes[tensor] = _shape(tensor, "graph input shape", shape)
        index: dict[str, Layer] = {}
        for layer in self.layers:
            if layer.name in shapes:
                raise ValueError(f"graph '{self.name}': duplicate tensor name '{layer.name}'")
            for producer, got in zip(layer.inputs, layer.in_shapes):
                if producer not in shapes:
                    raise ValueError(f"layer '{layer.name}': input '{producer}' is not a graph input or an earlier layer")
                if shapes[producer] != got:
                    raise ValueError(
                        f"layer '{layer.name}': input '{producer}' has shape {shapes[producer]} "
                        f"but the layer expects {got}"
                    )
            if layer.shares_weights is not None:
                _check_sharing(layer, index.get(layer.shares_weights))
            shapes[layer.name] = layer.out_shape
            index[layer.name] = layer
        if not self.outputs:
            raise ValueError(f"graph '{self.name}': no outputs")
        for out in self.outputs:
            if out not in index:
                raise ValueError(f"graph '{self.name}': output '{out}' is not a layer")
        object.__setattr__(self, "_index", index)

    def __iter__(self) -> Iterator[Layer]:
        return iter(self.layers)

    def __len__(self) -> int:
        return len(self.layers)

    def layer(self, name: str) -> Layer:
        """The layer called ``name`` (ValueError if there is none)."""
        try:
            return self._index[name]
        except KeyError:
            raise ValueError(f"graph '{self.name}': no layer '{name}'") from None

    def totals(self, part: Part | str | None = None) -> Totals:
        """MACs, unique parameters and weight bytes, of all layers or one part.

        Layers that share another layer's weights add MACs but no parameters.
        """
        chosen = [l for l in self.layers if part is None or l.part is Part(part)]
        owned = [l for l in chosen if l.shares_weights is None]
        return Totals(
            layers=len(chosen),
            macs=sum(l.macs for l in chosen),
            params=sum(l.params for l in owned),
            weight_bytes=sum(l.weight_bytes for l in owned),
        )

    def with_bits(
        self,
        default: BitPair | None = None,
        parts: Mapping[Part | str, BitPair] | None = None,
        layers: Mapping[str, BitPair] | None = None,
    ) -> Graph:
        """A copy with ``(w_bits, a_bits)`` set by policy.

        Precedence: ``layers`` over ``parts`` over ``default``; layers no rule
        matches keep their widths. Use 32 for float.

        Raises
        ------
        ValueError
            Unknown part or layer name, or a width outside :data:`BITS`.
        """
        part_rules = {Part(p): bits for p, bits in (parts or {}).items()}
        layer_rules = dict(layers or {})
        for name in layer_rules:
            self.layer(name)
        new = []
        for layer in self.layers:
            bits = layer_rules.get(layer.name, part_rules.get(layer.part, default))
            if bits is not None:
                w, a = bits
                layer = replace(layer, w_bits=w, a_bits=a)
            new.append(layer)
        return Graph(self.name, self.inputs, tuple(new), self.outputs)

    def to_dict(self) -> dict:
        """JSON-ready description: inputs, layers with costs, outputs, totals."""
        return {
            "name": self.name,
            "inputs": {n: list(s) for n, s in self.inputs},
            "outputs": list(self.outputs),
            "layers": [l.to_dict() for l in self.layers],
            "totals": self.totals().to_dict(),
            "totals_by_part": {p.value: self.totals(p).to_dict() for p in Part},
        }


def _check_sharing(layer: Layer, owner: Layer | None) -> None:
    if owner is None:
        raise ValueError(f"layer '{layer.name}': shares weights with '{layer.shares_weights}', not an earlier layer")
    if owner.shares_weights is not None:
        raise ValueError(f"layer '{layer.name}': '{owner.name}' itself shares weights; name the owner")
    same = (owner.op.value, owner.kernel, owner.weight_count, owner.bias_count, owner.w_bits)
    mine = (layer.op.value, layer.kernel, layer.weight_count, layer.bias_count, layer.w_bits)
    if same != mine:
        raise ValueError(
            f"layer '{layer.name}': cannot share weights with '{owner.name}' "
            f"(op, kernel, weights, biases, w_bits: {mine} vs {same})"
        )
