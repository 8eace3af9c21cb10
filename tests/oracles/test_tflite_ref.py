"""Checks of the TFLite reference-kernel oracle against hand-derived values.

Every expected array below is worked out by hand in the comments (not by
calling the oracle), except the int4-vs-int8 cross-check, which compares two
different weight encodings of the same values.
"""

import numpy as np
import pytest

from oracles.tflite_ref import (
    _pack_int4,
    build_conv2d,
    run_add,
    run_conv2d,
    run_depthwise_conv2d,
    run_fully_connected,
    run_model,
    run_resize_nearest_concat,
)


def _pixels(values, c=1):
    """[1, 1, len(values)/c, c] row of pixels."""
    return np.asarray(values).reshape(1, 1, -1, c)


# --------------------------------------------------------------------------- conv


def test_conv_1x1_multiplier_one_with_zero_points_and_saturation():
    # M = x_scale * w_scale / out_scale = 0.5 * 2 / 1 = 1 -> exact.
    # x - x_zp = [-4, -3, 3, 4, 130 - 3 ...]; ch0 w=1, ch1 w=-1, bias [0, 1], out_zp -1.
    x = _pixels([-3, -2, 4, 5, 127, -128])            # x_zp = 1 -> [-4, -3, 3, 4, 126, -129]
    w = np.array([1, -1]).reshape(2, 1, 1, 1)
    y = run_conv2d(x, 0.5, 1, w, [2.0, 2.0], [0, 1], 1.0, -1, padding="VALID")
    # ch0: acc + 0 - 1 = [-5, -4, 2, 3, 125, -130 -> -128]
    # ch1: -acc + 1 - 1 = [4, 3, -3, -4, -126, 129 -> 127]
    np.testing.assert_array_equal(y[0, 0, :, 0], [-5, -4, 2, 3, 125, -128])
    np.testing.assert_array_equal(y[0, 0, :, 1], [4, 3, -3, -4, -126, 127])
    assert y.dtype == np.int64


def test_conv_multiplier_half_rounds_ties_toward_plus_infinity():
    # M = 0.5 is q = 2**30, shift 0: only SaturatingRoundingDoublingHighMul,
    # which rounds ties toward +inf: floor(acc / 2 + 1/2).
    acc = np.arange(-5, 6)
    y = run_conv2d(_pixels(acc), 1.0, 0, np.ones((1, 1, 1, 1), int), [0.5], [0], 1.0, 0)
    #        acc/2: -2.5 -2 -1.5 -1 -0.5 0 0.5 1 1.5 2 2.5
    np.testing.assert_array_equal(y.ravel(), [-2, -2, -1, -1, 0, 0, 1, 1, 2, 2, 3])


def test_conv_multiplier_quarter_double_rounding():
    # M = 0.25: q = 2**30, shift -1 -> h = floor(acc/2 + 1/2), then h / 2 with
    # ties away from zero.  acc=5: h=3 -> 1.5 -> 2 (single rounding would give 1).
    # acc=-5: h=-2 -> -1.  acc=-2: h=-1 -> -0.5 -> -1.  acc=2: h=1 -> 0.5 -> 1.
    # acc=-1: h=0 -> 0.  acc=3: h=2 -> 1.  acc=-3: h=-1 -> -1.
    acc = [5, -5, -2, 2, -1, 3, -3]
    y = run_conv2d(_pixels(acc), 1.0, 0, np.ones((1, 1, 1, 1), int), [0.25], [0], 1.0, 0)
    np.testing.assert_array_equal(y.ravel(), [2, -1, -1, 1, 0, 1, -1])


def test_conv_3x3_same_on_2x2_input():
    # x codes [[1, 2], [3, 4]], x_zp 1 -> x' = [[0, 1], [2, 3]]; SAME pads 1 on
    # every side, and padded taps contribute nothing (padding value = x_zp).
    x = np.array([[1, 2], [3, 4]]).reshape(1, 2, 2, 1)
    w0 = np.arange(1, 10).reshape(3, 3)               # [[1,2,3],[4,5,6],[7,8,9]]
    w1 = -np.ones((3, 3), int)
    w = np.stack([w0, w1]).reshape(2, 3, 3, 1)
    # ch0 (M = 1): out(i,j) = sum w0[di+1, dj+1] * x'[i+di, j+dj]
    #   (0,0): 5*0 + 6*1 + 8*2 + 9*3 = 49   (0,1): 4*0 + 5*1 + 7*2 + 8*3 = 43
    #   (1,0): 2*0 + 3*1 + 5*2 + 6*3 = 31   (1,1): 1*0 + 2*1 + 4*2 + 5*3 = 25
    #   + bias 10 + out_zp -100 -> [[-41, -47], [-59, -65]]
    # ch1 (M = 0.5): acc = -(0+1+2+3) = -6 everywhere, -6 * 0.5 = -3, -100 -> -103
    y = run_conv2d(x, 0.5, 1, w, [2.0, 1.0], [10, 0], 1.0, -100, padding="SAME")
    np.testing.assert_array_equal(y[0, :, :, 0], [[-41, -47], [-59, -65]])
    np.testing.assert_array_equal(y[0, :, :, 1], [[-103, -103], [-103, -103]])


def test_conv_same_stride2_pads_bottom_right():
    # 4x4 input, 3x3 kernel, stride 2, SAME: out 2x2, total pad = 2 + 3 - 4 = 1,
    # all of it after (bottom/right).  x' = 1 everywhere, so each output is the
    # sum of the kernel taps that land inside the image.
    x = np.full((1, 4, 4, 1), 3)                      # x_zp 2 -> x' = 1
    w = np.arange(1, 10).reshape(1, 3, 3, 1)
    y = run_conv2d(x, 1.0, 2, w, [1.0], [0], 1.0, 0, stride=(2, 2), padding="SAME")
    # (0,0): all 9 taps = 45; (0,1): cols 0,1 of kernel = 1+2+4+5+7+8 = 27;
    # (1,0): rows 0,1 = 1+...+6 = 21; (1,1): 1+2+4+5 = 12
    np.testing.assert_array_equal(y[0, :, :, 0], [[45, 27], [21, 12]])


def test_conv_dilation_valid_and_batch():
    # 5x5 input, 3x3 kernel of ones, dilation 2, VALID -> 1x1 reading rows/cols {0,2,4}.
    x0 = np.arange(25).reshape(5, 5)
    x = np.stack([x0, -x0]).reshape(2, 5, 5, 1)
    y = run_conv2d(x, 1.0, 0, np.ones((1, 3, 3, 1), int), [1.0], [0], 1.0, 0,
                   dilation=(2, 2), padding="VALID")
    # (0+2+4) + (10+12+14) + (20+22+24) = 108 ; batch 1 is the negation
    np.testing.assert_array_equal(y.reshape(2), [108, -108])


@pytest.mark.parametrize("fused, lo, hi", [("NONE", -128, 127), ("RELU", -10, 127),
                                           ("RELU6", -10, 2)])
def test_conv_fused_activation_clamps(fused, lo, hi):
    # M = 0.5 * 1 / 0.5 = 1, out_zp -10: pre-activation = acc - 10.
    # RELU6 upper bound: -10 + round(6 / 0.5) = 2.
    acc = np.array([-120, -20, -11, -10, -9, 0, 11, 12, 13, 120])
    y = run_conv2d(_pixels(acc), 0.5, 0, np.ones((1, 1, 1, 1), int), [1.0], [0], 0.5, -10,
                   fused=fused)
    np.testing.assert_array_equal(y.ravel(), np.clip(acc - 10, lo, hi))


def test_conv_int16_activations():
    # 16x8: x_zp = out_zp = 0, int64 bias; M = 1.
    x = _pixels([1000, -2000, 300], c=3)
    w = np.array([[1, 2, 3], [-1, 0, 1]]).reshape(2, 1, 1, 3)
    y = run_conv2d(x, 1.0, 0, w, [1.0, 1.0], [5, -7], 1.0, 0, input_dtype="int16")
    # ch0: 1000 - 4000 + 900 + 5 = -2095 ; ch1: -1000 + 300 - 7 = -707
    np.testing.assert_array_equal(y.ravel(), [-2095, -707])


# --------------------------------------------------------------------------- int4


def test_pack_int4_low_nibble_first():
    # [-8, 7, -1] -> nibbles [0x8, 0x7, 0xF] -> bytes [0x78, 0x0F] (odd count: high nibble 0)
    np.testing.assert_array_equal(_pack_int4([-8, 7, -1]), [0x78, 0x0F])


def test_conv_int4_weights_by_hand():
    # Cin = 3 (odd element count), w = [-8, 7, -1], x' = [1, 10, 100]
    # -> -8 + 70 - 100 = -38 (M = 1).  A swapped nibble order would read
    # [7, -8, 0] -> -73.
    x = _pixels([1, 10, 100], c=3)
    w = np.array([-8, 7, -1]).reshape(1, 1, 1, 3)
    y = run_conv2d(x, 1.0, 0, w, [1.0], [0], 1.0, 0, weight_bits=4)
    assert y.ravel().tolist() == [-38]


def test_conv_int4_matches_int8_with_same_values():
    rng = np.random.default_rng(0)
    x = rng.integers(-128, 128, size=(2, 5, 6, 3))
    w = rng.integers(-8, 8, size=(4, 3, 3, 3))
    w_scales = np.array([0.02, 0.01, 0.03, 0.015])
    bias = rng.integers(-500, 500, size=4)
    kwargs = dict(stride=(2, 1), padding="SAME", fused="RELU")
    y8 = run_conv2d(x, 0.05, -3, w, w_scales, bias, 0.1, 4, weight_bits=8, **kwargs)
    y4 = run_conv2d(x, 0.05, -3, w, w_scales, bias, 0.1, 4, weight_bits=4, **kwargs)
    np.testing.assert_array_equal(y4, y8)
    assert len(np.unique(y8)) > 10  # not a degenerate, fully clamped output


def test_int4_weights_out_of_range_rejected():
    with pytest.raises(ValueError):
        build_conv2d((1, 1, 1, 1), 1.0, 0, np.full((1, 1, 1, 1), 8), [1.0], [0], 1.0, 0,
                     weight_bits=4)


# --------------------------------------------------------------------------- depthwise


@pytest.mark.parametrize("weight_bits", [8, 4])
def test_depthwise_depth_multiplier_2(weight_bits):
    # x' ch0 = [[1, 2], [3, 4]], ch1 = [[10, 20], [30, 40]] (x_zp = 0), 2x2 VALID kernel.
    # Output channel c reads input channel c // 2.
    x = np.stack([[[1, 2], [3, 4]], [[10, 20], [30, 40]]], axis=-1).reshape(1, 2, 2, 2)
    w = np.zeros((1, 2, 2, 4), int)
    w[0, :, :, 0] = 1                                  # 1+2+3+4        = 10
    w[0, :, :, 1] = [[1, 0], [0, -1]]                  # 1 - 4          = -3
    w[0, :, :, 2] = 1                                  # 10+20+30+40    = 100
    w[0, :, :, 3] = [[0, 1], [0, 0]]                   # 20
    scales = [1.0, 1.0, 0.5, 0.25]                     # M = [1, 1, .5, .25]
    y = run_depthwise_conv2d(x, 1.0, 0, w, scales, [0, 0, 0, 0], 1.0, 0,
                             padding="VALID", depth_multiplier=2, weight_bits=weight_bits)
    # 100 * 0.5 = 50 ; 20 * 0.25 = 5
    np.testing.assert_array_equal(y.ravel(), [10, -3, 50, 5])


def test_depthwise_3x3_same_on_2x2():
    # Same geometry as the conv case: ch0 of x' = [[0, 1], [2, 3]] (x_zp = 1).
    x = np.array([[1, 2], [3, 4]]).reshape(1, 2, 2, 1)
    w = np.arange(1, 10).reshape(1, 3, 3, 1)
    y = run_depthwise_conv2d(x, 1.0, 1, w, [1.0], [10], 1.0, -100, padding="SAME")
    np.testing.assert_array_equal(y[0, :, :, 0], [[-41, -47], [-59, -65]])


# --------------------------------------------------------------------------- FC


def test_fully_connected_per_channel():
    # x codes [[1, 2], [3, 4]], x_zp 1 -> x' = [[0, 1], [2, 3]]
    # w = [[1, 2], [3, 4], [5, 6]]: acc row0 = [2, 4, 6], row1 = [8, 18, 28]
    # M = [1, 0.5, 0.25] -> row0 [2, 2, 1.5 -> 2], row1 [8, 9, 7]; + out_zp 5
    x = np.array([[1, 2], [3, 4]])
    w = np.array([[1, 2], [3, 4], [5, 6]])
    y = run_fully_connected(x, 1.0, 1, w, [1.0, 0.5, 0.25], [0, 0, 0], 1.0, 5)
    np.testing.assert_array_equal(y, [[7, 7, 7], [13, 14, 12]])


def test_fully_connected_per_tensor_with_bias_and_relu():
    # M = 1; acc + bias [-10, 0, 3] + out_zp 5, RELU clamps below at 5
    x = np.array([[1, 2], [3, 4]])
    w = np.array([[1, 2], [3, 4], [5, 6]])
    y = run_fully_connected(x, 1.0, 1, w, [1.0], [-10, 0, 3], 1.0, 5, fused="RELU")
    # row0: [2-10, 4, 6+3] + 5 = [-3 -> 5, 9, 14] ; row1: [8-10, 18, 31] + 5 = [3 -> 5, 23, 36]
    np.testing.assert_array_equal(y, [[5, 9, 14], [5, 23, 36]])


# --------------------------------------------------------------------------- ADD


def test_add_equal_scales_is_exact_integer_add():
    # All scales 0.5: out = (a - a_zp) + (b - b_zp) + out_zp = a - 1 + b + 2 + 3, clamped.
    a = np.array([0, 10, -50, 127, -128, 60]).reshape(1, 1, 6, 1)
    b = np.array([0, -7, -60, 127, -128, -70]).reshape(1, 1, 6, 1)
    y = run_add(a, 0.5, 1, b, 0.5, -2, 0.5, 3)
    # [4, 7, -106, 258 -> 127, -252 -> -128, -6]
    np.testing.assert_array_equal(y.ravel(), [4, 7, -106, 127, -128, -6])


def test_add_broadcast_channel_vector_with_relu():
    a = np.array([[1, 2], [3, 4], [-5, -6], [7, 8]]).reshape(1, 2, 2, 2)
    b = np.array([10, -10]).reshape(1, 1, 1, 2)
    y = run_add(a, 0.25, 0, b, 0.25, 0, 0.25, 0, fused="RELU")
    # ch0: a + 10 ; ch1: a - 10 ; RELU clamps at out_zp = 0
    expected = np.array([[11, 0], [13, 0], [5, 0], [17, 0]]).reshape(1, 2, 2, 2)
    np.testing.assert_array_equal(y, expected)


# --------------------------------------------------------------------------- resize + concat


def test_resize_nearest_2x2_to_4x4_then_concat():
    x = np.array([[1, 2], [3, 4]]).reshape(1, 2, 2, 1)
    y = np.arange(32).reshape(1, 4, 4, 2) - 16
    out = run_resize_nearest_concat(x, 0.1, -3, y, 0.1, -3, size=(4, 4))
    assert out.shape == (1, 4, 4, 3)
    np.testing.assert_array_equal(out[0, :, :, 0], [[1, 1, 2, 2],
                                                    [1, 1, 2, 2],
                                                    [3, 3, 4, 4],
                                                    [3, 3, 4, 4]])
    np.testing.assert_array_equal(out[..., 1:], y)


def test_resize_nearest_non_integer_ratio():
    # 2 -> 3: source index floor(i * 2 / 3) = [0, 0, 1]
    x = np.array([[1, 2], [3, 4]]).reshape(1, 2, 2, 1)
    y = np.zeros((1, 3, 3, 1), int)
    out = run_resize_nearest_concat(x, 1.0, 0, y, 1.0, 0, size=(3, 3))
    np.testing.assert_array_equal(out[0, :, :, 0], [[1, 1, 2], [1, 1, 2], [3, 3, 4]])


def test_concat_requires_identical_quantization():
    x = np.zeros((1, 2, 2, 1), int)
    y = np.zeros((1, 4, 4, 1), int)
    with pytest.raises(ValueError):
        run_resize_nearest_concat(x, 0.1, 0, y, 0.2, 0, size=(4, 4))
    with pytest.raises(ValueError):
        run_resize_nearest_concat(x, 0.1, 0, y, 0.1, 1, size=(4, 4))


# --------------------------------------------------------------------------- serialisation


def test_build_returns_tflite_bytes_runnable_by_run_model():
    model = build_conv2d((1, 1, 2, 1), 1.0, 0, np.full((1, 1, 1, 1), 3), [1.0], [1], 1.0, 0)
    assert isinstance(model, bytes) and model[4:8] == b"TFL3"
    (out,) = run_model(model, [np.array([2, -4]).reshape(1, 1, 2, 1)])
    assert out.dtype == np.int8
    np.testing.assert_array_equal(out.ravel(), [7, -11])  # 3 * x + 1
