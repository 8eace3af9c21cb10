"""The depthwise fast path (sw.golden.depthwise) is bit-identical to exact integer arithmetic.

The reference here is independent of the fast path: int64 accumulation tap by
tap over explicitly padded inputs, then the int64 output stage
(:meth:`OutputStage.finish`, itself checked against TFLite elsewhere).
"""

from __future__ import annotations

import numpy as np
import pytest

from sw.golden.conv import conv2d, conv2d_accumulate
from sw.golden.depthwise import CertifiedStage
from sw.golden.requant import OutputStage
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


# Shift ranges and bias magnitudes selecting each evaluation of the output stage:
# certified float32 (large right shifts), literal float64 (small shifts, incl. 0),
# the exact int64 stage (a positive shift) and windows wider than 1/2 (every element exact).
REGIMES = {
    "certified": ((-20, -9), 5000),
    "float64": ((-8, 0), 5000),
    "int64_left_shift": ((-3, 2), 5000),
    "certified_all_doubtful": ((-8, 0), 2**22),  # too large for float64: every element re-done exactly
}


@pytest.mark.parametrize("regime", sorted(REGIMES))
@pytest.mark.parametrize("bits", [(4, 4), (8, 4), (8, 8)])
def test_depthwise_matches_exact_integer_arithmetic(bits, regime):
    bits_x, bits_w = bits
    shifts, bias_max = REGIMES[regime]
    rng = np.random.default_rng(1000 + 10 * bits_x + bits_w + 7 * sorted(REGIMES).index(regime))
    modes = set()
    for _ in range(25):
        x, w, zx, zw, stride, dilation, padding, cout = random_case(rng, bits_x, bits_w)
        kwargs = dict(input_zero_point=zx, weight_zero_point=zw, stride=stride, dilation=dilation,
                      padding=padding, groups=x.shape[-1])
        expected_acc = reference_depthwise(x, w, zx, zw, stride, dilation, padding)
        np.testing.assert_array_equal(conv2d_accumulate(x, w, **kwargs), expected_acc)
        stage = random_stage(rng, cout, bits_x, shifts)
        bias = rng.integers(-bias_max, bias_max + 1, size=cout).astype(np.int32)
        got = conv2d(x, w, bias, stage, **kwargs)
        np.testing.assert_array_equal(got, stage.finish(expected_acc, bias, "reference"))
        bound = int(np.abs(expected_acc).max()) + 1  # any valid bound selects the same mode here
        fast = CertifiedStage.build(stage, bias, bound, cout, 1)
        modes.add("int64" if fast is None else fast.mode)
    assert regime.split("_")[0] in modes


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


@pytest.mark.parametrize("regime", ["certified", "float64"])
def test_depthwise_many_blocks_and_threads(regime, monkeypatch):
    """Small cache blocks: many blocks, both threads, near-ties in several blocks (offsets must be right)."""
    import sw.golden.depthwise as depthwise

    monkeypatch.setattr(depthwise, "BLOCK_ELEMENTS", 200)
    rng = np.random.default_rng(11)
    shifts, bias_max = REGIMES[regime]
    for stride in ((1, 1), (2, 1), (1, 2)):
        x = rng.integers(-128, 128, size=(2, 23, 17, 6))
        w = rng.integers(-127, 128, size=(12, 3, 3, 1))  # channel multiplier 2
        stage = random_stage(rng, 12, 8, shifts)
        bias = rng.integers(-bias_max, bias_max + 1, size=12).astype(np.int32)
        kwargs = dict(input_zero_point=-4, stride=stride, padding="SAME", groups=6)
        expected_acc = reference_depthwise(x, w, -4, np.zeros(12, np.int64), stride, (1, 1), "SAME")
        np.testing.assert_array_equal(conv2d_accumulate(x, w, **kwargs), expected_acc)
        np.testing.assert_array_equal(conv2d(x, w, bias, stage, **kwargs), stage.finish(expected_acc, bias, "ref"))
