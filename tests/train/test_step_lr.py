"""``fqn --step-lr``: the weights' learning rate in weight steps (:func:`sw.train.qat.weight_rates`)."""

from __future__ import annotations

import numpy as np
import onnx
import pytest

pytest.importorskip("jax")

import hwsim.app.cli  # noqa: E402
from sw.graph import load_imported_model  # noqa: E402
from sw.graph.bits import parse_bits  # noqa: E402
from sw.quant.params import QuantParams  # noqa: E402
from sw.runtime.arrays import load_samples  # noqa: E402
from sw.runtime.executor import calibrate  # noqa: E402
from sw.train.fakeexec import FakeQuantGraph  # noqa: E402
from sw.train.qat import finetune, make_optimizer, weight_rates  # noqa: E402
from tests.importers.onnx_models import MODELS  # noqa: E402


def test_weight_rates_are_the_channel_steps_times_the_rate():
    """Hand values: per-channel grids along axis 0 (conv and fc shapes) and a per-tensor grid."""
    grids = {"conv": QuantParams(4, True, np.array([0.1, 0.5]), np.array([0, 0]), axis=0),
             "fc": QuantParams(4, True, np.array([2.0, 0.25, 1.0]), np.array([0, 1, 0]), axis=0),
             "pt": QuantParams(4, True, np.array(0.3), np.array(0))}
    weights = {"conv": {"w": np.zeros((2, 3, 3, 4)), "b": np.zeros(2)},
               "fc": {"w": np.zeros((3, 5)), "b": np.zeros(3)},
               "pt": {"w": np.zeros((2, 1, 1, 2)), "b": np.zeros(2)}}
    rates = weight_rates(grids, weights, 0.05, 3e-4)
    np.testing.assert_allclose(np.broadcast_to(rates["conv"]["w"], (2, 3, 3, 4))[:, 1, 2, 3], [0.005, 0.025], rtol=1e-6)
    np.testing.assert_allclose(np.broadcast_to(rates["fc"]["w"], (3, 5))[:, 4], [0.1, 0.0125, 0.05], rtol=1e-6)
    np.testing.assert_allclose(rates["pt"]["w"], 0.015, rtol=1e-6)
    assert all(float(r["b"]) == pytest.approx(3e-4) for r in rates.values())


@pytest.mark.parametrize("warmup", [0, 3])
def test_first_update_moves_each_weight_by_its_rate(warmup):
    """Adam's first step is ``-rate * g / (|g| + eps)``, i.e. minus the rate times the gradient's sign (bias
    corrections make the moments ``g`` and ``g^2``); with a warm-up the first step's rate is ``1 / (warmup + 1)`` of
    it. Weights move by their channel's rate, biases by ``lr``, log step sizes by ``scale_lr``."""
    import jax.numpy as jnp
    train = {"w": {"a": {"w": jnp.zeros((2, 1, 1, 3)), "b": jnp.zeros(2)}}, "log_s": {"t": jnp.float32(0.0)},
             "log_sw": {"a": jnp.zeros(2)}}
    rng = np.random.default_rng(0)
    grads = {"w": {"a": {"w": jnp.asarray(rng.normal(size=(2, 1, 1, 3)), jnp.float32),
                         "b": jnp.asarray([0.3, -2.0], jnp.float32)}},
             "log_s": {"t": jnp.float32(-5.0)}, "log_sw": {"a": jnp.asarray([1e-3, -1.0], jnp.float32)}}
    rates = {"a": {"w": np.array([0.01, 0.2], np.float32).reshape(2, 1, 1, 1), "b": np.float32(3e-4)}}
    for r in (None, rates):
        opt = make_optimizer(lr=3e-4, scale_lr=1e-3, warmup=warmup, rates=r)
        updates, _ = opt.update(grads, opt.init(train), train)
        ramp = 1.0 / (warmup + 1)
        w_rate = np.full((2, 1, 1, 3), 3e-4) if r is None else np.broadcast_to(rates["a"]["w"], (2, 1, 1, 3))
        sign = np.sign(np.asarray(grads["w"]["a"]["w"]))
        np.testing.assert_allclose(updates["w"]["a"]["w"], -ramp * w_rate * sign, rtol=1e-4)
        np.testing.assert_allclose(updates["w"]["a"]["b"], -ramp * 3e-4 * np.array([1.0, -1.0]), rtol=1e-4)
        np.testing.assert_allclose(updates["log_s"]["t"], ramp * 1e-3, rtol=1e-4)
        np.testing.assert_allclose(updates["log_sw"]["a"], -ramp * 1e-3 * np.array([1.0, -1.0]), rtol=1e-4)


@pytest.fixture
def depthwise(tmp_path):
    """The depthwise 3x3 + pointwise model (8 x 15 x 15 input) and 4 normal calibration samples."""
    model, _ = MODELS["depthwise_relu6"]()
    onnx.save(model, tmp_path / "m.onnx")
    np.save(tmp_path / "cal.npy", np.random.default_rng(0).normal(size=(4, 8, 15, 15)))
    return tmp_path


def test_finetune_trains_with_the_grids_rates(depthwise, monkeypatch):
    """``finetune(step_lr=r)`` hands the optimizer ``r`` times every channel's initial step (the min/max grid of
    the calibrated model) and the absolute ``lr`` for the biases; without ``step_lr`` no rates."""
    import sw.train.qat as qat
    model = load_imported_model(depthwise / "m.onnx").with_bits(parse_bits("4"))
    samples = load_samples(depthwise / "cal.npy", {n: model.native_shapes[n] for n in model.input_names})
    grids = FakeQuantGraph.from_calibration(model, calibrate(model, samples), symmetric_weights=True).weight_grids
    seen = []

    def spy(**kwargs):
        seen.append(kwargs["rates"])
        return make_optimizer(**kwargs)

    monkeypatch.setattr(qat, "make_optimizer", spy)
    finetune(model, samples, steps=1, symmetric_weights=True, lr=2e-4)
    finetune(model, samples, steps=1, symmetric_weights=True, lr=2e-4, step_lr=0.25)
    assert seen[0] is None and sorted(seen[1]) == sorted(grids) and len(grids) == 2
    for name, grid in grids.items():
        w = model.tensors[f"{name}.weight"]
        assert np.asarray(grid.scale).shape == (w.shape[0],)
        want = 0.25 * np.asarray(grid.scale)[:, None, None, None] * np.ones(w.shape)
        np.testing.assert_allclose(np.broadcast_to(seen[1][name]["w"], w.shape), want, rtol=1e-6)
        assert float(seen[1][name]["b"]) == pytest.approx(2e-4)


def test_cli_rejects_bad_step_lr(tmp_path, capsys):
    model, _ = MODELS["depthwise_relu6"]()
    onnx.save(model, tmp_path / "m.onnx")
    np.save(tmp_path / "cal.npy", np.zeros((1, 1)))
    for argv, message in (
            (["--method", "ptq", "--step-lr", "0.1"], "--step-lr applies to --method fqn only"),
            (["--method", "fqn", "--step-lr", "0"], "--step-lr: expected a rate > 0 (codes per step), got 0.0"),
            (["--method", "fqn", "--step-lr", "nan"], "--step-lr: expected a rate > 0 (codes per step), got nan"),
            (["--method", "fqn", "--step-lr", "0.1", "--live-batch-norm"], "--step-lr: not with --live-batch-norm")):
        code = hwsim.app.cli.main(["quantize", str(tmp_path / "m.onnx"), "--calibration", str(tmp_path / "cal.npy"),
                                   "--out", str(tmp_path / "q.npz"), *argv])
        err = capsys.readouterr().err
        assert code == 2 and message in err and "Traceback" not in err, (argv, err)
        assert not (tmp_path / "q.npz").exists()
