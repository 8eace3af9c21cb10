"""Transposed convolution (TFLite ``TRANSPOSE_CONV``, ONNX ``ConvTranspose``), float and integer.

Weights are OHWI ``[Cout, kh, kw, Cin]`` (TFLite's filter layout; ONNX
``[Cin, Cout, kh, kw]`` is transposed at import). Input pixel ``(y, x)`` scatters
``in[y, x, ci] * w[co, ky, kx, ci]`` to output ``(y * sh + ky * dh - top,
x * sw + kx * dw - left)``; taps outside the output are dropped. The integer
kernel follows TFLite's reference ``integer_ops::TransposeConv``: int32 (here
int64-checked) accumulation of ``(q_in - z_in) * (q_w - z_w)``, then bias, then
the per-channel output stage.
"""

from __future__ import annotations

import numpy as np

from sw.golden.requant import OutputStage

__all__ = ["transpose_conv_float", "transpose_conv_int", "transpose_conv_accumulate"]


def transpose_conv_accumulate(x: np.ndarray, w: np.ndarray, out_hw: tuple[int, int], stride: tuple[int, int],
                              dilation: tuple[int, int], padding: tuple[tuple[int, int], tuple[int, int]],
                              dtype=np.float64) -> np.ndarray:
    """Scatter-accumulate NHWC ``x`` with OHWI ``w`` into ``[N, Ho, Wo, Cout]`` (no bias)."""
    x = np.asarray(x, dtype=dtype)
    w = np.asarray(w, dtype=dtype)
    n, h, wd, cin = x.shape
    cout, kh, kw, cw = w.shape
    if cw != cin:
        raise ValueError(f"transpose_conv: weights {w.shape} expect {cw} input channels, input has {cin}")
    ho, wo = out_hw
    (top, _), (left, _) = padding
    full_h = (h - 1) * stride[0] + dilation[0] * (kh - 1) + 1
    full_w = (wd - 1) * stride[1] + dilation[1] * (kw - 1) + 1
    buf = np.zeros((n, max(full_h, top + ho), max(full_w, left + wo), cout), dtype=dtype)
    for ky in range(kh):
        for kx in range(kw):
            contrib = x @ w[:, ky, kx, :].T  # [N, H, W, Cout]
            oy, ox = ky * dilation[0], kx * dilation[1]
            buf[:, oy:oy + (h - 1) * stride[0] + 1:stride[0], ox:ox + (wd - 1) * stride[1] + 1:stride[1]] += contrib
    return buf[:, top:top + ho, left:left + wo]


def transpose_conv_float(x, w, b, out_hw, stride=(1, 1), dilation=(1, 1), padding=((0, 0), (0, 0))) -> np.ndarray:
    """Real transposed convolution plus bias ``b`` (``[Cout]`` or None)."""
    out = transpose_conv_accumulate(x, w, out_hw, stride, dilation, padding)
    return out if b is None else out + np.asarray(b, dtype=np.float64)


def transpose_conv_int(x: np.ndarray, w: np.ndarray, bias: np.ndarray | None, stage: OutputStage, *,
                       input_zero_point: int, weight_zero_point: np.ndarray | int, out_hw: tuple[int, int],
                       stride=(1, 1), dilation=(1, 1), padding=((0, 0), (0, 0))) -> np.ndarray:
    """Integer transposed convolution of input codes ``x`` with weight codes ``w``: output codes (int64)."""
    xc = np.asarray(x, dtype=np.int64) - int(input_zero_point)
    wz = np.asarray(weight_zero_point, dtype=np.int64).reshape(-1, 1, 1, 1) if np.ndim(weight_zero_point) else \
        int(weight_zero_point)
    wc = np.asarray(w, dtype=np.int64) - wz
    acc = transpose_conv_accumulate(xc, wc, out_hw, stride, dilation, padding, dtype=np.int64)
    return stage.finish(acc, None if bias is None else np.asarray(bias, dtype=np.int64), "transpose_conv")
