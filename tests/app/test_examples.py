"""The files in ``examples/`` work as the README says."""

from __future__ import annotations

import csv
from pathlib import Path

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
