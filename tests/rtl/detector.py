"""One layer of a real trained detector, quantized for the RTL tests.

The layer is ``Conv_44`` (48 x 24 x 3 x 3, stride 2) of ddddocr 1.6.1's
``common_det.onnx`` (a YOLOX-tiny-style detector, float32 weights shipped in the
wheel). Its input is computed in float numpy from a 64 x 64 crop of matplotlib's
``grace_hopper.jpg``: YOLOX Focus (space-to-depth), ``Conv_41`` + bias, SiLU.
Quantization (a small test helper, not the project quantizer): activations
asymmetric uint``bits`` (min/max), weights per output channel symmetric
(max-abs, ``[-(2**(bits-1) - 1), 2**(bits-1) - 1]``), bias int32 at scale
``s_x * s_w[c]``, outputs signed int``bits`` over the float output's min/max,
multipliers from :func:`sw.quant.multiplier.quantize_multiplier`.
Accumulators are exact integer numpy: ``(x - x_zp) @ w``.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass

import numpy as np

from sw.quant.multiplier import quantize_multiplier

__all__ = ["DetectorLayer", "detector_layer"]

_CROP = (slice(40, 104), slice(200, 264))  # rows, cols of the 512 x 600 photo: the face


@dataclass(frozen=True)
class DetectorLayer:
    """A quantized conv layer as a GEMM: ``acc[p, c] = sum_k (x[p, k] - x_zp) * w[k, c]``.

    Attributes
    ----------
    bits
        Operand width (4 or 8).
    x
        ``(pixels, K)`` uint``bits`` activation codes (im2col of the layer input, K = 216).
    x_zp
        Activation zero point.
    w
        ``(K, 48)`` int``bits`` weight codes.
    bias, multiplier, shift
        ``(48,)`` int32 bias, Q0.31 multiplier and shift per output channel.
    out_zp, act_min, act_max
        Output zero point and the int``bits`` code range.
    """

    bits: int
    x: np.ndarray
    x_zp: int
    w: np.ndarray
    bias: np.ndarray
    multiplier: np.ndarray
    shift: np.ndarray
    out_zp: int
    act_min: int
    act_max: int

    @property
    def acc(self) -> np.ndarray:
        """Exact int64 accumulators ``(pixels, 48)``, without bias."""
        return (self.x - self.x_zp) @ self.w


def _conv_float(x: np.ndarray, w: np.ndarray, b: np.ndarray, stride: int) -> np.ndarray:
    """Float conv, pad 1, 3x3, CHW; returns ``(Cout, H', W')``."""
    c, h, wd = x.shape
    padded = np.pad(x, ((0, 0), (1, 1), (1, 1)))
    oh, ow = (h - 1) // stride + 1, (wd - 1) // stride + 1
    cols = _im2col(padded, oh, ow, stride)
    return (cols @ w.reshape(w.shape[0], -1).T + b).T.reshape(-1, oh, ow)


def _im2col(padded: np.ndarray, oh: int, ow: int, stride: int) -> np.ndarray:
    """``(oh*ow, C*9)`` patches in ONNX weight order (channel, ky, kx)."""
    c = padded.shape[0]
    patches = np.empty((oh, ow, c, 3, 3), dtype=padded.dtype)
    for ky in range(3):
        for kx in range(3):
            patches[:, :, :, ky, kx] = padded[:, ky:ky + stride * oh:stride, kx:kx + stride * ow:stride].transpose(1, 2, 0)
    return patches.reshape(oh * ow, c * 9)


@functools.cache
def _float_layer() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(layer input CHW, Conv_44 weights, Conv_44 bias, float output (pixels, 48))."""
    import ddddocr
    import onnx
    from matplotlib import cbook
    from matplotlib.image import imread

    model = onnx.load(os.path.join(os.path.dirname(ddddocr.__file__), "common_det.onnx"))
    inits = {i.name: onnx.numpy_helper.to_array(i) for i in model.graph.initializer}
    convs = {node.name: node for node in model.graph.node if node.op_type == "Conv"}
    w41, b41 = (inits[name].astype(np.float64) for name in convs["Conv_41"].input[1:3])
    w44, b44 = (inits[name].astype(np.float64) for name in convs["Conv_44"].input[1:3])
    with cbook.get_sample_data("grace_hopper.jpg") as f:
        img = imread(f, format="jpg")[_CROP].astype(np.float64).transpose(2, 0, 1)  # CHW, 0..255
    focus = np.concatenate([img[:, ::2, ::2], img[:, 1::2, ::2], img[:, ::2, 1::2], img[:, 1::2, 1::2]])
    y41 = _conv_float(focus, w41, b41, 1)
    act = y41 / (1.0 + np.exp(-y41))  # SiLU
    out = _conv_float(act, w44, b44, 2)
    return act, w44, b44, out.reshape(out.shape[0], -1).T


@functools.cache
def detector_layer(bits: int) -> DetectorLayer:
    """The quantized layer for ``bits``-bit operands (cached; deterministic)."""
    act, w, b, out = _float_layer()
    qmax_u = 2**bits - 1
    lo, hi = float(act.min()), float(act.max())
    s_x = (hi - lo) / qmax_u
    x_zp = int(np.clip(np.round(-lo / s_x), 0, qmax_u))
    x_codes = np.clip(np.round(act / s_x) + x_zp, 0, qmax_u).astype(np.int64)
    oh, ow = (act.shape[1] - 1) // 2 + 1, (act.shape[2] - 1) // 2 + 1
    x = _im2col(np.pad(x_codes, ((0, 0), (1, 1), (1, 1)), constant_values=x_zp), oh, ow, 2)

    qmax_s = 2 ** (bits - 1) - 1
    w_flat = w.reshape(w.shape[0], -1)
    s_w = np.abs(w_flat).max(axis=1) / qmax_s
    w_codes = np.clip(np.round(w_flat / s_w[:, None]), -qmax_s, qmax_s).astype(np.int64).T
    bias = np.round(b / (s_x * s_w)).astype(np.int64)

    qmin_o, qmax_o = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    s_out = (out.max() - out.min()) / (qmax_o - qmin_o)
    out_zp = int(np.clip(np.round(qmin_o - out.min() / s_out), qmin_o, qmax_o))
    multiplier, shift = quantize_multiplier(s_x * s_w / s_out)
    return DetectorLayer(bits=bits, x=x, x_zp=x_zp, w=w_codes, bias=bias, multiplier=multiplier,
                         shift=shift, out_zp=out_zp, act_min=qmin_o, act_max=qmax_o)
