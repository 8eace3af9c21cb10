"""ONNX importer: float NCHW models -> layer IR (NHWC) plus float64 weights.

Mapping (see ``docs/importers.md``):

* ``Conv`` -> ``conv`` / ``depthwise`` (``group == Cin``, ``Cout`` a multiple of
  ``Cin``) / grouped ``conv``; OIHW weights become OHWI, ``pads`` become
  ``((top, bottom), (left, right))`` (``auto_pad`` resolved, extra pixel
  bottom/right). A following ``BatchNormalization`` is folded with its frozen
  statistics (FQN eq. 13-14); a stand-alone one becomes a 1x1 ``depthwise``.
* Activations fuse into the producing conv / fc / add when it has no other
  consumer, else become ``activation`` layers: ``Relu``, ``Clip`` to [0, 6]
  (relu6) or [0, inf) (relu), ``Sigmoid``, ``x * Sigmoid(x)`` (silu),
  ``HardSwish`` and ``x * HardSigmoid(x)`` with alpha 1/6, beta 1/2
  (hardswish), ``LeakyRelu`` (its alpha is kept).
* ``Add`` / ``Mul`` of two activations -> ``add`` / ``mul``; ``Concat`` on
  channels -> ``concat``; nearest ``Resize`` / ``Upsample`` by integer factors
  -> ``upsample``; ``MaxPool``, ``AveragePool`` (padding excluded),
  ``GlobalAveragePool``; ``Gemm`` / ``MatMul`` with a constant matrix after a
  flatten -> ``fc`` (columns permuted from CHW to HWC order).
* YOLOX / YOLOv5 *Focus*: four ``Slice`` ops taking every second row and
  column, concatenated on channels and read by one ``Conv`` (k, stride s,
  pads p) are rewritten into one conv on the image (2k, 2s, 2p) with the
  weights rearranged: the same arithmetic and the same MACs, and no
  space-to-depth copy left to cost.
* Nodes whose inputs are all constants are folded (shape-only subgraphs);
  ``Reshape`` / ``Flatten`` / ``Transpose`` / ``Squeeze`` / ``Unsqueeze`` and
  ``Concat`` on a non-channel axis after the last compute layers form the
  zero-cost *tail* (:class:`sw.graph.model.TailOp`). ``Identity`` and
  ``Dropout`` are aliases.

Anything else raises ``ValueError("<file>: node '<name>' (<OpType>): ...")``;
an unsupported op type lists the supported ones. Shapes come from
``onnx.shape_inference`` and every IR layer is checked against them.
"""

from __future__ import annotations

import os
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from sw.graph.ir import Activation, Graph, Layer, Op, Part
from sw.quant.folding import BatchNorm, fold_batch_norm
from sw.graph.model import ImportedModel, TailOp

__all__ = ["load_onnx", "load_onnx_graph", "SUPPORTED_OPS"]

COMPUTE_OPS = ("Conv", "BatchNormalization", "Relu", "Clip", "Sigmoid", "HardSwish", "HardSigmoid", "LeakyRelu",
               "Add", "Mul", "Concat", "Resize", "Upsample", "MaxPool", "AveragePool", "GlobalAveragePool",
               "Gemm", "MatMul", "Slice")
LAYOUT_OPS = ("Reshape", "Flatten", "Transpose", "Squeeze", "Unsqueeze", "Identity", "Dropout")
CONST_OPS = ("Constant", "Shape", "Gather", "Cast", "Sub", "Div", "Range", "ConstantOfShape")
SUPPORTED_OPS = tuple(sorted(set(COMPUTE_OPS + LAYOUT_OPS + CONST_OPS)))

_FUSABLE = (Op.CONV, Op.DEPTHWISE, Op.FC, Op.ADD)
_DEFAULT_BITS = 8


class _Fail(Exception):
    """Node-level error; turned into one ValueError line naming the file and node."""


@dataclass
class _Act:
    """An IR tensor: graph input or layer output, with its NCHW (or (1, N)) shape."""

    name: str
    shape: tuple[int, ...]


@dataclass
class _Slices:
    """Strided slices of an activation (partial space-to-depth)."""

    source: _Act
    starts: dict[int, int]


@dataclass
class _SpaceToDepth:
    """Concatenated 2x2 phase slices of ``source``: block ``i`` holds phase ``phases[i]`` = (dy, dx)."""

    source: _Act
    phases: list[tuple[int, int]]


@dataclass
class _Tail:
    """A tail tensor in external (NCHW) layout."""

    name: str
    shape: tuple[int, ...]


@dataclass
class _Pending:
    """A layer under construction (layers are immutable once built)."""

    name: str
    op: Op
    inputs: list[str]
    in_shapes: list[tuple[int, int, int]]
    out_shape: tuple[int, int, int]
    attrs: dict = field(default_factory=dict)
    activation: Activation | None = None


def _nhwc(shape: tuple[int, ...]) -> tuple[int, int, int]:
    if len(shape) == 4:
        return (shape[2], shape[3], shape[1])
    return (1, 1, int(np.prod(shape[1:])))


def _nchw(hwc: tuple[int, int, int]) -> tuple[int, int, int, int]:
    return (1, hwc[2], hwc[0], hwc[1])


class _Importer:
    def __init__(self, path: Path, model) -> None:
        import onnx
        from onnx import numpy_helper, shape_inference

        self.onnx, self.numpy_helper = onnx, numpy_helper
        self.path = path
        try:
            inferred = shape_inference.infer_shapes(model)
        except Exception as exc:  # onnx raises its own error types
            raise ValueError(f"{path}: shape inference failed: {_first_line(exc)}") from None
        self.graph_proto = inferred.graph
        self.inferred = {}
        for vi in list(inferred.graph.value_info) + list(inferred.graph.output) + list(inferred.graph.input):
            dims = vi.type.tensor_type.shape.dim
            if vi.type.tensor_type.HasField("shape") and all(d.HasField("dim_value") for d in dims):
                self.inferred[vi.name] = tuple(int(d.dim_value) for d in dims)
        self.values: dict[str, object] = {}
        for init in inferred.graph.initializer:
            self.values[init.name] = numpy_helper.to_array(init)
        self.consumers: dict[str, list] = defaultdict(list)
        for node in inferred.graph.node:
            for name in node.input:
                if name:
                    self.consumers[name].append(node)
        for out in inferred.graph.output:
            self.consumers[out.name].append(None)
        self.layers: dict[str, _Pending] = {}
        self.order: list[str] = []
        self.tensors: dict[str, np.ndarray] = {}
        self.alphas: dict[str, float] = {}
        self.tail: list[TailOp] = []
        self.native: dict[str, tuple[int, ...]] = {}
        self.used_names: set[str] = set()
        self.act_shapes: dict[str, tuple[int, ...]] = {}

    # -- helpers ---------------------------------------------------------------------------------

    def attrs(self, node) -> dict:
        return {a.name: self.onnx.helper.get_attribute_value(a) for a in node.attribute}

    def const(self, name: str, what: str) -> np.ndarray:
        value = self.values.get(name)
        if not isinstance(value, np.ndarray):
            raise _Fail(f"{what} must be a constant")
        return value

    def act(self, name: str, what: str = "input") -> _Act:
        value = self.values.get(name)
        if not isinstance(value, _Act):
            raise _Fail(f"{what} '{name}' must be an activation tensor, got {type(value).__name__.strip('_')}")
        return value

    def only_consumer(self, tensor: str, node) -> bool:
        return self.consumers[tensor] == [node]

    def unique(self, node) -> str:
        base = node.name or node.output[0]
        name, i = base, 1
        while name in self.used_names:
            name, i = f"{base}_{i}", i + 1
        self.used_names.add(name)
        return name

    def emit(self, node, op: Op, inputs: list[_Act], out_hwc: tuple[int, int, int], **attrs) -> _Act:
        name = self.unique(node)
        self.layers[name] = _Pending(name, op, [a.name for a in inputs], [_nhwc(a.shape) for a in inputs],
                                     out_hwc, attrs)
        self.order.append(name)
        out = _Act(name, (1, out_hwc[2]) if op is Op.FC else _nchw(out_hwc))
        self.act_shapes[name] = out.shape
        self.check_inferred(node, out.shape)
        self.values[node.output[0]] = out
        return out

    def check_inferred(self, node, shape: tuple[int, ...]) -> None:
        want = self.inferred.get(node.output[0])
        if want is not None and tuple(want) != tuple(shape):
            raise _Fail(f"computed output shape {shape} disagrees with ONNX shape inference {want}")

    # -- driver ----------------------------------------------------------------------------------

    def run(self) -> ImportedModel:
        g = self.graph_proto
        inputs = [vi for vi in g.input if vi.name not in self.values]
        if not inputs:
            raise ValueError(f"{self.path}: the graph has no non-constant input")
        graph_inputs = []
        for vi in inputs:
            shape = self.inferred.get(vi.name)
            if shape is None or len(shape) != 4 or shape[0] != 1:
                raise ValueError(f"{self.path}: input '{vi.name}': expected a static (1, C, H, W) shape, got {shape}")
            self.values[vi.name] = _Act(vi.name, shape)
            self.native[vi.name] = shape
            self.used_names.add(vi.name)
            graph_inputs.append((vi.name, _nhwc(shape)))
        for node in g.node:
            where = f"{self.path}: node '{node.name or node.output[0]}' ({node.op_type})"
            try:
                self.node(node)
            except _Fail as exc:
                raise ValueError(f"{where}: {exc}") from None
            except (ValueError, TypeError, IndexError, KeyError, ArithmeticError) as exc:
                raise ValueError(f"{where}: {_first_line(exc)}") from None
        return self.finish(graph_inputs)

    def finish(self, graph_inputs) -> ImportedModel:
        g = self.graph_proto
        outputs = []
        for vi in g.output:
            value = self.values.get(vi.name)
            if isinstance(value, _Act):
                if value.name not in self.layers:
                    raise ValueError(f"{self.path}: output '{vi.name}' is a graph input, not computed")
                label = vi.name if vi.name not in self.used_names else f"{vi.name}.out"
                self.tail.append(TailOp("reshape", (value.name,), label, shape=value.shape))
                outputs.append(label)
            elif isinstance(value, _Tail):
                outputs.append(value.name)
            else:
                raise ValueError(f"{self.path}: output '{vi.name}' is not computed by supported nodes")
        tail = _prune_tail(self.tail, outputs)
        for op in tail:
            for name in op.inputs:
                if name in self.layers:
                    self.native[name] = self.act_shapes[name]
        ir_outputs = [n for n in self.order if n in self.native]
        layers = []
        parts = _parts(self.layers, self.order, ir_outputs)
        try:
            for name in self.order:
                p = self.layers[name]
                layers.append(Layer(name=p.name, op=p.op, inputs=tuple(p.inputs), in_shapes=tuple(p.in_shapes),
                                    out_shape=p.out_shape, activation=p.activation, part=parts[name],
                                    w_bits=_DEFAULT_BITS, a_bits=_DEFAULT_BITS, **p.attrs))
            graph = Graph(self.path.stem, tuple(graph_inputs), tuple(layers), tuple(ir_outputs))
        except ValueError as exc:
            raise ValueError(f"{self.path}: {exc}") from None
        native = {k: v for k, v in self.native.items()}
        return ImportedModel(graph, self.tensors, "nchw", native, tuple(tail), tuple(outputs), self.alphas)

    # -- node dispatch ---------------------------------------------------------------------------

    def node(self, node) -> None:
        op = node.op_type
        if node.domain not in ("", "ai.onnx"):
            raise _Fail(f"custom domain '{node.domain}' is not supported; supported ops: {', '.join(SUPPORTED_OPS)}")
        if op == "Constant":
            self.values[node.output[0]] = self.numpy_helper.to_array(self.attrs(node)["value"])
            return
        data_inputs = [n for n in node.input if n]
        if data_inputs and all(isinstance(self.values.get(n), np.ndarray) for n in data_inputs):
            self.values[node.output[0]] = _fold_constant(self, node)
            return
        handler = getattr(self, f"op_{op}", None)
        if handler is None:
            raise _Fail(f"unsupported op type '{op}'; supported ops: {', '.join(SUPPORTED_OPS)}")
        handler(node)

    # -- compute ops -----------------------------------------------------------------------------

    def op_Conv(self, node) -> None:
        a = self.attrs(node)
        src = self.values.get(node.input[0])
        w = self.const(node.input[1], "weight").astype(np.float64)
        b = self.const(node.input[2], "bias").astype(np.float64) if len(node.input) > 2 and node.input[2] else None
        if w.ndim != 4:
            raise _Fail(f"only 2-D convolution is supported, got weight shape {w.shape}")
        kh, kw = w.shape[2:]
        stride = tuple(a.get("strides", (1, 1)))
        dilation = tuple(a.get("dilations", (1, 1)))
        groups = int(a.get("group", 1))
        if isinstance(src, _SpaceToDepth):
            x, w, stride, pads = _fold_space_to_depth(src, w, stride, dilation, groups, a)
            kh, kw = w.shape[2:]
        else:
            x = self.act(node.input[0])
            pads = _conv_pads(a, x.shape[2:], (kh, kw), stride, dilation)
        cin = x.shape[1]
        cout = w.shape[0]
        if w.shape[1] * groups != cin:
            raise _Fail(f"weight shape {w.shape} with group={groups} does not match {cin} input channels")
        op = Op.DEPTHWISE if groups == cin and groups > 1 and w.shape[1] == 1 else Op.CONV
        ho = (x.shape[2] + sum(pads[0]) - dilation[0] * (kh - 1) - 1) // stride[0] + 1
        wo = (x.shape[3] + sum(pads[1]) - dilation[1] * (kw - 1) - 1) // stride[1] + 1
        out = self.emit(node, op, [x], (ho, wo, cout), kernel=(kh, kw), stride=stride, dilation=dilation,
                        padding=pads, groups=groups, bias=b is not None)
        self.tensors[f"{out.name}.weight"] = np.transpose(w, (0, 2, 3, 1))
        self.tensors[f"{out.name}.bias"] = np.zeros(cout) if b is None else b

    def op_BatchNormalization(self, node) -> None:
        x = self.act(node.input[0])
        gamma, beta, mean, var = (self.const(n, "batch-norm parameter").astype(np.float64) for n in node.input[1:5])
        bn = BatchNorm(gamma, beta, mean, var, float(self.attrs(node).get("epsilon", 1e-5)))
        producer = self.layers.get(x.name)
        if (producer is not None and producer.op in (Op.CONV, Op.DEPTHWISE, Op.FC) and producer.activation is None
                and self.only_consumer(node.input[0], node)):
            key = x.name
            w, b = fold_batch_norm(self.tensors[f"{key}.weight"], self.tensors[f"{key}.bias"], bn)
            self.tensors[f"{key}.weight"], self.tensors[f"{key}.bias"] = w, b
            producer.attrs["bias"] = True
            self.check_inferred(node, x.shape)
            self.values[node.output[0]] = x
            return
        c = x.shape[1]
        out = self.emit(node, Op.DEPTHWISE, [x], _nhwc(x.shape), groups=c, bias=True)
        w, b = fold_batch_norm(np.ones((c, 1, 1, 1)), None, bn)
        self.tensors[f"{out.name}.weight"], self.tensors[f"{out.name}.bias"] = w, b

    def activate(self, node, source: str, activation: Activation, alpha: float | None = None) -> None:
        """Fuse ``activation`` into the producer of ``source`` or emit an activation layer."""
        x = self.act(source)
        producer = self.layers.get(x.name)
        fusable = (producer is not None and producer.op in _FUSABLE and producer.activation is None
                   and _chain_only(self, source, node))
        if fusable:
            producer.activation = activation
            self.check_inferred(node, x.shape)
            self.values[node.output[0]] = x
            name = x.name
        else:
            name = self.emit(node, Op.ACTIVATION, [x], _nhwc(x.shape)).name
            self.layers[name].activation = activation
        if alpha is not None:
            self.alphas[name] = alpha

    def op_Relu(self, node) -> None:
        self.activate(node, node.input[0], Activation.RELU)

    def op_LeakyRelu(self, node) -> None:
        self.activate(node, node.input[0], Activation.LEAKY_RELU, float(self.attrs(node).get("alpha", 0.01)))

    def op_HardSwish(self, node) -> None:
        self.activate(node, node.input[0], Activation.HARDSWISH)

    def op_Clip(self, node) -> None:
        a = self.attrs(node)
        lo, hi = a.get("min", -np.inf), a.get("max", np.inf)
        if len(node.input) > 1 and node.input[1]:
            lo = float(self.const(node.input[1], "Clip min"))
        if len(node.input) > 2 and node.input[2]:
            hi = float(self.const(node.input[2], "Clip max"))
        if lo == 0.0 and hi == 6.0:
            self.activate(node, node.input[0], Activation.RELU6)
        elif lo == 0.0 and hi == np.inf:
            self.activate(node, node.input[0], Activation.RELU)
        else:
            raise _Fail(f"Clip to [{lo}, {hi}] is not supported (only [0, 6] and [0, inf))")

    def _gate_of(self, node):
        """The Mul consuming ``node``'s output with ``x * gate(x)``, or None."""
        users = self.consumers[node.output[0]]
        mul = users[0] if len(users) == 1 else None
        if mul is None or mul.op_type != "Mul":
            return None
        if sorted(mul.input) != sorted([node.input[0], node.output[0]]):
            return None
        return mul

    def op_Sigmoid(self, node) -> None:
        if self._gate_of(node) is not None:
            self.values[node.output[0]] = _Gate(node.input[0], Activation.SILU)
            return
        self.activate(node, node.input[0], Activation.SIGMOID)

    def op_HardSigmoid(self, node) -> None:
        a = self.attrs(node)
        if self._gate_of(node) is None or not (
                np.isclose(a.get("alpha", 0.2), 1 / 6) and np.isclose(a.get("beta", 0.5), 0.5)):
            raise _Fail("HardSigmoid is supported only as x * HardSigmoid(x) with alpha 1/6, beta 1/2 (hard-swish)")
        self.values[node.output[0]] = _Gate(node.input[0], Activation.HARDSWISH)

    def op_Mul(self, node) -> None:
        values = [self.values.get(n) for n in node.input]
        gates = [v for v in values if isinstance(v, _Gate)]
        if gates:
            self.activate(node, gates[0].source, gates[0].activation)
            return
        x, y = (self.act(n) for n in node.input)
        big, small = (x, y) if np.prod(x.shape) >= np.prod(y.shape) else (y, x)
        if small.shape != big.shape and small.shape != (1, big.shape[1], 1, 1):
            raise _Fail(f"Mul of shapes {x.shape} and {y.shape}: only equal shapes or (1, C, 1, 1) broadcast")
        self.emit(node, Op.MUL, [x, y], _nhwc(big.shape))

    def op_Add(self, node) -> None:
        values = [self.values.get(n) for n in node.input]
        consts = [v for v in values if isinstance(v, np.ndarray)]
        if consts:
            self.add_bias(node, values, consts[0])
            return
        x, y = (self.act(n) for n in node.input)
        if x.shape != y.shape:
            raise _Fail(f"Add of shapes {x.shape} and {y.shape}: only equal shapes are supported")
        self.emit(node, Op.ADD, [x, y], _nhwc(x.shape))

    def add_bias(self, node, values, const: np.ndarray) -> None:
        source = next(n for n, v in zip(node.input, values) if not isinstance(v, np.ndarray))
        x = self.act(source)
        producer = self.layers.get(x.name)
        if producer is None or producer.op not in (Op.CONV, Op.DEPTHWISE, Op.FC) or producer.activation is not None \
                or not self.only_consumer(source, node):
            raise _Fail("Add of a constant is supported only as the bias of a preceding Conv / Gemm / MatMul")
        channels = x.shape[1]
        flat = np.broadcast_to(const, x.shape).reshape(1, channels, -1) if const.ndim else np.full((1, channels, 1), const)
        if not np.all(flat == flat[..., :1]):
            raise _Fail("constant Add must be one value per channel to fold into the bias")
        self.tensors[f"{x.name}.bias"] = self.tensors[f"{x.name}.bias"] + flat[0, :, 0].astype(np.float64)
        producer.attrs["bias"] = True
        self.values[node.output[0]] = x

    def op_Concat(self, node) -> None:
        axis = int(self.attrs(node)["axis"])
        values = [self.values.get(n) for n in node.input]
        if all(isinstance(v, _Slices) for v in values):
            self.values[node.output[0]] = _space_to_depth(values, axis)
            return
        if all(isinstance(v, _Act) for v in values) and axis % len(values[0].shape) == 1 and len(values[0].shape) == 4:
            shapes = [v.shape for v in values]
            if any(s[2:] != shapes[0][2:] for s in shapes):
                raise _Fail(f"channel concat of unequal spatial shapes {shapes}")
            self.emit(node, Op.CONCAT, values, (shapes[0][2], shapes[0][3], sum(s[1] for s in shapes)))
            return
        self.layout_op(node, "concat", axis=axis)

    def op_Slice(self, node) -> None:
        src = self.values.get(node.input[0])
        starts = self.const(node.input[1], "Slice starts")
        ends = self.const(node.input[2], "Slice ends")
        axes = self.const(node.input[3], "Slice axes") if len(node.input) > 3 and node.input[3] else np.arange(starts.size)
        steps = self.const(node.input[4], "Slice steps") if len(node.input) > 4 and node.input[4] else np.ones(starts.size)
        base = src.source if isinstance(src, _Slices) else src
        if not isinstance(base, _Act) or len(base.shape) != 4:
            raise _Fail("Slice is supported only as the 2x2 space-to-depth (Focus) pattern on an NCHW activation")
        done = dict(src.starts) if isinstance(src, _Slices) else {}
        for s, e, ax, st in zip(starts, ends, axes, steps):
            ax = int(ax) % 4
            if ax not in (2, 3) or int(st) != 2 or int(s) not in (0, 1) or int(e) < base.shape[ax] or ax in done:
                raise _Fail("Slice is supported only as the 2x2 space-to-depth (Focus) pattern: "
                            "start 0 or 1, step 2, to the end, on H and W")
            done[ax] = int(s)
        self.values[node.output[0]] = _Slices(base, done)

    def op_Resize(self, node) -> None:
        a = self.attrs(node)
        x = self.act(node.input[0])
        if a.get("mode", b"nearest") not in (b"nearest", "nearest"):
            raise _Fail(f"only nearest resize is supported, got mode {a.get('mode')}")
        out_shape = self.inferred.get(node.output[0])
        names = list(node.input) + ["", "", ""]
        scales_name = names[2] if node.op_type == "Resize" else names[1]
        if out_shape is None and scales_name:
            scales = self.const(scales_name, "scales")
            out_shape = tuple(int(np.floor(d * s)) for d, s in zip(x.shape, scales))
        if out_shape is None:
            raise _Fail("output size unknown (no static shape from shape inference or constant scales)")
        mode = _as_text(a.get("coordinate_transformation_mode", "half_pixel"))
        rounding = _as_text(a.get("nearest_mode", "round_prefer_floor"))
        if node.op_type == "Upsample":
            mode, rounding = "asymmetric", "floor"
        if (mode, rounding) not in (("asymmetric", "floor"), ("half_pixel", "round_prefer_floor"),
                                    ("half_pixel", "round_prefer_ceil"), ("pytorch_half_pixel", "round_prefer_floor"),
                                    ("pytorch_half_pixel", "round_prefer_ceil")):
            raise _Fail(f"nearest resize with coordinate mode '{mode}' and rounding '{rounding}' is not supported")
        factors = [out_shape[i] // x.shape[i] for i in (2, 3)]
        if out_shape[:2] != x.shape[:2] or any(out_shape[i] != x.shape[i] * f for i, f in zip((2, 3), factors)) \
                or min(factors) < 1:
            raise _Fail(f"resize {x.shape} -> {out_shape}: only integer up-sampling of H and W is supported")
        self.emit(node, Op.UPSAMPLE, [x], (out_shape[2], out_shape[3], out_shape[1]), stride=tuple(factors))

    op_Upsample = op_Resize

    def op_MaxPool(self, node) -> None:
        self.pool(node, Op.MAXPOOL)

    def op_AveragePool(self, node) -> None:
        self.pool(node, Op.AVGPOOL)

    def pool(self, node, op: Op) -> None:
        a = self.attrs(node)
        x = self.act(node.input[0])
        kernel = tuple(a["kernel_shape"])
        stride = tuple(a.get("strides", (1, 1)))
        dilation = tuple(a.get("dilations", (1, 1)))
        if dilation != (1, 1) or len(kernel) != 2:
            raise _Fail("only 2-D pooling without dilation is supported")
        if op is Op.AVGPOOL and a.get("count_include_pad", 0) and any(a.get("pads", ())):
            raise _Fail("AveragePool with count_include_pad=1 and padding is not supported (padding is excluded)")
        pads = _conv_pads(a, x.shape[2:], kernel, stride, dilation)
        if a.get("ceil_mode", 0):
            pads = tuple((p[0], p[1] + (-(x.shape[2 + i] + sum(p) - kernel[i])) % stride[i])
                         for i, p in enumerate(pads))
        ho, wo = ((x.shape[2 + i] + sum(pads[i]) - kernel[i]) // stride[i] + 1 for i in (0, 1))
        self.emit(node, op, [x], (ho, wo, x.shape[1]), kernel=kernel, stride=stride, padding=pads)

    def op_GlobalAveragePool(self, node) -> None:
        x = self.act(node.input[0])
        self.emit(node, Op.GLOBAL_AVGPOOL, [x], (1, 1, x.shape[1]))

    def op_Gemm(self, node) -> None:
        a = self.attrs(node)
        if a.get("transA", 0) or a.get("alpha", 1.0) != 1.0 or a.get("beta", 1.0) != 1.0:
            raise _Fail("Gemm is supported with transA=0, alpha=1, beta=1 only")
        w = self.const(node.input[1], "Gemm B").astype(np.float64)
        w = w if a.get("transB", 0) else w.T
        b = self.const(node.input[2], "Gemm C").astype(np.float64) if len(node.input) > 2 and node.input[2] else None
        self.fc(node, w, b)

    def op_MatMul(self, node) -> None:
        w = self.const(node.input[1], "MatMul B").astype(np.float64)
        if w.ndim != 2:
            raise _Fail(f"MatMul needs a constant 2-D matrix B, got shape {w.shape}")
        self.fc(node, w.T, None)

    def fc(self, node, w: np.ndarray, b: np.ndarray | None) -> None:
        src = self.values.get(node.input[0])
        flat_of = getattr(src, "flat_of", None)
        x = flat_of if flat_of is not None else self.act(node.input[0])
        units, depth = w.shape
        if int(np.prod(x.shape[1:])) != depth:
            raise _Fail(f"input of {int(np.prod(x.shape[1:]))} values but B has {depth} rows")
        if len(x.shape) == 4:  # columns in CHW order -> HWC (the IR flattens NHWC)
            c, h, wd = x.shape[1:]
            w = w.reshape(units, c, h, wd).transpose(0, 2, 3, 1).reshape(units, depth)
        if b is not None and b.size == 1:
            b = np.full(units, float(b.ravel()[0]))
        if b is not None and b.shape != (units,):
            raise _Fail(f"bias shape {b.shape} does not match {units} units")
        out = self.emit(node, Op.FC, [x], (1, 1, units), bias=b is not None)
        self.tensors[f"{out.name}.weight"] = w
        self.tensors[f"{out.name}.bias"] = np.zeros(units) if b is None else b

    def op_Shape(self, node) -> None:
        src = self.values.get(node.input[0])
        if not isinstance(src, (_Act, _Tail)):
            raise _Fail(f"Shape of '{node.input[0]}', which is not an activation")
        self.values[node.output[0]] = np.asarray(src.shape, dtype=np.int64)

    # -- layout ops ------------------------------------------------------------------------------

    def op_Identity(self, node) -> None:
        self.values[node.output[0]] = self.values.get(node.input[0])

    op_Dropout = op_Identity

    def op_Reshape(self, node) -> None:
        self.reshape_like(node)

    op_Flatten = op_Squeeze = op_Unsqueeze = op_Reshape

    def reshape_like(self, node) -> None:
        shape = self.inferred.get(node.output[0])
        if shape is None:
            raise _Fail("output shape unknown after shape inference")
        src = self.values.get(node.input[0])
        users = self.consumers[node.output[0]]
        if isinstance(src, _Act) and len(shape) == 2 and shape[0] == 1 and users and \
                all(c is not None and c.op_type in ("Gemm", "MatMul") for c in users):
            self.values[node.output[0]] = _Flat(src)
            return
        self.layout_op(node, "reshape", shape=shape)

    def op_Transpose(self, node) -> None:
        perm = tuple(int(p) for p in self.attrs(node)["perm"])
        self.layout_op(node, "transpose", perm=perm)

    def layout_op(self, node, kind: str, **kwargs) -> None:
        names = []
        for n in node.input[: (len(node.input) if kind == "concat" else 1)]:
            value = self.values.get(n)
            if isinstance(value, _Flat):
                value = value.flat_of
            if isinstance(value, _Act):
                if value.name not in self.layers:
                    raise _Fail("layout ops on a graph input are not supported")
                names.append(value.name)
            elif isinstance(value, _Tail):
                names.append(value.name)
            else:
                raise _Fail(f"input '{n}' is not an activation or tail tensor")
        shape = self.inferred.get(node.output[0])
        if shape is None:
            raise _Fail("output shape unknown after shape inference")
        for c in self.consumers[node.output[0]]:
            if c is not None and c.op_type not in LAYOUT_OPS + ("Concat",):
                raise _Fail(f"layout op feeds compute node '{c.name}' ({c.op_type}); only output tails are supported")
        name = node.output[0] if node.output[0] not in self.used_names else self.unique(node)
        self.used_names.add(name)
        self.tail.append(TailOp(kind, tuple(names), name, **kwargs))
        self.values[node.output[0]] = _Tail(name, shape)


@dataclass
class _Gate:
    """``gate(x)`` awaiting the ``Mul`` that completes silu / hard-swish."""

    source: str
    activation: Activation


@dataclass
class _Flat:
    """A flattened activation awaiting a Gemm / MatMul."""

    flat_of: _Act


def _chain_only(imp: _Importer, source: str, node) -> bool:
    """True if every consumer of ``source`` is ``node`` or part of its gate pattern."""
    for c in imp.consumers[source]:
        if c is None:
            return False
        if c is node:
            continue
        if c.op_type in ("Sigmoid", "HardSigmoid") and imp.consumers[c.output[0]] == [node]:
            continue
        return False
    return True


def _as_text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _conv_pads(a: dict, size, kernel, stride, dilation):
    auto = _as_text(a.get("auto_pad", "NOTSET"))
    if auto in ("NOTSET", ""):
        p = list(a.get("pads", (0, 0, 0, 0)))
        if len(p) != 4:
            raise _Fail(f"pads must have 4 values, got {p}")
        return ((int(p[0]), int(p[2])), (int(p[1]), int(p[3])))
    if auto == "VALID":
        return ((0, 0), (0, 0))
    pads = []
    for n, k, s, d in zip(size, kernel, stride, dilation):
        out = -(-n // s)
        total = max((out - 1) * s + d * (k - 1) + 1 - n, 0)
        small, large = total // 2, total - total // 2
        pads.append((small, large) if auto == "SAME_UPPER" else (large, small))
    return tuple(pads)


def _space_to_depth(values: list[_Slices], axis: int) -> _SpaceToDepth:
    source = values[0].source
    if axis % 4 != 1 or any(v.source is not source or set(v.starts) != {2, 3} for v in values):
        raise _Fail("Concat of slices is supported only as the 2x2 space-to-depth (Focus) pattern on channels")
    phases = [(v.starts[2], v.starts[3]) for v in values]
    if sorted(phases) != [(0, 0), (0, 1), (1, 0), (1, 1)]:
        raise _Fail(f"slice phases {phases} do not form a 2x2 space-to-depth")
    if source.shape[2] % 2 or source.shape[3] % 2:
        raise _Fail(f"space-to-depth needs even H and W, got {source.shape}")
    return _SpaceToDepth(source, phases)


def _fold_space_to_depth(s2d: _SpaceToDepth, w, stride, dilation, groups, a):
    """Conv(k, s, p) on space-to-depth(x) == Conv(2k, 2s, 2p) on x with rearranged weights."""
    if groups != 1 or tuple(dilation) != (1, 1):
        raise _Fail("a convolution after space-to-depth must be dense and undilated")
    x = s2d.source
    cin = x.shape[1]
    cout, c4, kh, kw = w.shape
    if c4 != 4 * cin:
        raise _Fail(f"weight shape {w.shape} does not match the {4 * cin} space-to-depth channels")
    pads = _conv_pads(a, (x.shape[2] // 2, x.shape[3] // 2), (kh, kw), stride, (1, 1))
    big = np.zeros((cout, cin, 2 * kh, 2 * kw))
    for block, (dy, dx) in enumerate(s2d.phases):
        big[:, :, dy::2, dx::2] = w[:, block * cin:(block + 1) * cin]
    return x, big, (2 * stride[0], 2 * stride[1]), tuple((2 * p0, 2 * p1) for p0, p1 in pads)


def _fold_constant(imp: _Importer, node) -> np.ndarray:
    """Evaluate a node whose inputs are all constants (shape-only subgraphs)."""
    op = node.op_type
    ins = [imp.values[n] if n else None for n in node.input]
    a = imp.attrs(node)
    if op == "Shape":
        return np.asarray(ins[0].shape, dtype=np.int64)
    if op == "Gather":
        return np.take(ins[0], ins[1], axis=int(a.get("axis", 0)))
    if op == "Unsqueeze":
        axes = a.get("axes", ins[1] if len(ins) > 1 else None)
        out = ins[0]
        for ax in sorted(int(v) for v in np.ravel(axes)):
            out = np.expand_dims(out, ax)
        return out
    if op == "Squeeze":
        axes = a.get("axes", ins[1] if len(ins) > 1 else None)
        return np.squeeze(ins[0], axis=None if axes is None else tuple(int(v) for v in np.ravel(axes)))
    if op == "Concat":
        return np.concatenate(ins, axis=int(a["axis"]))
    if op == "Cast":
        return ins[0].astype(imp.onnx.helper.tensor_dtype_to_np_dtype(int(a["to"])))
    if op in ("Add", "Sub", "Mul", "Div"):
        fn = {"Add": np.add, "Sub": np.subtract, "Mul": np.multiply, "Div": np.divide}[op]
        out = fn(ins[0], ins[1])
        return out.astype(ins[0].dtype) if ins[0].dtype.kind in "iu" and op == "Div" else out
    if op == "Reshape":
        return ins[0].reshape(tuple(int(v) if v != 0 else ins[0].shape[i] for i, v in enumerate(ins[1])))
    if op in ("Identity", "Dropout"):
        return ins[0]
    if op == "Slice":
        out = ins[0]
        axes = ins[3] if len(ins) > 3 and ins[3] is not None else range(len(ins[1]))
        steps = ins[4] if len(ins) > 4 and ins[4] is not None else [1] * len(ins[1])
        index = [slice(None)] * out.ndim
        for s, e, ax, st in zip(ins[1], ins[2], axes, steps):
            index[int(ax)] = slice(int(s), int(e), int(st))
        return out[tuple(index)]
    if op == "Range":
        return np.arange(ins[0], ins[1], ins[2])
    if op == "ConstantOfShape":
        value = imp.numpy_helper.to_array(a["value"]) if "value" in a else np.zeros(1, np.float32)
        return np.full(tuple(int(v) for v in ins[0]), value.ravel()[0], dtype=value.dtype)
    if op == "Transpose":
        return np.transpose(ins[0], a.get("perm"))
    raise _Fail(f"cannot fold constant op '{op}'; supported ops: {', '.join(SUPPORTED_OPS)}")


def _parts(layers: dict[str, _Pending], order: list[str], outputs: list[str]) -> dict[str, Part]:
    """Part tags: head = single-consumer chains ending at outputs; neck = from the first upsample on."""
    consumers: dict[str, int] = defaultdict(int)
    for p in layers.values():
        for name in p.inputs:
            consumers[name] += 1
    head: set[str] = set()
    stack = list(outputs)
    while stack:
        name = stack.pop()
        if name in head or name not in layers:
            continue
        head.add(name)
        p = layers[name]
        if p.op is Op.CONCAT and name in outputs:
            stack.extend(n for n in p.inputs if consumers[n] == 1)
        elif len(p.inputs) == 1 and consumers[p.inputs[0]] == 1:
            stack.append(p.inputs[0])
    first_up = next((i for i, n in enumerate(order) if layers[n].op is Op.UPSAMPLE), len(order))
    neck_start = first_up
    return {n: Part.HEAD if n in head else Part.NECK if i >= neck_start else Part.BACKBONE for i, n in enumerate(order)}


def _prune_tail(tail: list[TailOp], outputs: list[str]) -> list[TailOp]:
    needed = set(outputs)
    kept = []
    for op in reversed(tail):
        if op.output in needed:
            kept.append(op)
            needed.update(op.inputs)
    return kept[::-1]


def load_onnx(path: str | os.PathLike[str]) -> ImportedModel:
    """Import an ONNX float model as IR plus float64 weights (batch norm folded).

    Raises
    ------
    ValueError
        One line naming the file (and the node): missing, truncated or corrupt
        file, an unsupported op (with the supported list), or shapes that do not
        agree with ONNX shape inference.
    """
    import onnx
    from google.protobuf.message import DecodeError

    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ValueError(f"{path}: cannot read: {exc.strerror or type(exc).__name__}") from None
    try:
        model = onnx.load_from_string(data)
    except (DecodeError, ValueError, RuntimeError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: not a valid ONNX model: {_first_line(exc)}") from None
    if not model.graph.node:
        raise ValueError(f"{path}: not a valid ONNX model: the graph has no nodes")
    return _Importer(path, model).run()


def load_onnx_graph(path: str | os.PathLike[str]) -> Graph:
    """The IR graph of an ONNX model (the ``load_model`` entry for ``.onnx``)."""
    return load_onnx(path).graph
