"""GPTQ: equals round-to-nearest when inputs are uncorrelated; beats it on real detector layers."""

from __future__ import annotations

import numpy as np
import pytest

from sw.data.images import blazeface_input, grace_hopper, yolox_input
from sw.data.models import blazeface_path, yolox_tiny_path
from sw.graph import load_imported_model
from sw.quant.ranges import weight_params
from sw.runtime.floatexec import run_float
from sw.train.gptq import gptq_codes, layer_columns, second_moments
from sw.train.methods import _gptq_layer


def test_diagonal_second_moments_give_round_to_nearest():
    """With H = c I there is no error feedback (U is diagonal): GPTQ is the golden model's rounding."""
    rng = np.random.default_rng(0)
    w = rng.normal(size=(6, 200))
    wp = weight_params(w, 4)
    np.testing.assert_array_equal(gptq_codes(w, wp, 3.0 * np.eye(200)), wp.quantize(w))


def test_codes_stay_on_the_grid_and_dead_inputs_get_zero():
    rng = np.random.default_rng(1)
    w = rng.normal(size=(4, 10))
    x = rng.normal(size=(50, 10))
    x[:, 3] = 0.0
    wp = weight_params(w, 3)
    codes = gptq_codes(w, wp, x.T @ x)
    assert codes.min() >= wp.qmin and codes.max() <= wp.qmax
    np.testing.assert_array_equal(codes[:, 3], wp.zero_point)


def _relative_error(w, wp, codes, cols):
    per = w.shape[0] // cols.shape[0]
    wf, wd = w.reshape(w.shape[0], -1), wp.dequantize(codes).reshape(w.shape[0], -1)
    num = sum(np.sum(((wf - wd)[g * per:(g + 1) * per] @ cols[g].T) ** 2) for g in range(cols.shape[0]))
    den = sum(np.sum((wf[g * per:(g + 1) * per] @ cols[g].T) ** 2) for g in range(cols.shape[0]))
    return float(np.sqrt(num / den))


def _layer_errors(path, prepare, name):
    model = load_imported_model(path)
    env: dict[str, np.ndarray] = {}
    x, _ = prepare(grace_hopper())
    run_float(model, {model.input_names[0]: x}, lambda k, v: env.__setitem__(k, v))
    layer = model.graph.layer(name)
    w = np.asarray(model.tensors[f"{name}.weight"])
    wp = weight_params(w, 4)
    cols = layer_columns(layer, env[layer.inputs[0]])
    gptq = _gptq_layer(layer, w, wp, second_moments(cols))
    return _relative_error(w, wp, wp.quantize(w), cols), _relative_error(w, wp, gptq, cols)


@pytest.mark.parametrize("name", ["conv2d_10", "depthwise_conv2d_5"])
def test_gptq_reduces_reconstruction_error_on_blazeface(name):
    rtn, gptq = _layer_errors(blazeface_path("short_range"), blazeface_input, name)
    assert gptq < 0.8 * rtn, (rtn, gptq)


@pytest.mark.slow
def test_gptq_reduces_reconstruction_error_on_yolox_tiny():
    rtn, gptq = _layer_errors(yolox_tiny_path(), yolox_input, "Conv_258")
    assert gptq < 0.5 * rtn, (rtn, gptq)
