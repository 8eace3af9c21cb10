"""The integer golden model against TFLite's reference kernels (ai-edge-litert, BUILTIN_REF): zero mismatches.

Scales are float32-representable, as TFLite stores them; the golden model derives
its multipliers from the same values in float64, so both sides see identical
integer parameters. Data are seeded random codes over the full int8 / int4 ranges.
"""

from __future__ import annotations

import zlib

import numpy as np
import pytest

from sw.golden.concat import concat
from sw.golden.conv import conv2d, depthwise_weights_to_ohwi
from sw.golden.elementwise import AddParams, add
from sw.golden.fully_connected import fully_connected
from sw.golden.requant import OutputStage
from sw.golden.resize import resize_nearest
from sw.quant.params import QuantParams
from oracles import tflite_ref

FUSED = {"NONE": "none", "RELU": "relu", "RELU6": "relu6"}


def seeded(*key) -> np.random.Generator:
    """A generator seeded from the test parameters (stable across processes, unlike hash())."""
    return np.random.default_rng(zlib.crc32(repr(key).encode()))


def f32(values) -> np.ndarray:
    return np.asarray(values, dtype=np.float32).astype(np.float64)


def layer_case(rng, cout, w_shape, w_bits, k_depth):
    """Random weights, per-channel scales, bias and activation parameters for one layer."""
    wmax = 7 if w_bits == 4 else 127
    w = rng.integers(-wmax - 1, wmax + 1, size=w_shape)
    x_scale = float(f32(rng.uniform(0.01, 0.05)))
    w_scales = f32(rng.uniform(0.002, 0.02, size=cout) * (8 / (wmax + 1)))
    bias = rng.integers(-5000, 5000, size=cout)
    # Output scale near the accumulator's spread so outputs cover the int8 range.
    out_scale = float(f32(x_scale * w_scales.mean() * np.sqrt(k_depth) * 60))
    return w, x_scale, w_scales, bias, out_scale


def golden_stage(x_scale, w_scales, out_scale, out_zp, fused):
    out = QuantParams(8, True, out_scale, out_zp)
    return OutputStage.for_layer(QuantParams(8, True, x_scale, 0), QuantParams(8, True, w_scales, np.zeros(w_scales.size, int), axis=0), out, FUSED[fused])


CONV_CASES = [
    # (kernel, stride, padding, fused, cin, cout, h, w)
    (1, 1, "VALID", "NONE", 16, 8, 7, 9),
    (1, 2, "SAME", "RELU", 16, 8, 8, 8),
    (3, 1, "SAME", "NONE", 8, 12, 9, 7),
    (3, 1, "VALID", "RELU", 8, 12, 9, 7),
    (3, 2, "SAME", "RELU6", 8, 16, 10, 11),
    (3, 2, "VALID", "NONE", 8, 16, 11, 10),
    (5, 2, "SAME", "RELU", 4, 6, 13, 12),
]


@pytest.mark.parametrize("w_bits", [8, 4])
@pytest.mark.parametrize("k, stride, padding, fused, cin, cout, h, w", CONV_CASES)
def test_conv2d_matches_tflite(w_bits, k, stride, padding, fused, cin, cout, h, w):
    rng = seeded(w_bits, k, stride, padding, fused)
    wts, x_scale, w_scales, bias, out_scale = layer_case(rng, cout, (cout, k, k, cin), w_bits, k * k * cin)
    x = rng.integers(-128, 128, size=(2, h, w, cin))
    x_zp, out_zp = int(rng.integers(-20, 20)), int(rng.integers(-10, 10))
    expected = tflite_ref.run_conv2d(
        x, x_scale, x_zp, wts, w_scales, bias, out_scale, out_zp,
        stride=(stride, stride), padding=padding, fused=fused, weight_bits=w_bits,
    )
    got = conv2d(
        x, wts, bias, golden_stage(x_scale, w_scales, out_scale, out_zp, fused),
        input_zero_point=x_zp, stride=stride, padding=padding,
    )
    assert got.shape == expected.shape
    assert np.count_nonzero(got != expected) == 0
    assert np.unique(expected).size > 15  # the comparison exercises many output codes


@pytest.mark.parametrize("w_bits", [8, 4])
@pytest.mark.parametrize(
    "k, stride, padding, fused, multiplier, dilation",
    [(3, 1, "SAME", "RELU6", 1, 1), (3, 2, "SAME", "NONE", 1, 1), (3, 1, "VALID", "RELU", 2, 1), (3, 1, "SAME", "NONE", 1, 2)],
)
def test_depthwise_matches_tflite(w_bits, k, stride, padding, fused, multiplier, dilation):
    rng = seeded(w_bits, k, stride, padding, multiplier, dilation)
    cin = 12
    cout = cin * multiplier
    wts, x_scale, w_scales, bias, out_scale = layer_case(rng, cout, (1, k, k, cout), w_bits, k * k)
    x = rng.integers(-128, 128, size=(1, 11, 10, cin))
    x_zp, out_zp = int(rng.integers(-20, 20)), int(rng.integers(-10, 10))
    expected = tflite_ref.run_depthwise_conv2d(
        x, x_scale, x_zp, wts, w_scales, bias, out_scale, out_zp,
        stride=(stride, stride), dilation=(dilation, dilation), padding=padding, fused=fused,
        depth_multiplier=multiplier, weight_bits=w_bits,
    )
    got = conv2d(
        x, depthwise_weights_to_ohwi(wts), bias, golden_stage(x_scale, w_scales, out_scale, out_zp, fused),
        input_zero_point=x_zp, stride=stride, dilation=dilation, padding=padding, groups=cin,
    )
    assert np.count_nonzero(got != expected) == 0


@pytest.mark.parametrize("stride, multiplier", [(1, 1), (2, 2)])
def test_depthwise_few_output_levels_matches_tflite(stride, multiplier):
    """RELU6 on a coarse output scale (12 output levels): mostly the float32 step stage of sw.golden.stepstage.

    Whether its certificate holds depends on the layer (float32 near-ties); the
    outputs must match TFLite either way, and most seeds must take the step stage.
    """
    import sw.golden.depthwise as depthwise
    from sw.golden.stepstage import StepStage

    cin, k = 16, 3
    cout = cin * multiplier
    step_stages = 0
    for seed in range(4):
        rng = seeded("few levels", stride, multiplier, seed)
        wts, x_scale, w_scales, bias, _ = layer_case(rng, cout, (1, k, k, cout), 4, k * k)
        w_scales = f32(w_scales * 10)
        out_scale, out_zp = 0.5, -2
        x = rng.integers(-128, 128, size=(1, 13, 12, cin))
        x_zp = int(rng.integers(-20, 20))
        expected = tflite_ref.run_depthwise_conv2d(
            x, x_scale, x_zp, wts, w_scales, bias, out_scale, out_zp,
            stride=(stride, stride), padding="SAME", fused="RELU6", depth_multiplier=multiplier, weight_bits=4,
        )
        stage = golden_stage(x_scale, w_scales, out_scale, out_zp, "RELU6")
        bound = k * k * int(np.abs(x - x_zp).max()) * int(np.abs(wts).max())
        fast = depthwise._output_stage(stage, bias, bound, cout, 1, np.dtype(np.float32))
        step_stages += isinstance(fast, StepStage)
        got = conv2d(x, depthwise_weights_to_ohwi(wts), bias, stage, input_zero_point=x_zp, stride=stride,
                     padding="SAME", groups=cin)
        assert np.count_nonzero(got != expected) == 0
        assert np.unique(expected).size > 8
    assert step_stages >= 2


@pytest.mark.parametrize("per_channel", [True, False])
@pytest.mark.parametrize("fused", ["NONE", "RELU"])
def test_fully_connected_matches_tflite(per_channel, fused):
    """LiteRT's reference FULLY_CONNECTED requantizes in float64 (see sw/golden/requant.py):
    the golden FC in ``rounding="float"`` mode matches it exactly."""
    rng = np.random.default_rng(7 + per_channel)
    cin, cout = 200, 24
    wts, x_scale, w_scales, bias, out_scale = layer_case(rng, cout, (cout, cin), 8, cin)
    if not per_channel:
        w_scales = w_scales[:1]
    x = rng.integers(-128, 128, size=(5, cin))
    x_zp, out_zp = 5, -3
    expected = tflite_ref.run_fully_connected(x, x_scale, x_zp, wts, w_scales, bias, out_scale, out_zp, fused=fused)
    scales = w_scales if per_channel else w_scales[:1].repeat(cout)
    stage = OutputStage.for_layer(
        QuantParams(8, True, x_scale, 0), QuantParams(8, True, scales, np.zeros(cout, int), axis=0),
        QuantParams(8, True, out_scale, out_zp), FUSED[fused], rounding="float",
    )
    got = fully_connected(x, wts, bias, stage, input_zero_point=x_zp)
    assert np.count_nonzero(got != expected) == 0


def near_tie_accumulators(rng, count=48):
    """float32 scales and accumulators whose ``acc * M`` lies within 1e-6 of a half integer."""
    while True:
        s_in, s_w, s_out = (float(v) for v in f32(rng.uniform(0.001, 1.0, 3)))
        real = s_in * s_w / s_out
        acc = np.arange(-12_000, 12_001)
        v = acc * real
        near = (np.abs(np.abs(v - np.floor(v)) - 0.5) < 1e-6) & (np.abs(v) < 120)
        if near.sum() >= 4:
            return s_in, s_w, s_out, acc[near][:count]


def test_fully_connected_near_ties_float_exact_double_within_one_lsb():
    """On accumulators set (through the bias) next to rounding ties, LiteRT's float FC and the golden
    float mode agree exactly; the integer double rounding (the RTL's) differs by at most 1 LSB."""
    rng = np.random.default_rng(123)
    mismatched_double = 0
    total = 0
    for _ in range(6):
        s_in, s_w, s_out, accs = near_tie_accumulators(rng)
        cout = accs.size
        x = np.zeros((1, 1), dtype=int)
        w = np.ones((cout, 1), dtype=int)
        expected = tflite_ref.run_fully_connected(x, s_in, 0, w, np.full(cout, s_w), accs, s_out, 0)
        params = (QuantParams(8, True, s_in, 0), QuantParams(8, True, np.full(cout, s_w), np.zeros(cout, int), axis=0), QuantParams(8, True, s_out, 0))
        floats = fully_connected(x, w, accs, OutputStage.for_layer(*params, rounding="float"))
        doubles = fully_connected(x, w, accs, OutputStage.for_layer(*params))
        assert np.count_nonzero(floats != expected) == 0
        assert np.abs(doubles - expected).max() <= 1
        mismatched_double += int(np.count_nonzero(doubles != expected))
        total += cout
    # The difference is real (ties round differently), which is why the float mode exists.
    assert 0 < mismatched_double < total


@pytest.mark.parametrize("fused", ["NONE", "RELU"])
@pytest.mark.parametrize("scales", [(0.05, 0.02, 0.06), (0.013, 0.031, 0.027), (0.1, 0.1, 0.1)])
def test_add_matches_tflite(fused, scales):
    rng = np.random.default_rng(11)
    sa, sb, so = (float(v) for v in f32(scales))
    a = rng.integers(-128, 128, size=(1, 9, 7, 16))
    b = rng.integers(-128, 128, size=(1, 9, 7, 16))
    za, zb, zo = 3, -7, 1
    expected = tflite_ref.run_add(a, sa, za, b, sb, zb, so, zo, fused=fused)
    params = AddParams.from_params(
        QuantParams(8, True, sa, za), QuantParams(8, True, sb, zb), QuantParams(8, True, so, zo), FUSED[fused]
    )
    got = add(a, b, params)
    assert np.count_nonzero(got != expected) == 0


@pytest.mark.parametrize("size", [(8, 10), (6, 7), (3, 3)])
def test_resize_nearest_and_concat_match_tflite(size):
    rng = np.random.default_rng(3)
    x = rng.integers(-128, 128, size=(1, 4, 5, 6))
    y = rng.integers(-128, 128, size=(1, *size, 3))
    scale, zp = float(f32(0.02)), 4
    expected = tflite_ref.run_resize_nearest_concat(x, scale, zp, y, scale, zp, size=size)
    p = QuantParams(8, True, scale, zp)
    got = concat([resize_nearest(x, size), y], [p, p], p)
    assert np.count_nonzero(got != expected) == 0
