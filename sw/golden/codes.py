"""Validation of integer code tensors entering the golden model.

Codes are at most 8 bits wide, signed or unsigned, so every code and zero point
lies in [-128, 255] and every zero-point-corrected value ``q - z`` in [-383, 383]
(in practice [-(2**k - 1), 2**k - 1] for k-bit codes with an in-range zero point).
"""

from __future__ import annotations

import numpy as np

__all__ = ["CODE_MIN", "CODE_MAX", "centered", "centered_bound"]

CODE_MIN = -128
CODE_MAX = 255


def _check_range(label: str, lo: int, hi: int) -> None:
    if lo < CODE_MIN or hi > CODE_MAX:
        raise ValueError(f"{label}: expected 8-bit codes in [{CODE_MIN}, {CODE_MAX}], got [{lo}, {hi}]")


def centered_bound(name: str, codes: np.ndarray, zero_point: int) -> int:
    """``max|codes - zero_point|`` for a per-tensor zero point, after the same checks as :func:`centered`.

    Computed from the codes' minimum and maximum, without materialising the difference.
    """
    arr = np.asarray(codes)
    if arr.dtype.kind not in "iu":
        raise ValueError(f"{name}: expected integer codes, got dtype {arr.dtype}")
    zp = np.asarray(zero_point)
    if zp.ndim or zp.dtype.kind not in "iu":
        raise ValueError(f"{name} zero point: expected an integer scalar, got {zero_point!r}")
    if not arr.size:
        return 0
    lo, hi, z = int(arr.min()), int(arr.max()), int(zp)
    _check_range(name, lo, hi)
    _check_range(f"{name} zero point", z, z)
    return max(abs(lo - z), abs(hi - z))


def centered(name: str, codes: np.ndarray, zero_point: np.ndarray | int, axis: int = -1) -> tuple[np.ndarray, int]:
    """``codes - zero_point`` as int64 and its largest magnitude.

    Parameters
    ----------
    name
        Argument name used in error messages.
    codes
        Integer codes in [-128, 255].
    zero_point
        Scalar, or per-channel 1-D array broadcast along ``axis``.

    Raises
    ------
    ValueError
        For non-integer dtypes, codes or zero points outside [-128, 255], or a
        per-channel zero point whose length does not match the axis.
    """
    arr = np.asarray(codes)
    if arr.dtype.kind not in "iu":
        raise ValueError(f"{name}: expected integer codes, got dtype {arr.dtype}")
    zp = np.asarray(zero_point)
    if zp.dtype.kind not in "iu":
        raise ValueError(f"{name} zero point: expected integers, got dtype {zp.dtype}")
    for label, values in ((name, arr), (f"{name} zero point", zp)):
        if values.size:
            _check_range(label, int(values.min()), int(values.max()))
    zp = zp.astype(np.int64)
    if zp.ndim == 1:
        if arr.shape[axis] != zp.size:
            raise ValueError(
                f"{name} zero point: {zp.size} per-channel values for axis {axis} of shape {arr.shape}"
            )
        shape = [1] * arr.ndim
        shape[axis] = zp.size
        zp = zp.reshape(shape)
    elif zp.ndim > 1:
        raise ValueError(f"{name} zero point: expected a scalar or 1-D array, got shape {zp.shape}")
    out = arr.astype(np.int64) - zp
    return out, int(np.abs(out).max()) if out.size else 0
