"""More int8 TFLite oracle models (same conventions as :mod:`oracles.tflite_ref`).

``PRELU``, ``RESIZE_BILINEAR`` (three coordinate conventions), ``TRANSPOSE_CONV``
(per-channel weights) and the layout-op chains the TFLite converter emits for a
Keras ``UpSampling2D`` (``RESHAPE`` -> ``TILE`` or ``BROADCAST_TO`` -> ``RESHAPE``)
feeding a ``CONV_2D``. Each ``build_*`` returns the flatbuffer; run it with
:func:`oracles.tflite_ref.run_model` (``BUILTIN_REF`` kernels).
"""

from __future__ import annotations

import flatbuffers
import numpy as np
from ai_edge_litert import schema_py_generated as schema

from oracles.tflite_ref import _model, _tensor

__all__ = ["build_prelu", "build_resize_bilinear", "build_transpose_conv", "build_keras_upsampling_conv",
           "build_transpose_then_conv", "build_float_io_conv"]

_T = schema.TensorType
_OP = schema.BuiltinOperator
_OPT = schema.BuiltinOptions


def build_prelu(x_shape, x_scale, x_zp, alpha, a_scale, a_zp, out_scale, out_zp) -> bytes:
    """PRELU: int8 input ``x_shape`` (NHWC), constant int8 slopes ``alpha`` ``[1, 1, C]``, int8 output."""
    alpha = np.asarray(alpha).reshape(1, 1, -1)
    tensors = [
        _tensor("x", x_shape, _T.INT8, x_scale, x_zp),
        _tensor("alpha", alpha.shape, _T.INT8, a_scale, a_zp, data=alpha),
        _tensor("y", x_shape, _T.INT8, out_scale, out_zp),
    ]
    return _model(tensors, [(_OP.PRELU, _OPT.NONE, None, [0, 1], [2])], inputs=[0], outputs=[2])


def build_resize_bilinear(x_shape, scale, zp, size, *, align_corners=False, half_pixel_centers=False) -> bytes:
    """RESIZE_BILINEAR of int8 NHWC ``x_shape`` to ``size`` (H, W); output shares the input's parameters."""
    options = schema.ResizeBilinearOptionsT()
    options.alignCorners, options.halfPixelCenters = bool(align_corners), bool(half_pixel_centers)
    n, _, _, c = x_shape
    tensors = [
        _tensor("x", x_shape, _T.INT8, scale, zp),
        _tensor("size", [2], _T.INT32, data=np.asarray(size, dtype=np.int64)),
        _tensor("y", [n, size[0], size[1], c], _T.INT8, scale, zp),
    ]
    return _model(tensors, [(_OP.RESIZE_BILINEAR, _OPT.ResizeBilinearOptions, options, [0, 1], [2])],
                  inputs=[0], outputs=[2])


def build_transpose_conv(x_shape, x_scale, x_zp, w, w_scales, bias, out_scale, out_zp, *, out_hw,
                         stride=(2, 2), padding="SAME") -> bytes:
    """TRANSPOSE_CONV: int8 NHWC input, int8 weights ``[Cout, kh, kw, Cin]`` per output channel, int32 bias,
    int8 output ``[1, *out_hw, Cout]``."""
    w = np.asarray(w)
    cout = w.shape[0]
    options = schema.TransposeConvOptionsT()
    options.padding = {"SAME": schema.Padding.SAME, "VALID": schema.Padding.VALID}[padding]
    options.strideH, options.strideW = stride
    out_shape = [1, out_hw[0], out_hw[1], cout]
    scales = np.asarray(w_scales, dtype=np.float64)
    tensors = [
        _tensor("output_shape", [4], _T.INT32, data=np.asarray(out_shape, dtype=np.int64)),
        _tensor("w", w.shape, _T.INT8, scales, 0, qdim=0, data=w),
        _tensor("x", x_shape, _T.INT8, x_scale, x_zp),
        _tensor("bias", [cout], _T.INT32, x_scale * scales, 0, data=np.asarray(bias)),
        _tensor("y", out_shape, _T.INT8, out_scale, out_zp),
    ]
    ops = [(_OP.TRANSPOSE_CONV, _OPT.TransposeConvOptions, options, [0, 1, 2, 3], [4])]
    return _model(tensors, ops, inputs=[2], outputs=[4])


def build_keras_upsampling_conv(x_shape, scale, zp, factor, w, w_scale, bias, out_scale, out_zp, *,
                                broadcast=False) -> bytes:
    """Keras ``UpSampling2D(factor)`` as the converter lowers it, then a 1x1 ``CONV_2D``.

    ``x [1, H, W, C]`` -> RESHAPE ``[1, H, 1, W, 1, C]`` -> TILE by ``[1, 1, f, 1, f, 1]`` (or
    BROADCAST_TO ``[1, H, f, W, f, C]``) -> RESHAPE ``[1, fH, fW, C]`` -> CONV_2D (int8, per-tensor).
    """
    _, h, wd, c = x_shape
    f = int(factor)
    w = np.asarray(w)
    cout = w.shape[0]
    expanded = [1, h, f, wd, f, c]
    conv = schema.Conv2DOptionsT()
    conv.padding, conv.strideH, conv.strideW = schema.Padding.VALID, 1, 1
    conv.dilationHFactor = conv.dilationWFactor = 1
    tensors = [
        _tensor("x", x_shape, _T.INT8, scale, zp),
        _tensor("shape6", [6], _T.INT32, data=np.asarray([1, h, 1, wd, 1, c])),
        _tensor("x6", [1, h, 1, wd, 1, c], _T.INT8, scale, zp),
        _tensor("tile", [6], _T.INT32, data=np.asarray(expanded if broadcast else [1, 1, f, 1, f, 1])),
        _tensor("tiled", expanded, _T.INT8, scale, zp),
        _tensor("shape4", [4], _T.INT32, data=np.asarray([1, f * h, f * wd, c])),
        _tensor("up", [1, f * h, f * wd, c], _T.INT8, scale, zp),
        _tensor("w", w.shape, _T.INT8, w_scale, 0, data=w),
        _tensor("bias", [cout], _T.INT32, scale * w_scale, 0, data=np.asarray(bias)),
        _tensor("y", [1, f * h, f * wd, cout], _T.INT8, out_scale, out_zp),
    ]
    expand = (_OP.BROADCAST_TO, _OPT.NONE, None, [2, 3], [4]) if broadcast else \
        (_OP.TILE, _OPT.NONE, None, [2, 3], [4])
    ops = [
        (_OP.RESHAPE, _OPT.NONE, None, [0, 1], [2]),
        expand,
        (_OP.RESHAPE, _OPT.NONE, None, [4, 5], [6]),
        (_OP.CONV_2D, _OPT.Conv2DOptions, conv, [6, 7, 8], [9]),
    ]
    return _with_version(_model(tensors, ops, inputs=[0], outputs=[9]), _OP.BROADCAST_TO, 2)


def build_transpose_then_conv(x_shape, scale, zp, perm, w, w_scale, bias, out_scale, out_zp) -> bytes:
    """TRANSPOSE by ``perm`` then a 1x1 ``CONV_2D`` (a layout op feeding compute that is no up-sampling
    when ``perm`` swaps H and W of a non-square input)."""
    w = np.asarray(w)
    shape = [int(x_shape[p]) for p in perm]
    conv = schema.Conv2DOptionsT()
    conv.padding, conv.strideH, conv.strideW = schema.Padding.VALID, 1, 1
    conv.dilationHFactor = conv.dilationWFactor = 1
    tensors = [
        _tensor("x", x_shape, _T.INT8, scale, zp),
        _tensor("perm", [4], _T.INT32, data=np.asarray(perm)),
        _tensor("t", shape, _T.INT8, scale, zp),
        _tensor("w", w.shape, _T.INT8, w_scale, 0, data=w),
        _tensor("bias", [w.shape[0]], _T.INT32, scale * w_scale, 0, data=np.asarray(bias)),
        _tensor("y", [*shape[:3], w.shape[0]], _T.INT8, out_scale, out_zp),
    ]
    ops = [(_OP.TRANSPOSE, _OPT.NONE, None, [0, 1], [2]), (_OP.CONV_2D, _OPT.Conv2DOptions, conv, [2, 3, 4], [5])]
    return _model(tensors, ops, inputs=[0], outputs=[5])


def build_float_io_conv(x_shape, scale, zp, w, w_scales, bias, out_scale, out_zp) -> bytes:
    """The converter's float-I/O int8 model: float32 input -> QUANTIZE -> CONV_2D 3x3 SAME (int8, per-channel)
    -> RESHAPE ``[1, H * W, Cout]`` -> DEQUANTIZE -> float32 output."""
    w = np.asarray(w)
    _, h, wd, _ = x_shape
    cout = w.shape[0]
    conv = schema.Conv2DOptionsT()
    conv.padding, conv.strideH, conv.strideW = schema.Padding.SAME, 1, 1
    conv.dilationHFactor = conv.dilationWFactor = 1
    scales = np.asarray(w_scales, dtype=np.float64)
    tensors = [
        _tensor("x", x_shape, _T.FLOAT32),
        _tensor("xq", x_shape, _T.INT8, scale, zp),
        _tensor("w", w.shape, _T.INT8, scales, 0, qdim=0, data=w),
        _tensor("bias", [cout], _T.INT32, scale * scales, 0, data=np.asarray(bias)),
        _tensor("c", [1, h, wd, cout], _T.INT8, out_scale, out_zp),
        _tensor("shape", [3], _T.INT32, data=np.asarray([1, h * wd, cout])),
        _tensor("r", [1, h * wd, cout], _T.INT8, out_scale, out_zp),
        _tensor("y", [1, h * wd, cout], _T.FLOAT32),
    ]
    ops = [(_OP.QUANTIZE, _OPT.NONE, None, [0], [1]), (_OP.CONV_2D, _OPT.Conv2DOptions, conv, [1, 2, 3], [4]),
           (_OP.RESHAPE, _OPT.NONE, None, [4, 5], [6]), (_OP.DEQUANTIZE, _OPT.NONE, None, [6], [7])]
    return _model(tensors, ops, inputs=[0], outputs=[7])


def _with_version(data: bytes, builtin: int, version: int) -> bytes:
    """``data`` with the operator code of ``builtin`` at ``version`` (the reference resolver registers
    int8 BROADCAST_TO from version 2 on)."""
    model = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(data, 0))
    for code in model.operatorCodes:
        if code.builtinCode == builtin:
            code.version = version
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())
