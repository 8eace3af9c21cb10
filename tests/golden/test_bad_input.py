"""Bad input to the golden model: ValueError naming the argument and the expected range, never a wrap."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from sw.golden.activation import ActivationTable, apply_table
from sw.golden.conv import conv2d, conv2d_accumulate
from sw.golden.exact import choose_dtype
from sw.golden.fully_connected import fully_connected
from sw.golden.requant import OutputStage
from sw.golden.resize import resize_nearest
from sw.quant.params import QuantParams

STAGE = OutputStage(np.array(1 << 30), np.array(0), 0, -128, 127)


def test_conv_shape_and_code_errors():
    x = np.zeros((1, 5, 5, 4), dtype=np.int8)
    with pytest.raises(ValueError, match=r"expected 2 input channels per group \(Cin 4 / groups 2\)"):
        conv2d_accumulate(x, np.zeros((4, 3, 3, 4), np.int8), groups=2)
    with pytest.raises(ValueError, match="groups: 3 must divide Cin 4"):
        conv2d_accumulate(x, np.zeros((3, 3, 3, 1), np.int8), groups=3)
    with pytest.raises(ValueError, match=r"input: expected NHWC \(4-D\)"):
        conv2d_accumulate(x[0], np.zeros((4, 3, 3, 4), np.int8))
    with pytest.raises(ValueError, match=r"input: expected 8-bit codes in \[-128, 255\], got \[300, 300\]"):
        conv2d_accumulate(np.full((1, 3, 3, 4), 300), np.zeros((1, 1, 1, 4), np.int8))
    with pytest.raises(ValueError, match="input: expected integer codes, got dtype float64"):
        conv2d_accumulate(x.astype(float), np.zeros((4, 3, 3, 4), np.int8))
    with pytest.raises(ValueError, match="smaller than the 7x7 kernel"):
        conv2d_accumulate(x, np.zeros((4, 7, 7, 4), np.int8))
    with pytest.raises(ValueError, match="padding: expected 'SAME', 'VALID'"):
        conv2d_accumulate(x, np.zeros((4, 3, 3, 4), np.int8), padding="FULL")
    with pytest.raises(ValueError, match="stride: expected a positive int"):
        conv2d_accumulate(x, np.zeros((4, 3, 3, 4), np.int8), stride=0)
    with pytest.raises(ValueError, match="weights zero point: 3 per-channel values"):
        conv2d_accumulate(x, np.zeros((4, 3, 3, 4), np.int8), weight_zero_point=np.zeros(3, int))
    with pytest.raises(ValueError, match=r"bias: expected shape \(4,\)"):
        conv2d(x, np.zeros((4, 3, 3, 4), np.int8), np.zeros(5, int), STAGE)


def test_accumulator_beyond_int32_is_refused_not_wrapped():
    # 40,000 taps of 255 * 255: 2.6e9 > INT32_MAX. TFLite would wrap; we refuse.
    x = np.full((1, 40_000), 255)
    w = np.full((1, 40_000), 255)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ValueError, match="int32 accumulator bound cannot be met"):
            fully_connected(x, w, None, STAGE)


def test_exact_path_selection_bounds():
    assert choose_dtype(74_565, 15, 15) == "float32"  # 74,565 * 225 = 16,777,125 <= 2**24
    assert choose_dtype(74_566, 15, 15) == "float32_chunked"  # chunks of 74,565 products
    assert choose_dtype(2304, 255, 128) == "float32_chunked"  # chunks of 514 products
    assert choose_dtype(2304, 383, 383) == "float64"  # chunks would hold only 114 products
    assert choose_dtype(2**30, 2**12, 2**12) == "int64"
    with pytest.raises(ValueError, match="exceeds int64"):
        choose_dtype(2**50, 2**8, 2**8)


def test_output_stage_validation():
    with pytest.raises(ValueError, match=r"shift: expected values in \[-31, 30\]"):
        OutputStage(np.array(1 << 30), np.array(31), 0, -128, 127)
    with pytest.raises(ValueError, match="act_min <= act_max"):
        OutputStage(np.array(1 << 30), np.array(0), 0, 5, 4)
    with pytest.raises(ValueError, match="rounding: expected 'double', 'single' or 'float'"):
        OutputStage(np.array(1 << 30), np.array(0), 0, -128, 127, rounding="stochastic")
    with pytest.raises(ValueError, match="'float' needs the real_multiplier"):
        OutputStage(np.array(1 << 30), np.array(0), 0, -128, 127, rounding="float")
    stage = OutputStage(np.full(3, 1 << 30), np.zeros(3, int), 0, -128, 127)
    with pytest.raises(ValueError, match="3 per-channel multipliers for 4 accumulator channels"):
        stage.apply(np.zeros((2, 4), np.int64))


def test_activation_table_errors():
    p = QuantParams(4, True, 0.1, 0)
    with pytest.raises(ValueError, match="activation: expected one of"):
        ActivationTable.build("gelu6", p, p)
    table = ActivationTable.build("sigmoid", p, QuantParams(4, False, 1 / 15, 0))
    with pytest.raises(ValueError, match=r"outside the table's range \[-8, 7\]"):
        apply_table(np.array([8]), table)


def test_resize_rejects_bad_sizes():
    with pytest.raises(ValueError, match="sizes must be positive"):
        resize_nearest(np.zeros((1, 2, 2, 1), np.int8), (0, 4))
