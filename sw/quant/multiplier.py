"""Real multiplier -> (int32 Q0.31 multiplier, power-of-two shift), TFLite ``QuantizeMultiplier``.

A positive real ``M`` is written ``M = q * 2**shift`` with ``q`` in [0.5, 1)
(``frexp``); the multiplier is ``round(q * 2**31)`` with ties away from zero.
If rounding reaches ``2**31`` the multiplier is halved and ``shift`` incremented.
If ``shift < -31`` every product would be shifted out, so ``(0, 0)`` is
returned, as TFLite does. ``M == 0`` gives ``(0, 0)``.

The golden model and the RTL then compute ``x * M`` as
``multiply_by_quantized_multiplier(x, multiplier, shift)``.
"""

from __future__ import annotations

import numpy as np

from sw.quant.ints import SHIFT_MAX, SHIFT_MIN

__all__ = ["quantize_multiplier"]


def quantize_multiplier(real_multiplier: np.ndarray | float) -> tuple[np.ndarray, np.ndarray]:
    """Quantize real multipliers to (int32 multiplier, shift) pairs, elementwise.

    Parameters
    ----------
    real_multiplier
        Non-negative finite reals smaller than ``2**30`` (dimensionless scale ratios,
        e.g. ``s_in * s_w / s_out``).

    Returns
    -------
    multiplier, shift : numpy.ndarray
        int64 arrays of the input's shape; ``multiplier`` in {0} U [2**30, 2**31 - 1],
        ``shift`` in [-31, 30].

    Raises
    ------
    ValueError
        If a multiplier is negative, not finite, or too large for a shift of at most 30.
    """
    m = np.asarray(real_multiplier, dtype=np.float64)
    if not np.all(np.isfinite(m)):
        raise ValueError("real_multiplier: expected finite values, got NaN or infinity")
    if np.any(m < 0):
        raise ValueError(f"real_multiplier: expected values >= 0, got {m.min()}")
    q, shift = np.frexp(m)
    shift = shift.astype(np.int64)
    # q * 2**31 is exact in float64 (q has 53 significant bits); adding 0.5 is exact too,
    # so floor(v + 0.5) rounds ties away from zero for these non-negative values.
    q_fixed = np.floor(q * 2.0**31 + 0.5).astype(np.int64)
    carry = q_fixed == (1 << 31)
    q_fixed = np.where(carry, q_fixed // 2, q_fixed)
    shift = np.where(carry, shift + 1, shift)
    underflow = shift < SHIFT_MIN
    q_fixed = np.where(underflow | (m == 0), 0, q_fixed)
    shift = np.where(underflow | (m == 0), 0, shift)
    if np.any(shift > SHIFT_MAX):
        raise ValueError(
            f"real_multiplier: expected values below 2**{SHIFT_MAX}, got {m.max()}"
        )
    return q_fixed, shift
