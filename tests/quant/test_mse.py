"""MSE clipping ranges (sw.quant.mse) against a dense brute-force search written independently here."""

from __future__ import annotations

import numpy as np
import pytest

from sw.quant.mse import FRACTIONS, mse_range, mse_weight_params, quantization_mse
from sw.quant.ranges import params_from_range, weight_params


def _fake_quant_mse(x: np.ndarray, lb: float, ub: float, bits: int) -> float:
    """Signed asymmetric fake quantization from first principles (FQN eq. 4 + zero-point alignment)."""
    lb, ub = min(lb, 0.0), max(ub, 0.0)
    qmin, qmax = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    step = (ub - lb) / (qmax - qmin)
    t = qmin - lb / step
    z = int(np.clip(np.sign(t) * np.floor(abs(t) + 0.5), qmin, qmax))
    r = x / step
    q = np.clip(np.sign(r) * np.floor(np.abs(r) + 0.5) + z, qmin, qmax)
    return float(np.mean((step * (q - z) - x) ** 2))


def _dense_best(x: np.ndarray, bits: int, n: int = 120) -> float:
    """Least error over an n x n grid of (lb, ub) between 1/256 and 1 of the min / max (log spaced)."""
    fr = np.geomspace(1 / 256, 1.0, n)
    lo, hi = min(x.min(), 0.0), max(x.max(), 0.0)
    los = fr * lo if lo < 0 else [0.0]
    return min(_fake_quant_mse(x, a, b, bits) for a in los for b in fr * hi)


@pytest.mark.parametrize("bits", [3, 4, 8])
@pytest.mark.parametrize("kind", ["student_t", "post_relu", "skewed", "uniform"])
def test_activation_range_is_within_2_percent_of_a_dense_2d_search(kind, bits):
    rng = np.random.default_rng(bits)
    x = {"student_t": rng.standard_t(3, 3000),
         "post_relu": np.maximum(rng.standard_t(4, 3000), 0.0),
         "skewed": rng.lognormal(0.0, 1.0, 3000) - 0.5,
         "uniform": rng.uniform(-1.0, 3.0, 3000)}[kind]
    lb, ub = mse_range(x, bits)
    got = _fake_quant_mse(x, lb, ub, bits)
    assert got <= 1.02 * _dense_best(x, bits)
    assert got <= _fake_quant_mse(x, x.min(), x.max(), bits) * (1 + 1e-12)


def test_uniform_values_keep_their_whole_range():
    # Clipping a uniform distribution only adds error at 8 bits: the min/max range is optimal.
    x = np.linspace(-1.0, 1.0, 4001)
    assert mse_range(x, 8) == (-1.0, 1.0)


def test_one_far_outlier_is_clipped_at_4_bits():
    # 2000 values in [-1, 1] and one at 1e4: min/max puts every bulk value on code z (error ~1/3 each),
    # clipping near 1 leaves only the outlier's error ((1e4 - ~1)^2 / 2001 ~ 5e4)... which is larger; the
    # search must weigh both exactly as the brute force does.
    x = np.concatenate([np.linspace(-1.0, 1.0, 2000), [1e4]])
    lb, ub = mse_range(x, 4)
    assert _fake_quant_mse(x, lb, ub, 4) <= 1.02 * _dense_best(x, 4)


def test_quantization_mse_matches_the_first_principles_form():
    rng = np.random.default_rng(3)
    x = rng.normal(size=500)
    for lb, ub in [(-2.0, 2.0), (-0.3, 1.7), (0.5, 2.0)]:
        assert float(quantization_mse(x, params_from_range(lb, ub, 4, True))) == pytest.approx(
            _fake_quant_mse(x, lb, ub, 4), rel=1e-12)


def test_large_inputs_are_subsampled_deterministically():
    x = np.random.default_rng(0).standard_t(3, 500_000)
    assert mse_range(x, 4, seed=1) == mse_range(x.copy(), 4, seed=1)


@pytest.mark.parametrize("bits", [4, 8])
def test_weight_channels_each_take_their_least_error_fraction(bits):
    rng = np.random.default_rng(7)
    w = rng.standard_t(4, size=(12, 3, 3, 5)) * rng.uniform(0.1, 3.0, size=(12, 1, 1, 1))
    got = mse_weight_params(w, bits)
    flat = w.reshape(12, -1)
    minmax = weight_params(w, bits)
    per_channel = quantization_mse(w, got)
    assert np.all(per_channel <= quantization_mse(w, minmax) * (1 + 1e-12))
    for c in range(12):
        lo, hi = flat[c].min(), flat[c].max()
        best = min(_fake_quant_mse(flat[c], f * lo, f * hi, bits) for f in FRACTIONS)
        assert per_channel[c] == pytest.approx(best, rel=1e-12)


@pytest.mark.parametrize("bad", [np.array([]), np.array([1.0, np.nan])])
def test_bad_values_are_refused(bad):
    with pytest.raises(ValueError, match="MSE range"):
        mse_range(bad, 4)


def test_calibration_widens_only_the_channel_whose_bias_leaves_int32():
    """Channel 0 holds ~1e-30 weights and a bias of 1: at its min/max grid (scale ~1e-31) the int32 bias
    code would be ~1e31, so its range widens to twice the smallest that fits (code about INT32_MAX / 2);
    the other channels keep their grids (min/max or MSE-clipped) unchanged."""
    from sw.quant.ints import INT32_MAX
    from sw.quant.mse import mse_weight_params
    from sw.quant.ranges import params_from_range, weight_params
    from sw.runtime.integer import layer_weight_params

    rng = np.random.default_rng(3)
    w = rng.standard_t(3, size=(4, 3, 3, 32))
    w[0] = 1e-30 * np.sign(w[0])
    b = np.array([1.0, 0.1, -0.2, 0.3])
    inp = params_from_range(-2.0, 2.0, 8, True)
    assert not np.array_equal(mse_weight_params(w, 4).scale[1:], weight_params(w, 4).scale[1:])
    for ranges, plain in (("minmax", weight_params(w, 4)), ("mse", mse_weight_params(w, 4))):
        wp = layer_weight_params(w, b, inp, 4, ranges=ranges)
        code = b[0] / (float(inp.scale) * wp.scale[0])
        assert INT32_MAX / 4 < code <= INT32_MAX / 1.9
        np.testing.assert_array_equal(wp.scale[1:], plain.scale[1:])
        np.testing.assert_array_equal(wp.zero_point[1:], plain.zero_point[1:])
