"""Block reconstruction (``--method brecq``): blocks, QDrop mixing, the LSQ gradient, loss, determinism.

The exported file's bit-exactness through the golden model is tested with the other methods in
tests/train/test_quantize_command.py.
"""

from __future__ import annotations

import numpy as np
import onnx
import pytest

jax = pytest.importorskip("jax")

from sw.graph import load_imported_model  # noqa: E402
from sw.graph.bits import parse_bits  # noqa: E402
from sw.golden.fixedpoint import multiply_by_quantized_multiplier  # noqa: E402
from sw.quant.multiplier import quantize_multiplier  # noqa: E402
from sw.quant.rounding import round_half_away  # noqa: E402
from sw.runtime.executor import calibrate  # noqa: E402
from sw.train.brecq import partition, qdrop_mix, reconstruct  # noqa: E402
from sw.train.fakeexec import FakeQuantGraph, with_scales  # noqa: E402
from sw.train.fakequant import mbqm_learned_ste  # noqa: E402
from sw.train.gptq import layer_columns  # noqa: E402
from tests.importers.onnx_models import MODELS  # noqa: E402


def _model(tmp_path, key: str, bits: str = "4"):
    proto, _ = MODELS[key]()
    onnx.save(proto, tmp_path / "m.onnx")
    model = load_imported_model(tmp_path / "m.onnx").with_bits(parse_bits(bits))
    shape = model.native_shapes[model.input_names[0]]
    rng = np.random.default_rng(5)
    return model, [{model.input_names[0]: rng.normal(size=(1, *shape[1:]))} for _ in range(10)]


def test_blocks_follow_the_weighted_layers(tmp_path):
    # silu_resize_concat: Conv+SiLU (a) -> stride-2 Conv+LeakyRelu (b) -> Resize -> Concat(up, a)
    # -> Conv (c) -> Add(c, a) -> MaxPool (graph output).
    model, samples = _model(tmp_path, "silu_resize_concat")
    blocks = partition(model)
    ops = [[layer.op.value for layer in b.layers] for b in blocks]
    assert ops == [["conv"], ["conv", "upsample", "concat"], ["conv", "add", "maxpool"]]
    first, second, third = blocks
    assert first.outputs == first.learned == (first.weighted,)
    assert second.inputs == (first.weighted,) and second.learned == second.outputs == (second.layers[2].name,)
    # The max pool shares the add's parameters: the add's scale is the one learned.
    assert set(third.inputs) == {second.layers[2].name, first.weighted}
    assert third.outputs == (third.layers[2].name,) and third.learned == (third.layers[1].name,)
    params = with_scales(model, calibrate(model, samples[:2]), {third.layers[1].name: 0.125})
    assert float(params[third.layers[2].name].scale) == 0.125


def test_qdrop_mix_takes_each_element_from_one_side():
    rng = np.random.default_rng(0)
    q, real = rng.integers(-8, 8, size=(4, 50, 50, 1)).astype(np.float32), rng.normal(size=(4, 50, 50, 1))
    np.testing.assert_array_equal(qdrop_mix(q, real, rng, 0.0), q)
    np.testing.assert_array_equal(qdrop_mix(q, real, rng, 1.0), real.astype(np.float32))
    mixed = qdrop_mix(q, real, rng, 0.5)
    from_real = mixed == real.astype(np.float32)
    assert np.all(from_real | (mixed == q))
    assert 0.47 < from_real.mean() < 0.53  # 10,000 Bernoulli(0.5) draws: 6 standard deviations


def test_learned_multiplier_rounds_like_the_golden_model():
    rng = np.random.default_rng(2)
    acc = rng.integers(-3000, 3000, size=20000)
    real = np.exp(rng.uniform(np.log(1e-4), np.log(4.0), size=acc.size))
    m, shift = quantize_multiplier(real)
    want = multiply_by_quantized_multiplier(acc, m, shift)
    got = np.asarray(mbqm_learned_ste(jax.numpy.asarray(acc, jax.numpy.float32),
                                      jax.numpy.asarray(real, jax.numpy.float32)))
    assert np.mean(got == want) > 0.999 and np.max(np.abs(got - want)) <= 1
    assert np.mean(want != round_half_away(acc * real)) > 0.01  # the double rounding matters at 4 bits
    grad = jax.grad(lambda r: mbqm_learned_ste(jax.numpy.float32(37.0), r))(jax.numpy.float32(0.3))
    assert float(grad) == 37.0


@pytest.mark.parametrize("symmetric", [False, True])
def test_learned_weight_scales_get_the_lsq_gradient(tmp_path, symmetric):
    """d/d log s_o of sum(real output) over a conv+ReLU layer is s_in s_o sum x (q - z - w/s_o) inside the weight
    grid and s_in s_o sum x (q - z) where the code clamps, over the output positions not clamped by ReLU / the
    range; the bias adds nothing (its real value does not depend on s_o)."""
    model, samples = _model(tmp_path, "conv_bn_relu")
    params = calibrate(model, samples[:2])
    fq = FakeQuantGraph.from_calibration(model, params, symmetric_weights=symmetric)
    layer = model.graph.layers[0]
    codes = fq.input_codes(samples[0])[model.input_names[0]]
    wp = fq.weight_grids[layer.name]
    log_s0 = np.log(np.asarray(wp.scale, np.float64) * 0.8).astype(np.float32)  # 0.8: some codes clamp
    wb = {k: jax.numpy.asarray(v) for k, v in fq.initial_weights()[layer.name].items()}

    def total(log_s):
        out = fq.layer(layer, {**wb, "log_s": log_s}, [codes])
        return fq.dequantize(layer.name, out).sum()

    got = np.asarray(jax.grad(total)(jax.numpy.asarray(log_s0)), np.float64)
    # Independent: numpy codes on the scaled grid, im2col rows, the golden requantization for the clamp mask.
    s = np.exp(log_s0.astype(np.float64))
    inp, out = params[model.input_names[0]], params[layer.name]
    w = np.asarray(model.tensors[f"{layer.name}.weight"], np.float64).reshape(s.size, -1)
    zw = np.asarray(wp.zero_point, np.float64)[:, None]
    ratio = w / s[:, None]
    q = np.clip(round_half_away(ratio) + zw, wp.qmin, wp.qmax)
    inside = (round_half_away(ratio) + zw >= wp.qmin) & (round_half_away(ratio) + zw <= wp.qmax)
    g = np.where(inside, q - zw - ratio, q - zw)  # d (q - z) s / d log s, per weight, over s
    assert np.sum(~inside) > 0 and np.sum(inside) > 0  # both cases occur
    cols = layer_columns(layer, np.asarray(codes, np.float64) - float(inp.zero_point))[0]
    bias = round_half_away(model.tensors[f"{layer.name}.bias"] / (float(inp.scale) * s))
    acc = cols @ (q - zw).T + bias
    m = quantize_multiplier(float(inp.scale) * s / float(out.scale))
    qo = multiply_by_quantized_multiplier(acc.astype(np.int64), *m) + float(out.zero_point)
    live = (qo >= max(out.qmin, float(out.zero_point))) & (qo <= out.qmax)  # fused ReLU, then the range
    assert np.sum(live) > 0 and np.sum(~live) > 0
    want = float(inp.scale) * s * np.sum(np.where(live, cols @ g.T, 0.0), axis=0)
    np.testing.assert_allclose(got, want, rtol=2e-3, atol=1e-6 * np.max(np.abs(want)))


def test_learned_scale_gets_the_lsq_gradient(tmp_path):
    """d/ds of sum(s (q - z)) over a conv+ReLU output is q - z - x/s inside, the clamped q - z outside."""
    model, samples = _model(tmp_path, "conv_bn_relu")
    params = calibrate(model, samples[:2])
    fq = FakeQuantGraph.from_calibration(model, params)
    layer = model.graph.layers[0]
    codes = fq.input_codes(samples[0])[model.input_names[0]]
    wb = {k: jax.numpy.asarray(v) for k, v in fq.initial_weights()[layer.name].items()}
    s0 = float(params[layer.name].scale) * 0.9

    def total(s):
        out = fq.layer(layer, wb, [codes], {layer.name: s})
        return fq.dequantize(layer.name, out, {layer.name: s}).sum()

    got = float(jax.grad(total)(np.float32(s0)))
    # Independent: real pre-activation values from the integer accumulator of im2col rows.
    inp, wp, out = params[model.input_names[0]], fq.weight_grids[layer.name], params[layer.name]
    w = np.asarray(model.tensors[f"{layer.name}.weight"], np.float64)
    wq = wp.quantize(w).reshape(w.shape[0], -1) - wp.zero_point[:, None]
    bias = round_half_away(model.tensors[f"{layer.name}.bias"] / (float(inp.scale) * wp.scale))
    cols = layer_columns(layer, np.asarray(codes, np.float64) - float(inp.zero_point))[0]
    acc = cols @ wq.T + bias
    real = acc * float(inp.scale) * wp.scale
    z = float(out.zero_point)
    multiplier = quantize_multiplier(float(inp.scale) * wp.scale / s0)  # per output channel
    q = multiply_by_quantized_multiplier(acc.astype(np.int64), *multiplier) + z
    lo = max(out.qmin, z)  # fused ReLU
    want = np.where(q > out.qmax, out.qmax - z, np.where(q < lo, lo - z, q - z - real / s0))
    assert np.sum(q > out.qmax) > 0 and np.sum((q >= lo) & (q <= out.qmax)) > 0  # both cases occur
    np.testing.assert_allclose(got, want.sum(), rtol=1e-3)


def test_reconstruction_loss_falls_and_the_seed_draws_the_batches(tmp_path):
    # depthwise 3x3 + ReLU6 (the learned scale moves the clamp at 6.0), pointwise + HardSwish (a table).
    # Same seed, same file: tests/train/test_quantize_command.py (CLI run vs in-memory run).
    model, samples = _model(tmp_path, "depthwise_relu6")
    runs = {}
    for seed in (0, 1):
        losses: list[float] = []
        reconstruct(model, samples, steps=30, seed=seed, losses=losses)
        runs[seed] = losses
    assert len(runs[0]) == 2 * 30 and runs[1] != runs[0]  # two blocks; other batches and QDrop masks
    for block in (runs[0][:30], runs[0][30:]):  # measured: 0.0230 -> 0.0210 and 0.0866 -> 0.0838
        assert np.mean(block[-5:]) < np.mean(block[:5])


def test_bad_steps_are_one_line_errors(tmp_path, capsys):
    import hwsim.app.cli

    model, samples = _model(tmp_path, "conv_bn_relu")
    np.save(tmp_path / "cal.npy", np.concatenate([s[model.input_names[0]] for s in samples[:2]]))
    base = ["quantize", str(tmp_path / "m.onnx"), "--calibration", str(tmp_path / "cal.npy"),
            "--out", str(tmp_path / "q.npz"), "--bits", "4"]
    for extra, message in ((["--method", "gptq", "--steps", "5"], "--steps applies to --method brecq, fqn only"),
                           (["--method", "brecq", "--steps", "-1"], "steps: expected >= 0, got -1"),
                           (["--method", "brecq", "--learn-scales"], "--learn-scales applies to --method fqn only"),
                           (["--method", "brecq", "--learn-weight-scales"],
                            "--learn-weight-scales applies to --method fqn only"),
                           (["--method", "gptq", "--floor-targets"], "--floor-targets applies to --method fqn only"),
                           (["--method", "fqn", "--ld-loss", "1"], "--ld-loss applies with --label-loss only"),
                           (["--method", "gptq", "--per-tensor-weights"], "--per-tensor-weights: --method ptq or fqn"),
                           (["--per-tensor-weights", "--keep8", "sensitive:1"], "the sensitivity study measures")):
        assert hwsim.app.cli.main(base + extra) == 2
        err = capsys.readouterr().err.strip()
        assert message in err and "\n" not in err
    assert not (tmp_path / "q.npz").exists()


def test_channel_variance_treats_near_constant_channels_as_constant():
    """A channel whose variance float32 cannot hold (1e-50) or that is 1e-14 of the widest normalises by 1, not 0."""
    from sw.train.qat import channel_variance

    rng = np.random.default_rng(0)
    v = np.stack([rng.normal(0, 2.0, 1000), 3.0 + 1e-25 * rng.normal(size=1000), 1e-7 * rng.normal(size=1000),
                  np.full(1000, 5.0), rng.normal(0, 0.5, 1000)], axis=-1)
    var = channel_variance(v)
    assert var.dtype == np.float32 and np.all(np.isfinite(1.0 / var))
    assert var[1] == var[2] == var[3] == 1.0  # 1e-50 and 1e-14 of the widest channel's count as constant
    np.testing.assert_allclose(var[[0, 4]], np.var(v[:, [0, 4]], axis=0), rtol=1e-6)
