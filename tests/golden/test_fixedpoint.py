"""Fixed-point primitives against exact rational arithmetic (fractions.Fraction) and TFLite's C++ formulas."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sw.golden.fixedpoint import (
    multiply_by_quantized_multiplier,
    multiply_by_quantized_multiplier_single_round,
    rounding_divide_by_pot,
    saturating_rounding_doubling_high_mul,
)
from sw.quant.multiplier import quantize_multiplier
from tests.edge_values import INT32_MAX, INT32_MIN, int32_edges

int32 = st.one_of(st.integers(INT32_MIN, INT32_MAX), st.sampled_from(int32_edges()))


def round_half_up(q: Fraction) -> int:
    """Nearest integer, ties towards +infinity."""
    return math.floor(q + Fraction(1, 2))


def round_half_away(q: Fraction) -> int:
    """Nearest integer, ties away from zero."""
    return math.floor(q + Fraction(1, 2)) if q >= 0 else -math.floor(-q + Fraction(1, 2))


def c_div(a: int, b: int) -> int:
    """C++ integer division (truncation towards zero)."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b > 0) else -q


def tflite_srdhm(a: int, b: int) -> int:
    """gemmlowp SaturatingRoundingDoublingHighMul, transcribed line by line."""
    if a == b == INT32_MIN:
        return INT32_MAX
    ab = a * b
    nudge = (1 << 30) if ab >= 0 else 1 - (1 << 30)
    return c_div(ab + nudge, 1 << 31)


def tflite_rdbpot(x: int, exponent: int) -> int:
    """gemmlowp RoundingDivideByPOT, transcribed line by line (two's complement masks)."""
    mask = (1 << exponent) - 1
    remainder = x & mask
    threshold = (mask >> 1) + (1 if x < 0 else 0)
    return (x >> exponent) + (1 if remainder > threshold else 0)


@settings(max_examples=2000, deadline=None)
@given(int32, int32)
def test_srdhm_is_rounded_rational_and_matches_tflite(a, b):
    got = int(saturating_rounding_doubling_high_mul(a, b))
    if a == b == INT32_MIN:
        assert got == INT32_MAX
    else:
        assert got == round_half_up(Fraction(a * b, 1 << 31))
    assert got == tflite_srdhm(a, b)


@settings(max_examples=2000, deadline=None)
@given(int32, st.integers(0, 31))
def test_rdbpot_rounds_half_away_from_zero(x, e):
    got = int(rounding_divide_by_pot(x, e))
    assert got == round_half_away(Fraction(x, 1 << e))
    assert got == tflite_rdbpot(x, e)


def test_rdbpot_exact_ties():
    x = np.array([1, 3, 5, -1, -3, -5, 2, -2])
    assert rounding_divide_by_pot(x, 1).tolist() == [1, 2, 3, -1, -2, -3, 1, -1]
    assert rounding_divide_by_pot(np.array([6, -6, 2, -2]), 2).tolist() == [2, -2, 1, -1]


def test_srdhm_ties_round_up():
    # a*b/2**31 = -2.5 and +2.5 exactly.
    assert int(saturating_rounding_doubling_high_mul(-5, 1 << 30)) == -2
    assert int(saturating_rounding_doubling_high_mul(5, 1 << 30)) == 3


@settings(max_examples=2000, deadline=None)
@given(int32, st.integers(1 << 30, INT32_MAX), st.integers(-31, 0))
def test_mbqm_double_rounding_composition(x, m, shift):
    got = int(multiply_by_quantized_multiplier(x, m, shift))
    inner = round_half_up(Fraction(x * m, 1 << 31)) if not (x == m == INT32_MIN) else INT32_MAX
    assert got == round_half_away(Fraction(inner, 1 << -shift))
    # Two roundings: within one unit of the exact product.
    assert abs(got - Fraction(x * m, 1 << (31 - shift))) <= 1


@settings(max_examples=1000, deadline=None)
@given(st.integers(-(2**20), 2**20), st.integers(1 << 30, INT32_MAX), st.integers(1, 10))
def test_mbqm_left_shift(x, m, shift):
    got = int(multiply_by_quantized_multiplier(x, m, shift))
    assert got == round_half_up(Fraction((x << shift) * m, 1 << 31))


@settings(max_examples=2000, deadline=None)
@given(int32, st.integers(0, INT32_MAX), st.integers(-31, 30))
def test_single_rounding_is_one_rounding(x, m, shift):
    got = int(multiply_by_quantized_multiplier_single_round(x, m, shift))
    exact = round_half_up(Fraction(x * m, 1 << (31 - shift)))
    assert got == max(INT32_MIN, min(INT32_MAX, exact))


def test_double_and_single_rounding_differ_on_a_known_case():
    # x*m/2**31 = 0.5 exactly -> SRDHM gives 1, then RDBPOT(1, 1) = 1 (0.5 away from zero);
    # single rounding of 0.25 gives 0.
    x, m, shift = 1, 1 << 30, -1
    assert int(multiply_by_quantized_multiplier(x, m, shift)) == 1
    assert int(multiply_by_quantized_multiplier_single_round(x, m, shift)) == 0


def test_mbqm_refuses_int32_overflow_of_left_shift():
    with pytest.raises(ValueError, match="leaves the int32 range"):
        multiply_by_quantized_multiplier(1 << 30, 1 << 30, 2)


@settings(max_examples=2000, deadline=None)
@given(st.floats(min_value=1e-12, max_value=2.0**29, allow_nan=False, allow_infinity=False))
def test_quantize_multiplier_relative_error(real):
    m, s = (int(v) for v in quantize_multiplier(real))
    if s == 0 and m == 0:
        assert real < 2.0**-32  # flushed: every product shifts out
        return
    assert (1 << 30) <= m <= INT32_MAX
    approx = Fraction(m) * Fraction(2) ** (s - 31)
    assert abs(approx - Fraction(real)) <= Fraction(real) * Fraction(1, 1 << 31)


def test_quantize_multiplier_known_values():
    m, s = quantize_multiplier(np.array([0.5, 1.0, 0.75, 0.0, 1e-12]))
    assert m.tolist() == [1 << 30, 1 << 30, 3 << 29, 0, 0]
    assert s.tolist() == [0, 1, 0, 0, 0]
    # Rounds up to 2**31: renormalised to 2**30 with shift + 1.
    just_below_one = 1.0 - 2.0**-40
    m, s = quantize_multiplier(just_below_one)
    assert (int(m), int(s)) == (1 << 30, 1)


@pytest.mark.parametrize("bad", [-0.5, float("nan"), float("inf"), 2.0**31])
def test_quantize_multiplier_rejects(bad):
    with pytest.raises(ValueError, match="real_multiplier"):
        quantize_multiplier(bad)


def test_primitives_reject_out_of_range():
    with pytest.raises(ValueError, match="int32 range"):
        saturating_rounding_doubling_high_mul(2**31, 1)
    with pytest.raises(ValueError, match=r"exponent: expected values in \[0, 31\]"):
        rounding_divide_by_pot(5, 32)
    with pytest.raises(ValueError, match="integer array"):
        rounding_divide_by_pot(np.array([1.5]), 1)
