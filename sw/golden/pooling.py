"""Integer max and average pooling (TFLite ``reference_integer_ops`` pooling, NHWC).

Both operate on codes with identical input and output quantization (as TFLite
requires). Padded taps are excluded: max pooling takes the maximum over the
in-bounds taps, average pooling divides the in-bounds sum by the in-bounds count
``n``, rounding half away from zero::

    avg = (sum + n // 2) // n  if sum > 0 else -((-sum + n // 2) // n)

(C++ ``(acc +- n/2) / n`` with truncating division). Accumulator bound:
``|sum| <= kh * kw * 255``, far inside int32. The result is clamped to
``[act_min, act_max]``.
"""

from __future__ import annotations

import numpy as np

from sw.golden.codes import centered
from sw.golden.window import Padding2D, extract_patches, pair, resolve_padding

__all__ = ["max_pool2d", "avg_pool2d"]


def _windows(name: str, x: np.ndarray, kernel, stride, padding) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(x)
    if x.ndim != 4:
        raise ValueError(f"{name}: input: expected NHWC (4-D), got shape {x.shape}")
    centered(f"{name}: input", x, 0)
    kernel, stride = pair("kernel", kernel), pair("stride", stride)
    pads = resolve_padding(padding, x.shape[1:3], kernel, stride, (1, 1))
    values = extract_patches(x.astype(np.int64), kernel, stride, (1, 1), pads, pad_value=0)
    valid = extract_patches(np.ones((1, *x.shape[1:3], 1), dtype=np.int64), kernel, stride, (1, 1), pads, pad_value=0)
    return values, valid.astype(bool)


def _clamp(values: np.ndarray, act_min: int | None, act_max: int | None) -> np.ndarray:
    lo = -np.inf if act_min is None else act_min
    hi = np.inf if act_max is None else act_max
    return np.clip(values, lo, hi).astype(np.int64)


def max_pool2d(
    x: np.ndarray,
    kernel: int | tuple[int, int],
    stride: int | tuple[int, int],
    padding: str | Padding2D = "VALID",
    act_min: int | None = None,
    act_max: int | None = None,
) -> np.ndarray:
    """Maximum over each window's in-bounds taps; returns codes (int64, NHWC)."""
    values, valid = _windows("max_pool2d", x, kernel, stride, padding)
    masked = np.where(valid, values, np.iinfo(np.int64).min)
    return _clamp(masked.max(axis=3), act_min, act_max)


def avg_pool2d(
    x: np.ndarray,
    kernel: int | tuple[int, int],
    stride: int | tuple[int, int],
    padding: str | Padding2D = "VALID",
    act_min: int | None = None,
    act_max: int | None = None,
) -> np.ndarray:
    """Rounded mean over each window's in-bounds taps; returns codes (int64, NHWC)."""
    values, valid = _windows("avg_pool2d", x, kernel, stride, padding)
    total = values.sum(axis=3)
    count = valid.sum(axis=3)
    half = count // 2
    mean = np.where(total > 0, (total + half) // count, -((-total + half) // count))
    return _clamp(mean, act_min, act_max)
