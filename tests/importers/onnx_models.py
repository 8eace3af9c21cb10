"""Small float ONNX models built with ``onnx.helper`` (NCHW, batch 1, opset 14) for importer tests."""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 14


class Builder:
    """Append nodes with seeded random weights; ``model()`` returns the ModelProto."""

    def __init__(self, shape: tuple[int, int, int, int], seed: int = 0) -> None:
        self.rng = np.random.default_rng(seed)
        self.nodes, self.inits = [], []
        self.inputs = [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(shape))]
        self.count = 0

    def name(self, prefix: str) -> str:
        self.count += 1
        return f"{prefix}{self.count}"

    def const(self, value: np.ndarray, prefix: str = "c") -> str:
        name = self.name(prefix)
        self.inits.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    def node(self, op: str, inputs: list[str], **attrs) -> str:
        out = self.name(op.lower())
        self.nodes.append(helper.make_node(op, inputs, [out], name=f"{op}_{self.count}", **attrs))
        return out

    def conv(self, x: str, cin: int, cout: int, k: int, *, stride: int = 1, pad: int | None = None,
             group: int = 1, bias: bool = True, pads: list[int] | None = None) -> str:
        w = self.const(self.rng.normal(0, 0.5 / np.sqrt(k * k * cin / group), (cout, cin // group, k, k)).astype(np.float32))
        ins = [x, w] + ([self.const(self.rng.normal(0, 0.1, cout).astype(np.float32))] if bias else [])
        p = pads if pads is not None else [k // 2 if pad is None else pad] * 4
        return self.node("Conv", ins, kernel_shape=[k, k], strides=[stride, stride], pads=p, group=group)

    def bn(self, x: str, c: int) -> str:
        r = self.rng
        params = [r.uniform(0.5, 1.5, c), r.normal(0, 0.1, c), r.normal(0, 0.1, c), r.uniform(0.5, 1.5, c)]
        return self.node("BatchNormalization", [x] + [self.const(p.astype(np.float32)) for p in params], epsilon=1e-5)

    def model(self, outputs: list[str]) -> onnx.ModelProto:
        outs = [helper.make_tensor_value_info(o, TensorProto.FLOAT, None) for o in outputs]
        graph = helper.make_graph(self.nodes, "test", self.inputs, outs, self.inits)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
        model.ir_version = 8
        return model


def conv_bn_relu() -> tuple[onnx.ModelProto, int]:
    """Conv 3x3 (3->8, 16x16) + BN + ReLU; MACs 16*16*8*9*3."""
    b = Builder((1, 3, 16, 16))
    y = b.node("Relu", [b.bn(b.conv("x", 3, 8, 3, bias=False), 8)])
    return b.model([y]), 16 * 16 * 8 * 9 * 3


def depthwise_relu6() -> tuple[onnx.ModelProto, int]:
    """Depthwise 3x3 stride 2 (8 ch, 15x15 -> 8x8) + Clip(0, 6), then pointwise 8->16 + HardSwish."""
    b = Builder((1, 8, 15, 15), seed=1)
    y = b.node("Clip", [b.conv("x", 8, 8, 3, stride=2, group=8), b.const(np.float32(0)), b.const(np.float32(6))])
    z = b.node("HardSwish", [b.conv(y, 8, 16, 1)])
    return b.model([z]), 8 * 8 * 8 * 9 + 8 * 8 * 16 * 8


def silu_resize_concat() -> tuple[onnx.ModelProto, int]:
    """Conv+SiLU (Mul(x, Sigmoid(x))), stride-2 conv + LeakyRelu, nearest Resize x2, Concat, Add, MaxPool."""
    b = Builder((1, 4, 12, 12), seed=2)
    a = b.conv("x", 4, 6, 3)
    a = b.node("Mul", [a, b.node("Sigmoid", [a])])
    d = b.node("LeakyRelu", [b.conv(a, 6, 6, 3, stride=2)], alpha=0.2)
    up = b.node("Resize", [d, "", b.const(np.array([1, 1, 2, 2], np.float32))], mode="nearest")
    cat = b.node("Concat", [a, up], axis=1)
    s = b.node("Add", [b.conv(cat, 12, 6, 1), a])
    p = b.node("MaxPool", [s], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])
    macs = 12 * 12 * 6 * 9 * 4 + 6 * 6 * 6 * 9 * 6 + 12 * 12 * 6 * 12
    return b.model([p]), macs


def hardsigmoid_gap_gemm() -> tuple[onnx.ModelProto, int]:
    """Conv + x*HardSigmoid(x), AveragePool, GlobalAveragePool -> Flatten -> Gemm (10 units), Sigmoid."""
    b = Builder((1, 3, 8, 8), seed=3)
    c = b.conv("x", 3, 6, 3)
    h = b.node("Mul", [c, b.node("HardSigmoid", [c], alpha=1 / 6, beta=0.5)])
    p = b.node("AveragePool", [h], kernel_shape=[2, 2], strides=[2, 2])
    f = b.node("Flatten", [p], axis=1)
    w = b.const(b.rng.normal(0, 0.3, (10, 6 * 4 * 4)).astype(np.float32))
    g = b.node("Gemm", [f, w, b.const(b.rng.normal(0, 0.1, 10).astype(np.float32))], transB=1)
    gap = b.node("Flatten", [b.node("GlobalAveragePool", [h])], axis=1)
    m = b.node("MatMul", [gap, b.const(b.rng.normal(0, 0.3, (6, 5)).astype(np.float32))])
    return b.model([b.node("Sigmoid", [g]), m]), 8 * 8 * 6 * 27 + 96 * 10 + 6 * 5


def focus_tail() -> tuple[onnx.ModelProto, int]:
    """YOLOX Focus (4 strided Slices + Concat) + Conv 3x3, then Reshape/Concat/Transpose output tail."""
    b = Builder((1, 3, 16, 16), seed=4)
    i64 = lambda v: b.const(np.array(v, np.int64))
    parts = []
    for dy, dx in [(0, 0), (1, 0), (0, 1), (1, 1)]:
        rows = b.node("Slice", ["x", i64([dy]), i64([1 << 30]), i64([2]), i64([2])])
        parts.append(b.node("Slice", [rows, i64([dx]), i64([1 << 30]), i64([3]), i64([2])]))
    f = b.node("Concat", parts, axis=1)
    c = b.conv(f, 12, 8, 3)
    d = b.conv(c, 8, 8, 3, stride=2)
    r1 = b.node("Reshape", [c, i64([1, 8, -1])])
    r2 = b.node("Reshape", [d, i64([1, 8, -1])])
    out = b.node("Transpose", [b.node("Concat", [r1, r2], axis=2)], perm=[0, 2, 1])
    return b.model([out]), 8 * 8 * 8 * 108 + 4 * 4 * 8 * 72


def decomposed_activations() -> tuple[onnx.ModelProto, int]:
    """Paddle-export spellings: x * clip(x + 3, 0, 6) / 6, clip(x + 3, 0, 6) / 6 as an SE gate,
    erf GELU, HardSigmoid(alpha 0.2), per-channel Mul / Sub constants (folded or a 1x1 depthwise)."""
    b = Builder((1, 4, 10, 10), seed=5)
    f = lambda v: b.const(np.float32(v))
    c = b.conv("x", 4, 8, 3)
    hs = b.node("Div", [b.node("Mul", [c, b.node("Clip", [b.node("Add", [c, f(3)]), f(0), f(6)])]), f(6)])
    gate = b.node("Div", [b.node("Clip", [b.node("Add", [b.conv(hs, 8, 8, 1), f(3)]), f(0), f(6)]), f(6)])
    se = b.node("Mul", [hs, gate])
    g_in = b.conv(se, 8, 8, 3)
    erf = b.node("Add", [b.node("Erf", [b.node("Div", [g_in, f(np.sqrt(2))])]), f(1)])
    gelu = b.node("Mul", [b.node("Mul", [g_in, erf]), f(0.5)])
    scale = b.node("Mul", [gelu, b.const(b.rng.uniform(0.5, 2, (1, 8, 1, 1)).astype(np.float32))])
    shifted = b.node("Sub", [scale, b.const(b.rng.normal(0, 0.2, (1, 8, 1, 1)).astype(np.float32))])
    out = b.node("HardSigmoid", [b.conv(shifted, 8, 4, 1)], alpha=0.2, beta=0.5)
    macs = 100 * 8 * 36 + 100 * 8 * 8 + 100 * 8 + 100 * 8 * 72 + 100 * 8 + 100 * 4 * 8
    return b.model([out]), macs


def split_transpose_linear() -> tuple[onnx.ModelProto, int]:
    """Conv split into two branches (per-branch convs), ConvTranspose 2x2/2, linear Resize (half-pixel)
    and ReduceMean over H, W."""
    b = Builder((1, 3, 6, 8), seed=6)
    c = b.conv("x", 3, 10, 3)
    s1, s2 = f"{c}_a", f"{c}_b"
    b.nodes.append(helper.make_node("Split", [c, b.const(np.array([4, 6], np.int64))], [s1, s2], name="Split_x",
                                    axis=1))
    w = b.const(b.rng.normal(0, 0.3, (4, 5, 2, 2)).astype(np.float32))
    t = b.node("ConvTranspose", [s1, w, b.const(b.rng.normal(0, 0.1, 5).astype(np.float32))], kernel_shape=[2, 2],
               strides=[2, 2])
    r = b.node("Resize", [s2, "", b.const(np.array([1, 1, 2, 2], np.float32))], mode="linear",
               coordinate_transformation_mode="half_pixel")
    cat = b.node("Concat", [t, r], axis=1)
    m = b.node("ReduceMean", [cat], axes=[2, 3], keepdims=1)
    macs = 48 * 4 * 27 + 48 * 6 * 27 + 48 * 4 * 4 * 5
    return b.model([cat, m]), macs


def layout_upsample_prelu_d2s() -> tuple[onnx.ModelProto, int]:
    """Reshape -> Expand -> Reshape (a x2 nearest up-sampling spelled as layout ops) feeding a conv, Tile as
    a second x2, PRelu with per-channel slopes, DepthToSpace (DCR, block 2)."""
    b = Builder((1, 4, 3, 5), seed=7)
    i64 = lambda v: b.const(np.array(v, np.int64))
    c = b.conv("x", 4, 8, 1)
    r = b.node("Reshape", [c, i64([1, 8, 3, 1, 5, 1])])
    e = b.node("Expand", [r, i64([1, 8, 3, 2, 5, 2])])
    up = b.node("Reshape", [e, i64([1, 8, 6, 10])])
    p = b.node("PRelu", [b.conv(up, 8, 8, 3), b.const(b.rng.uniform(0, 0.5, (8, 1, 1)).astype(np.float32))])
    t = b.node("Tile", [b.node("Reshape", [p, i64([1, 8, 6, 1, 10, 1])]), i64([1, 1, 1, 2, 1, 2])])
    d = b.node("DepthToSpace", [b.conv(b.node("Reshape", [t, i64([1, 8, 12, 20])]), 8, 8, 1)], blocksize=2,
               mode="DCR")
    return b.model([d]), 15 * 8 * 4 + 60 * 8 * 72 + 240 * 8 * 8


MODELS = {
    "layout_upsample_prelu_d2s": layout_upsample_prelu_d2s,
    "decomposed_activations": decomposed_activations,
    "split_transpose_linear": split_transpose_linear,
    "conv_bn_relu": conv_bn_relu,
    "depthwise_relu6": depthwise_relu6,
    "silu_resize_concat": silu_resize_concat,
    "hardsigmoid_gap_gemm": hardsigmoid_gap_gemm,
    "focus_tail": focus_tail,
}
