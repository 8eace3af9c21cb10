"""Sigmoid outputs (scores in [0, 1]) are calibrated with min / max: a percentile range clips the best scores."""

from __future__ import annotations

import numpy as np
import pytest

from sw.graph.importers.onnx_import import load_onnx
from sw.graph.ops import Activation
from sw.quant.calibration import PercentileObserver
from sw.runtime.executor import bounded_outputs, calibrate
from sw.runtime.floatexec import run_float
from tests.importers.onnx_models import MODELS


def _model(tmp_path):
    proto, _ = MODELS["hardsigmoid_gap_gemm"]()
    path = tmp_path / "m.onnx"
    path.write_bytes(proto.SerializeToString())
    return load_onnx(path)


def _samples(model, n=12):
    rng = np.random.default_rng(3)
    return [{name: rng.standard_normal(shape) for name, shape in model.native_shapes.items() if name in model.input_names}
            for _ in range(n)]


def _sigmoid_layer(model):
    return next(l.name for l in model.graph if l.activation is Activation.SIGMOID)


def test_bounded_outputs_are_the_sigmoid_and_hard_sigmoid_layers(tmp_path):
    model = _model(tmp_path)
    expected = {l.name for l in model.graph if l.activation in (Activation.SIGMOID, Activation.HARDSIGMOID)}
    assert expected and bounded_outputs(model.graph) == expected
    assert _sigmoid_layer(model) in expected


@pytest.mark.parametrize("rule", ["percentile", "mse"])
def test_sigmoid_scores_keep_their_largest_value(tmp_path, rule):
    model = _model(tmp_path)
    samples = _samples(model)
    name = _sigmoid_layer(model)
    seen = []
    for s in samples:
        run_float(model, s, lambda key, v: seen.append(np.array(v)) if key == name else None)
    values = np.concatenate([v.ravel() for v in seen])
    top = float(values.max())
    # the percentile rule alone would clip the top score: the test can tell the two apart
    obs = PercentileObserver(gamma=0.999, max_values=10**6, n_expected=len(seen))
    for v in seen:
        obs.observe(v)
    assert obs.range()[1] < top
    p = calibrate(model, samples, ranges=rule)[name]
    assert float(p.scale) * (p.qmax - int(p.zero_point)) >= top - 1e-12
    assert float(p.scale) * (p.qmin - int(p.zero_point)) <= float(values.min()) + 1e-12
