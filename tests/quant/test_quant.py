"""Quantization parameters, FQN ranges, zero-point alignment, calibration, BN folding, bias."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sw.golden.floatref import conv2d_float
from sw.quant.calibration import EmaObserver, MinMaxObserver, PercentileObserver, make_observer
from sw.quant.folding import BatchNorm, fold_batch_norm, quantize_bias
from sw.quant.params import QuantParams, code_range
from sw.quant.ranges import params_from_range, weight_params

finite = st.floats(min_value=-1e4, max_value=1e4, allow_nan=False, allow_infinity=False)


@settings(max_examples=500, deadline=None)
@given(finite, finite, st.integers(2, 8), st.booleans())
def test_zero_is_exact_and_qdq_error_is_half_a_step(a, b, bits, signed):
    lb, ub = min(a, b), max(a, b)
    p = params_from_range(lb, ub, bits, signed)
    zp = int(p.zero_point)
    assert p.qmin <= zp <= p.qmax
    assert int(p.quantize(np.array(0.0))) == zp
    assert float(p.dequantize(np.array(zp))) == 0.0
    # The nudged range still has 2**k - 1 steps and contains 0.
    assert p.real_min <= 0.0 <= p.real_max
    xs = np.linspace(float(p.real_min), float(p.real_max), 97)
    err = np.abs(xs - p.dequantize(p.quantize(xs)))
    assert np.all(err <= float(p.scale) / 2 * (1 + 1e-9))


def test_range_to_params_hand_derived():
    # [-1, 2] with 4 unsigned bits: Delta = 3/15 = 0.2, z = round(0 + 1/0.2) = 5.
    p = params_from_range(-1.0, 2.0, 4, signed=False)
    assert float(p.scale) == pytest.approx(0.2)
    assert int(p.zero_point) == 5
    # Signed 4-bit codes: z = round(-8 + 5) = -3.
    q = params_from_range(-1.0, 2.0, 4, signed=True)
    assert int(q.zero_point) == -3
    # A range not containing 0 is widened to include it: [0.5, 3] -> [0, 3].
    r = params_from_range(0.5, 3.0, 8, signed=False)
    assert int(r.zero_point) == 0 and float(r.scale) == pytest.approx(3.0 / 255)
    # Alignment nudges: [-0.33, 1] unsigned 2-bit: Delta = 1.33/3, z = round(0.744...) = 1.
    s = params_from_range(-0.33, 1.0, 2, signed=False)
    assert int(s.zero_point) == 1
    assert float(s.real_min) == pytest.approx(-1.33 / 3)


def test_per_channel_weight_ranges_follow_fqn_eq_9_10():
    w = np.zeros((3, 1, 1, 2))
    w[0] = [[[-1.0, 0.5]]]
    w[1] = [[[-0.01, 0.02]]]
    w[2] = [[[0.0, 4.0]]]
    p = weight_params(w, 4)
    assert p.axis == 0 and p.channels == 3
    np.testing.assert_allclose(p.scale, [1.5 / 15, 0.03 / 15, 4.0 / 15])
    t = weight_params(w, 4, granularity="per_tensor")
    assert float(t.scale) == pytest.approx(5.0 / 15)
    # Per-channel quantization error per channel is bounded by that channel's half step.
    codes = p.quantize(w)
    err = np.abs(p.dequantize(codes) - w).reshape(3, -1).max(axis=1)
    assert np.all(err <= p.scale / 2 + 1e-12)
    sym = weight_params(w, 8, symmetric=True)
    assert sym.zero_point.tolist() == [0, 0, 0]
    np.testing.assert_allclose(sym.scale, [1.0 / 127, 0.02 / 127, 4.0 / 127])


def test_percentile_observer_matches_numpy_percentile():
    rng = np.random.default_rng(1)
    batches = [rng.standard_normal(5000) for _ in range(20)]
    obs = PercentileObserver(gamma=0.999)
    for b in batches:
        obs.observe(b)
    lo, hi = obs.range()
    allv = np.concatenate(batches)
    assert lo == pytest.approx(np.percentile(allv, 0.1))
    assert hi == pytest.approx(np.percentile(allv, 99.9))
    # Outliers move min-max but hardly the percentile range.
    mm = MinMaxObserver()
    for b in batches + [np.array([1000.0])]:
        mm.observe(b)
    assert mm.range()[1] == 1000.0


def test_percentile_hand_case():
    # 0..1000 evenly: the 0.1 % and 99.9 % quantiles with linear interpolation are 1 and 999.
    obs = make_observer("percentile", gamma=0.999)
    obs.observe(np.arange(1001.0))
    assert obs.range() == pytest.approx((1.0, 999.0))


def test_ema_observer_hand_computed():
    obs = EmaObserver(momentum=0.5)
    obs.observe(np.array([-1.0, 1.0]))
    obs.observe(np.array([-3.0, 5.0]))
    assert obs.range() == pytest.approx((-2.0, 3.0))


def test_batch_norm_folding_equals_conv_then_bn():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((1, 6, 6, 3))
    w = rng.standard_normal((4, 3, 3, 3))
    b = rng.standard_normal(4)
    bn = BatchNorm(gamma=rng.uniform(0.5, 2, 4), beta=rng.standard_normal(4), mean=rng.standard_normal(4), var=rng.uniform(0.1, 3, 4), eps=1e-3)
    y = conv2d_float(x, w, b, padding="SAME")
    expected = bn.gamma * (y - bn.mean) / np.sqrt(bn.var + bn.eps) + bn.beta
    wf, bf = fold_batch_norm(w, b, bn)
    np.testing.assert_allclose(conv2d_float(x, wf, bf, padding="SAME"), expected, rtol=1e-12, atol=1e-12)


def test_bias_quantization_scale():
    inp = QuantParams(8, True, 0.5, 0)
    wp = QuantParams(8, True, np.array([0.1, 0.2]), np.array([0, 0]), axis=0)
    # s = 0.05 and 0.1: 1.0 -> 20 codes; -0.25 -> -2.5 -> -3 (half away from zero).
    assert quantize_bias(np.array([1.0, -0.25]), inp, wp).tolist() == [20, -3]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(bits=9, signed=True, scale=1.0, zero_point=0), r"bits: expected a bit width in \[2, 8\], got 9"),
        (dict(bits=1, signed=True, scale=1.0, zero_point=0), r"bits: expected a bit width in \[2, 8\], got 1"),
        (dict(bits=4, signed=True, scale=0.0, zero_point=0), "scale: expected finite values > 0"),
        (dict(bits=4, signed=True, scale=float("nan"), zero_point=0), "scale: expected finite values > 0"),
        (dict(bits=4, signed=True, scale=-1.0, zero_point=0), "scale: expected finite values > 0"),
        (dict(bits=4, signed=True, scale=1.0, zero_point=8), r"zero_point: expected values in the 4-bit signed code range \[-8, 7\]"),
        (dict(bits=4, signed=False, scale=1.0, zero_point=-1), r"code range \[0, 15\]"),
        (dict(bits=4, signed=False, scale=np.ones(3), zero_point=np.zeros(3, int)), "needs an axis"),
    ],
)
def test_quant_params_validation(kwargs, message):
    with pytest.raises(ValueError, match=message):
        QuantParams(**kwargs)


def test_quant_params_are_immutable():
    p = QuantParams(4, False, np.array([0.1, 0.2]), np.array([1, 2]), axis=0)
    with pytest.raises(ValueError):
        p.scale[0] = 5.0
    with pytest.raises(AttributeError):
        p.bits = 8  # type: ignore[misc]
    assert code_range(3, True) == (-4, 3) and code_range(3, False) == (0, 7)


def test_quantize_rejects_non_finite_and_mismatched_channels():
    p = QuantParams(4, False, np.array([0.1, 0.2]), np.array([1, 2]), axis=0)
    with pytest.raises(ValueError, match="NaN or infinity"):
        p.quantize(np.array([[np.nan], [0.0]]))
    with pytest.raises(ValueError, match="2 per-channel parameters but axis 0"):
        p.quantize(np.zeros((3, 1)))


def test_subnormal_range_is_degenerate_not_nan():
    p = params_from_range(0.0, 5e-324, 2, signed=False)
    assert float(p.scale) == 1.0 and int(p.zero_point) == 0
