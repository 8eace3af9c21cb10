"""Nearest-neighbour resize (TFLite ``RESIZE_NEAREST_NEIGHBOR``, align_corners=False, half_pixel_centers=False).

Output pixel ``y`` reads input row ``min(floor(y * (H_in / H_out)), H_in - 1)`` with
the ratio and product in float32, exactly as the TFLite reference kernel; for
integer up-sampling factors this is plain repetition. Codes pass through unchanged
(input and output share quantization parameters).
"""

from __future__ import annotations

import numpy as np

__all__ = ["resize_nearest", "upsample_nearest", "nearest_indices"]


def nearest_indices(in_size: int, out_size: int) -> np.ndarray:
    """Source index of each output position along one axis (TFLite float32 arithmetic)."""
    if in_size < 1 or out_size < 1:
        raise ValueError(f"resize: sizes must be positive, got input {in_size} and output {out_size}")
    scale = np.float32(in_size) / np.float32(out_size)
    idx = np.floor(np.arange(out_size, dtype=np.float32) * scale).astype(np.int64)
    return np.minimum(idx, in_size - 1)


def resize_nearest(x: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize NHWC codes ``x`` to ``size = (H_out, W_out)``."""
    x = np.asarray(x)
    if x.ndim != 4:
        raise ValueError(f"resize_nearest: input: expected NHWC (4-D), got shape {x.shape}")
    rows = nearest_indices(x.shape[1], int(size[0]))
    cols = nearest_indices(x.shape[2], int(size[1]))
    return x[:, rows][:, :, cols]


def upsample_nearest(x: np.ndarray, factor: int | tuple[int, int]) -> np.ndarray:
    """Nearest up-sampling by integer factors (each pixel repeated ``factor`` times per axis)."""
    fh, fw = (factor, factor) if isinstance(factor, (int, np.integer)) else factor
    if fh < 1 or fw < 1:
        raise ValueError(f"upsample_nearest: factor: expected positive integers, got {factor!r}")
    return np.repeat(np.repeat(np.asarray(x), fh, axis=1), fw, axis=2)
