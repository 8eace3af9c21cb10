"""The step stage (sw.golden.stepstage) against the exact int64 output stage, on whole accumulator domains.

Every test enumerates every integer accumulator of ``[-B, B]`` for every channel and
compares with :meth:`OutputStage.finish` (int64 fixed-point arithmetic, itself
checked against TFLite elsewhere), so nothing relies on the certificate being right.
"""

from __future__ import annotations

import numpy as np
import pytest

from sw.golden.requant import OutputStage
from sw.golden.stepstage import StepStage, _certify, _params, thresholds


def random_stage(rng, cout, bits, shifts):
    lo, hi = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    multiplier = rng.integers(2**30, 2**31, size=cout)
    multiplier[rng.random(cout) < 0.15] = 0
    multiplier[rng.random(cout) < 0.15] = 2**30  # SRDHM's sign boundary at a = -1
    zp = int(rng.integers(lo, hi + 1))
    act_min = int(rng.choice([lo, zp, max(lo, zp - 3)]))
    return OutputStage(multiplier=multiplier, shift=rng.integers(shifts[0], shifts[1] + 1, size=cout),
                       zero_point=zp, act_min=act_min, act_max=hi)


def domain(bound, cout):
    return np.repeat(np.arange(-bound, bound + 1)[:, None], cout, axis=1)


def apply_flat(step, acc):
    out = np.empty(acc.size, dtype=np.int64)
    step.apply(acc.reshape(-1), out, np.empty(acc.size), np.empty(acc.size))
    return out.reshape(acc.shape)


CASES = [  # (output bits, shift range, accumulator bound, bias bound)
    (4, (-8, 0), 1000, 3000),
    (4, (-16, -6), 20000, 60000),
    (8, (-12, 0), 20000, 60000),
    (8, (-31, -20), 3000, 10**6),
    (8, (-2, 3), 3000, 10000),  # left shifts
    (2, (-6, -1), 500, 500),
]


@pytest.mark.parametrize("bits, shifts, bound, bias_max", CASES)
def test_thresholds_are_those_of_the_exact_stage(bits, shifts, bound, bias_max):
    rng = np.random.default_rng(bits * 100 + bound)
    for _ in range(6):
        cout = 5
        stage = random_stage(rng, cout, bits, shifts)
        bias = rng.integers(-bias_max, bias_max + 1, size=cout)
        acc = domain(bound, cout)
        exact = stage.finish(acc, bias, "ref")
        t = thresholds(stage, cout) - bias
        for k, v in enumerate(range(stage.act_min + 1, stage.act_max + 1)):
            np.testing.assert_array_equal(acc >= t[k], exact >= v)


@pytest.mark.parametrize("bits, shifts, bound, bias_max", CASES)
def test_built_step_stage_is_exact_on_the_whole_domain(bits, shifts, bound, bias_max):
    rng = np.random.default_rng(7 * bits + bound)
    built = 0
    for _ in range(6):
        cout = 6
        stage = random_stage(rng, cout, bits, shifts)
        bias = rng.integers(-bias_max, bias_max + 1, size=cout).astype(np.int32)
        acc = domain(bound, cout)
        exact = stage.finish(acc, bias, "ref")
        for acc_dtype in (np.int16, np.float32):
            if acc_dtype is np.int16 and bound > 32767:
                continue
            step = StepStage.build(stage, bias, bound, cout, acc.shape[0], np.dtype(acc_dtype))
            if step is not None:
                built += 1
                np.testing.assert_array_equal(apply_flat(step, acc.astype(acc_dtype)), exact)
    if bits <= 4:
        assert built  # few output levels: the certificate usually holds


def apply_checked(step, acc):
    """The checked stage with its exact fix-up of the flagged elements (as sw.golden.depthwise does)."""
    out = np.empty(acc.size, dtype=np.int64)
    bad = step.apply(acc.reshape(-1), out, np.empty(acc.size), np.empty(acc.size))
    if bad is not None:
        out[bad] = step.exact(acc.reshape(-1)[bad], bad % acc.shape[1])
    return out.reshape(acc.shape), 0 if bad is None else bad.size


@pytest.mark.parametrize("bits, shifts, bound, bias_max", CASES)
def test_checked_step_stage_is_exact_on_the_whole_domain(bits, shifts, bound, bias_max):
    rng = np.random.default_rng(11 * bits + bound)
    built = 0
    for _ in range(6):
        cout = 4
        stage = random_stage(rng, cout, bits, shifts)
        bias = rng.integers(-bias_max, bias_max + 1, size=cout).astype(np.int32)
        acc = domain(bound, cout)
        step = StepStage.checked(stage, bias, bound, cout, acc.shape[0])
        assert step is None or not step.signed or not np.any(stage.shift == -1)
        if step is not None:
            built += 1
            got, flagged = apply_checked(step, acc.astype(np.float32))
            np.testing.assert_array_equal(got, stage.finish(acc, bias, "ref"))
            # Few elements are left to the exact stage, except with multipliers 2**30 (test-made
            # exact ties at half the accumulators; real layers have no such multipliers).
            assert flagged <= acc.size * (2**-6 + 0.5 * np.mean(stage.multiplier == 2**30))
    if shifts[0] > -20:
        assert built


def test_checked_step_stage_refuses_shift_minus_one():
    stage = OutputStage(multiplier=np.full(2, 2**30 + 5), shift=np.array([-1, -3]), zero_point=0, act_min=-128,
                        act_max=127)
    assert StepStage.checked(stage, None, 1000, 2, 1) is None


def test_certificate_rejects_a_wrong_evaluation():
    """Shifting the offset by a fraction of a step breaks some threshold: the certificate must notice."""
    rng = np.random.default_rng(3)
    stage = random_stage(rng, 8, 4, (-6, -2))
    bias = np.zeros(8, np.int64)
    params = _params(stage, bias, 8, True)
    assert _certify(stage, bias, 2000, 8, np.dtype(np.int16), params, True)
    r, k1, eps, k2 = params
    wrong = (r, k1, eps, k2 + np.float32(0.3))
    assert not _certify(stage, bias, 2000, 8, np.dtype(np.int16), wrong, True)
    assert stage.act_min < stage.zero_point  # codes below z: the sign term matters
    assert not _certify(stage, bias, 2000, 8, np.dtype(np.int16), _params(stage, bias, 8, False), False)


def test_unsupported_stages_return_none():
    stage = OutputStage(multiplier=np.full(3, 2**30), shift=np.full(3, -4), zero_point=0, act_min=-8, act_max=7,
                        rounding="single")
    assert StepStage.build(stage, None, 100, 3, 1, np.dtype(np.int16)) is None
    wide = OutputStage(multiplier=np.full(3, 2**30), shift=np.full(3, -4), zero_point=0, act_min=-(2**20),
                       act_max=2**20)
    assert StepStage.build(wide, None, 100, 3, 1, np.dtype(np.int16)) is None
    near_int32 = OutputStage(multiplier=np.full(3, 2**30), shift=np.full(3, -4), zero_point=0, act_min=-8, act_max=7)
    bias = np.full(3, 2**31 - 10, dtype=np.int64)
    assert StepStage.build(near_int32, bias, 100, 3, 1, np.dtype(np.int16)) is None


@pytest.mark.parametrize("bits", [4, 8])
def test_relu_clamp_drops_the_sign_term_exactly(bits):
    """With act_min >= zero point (fused ReLU) the evaluation skips the sign term, shift -1 included."""
    rng = np.random.default_rng(bits)
    for _ in range(6):
        cout, bound = 5, 3000
        stage = random_stage(rng, cout, bits, (-7, 0))
        stage = OutputStage(multiplier=stage.multiplier, shift=np.where(rng.random(cout) < 0.4, -1, stage.shift),
                            zero_point=stage.zero_point, act_min=max(stage.act_min, stage.zero_point),
                            act_max=max(stage.act_max, stage.zero_point))
        bias = rng.integers(-3000, 3001, size=cout).astype(np.int32)
        acc = domain(bound, cout)
        exact = stage.finish(acc, bias, "ref")
        checked = StepStage.checked(stage, bias, bound, cout, acc.shape[0])
        assert checked is not None and not checked.signed
        np.testing.assert_array_equal(apply_checked(checked, acc.astype(np.float32))[0], exact)
        step = StepStage.build(stage, bias, bound, cout, acc.shape[0], np.dtype(np.int16))
        if step is not None:
            assert not step.signed
            np.testing.assert_array_equal(apply_flat(step, acc.astype(np.int16)), exact)
