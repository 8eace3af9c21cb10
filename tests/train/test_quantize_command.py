"""``hwsim quantize`` -> quantized-model file -> ``hwsim run --quantized``: exact round trip, bad files."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest

import hwsim.app.cli
from sw.graph import load_imported_model
from sw.graph.bits import parse_bits
from sw.runtime.arrays import load_samples
from sw.quant.mse import quantization_mse
from sw.quant.ranges import params_from_range
from sw.runtime.executor import calibrate, execute
from sw.runtime.floatexec import run_float
from sw.runtime.integer import PASS_THROUGH
from sw.runtime.qmodel import load_quantized
from sw.train.methods import quantize_plan
from tests.importers.onnx_models import MODELS


def _cli(*argv) -> int:
    return hwsim.app.cli.main([*map(str, argv)])


@pytest.fixture
def files(tmp_path):
    """A float ONNX model (conv + depthwise-free mix: LUT SiLU, leaky ReLU, resize, concat, add, maxpool)."""
    model, _ = MODELS["silu_resize_concat"]()
    path = tmp_path / "m.onnx"
    onnx.save(model, path)
    rng = np.random.default_rng(0)
    np.save(tmp_path / "cal.npy", rng.normal(size=(4, 4, 12, 12)))
    np.save(tmp_path / "x.npy", rng.normal(size=(1, 4, 12, 12)).astype(np.float32))
    return tmp_path, path


@pytest.mark.parametrize("key, method, bits, ranges, options", [
    ("silu_resize_concat", "gptq", "4", "fqn", ()),
    ("hardsigmoid_gap_gemm", "ptq", "w4a8", "fqn", ()),
    ("depthwise_relu6", "gptq", "8,head=4", "fqn", ()),
    ("conv_bn_relu", "fqn", "4", "fqn", ()),
    ("depthwise_relu6", "adaround", "4", "fqn", ()),
    ("silu_resize_concat", "brecq", "4", "fqn", ()),
    ("silu_resize_concat", "ptq", "4", "mse", ()),
    ("conv_bn_relu", "fqn", "4", "mse", ()),
    ("silu_resize_concat", "fqn", "4", "fqn", ("--learn-scales",)),
    ("depthwise_relu6", "fqn", "w4a8", "fqn", ("--learn-scales",)),
    ("silu_resize_concat", "ptq", "4", "minmax", ("--per-tensor-weights",)),
    ("depthwise_relu6", "fqn", "4", "fqn", ("--per-tensor-weights",)),
    ("conv_bn_relu", "fqn", "4", "fqn", ("--live-batch-norm", "--learn-scales")),
    ("silu_resize_concat", "fqn", "4", "fqn", ("--warmup", "3")),
    ("depthwise_relu6", "fqn", "4", "fqn", ("--learn-weight-scales", "--symmetric-weights")),
    ("depthwise_relu6", "fqn", "4", "fqn", ("--step-lr", "0.1", "--symmetric-weights")),
    ("conv_bn_relu", "fqn", "w4a8", "fqn", ("--learn-weight-scales", "--learn-scales", "--live-batch-norm")),
])
def test_exported_file_runs_exactly_like_the_in_memory_plan(tmp_path, key, method, bits, ranges, options):
    model_proto, _ = MODELS[key]()
    path = tmp_path / "m.onnx"
    onnx.save(model_proto, path)
    model = load_imported_model(path)
    shape = model.native_shapes[model.input_names[0]]
    rng = np.random.default_rng(1)
    np.save(tmp_path / "cal.npy", rng.normal(size=(3, *shape[1:])))
    x = rng.normal(size=shape).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    steps = ("--steps", 5, "--plot", tmp_path / "loss.png") if method in ("fqn", "brecq") else ()
    assert _cli("quantize", path, "--method", method, "--bits", bits, "--calibration", tmp_path / "cal.npy",
                "--out", tmp_path / "q.npz", "--seed", 3, "--ranges", ranges, *steps, *options) == 0
    assert _cli("run", path, "--input", tmp_path / "x.npy", "--output", tmp_path / "y.npz",
                "--quantized", tmp_path / "q.npz") == 0
    at_bits = model.with_bits(parse_bits(bits))
    samples = load_samples(tmp_path / "cal.npy", {model.input_names[0]: shape})
    plan = quantize_plan(at_bits, samples, method, seed=3, steps=5, ranges=ranges,
                         learn_scales="--learn-scales" in options,
                         learn_weight_scales="--learn-weight-scales" in options,
                         symmetric_weights="--symmetric-weights" in options,
                         granularity="per_tensor" if "--per-tensor-weights" in options else "per_channel",
                         live_batch_norm="--live-batch-norm" in options,
                         warmup=int(options[options.index("--warmup") + 1]) if "--warmup" in options else 0,
                         step_lr=float(options[options.index("--step-lr") + 1]) if "--step-lr" in options else None)
    expected = execute(at_bits, {model.input_names[0]: x}, plan=plan).outputs
    with np.load(tmp_path / "y.npz") as got:
        assert sorted(got.files) == sorted(expected)
        for name, ref in expected.items():
            assert got[name].dtype == ref.dtype
            np.testing.assert_array_equal(got[name], ref)
    if method in ("fqn", "brecq"):
        assert (tmp_path / "loss.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    loaded = load_quantized(tmp_path / "q.npz", model, path)
    assert loaded.provenance["method"] == method and loaded.provenance["seed"] == 3
    assert loaded.provenance["ranges"] == ranges
    assert loaded.provenance["warmup"] == (3 if "--warmup" in options else 0)
    assert loaded.provenance["step_lr"] == (0.1 if "--step-lr" in options else None)
    for name, lp in plan.layers.items():
        if lp.weights is not None:
            np.testing.assert_array_equal(loaded.plan.layers[name].weights, lp.weights)


def test_quantize_is_deterministic_and_gptq_differs_from_ptq(files):
    tmp, path = files
    outs = []
    for method, name in (("gptq", "a"), ("gptq", "b"), ("ptq", "c")):
        assert _cli("quantize", path, "--method", method, "--bits", "4", "--calibration", tmp / "cal.npy",
                    "--out", tmp / f"{name}.npz") == 0
        model = load_imported_model(path)
        outs.append(load_quantized(tmp / f"{name}.npz", model, path).plan)
    for name, lp in outs[0].layers.items():
        if lp.weights is not None:
            np.testing.assert_array_equal(lp.weights, outs[1].layers[name].weights)
    assert any(np.any(lp.weights != outs[2].layers[n].weights) for n, lp in outs[0].layers.items()
               if lp.weights is not None)


def _rewrite(src, dst, edit_header=None, drop=None):
    with np.load(src) as npz:
        arrays = {k: npz[k] for k in npz.files}
    header = json.loads(arrays["__header__"].tobytes().decode())
    if edit_header:
        edit_header(header)
    if drop:
        arrays.pop(drop)
    arrays["__header__"] = np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    dst.write_bytes(buf.getvalue())


def test_bad_quantized_files_are_one_line_errors(files, capsys):
    tmp, path = files
    assert _cli("quantize", path, "--calibration", tmp / "cal.npy", "--out", tmp / "q.npz") == 0
    model = load_imported_model(path)
    first = model.graph.layers[0].name
    cases = {
        "version": (lambda h: h.__setitem__("version", 99), None, "version: expected 1, got 99"),
        "layer": (lambda h: (h["layers"].pop(first), h["bits"].pop(first)), None, f"missing layer '{first}'"),
        "array": (None, f"layer/{first}/weights", f"missing array 'layer/{first}/weights'"),
    }
    for name, (edit, drop, message) in cases.items():
        _rewrite(tmp / "q.npz", tmp / f"{name}.npz", edit, drop)
        with pytest.raises(ValueError, match=message):
            load_quantized(tmp / f"{name}.npz", model, path)
    other, _ = MODELS["conv_bn_relu"]()
    onnx.save(other, tmp / "other.onnx")
    capsys.readouterr()
    assert _cli("run", tmp / "other.onnx", "--input", tmp / "x.npy", "--output", tmp / "y.npy",
                "--quantized", tmp / "q.npz") == 2
    err = capsys.readouterr().err.strip()
    assert "SHA-256" in err and len(err.splitlines()) == 1
    (tmp / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="not a quantized-model .npz file"):
        load_quantized(tmp / "junk.npz", model, path)
    assert _cli("run", path, "--input", tmp / "x.npy", "--output", tmp / "y.npy", "--quantized", tmp / "q.npz",
                "--bits", "4") == 2
    assert _cli("quantize", path, "--calibration", tmp / "cal.npy", "--out", tmp / "p.npz", "--plot", tmp / "l.png") == 2
    assert _cli("quantize", path, "--method", "gptq", "--calibration", tmp / "cal.npy", "--out", tmp / "p.npz",
                "--steps", 3) == 2
    assert _cli("quantize", path, "--method", "ptq", "--calibration", tmp / "cal.npy", "--out", tmp / "p.npz",
                "--warmup", 3) == 2
    assert _cli("quantize", path, "--method", "fqn", "--calibration", tmp / "cal.npy", "--out", tmp / "p.npz",
                "--steps", 3, "--warmup", 4) == 2
    assert not (tmp / "p.npz").exists()


def test_fqn_finetuning_decreases_the_distillation_loss(files):
    pytest.importorskip("jax")
    tmp, path = files
    model = load_imported_model(path).with_bits(parse_bits("4"))
    samples = load_samples(tmp / "cal.npy", {"x": model.native_shapes["x"]})
    from sw.train.qat import finetune
    plan, losses = finetune(model, samples, steps=40, lr=3e-4)
    assert len(losses) == 41 and min(losses) < 0.92 * losses[0], losses
    start, _ = finetune(model, samples, steps=0)
    assert any(np.any(lp.weights != start.layers[n].weights) for n, lp in plan.layers.items() if lp.weights is not None)


def test_fqn_minibatches_are_seeded_and_decrease_the_loss_over_all_samples(files):
    pytest.importorskip("jax")
    tmp, path = files
    model = load_imported_model(path).with_bits(parse_bits("4"))
    samples = load_samples(tmp / "cal.npy", {"x": model.native_shapes["x"]})
    from sw.train.qat import _batches, finetune
    order = _batches(5, 2, 5, np.random.default_rng(0))  # 2 full batches per epoch, 1 sample left over
    assert [len(b) for b in order] == [2] * 5
    for epoch in (order[0:2], order[2:4]):
        assert len(set(np.concatenate(epoch).tolist())) == 4
    _, start = finetune(model, samples, steps=0, batch=2)
    assert len(start) == 1
    plan, losses = finetune(model, samples, steps=30, batch=2, seed=1)
    again, _ = finetune(model, samples, steps=30, batch=2, seed=1)
    assert len(losses) == 31 and losses[-1] < 0.95 * start[0], (start, losses)
    assert all(np.array_equal(lp.weights, again.layers[n].weights) for n, lp in plan.layers.items()
               if lp.weights is not None)


def test_fqn_learned_scales_move_the_grids_and_decrease_the_loss(files):
    """LSQ under fine-tuning: step sizes move from the percentile start, zero points stay, pass-through
    layers follow their input, and the exported plan's weights sit on the learned scales."""
    pytest.importorskip("jax")
    tmp, path = files
    model = load_imported_model(path).with_bits(parse_bits("4"))
    samples = load_samples(tmp / "cal.npy", {"x": model.native_shapes["x"]})
    from sw.train.fakeexec import learnable_tensors
    from sw.train.qat import finetune
    _, start = finetune(model, samples, steps=0, batch=2, learn_scales=True)
    plan, losses = finetune(model, samples, steps=30, batch=2, seed=1, scale_lr=1e-2, learn_scales=True)
    assert len(losses) == 31 and losses[-1] < 0.9 * start[0], (start, losses)
    calibrated = calibrate(model, samples)
    names = learnable_tensors(model)
    ops = {l.name: l.op for l in model.graph}
    assert any(n.endswith(":pre") for n in names)  # the SiLU tables' input stages
    assert all(ops[n] not in PASS_THROUGH for n in names if n in ops)
    moved = [n for n in names if float(plan.params[n].scale) != float(calibrated[n].scale)]
    assert len(moved) == len(names), sorted(set(names) - set(moved))
    assert all(int(plan.params[n].zero_point) == int(calibrated[n].zero_point) for n in names)
    for layer in model.graph:
        if layer.op in PASS_THROUGH:
            assert plan.params[layer.name] == plan.params[layer.inputs[0]]
    # End to end through the golden model: the exported plan is closer to the float model than the start.
    begin, _ = finetune(model, samples, steps=0, learn_scales=True)

    def error(p) -> float:
        total = 0.0
        for sample in samples:
            want = run_float(model, sample)
            got = execute(model, sample, plan=p, dequantize=True).outputs
            assert sorted(got) == sorted(want)
            total += sum(float(np.mean((np.asarray(got[k], np.float64) - want[k]) ** 2)) for k in want)
        return total

    assert error(plan) < 0.9 * error(begin)


@pytest.mark.parametrize("symmetric", [False, True])
def test_fqn_learned_weight_scales_move_the_grids_and_decrease_the_loss(files, symmetric):
    """LSQ's weight half: every weight grid's per-channel step sizes move from the min/max start (0 steps: the
    min/max grid's codes), zero points stay (0 with symmetric grids, which the RTL top accepts), and the golden
    model's error drops."""
    pytest.importorskip("jax")
    tmp, path = files
    model = load_imported_model(path).with_bits(parse_bits("4"))
    samples = load_samples(tmp / "cal.npy", {"x": model.native_shapes["x"]})
    from sw.train.fakeexec import FakeQuantGraph
    from sw.train.qat import finetune
    begin, start = finetune(model, samples, steps=0, batch=2, symmetric_weights=symmetric, learn_weight_scales=True)
    plan, losses = finetune(model, samples, steps=30, batch=2, seed=1, scale_lr=1e-2, symmetric_weights=symmetric,
                            learn_weight_scales=True)
    assert len(losses) == 31 and losses[-1] < 0.9 * start[0], (start, losses)
    grids = FakeQuantGraph.from_calibration(model, calibrate(model, samples), symmetric_weights=symmetric).weight_grids
    assert grids
    for name, grid in grids.items():
        # Activation scales fixed: the real multiplier s_in s_w / s_out moves with s_w alone.
        ratio = plan.layers[name].stage.real_multiplier / begin.layers[name].stage.real_multiplier
        assert np.all(ratio != 1.0) and np.all(np.abs(np.log(ratio)) < 0.5), (name, ratio)
        np.testing.assert_array_equal(plan.layers[name].weight_zero_point, grid.zero_point)
        assert not symmetric or not np.any(plan.layers[name].weight_zero_point)
        np.testing.assert_array_equal(begin.layers[name].weights, grid.quantize(model.tensors[f"{name}.weight"]))

    def error(p) -> float:
        return sum(float(np.mean((np.asarray(execute(model, s, plan=p, dequantize=True).outputs[k], np.float64)
                                  - v) ** 2)) for s in samples for k, v in run_float(model, s).items())

    assert error(plan) < 0.9 * error(begin)


@pytest.mark.parametrize("floor_targets", [False, True])
def test_fqn_loss_with_floored_targets_matches_the_golden_model(files, floor_targets):
    """The start loss of ``fqn`` (0 steps) is the per-channel-normalised error of the golden model's dequantized
    output against the float output, raised to the range floor with ``floor_targets`` (numpy, independently)."""
    pytest.importorskip("jax")
    from sw.train.qat import finetune
    tmp, path = files
    model = load_imported_model(path).with_bits(parse_bits("4"))
    samples = load_samples(tmp / "cal.npy", {"x": model.native_shapes["x"]})
    (out,) = model.outputs
    want = np.concatenate([run_float(model, s)[out] for s in samples])
    floor = float(np.quantile(want, 0.4))  # active: 40 % of the float outputs lie below it
    plan, losses = finetune(model, samples, steps=0, floors={out: floor}, floor_targets=floor_targets)
    got = np.concatenate([execute(model, s, plan=plan, dequantize=True).outputs[out] for s in samples])
    target = np.maximum(want, floor) if floor_targets else want
    nhwc = lambda a: np.moveaxis(a, 1, -1)  # noqa: E731  (the loss normalises channels on the IR's last axis)
    var = np.var(nhwc(target).reshape(-1, target.shape[1]), axis=0)
    expected = float(np.mean((nhwc(got) - nhwc(target)) ** 2 / var))
    assert losses == pytest.approx([expected], rel=2e-3)


def test_learned_scale_gradients_stay_finite_next_to_a_near_zero_weight_channel(files):
    """A channel of ~1e-28 weights (batch norm with a vanishing gamma) has a weight scale whose square
    with the input scale underflows float32: the bias's gradient to a learned input scale was 0 / 0."""
    pytest.importorskip("jax")
    import jax
    from dataclasses import replace
    from sw.train.fakeexec import FakeQuantGraph, alias_scales, learnable_tensors

    tmp, path = files
    model = load_imported_model(path).with_bits(parse_bits("4"))
    convs = [l for l in model.graph if l.op.value == "conv"]
    second = convs[1]
    tensors = dict(model.tensors)
    w = np.array(tensors[f"{second.name}.weight"])
    w[0] = 1e-28 * np.sign(w[0])
    tensors[f"{second.name}.weight"] = w
    tensors[f"{second.name}.bias"] = np.zeros(w.shape[0])
    model = replace(model, tensors=tensors)
    samples = load_samples(tmp / "cal.npy", {"x": model.native_shapes["x"]})
    fq = FakeQuantGraph.from_calibration(model, calibrate(model, samples))
    assert float(fq.weight_grids[second.name].scale[0]) < 1e-28
    weights = jax.tree_util.tree_map(jax.numpy.asarray, fq.initial_weights())
    codes = {"x": np.concatenate([fq.input_codes(s)["x"] for s in samples])}
    names = [n for n in learnable_tensors(model) if n in fq.params]

    def total(log_s):
        scales = alias_scales(model, {k: jax.numpy.exp(v) for k, v in log_s.items()})
        env = fq.forward(weights, codes, scales)
        return sum(jax.numpy.sum(fq.dequantize(k, env[k], scales)) for k in model.graph.outputs)

    grads = jax.grad(total)({n: jax.numpy.float32(np.log(float(fq.params[n].scale))) for n in names})
    assert second.inputs[0] in grads and all(np.isfinite(float(g)) for g in grads.values()), grads


def test_export_widens_the_grid_of_a_channel_whose_trained_bias_leaves_int32(files):
    """A ~1e-28-weight channel's grid (scale ~1e-29) cannot hold a bias of 1 in int32: the export widens that
    channel as calibration would (its weights then quantize to the zero point) and leaves the others alone."""
    pytest.importorskip("jax")
    from dataclasses import replace
    from sw.quant.ints import INT32_MAX
    from sw.train.fakeexec import FakeQuantGraph

    tmp, path = files
    model = load_imported_model(path).with_bits(parse_bits("4"))
    name = next(l.name for l in model.graph if l.op.value == "conv")
    tensors = dict(model.tensors)
    w = np.array(tensors[f"{name}.weight"])
    w[0] = 1e-28 * np.sign(w[0])
    tensors[f"{name}.weight"], tensors[f"{name}.bias"] = w, np.zeros(w.shape[0])
    model = replace(model, tensors=tensors)
    samples = load_samples(tmp / "cal.npy", {"x": model.native_shapes["x"]})
    fq = FakeQuantGraph.from_calibration(model, calibrate(model, samples))
    weights = fq.initial_weights(np.float64)
    before = fq.to_plan(weights)
    trained = {k: dict(v) for k, v in weights.items()}
    trained[name]["b"] = np.array(trained[name]["b"])
    trained[name]["b"][0] = 1.0
    after = fq.to_plan(trained)
    lp, lp0 = after.layers[name], before.layers[name]
    s_in = float(fq.params[model.graph.layer(name).inputs[0]].scale)
    assert abs(int(lp.bias[0])) <= INT32_MAX and abs(int(lp.bias[0])) >= INT32_MAX // 4
    np.testing.assert_array_equal(lp.weights[0], np.full(lp.weights[0].shape, lp.weight_zero_point[0]))
    np.testing.assert_array_equal(lp.weights[1:], lp0.weights[1:])
    np.testing.assert_array_equal(lp.bias[1:], lp0.bias[1:])
    # The bias still means 1.0: code x s_in x (the widened channel's scale).
    widened = 1.0 / (s_in * float(lp.bias[0]))
    assert 2 * 1.0 / (s_in * INT32_MAX) <= widened * 1.0001


def test_ablation_switches_per_tensor_weights_and_minmax_ranges(files):
    """FQN's ablation baselines: one weight grid per layer; activation ranges at the observed extremes."""
    tmp, path = files
    model = load_imported_model(path).with_bits(parse_bits("4"))
    samples = load_samples(tmp / "cal.npy", {"x": model.native_shapes["x"]})
    plan = quantize_plan(model, samples, "ptq", ranges="minmax", granularity="per_tensor")
    per_channel = quantize_plan(model, samples, "ptq", ranges="minmax")
    x = np.concatenate([s["x"] for s in samples])
    assert plan.params["x"] == params_from_range(float(x.min()), float(x.max()), 4, True)
    for name, lp in plan.layers.items():
        if lp.weights is None:
            continue
        codes = lp.weights.reshape(lp.weights.shape[0], -1)
        assert np.unique(lp.weight_zero_point).size == 1
        # Per channel every channel spans its grid; one grid per layer leaves narrower channels inside it.
        lo, hi = int(codes.min()), int(codes.max())
        assert hi - lo == 15  # the layer's weights span the 4-bit grid
        assert np.sum((codes.min(axis=1) == lo) & (codes.max(axis=1) == hi)) < codes.shape[0]
        assert not np.array_equal(lp.weights, per_channel.layers[name].weights)
    with pytest.raises(ValueError, match="granularity 'per_tensor': methods 'ptq' and 'fqn' only"):
        quantize_plan(model, samples, "gptq", granularity="per_tensor")


def test_first_last_sets_the_widths_of_the_outer_weighted_layers(files):
    tmp, path = files
    assert _cli("quantize", path, "--bits", "4", "--first-last", "8", "--calibration", tmp / "cal.npy",
                "--out", tmp / "q.npz") == 0
    model = load_imported_model(path)
    bits = load_quantized(tmp / "q.npz", model, path).bits
    weighted = [l.name for l in model.graph if l.op.value == "conv"]
    assert bits[weighted[0]] == (8, 8)
    assert all(bits[n] == (4, 4) for n in weighted[1:])


def test_fqn_without_the_train_extra_is_a_one_line_error(files):
    tmp, path = files
    code = ("import sys; sys.modules['jax'] = None; import hwsim.app.cli as c; "
            f"sys.exit(c.main(['quantize', {str(path)!r}, '--method', 'fqn', '--calibration', "
            f"{str(tmp / 'cal.npy')!r}, '--out', {str(tmp / 'q.npz')!r}]))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=Path(__file__).resolve().parents[2])
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "hwsim quantize: error: the fake-quant executor (sw.train) needs the optional package 'jax': "
        "pip install 'hwsim[train]'"]
    assert not (tmp / "q.npz").exists()


def test_simulate_runs_at_the_quantized_files_widths(files):
    """``simulate --quantized`` charges each layer at the file's widths: equal to simulating the graph
    rebuilt at those widths by the bit policy (first/last layers 8-bit, the rest 4-bit)."""
    tmp, model_path = files
    qfile, out, ref = tmp / "q.npz", tmp / "s.json", tmp / "r.json"
    assert _cli("quantize", model_path, "--bits", "4", "--first-last", "8", "--calibration", tmp / "cal.npy",
                "--symmetric-weights", "--out", qfile) == 0
    assert _cli("simulate", "--model", model_path, "--quantized", qfile, "--json", out, "--no-layers") == 0
    from sw.train.methods import with_first_last
    widths = {l.name: (l.w_bits, l.a_bits)
              for l in with_first_last(load_imported_model(model_path).with_bits(parse_bits("4")), 8).graph}
    layers = json.loads(out.read_text())["layers"]
    assert {l["name"]: (l["w_bits"], l["a_bits"]) for l in layers} == widths
    assert {8, 4} <= {w for w, _ in widths.values()}  # both widths occur
    assert _cli("simulate", "--model", model_path, "--bits", "4", "--json", ref, "--no-layers") == 0
    assert json.loads(ref.read_text())["total"] != json.loads(out.read_text())["total"]
    assert _cli("simulate", "--model", model_path, "--quantized", qfile, "--bits", "8") == 2


def test_simulate_rejects_weight_zero_points_the_array_cannot_multiply(files, capsys):
    """A file with asymmetric weight grids runs on the golden model but not on the accelerator: simulate
    refuses it (exit 2, one line naming the file and a layer) instead of timing it."""
    tmp, model_path = files
    qfile = tmp / "q.npz"
    assert _cli("quantize", model_path, "--bits", "4", "--calibration", tmp / "cal.npy", "--out", qfile) == 0
    model = load_imported_model(model_path)
    plan = load_quantized(qfile, model, model_path).plan
    layers = plan.asymmetric_weight_layers()
    assert layers and all(np.any(plan.layers[n].weight_zero_point) for n in layers)
    capsys.readouterr()
    assert _cli("simulate", "--model", model_path, "--quantized", qfile, "--no-layers") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(qfile) in err[0] and f"layer '{layers[0]}'" in err[0]
    assert "--symmetric-weights" in err[0]


def test_mse_ranges_quantize_the_activations_more_accurately_at_4_bits(tmp_path):
    """Every activation tensor's quantization MSE on the calibration data is at most the percentile range's."""
    model_proto, _ = MODELS["silu_resize_concat"]()
    onnx.save(model_proto, tmp_path / "m.onnx")
    model = load_imported_model(tmp_path / "m.onnx").with_bits(parse_bits("4"))
    shape = model.native_shapes[model.input_names[0]]
    samples = [{model.input_names[0]: x} for x in np.random.default_rng(2).normal(size=(3, *shape[1:]))[:, None]]
    mse, pct = calibrate(model, samples, ranges="mse"), calibrate(model, samples)
    values: dict[str, list[np.ndarray]] = {}
    for sample in samples:
        run_float(model, sample, lambda key, v: values.setdefault(key, []).append(np.ravel(v)))
    shared = {l.name for l in model.graph if l.op in PASS_THROUGH}  # pools etc. take their input's parameters
    checked = 0
    for key, p in mse.items():
        if key not in values or key in shared:
            continue
        x = np.concatenate(values[key])
        assert float(quantization_mse(x, p)) <= float(quantization_mse(x, pct[key])) * (1 + 1e-9), key
        checked += 1
    assert checked >= 5
    with pytest.raises(ValueError, match="ranges: expected one of percentile, mse"):
        calibrate(model, samples, ranges="max")


def test_fqn_warmup_starts_at_a_fraction_of_the_learning_rate(files):
    """Warm-up over W steps: the first step runs at lr / (W + 1), so one step with W = 3 at 4 x lr is the
    step without warm-up at lr (the loss after it, on all samples, is equal to the last bit), and not the
    step at 4 x lr."""
    pytest.importorskip("jax")
    tmp, path = files
    model = load_imported_model(path).with_bits(parse_bits("4"))
    samples = load_samples(tmp / "cal.npy", {"x": model.native_shapes["x"]})
    from sw.train.qat import finetune
    n = len(samples)
    _, warm = finetune(model, samples, steps=1, batch=n, lr=4e-2, warmup=3)
    _, plain = finetune(model, samples, steps=1, batch=n, lr=1e-2)
    _, fast = finetune(model, samples, steps=1, batch=n, lr=4e-2)
    assert warm == plain and warm[1] != fast[1], (warm, plain, fast)
    with pytest.raises(ValueError, match="warmup: expected >= 0"):
        finetune(model, samples, steps=1, warmup=-1)
