"""TFLite importer: float / fp16 and fully int8-quantized models -> layer IR plus weights.

Read with the flatbuffer schema shipped in ``ai_edge_litert`` (subgraph 0).
Float models (fp16 weights are dequantized through their ``DEQUANTIZE`` ops)
get float64 weights. Fully quantized models (int8 / uint8 activations, int8 or
int4 weights, int32 bias) keep their own codes and parameters in
:attr:`sw.graph.model.ImportedModel.quant`, keyed by IR tensor name and
``"<layer>.weight"``.

Mapping: ``CONV_2D`` -> ``conv`` (grouped when the filter has fewer input
channels), ``DEPTHWISE_CONV_2D`` -> ``depthwise`` (``[1, kh, kw, Cout]`` filter
to OHWI), ``FULLY_CONNECTED`` -> ``fc`` (a ``RESHAPE`` to ``[1, N]`` before it is
absorbed: the IR flattens NHWC as TFLite does), ``ADD`` / ``MUL``,
``CONCATENATION`` on channels, ``MAX_POOL_2D``, ``AVERAGE_POOL_2D``,
``MEAN`` over H and W -> ``global_avgpool``, ``RESIZE_NEAREST_NEIGHBOR`` by
integer factors -> ``upsample``, ``PAD`` (spatial and trailing channels, zero
filled) -> ``pad``. ``RELU`` / ``RELU6`` / ``LOGISTIC`` / ``HARD_SWISH`` /
``LEAKY_RELU`` fuse into the producing conv / fc / add (quantized models: only
when the producer's output parameters equal the activation's, so that the fused
clamp is exact) or become ``activation`` layers. ``RESHAPE`` and
``CONCATENATION`` on other axes after the last compute layer form the tail.
``SAME`` padding puts the odd pixel bottom/right.

Errors: ``ValueError("<file>: operator N (OP) -> '<tensor>': ...")``.
"""

from __future__ import annotations

import os
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sw.golden.conv import depthwise_weights_to_ohwi
from sw.graph.ir import Activation, Graph, Layer, Op, Part
from sw.quant.params import QuantParams
from sw.graph.model import ImportedModel, TailOp

__all__ = ["load_tflite", "load_tflite_graph", "SUPPORTED_OPS"]

SUPPORTED_OPS = ("ADD", "AVERAGE_POOL_2D", "CONCATENATION", "CONV_2D", "DEPTHWISE_CONV_2D", "DEQUANTIZE",
                 "FULLY_CONNECTED", "HARD_SWISH", "LEAKY_RELU", "LOGISTIC", "MAX_POOL_2D", "MEAN", "MUL", "PAD",
                 "RELU", "RELU6", "RESHAPE", "RESIZE_NEAREST_NEIGHBOR")
_ACTIVATION_OPS = {"RELU": Activation.RELU, "RELU6": Activation.RELU6, "LOGISTIC": Activation.SIGMOID,
                   "HARD_SWISH": Activation.HARDSWISH, "LEAKY_RELU": Activation.LEAKY_RELU}
_FUSABLE = (Op.CONV, Op.DEPTHWISE, Op.FC, Op.ADD)


class _Fail(Exception):
    """Operator-level error; becomes one ValueError line naming the file and operator."""


@dataclass
class _Flat:
    source: str


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _schema():
    from ai_edge_litert import schema_py_generated as schema

    return schema


def _parse(path: Path, data: bytes):
    schema = _schema()
    if len(data) < 8 or data[4:8] != b"TFL3":
        raise ValueError(f"{path}: not a TFLite model (missing 'TFL3' file identifier)")
    try:
        model = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(data, 0))
        if not model.subgraphs or not model.subgraphs[0].operators:
            raise ValueError("no subgraph with operators")
        return model
    except Exception as exc:  # corrupt flatbuffers raise struct/index/unicode/value errors
        raise ValueError(f"{path}: not a valid TFLite model: {type(exc).__name__}: {_first_line(exc)}") from None


class _Importer:
    def __init__(self, path: Path, model) -> None:
        schema = _schema()
        self.path, self.model, self.schema = path, model, schema
        self.sg = model.subgraphs[0]
        self.opnames = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
        self.typenames = {v: k for k, v in vars(schema.TensorType).items() if not k.startswith("_")}
        self.consts: dict[int, np.ndarray] = {}
        self.names: dict[int, str] = {}
        self.acts: dict[int, str] = {}
        self.flats: dict[int, _Flat] = {}
        self.tails: dict[int, str] = {}
        self.layers: dict[str, dict] = {}
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
            if data is not None:
                self.consts[i] = data
        first = self.sg.tensors[int(self.sg.inputs[0])] if self.sg.inputs is not None and len(self.sg.inputs) else None
        self.quantized = first is not None and first.type in (schema.TensorType.INT8, schema.TensorType.UINT8)

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
            raise _Fail(f"tensor '{self.names[i]}': quantized type {self.typenames.get(t.type)} is not supported")
        scale = np.asarray(q.scale, dtype=np.float64)
        zp = np.asarray(q.zeroPoint if q.zeroPoint is not None else np.zeros(scale.size), dtype=np.int64)
        if scale.size == 1 and axis is None:
            return QuantParams(bits, signed, scale[0], zp[0])
        return QuantParams(bits, signed, np.broadcast_to(scale, (scale.size,)), np.broadcast_to(zp, (scale.size,)),
                           0 if axis is None else axis)

    def act(self, i: int) -> str:
        if i not in self.acts:
            raise _Fail(f"input tensor '{self.names.get(i, i)}' is not an activation produced by a supported operator")
        return self.acts[i]

    def const(self, i: int, what: str) -> np.ndarray:
        if i not in self.consts:
            raise _Fail(f"{what} '{self.names.get(i, i)}' must be a constant")
        return self.consts[i]

    def hwc(self, name: str) -> tuple[int, int, int]:
        if name in self.layers:
            return self.layers[name]["out_shape"]
        return self.input_shapes[name]

    # -- driver ----------------------------------------------------------------------------------

    def run(self) -> ImportedModel:
        inputs = []
        self.input_shapes = {}
        for i in self.sg.inputs:
            i = int(i)
            shape = self.shape(i)
            if len(shape) not in (2, 4) or shape[0] != 1 or min(shape) < 1:
                raise ValueError(f"{self.path}: input '{self.names[i]}': expected shape [1, H, W, C] or [1, N], "
                                 f"got {list(shape)}")
            name = self.names[i]
            hwc = shape[1:] if len(shape) == 4 else (1, 1, shape[1])
            self.acts[i] = name
            self.input_shapes[name] = hwc
            self.native[name] = shape
            inputs.append((name, hwc))
            if self.quantized:
                self.quant[name] = self.activation_params(i)
        for n, op in enumerate(self.sg.operators):
            code = self.model.operatorCodes[op.opcodeIndex] if op.opcodeIndex < len(self.model.operatorCodes) else None
            kind = self.opnames.get(max(code.builtinCode, code.deprecatedBuiltinCode), "?") if code else "?"
            outs = list(op.outputs) if op.outputs is not None else []
            label = self.names.get(int(outs[0]), "?") if outs else "?"
            try:
                if not outs:
                    raise _Fail("operator has no outputs")
                handler = getattr(self, f"op_{kind}", None)
                if handler is None:
                    raise _Fail(f"unsupported operator '{kind}'; supported: {', '.join(SUPPORTED_OPS)}")
                handler(op, [int(i) for i in (op.inputs if op.inputs is not None else [])], int(outs[0]))
            except (_Fail, ValueError, TypeError, IndexError, KeyError, ArithmeticError, AttributeError) as exc:
                raise ValueError(f"{self.path}: operator {n} ({kind}) -> '{label}': {_first_line(exc)}") from None
        return self.finish(inputs)

    def activation_params(self, i: int) -> QuantParams:
        p = self.params(i)
        if p is None or p.per_channel:
            raise _Fail(f"tensor '{self.names[i]}' needs per-tensor quantization parameters in a quantized model")
        return p

    def finish(self, inputs) -> ImportedModel:
        outputs = []
        for i in self.sg.outputs:
            i = int(i)
            if i in self.acts and self.acts[i] in self.layers:
                self.native[self.acts[i]] = self.shape(i)
                outputs.append(self.acts[i])
            elif i in self.tails:
                outputs.append(self.tails[i])
            else:
                raise ValueError(f"{self.path}: output '{self.names[i]}' is not computed by supported operators")
        for op in self.tail:
            for name in op.inputs:
                if name in self.layers:
                    self.native[name] = (1, *self.layers[name]["out_shape"])
        ir_outputs = [n for n in self.order if n in self.native]
        try:
            layers = [Layer(**self.layers[n], part=p, w_bits=self.weight_bits(n), a_bits=8)
                      for n, p in zip(self.order, _parts(self.layers, self.order, ir_outputs))]
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
        want = (1, *out_hwc) if op is not Op.FC else (1, out_hwc[2])
        if declared != want and not (op is Op.FC and declared == (1, 1, 1, out_hwc[2])):
            raise _Fail(f"declared output shape {list(declared)} but the operator gives {list(want)}")
        self.layers[name] = dict(name=name, op=op, inputs=tuple(inputs), in_shapes=tuple(self.hwc(n) for n in inputs),
                                 out_shape=out_hwc, **attrs)
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
            raise _Fail(f"fused activation {code} is not supported (NONE, RELU, RELU6)")
        self.layers[name]["activation"] = table[code]

    def padding(self, options, size, kernel, stride, dilation=(1, 1)):
        if options.padding == self.schema.Padding.VALID:
            return ((0, 0), (0, 0))
        pads = []
        for n, k, s, d in zip(size, kernel, stride, dilation):
            total = max((-(-n // s) - 1) * s + d * (k - 1) + 1 - n, 0)
            pads.append((total // 2, total - total // 2))
        return tuple(pads)

    # -- operators -------------------------------------------------------------------------------

    def op_DEQUANTIZE(self, op, ins, out) -> None:
        w = self.const(ins[0], "DEQUANTIZE input (activations are not supported)")
        if w.dtype.kind == "f":
            self.consts[out] = w.astype(np.float64)
            return
        q = self.sg.tensors[ins[0]].quantization
        per_channel = q is not None and q.scale is not None and len(q.scale) > 1
        p = self.params(ins[0], axis=int(q.quantizedDimension) if per_channel else None)
        if p is None:
            raise _Fail("integer constant without quantization parameters")
        self.consts[out] = p.dequantize(w)

    def weighted(self, op, ins, out, op_kind: Op, w: np.ndarray, weight_axis: int, **attrs) -> str:
        x = self.act(ins[0])
        cout = w.shape[0]
        bias = self.consts.get(ins[2]) if len(ins) > 2 and ins[2] >= 0 else None
        if len(ins) > 2 and ins[2] >= 0 and bias is None:
            raise _Fail("bias must be a constant")
        name = self.emit(out, op_kind, [x], attrs.pop("out_hwc"), bias=bias is not None, **attrs)
        self.fused(op.builtinOptions, name)
        if self.quantized:
            p = self.params(ins[1], axis=weight_axis)
            if p is None:
                raise _Fail("weights of a quantized model need quantization parameters")
            if p.channels == 1:
                p = QuantParams(p.bits, p.signed, np.full(cout, float(p.scale.ravel()[0])),
                                np.full(cout, int(p.zero_point.ravel()[0])), 0)
            elif p.channels == cout:
                p = QuantParams(p.bits, p.signed, p.scale, p.zero_point, 0)
            else:
                raise _Fail(f"{p.channels} weight scales for {cout} output channels")
            self.quant[f"{name}.weight"] = p
            self.tensors[f"{name}.weight"] = w.astype(np.int64)
            if bias is not None:
                self.tensors[f"{name}.bias"] = bias.astype(np.int64)
        else:
            self.tensors[f"{name}.weight"] = w.astype(np.float64)
            self.tensors[f"{name}.bias"] = np.zeros(cout) if bias is None else bias.astype(np.float64)
        return name

    def op_CONV_2D(self, op, ins, out) -> None:
        o = op.builtinOptions
        x = self.hwc(self.act(ins[0]))
        w = self.const(ins[1], "filter")
        cout, kh, kw, cg = w.shape
        stride, dilation = (o.strideH, o.strideW), (o.dilationHFactor, o.dilationWFactor)
        pads = self.padding(o, x[:2], (kh, kw), stride, dilation)
        ho, wo = ((x[a] + sum(pads[a]) - dilation[a] * ((kh, kw)[a] - 1) - 1) // stride[a] + 1 for a in (0, 1))
        self.weighted(op, ins, out, Op.CONV, w, 0, out_hwc=(ho, wo, cout), kernel=(kh, kw), stride=stride,
                      dilation=dilation, padding=pads, groups=x[2] // cg)

    def op_DEPTHWISE_CONV_2D(self, op, ins, out) -> None:
        o = op.builtinOptions
        x = self.hwc(self.act(ins[0]))
        w = depthwise_weights_to_ohwi(self.const(ins[1], "filter"))
        cout, kh, kw, _ = w.shape
        stride, dilation = (o.strideH, o.strideW), (o.dilationHFactor, o.dilationWFactor)
        pads = self.padding(o, x[:2], (kh, kw), stride, dilation)
        ho, wo = ((x[a] + sum(pads[a]) - dilation[a] * ((kh, kw)[a] - 1) - 1) // stride[a] + 1 for a in (0, 1))
        self.weighted(op, ins, out, Op.DEPTHWISE, w, 3, out_hwc=(ho, wo, cout), kernel=(kh, kw), stride=stride,
                      dilation=dilation, padding=pads, groups=x[2])

    def op_FULLY_CONNECTED(self, op, ins, out) -> None:
        if ins[0] in self.flats:
            self.acts[ins[0]] = self.flats[ins[0]].source
        w = self.const(ins[1], "weights")
        x = self.hwc(self.act(ins[0]))
        if int(np.prod(x)) != w.shape[1]:
            raise _Fail(f"input of {int(np.prod(x))} values but weights {list(w.shape)}")
        self.weighted(op, ins, out, Op.FC, w, 0, out_hwc=(1, 1, w.shape[0]))

    def op_ADD(self, op, ins, out) -> None:
        a, b = self.act(ins[0]), self.act(ins[1])
        if self.hwc(a) != self.hwc(b):
            raise _Fail(f"ADD of shapes {self.hwc(a)} and {self.hwc(b)}: only equal shapes are supported")
        self.fused(op.builtinOptions, self.emit(out, Op.ADD, [a, b], self.hwc(a)))

    def op_MUL(self, op, ins, out) -> None:
        a, b = self.act(ins[0]), self.act(ins[1])
        big = max(self.hwc(a), self.hwc(b), key=lambda s: int(np.prod(s)))
        self.emit(out, Op.MUL, [a, b], big)
        self.fused(op.builtinOptions, self.names[out])

    def op_CONCATENATION(self, op, ins, out) -> None:
        axis = op.builtinOptions.axis
        rank = len(self.shape(out))
        if rank == 4 and axis % 4 == 3 and all(i in self.acts for i in ins):
            names = [self.act(i) for i in ins]
            shapes = [self.hwc(n) for n in names]
            self.emit(out, Op.CONCAT, names, (*shapes[0][:2], sum(s[2] for s in shapes)))
            self.fused(op.builtinOptions, self.names[out])
            return
        self.layout(op, ins, out, TailOp("concat", tuple(self.tail_input(i) for i in ins), self.names[out],
                                         axis=axis % rank))

    def pool(self, op, ins, out, kind: Op) -> None:
        o = op.builtinOptions
        x = self.hwc(self.act(ins[0]))
        kernel, stride = (o.filterHeight, o.filterWidth), (o.strideH, o.strideW)
        pads = self.padding(o, x[:2], kernel, stride)
        ho, wo = ((x[a] + sum(pads[a]) - kernel[a]) // stride[a] + 1 for a in (0, 1))
        name = self.emit(out, kind, [self.act(ins[0])], (ho, wo, x[2]), kernel=kernel, stride=stride, padding=pads)
        if getattr(o, "fusedActivationFunction", 0):
            raise _Fail("pooling with a fused activation is not supported")
        self.same_params(ins[0], out, name)

    def same_params(self, i: int, out: int, name: str) -> None:
        if self.quantized and not _same(self.quant[name], self.quant[self.acts[i]]):
            raise _Fail("input and output quantization must be equal for this operator")

    def op_MAX_POOL_2D(self, op, ins, out) -> None:
        self.pool(op, ins, out, Op.MAXPOOL)

    def op_AVERAGE_POOL_2D(self, op, ins, out) -> None:
        self.pool(op, ins, out, Op.AVGPOOL)

    def op_MEAN(self, op, ins, out) -> None:
        axes = sorted(int(a) % 4 for a in np.ravel(self.const(ins[1], "axes")))
        x = self.hwc(self.act(ins[0]))
        if axes != [1, 2] or not op.builtinOptions.keepDims or self.quantized:
            raise _Fail("MEAN is supported over H and W with keep_dims in float models only")
        self.emit(out, Op.GLOBAL_AVGPOOL, [self.act(ins[0])], (1, 1, x[2]))

    def op_RESIZE_NEAREST_NEIGHBOR(self, op, ins, out) -> None:
        o = op.builtinOptions
        x = self.hwc(self.act(ins[0]))
        size = tuple(int(v) for v in self.const(ins[1], "size"))
        if o is not None and (o.alignCorners or o.halfPixelCenters):
            raise _Fail("only align_corners=False, half_pixel_centers=False is supported")
        if any(s % n for s, n in zip(size, x[:2])):
            raise _Fail(f"resize {x[:2]} -> {size}: only integer up-sampling factors are supported")
        name = self.emit(out, Op.UPSAMPLE, [self.act(ins[0])], (*size, x[2]),
                         stride=(size[0] // x[0], size[1] // x[1]))
        self.same_params(ins[0], out, name)

    def op_PAD(self, op, ins, out) -> None:
        x = self.hwc(self.act(ins[0]))
        p = self.const(ins[1], "paddings").reshape(-1, 2)
        if p.shape != (4, 2) or p[0].any() or p[3, 0] or p.min() < 0:
            raise _Fail(f"paddings {p.tolist()}: only H, W and trailing channels can be padded")
        out_hwc = (x[0] + int(p[1].sum()), x[1] + int(p[2].sum()), x[2] + int(p[3, 1]))
        name = self.emit(out, Op.PAD, [self.act(ins[0])], out_hwc,
                         padding=((int(p[1, 0]), int(p[1, 1])), (int(p[2, 0]), int(p[2, 1]))))
        self.same_params(ins[0], out, name)

    def activation(self, op, ins, out, kind: str) -> None:
        src = self.act(ins[0])
        activation = _ACTIVATION_OPS[kind]
        producer = self.layers.get(src)
        exact = not self.quantized or _same(self.quant[src], self.activation_params(out))
        if producer is not None and producer["op"] in _FUSABLE and producer.get("activation") is None \
                and self.consumers[ins[0]] == [op] and exact and (activation in (Activation.RELU, Activation.RELU6)
                                                                  or not self.quantized):
            producer["activation"] = activation
            self.acts[out] = src
            name = src
            if self.quantized:
                self.quant[name] = self.activation_params(out)
        else:
            name = self.emit(out, Op.ACTIVATION, [src], self.hwc(src), activation=activation)
        if activation is Activation.LEAKY_RELU:
            self.alphas[name] = float(op.builtinOptions.alpha)

    def op_RELU(self, op, ins, out) -> None:
        self.activation(op, ins, out, "RELU")

    def op_RELU6(self, op, ins, out) -> None:
        self.activation(op, ins, out, "RELU6")

    def op_LOGISTIC(self, op, ins, out) -> None:
        self.activation(op, ins, out, "LOGISTIC")

    def op_HARD_SWISH(self, op, ins, out) -> None:
        self.activation(op, ins, out, "HARD_SWISH")

    def op_LEAKY_RELU(self, op, ins, out) -> None:
        self.activation(op, ins, out, "LEAKY_RELU")

    def op_RESHAPE(self, op, ins, out) -> None:
        shape = self.shape(out)
        users = self.consumers[out]
        if ins[0] in self.acts and len(shape) == 2 and shape[0] == 1 and users and all(
                u is not None and self.opname(u) == "FULLY_CONNECTED" for u in users):
            self.flats[out] = _Flat(self.acts[ins[0]])
            return
        self.layout(op, ins, out, TailOp("reshape", (self.tail_input(ins[0]),), self.names[out], shape=shape))

    def opname(self, op) -> str:
        code = self.model.operatorCodes[op.opcodeIndex]
        return self.opnames.get(max(code.builtinCode, code.deprecatedBuiltinCode), "?")

    def tail_input(self, i: int) -> str:
        if i in self.tails:
            return self.tails[i]
        name = self.act(i)
        if name not in self.layers:
            raise _Fail("layout operators on a graph input are not supported")
        return name

    def layout(self, op, ins, out, tail: TailOp) -> None:
        for user in self.consumers[out]:
            if user is not None and self.opname(user) not in ("RESHAPE", "CONCATENATION"):
                raise _Fail(f"layout operator feeds {self.opname(user)}; only output tails are supported")
        if self.quantized:
            p = self.activation_params(out)
            if tail.kind == "reshape" and not _same(p, self.quant[tail.inputs[0]]):
                raise _Fail("RESHAPE must keep its input's quantization")
            self.quant[tail.output] = p
        self.tail.append(tail)
        self.tails[out] = tail.output


def _same(a: QuantParams, b: QuantParams) -> bool:
    return (a.bits, a.signed, float(a.scale), int(a.zero_point)) == (b.bits, b.signed, float(b.scale), int(b.zero_point))


def _parts(layers: dict[str, dict], order: list[str], outputs: list[str]) -> list[Part]:
    """Head = single-consumer chains ending at outputs; the rest backbone (neck from the first upsample)."""
    consumers: dict[str, int] = defaultdict(int)
    for p in layers.values():
        for name in p["inputs"]:
            consumers[name] += 1
    head, stack = set(), list(outputs)
    while stack:
        name = stack.pop()
        if name in head or name not in layers:
            continue
        head.add(name)
        ins = layers[name]["inputs"]
        if len(ins) == 1 and consumers[ins[0]] == 1:
            stack.append(ins[0])
    first_up = next((i for i, n in enumerate(order) if layers[n]["op"] is Op.UPSAMPLE), len(order))
    return [Part.HEAD if n in head else Part.NECK if i >= first_up else Part.BACKBONE for i, n in enumerate(order)]


def load_tflite(path: str | os.PathLike[str]) -> ImportedModel:
    """Import a TFLite model (float, fp16 or fully int8) as IR plus weights.

    Raises
    ------
    ValueError
        One line naming the file (and the operator): missing, truncated or
        corrupt file, an unsupported operator (with the supported list), or a
        declared shape that disagrees with the operator's arithmetic.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ValueError(f"{path}: cannot read: {exc.strerror or type(exc).__name__}") from None
    model = _parse(path, data)
    try:
        importer = _Importer(path, model)
    except (ValueError, TypeError, IndexError, KeyError, AttributeError) as exc:
        raise ValueError(f"{path}: not a valid TFLite model: {_first_line(exc)}") from None
    return importer.run()


def load_tflite_graph(path: str | os.PathLike[str]) -> Graph:
    """The IR graph of a TFLite model (the ``load_model`` entry for ``.tflite``)."""
    return load_tflite(path).graph
