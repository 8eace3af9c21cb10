"""The files in ``examples/`` work as the README says."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from hwsim.app import cli
from hwsim.app.sweep.spec import load_sweep
from hwsim.configfile import load_config

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_example_config_loads_with_its_provenance():
    cfg = load_config(str(EXAMPLES / "custom_edge.toml"))
    assert cfg.name == "custom_edge" and cfg.clock_mhz == 400.0 and cfg.memory.weight_sram_bytes == 262144
    assert cfg.provenance["clock_mhz"] == "[user: custom_edge.toml]"
    assert cfg.provenance["memory.dram_bytes_per_cycle"].startswith("[assumed: LPDDR4x")
    assert cfg.array.rows == load_config("edge16_int4").array.rows  # the rest comes from the preset


def test_small_sweep_runs(tmp_path, capsys):
    assert cli.main(["sweep", str(EXAMPLES / "sweep_small.toml"), "--out", str(tmp_path), "--jobs", "1",
                     "--quiet"]) == 0
    with (tmp_path / "results.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 2 * 2 * 5
    assert {r["model"] for r in rows} == {"yolov3_tiny_416", "mobilenet_ssd_300"}
    assert all(float(r["latency_ms"]) > 0 for r in rows)


def test_benchmark_sweep_is_the_documented_size():
    spec = load_sweep(EXAMPLES / "sweep_benchmark.toml")
    assert (len(spec.models), len(spec.bits), len(spec.designs), len(spec.invalid)) == (3, 1, 200, 0)


def _vector_files() -> dict[str, bytes]:
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_vectors", EXAMPLES / "cosim" / "make_vectors.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.files()


def test_shipped_cosim_vectors_are_what_their_script_writes():
    for name, data in _vector_files().items():
        assert (EXAMPLES / "cosim" / name).read_bytes() == data, name


@pytest.mark.parametrize("design, extra", [
    ("requant", []),
    ("mac", ["--config", "edge16_int4", "--w-bits", "8", "--a-bits", "8"]),
    ("array", ["--config", "edge16_int4"]),
])
def test_cosim_examples_match_the_golden_model(tmp_path, capsys, design, extra):
    out = tmp_path / "o.npz"
    assert cli.main(["cosim", design, "--vectors", str(EXAMPLES / "cosim" / f"{design}.npz"), "--out", str(out),
                     "--backend", "amaranth", *extra]) == 0
    line = capsys.readouterr().out.strip()
    n, matched = int(line.split()[1]), int(line.split(",")[1].split()[0])
    assert n > 0 and n == matched and out.exists()
