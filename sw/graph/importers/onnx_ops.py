"""ONNX operator handlers (mixed into :class:`sw.graph.importers.onnx_import.OnnxImporter`).

Each ``op_<OpType>(node)`` reads its inputs from ``self.values`` (numpy
constants or :mod:`sw.graph.importers.onnx_fold` records), emits pending IR
layers through ``self.emit`` and stores its output record. Errors raise
:class:`sw.graph.importers.common.Fail` with the reason only; the driver adds
the file and node.
"""

from __future__ import annotations

import numpy as np

from sw.graph.importers.common import Fail
from sw.graph.importers.onnx_fold import (Act, Flat, Gate, Slices, SpaceToDepth, Tail, as_text, conv_pads,
                                          fold_space_to_depth, nhwc, space_to_depth)
from sw.graph.importers.patterns import affine_weights, fold_affine, per_channel, split_weighted
from sw.graph.ir import Activation, Op
from sw.quant.folding import BatchNorm, fold_batch_norm

__all__ = ["OnnxOps", "LAYOUT_OPS"]

LAYOUT_OPS = ("Reshape", "Flatten", "Transpose", "Squeeze", "Unsqueeze", "Identity", "Dropout")
_FOLD_TARGETS = (Op.CONV, Op.DEPTHWISE, Op.FC, Op.CONV_TRANSPOSE)


class OnnxOps:
    """Operator handlers; see the module docstring."""

    # -- convolutions ----------------------------------------------------------------------------

    def op_Conv(self, node) -> None:
        """`conv` / `depthwise` (group == Cin) / grouped `conv`; OIHW -> OHWI, pads [t, l, b, r] -> ((t, b), (l, r)),
        auto_pad resolved (odd pixel bottom/right)."""
        a = self.attrs(node)
        src = self.values.get(node.input[0])
        w = self.const(node.input[1], "weight").astype(np.float64)
        b = self.const(node.input[2], "bias").astype(np.float64) if len(node.input) > 2 and node.input[2] else None
        if w.ndim != 4:
            raise Fail(f"only 2-D convolution is supported, got weight shape {w.shape}")
        kh, kw = w.shape[2:]
        stride = tuple(a.get("strides", (1, 1)))
        dilation = tuple(a.get("dilations", (1, 1)))
        groups = int(a.get("group", 1))
        if isinstance(src, SpaceToDepth):
            x, w, stride, pads = fold_space_to_depth(src, w, stride, dilation, groups, a)
            kh, kw = w.shape[2:]
        else:
            x = self.act(node.input[0])
            pads = conv_pads(a, x.shape[2:], (kh, kw), stride, dilation)
        cin, cout = x.shape[1], w.shape[0]
        if w.shape[1] * groups != cin:
            raise Fail(f"weight shape {w.shape} with group={groups} does not match {cin} input channels")
        op = Op.DEPTHWISE if groups == cin and groups > 1 and w.shape[1] == 1 else Op.CONV
        ho = (x.shape[2] + sum(pads[0]) - dilation[0] * (kh - 1) - 1) // stride[0] + 1
        wo = (x.shape[3] + sum(pads[1]) - dilation[1] * (kw - 1) - 1) // stride[1] + 1
        out = self.emit(node, op, [x], (ho, wo, cout), kernel=(kh, kw), stride=stride, dilation=dilation,
                        padding=pads, groups=groups, bias=b is not None)
        self.tensors[f"{out.name}.weight"] = np.transpose(w, (0, 2, 3, 1))
        self.tensors[f"{out.name}.bias"] = np.zeros(cout) if b is None else b

    def op_ConvTranspose(self, node) -> None:
        """`conv_transpose` (group 1; [Cin, Cout, kh, kw] -> OHWI; pads and output_padding)."""
        a = self.attrs(node)
        x = self.act(node.input[0])
        w = self.const(node.input[1], "weight").astype(np.float64)
        b = self.const(node.input[2], "bias").astype(np.float64) if len(node.input) > 2 and node.input[2] else None
        if w.ndim != 4 or int(a.get("group", 1)) != 1 or w.shape[0] != x.shape[1]:
            raise Fail(f"only dense 2-D ConvTranspose (group 1) is supported, got weight shape {w.shape}")
        if "output_shape" in a or as_text(a.get("auto_pad", "NOTSET")) not in ("NOTSET", ""):
            raise Fail("ConvTranspose with output_shape or auto_pad is not supported (give pads)")
        kh, kw = w.shape[2:]
        stride = tuple(a.get("strides", (1, 1)))
        dilation = tuple(a.get("dilations", (1, 1)))
        p = list(a.get("pads", (0, 0, 0, 0)))
        pads = ((int(p[0]), int(p[2])), (int(p[1]), int(p[3])))
        extra = tuple(a.get("output_padding", (0, 0)))
        size = [(x.shape[2 + i] - 1) * stride[i] - sum(pads[i]) + dilation[i] * ((kh, kw)[i] - 1) + 1 + extra[i]
                for i in (0, 1)]
        cout = w.shape[1]
        out = self.emit(node, Op.CONV_TRANSPOSE, [x], (size[0], size[1], cout), kernel=(kh, kw), stride=stride,
                        dilation=dilation, padding=pads, bias=b is not None)
        self.tensors[f"{out.name}.weight"] = np.transpose(w, (1, 2, 3, 0))  # [Cin, Cout, kh, kw] -> OHWI
        self.tensors[f"{out.name}.bias"] = np.zeros(cout) if b is None else b

    def op_BatchNormalization(self, node) -> None:
        """folded into the preceding conv / fc (FQN eq. 13-14), else a 1x1 `depthwise` with bias."""
        x = self.act(node.input[0])
        gamma, beta, mean, var = (self.const(n, "batch-norm parameter").astype(np.float64) for n in node.input[1:5])
        bn = BatchNorm(gamma, beta, mean, var, float(self.attrs(node).get("epsilon", 1e-5)))
        producer = self.layers.get(x.name)
        if (producer is not None and producer.op in (Op.CONV, Op.DEPTHWISE, Op.FC) and producer.activation is None
                and self.only_consumer(node.input[0], node)):
            key = x.name
            w, b = fold_batch_norm(self.tensors[f"{key}.weight"], self.tensors[f"{key}.bias"], bn)
            self.tensors[f"{key}.weight"], self.tensors[f"{key}.bias"] = w, b
            # The first fold only: after a second batch norm the tensors differ from it, and the
            # importer's result drops the layer (not unfoldable).
            self.folded.setdefault(key, (bn, w, b))
            producer.attrs["bias"] = True
            self.check_inferred(node, x.shape)
            self.values[node.output[0]] = x
            return
        c = x.shape[1]
        out = self.emit(node, Op.DEPTHWISE, [x], nhwc(x.shape), groups=c, bias=True)
        w, b = fold_batch_norm(np.ones((c, 1, 1, 1)), None, bn)
        self.tensors[f"{out.name}.weight"], self.tensors[f"{out.name}.bias"] = w, b

    # -- activations -----------------------------------------------------------------------------

    def op_Relu(self, node) -> None:
        """activation relu, fused into the producer when it has no other consumer."""
        self.activate(node, node.input[0], Activation.RELU)

    def op_LeakyRelu(self, node) -> None:
        """activation leaky_relu (alpha kept in `ImportedModel.leaky_alpha`)."""
        self.activate(node, node.input[0], Activation.LEAKY_RELU, float(self.attrs(node).get("alpha", 0.01)))

    def op_HardSwish(self, node) -> None:
        """activation hardswish."""
        self.activate(node, node.input[0], Activation.HARDSWISH)

    def op_Gelu(self, node) -> None:
        """activation gelu (opset 20, approximate "none"; the tanh approximation is refused)."""
        if as_text(self.attrs(node).get("approximate", "none")) != "none":
            raise Fail("Gelu with approximate='tanh' is not supported (exact erf GELU only)")
        self.activate(node, node.input[0], Activation.GELU)

    def op_Clip(self, node) -> None:
        """activation relu6 ([0, 6]) or relu ([0, inf)); other bounds refused."""
        lo, hi = self.clip_range(node)
        if lo == 0.0 and hi == 6.0:
            self.activate(node, node.input[0], Activation.RELU6)
        elif lo == 0.0 and hi == np.inf:
            self.activate(node, node.input[0], Activation.RELU)
        else:
            raise Fail(f"Clip to [{lo}, {hi}] is not supported (only [0, 6] and [0, inf))")

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
        """activation sigmoid; `x * Sigmoid(x)` -> silu."""
        if self._gate_of(node) is not None:
            self.values[node.output[0]] = Gate(node.input[0], Activation.SILU)
            return
        self.activate(node, node.input[0], Activation.SIGMOID)

    def op_HardSigmoid(self, node) -> None:
        """activation hardsigmoid (alpha 1/6, beta 1/2; other alpha, beta: an affine rewrite folded into the producer
        first); `x * HardSigmoid(x)` -> hardswish."""
        a = self.attrs(node)
        alpha, beta = float(a.get("alpha", 0.2)), float(a.get("beta", 0.5))
        standard = np.isclose(alpha, 1 / 6) and np.isclose(beta, 0.5)
        if standard and self._gate_of(node) is not None:
            self.values[node.output[0]] = Gate(node.input[0], Activation.HARDSWISH)
            return
        source = node.input[0]
        if not standard:  # clip(a x + b, 0, 1) = hardsigmoid(6 a x + 6 (b - 1/2)): the affine part is a rewrite
            source = f"{node.output[0]}:affine"
            self.affine(node, scale=np.float64(6 * alpha), shift=np.float64(6 * (beta - 0.5)), output=source)
        self.activate(node, source, Activation.HARDSIGMOID)

    # -- element-wise ----------------------------------------------------------------------------

    def op_Mul(self, node) -> None:
        """`mul` of two activations (equal shapes or a (1, C, 1, 1) gate); by a per-channel constant: folded into the
        producer, else a 1x1 `depthwise`."""
        values = [self.values.get(n) for n in node.input]
        gates = [v for v in values if isinstance(v, Gate)]
        if gates:
            self.activate(node, gates[0].source, gates[0].activation)
            return
        if any(isinstance(v, np.ndarray) for v in values):
            self.affine(node, scale=next(v for v in values if isinstance(v, np.ndarray)))
            return
        x, y = (self.act(n) for n in node.input)
        big, small = (x, y) if np.prod(x.shape) >= np.prod(y.shape) else (y, x)
        if small.shape != big.shape and small.shape != (big.shape[0], big.shape[1], 1, 1):
            raise Fail(f"Mul of shapes {x.shape} and {y.shape}: only equal shapes or (1, C, 1, 1) broadcast")
        self.emit(node, Op.MUL, [x, y], nhwc(big.shape))

    def op_Div(self, node) -> None:
        """by a per-channel constant: as `Mul` by its reciprocal."""
        self.affine(node, scale=1.0 / self.const(node.input[1], "Div divisor").astype(np.float64))

    def op_Sub(self, node) -> None:
        """of a per-channel constant: as `Add` of its negative."""
        self.affine(node, shift=-self.const(node.input[1], "Sub subtrahend").astype(np.float64))

    def op_Add(self, node) -> None:
        """`add` of two equal-shape activations; of a per-channel constant: folded into the producer's bias, else a 1x1
        `depthwise`."""
        values = [self.values.get(n) for n in node.input]
        consts = [v for v in values if isinstance(v, np.ndarray)]
        if consts:
            self.affine(node, shift=consts[0])
            return
        x, y = (self.act(n) for n in node.input)
        if x.shape != y.shape:
            raise Fail(f"Add of shapes {x.shape} and {y.shape}: only equal shapes are supported")
        self.emit(node, Op.ADD, [x, y], nhwc(x.shape))

    def affine(self, node, scale=None, shift=None, output: str | None = None) -> None:
        """``x * scale + shift`` with per-channel constants: folded into the producer, else a 1x1 depthwise.

        The result is stored as ONNX tensor ``output`` (default: the node's output).
        """
        output = output or node.output[0]
        source = next(n for n in node.input if not isinstance(self.values.get(n), np.ndarray))
        x = self.act(source)
        c = x.shape[1]
        s = None if scale is None else per_channel(scale, c, -3 if len(x.shape) == 4 else -1)
        t = None if shift is None else per_channel(shift, c, -3 if len(x.shape) == 4 else -1)
        if (scale is not None and s is None) or (shift is not None and t is None):
            raise Fail(f"{node.op_type} by a constant of shape {np.shape(scale if shift is None else shift)}: "
                       f"only per-channel constants of an activation {x.shape} are supported")
        producer = self.layers.get(x.name)
        if producer is not None and producer.op in _FOLD_TARGETS and producer.activation is None \
                and self.only_consumer(source, node):
            key = x.name
            w, b = fold_affine(self.tensors[f"{key}.weight"], self.tensors[f"{key}.bias"], s, t)
            self.tensors[f"{key}.weight"], self.tensors[f"{key}.bias"] = w, b
            producer.attrs["bias"] = True
            self.values[output] = x
            return
        if len(x.shape) != 4:
            raise Fail("a constant Add / Mul on a flat tensor must follow a Gemm / MatMul")
        out = self.emit_named(output, output, Op.DEPTHWISE, [x], nhwc(x.shape), groups=c, bias=True)
        self.tensors[f"{out.name}.weight"], self.tensors[f"{out.name}.bias"] = affine_weights(c, s, t)

    def op_PRelu(self, node) -> None:
        """`prelu` (one slope per channel)."""
        x = self.act(node.input[0])
        slope = per_channel(self.const(node.input[1], "PRelu slope"), x.shape[1], -3)
        if len(x.shape) != 4 or slope is None:
            raise Fail(f"PRelu slope of shape {self.values[node.input[1]].shape}: one slope per channel of an NCHW "
                       f"activation is supported")
        out = self.emit(node, Op.PRELU, [x], nhwc(x.shape))
        self.tensors[f"{out.name}.alpha"] = slope

    # -- data movement ---------------------------------------------------------------------------

    def op_DepthToSpace(self, node) -> None:
        """`depth_to_space` (mode DCR)."""
        a = self.attrs(node)
        x = self.act(node.input[0])
        b = int(a["blocksize"])
        if as_text(a.get("mode", "DCR")) != "DCR":
            raise Fail("DepthToSpace mode CRD is not supported (DCR only)")
        self.emit(node, Op.DEPTH_TO_SPACE, [x], (x.shape[2] * b, x.shape[3] * b, x.shape[1] // (b * b)), stride=(b, b))

    def op_Concat(self, node) -> None:
        """`concat` on channels; on another axis after the last compute layer: output tail."""
        axis = int(self.attrs(node)["axis"])
        values = [self.values.get(n) for n in node.input]
        if all(isinstance(v, Slices) for v in values):
            self.values[node.output[0]] = space_to_depth(values, axis)
            return
        if all(isinstance(v, Act) for v in values) and axis % len(values[0].shape) == 1 and len(values[0].shape) == 4:
            shapes = [v.shape for v in values]
            if any(s[2:] != shapes[0][2:] for s in shapes):
                raise Fail(f"channel concat of unequal spatial shapes {shapes}")
            self.emit(node, Op.CONCAT, values, (shapes[0][2], shapes[0][3], sum(s[1] for s in shapes)))
            return
        self.layout_op(node, "concat", axis=axis)

    def op_Split(self, node) -> None:
        """of a dense Conv's channels: one `conv` per branch (output-channel slices of the weights)."""
        x = self.act(node.input[0])
        a = self.attrs(node)
        axis = int(a.get("axis", 0)) % len(x.shape)
        sizes = a.get("split")
        if sizes is None and len(node.input) > 1 and node.input[1]:
            sizes = self.const(node.input[1], "Split sizes")
        if sizes is None:
            sizes = [x.shape[axis] // len(node.output)] * len(node.output)
        sizes = [int(v) for v in np.ravel(sizes)]
        producer = self.layers.get(x.name)
        if axis != 1 or len(x.shape) != 4 or producer is None or producer.op is not Op.CONV \
                or producer.attrs.get("groups", 1) != 1 or not self.only_consumer(node.input[0], node):
            raise Fail("Split is supported on the channels of a dense Conv's output only (split into per-branch convs)")
        key = x.name
        parts = split_weighted(self.tensors.pop(f"{key}.weight"), self.tensors.pop(f"{key}.bias"), sizes)
        self.drop(key)
        for out_name, size, (w, b) in zip(node.output, sizes, parts):
            name = self.emit_like(producer, out_name, size)
            self.tensors[f"{name}.weight"], self.tensors[f"{name}.bias"] = w, b

    def op_Slice(self, node) -> None:
        """only as the YOLOX / YOLOv5 Focus space-to-depth (with Concat and Conv): one conv 2k / 2s on the image."""
        src = self.values.get(node.input[0])
        starts = self.const(node.input[1], "Slice starts")
        ends = self.const(node.input[2], "Slice ends")
        axes = self.const(node.input[3], "Slice axes") if len(node.input) > 3 and node.input[3] else np.arange(starts.size)
        steps = self.const(node.input[4], "Slice steps") if len(node.input) > 4 and node.input[4] else np.ones(starts.size)
        base = src.source if isinstance(src, Slices) else src
        if not isinstance(base, Act) or len(base.shape) != 4:
            raise Fail("Slice is supported only as the 2x2 space-to-depth (Focus) pattern on an NCHW activation")
        done = dict(src.starts) if isinstance(src, Slices) else {}
        for s, e, ax, st in zip(starts, ends, axes, steps):
            ax = int(ax) % 4
            if ax not in (2, 3) or int(st) != 2 or int(s) not in (0, 1) or int(e) < base.shape[ax] or ax in done:
                raise Fail("Slice is supported only as the 2x2 space-to-depth (Focus) pattern: "
                           "start 0 or 1, step 2, to the end, on H and W")
            done[ax] = int(s)
        self.values[node.output[0]] = Slices(base, done)

    def op_Resize(self, node) -> None:
        """nearest by integer factors -> `upsample`; linear -> `resize_bilinear` (asymmetric, align_corners, half_pixel)."""
        a = self.attrs(node)
        x = self.act(node.input[0])
        kind = as_text(a.get("mode", "nearest"))
        out_shape = self.inferred.get(node.output[0])
        names = list(node.input) + ["", "", ""]
        scales_name = names[2] if node.op_type == "Resize" else names[1]
        if out_shape is None and scales_name:
            scales = self.const(scales_name, "scales")
            out_shape = tuple(int(np.floor(d * s)) for d, s in zip(x.shape, scales))
        if out_shape is None:
            raise Fail("output size unknown (no static shape from shape inference or constant scales)")
        if tuple(out_shape[:2]) != tuple(x.shape[:2]):
            raise Fail(f"resize {x.shape} -> {out_shape}: only H and W can be resized")
        mode = as_text(a.get("coordinate_transformation_mode", "half_pixel"))
        if kind == "linear":
            modes = {"asymmetric": "asymmetric", "align_corners": "align_corners", "half_pixel": "half_pixel",
                     "pytorch_half_pixel": "half_pixel"}
            if mode not in modes or (mode == "pytorch_half_pixel" and min(out_shape[2:]) == 1):
                raise Fail(f"linear resize with coordinate mode '{mode}' is not supported")
            self.emit(node, Op.RESIZE_BILINEAR, [x], (out_shape[2], out_shape[3], out_shape[1]), resize=modes[mode])
            return
        if kind != "nearest":
            raise Fail(f"resize mode '{kind}' is not supported (nearest, linear)")
        rounding = as_text(a.get("nearest_mode", "round_prefer_floor"))
        if node.op_type == "Upsample":
            mode, rounding = "asymmetric", "floor"
        if (mode, rounding) not in (("asymmetric", "floor"), ("half_pixel", "round_prefer_floor"),
                                    ("half_pixel", "round_prefer_ceil"), ("pytorch_half_pixel", "round_prefer_floor"),
                                    ("pytorch_half_pixel", "round_prefer_ceil")):
            raise Fail(f"nearest resize with coordinate mode '{mode}' and rounding '{rounding}' is not supported")
        factors = [out_shape[i] // x.shape[i] for i in (2, 3)]
        if any(out_shape[i] != x.shape[i] * f for i, f in zip((2, 3), factors)) or min(factors) < 1:
            raise Fail(f"resize {x.shape} -> {out_shape}: only integer up-sampling of H and W is supported")
        self.emit(node, Op.UPSAMPLE, [x], (out_shape[2], out_shape[3], out_shape[1]), stride=tuple(factors))

    op_Upsample = op_Resize

    # -- pooling and fully connected -------------------------------------------------------------

    def op_MaxPool(self, node) -> None:
        """`maxpool` (ceil_mode as extra bottom/right padding)."""
        self.pool(node, Op.MAXPOOL)

    def op_AveragePool(self, node) -> None:
        """`avgpool` (padding excluded; count_include_pad=1 with padding refused)."""
        self.pool(node, Op.AVGPOOL)

    def pool(self, node, op: Op) -> None:
        a = self.attrs(node)
        x = self.act(node.input[0])
        kernel = tuple(a["kernel_shape"])
        stride = tuple(a.get("strides", (1, 1)))
        dilation = tuple(a.get("dilations", (1, 1)))
        if dilation != (1, 1) or len(kernel) != 2:
            raise Fail("only 2-D pooling without dilation is supported")
        if op is Op.AVGPOOL and a.get("count_include_pad", 0) and any(a.get("pads", ())):
            raise Fail("AveragePool with count_include_pad=1 and padding is not supported (padding is excluded)")
        pads = conv_pads(a, x.shape[2:], kernel, stride, dilation)
        if a.get("ceil_mode", 0):
            pads = tuple((p[0], p[1] + (-(x.shape[2 + i] + sum(p) - kernel[i])) % stride[i])
                         for i, p in enumerate(pads))
        ho, wo = ((x.shape[2 + i] + sum(pads[i]) - kernel[i]) // stride[i] + 1 for i in (0, 1))
        self.emit(node, op, [x], (ho, wo, x.shape[1]), kernel=kernel, stride=stride, padding=pads)

    def op_GlobalAveragePool(self, node) -> None:
        """`global_avgpool`."""
        x = self.act(node.input[0])
        self.emit(node, Op.GLOBAL_AVGPOOL, [x], (1, 1, x.shape[1]))

    def op_ReduceMean(self, node) -> None:
        """over H and W with keepdims: `global_avgpool`."""
        a = self.attrs(node)
        axes = a.get("axes")
        if axes is None and len(node.input) > 1 and node.input[1]:
            axes = self.const(node.input[1], "ReduceMean axes")
        x = self.act(node.input[0])
        if axes is None or sorted(int(v) % 4 for v in np.ravel(axes)) != [2, 3] or not a.get("keepdims", 1):
            raise Fail("ReduceMean is supported over H and W with keepdims=1 only (a global average pool)")
        self.emit(node, Op.GLOBAL_AVGPOOL, [x], (1, 1, x.shape[1]))

    def op_Gemm(self, node) -> None:
        """`fc` (constant B; a Flatten / Reshape to (1, N) before it is absorbed, columns permuted CHW -> HWC)."""
        a = self.attrs(node)
        if a.get("transA", 0) or a.get("alpha", 1.0) != 1.0 or a.get("beta", 1.0) != 1.0:
            raise Fail("Gemm is supported with transA=0, alpha=1, beta=1 only")
        w = self.const(node.input[1], "Gemm B").astype(np.float64)
        w = w if a.get("transB", 0) else w.T
        b = self.const(node.input[2], "Gemm C").astype(np.float64) if len(node.input) > 2 and node.input[2] else None
        self.fc(node, w, b)

    def op_MatMul(self, node) -> None:
        """`fc` with a constant 2-D B."""
        w = self.const(node.input[1], "MatMul B").astype(np.float64)
        if w.ndim != 2:
            raise Fail(f"MatMul needs a constant 2-D matrix B, got shape {w.shape}")
        self.fc(node, w.T, None)

    def fc(self, node, w: np.ndarray, b: np.ndarray | None) -> None:
        src = self.values.get(node.input[0])
        x = src.flat_of if isinstance(src, Flat) else self.act(node.input[0])
        units, depth = w.shape
        if int(np.prod(x.shape[1:])) != depth:
            raise Fail(f"input of {int(np.prod(x.shape[1:]))} values but B has {depth} rows")
        if len(x.shape) == 4:  # columns in CHW order -> HWC (the IR flattens NHWC)
            c, h, wd = x.shape[1:]
            w = w.reshape(units, c, h, wd).transpose(0, 2, 3, 1).reshape(units, depth)
        if b is not None and b.size == 1:
            b = np.full(units, float(b.ravel()[0]))
        if b is not None and b.shape != (units,):
            raise Fail(f"bias shape {b.shape} does not match {units} units")
        out = self.emit(node, Op.FC, [x], (1, 1, units), bias=b is not None)
        self.tensors[f"{out.name}.weight"] = w
        self.tensors[f"{out.name}.bias"] = np.zeros(units) if b is None else b

    # -- shapes and layout -----------------------------------------------------------------------

    def op_Shape(self, node) -> None:
        """of an activation: its static shape (a constant)."""
        src = self.values.get(node.input[0])
        if not isinstance(src, (Act, Tail)):
            raise Fail(f"Shape of '{node.input[0]}', which is not an activation")
        self.values[node.output[0]] = np.asarray(src.shape, dtype=np.int64)

    def op_Identity(self, node) -> None:
        """alias."""
        self.values[node.output[0]] = self.values.get(node.input[0])

    op_Dropout = op_Identity

    def op_Reshape(self, node) -> None:
        """before Gemm: absorbed; feeding compute: a layout chain (see Expand); after the last compute layer:
        output tail."""
        shape = self.inferred.get(node.output[0])
        if shape is None:
            raise Fail("output shape unknown after shape inference")
        src = self.values.get(node.input[0])
        users = self.consumers[node.output[0]]
        if isinstance(src, Act) and len(shape) == 2 and shape[0] == self.batch and users and \
                all(c is not None and c.op_type in ("Gemm", "MatMul") for c in users):
            self.values[node.output[0]] = Flat(src)
            return
        if self.feeds_compute(node):
            self.extend_view(node, lambda v: v.reshape(shape))
            return
        self.layout_op(node, "reshape", shape=shape)

    op_Flatten = op_Squeeze = op_Unsqueeze = op_Reshape

    def op_Transpose(self, node) -> None:
        """feeding compute: a layout chain (see Expand); after the last compute layer: output tail."""
        perm = tuple(int(p) for p in self.attrs(node)["perm"])
        if self.feeds_compute(node):
            self.extend_view(node, lambda v: v.transpose(perm))
            return
        self.layout_op(node, "transpose", perm=perm)

    def op_Expand(self, node) -> None:
        """layout chain feeding compute (with Reshape / Tile / Transpose), lowered by its index map: identity or
        nearest `upsample`."""
        shape = self.const(node.input[1], "Expand shape")
        self.extend_view(node, lambda v: v.broadcast(shape))

    def op_Tile(self, node) -> None:
        """layout chain feeding compute (as Expand)."""
        repeats = self.const(node.input[1], "Tile repeats")
        self.extend_view(node, lambda v: v.tile(repeats))
