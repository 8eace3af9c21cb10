"""``hwsim run``: int8 TFLite bit-exact vs BUILTIN_REF, float models calibrated, bad input -> exit 2."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest

import hwsim.app.cli
from sw.graph.bits import BitPolicy, parse_bits
from tests.importers.onnx_models import MODELS
from oracles.tflite_ref import run_model
from tests.runtime.tflite_models import chain_model


@pytest.fixture
def cli():
    """``hwsim run ARGV...`` through the CLI entry point; returns the exit status."""
    return lambda *argv: hwsim.app.cli.main(["run", *map(str, argv)])


@pytest.mark.parametrize("seed, int4", [(0, False), (1, False), (2, True), (3, True)])
def test_int8_tflite_run_is_bit_exact_with_builtin_ref(cli, tmp_path, seed, int4):
    data = chain_model(seed, int4=int4)
    model = tmp_path / "chain.tflite"
    model.write_bytes(data)
    x = np.random.default_rng(seed + 10).integers(-128, 128, (1, 10, 10, 4)).astype(np.int8)
    np.save(tmp_path / "x.npy", x)
    assert cli(model, "--input", tmp_path / "x.npy", "--output", tmp_path / "y.npz") == 0
    expected = run_model(data, [x])
    with np.load(tmp_path / "y.npz") as got:
        assert list(got.files) == ["fc", "a1"]
        for name, ref in zip(got.files, expected):
            assert got[name].dtype == np.int8 and got[name].shape == ref.shape
            assert np.count_nonzero(got[name] != ref) == 0
        assert np.unique(got["a1"]).size > 20


def test_float_onnx_run_writes_codes_or_dequantized_values(cli, tmp_path):
    model, _ = MODELS["silu_resize_concat"]()
    path = tmp_path / "m.onnx"
    onnx.save(model, path)
    x = np.random.default_rng(0).normal(size=(1, 4, 12, 12)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    ref = ort.InferenceSession(str(path)).run(None, {"x": x})[0]
    assert cli(path, "--input", tmp_path / "x.npy", "--output", tmp_path / "q.npy", "--bits", "8") == 0
    codes = np.load(tmp_path / "q.npy")
    assert codes.dtype == np.int8 and codes.shape == ref.shape
    assert cli(path, "--input", tmp_path / "x.npy", "--output", tmp_path / "d.npy", "--dequantize") == 0
    real8 = np.load(tmp_path / "d.npy")
    assert np.abs(real8 - ref).mean() < 0.05 * np.abs(ref).mean()
    np.save(tmp_path / "cal.npy", np.random.default_rng(1).normal(size=(4, 4, 12, 12)))
    assert cli(path, "--input", tmp_path / "x.npy", "--output", tmp_path / "d4.npy", "--dequantize",
               "--bits", "backbone=4,neck=4,head=4/8", "--calibration", tmp_path / "cal.npy") == 0
    real4 = np.load(tmp_path / "d4.npy")
    assert np.abs(real8 - ref).mean() < np.abs(real4 - ref).mean() < 0.5 * np.abs(ref).mean()
    assert cli(path, "--input", tmp_path / "x.npy", "--output", tmp_path / "f.npy", "--float") == 0
    np.testing.assert_allclose(np.load(tmp_path / "f.npy"), ref, atol=1e-5)


def test_parse_bits():
    assert parse_bits("4") == BitPolicy(default=(4, 4))
    assert parse_bits("4/8") == BitPolicy(default=(4, 8))
    assert parse_bits("backbone=4,head=4/8") == BitPolicy(parts={"backbone": (4, 4), "head": (4, 8)})
    with pytest.raises(ValueError, match="unknown part 'tail'"):
        parse_bits("tail=4")
    with pytest.raises(ValueError, match="expected a width like 4, w4a8 or 4/8"):
        parse_bits("four")
    assert parse_bits("w4a8,head=32") == BitPolicy(default=(4, 8), parts={"head": (32, 32)})


@pytest.mark.parametrize("model_arg, message", [
    ("resnet18", "is a zoo model: it has shapes but no weights"),
    ("missing.onnx", "missing.onnx: no such file"),
    ("model.pt", "model.pt: expected an .onnx or .tflite model file"),
    ("trunc.tflite", "trunc.tflite: not a"),
])
def test_bad_models_exit_2_with_one_line(cli, tmp_path, capsys, monkeypatch, model_arg, message):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "trunc.tflite").write_bytes(chain_model()[:100])
    np.save(tmp_path / "x.npy", np.zeros((1, 10, 10, 4), np.int8))
    assert cli(model_arg, "--input", "x.npy", "--output", "y.npz") == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err
    assert not (tmp_path / "y.npz").exists()


def test_bad_input_arrays_exit_2(cli, tmp_path, capsys):
    model = tmp_path / "chain.tflite"
    model.write_bytes(chain_model())
    np.save(tmp_path / "wrong.npy", np.zeros((1, 9, 10, 4), np.int8))
    (tmp_path / "junk.npy").write_bytes(b"\x93NUMPY garbage")
    for name, message in [("wrong.npy", "expected shape (1, 10, 10, 4)"), ("junk.npy", "junk.npy: cannot read"),
                          ("absent.npy", "absent.npy: no such file")]:
        assert cli(model, "--input", tmp_path / name, "--output", tmp_path / "y.npz") == 2
        assert message in capsys.readouterr().err
    np.save(tmp_path / "x.npy", np.zeros((1, 10, 10, 4), np.int8))
    assert cli(model, "--input", tmp_path / "x.npy", "--output", tmp_path / "y.npy") == 2
    assert "has 2 outputs (fc, a1); write a .npz" in capsys.readouterr().err
    assert cli(model, "--input", tmp_path / "x.npy", "--output", tmp_path / "y.npz", "--bits", "4") == 2
    assert "pre-quantized" in capsys.readouterr().err


def test_fully_connected_tie_cases_bit_exact(tmp_path):
    """Many near-tie FC outputs: TFLite's reference FC rounds once (see sw.runtime.integer)."""
    from sw.graph.importers.tflite_import import load_tflite
    from sw.runtime.executor import execute
    from oracles.tflite_ref import build_fully_connected

    rng = np.random.default_rng(5)
    w_scales = np.float32(rng.uniform(0.005, 0.01, 64)).astype(np.float64)
    w = rng.integers(-127, 128, (64, 32))
    data = build_fully_connected((1, 32), float(np.float32(0.05)), -10, w, w_scales, rng.integers(-5000, 5000, 64),
                                 float(np.float32(0.05)), 2)
    (tmp_path / "fc.tflite").write_bytes(data)
    model = load_tflite(tmp_path / "fc.tflite")
    mismatches = 0
    for _ in range(300):
        x = rng.integers(-128, 128, (1, 32)).astype(np.int8)
        (expected,) = run_model(data, [x])
        mismatches += np.count_nonzero(execute(model, {"x": x}).outputs["y"] != expected)
    assert mismatches == 0
