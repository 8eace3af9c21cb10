"""Multi-op int8 ``.tflite`` models built with the flatbuffer helpers of :mod:`oracles.tflite_ref`."""

from __future__ import annotations

import numpy as np
from ai_edge_litert import schema_py_generated as schema

from oracles.tflite_ref import _ACTIVATIONS, _model, _tensor

_T, _OP, _OPT = schema.TensorType, schema.BuiltinOperator, schema.BuiltinOptions


def f32(value: float) -> float:
    return float(np.float32(value))


def _conv_options(stride: int, fused: str, depthwise: bool = False):
    o = schema.DepthwiseConv2DOptionsT() if depthwise else schema.Conv2DOptionsT()
    o.padding = schema.Padding.SAME
    o.strideH = o.strideW = stride
    o.dilationHFactor = o.dilationWFactor = 1
    o.fusedActivationFunction = _ACTIVATIONS[fused]
    if depthwise:
        o.depthMultiplier = 1
    return o


def chain_model(seed: int = 0, *, int4: bool = False) -> bytes:
    """x[1,10,10,4] -> conv3x3 relu (8) -> depthwise3x3/2 relu6 -> conv1x1 (int4 if ``int4``)
    -> add(depthwise, conv1x1) -> maxpool 2x2 -> reshape [1,32] -> fc(10); outputs: fc and add."""
    rng = np.random.default_rng(seed)
    tensors, ops = [], []

    def act(name, shape, scale, zp):
        tensors.append(_tensor(name, shape, _T.INT8, f32(scale), zp))
        return len(tensors) - 1

    def weights(name, w, scales, qdim, bits=8):
        tensors.append(_tensor(name, w.shape, _T.INT4 if bits == 4 else _T.INT8, [f32(s) for s in scales], 0,
                               qdim=qdim, data=w))
        return len(tensors) - 1

    def bias(name, b, scales):
        tensors.append(_tensor(name, b.shape, _T.INT32, [f32(s) for s in scales], 0, data=b))
        return len(tensors) - 1

    x = act("x", [1, 10, 10, 4], 0.03, 3)
    s_w1 = rng.uniform(0.004, 0.01, 8)
    w1 = weights("w1", rng.integers(-127, 128, (8, 3, 3, 4)), s_w1, 0)
    b1 = bias("b1", rng.integers(-3000, 3000, 8), f32(0.03) * s_w1)
    c1 = act("c1", [1, 10, 10, 8], 0.05, -128)
    ops.append((_OP.CONV_2D, _OPT.Conv2DOptions, _conv_options(1, "RELU"), [x, w1, b1], [c1]))
    s_w2 = rng.uniform(0.005, 0.02, 8)
    w2 = weights("w2", rng.integers(-127, 128, (1, 3, 3, 8)), s_w2, 3)
    b2 = bias("b2", rng.integers(-2000, 2000, 8), f32(0.05) * s_w2)
    d1 = act("d1", [1, 5, 5, 8], 0.03, -128)
    ops.append((_OP.DEPTHWISE_CONV_2D, _OPT.DepthwiseConv2DOptions, _conv_options(2, "RELU6", True), [c1, w2, b2], [d1]))
    wmax = 7 if int4 else 127
    s_w3 = rng.uniform(0.01, 0.03, 8) * (127 / wmax)
    w3 = weights("w3", rng.integers(-wmax, wmax + 1, (8, 1, 1, 8)), s_w3, 0, bits=4 if int4 else 8)
    b3 = bias("b3", rng.integers(-1000, 1000, 8), f32(0.03) * s_w3)
    c2 = act("c2", [1, 5, 5, 8], 0.04, 5)
    ops.append((_OP.CONV_2D, _OPT.Conv2DOptions, _conv_options(1, "NONE"), [d1, w3, b3], [c2]))
    a1 = act("a1", [1, 5, 5, 8], 0.05, -10)
    add = schema.AddOptionsT()
    add.fusedActivationFunction = _ACTIVATIONS["NONE"]
    ops.append((_OP.ADD, _OPT.AddOptions, add, [d1, c2], [a1]))
    p1 = act("p1", [1, 2, 2, 8], 0.05, -10)
    pool = schema.Pool2DOptionsT()
    pool.padding, pool.strideH, pool.strideW, pool.filterHeight, pool.filterWidth = schema.Padding.VALID, 2, 2, 2, 2
    ops.append((_OP.MAX_POOL_2D, _OPT.Pool2DOptions, pool, [a1], [p1]))
    tensors.append(_tensor("shape", [2], _T.INT32, data=np.array([1, 32])))
    shape = len(tensors) - 1
    r1 = act("r1", [1, 32], 0.05, -10)
    reshape = schema.ReshapeOptionsT()
    reshape.newShape = [1, 32]
    ops.append((_OP.RESHAPE, _OPT.ReshapeOptions, reshape, [p1, shape], [r1]))
    s_w4 = rng.uniform(0.005, 0.01, 10)
    w4 = weights("w4", rng.integers(-127, 128, (10, 32)), s_w4, 0)
    b4 = bias("b4", rng.integers(-5000, 5000, 10), f32(0.05) * s_w4)
    y = act("fc", [1, 10], 0.02, 2)
    fc = schema.FullyConnectedOptionsT()
    fc.fusedActivationFunction = _ACTIVATIONS["NONE"]
    ops.append((_OP.FULLY_CONNECTED, _OPT.FullyConnectedOptions, fc, [r1, w4, b4], [y]))
    return _model(tensors, ops, inputs=[x], outputs=[y, a1])
