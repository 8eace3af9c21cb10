"""Fixed-point primitives of integer-only inference, vectorised over numpy arrays.

These are the gemmlowp / TFLite reference primitives (``fixedpoint.h`` and
``kernels/internal/common.h``), evaluated in int64 so that no intermediate can
wrap. Every function accepts scalars or broadcastable arrays and returns int64
arrays whose values lie in the int32 range.

Rounding rules
--------------
``saturating_rounding_doubling_high_mul``
    ``floor((a*b + 2**30) / 2**31)``, i.e. round half towards +infinity of
    ``a*b / 2**31``; the single overflow case ``a == b == INT32_MIN`` saturates
    to ``INT32_MAX``.
``rounding_divide_by_pot``
    ``x / 2**e`` rounded to nearest, ties away from zero.
``multiply_by_quantized_multiplier``
    TFLite's default build (*double rounding*): the two roundings above in
    sequence. This is the golden model's default and the arithmetic the RTL
    requantization unit implements.
``multiply_by_quantized_multiplier_single_round``
    ``TFLITE_SINGLE_ROUNDING``: one rounding, half towards +infinity, of
    ``x * m / 2**(31 - shift)``. An option, never the silent default.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

__all__ = [
    "INT32_MIN",
    "INT32_MAX",
    "Rounding",
    "as_int32_array",
    "saturating_rounding_doubling_high_mul",
    "rounding_divide_by_pot",
    "multiply_by_quantized_multiplier",
    "multiply_by_quantized_multiplier_single_round",
    "requantize",
]

INT32_MIN = -(2**31)
INT32_MAX = 2**31 - 1

Rounding = Literal["double", "single"]


def as_int32_array(name: str, value: np.ndarray | int) -> np.ndarray:
    """Return ``value`` as an int64 array after checking it lies in the int32 range.

    Raises
    ------
    ValueError
        If ``value`` is not integer-typed or a value lies outside [INT32_MIN, INT32_MAX].
    """
    arr = np.asarray(value)
    if arr.dtype.kind not in "iu":
        raise ValueError(f"{name}: expected an integer array, got dtype {arr.dtype}")
    arr = arr.astype(np.int64)
    if arr.size and (arr.min() < INT32_MIN or arr.max() > INT32_MAX):
        raise ValueError(
            f"{name}: values must lie in the int32 range [{INT32_MIN}, {INT32_MAX}], "
            f"got [{arr.min()}, {arr.max()}]"
        )
    return arr


def _check_shift_range(name: str, shift: np.ndarray, lo: int, hi: int) -> None:
    if shift.size and (shift.min() < lo or shift.max() > hi):
        raise ValueError(
            f"{name}: expected values in [{lo}, {hi}], got [{shift.min()}, {shift.max()}]"
        )


def saturating_rounding_doubling_high_mul(a: np.ndarray | int, b: np.ndarray | int) -> np.ndarray:
    """High 32 bits of ``2*a*b``, rounded: gemmlowp ``SaturatingRoundingDoublingHighMul``.

    Parameters
    ----------
    a, b
        int32-range integers (broadcastable).

    Returns
    -------
    numpy.ndarray
        int64 array equal to ``floor((a*b + 2**30) / 2**31)`` except where
        ``a == b == INT32_MIN``, which gives ``INT32_MAX``. ``|a*b| <= 2**62``, so
        the int64 product never wraps.
    """
    a64 = as_int32_array("a", a)
    b64 = as_int32_array("b", b)
    overflow = (a64 == INT32_MIN) & (b64 == INT32_MIN)
    # Substitute a harmless operand where the product would be 2**62 exactly
    # (2**62 + 2**30 still fits in int64, but keep the intent explicit).
    prod = np.where(overflow, 0, a64 * b64)
    result = (prod + (1 << 30)) >> 31
    return np.where(overflow, INT32_MAX, result)


def rounding_divide_by_pot(x: np.ndarray | int, exponent: np.ndarray | int) -> np.ndarray:
    """``x / 2**exponent`` rounded to nearest, ties away from zero (gemmlowp ``RoundingDivideByPOT``).

    Parameters
    ----------
    x
        int32-range integers.
    exponent
        Integers in [0, 31].
    """
    x64 = as_int32_array("x", x)
    e = np.asarray(exponent, dtype=np.int64)
    _check_shift_range("exponent", e, 0, 31)
    mask = (np.int64(1) << e) - 1
    remainder = x64 & mask
    threshold = (mask >> 1) + (x64 < 0)
    return (x64 >> e) + (remainder > threshold)


def multiply_by_quantized_multiplier(
    x: np.ndarray | int, multiplier: np.ndarray | int, shift: np.ndarray | int
) -> np.ndarray:
    """``x * multiplier * 2**(shift - 31)`` with TFLite's default double rounding.

    ``RDBPOT(SRDHM(x * 2**max(shift, 0), multiplier), max(-shift, 0))``.

    Parameters
    ----------
    x
        int32-range integers (an accumulator).
    multiplier
        Q0.31 multiplier, int32 range (``QuantizeMultiplier`` gives [2**30, 2**31) or 0).
    shift
        Exponent in [-31, 30]; positive is a left shift applied before the multiply.

    Raises
    ------
    ValueError
        If ``x * 2**shift`` would leave the int32 range (TFLite would wrap: we refuse).
    """
    x64 = as_int32_array("x", x)
    s = np.asarray(shift, dtype=np.int64)
    _check_shift_range("shift", s, -31, 30)
    left = np.maximum(s, 0)
    right = np.maximum(-s, 0)
    shifted = x64 << left
    if shifted.size and (shifted.min() < INT32_MIN or shifted.max() > INT32_MAX):
        raise ValueError(
            "multiply_by_quantized_multiplier: x * 2**shift leaves the int32 range "
            f"(x in [{x64.min()}, {x64.max()}], left shift up to {left.max()})"
        )
    return rounding_divide_by_pot(saturating_rounding_doubling_high_mul(shifted, multiplier), right)


def multiply_by_quantized_multiplier_single_round(
    x: np.ndarray | int, multiplier: np.ndarray | int, shift: np.ndarray | int
) -> np.ndarray:
    """``x * multiplier * 2**(shift - 31)`` with one rounding (``TFLITE_SINGLE_ROUNDING``).

    ``(x * multiplier + 2**(30 - shift)) >> (31 - shift)``, half rounded towards
    +infinity, for ``shift`` in [-31, 30]. The result is saturated to int32.
    """
    x64 = as_int32_array("x", x)
    m = as_int32_array("multiplier", multiplier)
    s = np.asarray(shift, dtype=np.int64)
    _check_shift_range("shift", s, -31, 30)
    total_shift = 31 - s
    # |x * m| < 2**62 and the round constant is < 2**62: the sum fits in int64.
    result = (x64 * m + (np.int64(1) << (total_shift - 1))) >> total_shift
    return np.clip(result, INT32_MIN, INT32_MAX)


def requantize(
    acc: np.ndarray,
    multiplier: np.ndarray | int,
    shift: np.ndarray | int,
    output_zero_point: int,
    act_min: int,
    act_max: int,
    rounding: Rounding = "double",
) -> np.ndarray:
    """Output stage of an integer layer: scale, add the output zero point, clamp.

    ``clamp(MBQM(acc, multiplier, shift) + output_zero_point, act_min, act_max)``
    where MBQM is :func:`multiply_by_quantized_multiplier` (``rounding="double"``,
    the default) or :func:`multiply_by_quantized_multiplier_single_round`.
    ``multiplier`` and ``shift`` broadcast against the last axis for per-channel use.
    """
    if rounding == "double":
        scaled = multiply_by_quantized_multiplier(acc, multiplier, shift)
    elif rounding == "single":
        scaled = multiply_by_quantized_multiplier_single_round(acc, multiplier, shift)
    else:
        raise ValueError(f"rounding: expected 'double' or 'single', got {rounding!r}")
    if act_min > act_max:
        raise ValueError(f"act_min/act_max: expected act_min <= act_max, got {act_min} > {act_max}")
    return np.clip(scaled + output_zero_point, act_min, act_max)
