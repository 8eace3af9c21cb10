"""TFLite operator handlers (mixed into the importer of :mod:`sw.graph.importers.tflite_import`).

Each ``op_<BUILTIN>(op, ins, out)`` reads tensor indices ``ins``, emits pending
IR layers through ``self.emit`` and records the output tensor ``out``. Errors
raise :class:`sw.graph.importers.common.Fail` with the reason only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sw.golden.conv import depthwise_weights_to_ohwi
from sw.graph.importers.common import Fail
from sw.graph.importers.layout import LayoutView
from sw.graph.importers.patterns import affine_weights, fold_affine, per_channel
from sw.graph.importers.tflite_sparse import densify
from sw.graph.ir import Activation, Op
from sw.graph.model import TailOp
from sw.quant.params import QuantParams

__all__ = ["TfliteOps", "Flat", "equal_params"]

_ACTIVATION_OPS = {"RELU": Activation.RELU, "RELU6": Activation.RELU6, "LOGISTIC": Activation.SIGMOID,
                   "HARD_SWISH": Activation.HARDSWISH, "LEAKY_RELU": Activation.LEAKY_RELU}
_FUSABLE = (Op.CONV, Op.DEPTHWISE, Op.FC, Op.ADD)


@dataclass
class Flat:
    """A RESHAPE to [1, N] awaiting its FULLY_CONNECTED consumer."""

    source: str


def equal_params(a: QuantParams, b: QuantParams) -> bool:
    """True when two per-tensor parameters are identical (bits, sign, scale, zero point)."""
    key = lambda p: (p.bits, p.signed, float(p.scale), int(p.zero_point))  # noqa: E731
    return key(a) == key(b)


class TfliteOps:
    """Operator handlers; see the module docstring."""

    def op_DENSIFY(self, op, ins, out) -> None:
        """of sparse constants: densified at import, zero fraction kept in `Layer.sparsity`."""
        if ins[0] not in self.sparse:
            raise Fail(f"input '{self.names[ins[0]]}' is not a sparse constant")
        values = self.sparse[ins[0]]
        dense = densify(values, self.shape(ins[0]), self.sg.tensors[ins[0]].sparsity)
        self.consts[out] = dense
        self.zero_fraction[out] = 1.0 - values.size / dense.size

    def op_QUANTIZE(self, op, ins, out) -> None:
        """of a float graph input (float-I/O int8 models): the int8 core's input; the input's parameters are
        the QUANTIZE output's (executed with TFLite's float32 arithmetic)."""
        src = self.act(ins[0])
        if not self.quantized or src not in self.input_shapes or src in self.quant:
            raise Fail("QUANTIZE is supported on a float graph input of an int8 model only")
        self.quant[src] = self.activation_params(out)
        self.acts[out] = src

    def op_DEQUANTIZE(self, op, ins, out) -> None:
        """of constants (fp16 / int8 weights): folded; of an int8 activation before a graph output: the output
        tail (`hwsim run --dequantize` writes the float values)."""
        if ins[0] in self.acts or ins[0] in self.tails:
            if not self.quantized:
                raise Fail("DEQUANTIZE of an activation in a float model")
            self.layout(op, ins, out, TailOp("reshape", (self.tail_input(ins[0]),), self.names[out],
                                             shape=self.shape(out)))
            return
        w = self.const(ins[0], "DEQUANTIZE input")
        if ins[0] in self.zero_fraction:
            self.zero_fraction[out] = self.zero_fraction[ins[0]]
        if w.dtype.kind == "f":
            self.consts[out] = w.astype(np.float64)
            return
        q = self.sg.tensors[ins[0]].quantization
        per_channel = q is not None and q.scale is not None and len(q.scale) > 1
        p = self.params(ins[0], axis=int(q.quantizedDimension) if per_channel else None)
        if p is None:
            raise Fail("integer constant without quantization parameters")
        self.consts[out] = p.dequantize(w)

    def weighted(self, op, ins, out, op_kind: Op, w: np.ndarray, weight_axis: int, **attrs) -> str:
        x = self.act(ins[0])
        cout = w.shape[0]
        bias = self.consts.get(ins[2]) if len(ins) > 2 and ins[2] >= 0 else None
        if len(ins) > 2 and ins[2] >= 0 and bias is None:
            raise Fail("bias must be a constant")
        sparsity = self.zero_fraction.get(ins[1], 0.0)
        if sparsity:
            attrs["sparsity"] = sparsity
        name = self.emit(out, op_kind, [x], attrs.pop("out_hwc"), bias=bias is not None, **attrs)
        self.fused(op.builtinOptions, name)
        if self.quantized:
            p = self.params(ins[1], axis=weight_axis)
            if p is None:
                raise Fail("weights of a quantized model need quantization parameters")
            if p.channels == 1:
                p = QuantParams(p.bits, p.signed, np.full(cout, float(p.scale.ravel()[0])),
                                np.full(cout, int(p.zero_point.ravel()[0])), 0)
            elif p.channels == cout:
                p = QuantParams(p.bits, p.signed, p.scale, p.zero_point, 0)
            else:
                raise Fail(f"{p.channels} weight scales for {cout} output channels")
            self.quant[f"{name}.weight"] = p
            self.tensors[f"{name}.weight"] = w.astype(np.int64)
            if bias is not None:
                self.tensors[f"{name}.bias"] = bias.astype(np.int64)
        else:
            self.tensors[f"{name}.weight"] = w.astype(np.float64)
            self.tensors[f"{name}.bias"] = np.zeros(cout) if bias is None else bias.astype(np.float64)
        return name

    def op_CONV_2D(self, op, ins, out) -> None:
        """`conv` (grouped when the filter has fewer input channels); fused NONE / RELU / RELU6."""
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
        """`depthwise` ([1, kh, kw, C] filter -> OHWI)."""
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
        """`fc` (a RESHAPE to [1, N] before it is absorbed); batch > 1: batched `fc`, one row per input row."""
        if ins[0] in self.flats:
            self.acts[ins[0]] = self.flats[ins[0]].source
        w = self.const(ins[1], "weights")
        x = self.hwc(self.act(ins[0]))
        units, depth = w.shape
        if int(np.prod(x)) == depth:
            out_hwc = (1, 1, units)
        elif x[2] == depth:  # batch > 1: one row per input pixel
            out_hwc = (x[0], x[1], units)
        else:
            raise Fail(f"input of {int(np.prod(x))} values but weights {list(w.shape)}")
        self.weighted(op, ins, out, Op.FC, w, 0, out_hwc=out_hwc)

    def op_TRANSPOSE_CONV(self, op, ins, out) -> None:
        """`conv_transpose` ([Cout, kh, kw, Cin] filter, SAME / VALID)."""
        o = op.builtinOptions
        x = self.hwc(self.act(ins[2]))
        w = self.const(ins[1], "filter")  # [Cout, kh, kw, Cin]
        cout, kh, kw, cin = w.shape
        shape = [int(v) for v in self.const(ins[0], "output_shape")]
        if cin != x[2] or len(shape) != 4 or shape[0] != 1 or shape[3] != cout:
            raise Fail(f"filter {list(w.shape)} and output shape {shape} do not fit an input {list(x)}")
        stride = (o.strideH, o.strideW)
        pads = []
        for a, k in ((0, kh), (1, kw)):
            total = max((x[a] - 1) * stride[a] + k - shape[1 + a], 0) if o.padding == self.schema.Padding.SAME else 0
            pads.append((total // 2, total - total // 2))
        self.weighted(op, [ins[2], ins[1], *ins[3:4]], out, Op.CONV_TRANSPOSE, w, 0, out_hwc=tuple(shape[1:]),
                      kernel=(kh, kw), stride=stride, padding=tuple(pads))

    def op_ADD(self, op, ins, out) -> None:
        """`add` of equal shapes; of a per-channel constant (float models): folded into the producer's bias,
        else a 1x1 `depthwise`."""
        if any(i in self.consts for i in ins[:2]):
            self.affine(op, ins, out, shift=next(self.consts[i] for i in ins[:2] if i in self.consts))
            return
        a, b = self.act(ins[0]), self.act(ins[1])
        if self.hwc(a) != self.hwc(b):
            raise Fail(f"ADD of shapes {self.hwc(a)} and {self.hwc(b)}: only equal shapes are supported")
        self.fused(op.builtinOptions, self.emit(out, Op.ADD, [a, b], self.hwc(a)))

    def op_MUL(self, op, ins, out) -> None:
        """`mul` (equal shapes or a (1, 1, C) gate); by a per-channel constant (float models): folded into the
        producer, else a 1x1 `depthwise`."""
        if any(i in self.consts for i in ins[:2]):
            self.affine(op, ins, out, scale=next(self.consts[i] for i in ins[:2] if i in self.consts))
            return
        a, b = self.act(ins[0]), self.act(ins[1])
        big = max(self.hwc(a), self.hwc(b), key=lambda s: int(np.prod(s)))
        self.emit(out, Op.MUL, [a, b], big)
        self.fused(op.builtinOptions, self.names[out])

    def op_SUB(self, op, ins, out) -> None:
        """of a per-channel constant (float models): as ADD of its negative."""
        self.affine(op, ins, out, shift=-self.const(ins[1], "subtrahend").astype(np.float64))

    def op_DIV(self, op, ins, out) -> None:
        """by a per-channel constant (float models): as MUL by its reciprocal."""
        self.affine(op, ins, out, scale=1.0 / self.const(ins[1], "divisor").astype(np.float64))

    def affine(self, op, ins, out, scale=None, shift=None) -> None:
        """``x * scale + shift`` (per-channel constants) of a float model: folded into the producing conv / fc
        when it has no activation and no other consumer, else a 1x1 depthwise layer."""
        source = next(i for i in ins[:2] if i not in self.consts)
        src = self.act(source)
        c = self.hwc(src)[2]
        if self.quantized:
            raise Fail("element-wise ops with constants are supported in float models only")
        s = None if scale is None else per_channel(scale, c, -1)
        t = None if shift is None else per_channel(shift, c, -1)
        if (scale is not None and s is None) or (shift is not None and t is None):
            raise Fail(f"constant of shape {list(np.shape(scale if shift is None else shift))}: only per-channel "
                        f"constants of a {c}-channel activation are supported")
        producer = self.layers.get(src)
        if getattr(op.builtinOptions, "fusedActivationFunction", 0):
            producer = None  # the fused clamp applies after the affine: keep a layer
        if producer is not None and producer.op in (Op.CONV, Op.DEPTHWISE, Op.FC, Op.CONV_TRANSPOSE) \
                and producer.activation is None and self.consumers[source] == [op]:
            w, b = fold_affine(self.tensors[f"{src}.weight"], self.tensors[f"{src}.bias"], s, t)
            self.tensors[f"{src}.weight"], self.tensors[f"{src}.bias"] = w, b
            producer.attrs["bias"] = True
            self.acts[out] = src
            return
        name = self.emit(out, Op.DEPTHWISE, [src], self.hwc(src), groups=c, bias=True)
        self.tensors[f"{name}.weight"], self.tensors[f"{name}.bias"] = affine_weights(c, s, t)
        self.fused(op.builtinOptions, name)

    def activation_to(self, source: int, activation: Activation, out: int, chain: tuple) -> None:
        """A matched activation pattern: fused into the producer of ``source`` when every consumer of
        ``source`` is in ``chain``, else an activation layer producing tensor ``out``."""
        src = self.act(source)
        producer = self.layers.get(src)
        if self.quantized:
            raise Fail(f"a decomposed {activation.value} in an int8 model has no bit-exact kernel here")
        if producer is not None and producer.op in _FUSABLE and producer.activation is None \
                and all(u is not None and any(u is c for c in chain) for u in self.consumers[source]):
            producer.activation = activation
            self.acts[out] = src
            return
        self.emit(out, Op.ACTIVATION, [src], self.hwc(src), activation=activation)

    def op_CONCATENATION(self, op, ins, out) -> None:
        """`concat` on channels; other axes: output tail."""
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
            raise Fail("pooling with a fused activation is not supported")
        self.same_params(ins[0], out, name)

    def same_params(self, i: int, out: int, name: str) -> None:
        if self.quantized and not equal_params(self.quant[name], self.quant[self.acts[i]]):
            raise Fail("input and output quantization must be equal for this operator")

    def op_MAX_POOL_2D(self, op, ins, out) -> None:
        """`maxpool`."""
        self.pool(op, ins, out, Op.MAXPOOL)

    def op_AVERAGE_POOL_2D(self, op, ins, out) -> None:
        """`avgpool`."""
        self.pool(op, ins, out, Op.AVGPOOL)

    def op_MEAN(self, op, ins, out) -> None:
        """over H, W (float models): `global_avgpool` ([1, 1, 1, C] or, without keep_dims, [1, C])."""
        axes = sorted(int(a) % 4 for a in np.ravel(self.const(ins[1], "axes")))
        x = self.hwc(self.act(ins[0]))
        if axes != [1, 2] or self.quantized:
            raise Fail("MEAN is supported over H and W in float models only")
        self.emit(out, Op.GLOBAL_AVGPOOL, [self.act(ins[0])], (1, 1, x[2]))

    def op_RESIZE_NEAREST_NEIGHBOR(self, op, ins, out) -> None:
        """`upsample` by integer factors."""
        o = op.builtinOptions
        x = self.hwc(self.act(ins[0]))
        size = tuple(int(v) for v in self.const(ins[1], "size"))
        if o is not None and (o.alignCorners or o.halfPixelCenters):
            raise Fail("only align_corners=False, half_pixel_centers=False is supported")
        if any(s % n for s, n in zip(size, x[:2])):
            raise Fail(f"resize {x[:2]} -> {size}: only integer up-sampling factors are supported")
        name = self.emit(out, Op.UPSAMPLE, [self.act(ins[0])], (*size, x[2]),
                         stride=(size[0] // x[0], size[1] // x[1]))
        self.same_params(ins[0], out, name)

    def op_PAD(self, op, ins, out) -> None:
        """`pad` (H, W and trailing channels, zero filled)."""
        x = self.hwc(self.act(ins[0]))
        p = self.const(ins[1], "paddings").reshape(-1, 2)
        if p.shape != (4, 2) or p[0].any() or p[3, 0] or p.min() < 0:
            raise Fail(f"paddings {p.tolist()}: only H, W and trailing channels can be padded")
        out_hwc = (x[0] + int(p[1].sum()), x[1] + int(p[2].sum()), x[2] + int(p[3, 1]))
        name = self.emit(out, Op.PAD, [self.act(ins[0])], out_hwc,
                         padding=((int(p[1, 0]), int(p[1, 1])), (int(p[2, 0]), int(p[2, 1]))))
        self.same_params(ins[0], out, name)

    def activation(self, op, ins, out, kind: str) -> None:
        src = self.act(ins[0])
        activation = _ACTIVATION_OPS[kind]
        producer = self.layers.get(src)
        exact = not self.quantized or equal_params(self.quant[src], self.activation_params(out))
        if producer is not None and producer.op in _FUSABLE and producer.activation is None \
                and self.consumers[ins[0]] == [op] and exact and (activation in (Activation.RELU, Activation.RELU6)
                                                                  or not self.quantized):
            producer.activation = activation
            self.acts[out] = src
            name = src
            if self.quantized:
                self.quant[name] = self.activation_params(out)
        else:
            name = self.emit(out, Op.ACTIVATION, [src], self.hwc(src), activation=activation)
        if activation is Activation.LEAKY_RELU:
            self.alphas[name] = float(op.builtinOptions.alpha)

    def op_RELU(self, op, ins, out) -> None:
        """activation relu, fused when exact."""
        self.activation(op, ins, out, "RELU")

    def op_RELU6(self, op, ins, out) -> None:
        """activation relu6, fused when exact."""
        self.activation(op, ins, out, "RELU6")

    def op_LOGISTIC(self, op, ins, out) -> None:
        """activation sigmoid."""
        self.activation(op, ins, out, "LOGISTIC")

    def op_HARD_SWISH(self, op, ins, out) -> None:
        """activation hardswish."""
        self.activation(op, ins, out, "HARD_SWISH")

    def op_LEAKY_RELU(self, op, ins, out) -> None:
        """activation leaky_relu."""
        self.activation(op, ins, out, "LEAKY_RELU")

    def op_RESHAPE(self, op, ins, out) -> None:
        """before FULLY_CONNECTED: absorbed; feeding compute: a layout chain (see TILE); else output tail."""
        shape = self.shape(out)
        users = self.consumers[out]
        if ins[0] in self.acts and len(shape) == 2 and shape[0] == self.batch and users and all(
                u is not None and self.opname(u) == "FULLY_CONNECTED" for u in users):
            self.flats[out] = Flat(self.acts[ins[0]])
            return
        if ins[0] in self.views or any(u is not None and self.opname(u) not in ("RESHAPE", "SQUEEZE", "EXPAND_DIMS",
                                                                                "CONCATENATION", "DEQUANTIZE")
                                       for u in users):
            self.extend_view(ins[0], out, lambda v: v.reshape(shape))
            return
        self.layout(op, ins, out, TailOp("reshape", (self.tail_input(ins[0]),), self.names[out], shape=shape))

    def op_SQUEEZE(self, op, ins, out) -> None:
        """as RESHAPE (to the declared output shape)."""
        self.op_RESHAPE(op, ins[:1], out)

    def op_EXPAND_DIMS(self, op, ins, out) -> None:
        """as RESHAPE (to the declared output shape)."""
        self.op_RESHAPE(op, ins[:1], out)

    def op_TILE(self, op, ins, out) -> None:
        """layout chain feeding compute, lowered by its index map: identity or nearest `upsample`
        (Keras UpSampling2D)."""
        multiples = self.const(ins[1], "multiples")
        self.extend_view(ins[0], out, lambda v: v.tile(multiples))

    def op_BROADCAST_TO(self, op, ins, out) -> None:
        """layout chain feeding compute (as TILE)."""
        shape = self.const(ins[1], "shape")
        self.extend_view(ins[0], out, lambda v: v.broadcast(shape))

    def op_TRANSPOSE(self, op, ins, out) -> None:
        """layout chain feeding compute (as TILE)."""
        perm = self.const(ins[1], "perm")
        self.extend_view(ins[0], out, lambda v: v.transpose(perm))

    def extend_view(self, i: int, out: int, step) -> None:
        """Record a layout op of tensor ``i`` (lowered when a compute op reads it, see :mod:`..layout`)."""
        if i in self.views:
            view = self.views[i]
        else:
            source = self.act(i)
            hwc = self.hwc(source)
            if len(self.shape(i)) != 4:
                raise Fail(f"layout operators on the {len(self.shape(i))}-D tensor '{self.names[i]}' are not supported")
            view = LayoutView.of(source, hwc, "nhwc")
        view = step(view)
        if tuple(view.index.shape) != self.shape(out):
            raise Fail(f"layout result {list(view.index.shape)} disagrees with the declared shape "
                       f"{list(self.shape(out))}")
        if self.quantized and not equal_params(self.activation_params(out), self.activation_params(i)):
            raise Fail("layout operators must keep their input's quantization")
        self.views[out] = view

    def materialize(self, i: int) -> str:
        """The IR tensor of a layout view read by a compute op: its source, or an ``upsample`` layer."""
        view = self.views.pop(i)
        lowered = view.lower()
        if lowered is None:
            raise Fail(f"layout operators from '{view.source}' to '{self.names[i]}' ({list(view.index.shape)}) are "
                        f"neither an identity nor an integer nearest up-sampling")
        kind, factors = lowered
        if kind == "identity":
            self.acts[i] = view.source
            return view.source
        h, w, c = view.hwc
        return self.emit(i, Op.UPSAMPLE, [view.source], (h * factors[0], w * factors[1], c), stride=factors)

    def op_DEPTH_TO_SPACE(self, op, ins, out) -> None:
        """`depth_to_space`."""
        src = self.act(ins[0])
        h, w, c = self.hwc(src)
        b = int(op.builtinOptions.blockSize)
        name = self.emit(out, Op.DEPTH_TO_SPACE, [src], (h * b, w * b, c // (b * b)), stride=(b, b))
        self.same_params(ins[0], out, name)

    def op_PRELU(self, op, ins, out) -> None:
        """`prelu` (one slope per channel)."""
        src = self.act(ins[0])
        c = self.hwc(src)[2]
        alpha = self.const(ins[1], "alpha")
        if alpha.size not in (1, c) or (alpha.ndim and alpha.shape[-1] != alpha.size):
            raise Fail(f"alpha of shape {list(alpha.shape)}: only one slope per channel ({c}) is supported")
        name = self.emit(out, Op.PRELU, [src], self.hwc(src))
        slope = np.broadcast_to(alpha.reshape(-1), (c,))
        if self.quantized:
            p = self.params(ins[1])
            if p is None or p.per_channel:
                raise Fail("a quantized PRELU needs per-tensor alpha parameters")
            self.quant[f"{name}.alpha"] = p
            self.tensors[f"{name}.alpha"] = slope.astype(np.int64)
        else:
            self.tensors[f"{name}.alpha"] = slope.astype(np.float64)

    def op_RESIZE_BILINEAR(self, op, ins, out) -> None:
        """`resize_bilinear` (align_corners / half_pixel_centers / neither)."""
        o = op.builtinOptions
        src = self.act(ins[0])
        x = self.hwc(src)
        size = tuple(int(v) for v in self.const(ins[1], "size"))
        align, half = (bool(o.alignCorners), bool(o.halfPixelCenters)) if o is not None else (False, False)
        if align and half:
            raise Fail("align_corners and half_pixel_centers together are not supported")
        mode = "align_corners" if align else "half_pixel" if half else "asymmetric"
        name = self.emit(out, Op.RESIZE_BILINEAR, [src], (*size, x[2]), resize=mode)
        self.same_params(ins[0], out, name)
