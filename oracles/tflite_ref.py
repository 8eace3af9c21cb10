"""Tiny single-op ``.tflite`` models built in memory and run on TFLite's reference kernels.

This is a test oracle: it builds models through the flatbuffer object API in
``ai_edge_litert.schema_py_generated`` (no TensorFlow needed), serialises them
with ``flatbuffers.Builder`` and runs them with
``Interpreter(..., experimental_op_resolver_type=OpResolverType.BUILTIN_REF)``.
The reference resolver is mandatory: the default resolver applies XNNPACK and
the optimized kernels, which may round differently.

Conventions shared by every function:

* All array arguments are integer *codes*, never real values.  Real value =
  ``scale * (code - zero_point)``.
* Activations are NHWC (``[N, H, W, C]``, any ``N >= 1``), int8 unless noted.
* Weights are per-channel symmetric (all zero points 0).  Conv weights are OHWI
  ``[Cout, kh, kw, Cin]`` quantized along dim 0; depthwise weights use the
  TFLite layout ``[1, kh, kw, Cout]`` quantized along dim 3; fully-connected
  weights are ``[Cout, Cin]`` quantized along dim 0.
* Bias is int32 ``[Cout]`` with scale ``x_scale * w_scales[c]`` and zero point 0.
* ``build_*`` return the serialised model (``bytes``, file identifier ``TFL3``);
  ``run_*`` build, run via :func:`run_model` and return the output codes as an
  ``int64`` array.

Kernel behaviour worth knowing (ai-edge-litert 2.3.0, reference kernels):

* Per-channel requantisation: ``acc = sum(w * (x - x_zp))`` over the taps that
  fall inside the input (padding contributes nothing, i.e. pads with
  ``x_zp``), ``acc += bias[c]``, then
  ``MultiplyByQuantizedMultiplier(acc, q_c, shift_c)`` where
  ``M_c = x_scale * w_scales[c] / out_scale`` (double, from the float32
  scales) ``= q_c * 2**(shift_c - 31)`` with ``q_c`` in ``[2**30, 2**31)``,
  ``+ out_zp``, then clamp to the activation range.  That is the gemmlowp
  *double* rounding: ``SaturatingRoundingDoublingHighMul`` (ties toward
  +inf) followed by ``RoundingDivideByPOT(-shift_c)`` (ties away from zero).
  For ``M_c = 2**-k`` (``q = 2**30``) this gives, with ``h = floor(acc/2 + 1/2)``:
  ``k = 0`` exact; ``k = 1`` -> ``h`` (ties toward +inf, e.g. -2.5 -> -2,
  2.5 -> 3); ``k >= 2`` -> ``h / 2**(k-1)`` rounded half away from zero, which
  can differ from single rounding (acc = 5, M = 1/4: 1.25 -> 2, not 1).
* ``SAME`` padding: ``out = ceil(in / stride)``, total padding
  ``max((out - 1) * stride + (k - 1) * dilation + 1 - in, 0)``, of which
  ``total // 2`` goes before (top/left) and the remainder after
  (bottom/right).
* ``weight_bits=4``: the weight tensor has type ``INT4`` and holds values in
  ``[-8, 7]`` packed two per byte, low nibble first (element ``2i`` in bits
  0..3 of byte ``i``, element ``2i + 1`` in bits 4..7; an odd count leaves the
  last high nibble 0), in row-major order of the logical shape.
* Fused activations on int8 outputs clamp to ``[-128, 127]`` (NONE),
  ``[out_zp, 127]`` (RELU) or ``[out_zp, out_zp + round(6 / out_scale)]``
  clipped to int8 (RELU6).
"""

from __future__ import annotations

import flatbuffers
import numpy as np
from ai_edge_litert import schema_py_generated as schema
from ai_edge_litert.interpreter import Interpreter, OpResolverType

__all__ = [
    "build_add",
    "build_conv2d",
    "build_depthwise_conv2d",
    "build_fully_connected",
    "build_resize_nearest_concat",
    "run_add",
    "run_conv2d",
    "run_depthwise_conv2d",
    "run_fully_connected",
    "run_model",
    "run_resize_nearest_concat",
]

_T = schema.TensorType
_OP = schema.BuiltinOperator
_OPT = schema.BuiltinOptions

_ACTIVATIONS = {
    "NONE": schema.ActivationFunctionType.NONE,
    "RELU": schema.ActivationFunctionType.RELU,
    "RELU6": schema.ActivationFunctionType.RELU6,
}
_PADDINGS = {"SAME": schema.Padding.SAME, "VALID": schema.Padding.VALID}
# Activation dtype name -> (TensorType, numpy dtype, bias TensorType, bias numpy dtype).
_ACT_DTYPES = {
    "int8": (_T.INT8, np.int8, _T.INT32, np.int32),
    "int16": (_T.INT16, np.int16, _T.INT64, np.int64),
}
_RANGES = {
    _T.INT4: (-8, 7),
    _T.INT8: (-128, 127),
    _T.INT16: (-32768, 32767),
    _T.INT32: (-(2**31), 2**31 - 1),
    _T.INT64: (-(2**63), 2**63 - 1),
}


# ---------------------------------------------------------------------------
# Private helpers
# ---------------------------------------------------------------------------


def _pack_int4(values: np.ndarray) -> np.ndarray:
    """Pack int4 values two per byte, low nibble first (element 2i -> bits 0..3)."""
    nib = (np.asarray(values, dtype=np.int64).ravel() & 0xF).astype(np.uint8)
    if nib.size % 2:
        nib = np.append(nib, np.uint8(0))
    return nib[0::2] | (nib[1::2] << 4)


def _tensor(name, shape, ttype, scale=None, zero_point=0, *, qdim=0, data=None):
    """Create ``(TensorT, BufferT)``.

    ``scale`` may be a scalar (per-tensor) or a 1-D sequence (per-channel along
    ``qdim``); ``zero_point`` is broadcast to the same length.  ``data`` (integer
    codes) makes the tensor a constant: it is range-checked against ``ttype``
    and stored little-endian (INT4 packed, see :func:`_pack_int4`).  The
    caller (:func:`_model`) assigns the buffer index.
    """
    tensor = schema.TensorT()
    tensor.name = name
    tensor.shape = [int(d) for d in shape]
    tensor.type = ttype
    if scale is not None:
        scales = np.atleast_1d(np.asarray(scale, dtype=np.float64))
        zps = np.broadcast_to(np.asarray(zero_point, dtype=np.int64), scales.shape)
        quant = schema.QuantizationParametersT()
        quant.scale = [float(s) for s in scales]
        quant.zeroPoint = [int(z) for z in zps]
        quant.quantizedDimension = int(qdim)
        tensor.quantization = quant
    buffer = schema.BufferT()
    if data is not None:
        data = np.asarray(data)
        if tuple(data.shape) != tuple(tensor.shape):
            raise ValueError(f"{name}: data shape {data.shape} != tensor shape {tuple(tensor.shape)}")
        lo, hi = _RANGES.get(ttype, (None, None))
        if lo is not None and data.size and (data.min() < lo or data.max() > hi):
            raise ValueError(f"{name}: codes outside [{lo}, {hi}]")
        if ttype == _T.INT4:
            raw = _pack_int4(data)
        else:
            np_dtype = {_T.INT8: "<i1", _T.INT16: "<i2", _T.INT32: "<i4", _T.INT64: "<i8", _T.FLOAT32: "<f4"}[ttype]
            raw = np.frombuffer(data.astype(np_dtype).tobytes(), dtype=np.uint8)
        buffer.data = raw
    return tensor, buffer


def _model(tensors, ops, inputs, outputs) -> bytes:
    """Assemble and serialise a one-subgraph model.

    ``tensors``: list of ``(TensorT, BufferT)`` from :func:`_tensor`; tensor ``i``
    gets buffer ``i + 1`` (buffer 0 is the mandatory empty sentinel).
    ``ops``: list of ``(builtin_op, options_type, options, in_idx, out_idx)``
    executed in order.  ``inputs``/``outputs``: graph input/output tensor indices.
    """
    buffers = [schema.BufferT()]
    for i, (tensor, buffer) in enumerate(tensors):
        tensor.buffer = i + 1
        buffers.append(buffer)

    opcodes, operators = [], []
    for builtin, opt_type, options, op_in, op_out in ops:
        if builtin not in [c.builtinCode for c in opcodes]:
            code = schema.OperatorCodeT()
            code.builtinCode = builtin
            code.deprecatedBuiltinCode = min(builtin, 127)  # 127 = placeholder for >126
            code.version = 1
            opcodes.append(code)
        op = schema.OperatorT()
        op.opcodeIndex = [c.builtinCode for c in opcodes].index(builtin)
        op.inputs, op.outputs = list(op_in), list(op_out)
        op.builtinOptionsType, op.builtinOptions = opt_type, options
        operators.append(op)

    subgraph = schema.SubGraphT()
    subgraph.tensors = [t for t, _ in tensors]
    subgraph.inputs, subgraph.outputs = list(inputs), list(outputs)
    subgraph.operators = operators
    subgraph.name = "main"

    model = schema.ModelT()
    model.version = 3
    model.description = "oracles.tflite_ref"
    model.operatorCodes = opcodes
    model.subgraphs = [subgraph]
    model.buffers = buffers

    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def _check_per_channel(w_scales, cout, what):
    scales = np.atleast_1d(np.asarray(w_scales, dtype=np.float64))
    if scales.shape != (cout,):
        raise ValueError(f"{what}: need {cout} weight scales, got shape {scales.shape}")
    return scales


def _choice(table, key, what):
    try:
        return table[key]
    except KeyError:
        raise ValueError(f"{what} must be one of {sorted(table)}, got {key!r}") from None


# ---------------------------------------------------------------------------
# Generic runner
# ---------------------------------------------------------------------------


def run_model(model_bytes: bytes, inputs: list[np.ndarray]) -> list[np.ndarray]:
    """Run ``model_bytes`` on the TFLite reference kernels (``BUILTIN_REF``).

    ``inputs`` are fed in graph-input order; each is range-checked and cast to
    the input tensor's dtype (input shapes are resized if they differ from the
    model's).  Returns copies of the graph outputs in their native dtype.
    """
    interp = Interpreter(
        model_content=bytes(model_bytes),
        experimental_op_resolver_type=OpResolverType.BUILTIN_REF,
    )
    details = interp.get_input_details()
    if len(details) != len(inputs):
        raise ValueError(f"model has {len(details)} inputs, got {len(inputs)}")
    arrays = []
    for det, value in zip(details, inputs):
        value = np.asarray(value)
        info = np.iinfo(det["dtype"]) if np.issubdtype(det["dtype"], np.integer) else None
        if info is not None and value.size and (value.min() < info.min or value.max() > info.max):
            raise ValueError(f"input {det['name']}: codes outside {det['dtype'].__name__} range")
        if tuple(value.shape) != tuple(det["shape"]):
            interp.resize_tensor_input(det["index"], list(value.shape), strict=False)
        arrays.append(value.astype(det["dtype"]))
    interp.allocate_tensors()
    for det, value in zip(details, arrays):
        interp.set_tensor(det["index"], value)
    interp.invoke()
    return [interp.get_tensor(det["index"]).copy() for det in interp.get_output_details()]


def _run(model_bytes, *inputs) -> np.ndarray:
    (out,) = run_model(model_bytes, list(inputs))
    return out.astype(np.int64)


# ---------------------------------------------------------------------------
# CONV_2D
# ---------------------------------------------------------------------------


def _conv_out_size(size, k, stride, dilation, padding):
    eff_k = (k - 1) * dilation + 1
    if padding == "SAME":
        return -(-size // stride)
    return (size - eff_k) // stride + 1


def build_conv2d(x_shape, x_scale, x_zp, w, w_scales, bias, out_scale, out_zp, *,
                 stride=(1, 1), dilation=(1, 1), padding="SAME", fused="NONE",
                 input_dtype="int8", weight_bits=8) -> bytes:
    """CONV_2D model: input ``x`` NHWC of shape ``x_shape`` (graph input 0),
    constant weights ``w`` OHWI ``[Cout, kh, kw, Cin]`` (per-channel symmetric,
    ``quantized_dimension=0``, INT8 or packed INT4 when ``weight_bits=4``),
    constant bias ``[Cout]`` (int32 for int8 activations, int64 for int16) with
    scales ``x_scale * w_scales``; output NHWC with ``out_scale``/``out_zp``.

    ``input_dtype="int16"`` gives the 16x8 kernel (TFLite requires
    ``x_zp == out_zp == 0`` there)."""
    act_t, _, bias_t, _ = _choice(_ACT_DTYPES, input_dtype, "input_dtype")
    w_t = {8: _T.INT8, 4: _T.INT4}.get(weight_bits)
    if w_t is None:
        raise ValueError(f"weight_bits must be 4 or 8, got {weight_bits}")
    w = np.asarray(w)
    n, h, wd, cin = x_shape
    cout, kh, kw, w_cin = w.shape
    if w_cin != cin:
        raise ValueError(f"weights Cin {w_cin} != input Cin {cin}")
    scales = _check_per_channel(w_scales, cout, "conv2d")
    oh = _conv_out_size(h, kh, stride[0], dilation[0], padding)
    ow = _conv_out_size(wd, kw, stride[1], dilation[1], padding)

    options = schema.Conv2DOptionsT()
    options.padding = _choice(_PADDINGS, padding, "padding")
    options.strideH, options.strideW = int(stride[0]), int(stride[1])
    options.dilationHFactor, options.dilationWFactor = int(dilation[0]), int(dilation[1])
    options.fusedActivationFunction = _choice(_ACTIVATIONS, fused, "fused")
    tensors = [
        _tensor("x", x_shape, act_t, x_scale, x_zp),
        _tensor("w", w.shape, w_t, scales, 0, qdim=0, data=w),
        _tensor("bias", [cout], bias_t, x_scale * scales, 0, data=np.asarray(bias)),
        _tensor("y", [n, oh, ow, cout], act_t, out_scale, out_zp),
    ]
    ops = [(_OP.CONV_2D, _OPT.Conv2DOptions, options, [0, 1, 2], [3])]
    return _model(tensors, ops, inputs=[0], outputs=[3])


def run_conv2d(x, x_scale, x_zp, w, w_scales, bias, out_scale, out_zp, *,
               stride=(1, 1), dilation=(1, 1), padding="SAME", fused="NONE",
               input_dtype="int8", weight_bits=8) -> np.ndarray:
    """Run :func:`build_conv2d` on ``x`` (codes ``[N, H, W, Cin]``); returns int64 ``[N, OH, OW, Cout]``."""
    x = np.asarray(x)
    model = build_conv2d(x.shape, x_scale, x_zp, w, w_scales, bias, out_scale, out_zp,
                         stride=stride, dilation=dilation, padding=padding, fused=fused,
                         input_dtype=input_dtype, weight_bits=weight_bits)
    return _run(model, x)


# ---------------------------------------------------------------------------
# DEPTHWISE_CONV_2D
# ---------------------------------------------------------------------------


def build_depthwise_conv2d(x_shape, x_scale, x_zp, w, w_scales, bias, out_scale, out_zp, *,
                           stride=(1, 1), dilation=(1, 1), padding="SAME", fused="NONE",
                           depth_multiplier=1, weight_bits=8) -> bytes:
    """DEPTHWISE_CONV_2D model: int8 input NHWC ``x_shape`` (graph input 0),
    constant weights ``[1, kh, kw, Cout]`` with ``Cout = Cin * depth_multiplier``
    (output channel ``c`` reads input channel ``c // depth_multiplier``),
    per-channel symmetric along ``quantized_dimension=3``, INT8 or packed INT4;
    int32 bias ``[Cout]``; int8 output ``[N, OH, OW, Cout]``."""
    w_t = {8: _T.INT8, 4: _T.INT4}.get(weight_bits)
    if w_t is None:
        raise ValueError(f"weight_bits must be 4 or 8, got {weight_bits}")
    w = np.asarray(w)
    n, h, wd, cin = x_shape
    one, kh, kw, cout = w.shape
    if one != 1 or cout != cin * depth_multiplier:
        raise ValueError(f"depthwise weights must be [1, kh, kw, Cin*dm], got {w.shape}")
    scales = _check_per_channel(w_scales, cout, "depthwise_conv2d")
    oh = _conv_out_size(h, kh, stride[0], dilation[0], padding)
    ow = _conv_out_size(wd, kw, stride[1], dilation[1], padding)

    options = schema.DepthwiseConv2DOptionsT()
    options.padding = _choice(_PADDINGS, padding, "padding")
    options.strideH, options.strideW = int(stride[0]), int(stride[1])
    options.dilationHFactor, options.dilationWFactor = int(dilation[0]), int(dilation[1])
    options.depthMultiplier = int(depth_multiplier)
    options.fusedActivationFunction = _choice(_ACTIVATIONS, fused, "fused")
    tensors = [
        _tensor("x", x_shape, _T.INT8, x_scale, x_zp),
        _tensor("w", w.shape, w_t, scales, 0, qdim=3, data=w),
        _tensor("bias", [cout], _T.INT32, x_scale * scales, 0, data=np.asarray(bias)),
        _tensor("y", [n, oh, ow, cout], _T.INT8, out_scale, out_zp),
    ]
    ops = [(_OP.DEPTHWISE_CONV_2D, _OPT.DepthwiseConv2DOptions, options, [0, 1, 2], [3])]
    return _model(tensors, ops, inputs=[0], outputs=[3])


def run_depthwise_conv2d(x, x_scale, x_zp, w, w_scales, bias, out_scale, out_zp, *,
                         stride=(1, 1), dilation=(1, 1), padding="SAME", fused="NONE",
                         depth_multiplier=1, weight_bits=8) -> np.ndarray:
    """Run :func:`build_depthwise_conv2d` on ``x``; returns int64 ``[N, OH, OW, Cout]``."""
    x = np.asarray(x)
    model = build_depthwise_conv2d(x.shape, x_scale, x_zp, w, w_scales, bias, out_scale, out_zp,
                                   stride=stride, dilation=dilation, padding=padding, fused=fused,
                                   depth_multiplier=depth_multiplier, weight_bits=weight_bits)
    return _run(model, x)


# ---------------------------------------------------------------------------
# FULLY_CONNECTED
# ---------------------------------------------------------------------------


def build_fully_connected(x_shape, x_scale, x_zp, w, w_scales, bias, out_scale, out_zp, *,
                          fused="NONE") -> bytes:
    """FULLY_CONNECTED model: int8 input ``[N, Cin]`` (graph input 0), constant
    int8 weights ``[Cout, Cin]`` (symmetric; per-tensor if ``w_scales`` has one
    element, else per-channel along dim 0 -- the 2.3.0 reference kernel
    supports both), int32 bias ``[Cout]`` with scale ``x_scale * w_scales``,
    int8 output ``[N, Cout]``.  Computes ``y[n, o] = sum_i w[o, i] * (x[n, i] - x_zp)
    + bias[o]``, requantised like conv."""
    w = np.asarray(w)
    n, cin = x_shape
    cout, w_cin = w.shape
    if w_cin != cin:
        raise ValueError(f"weights Cin {w_cin} != input Cin {cin}")
    scales = np.atleast_1d(np.asarray(w_scales, dtype=np.float64))
    if scales.shape not in [(1,), (cout,)]:
        raise ValueError(f"fully_connected: need 1 or {cout} weight scales, got {scales.shape}")

    options = schema.FullyConnectedOptionsT()
    options.fusedActivationFunction = _choice(_ACTIVATIONS, fused, "fused")
    tensors = [
        _tensor("x", x_shape, _T.INT8, x_scale, x_zp),
        _tensor("w", w.shape, _T.INT8, scales, 0, qdim=0, data=w),
        _tensor("bias", [cout], _T.INT32, x_scale * scales, 0, data=np.asarray(bias)),
        _tensor("y", [n, cout], _T.INT8, out_scale, out_zp),
    ]
    ops = [(_OP.FULLY_CONNECTED, _OPT.FullyConnectedOptions, options, [0, 1, 2], [3])]
    return _model(tensors, ops, inputs=[0], outputs=[3])


def run_fully_connected(x, x_scale, x_zp, w, w_scales, bias, out_scale, out_zp, *,
                        fused="NONE") -> np.ndarray:
    """Run :func:`build_fully_connected` on ``x`` (``[N, Cin]``); returns int64 ``[N, Cout]``."""
    x = np.asarray(x)
    model = build_fully_connected(x.shape, x_scale, x_zp, w, w_scales, bias, out_scale, out_zp,
                                  fused=fused)
    return _run(model, x)


# ---------------------------------------------------------------------------
# ADD
# ---------------------------------------------------------------------------


def build_add(a_shape, a_scale, a_zp, b_shape, b_scale, b_zp, out_scale, out_zp, *,
              fused="NONE") -> bytes:
    """ADD model: int8 inputs ``a`` (graph input 0) and ``b`` (graph input 1),
    numpy-broadcastable shapes; int8 output of the broadcast shape.  Computes
    TFLite's int8 add (both inputs rescaled to a common ``2 * max(scale)``
    grid with 20 extra bits, summed, requantised to ``out_scale``)."""
    out_shape = np.broadcast_shapes(tuple(a_shape), tuple(b_shape))
    options = schema.AddOptionsT()
    options.fusedActivationFunction = _choice(_ACTIVATIONS, fused, "fused")
    tensors = [
        _tensor("a", a_shape, _T.INT8, a_scale, a_zp),
        _tensor("b", b_shape, _T.INT8, b_scale, b_zp),
        _tensor("y", out_shape, _T.INT8, out_scale, out_zp),
    ]
    ops = [(_OP.ADD, _OPT.AddOptions, options, [0, 1], [2])]
    return _model(tensors, ops, inputs=[0, 1], outputs=[2])


def run_add(a, a_scale, a_zp, b, b_scale, b_zp, out_scale, out_zp, *, fused="NONE") -> np.ndarray:
    """Run :func:`build_add` on int8 codes ``a`` and ``b``; returns int64 codes."""
    a, b = np.asarray(a), np.asarray(b)
    model = build_add(a.shape, a_scale, a_zp, b.shape, b_scale, b_zp, out_scale, out_zp,
                      fused=fused)
    return _run(model, a, b)


# ---------------------------------------------------------------------------
# RESIZE_NEAREST_NEIGHBOR + CONCATENATION
# ---------------------------------------------------------------------------


def build_resize_nearest_concat(x_shape, x_scale, x_zp, y_shape, y_scale, y_zp, *, size) -> bytes:
    """Two-op model: ``r = RESIZE_NEAREST_NEIGHBOR(x, size)`` (align_corners=False,
    half_pixel_centers=False, so ``r[:, i, j] = x[:, floor(i * H / OH), floor(j * W / OW)]``)
    followed by ``CONCATENATION([r, y], axis=3)``.  ``x`` (graph input 0) is
    int8 ``[N, H, W, Cx]``; ``y`` (graph input 1) is int8 ``[N, OH, OW, Cy]``
    with ``(OH, OW) = size``.  The output ``[N, OH, OW, Cx + Cy]`` shares the
    inputs' scale/zero point: TFLite's int8 concatenation does not rescale, so
    identical ``(scale, zp)`` are required (``ValueError`` otherwise)."""
    if float(x_scale) != float(y_scale) or int(x_zp) != int(y_zp):
        raise ValueError(
            f"int8 CONCATENATION needs identical quantization, got "
            f"x=({x_scale}, {x_zp}) y=({y_scale}, {y_zp})")
    n, _, _, cx = x_shape
    yn, oh, ow, cy = y_shape
    if yn != n or (oh, ow) != tuple(size):
        raise ValueError(f"y shape {tuple(y_shape)} incompatible with N={n}, size={tuple(size)}")

    resize_opts = schema.ResizeNearestNeighborOptionsT()
    resize_opts.alignCorners, resize_opts.halfPixelCenters = False, False
    concat_opts = schema.ConcatenationOptionsT()
    concat_opts.axis = 3
    concat_opts.fusedActivationFunction = _ACTIVATIONS["NONE"]
    tensors = [
        _tensor("x", x_shape, _T.INT8, x_scale, x_zp),
        _tensor("y", y_shape, _T.INT8, y_scale, y_zp),
        _tensor("size", [2], _T.INT32, data=np.asarray(size, dtype=np.int64)),
        _tensor("x_resized", [n, oh, ow, cx], _T.INT8, x_scale, x_zp),
        _tensor("out", [n, oh, ow, cx + cy], _T.INT8, x_scale, x_zp),
    ]
    ops = [
        (_OP.RESIZE_NEAREST_NEIGHBOR, _OPT.ResizeNearestNeighborOptions, resize_opts, [0, 2], [3]),
        (_OP.CONCATENATION, _OPT.ConcatenationOptions, concat_opts, [3, 1], [4]),
    ]
    return _model(tensors, ops, inputs=[0, 1], outputs=[4])


def run_resize_nearest_concat(x, x_scale, x_zp, y, y_scale, y_zp, *, size) -> np.ndarray:
    """Run :func:`build_resize_nearest_concat`; returns int64 ``[N, OH, OW, Cx + Cy]``."""
    x, y = np.asarray(x), np.asarray(y)
    model = build_resize_nearest_concat(x.shape, x_scale, x_zp, y.shape, y_scale, y_zp, size=size)
    return _run(model, x, y)
