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

from sw.quant.ints import INT32_MAX, INT32_MIN, SHIFT_MAX, SHIFT_MIN

__all__ = [
    "INT32_MIN",
    "INT32_MAX",
    "Rounding",
    "as_int32_array",
    "saturating_rounding_doubling_high_mul",
    "rounding_divide_by_pot",
    "multiply_by_quantized_multiplier",
    "multiply_by_quantized_multiplier_single_round",
    "mbqm_unchecked",
    "requantize_unchecked",
    "requantize",
]


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
    arr = arr.astype(np.int64, copy=False)
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


def _srdhm(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """SRDHM of validated int64 operands in the int32 range (no checks).

    ``|a*b| <= 2**62`` so the int64 product never wraps; only ``INT32_MIN**2 = 2**62``
    rounds to ``2**31``, which is saturated to ``INT32_MAX`` (the pass is skipped when
    neither operand holds INT32_MIN, e.g. for the non-negative Q0.31 multipliers).
    """
    prod = np.asarray(a * b)
    prod += 1 << 30
    prod >>= 31
    if np.any(np.asarray(b) == INT32_MIN) and np.any(np.asarray(a) == INT32_MIN):
        np.minimum(prod, INT32_MAX, out=prod)
    return prod


def _rdbpot(x: np.ndarray, exponent: np.ndarray) -> np.ndarray:
    """RDBPOT of a validated int64 array (no checks); ties away from zero.

    Equivalent to gemmlowp's mask/threshold form: for ``e >= 1`` and ``h = 2**(e-1)``,
    ``(x + h - [x < 0]) >> e`` (an arithmetic shift is a floor division); ``e = 0`` is ``x``.
    """
    positive = exponent > 0
    half = np.where(positive, np.int64(1) << np.maximum(exponent - 1, 0), 0)
    out = np.asarray(x + half)
    if np.all(positive):
        out -= x < 0
    elif np.any(positive):
        out -= (x < 0) & positive
    out >>= exponent
    return out


def mbqm_unchecked(x: np.ndarray, multiplier: np.ndarray, shift: np.ndarray) -> np.ndarray:
    """Double-rounding MBQM of already validated int64 operands (hot path of the output stages).

    ``x`` must lie in the int32 range, ``multiplier`` in [0, INT32_MAX] and ``shift`` in
    [-31, 30]; only the left shift is checked (it must not leave int32).
    """
    left = np.maximum(shift, 0)
    if left.size and left.max() > 0:
        x = x << left
        if x.size and (x.min() < INT32_MIN or x.max() > INT32_MAX):
            raise ValueError(
                "multiply_by_quantized_multiplier: x * 2**shift leaves the int32 range "
                f"(left shift up to {left.max()})"
            )
    return _rdbpot(_srdhm(x, multiplier), np.maximum(-shift, 0))


def _shift_array(name: str, shift: np.ndarray | int, lo: int, hi: int) -> np.ndarray:
    s = np.asarray(shift)
    if s.dtype.kind not in "iu":
        raise ValueError(f"{name}: expected integers, got dtype {s.dtype}")
    s = s.astype(np.int64)
    _check_shift_range(name, s, lo, hi)
    return s


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
    return _srdhm(as_int32_array("a", a), as_int32_array("b", b))


def rounding_divide_by_pot(x: np.ndarray | int, exponent: np.ndarray | int) -> np.ndarray:
    """``x / 2**exponent`` rounded to nearest, ties away from zero (gemmlowp ``RoundingDivideByPOT``).

    Parameters
    ----------
    x
        int32-range integers.
    exponent
        Integers in [0, 31].
    """
    return _rdbpot(as_int32_array("x", x), _shift_array("exponent", exponent, 0, 31))


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
    return mbqm_unchecked(as_int32_array("x", x), as_int32_array("multiplier", multiplier), _shift_array("shift", shift, SHIFT_MIN, SHIFT_MAX))


def multiply_by_quantized_multiplier_single_round(
    x: np.ndarray | int, multiplier: np.ndarray | int, shift: np.ndarray | int
) -> np.ndarray:
    """``x * multiplier * 2**(shift - 31)`` with one rounding (``TFLITE_SINGLE_ROUNDING``).

    ``(x * multiplier + 2**(30 - shift)) >> (31 - shift)``, half rounded towards
    +infinity, for ``shift`` in [-31, 30]. The result is saturated to int32.
    """
    x64 = as_int32_array("x", x)
    m = as_int32_array("multiplier", multiplier)
    total_shift = 31 - _shift_array("shift", shift, SHIFT_MIN, SHIFT_MAX)
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
    if act_min > act_max:
        raise ValueError(f"act_min/act_max: expected act_min <= act_max, got {act_min} > {act_max}")
    if rounding == "double":
        # One validation of each operand, then the unchecked kernels.
        return requantize_unchecked(as_int32_array("acc", acc), as_int32_array("multiplier", multiplier),
                                    _shift_array("shift", shift, SHIFT_MIN, SHIFT_MAX), output_zero_point, act_min, act_max)
    if rounding == "single":
        scaled = np.asarray(multiply_by_quantized_multiplier_single_round(acc, multiplier, shift) + output_zero_point)
        return np.clip(scaled, act_min, act_max, out=scaled)
    raise ValueError(f"rounding: expected 'double' or 'single', got {rounding!r}")


def requantize_unchecked(
    acc: np.ndarray, multiplier: np.ndarray, shift: np.ndarray, output_zero_point: int, act_min: int, act_max: int
) -> np.ndarray:
    """:func:`requantize` with double rounding on already validated operands (see :func:`mbqm_unchecked`)."""
    scaled = mbqm_unchecked(acc, multiplier, shift)
    scaled += output_zero_point
    return np.clip(scaled, act_min, act_max, out=scaled)
