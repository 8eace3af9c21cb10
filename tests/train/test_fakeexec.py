"""Fake-quant executor vs the integer golden model on the real detectors (4-bit, FQN calibration)."""

from __future__ import annotations

import numpy as np
import pytest

jax = pytest.importorskip("jax")

from sw.data.images import blazeface_input, grace_hopper, yolox_input  # noqa: E402
from sw.data.models import blazeface_path, yolox_tiny_path  # noqa: E402
from sw.graph import load_imported_model  # noqa: E402
from sw.graph.bits import parse_bits  # noqa: E402
from sw.runtime.executor import calibrate  # noqa: E402
from sw.runtime.integer import run_integer  # noqa: E402
from sw.train.fakeexec import FakeQuantGraph  # noqa: E402

MODELS = {"blazeface": (lambda: blazeface_path("short_range"), blazeface_input),
          "yolox_tiny": (yolox_tiny_path, yolox_input)}


def _setup(key: str, dtype: type, bits: str = "4"):
    path, prepare = MODELS[key]
    model = load_imported_model(path()).with_bits(parse_bits(bits))
    x, _ = prepare(grace_hopper())
    name = model.input_names[0]
    params = calibrate(model, [{name: x}])
    fq = FakeQuantGraph.from_calibration(model, params)
    weights = fq.initial_weights(dtype)
    golden: dict[str, np.ndarray] = {}
    run_integer(model, fq.to_plan(weights), {name: params[name].quantize(x)},
                observe=lambda k, v: golden.__setitem__(k, v.astype(dtype)))
    return model, fq, weights, golden, {name: x}


def _agreement(model, golden, fake) -> tuple[float, float]:
    d = np.concatenate([np.abs(np.asarray(fake[l.name]) - golden[l.name]).ravel() for l in model.graph])
    return float(np.mean(d == 0)), float(d.max())


@pytest.mark.slow
@pytest.mark.parametrize("key, bits", [("blazeface", "4"), ("blazeface", "8"), ("yolox_tiny", "4")])
def test_float64_forward_gives_the_golden_codes(key, bits):
    """End to end (each layer on the fake-quant outputs before it), every activation of every layer."""
    with jax.enable_x64(True):
        model, fq, weights, golden, inputs = _setup(key, np.float64, bits)
        fake = jax.jit(fq.forward)(weights, fq.input_codes(inputs, np.float64))
        assert _agreement(model, golden, fake) == (1.0, 0.0)


@pytest.mark.slow
def test_float32_layerwise_codes_match_golden():
    """Training precision: each layer on the golden model's input codes (teacher forcing)."""
    model, fq, weights, golden, _ = _setup("blazeface", np.float32)
    agree, worst = _agreement(model, golden, jax.jit(fq.layerwise)(weights, golden))
    assert agree >= 0.999 and worst <= 1, (agree, worst)


@pytest.mark.slow
def test_gradients_flow_to_every_weight():
    model, fq, weights, _, inputs = _setup("blazeface", np.float32)
    codes = fq.input_codes(inputs)

    def loss(w):
        env = fq.forward(w, codes)
        return sum(jax.numpy.mean(fq.dequantize(o, env[o]) ** 2) for o in model.graph.outputs)

    grads = jax.jit(jax.grad(loss))(weights)
    assert all(float(np.abs(np.asarray(g["w"])).sum()) > 0 for g in grads.values())


@pytest.mark.parametrize("key", ["hardsigmoid_gap_gemm", "decomposed_activations", "depthwise_relu6",
                                 "silu_resize_concat"])
def test_every_table_activation_has_a_fake_quant_form(key, tmp_path):
    """Small ONNX models with HardSigmoid, HardSwish, erf GELU, SiLU, ReLU6 (PicoDet's and YOLOX's
    activations): the float64 fake-quant forward gives the golden model's codes at 4 bits."""
    import onnx

    from tests.importers.onnx_models import MODELS as ONNX_MODELS

    proto, _ = ONNX_MODELS[key]()
    onnx.save(proto, tmp_path / "m.onnx")
    model = load_imported_model(tmp_path / "m.onnx").with_bits(parse_bits("4"))
    name = model.input_names[0]
    x = np.random.default_rng(0).normal(size=model.native_shapes[name])
    with jax.enable_x64(True):
        params = calibrate(model, [{name: x}])
        fq = FakeQuantGraph.from_calibration(model, params)
        weights = fq.initial_weights(np.float64)
        golden: dict[str, np.ndarray] = {}
        run_integer(model, fq.to_plan(weights), {name: params[name].quantize(x)},
                    observe=lambda k, v: golden.__setitem__(k, v.astype(np.float64)))
        fake = jax.jit(fq.forward)(weights, fq.input_codes({name: x}, np.float64))
        assert _agreement(model, golden, fake) == (1.0, 0.0)
