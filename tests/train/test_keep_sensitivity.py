"""``--keep8`` mixed-width policy, per-layer sensitivity and the score-logit range floor."""

from __future__ import annotations

import json
import math
from dataclasses import replace

import numpy as np
import onnx
import pytest

import hwsim.app.cli
from sw.data.models import blazeface_path
from sw.detect.families import FAMILIES, SCORE_LOGIT_FLOOR
from sw.graph import load_imported_model
from sw.graph.bits import parse_bits
from sw.quant.ranges import params_from_range
from sw.runtime.executor import calibrate, calibration_ranges, floor_ranges, range_observers
from sw.runtime.floatexec import run_float
from sw.runtime.integer import PASS_THROUGH, plan_calibrated, run_integer
from sw.runtime.qmodel import load_quantized
from sw.train.keep import KeepPolicy, kept_layers, parse_keep
from sw.train.sensitivity import LayerSensitivity, layer_sensitivity, sqnr_db, weighted_layers
from tests.importers.onnx_models import MODELS


def _cli(*argv) -> int:
    return hwsim.app.cli.main([*map(str, argv)])


@pytest.fixture
def small(tmp_path):
    """A float ONNX model with several conv layers and its calibration samples."""
    proto, _ = MODELS["silu_resize_concat"]()
    path = tmp_path / "m.onnx"
    onnx.save(proto, path)
    model = load_imported_model(path)
    shape = model.native_shapes[model.input_names[0]]
    rng = np.random.default_rng(0)
    cal = rng.normal(size=(3, *shape[1:]))
    np.save(tmp_path / "cal.npy", cal)
    samples = [{model.input_names[0]: cal[i:i + 1]} for i in range(3)]
    return tmp_path, path, model, samples


def test_parse_keep_rules_and_errors():
    assert parse_keep("first:2,last:3,sensitive:4") == KeepPolicy(first=2, last=3, sensitive=4)
    assert parse_keep("sensitive:1") == KeepPolicy(sensitive=1)
    for bad, words in (("first", "first:K"), ("middle:2", "first:K"), ("first:1,first:2", "twice"),
                       ("last:x", "whole number"), ("last:-1", ">= 0")):
        with pytest.raises(ValueError, match=words):
            parse_keep(bad)


def test_kept_layers_first_last_then_the_least_sqnr_of_the_rest(small):
    _, _, model, _ = small
    names = weighted_layers(model)
    assert len(names) == 3
    assert kept_layers(model, KeepPolicy(first=1, last=1)) == (names[0], names[2])
    assert kept_layers(model, KeepPolicy(last=2)) == (names[1], names[2])
    # hand-made sensitivities: SQNR names[0] 1 dB (kept by first:1 already), names[2] 2 dB, names[1] 3 dB
    sqnr = {names[0]: 1.0, names[1]: 3.0, names[2]: 2.0}
    rows = [LayerSensitivity(layer=n, bits=(4, 4), output_sqnr_db={"y": v, "z": math.inf}) for n, v in sqnr.items()]
    assert kept_layers(model, KeepPolicy(first=1, sensitive=1), rows) == (names[0], names[2])
    assert kept_layers(model, KeepPolicy(sensitive=2), rows) == (names[0], names[2])
    with pytest.raises(ValueError, match="sensitivity"):
        kept_layers(model, KeepPolicy(sensitive=1))
    with pytest.raises(ValueError, match="only"):
        kept_layers(model, KeepPolicy(last=len(names) + 1))


def test_sqnr_by_hand():
    # signal 3^2 + 4^2 + 0 = 25, noise (5 - 4)^2 + 0.5^2 = 1.25: 10 log10(20)
    assert sqnr_db([np.array([3.0, 4.0]), np.array([0.0])], [np.array([3.0, 5.0]), np.array([0.5])]) == \
        pytest.approx(10 * math.log10(20))
    assert sqnr_db([np.array([1.0])], [np.array([1.0])]) == math.inf


@pytest.mark.parametrize("key", ["silu_resize_concat", "hardsigmoid_gap_gemm"])
def test_sensitivity_equals_a_whole_integer_run_with_one_layer_at_the_low_width(tmp_path, key):
    """The prefix-reusing measurement against run_integer of the whole single-layer model."""
    proto, _ = MODELS[key]()
    onnx.save(proto, tmp_path / "m.onnx")
    model = load_imported_model(tmp_path / "m.onnx")
    name = model.input_names[0]
    rng = np.random.default_rng(0)
    samples = [{name: rng.normal(size=model.native_shapes[name])} for _ in range(3)]
    low = model.with_bits(parse_bits("4"))
    rows = layer_sensitivity(low, samples)
    assert [r.layer for r in rows] == weighted_layers(low)
    refs = [run_float(model, s) for s in samples]
    floating = model.graph.with_bits(default=(32, 32))
    for row in rows:
        # the layer, and a pool / pad feeding it (sharing its input grid), at 4 bits; the rest float
        feed = [l.name for l in model.graph if l.op in PASS_THROUGH and l.name in model.graph.layer(row.layer).inputs]
        single = replace(model, graph=floating.with_bits(layers={n: (4, 4) for n in (row.layer, *feed)}))
        params = calibrate(single, samples)
        plan = plan_calibrated(single, params)
        outs = [run_integer(single, plan, {name: np.asarray(s[name], np.float64)}) for s in samples]
        for out_name, got in row.output_sqnr_db.items():
            approx = [o[out_name] if o[out_name].dtype.kind == "f" else params[out_name].dequantize(o[out_name])
                      for o in outs]
            assert got == pytest.approx(sqnr_db([r[out_name] for r in refs], approx), rel=1e-9)
    # every layer alone at 8 bits disturbs the outputs less than at 4 bits
    rows8 = layer_sensitivity(model.with_bits(parse_bits("8")), samples)
    assert all(r8.sqnr_db > r4.sqnr_db for r8, r4 in zip(rows8, rows))


def test_blazeface_score_logits_are_the_classificators():
    fam = FAMILIES["blazeface"]
    assert fam.score_logit_outputs(["regressors", "classificators"], [(1, 896, 16), (1, 896, 1)]) == ("classificators",)
    assert fam.score_logit_outputs(["classificators", "regressors"], [(1, 896, 1), (1, 896, 16)]) == ("classificators",)
    assert FAMILIES["picodet"].score_logit_outputs(["a", "b"], [(1, 10, 10), (1, 10, 32)]) == ()
    assert 1 / (1 + math.exp(-SCORE_LOGIT_FLOOR)) < 3.4e-4


def test_floor_reaches_the_output_its_tail_and_its_producing_layers():
    model = load_imported_model(blazeface_path("short_range"))
    ranges = {"classificators": (-413.0, 2.0), "reshape": (-300.0, 1.0), "reshape_2": (-413.0, 2.0),
              "classificator_8": (-300.0, 1.0), "classificator_16": (-413.0, -9.0), "regressors": (-50.0, 60.0),
              "conv2d_16": (-20.0, 30.0)}
    got = floor_ranges(model, ranges, {"classificators": -8.0})
    assert got == {"classificators": (-8.0, 2.0), "reshape": (-8.0, 1.0), "reshape_2": (-8.0, 2.0),
                   "classificator_8": (-8.0, 1.0), "classificator_16": (-8.0, -8.0), "regressors": (-50.0, 60.0),
                   "conv2d_16": (-20.0, 30.0)}
    with pytest.raises(ValueError, match="not an output"):
        floor_ranges(model, ranges, {"conv2d_16": -8.0})


def test_calibrated_score_logits_start_at_the_floor():
    model = load_imported_model(blazeface_path("short_range"))
    rng = np.random.default_rng(0)
    samples = [{model.input_names[0]: rng.uniform(-1, 1, size=(1, 128, 128, 3))} for _ in range(2)]
    raw = calibration_ranges(model, samples, {"p": range_observers(model, len(samples))})["p"]
    floor = -2.0
    floored = calibrate(model, samples, floors={"classificators": floor})
    free = calibrate(model, samples)
    for key in ("classificators", "classificator_8", "classificator_16"):
        lb, ub = raw[key]
        assert lb < floor  # the floor is active on this data
        assert floored[key] == params_from_range(floor, max(ub, floor), 8, True)
    assert floored["regressors"] == free["regressors"] and floored["conv2d_16"] == free["conv2d_16"]


def test_keep8_and_sensitivity_file_from_the_command(small, capsys):
    tmp, path, model, _ = small
    assert _cli("quantize", path, "--bits", "4", "--keep8", "first:1,sensitive:1", "--calibration", tmp / "cal.npy",
                "--out", tmp / "q.npz", "--sensitivity", tmp / "s.json", "--sensitivity-samples", 2) == 0
    report = json.loads((tmp / "s.json").read_text())
    names = weighted_layers(model)
    assert [r["layer"] for r in report["layers"]] == names and report["samples"] == 2
    rest = [r for r in report["layers"][1:]]
    worst = min(rest, key=lambda r: math.inf if r["sqnr_db"] is None else r["sqnr_db"])["layer"]
    loaded = load_quantized(tmp / "q.npz", model, path)
    assert loaded.provenance["kept"] == [n for n in names if n in (names[0], worst)]
    assert {n for n in names if loaded.bits[n] == (8, 8)} == {names[0], worst}
    assert all(loaded.bits[n] == (4, 4) for n in names if n not in (names[0], worst))
    assert _cli("quantize", path, "--bits", "4", "--keep8", "first:1,sensitive:1", "--calibration", tmp / "cal.npy",
                "--out", tmp / "q2.npz", "--sensitivity-from", tmp / "s.json") == 0
    assert load_quantized(tmp / "q2.npz", model, path).provenance["kept"] == loaded.provenance["kept"]
    capsys.readouterr()
    assert _cli("quantize", path, "--bits", "8", "--keep8", "sensitive:1", "--calibration", tmp / "cal.npy",
                "--out", tmp / "r.npz", "--sensitivity-from", tmp / "s.json") == 2
    assert "differ" in capsys.readouterr().err
    assert _cli("quantize", path, "--keep8", "top:3", "--calibration", tmp / "cal.npy", "--out", tmp / "r.npz") == 2
    assert _cli("quantize", path, "--keep8", "first:1", "--first-last", "8", "--calibration", tmp / "cal.npy",
                "--out", tmp / "r.npz") == 2
    assert _cli("quantize", path, "--score-floor", "-4", "--calibration", tmp / "cal.npy", "--out", tmp / "r.npz") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 3 and "--keep8" in err[0] and "--first-last" in err[1] and "--score-floor" in err[2]
