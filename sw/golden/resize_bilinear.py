"""Bilinear resize (TFLite ``RESIZE_BILINEAR``, ONNX ``Resize`` linear), float and integer.

Source coordinate of output index ``i`` along an axis of input size ``n`` and
output size ``m``: ``i * n / m`` (``asymmetric``), ``i * (n - 1) / (m - 1)``
(``align_corners``) or ``(i + 0.5) * n / m - 0.5`` (``half_pixel``); the two
taps are ``max(floor(v), 0)`` and ``min(ceil(v), n - 1)`` with weights from the
fractional part, as TFLite's reference ``ResizeBilinear``.

The integer kernel is TFLite's reference ``ResizeBilinearInteger`` (int8 and
uint8; input and output share parameters): scales in Q10
``((n << 10) + m / 2) / m`` (align corners: ``(((n - 1) << 10) + (m - 1) / 2) / (m - 1)``),
``v = i * scale`` (half pixel: ``+ scale / 2 - 512``), taps
``max(v / 1024, 0)`` and ``min((v + 1023) / 1024, n - 1)`` (C division,
truncating), the four products in Q20 summed in int64, then
``(sum +- 2**19) / 2**20`` truncated.
"""

from __future__ import annotations

import numpy as np

__all__ = ["resize_bilinear_float", "resize_bilinear_int", "MODES"]

MODES = ("asymmetric", "align_corners", "half_pixel")


def _check(x: np.ndarray, mode: str) -> None:
    if x.ndim != 4:
        raise ValueError(f"resize_bilinear: input: expected NHWC (4-D), got shape {x.shape}")
    if mode not in MODES:
        raise ValueError(f"resize_bilinear: mode: expected one of {MODES}, got {mode!r}")


def _taps_float(n: int, m: int, mode: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    i = np.arange(m, dtype=np.float64)
    if mode == "align_corners":
        v = i * ((n - 1) / (m - 1)) if m > 1 else np.zeros(m)
    elif mode == "half_pixel":
        v = (i + 0.5) * (n / m) - 0.5
    else:
        v = i * (n / m)
    lo = np.maximum(np.floor(v), 0).astype(np.int64)
    hi = np.minimum(np.ceil(v), n - 1).astype(np.int64)
    return lo, hi, v - lo


def resize_bilinear_float(x: np.ndarray, size: tuple[int, int], mode: str = "asymmetric") -> np.ndarray:
    """Real bilinear resize of NHWC ``x`` to ``size = (H_out, W_out)``."""
    x = np.asarray(x, dtype=np.float64)
    _check(x, mode)
    y0, y1, fy = _taps_float(x.shape[1], int(size[0]), mode)
    x0, x1, fx = _taps_float(x.shape[2], int(size[1]), mode)
    fy, fx = fy[None, :, None, None], fx[None, None, :, None]
    top = x[:, y0][:, :, x0] * (1 - fx) + x[:, y0][:, :, x1] * fx
    bottom = x[:, y1][:, :, x0] * (1 - fx) + x[:, y1][:, :, x1] * fx
    return top * (1 - fy) + bottom * fy


def _cdiv(a: np.ndarray, b: int) -> np.ndarray:
    """C integer division (truncation toward zero)."""
    return np.sign(a) * (np.abs(a) // b)


def _taps_int(n: int, m: int, mode: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if mode == "align_corners" and m > 1:
        scale = (((n - 1) << 10) + (m - 1) // 2) // (m - 1)
    else:
        scale = ((n << 10) + m // 2) // m
    i = np.arange(m, dtype=np.int64)
    v = i * scale + (scale // 2 - (1 << 9) if mode == "half_pixel" else 0)
    lo = np.maximum(_cdiv(v, 1 << 10), 0)
    hi = np.minimum(_cdiv(v + (1 << 10) - 1, 1 << 10), n - 1)
    return lo, hi, v - (lo << 10)


def resize_bilinear_int(x: np.ndarray, size: tuple[int, int], mode: str = "asymmetric") -> np.ndarray:
    """Integer bilinear resize of NHWC codes ``x`` (output shares the input's parameters); int64 codes."""
    x = np.asarray(x, dtype=np.int64)
    _check(x, mode)
    y0, y1, dy = _taps_int(x.shape[1], int(size[0]), mode)
    x0, x1, dx = _taps_int(x.shape[2], int(size[1]), mode)
    one = 1 << 10
    dy, dx = dy[None, :, None, None], dx[None, None, :, None]
    acc = (x[:, y0][:, :, x0] * (one - dy) * (one - dx) + x[:, y1][:, :, x0] * dy * (one - dx)
           + x[:, y0][:, :, x1] * (one - dy) * dx + x[:, y1][:, :, x1] * dy * dx)
    rounded = acc + np.where(acc > 0, 1 << 19, -(1 << 19))
    return _cdiv(rounded, 1 << 20)
