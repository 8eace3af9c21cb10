"""TFLite importer: float / fp16 and fully int8-quantized models -> layer IR plus weights.

Read with the ``tflite`` flatbuffer schema package (subgraph 0, through
:mod:`sw.graph.importers.tflite_schema`).
Float models (fp16 weights are dequantized through their ``DEQUANTIZE`` ops)
get float64 weights. Fully quantized models (int8 / uint8 activations, int8 or
int4 weights, int32 bias) keep their own codes and parameters in
:attr:`sw.graph.model.ImportedModel.quant`, keyed by IR tensor name and
``"<layer>.weight"``.

Operators map as the handlers' docstrings say (:mod:`sw.graph.importers.tflite_ops`, tabulated
in ``docs/importers.md``); the shared rewrite patterns (:mod:`sw.graph.importers.patterns`) and
layout chains (:mod:`sw.graph.importers.layout`) are applied as in the ONNX importer. Activations
fuse into the producing conv / fc / add (quantized models: only when the producer's output
parameters equal the activation's, so that the fused clamp is exact). A batch of images
(``[N, H, W, C]``) gives per-image layers with ``repeat = N``.

Every operator is tried; an unsupported model raises one
:class:`~sw.graph.importers.common.UnsupportedModel` naming every failing
operator type: ``"<file>: unsupported operators: operator N (OP) -> '<tensor>': ..."``.
"""

from __future__ import annotations

import os
import struct
from collections import defaultdict
from pathlib import Path

import numpy as np

from sw.graph.importers import tflite_schema as schema
from sw.graph.importers.common import (Coverage, Fail, InputShapes, PendingLayer, UnsupportedModel, first_line,
                                       same_padding, tag_parts)
from sw.graph.importers.layout import LayoutView
from sw.graph.importers.patterns import match_activation
from sw.graph.importers.tflite_ops import Flat, TfliteOps, equal_params
from sw.graph.ir import Activation, Graph, Op
from sw.quant.params import QuantParams
from sw.graph.model import ImportedModel, TailOp

__all__ = ["load_tflite", "load_tflite_graph", "tflite_coverage", "SUPPORTED_OPS"]

SUPPORTED_OPS = tuple(sorted(n[3:] for n in dir(TfliteOps) if n.startswith("op_")))
_PATTERN_STARTS = ("ADD", "SUB", "MUL", "DIV")
_TAIL_OPS = ("RESHAPE", "SQUEEZE", "EXPAND_DIMS", "CONCATENATION", "DEQUANTIZE")
_KINDS = {"ADD": "add", "SUB": "sub", "MUL": "mul", "DIV": "div", "RELU6": "clip", "RELU": "clip"}


class _View:
    """The :class:`~sw.graph.importers.patterns.GraphView` of a TFLite import in progress (tensor indices)."""

    def __init__(self, imp: "_Importer") -> None:
        self.imp = imp

    def kind(self, op) -> str:
        name = self.imp.opname(op)
        return _KINDS.get(name, name)

    def data_inputs(self, op) -> list[int]:
        return [int(i) for i in op.inputs if i >= 0]

    def output(self, op) -> int:
        return int(op.outputs[0])

    def constant(self, key: int) -> np.ndarray | None:
        return self.imp.consts.get(key)

    def consumers(self, key: int) -> list:
        return self.imp.consumers[key]

    def clip_range(self, op) -> tuple[float, float] | None:
        return {"RELU6": (0.0, 6.0), "RELU": (0.0, np.inf)}.get(self.imp.opname(op))


def _parse(path: Path, data: bytes):
    if len(data) < 8 or data[4:8] != b"TFL3":
        raise ValueError(f"{path}: not a TFLite model (missing 'TFL3' file identifier)")
    try:
        model = schema.parse_model(data)
        if not model.subgraphs or not model.subgraphs[0].operators:
            raise ValueError("no subgraph with operators")
        return model
    except Exception as exc:  # corrupt flatbuffers raise struct/index/unicode/value errors
        raise ValueError(f"{path}: not a valid TFLite model: {type(exc).__name__}: {first_line(exc)}") from None


class _Importer(TfliteOps):
    def __init__(self, path: Path, model) -> None:
        self.path, self.model, self.schema = path, model, schema
        self.sg = model.subgraphs[0]
        self.opnames = schema.enum_names(schema.BuiltinOperator)
        self.typenames = schema.enum_names(schema.TensorType)
        self.coverage = Coverage()
        self.failed: set[int] = set()
        self.pinned: dict[str, tuple[int, ...]] = {}
        self.batch = 1
        self.views: dict[int, LayoutView] = {}
        self.sparse: dict[int, np.ndarray] = {}
        self.absorbed: set[int] = set()
        self.view = _View(self)
        self.zero_fraction: dict[int, float] = {}
        self.consts: dict[int, np.ndarray] = {}
        self.names: dict[int, str] = {}
        self.acts: dict[int, str] = {}
        self.flats: dict[int, Flat] = {}
        self.tails: dict[int, str] = {}
        self.layers: dict[str, PendingLayer] = {}
        self.order: list[str] = []
        self.tensors: dict[str, np.ndarray] = {}
        self.alphas: dict[str, float] = {}
        self.quant: dict[str, QuantParams] = {}
        self.tail: list[TailOp] = []
        self.native: dict[str, tuple[int, ...]] = {}
        self.consumers: dict[int, list] = defaultdict(list)
        for op in self.sg.operators:
            for i in op.inputs if op.inputs is not None else []:
                if i >= 0:
                    self.consumers[int(i)].append(op)
        for i in self.sg.outputs:
            self.consumers[int(i)].append(None)
        used: set[str] = set()
        for i, t in enumerate(self.sg.tensors):
            base = (t.name or b"").decode("utf-8", "replace") or f"tensor_{i}"
            name, k = base, 1
            while name in used:
                name, k = f"{base}_{k}", k + 1
            used.add(name)
            self.names[i] = name
            data = self.buffer(t)
            if data is not None and t.sparsity is not None:
                self.sparse[i] = data
            elif data is not None:
                self.consts[i] = data
        first = self.sg.tensors[int(self.sg.inputs[0])] if self.sg.inputs is not None and len(self.sg.inputs) else None
        int8 = (schema.TensorType.INT8, schema.TensorType.UINT8)
        # int8 core: an int8 input, or a float input that only feeds QUANTIZE (float-I/O converter output)
        users = self.consumers[int(self.sg.inputs[0])] if first is not None else []
        self.quantized = first is not None and (first.type in int8 or (
            bool(users) and all(u is not None and self.opname(u) == "QUANTIZE" for u in users)))

    # -- tensors ---------------------------------------------------------------------------------

    def buffer(self, t) -> np.ndarray | None:
        T = self.schema.TensorType
        if t.buffer >= len(self.model.buffers):
            raise ValueError(f"tensor '{t.name}': buffer {t.buffer} out of range")
        raw = self.model.buffers[t.buffer].data
        if raw is None or len(raw) == 0:
            return None
        raw = np.asarray(raw, dtype=np.uint8).tobytes()
        shape = tuple(int(d) for d in (t.shape if t.shape is not None else ()))
        if t.sparsity is not None:  # the stored values of a sparse constant; DENSIFY expands them
            shape = (-1,)
        if t.type == T.INT4:
            nib = np.frombuffer(raw, np.uint8)
            vals = np.stack([nib & 0xF, nib >> 4], axis=1).ravel()[: int(np.prod(shape))].astype(np.int64)
            return np.where(vals > 7, vals - 16, vals).reshape(shape)
        dtypes = {T.FLOAT32: "<f4", T.FLOAT16: "<f2", T.INT8: "i1", T.UINT8: "u1", T.INT32: "<i4", T.INT64: "<i8"}
        if t.type not in dtypes:
            raise ValueError(f"tensor '{t.name}': constant type {self.typenames.get(t.type, t.type)} is not supported")
        return np.frombuffer(raw, dtypes[t.type]).reshape(shape)

    def shape(self, i: int) -> tuple[int, ...]:
        t = self.sg.tensors[i]
        return tuple(int(d) for d in (t.shape if t.shape is not None else ()))

    def params(self, i: int, axis: int | None = None) -> QuantParams | None:
        t = self.sg.tensors[i]
        q = t.quantization
        if q is None or q.scale is None or len(q.scale) == 0:
            return None
        T = self.schema.TensorType
        bits, signed = {T.INT8: (8, True), T.UINT8: (8, False), T.INT4: (4, True)}.get(t.type, (None, None))
        if bits is None:
            raise Fail(f"tensor '{self.names[i]}': quantized type {self.typenames.get(t.type)} is not supported")
        scale = np.asarray(q.scale, dtype=np.float64)
        zp = np.asarray(q.zeroPoint if q.zeroPoint is not None else np.zeros(scale.size), dtype=np.int64)
        if scale.size == 1 and axis is None:
            return QuantParams(bits, signed, scale[0], zp[0])
        return QuantParams(bits, signed, np.broadcast_to(scale, (scale.size,)), np.broadcast_to(zp, (scale.size,)),
                           0 if axis is None else axis)

    def act(self, i: int) -> str:
        if i in self.views:
            return self.materialize(i)
        if i not in self.acts:
            raise Fail(f"input tensor '{self.names.get(i, i)}' is not an activation produced by a supported operator")
        return self.acts[i]

    def const(self, i: int, what: str) -> np.ndarray:
        if i not in self.consts:
            raise Fail(f"{what} '{self.names.get(i, i)}' must be a constant")
        return self.consts[i]

    def hwc(self, name: str) -> tuple[int, int, int]:
        if name in self.layers:
            return self.layers[name].out_shape
        return self.input_shapes[name]

    # -- driver ----------------------------------------------------------------------------------

    def run(self) -> ImportedModel:
        inputs = []
        self.input_shapes = {}
        names = [self.names[int(i)] for i in self.sg.inputs]
        for name, shape in self.pinned.items():
            if name not in names:
                raise ValueError(f"{self.path}: --input-shape names '{name}', not an input "
                                 f"(inputs: {', '.join(names)})")
        for i in self.sg.inputs:
            i = int(i)
            shape = self.shape(i)
            pinned = self.pinned.get(self.names[i])
            if pinned is not None and tuple(pinned) != shape:
                raise ValueError(f"{self.path}: input '{self.names[i]}' has the static shape {list(shape)}; "
                                 f"TFLite inputs cannot be re-pinned to {list(pinned)}")
            if len(shape) not in (2, 4) or min(shape) < 1 or (len(shape) == 4 and self.batch not in (1, shape[0])):
                raise ValueError(f"{self.path}: input '{self.names[i]}': expected shape [N, H, W, C] (one N for all "
                                 f"inputs) or [N, C], got {list(shape)}")
            if len(shape) == 4:
                self.batch = shape[0]
            name = self.names[i]
            hwc = shape[1:] if len(shape) == 4 else (1, shape[0], shape[1])
            self.acts[i] = name
            self.input_shapes[name] = hwc
            self.native[name] = shape
            inputs.append((name, hwc))
            if self.quantized and self.sg.tensors[i].type != schema.TensorType.FLOAT32:
                self.quant[name] = self.activation_params(i)  # a float input gets its QUANTIZE's parameters
        for n, op in enumerate(self.sg.operators):
            self.step(n, op)
        if not self.coverage.complete:
            raise self.coverage.error(self.path, SUPPORTED_OPS, "operators")
        return self.finish(inputs)

    def step(self, n: int, op) -> None:
        """Import one operator, recording coverage; a failure poisons its outputs instead of stopping."""
        code = self.model.operatorCodes[op.opcodeIndex] if op.opcodeIndex < len(self.model.operatorCodes) else None
        kind = self.opnames.get(max(code.builtinCode, code.deprecatedBuiltinCode), "?") if code else "?"
        outs = [int(i) for i in op.outputs] if op.outputs is not None else []
        ins = [int(i) for i in (op.inputs if op.inputs is not None else [])]
        label = self.names.get(outs[0], "?") if outs else "?"
        self.coverage.seen(kind)
        if id(op) in self.absorbed:
            self.coverage.ok(kind)
            return
        if any(i in self.failed for i in ins):
            self.coverage.skip(kind)
            self.failed.update(outs)
            return
        try:
            if not outs:
                raise Fail("operator has no outputs")
            match = match_activation(self.view, op) if kind in _PATTERN_STARTS else None
            handler = getattr(self, f"op_{kind}", None)
            if match is not None and match.x in self.acts:
                self.absorbed.update(id(o) for o in match.nodes[1:])
                self.activation_to(match.x, match.pattern.activation, match.output, match.nodes)
            elif handler is None:
                raise Fail(f"unsupported operator '{kind}'")
            else:
                handler(op, ins, outs[0])
            self.coverage.ok(kind)
        except (Fail, ValueError, TypeError, IndexError, KeyError, ArithmeticError, AttributeError) as exc:
            self.coverage.failed(kind, first_line(exc), f"operator {n} ({kind}) -> '{label}'")
            self.failed.update(outs)

    def activation_params(self, i: int) -> QuantParams:
        p = self.params(i)
        if p is None or p.per_channel:
            raise Fail(f"tensor '{self.names[i]}' needs per-tensor quantization parameters in a quantized model")
        return p

    def finish(self, inputs) -> ImportedModel:
        outputs = []
        for i in self.sg.outputs:
            i = int(i)
            if i in self.acts and self.acts[i] in self.layers and self.acts[i] == self.names[i]:
                self.native[self.acts[i]] = self.shape(i)
                outputs.append(self.acts[i])
            elif i in self.acts and self.acts[i] in self.layers:  # fused activation / folded op: rename via the tail
                self.tail.append(TailOp("reshape", (self.acts[i],), self.names[i], shape=self.shape(i)))
                if self.quantized:
                    self.quant[self.names[i]] = self.quant[self.acts[i]]
                outputs.append(self.names[i])
            elif i in self.tails:
                outputs.append(self.tails[i])
            else:
                raise ValueError(f"{self.path}: output '{self.names[i]}' is not computed by supported operators")
        for op in self.tail:
            for name in op.inputs:
                if name in self.layers:
                    self.native[name] = (self.batch, *self.layers[name].out_shape)
        ir_outputs = [n for n in self.order if n in self.native]
        parts = tag_parts(self.layers, self.order, ir_outputs)
        try:
            layers = [self.layers[n].build(parts[n], self.weight_bits(n), 8) for n in self.order]
            graph = Graph(self.path.stem, tuple(inputs), tuple(layers), tuple(ir_outputs))
        except ValueError as exc:
            raise ValueError(f"{self.path}: {exc}") from None
        return ImportedModel(graph, self.tensors, "nhwc", self.native, tuple(self.tail), tuple(outputs), self.alphas,
                             self.quant if self.quantized else None)

    def weight_bits(self, name: str) -> int:
        p = self.quant.get(f"{name}.weight")
        return p.bits if p is not None else 8

    def emit(self, out: int, op: Op, inputs: list[str], out_hwc: tuple[int, int, int], **attrs) -> str:
        name = self.names[out]
        declared = self.shape(out)
        if op in (Op.FC, Op.GLOBAL_AVGPOOL):  # [1, C], [1, 1, 1, C] or, batched fc, [N, units]
            ok = declared[-1:] == (out_hwc[2],) and int(np.prod(declared)) == self.batch * int(np.prod(out_hwc))
        else:
            ok = declared == (self.batch, *out_hwc)
        if self.batch > 1:  # a batch of images: every layer runs once per image
            attrs["repeat"] = self.batch
        if not ok:
            raise Fail(f"declared output shape {list(declared)} but the operator gives {list(out_hwc)} (H, W, C)")
        activation = attrs.pop("activation", None)
        self.layers[name] = PendingLayer(name, op, list(inputs), [self.hwc(n) for n in inputs], out_hwc, attrs,
                                         activation)
        self.order.append(name)
        self.acts[out] = name
        if self.quantized:
            self.quant[name] = self.activation_params(out)
        return name

    def fused(self, options, name: str) -> None:
        code = getattr(options, "fusedActivationFunction", 0) if options is not None else 0
        A = self.schema.ActivationFunctionType
        table = {A.NONE: None, A.RELU: Activation.RELU, A.RELU6: Activation.RELU6}
        if code not in table:
            raise Fail(f"fused activation {code} is not supported (NONE, RELU, RELU6)")
        self.layers[name].activation = table[code]

    def padding(self, options, size, kernel, stride, dilation=(1, 1)):
        if options.padding == self.schema.Padding.VALID:
            return ((0, 0), (0, 0))
        return same_padding(size, kernel, stride, dilation)

    def opname(self, op) -> str:
        code = self.model.operatorCodes[op.opcodeIndex]
        return self.opnames.get(max(code.builtinCode, code.deprecatedBuiltinCode), "?")

    def tail_input(self, i: int) -> str:
        if i in self.tails:
            return self.tails[i]
        name = self.act(i)
        if name not in self.layers:
            raise Fail("layout operators on a graph input are not supported")
        return name

    def layout(self, op, ins, out, tail: TailOp) -> None:
        for user in self.consumers[out]:
            if user is not None and self.opname(user) not in _TAIL_OPS:
                raise Fail(f"layout operator feeds {self.opname(user)}; only output tails are supported")
        if self.quantized:
            dequantized = self.sg.tensors[out].type == self.schema.TensorType.FLOAT32  # DEQUANTIZE: input's params
            p = self.quant[tail.inputs[0]] if dequantized else self.activation_params(out)
            if tail.kind == "reshape" and not equal_params(p, self.quant[tail.inputs[0]]):
                raise Fail("RESHAPE must keep its input's quantization")
            self.quant[tail.output] = p
        self.tail.append(tail)
        self.tails[out] = tail.output


def load_tflite(path: str | os.PathLike[str], input_shapes: InputShapes | None = None) -> ImportedModel:
    """Import a TFLite model (float, fp16 or fully int8) as IR plus weights.

    ``input_shapes`` may only restate the file's static input shapes (TFLite
    tensors are sized at conversion).

    Raises
    ------
    ValueError
        One line naming the file (and the operator): missing, truncated or
        corrupt file, an unsupported operator (with the supported list), or a
        declared shape that disagrees with the operator's arithmetic.
    """
    path = Path(path)
    importer = _importer(path, input_shapes)
    try:
        return importer.run()
    except (ValueError, struct.error, UnicodeDecodeError, IndexError, TypeError, AttributeError) as exc:
        if str(exc).startswith(str(path)):  # already one line naming the file
            raise
        raise ValueError(f"{path}: not a valid TFLite model: {type(exc).__name__}: {first_line(exc)}") from None


def _importer(path: Path, input_shapes: InputShapes | None) -> "_Importer":
    """The file read and parsed, its inputs pinned to ``input_shapes``; one-line errors naming the file."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ValueError(f"{path}: cannot read: {exc.strerror or type(exc).__name__}") from None
    model = _parse(path, data)
    try:
        importer = _Importer(path, model)
    except (ValueError, TypeError, IndexError, KeyError, AttributeError, struct.error, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: not a valid TFLite model: {first_line(exc)}") from None
    importer.pinned = dict(input_shapes or {})
    return importer


def tflite_coverage(path: str | os.PathLike[str], input_shapes: InputShapes | None = None) -> Coverage:
    """Per-operator coverage of a TFLite file (the import is attempted; failures are recorded, not raised)."""
    path = Path(path)
    importer = _importer(path, input_shapes)
    try:
        importer.run()
    except UnsupportedModel as exc:
        return exc.coverage
    return importer.coverage


def load_tflite_graph(path: str | os.PathLike[str], input_shapes: InputShapes | None = None) -> Graph:
    """The IR graph of a TFLite model (the ``load_model`` entry for ``.tflite``)."""
    return load_tflite(path, input_shapes).graph
