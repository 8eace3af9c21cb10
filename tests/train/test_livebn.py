"""Live batch norm under fine-tuning (FQN's ablation of frozen batch norm): unfolding, batch statistics, training."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

jax = pytest.importorskip("jax")

from sw.graph import load_imported_model  # noqa: E402
from sw.graph.bits import parse_bits  # noqa: E402
from sw.runtime.executor import calibrate  # noqa: E402
from sw.train.fakeexec import FakeQuantGraph  # noqa: E402
from sw.train.livebn import fold_batch, fold_running, running_stats, unfold  # noqa: E402
from sw.train.qat import finetune  # noqa: E402
from tests.importers.onnx_models import MODELS  # noqa: E402


def _imported(proto):
    with tempfile.TemporaryDirectory() as d:
        onnx.save(proto, Path(d) / "m.onnx")
        return load_imported_model(Path(d) / "m.onnx")


@pytest.fixture
def conv_bn(tmp_path):
    """conv_bn_relu at 4 bits, its ONNX initializers (conv weight, BN gamma / beta / mean / var), 6 samples."""
    proto, _ = MODELS["conv_bn_relu"]()
    onnx.save(proto, tmp_path / "m.onnx")
    inits = {i.name: numpy_helper.to_array(i).astype(np.float64) for i in proto.graph.initializer}
    conv = next(n for n in proto.graph.node if n.op_type == "Conv")
    bn = next(n for n in proto.graph.node if n.op_type == "BatchNormalization")
    onnx_params = {"w": inits[conv.input[1]], **dict(zip(("gamma", "beta", "mean", "var"),
                                                         (inits[n] for n in bn.input[1:5])))}
    model = load_imported_model(tmp_path / "m.onnx").with_bits(parse_bits("4"))
    rng = np.random.default_rng(4)
    samples = [{"x": rng.normal(size=(1, 3, 16, 16))} for _ in range(6)]
    return model, onnx_params, samples


def test_the_importer_keeps_the_folded_batch_norm_and_unfold_recovers_the_file_weights(conv_bn):
    model, ref, _ = conv_bn
    (name,) = model.batch_norms
    raw = unfold(model, name)
    np.testing.assert_allclose(raw["w"], np.transpose(ref["w"], (0, 2, 3, 1)), rtol=1e-5, atol=1e-6)  # OIHW -> OHWI
    np.testing.assert_allclose(raw["b"], 0.0, atol=1e-5)  # the conv has no bias
    np.testing.assert_allclose(raw["gamma"], ref["gamma"], rtol=1e-6)
    folded = fold_running(raw, running_stats(model)[name], model.batch_norms[name].eps)
    np.testing.assert_allclose(np.asarray(folded["w"]), model.tensors[f"{name}.weight"], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.asarray(folded["b"]), model.tensors[f"{name}.bias"], rtol=1e-5, atol=1e-6)
    silu, _ = MODELS["silu_resize_concat"]()
    assert not _imported(silu).batch_norms


def test_batch_statistics_are_those_of_the_float_conv_of_the_dequantized_batch(conv_bn):
    """Oracle: a numpy 3x3 'same' convolution (padding 1) of the dequantized input codes."""
    model, _, samples = conv_bn
    (name,) = model.batch_norms
    layer = model.graph.layer(name)
    fq = FakeQuantGraph.from_calibration(model, calibrate(model, samples))
    codes = np.concatenate([fq.input_codes(s)["x"] for s in samples[:4]])
    raw = unfold(model, name)
    wb, stats = fold_batch(fq, layer, jax.tree_util.tree_map(jax.numpy.asarray, raw), codes, 1e-5)
    p = fq.params["x"]
    real = np.pad(float(p.scale) * (codes.astype(np.float64) - float(p.zero_point)), ((0, 0), (1, 1), (1, 1), (0, 0)))
    windows = np.lib.stride_tricks.sliding_window_view(real, (3, 3), axis=(1, 2))  # [N, 16, 16, C, 3, 3]
    y = np.einsum("nhwcij,oijc->nhwo", windows, raw["w"].astype(np.float64))
    mean, var = y.mean(axis=(0, 1, 2)), y.var(axis=(0, 1, 2))
    np.testing.assert_allclose(np.asarray(stats["mean"]), mean + raw["b"], rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(np.asarray(stats["var"]), var, rtol=1e-4)
    factor = raw["gamma"] / np.sqrt(var + 1e-5)
    np.testing.assert_allclose(np.asarray(wb["w"]), raw["w"] * factor[:, None, None, None], rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(np.asarray(wb["b"]), raw["beta"] - factor * mean, rtol=1e-4, atol=1e-5)


def test_live_batch_norm_training_decreases_the_batch_statistics_loss(conv_bn):
    """Training on batch statistics lowers the mini-batch loss; the running statistics move with them, so the
    loss over all samples (folded with the running statistics) changes. These random inputs' statistics are
    far from the batch norm's running ones: the batch-statistics loss starts 13x above the frozen one and the
    loss over all samples rises, FQN's reason to freeze batch norm."""
    model, _, samples = conv_bn
    frozen0, _ = finetune(model, samples, steps=0, batch=2)
    live0, start = finetune(model, samples, steps=0, batch=2, live_batch_norm=True)
    (name,) = model.batch_norms
    same = frozen0.layers[name].weights == live0.layers[name].weights
    assert same.mean() > 0.999 and np.abs(frozen0.layers[name].weights - live0.layers[name].weights).max() <= 1
    _, losses = finetune(model, samples, steps=30, batch=2, seed=2, lr=1e-3, live_batch_norm=True)
    assert losses[0] > 5 * start[0]
    assert np.mean(losses[-6:-1]) < 0.7 * losses[0], losses
    assert losses[-1] > 1.5 * start[0], (start, losses[-1])


def test_live_batch_norm_needs_a_batch_norm():
    model = _imported(MODELS["silu_resize_concat"]()[0])
    with pytest.raises(ValueError, match="no batch norm folded into a weighted layer"):
        finetune(model.with_bits(parse_bits("4")), [{"x": np.zeros((1, 4, 12, 12))}], steps=1, live_batch_norm=True)
