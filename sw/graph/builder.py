"""GraphBuilder: write a network as a sequence of calls that compute output shapes.

Every method takes producer tensor names, appends one :class:`~sw.graph.ir.Layer`
and returns its name. Padding accepts ``"same"`` (TensorFlow SAME: output
``ceil(H / stride)``, the odd extra pixel bottom/right), ``"valid"``, an int
(symmetric, PyTorch/darknet style) or explicit ``((top, bottom), (left, right))``.
"""

from __future__ import annotations

from collections.abc import Sequence

from sw.graph.ir import Activation, Graph, Layer, Op, Padding, Part, Shape

__all__ = ["GraphBuilder", "PaddingSpec", "resolve_padding"]

PaddingSpec = str | int | Padding
IntPair = int | tuple[int, int]


def _pair(value: IntPair) -> tuple[int, int]:
    return (value, value) if isinstance(value, int) else (value[0], value[1])


def resolve_padding(spec: PaddingSpec, size: tuple[int, int], kernel: tuple[int, int],
                    stride: tuple[int, int], dilation: tuple[int, int]) -> Padding:
    """Explicit ``((top, bottom), (left, right))`` pixels for a padding spec.

    ``"same"`` follows TensorFlow: total ``max((ceil(H/s) - 1) * s + d*(k-1) + 1 - H, 0)``
    with the extra pixel of an odd total at the bottom/right.
    """
    if spec == "valid":
        return ((0, 0), (0, 0))
    if spec == "same":
        pads = []
        for h, k, s, d in zip(size, kernel, stride, dilation):
            total = max((-(-h // s) - 1) * s + d * (k - 1) + 1 - h, 0)
            pads.append((total // 2, total - total // 2))
        return (pads[0], pads[1])
    if isinstance(spec, int):
        return ((spec, spec), (spec, spec))
    if isinstance(spec, str):
        raise ValueError(f"padding: expected 'same', 'valid', an int or explicit pixels, got {spec!r}")
    return ((spec[0][0], spec[0][1]), (spec[1][0], spec[1][1]))


class GraphBuilder:
    """Accumulates layers; :meth:`build` validates them into a :class:`Graph`.

    Parameters
    ----------
    name
        Model name.
    w_bits, a_bits
        Widths given to every layer (change later with ``Graph.with_bits``).

    Attributes
    ----------
    part
        :class:`Part` tag given to the layers added next.
    """

    def __init__(self, name: str, *, w_bits: int = 4, a_bits: int = 4) -> None:
        self.name = name
        self.part = Part.BACKBONE
        self._bits = (w_bits, a_bits)
        self._inputs: list[tuple[str, Shape]] = []
        self._layers: list[Layer] = []
        self._shapes: dict[str, Shape] = {}

    def shape(self, tensor: str) -> Shape:
        """``(H, W, C)`` of a tensor added so far."""
        try:
            return self._shapes[tensor]
        except KeyError:
            raise ValueError(f"{self.name}: no tensor '{tensor}' yet") from None

    def input(self, name: str, shape: Shape) -> str:
        """Declare a graph input tensor."""
        self._inputs.append((name, tuple(shape)))
        self._shapes[name] = tuple(shape)
        return name

    def _add(self, name: str, op: Op, inputs: Sequence[str], out_shape: Shape, **kw) -> str:
        w, a = self._bits
        layer = Layer(name=name, op=op, inputs=tuple(inputs), in_shapes=tuple(self.shape(i) for i in inputs),
                      out_shape=out_shape, part=self.part, w_bits=w, a_bits=a, **kw)
        self._layers.append(layer)
        self._shapes[name] = layer.out_shape
        return name

    def _window(self, x: str, kernel: IntPair, stride: IntPair, padding: PaddingSpec, dilation: IntPair):
        h, w, _ = self.shape(x)
        k, s, d = _pair(kernel), _pair(stride), _pair(dilation)
        pad = resolve_padding(padding, (h, w), k, s, d)
        out = tuple((n + p[0] + p[1] - dd * (kk - 1) - 1) // ss + 1 for n, p, kk, ss, dd in zip((h, w), pad, k, s, d))
        return dict(kernel=k, stride=s, dilation=d, padding=pad), out

    def conv(self, x: str, out_channels: int, kernel: IntPair = 3, stride: IntPair = 1, *, name: str,
             padding: PaddingSpec = "same", dilation: IntPair = 1, groups: int = 1,
             act: Activation | str | None = None, bias: bool = True, repeat: int = 1,
             shares: str | None = None) -> str:
        """Dense or grouped convolution; ``bias`` defaults on (folded batch-norm)."""
        geo, (ho, wo) = self._window(x, kernel, stride, padding, dilation)
        return self._add(name, Op.CONV, [x], (ho, wo, out_channels), groups=groups, activation=act,
                         bias=bias, repeat=repeat, shares_weights=shares, **geo)

    def depthwise(self, x: str, kernel: IntPair = 3, stride: IntPair = 1, *, name: str,
                  padding: PaddingSpec = "same", dilation: IntPair = 1, multiplier: int = 1,
                  act: Activation | str | None = None, bias: bool = True) -> str:
        """Depthwise convolution (``groups = Cin``, ``Cout = multiplier * Cin``)."""
        cin = self.shape(x)[2]
        geo, (ho, wo) = self._window(x, kernel, stride, padding, dilation)
        return self._add(name, Op.DEPTHWISE, [x], (ho, wo, cin * multiplier), groups=cin, activation=act,
                         bias=bias, **geo)

    def conv_transpose(self, x: str, out_channels: int, kernel: IntPair, stride: IntPair, *, name: str,
                       padding: IntPair = 0, output_padding: IntPair = 0, groups: int = 1,
                       act: Activation | str | None = None, bias: bool = True) -> str:
        """Transposed convolution with PyTorch's padding / output_padding arithmetic."""
        h, w, _ = self.shape(x)
        k, s, p, op = _pair(kernel), _pair(stride), _pair(padding), _pair(output_padding)
        out = tuple((n - 1) * ss - 2 * pp + kk + oo for n, ss, pp, kk, oo in zip((h, w), s, p, k, op))
        return self._add(name, Op.CONV_TRANSPOSE, [x], (*out, out_channels), kernel=k, stride=s,
                         padding=((p[0], p[0]), (p[1], p[1])), groups=groups, activation=act, bias=bias)

    def fc(self, x: str, units: int, *, name: str, act: Activation | str | None = None, bias: bool = True,
           repeat: int = 1) -> str:
        """Fully connected layer on the flattened input."""
        return self._add(name, Op.FC, [x], (1, 1, units), activation=act, bias=bias, repeat=repeat)

    def add(self, *xs: str, name: str, act: Activation | str | None = None) -> str:
        """Element-wise sum of equal-shape tensors (residual joins, FPN merges)."""
        return self._add(name, Op.ADD, xs, self.shape(xs[0]), activation=act)

    def mul(self, x: str, scale: str, *, name: str) -> str:
        """Element-wise product; ``scale`` may be ``(1, 1, C)`` (squeeze-excite)."""
        return self._add(name, Op.MUL, [x, scale], self.shape(x))

    def concat(self, *xs: str, name: str) -> str:
        """Channel concatenation."""
        h, w, _ = self.shape(xs[0])
        return self._add(name, Op.CONCAT, xs, (h, w, sum(self.shape(t)[2] for t in xs)))

    def upsample(self, x: str, factor: int = 2, *, name: str, size: tuple[int, int] | None = None) -> str:
        """Nearest upsampling by ``factor``; ``size`` crops to a target (H, W)."""
        h, w, c = self.shape(x)
        ho, wo = size if size is not None else (h * factor, w * factor)
        return self._add(name, Op.UPSAMPLE, [x], (ho, wo, c), stride=(factor, factor))

    def maxpool(self, x: str, kernel: IntPair, stride: IntPair, *, name: str, padding: PaddingSpec = 0) -> str:
        """Max pooling."""
        geo, (ho, wo) = self._window(x, kernel, stride, padding, 1)
        return self._add(name, Op.MAXPOOL, [x], (ho, wo, self.shape(x)[2]), **geo)

    def avgpool(self, x: str, kernel: IntPair, stride: IntPair, *, name: str, padding: PaddingSpec = 0) -> str:
        """Average pooling."""
        geo, (ho, wo) = self._window(x, kernel, stride, padding, 1)
        return self._add(name, Op.AVGPOOL, [x], (ho, wo, self.shape(x)[2]), **geo)

    def global_avgpool(self, x: str, *, name: str) -> str:
        """Average over H and W to ``(1, 1, C)``."""
        return self._add(name, Op.GLOBAL_AVGPOOL, [x], (1, 1, self.shape(x)[2]))

    def pad(self, x: str, padding: Padding, *, name: str) -> str:
        """Explicit zero padding ``((top, bottom), (left, right))``."""
        h, w, c = self.shape(x)
        (t, b), (l, r) = padding
        return self._add(name, Op.PAD, [x], (h + t + b, w + l + r, c), padding=padding)

    def activation(self, x: str, act: Activation | str, *, name: str) -> str:
        """Stand-alone non-linearity (when the linear tensor is also consumed)."""
        return self._add(name, Op.ACTIVATION, [x], self.shape(x), activation=act)

    def proposals(self, xs: Sequence[str], count: int, *, name: str) -> str:
        """Anchor decode + NMS keeping ``count`` boxes; output ``(1, count, 4)``, 0 MACs."""
        return self._add(name, Op.PROPOSALS, xs, (1, count, 4))

    def roi_align(self, features: Sequence[str], proposals: str, output_size: int = 7, *, name: str) -> str:
        """RoIAlign of every proposal from ``features``: ``repeat`` = number of RoIs."""
        rois = self.shape(proposals)[1]
        c = self.shape(features[0])[2]
        k = (output_size, output_size)
        return self._add(name, Op.ROI_ALIGN, [*features, proposals], (*k, c), kernel=k, repeat=rois)

    def build(self, outputs: Sequence[str]) -> Graph:
        """Validate and return the graph."""
        return Graph(self.name, tuple(self._inputs), tuple(self._layers), tuple(outputs))
