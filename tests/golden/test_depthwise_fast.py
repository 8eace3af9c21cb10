"""The depthwise fast path (sw.golden.depthwise) is bit-identical to exact integer arithmetic.

The reference here is independent of the fast path: int64 accumulation tap by
tap over explicitly padded inputs, then the int64 output stage
(:meth:`OutputStage.finish`, itself checked against TFLite elsewhere).
"""

from __future__ import annotations

import numpy as np
import pytest

import sw.golden.depthwise as depthwise
from sw.golden.conv import conv2d, conv2d_accumulate
from sw.golden.requant import OutputStage
from sw.golden.stepstage import StepStage
from sw.golden.window import resolve_padding


def reference_depthwise(x, w, zx, zw, stride, dilation, padding):
    """int64 depthwise accumulators by direct summation (OHWI weights ``[Cout, kh, kw, 1]``)."""
    n, h, wd, cin = x.shape
    cout, kh, kw, _ = w.shape
    mult = cout // cin
    (pt, pb), (pl, pr) = resolve_padding(padding, (h, wd), (kh, kw), stride, dilation)
    xp = np.full((n, h + pt + pb, wd + pl + pr, cin), zx, dtype=np.int64)
    xp[:, pt : pt + h, pl : pl + wd] = x
    ho = (h + pt + pb - (kh - 1) * dilation[0] - 1) // stride[0] + 1
    wo = (wd + pl + pr - (kw - 1) * dilation[1] - 1) // stride[1] + 1
    acc = np.zeros((n, ho, wo, cout), dtype=np.int64)
    wc = w[..., 0].astype(np.int64) - np.reshape(zw, (-1, 1, 1))
    for o in range(cout):
        c = o // mult
        for i in range(kh):
            for j in range(kw):
                r0, c0 = i * dilation[0], j * dilation[1]
                view = xp[:, r0 : r0 + (ho - 1) * stride[0] + 1 : stride[0], c0 : c0 + (wo - 1) * stride[1] + 1 : stride[1], c]
                acc[..., o] += (view - zx) * wc[o, i, j]
    return acc


def random_case(rng, bits_x, bits_w):
    n = int(rng.integers(1, 3))
    cin = int(rng.integers(1, 9))
    mult = int(rng.choice([1, 1, 2, 3]))
    kh, kw = (int(v) for v in rng.choice([1, 2, 3, 5], size=2))
    stride = tuple(int(v) for v in rng.integers(1, 3, size=2))
    dilation = tuple(int(v) for v in rng.integers(1, 3, size=2))
    h = int(rng.integers((kh - 1) * dilation[0] + 1, 20))
    wd = int(rng.integers((kw - 1) * dilation[1] + 1, 20))
    padding = rng.choice(["SAME", "VALID", "explicit"])
    if padding == "explicit":
        padding = tuple(tuple(int(v) for v in rng.integers(0, 3, size=2)) for _ in range(2))
    unsigned = bool(rng.integers(0, 2))
    lo, hi = (0, 2**bits_x - 1) if unsigned else (-(2 ** (bits_x - 1)), 2 ** (bits_x - 1) - 1)
    x = rng.integers(lo, hi + 1, size=(n, h, wd, cin))
    zx = int(rng.integers(lo, hi + 1))
    cout = cin * mult
    w = rng.integers(-(2 ** (bits_w - 1)), 2 ** (bits_w - 1), size=(cout, kh, kw, 1))
    zw = rng.integers(-2, 3, size=cout) if rng.integers(0, 2) else np.zeros(cout, dtype=np.int64)
    return x, w, zx, zw, stride, dilation, padding, cout


def random_stage(rng, cout, bits_out, shifts):
    shift = rng.integers(shifts[0], shifts[1] + 1, size=cout)
    multiplier = rng.integers(2**30, 2**31 - 1, size=cout)
    multiplier[rng.random(cout) < 0.1] = 0
    lo, hi = -(2 ** (bits_out - 1)), 2 ** (bits_out - 1) - 1
    zp = int(rng.integers(lo // 2, hi // 2 + 1))
    act_min = int(rng.choice([lo, zp]))
    return OutputStage(multiplier=multiplier, shift=shift, zero_point=zp, act_min=act_min, act_max=hi)


def stage_kind(stage, bias, bound, cout):
    """Which exact output stage the depthwise path picks for this stage and accumulator bound."""
    acc_dtype = np.dtype(np.int16 if bound <= depthwise.INT16_EXACT else np.float32)
    fast = depthwise._output_stage(stage, bias, bound, cout, 1, acc_dtype)
    if fast is None:
        return "int64"
    if isinstance(fast, StepStage):
        return "step" if fast.aux is None else "checked"
    return fast.mode


# Shift ranges and bias magnitudes selecting each evaluation of the output stage, and the
# stages expected among the random cases (output bits = activation bits): the certified
# float32 step stage (4-bit outputs), the per-element certified float32 stage (8-bit, large
# right shifts; with a huge bias every element is re-done exactly), the checked step stage
# (8-bit, small or left shifts) or, where a channel has shift -1, the literal float64 stage,
# and the exact int64 stage (accumulators near the int32 limit).
REGIMES = {
    "large_shifts": ((-20, -9), 5000, {4: {"step"}, 8: {"certified"}}),
    "small_shifts": ((-8, 0), 5000, {4: {"step"}, 8: {"checked", "float64"}}),
    "left_shifts": ((-3, 2), 5000, {4: {"step"}, 8: {"checked"}}),
    "huge_bias": ((-8, 0), 2**22, {4: {"step"}, 8: {"certified"}}),
    "int32_edge": ((-8, -1), 1, {4: {"int64"}, 8: {"int64"}}),
}


@pytest.mark.parametrize("regime", sorted(REGIMES))
@pytest.mark.parametrize("bits", [(4, 4), (8, 4), (8, 8), (4, 8)])
def test_depthwise_matches_exact_integer_arithmetic(bits, regime):
    bits_x, bits_w = bits
    shifts, bias_max, expected = REGIMES[regime]
    rng = np.random.default_rng(1000 + 10 * bits_x + bits_w + 7 * sorted(REGIMES).index(regime))
    kinds = set()
    for _ in range(25):
        x, w, zx, zw, stride, dilation, padding, cout = random_case(rng, bits_x, bits_w)
        kwargs = dict(input_zero_point=zx, weight_zero_point=zw, stride=stride, dilation=dilation,
                      padding=padding, groups=x.shape[-1])
        expected_acc = reference_depthwise(x, w, zx, zw, stride, dilation, padding)
        np.testing.assert_array_equal(conv2d_accumulate(x, w, **kwargs), expected_acc)
        stage = random_stage(rng, cout, bits_x, shifts)
        bias = rng.integers(-bias_max, bias_max + 1, size=cout).astype(np.int32)
        if regime == "int32_edge":
            # |acc + b| stays inside int32 but the proven bound B + |b| does not.
            edge = 2**31 - 1 - int(np.abs(expected_acc).max())
            bias = np.where(bias >= 0, edge, -edge).astype(np.int32)
        got = conv2d(x, w, bias, stage, **kwargs)
        np.testing.assert_array_equal(got, stage.finish(expected_acc, bias, "reference"))
        bound = int(np.abs(x.astype(np.int64) - zx).max()) * int(np.abs(w[..., 0] - np.reshape(zw, (-1, 1, 1))).max())
        kinds.add(stage_kind(stage, bias, bound * w.shape[1] * w.shape[2], cout))
    assert expected[bits_x] <= kinds


@pytest.mark.parametrize("kernel", [(5, 5), (7, 7), (3, 7)])
@pytest.mark.parametrize("bits", [(4, 4), (8, 8), (4, 8)])
def test_depthwise_extreme_codes_large_kernels(kernel, bits):
    """Largest |x - zx| and |w| everywhere (accumulators at the proven bound), every stride/dilation/padding."""
    bits_x, bits_w = bits
    rng = np.random.default_rng(kernel[0] * 10 + kernel[1] + bits_x)
    lo_x, hi_x = -(2 ** (bits_x - 1)), 2 ** (bits_x - 1) - 1
    lo_w, hi_w = -(2 ** (bits_w - 1)), 2 ** (bits_w - 1) - 1
    cases = [((1, 1), (1, 1), "SAME"), ((2, 2), (1, 1), "VALID"), ((1, 2), (2, 1), ((2, 1), (0, 3))),
             ((2, 1), (2, 2), "SAME")]
    kinds = set()
    for stride, dilation, padding in cases:
        for zx, xv, wv in ((hi_x, lo_x, hi_w), (lo_x, hi_x, lo_w)):
            x = np.full((1, 17, 19, 3), xv)
            x[0, 0] = rng.integers(lo_x, hi_x + 1, size=x[0, 0].shape)  # some variety (row 0 only)
            w = np.full((6, *kernel, 1), wv)  # channel multiplier 2
            w[1] = rng.integers(lo_w, hi_w + 1, size=w[1].shape)
            kwargs = dict(input_zero_point=zx, stride=stride, dilation=dilation, padding=padding, groups=3)
            expected_acc = reference_depthwise(x, w, zx, np.zeros(6, np.int64), stride, dilation, padding)
            assert np.abs(expected_acc).max() == kernel[0] * kernel[1] * abs(xv - zx) * abs(wv)
            np.testing.assert_array_equal(conv2d_accumulate(x, w, **kwargs), expected_acc)
            for shifts in ((-14, -6), (-6, 0)):
                stage = random_stage(rng, 6, bits_x, shifts)
                bias = rng.integers(-3000, 3001, size=6).astype(np.int32)
                got = conv2d(x, w, bias, stage, **kwargs)
                np.testing.assert_array_equal(got, stage.finish(expected_acc, bias, "reference"))
                kinds.add(stage_kind(stage, bias, kernel[0] * kernel[1] * abs(xv - zx) * abs(wv), 6))
    assert ("step" in kinds) == (bits_x == 4) and "int64" not in kinds


def test_depthwise_single_rounding_takes_the_exact_stage():
    rng = np.random.default_rng(5)
    x = rng.integers(-8, 8, size=(1, 9, 9, 4))
    w = rng.integers(-8, 8, size=(4, 3, 3, 1))
    stage = OutputStage(multiplier=np.full(4, 1518500250), shift=np.full(4, -5), zero_point=1, act_min=-8,
                        act_max=7, rounding="single")
    bias = rng.integers(-100, 100, size=4).astype(np.int32)
    kwargs = dict(input_zero_point=-1, padding="SAME", groups=4)
    expected = stage.finish(reference_depthwise(x, w, -1, np.zeros(4, np.int64), (1, 1), (1, 1), "SAME"), bias, "r")
    np.testing.assert_array_equal(conv2d(x, w, bias, stage, **kwargs), expected)
    assert stage_kind(stage, bias, 9 * 15 * 8, 4) == "int64"


def test_depthwise_large_layer_with_realistic_scales():
    """A MobileNet-sized layer with realistic multipliers: the certified float path decides almost all."""
    rng = np.random.default_rng(7)
    x = rng.integers(-128, 128, size=(1, 40, 40, 32))
    w = rng.integers(-127, 128, size=(32, 3, 3, 1))
    real = rng.uniform(2e-4, 4e-3, size=32)
    from sw.quant.multiplier import quantize_multiplier

    m, s = quantize_multiplier(real)
    stage = OutputStage(multiplier=m, shift=s, zero_point=-3, act_min=-128, act_max=127)
    bias = rng.integers(-20000, 20000, size=32).astype(np.int32)
    kwargs = dict(input_zero_point=5, stride=1, padding="SAME", groups=32)
    expected = stage.finish(reference_depthwise(x, w, 5, np.zeros(32, np.int64), (1, 1), (1, 1), "SAME"), bias, "ref")
    got = conv2d(x, w, bias, stage, **kwargs)
    np.testing.assert_array_equal(got, expected)
    assert len(np.unique(expected)) > 100


def test_depthwise_bias_out_of_int32_still_refused():
    x = np.zeros((1, 4, 4, 2), dtype=np.int64)
    w = np.ones((2, 3, 3, 1), dtype=np.int64)
    stage = OutputStage(multiplier=np.full(2, 2**30), shift=np.full(2, -8), zero_point=0, act_min=-128, act_max=127)
    with pytest.raises(ValueError, match="bias"):
        conv2d(x, w, np.array([2**31, 0]), stage, padding="SAME", groups=2)


@pytest.mark.parametrize("bits_out", [4, 8])
@pytest.mark.parametrize("regime", ["large_shifts", "small_shifts"])
def test_depthwise_many_blocks_and_threads(regime, bits_out, monkeypatch):
    """Small cache blocks: many blocks, both threads, near-ties in several blocks (offsets must be right)."""
    monkeypatch.setattr(depthwise, "BLOCK_ELEMENTS", 200)
    rng = np.random.default_rng(11 + bits_out)
    shifts, bias_max, _ = REGIMES[regime]
    kinds = set()
    for stride in ((1, 1), (2, 1), (1, 2)):
        x = rng.integers(-128, 128, size=(2, 23, 17, 6))
        w = rng.integers(-127, 128, size=(12, 3, 3, 1))  # channel multiplier 2
        stage = random_stage(rng, 12, bits_out, shifts)
        bias = rng.integers(-bias_max, bias_max + 1, size=12).astype(np.int32)
        kwargs = dict(input_zero_point=-4, stride=stride, padding="SAME", groups=6)
        expected_acc = reference_depthwise(x, w, -4, np.zeros(12, np.int64), stride, (1, 1), "SAME")
        np.testing.assert_array_equal(conv2d_accumulate(x, w, **kwargs), expected_acc)
        np.testing.assert_array_equal(conv2d(x, w, bias, stage, **kwargs), stage.finish(expected_acc, bias, "ref"))
        kinds.add(stage_kind(stage, bias, 9 * 132 * 128, 12))
    assert "int64" not in kinds
