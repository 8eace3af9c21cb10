"""Float64 reference operators (NHWC), the "fake-quant" counterpart of the integer golden model.

Fed with dequantized inputs and weights, each returns real values; quantizing
them with the output parameters gives the ideal result that the integer op must
match within 1 LSB. Window geometry is shared with the integer ops
(:mod:`sw.golden.window`).
"""

from __future__ import annotations

import numpy as np

from sw.golden.window import Padding2D, extract_patches, group_columns, group_weights, pair, resolve_padding

__all__ = ["conv2d_float", "fully_connected_float", "avg_pool2d_float", "max_pool2d_float"]


def conv2d_float(
    x: np.ndarray,
    w: np.ndarray,
    b: np.ndarray | None,
    *,
    stride: int | tuple[int, int] = 1,
    dilation: int | tuple[int, int] = 1,
    padding: str | Padding2D = "VALID",
    groups: int = 1,
) -> np.ndarray:
    """Real convolution of NHWC ``x`` with OHWI ``w`` (``[Cout, kh, kw, Cin/groups]``), zero padding."""
    x = np.asarray(x, dtype=np.float64)
    w = np.asarray(w, dtype=np.float64)
    n, h, wd, cin = x.shape
    cout, kh, kw, cg = w.shape
    stride, dilation = pair("stride", stride), pair("dilation", dilation)
    pads = resolve_padding(padding, (h, wd), (kh, kw), stride, dilation)
    patches = extract_patches(x, (kh, kw), stride, dilation, pads, pad_value=0.0)
    _, ho, wo, taps, _ = patches.shape
    out = np.matmul(group_columns(patches, groups), group_weights(w, groups)).transpose(1, 0, 2).reshape(n, ho, wo, cout)
    return out if b is None else out + np.asarray(b, dtype=np.float64)


def fully_connected_float(x: np.ndarray, w: np.ndarray, b: np.ndarray | None) -> np.ndarray:
    """Real ``x @ w.T + b`` for ``x [N, Cin]``, ``w [Cout, Cin]``."""
    out = np.asarray(x, dtype=np.float64) @ np.asarray(w, dtype=np.float64).T
    return out if b is None else out + np.asarray(b, dtype=np.float64)


def _pool_windows(x, kernel, stride, padding):
    x = np.asarray(x, dtype=np.float64)
    kernel, stride = pair("kernel", kernel), pair("stride", stride)
    pads = resolve_padding(padding, x.shape[1:3], kernel, stride, (1, 1))
    values = extract_patches(x, kernel, stride, (1, 1), pads, pad_value=0.0)
    valid = extract_patches(np.ones((1, *x.shape[1:3], 1)), kernel, stride, (1, 1), pads, pad_value=0.0)
    return values, valid.astype(bool)


def avg_pool2d_float(x, kernel, stride, padding="VALID") -> np.ndarray:
    """Mean over each window's in-bounds taps."""
    values, valid = _pool_windows(x, kernel, stride, padding)
    return values.sum(axis=3) / valid.sum(axis=3)


def max_pool2d_float(x, kernel, stride, padding="VALID") -> np.ndarray:
    """Maximum over each window's in-bounds taps."""
    values, valid = _pool_windows(x, kernel, stride, padding)
    return np.where(valid, values, -np.inf).max(axis=3)
