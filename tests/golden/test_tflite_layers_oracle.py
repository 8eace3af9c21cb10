"""Golden PReLU, bilinear resize and transposed convolution vs TFLite BUILTIN_REF (0 mismatches)."""

from __future__ import annotations

import numpy as np
import pytest

from oracles.tflite_layers import build_prelu, build_resize_bilinear, build_transpose_conv
from oracles.tflite_ref import run_model
from sw.golden.prelu import prelu_float, prelu_int
from sw.golden.requant import OutputStage
from sw.golden.resize_bilinear import resize_bilinear_float, resize_bilinear_int
from sw.golden.transpose_conv import transpose_conv_float, transpose_conv_int
from sw.quant.params import QuantParams


def _p(scale: float, zp: int) -> QuantParams:
    return QuantParams(8, True, scale, zp)


@pytest.mark.parametrize("seed", range(4))
def test_prelu_int8_matches_builtin_ref(seed):
    rng = np.random.default_rng(seed)
    x = rng.integers(-128, 128, (1, 5, 6, 8)).astype(np.int8)
    alpha = rng.integers(-128, 128, 8)
    s_x, s_a, s_o = rng.uniform(0.005, 0.1, 3)
    z_x, z_a, z_o = (int(v) for v in rng.integers(-20, 20, 3))
    ref = run_model(build_prelu(x.shape, s_x, z_x, alpha, s_a, z_a, s_o, z_o), [x])[0]
    got = prelu_int(x, alpha, _p(s_x, z_x), _p(s_a, z_a), _p(s_o, z_o))
    assert np.count_nonzero(got != ref) == 0
    assert np.unique(got).size > 30


@pytest.mark.parametrize("size", [(10, 12), (7, 9), (3, 4), (1, 1), (20, 6)])
@pytest.mark.parametrize("mode", ["asymmetric", "align_corners", "half_pixel"])
def test_resize_bilinear_int8_matches_builtin_ref(size, mode):
    x = np.random.default_rng(sum(size)).integers(-128, 128, (1, 5, 6, 3)).astype(np.int8)
    model = build_resize_bilinear(x.shape, 0.05, 3, size, align_corners=mode == "align_corners",
                                  half_pixel_centers=mode == "half_pixel")
    ref = run_model(model, [x])[0]
    assert np.count_nonzero(resize_bilinear_int(x, size, mode) != ref) == 0


def test_resize_bilinear_float_matches_the_reference_formula():
    x = np.arange(6, dtype=np.float64).reshape(1, 2, 3, 1)  # rows 0 1 2 / 3 4 5
    # asymmetric x2 on W: source columns 0, 0.5, 1, 1.5, 2, 2 (clamped)
    assert resize_bilinear_float(x, (2, 6), "asymmetric")[0, 0, :, 0].tolist() == [0, 0.5, 1, 1.5, 2, 2]
    # align corners 3 -> 5 columns: 0, 0.5, 1, 1.5, 2; half pixel 3 -> 6: (i + .5) / 2 - .5 clamped at 0
    assert resize_bilinear_float(x, (2, 5), "align_corners")[0, 1, :, 0].tolist() == [3, 3.5, 4, 4.5, 5]
    assert resize_bilinear_float(x, (2, 6), "half_pixel")[0, 0, :, 0].tolist() == [0, 0.25, 0.75, 1.25, 1.75, 2]


@pytest.mark.parametrize("padding, out_hw, stride", [("SAME", (10, 12), (2, 2)), ("VALID", (11, 13), (2, 2)),
                                                      ("SAME", (5, 6), (1, 1))])
def test_transpose_conv_int8_matches_builtin_ref(padding, out_hw, stride):
    rng = np.random.default_rng(7)
    x = rng.integers(-128, 128, (1, 5, 6, 8)).astype(np.int8)
    w = rng.integers(-127, 128, (4, 3, 3, 8))
    ws = rng.uniform(0.001, 0.01, 4)
    b = rng.integers(-1000, 1000, 4)
    model = build_transpose_conv(x.shape, 0.05, 3, w, ws, b, 0.1, 2, out_hw=out_hw, stride=stride, padding=padding)
    ref = run_model(model, [x])[0]
    total = [max((x.shape[1 + a] - 1) * stride[a] + 3 - out_hw[a], 0) for a in (0, 1)] if padding == "SAME" else [0, 0]
    pads = tuple((t // 2, t - t // 2) for t in total)
    stage = OutputStage.from_real(0.05 * ws / 0.1, _p(0.1, 2))
    got = transpose_conv_int(x, w, b, stage, input_zero_point=3, weight_zero_point=0, out_hw=out_hw, stride=stride,
                             padding=pads)
    assert got.shape == ref.shape and np.count_nonzero(got != ref) == 0


def test_transpose_conv_float_scatters_each_input_pixel():
    x = np.zeros((1, 2, 2, 1))
    x[0, 1, 0, 0] = 2.0
    w = np.arange(4, dtype=np.float64).reshape(1, 2, 2, 1)  # [[0, 1], [2, 3]]
    out = transpose_conv_float(x, w, np.array([0.5]), (4, 4), stride=(2, 2))[0, :, :, 0]
    expected = np.full((4, 4), 0.5)
    expected[2:4, 0:2] += 2.0 * np.array([[0, 1], [2, 3]])
    assert np.array_equal(out, expected)


def test_prelu_float():
    x = np.array([-2.0, -0.5, 0.0, 3.0]).reshape(1, 1, 2, 2)
    assert prelu_float(x, np.array([0.25, 2.0])).ravel().tolist() == [-0.5, -1.0, 0.0, 3.0]
