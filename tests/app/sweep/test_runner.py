"""Running a sweep: outputs, determinism, resume after an interruption or a kill, failed points."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hwsim.app.sweep.executors import local_processes, serial
from hwsim.app.sweep.runner import plan_tasks, run_sweep
from hwsim.app.sweep.spec import load_sweep
from tests.app.sweep.conftest import counting

ROOT = Path(__file__).resolve().parents[3]
OUTPUTS = ("results.csv", "failed.csv", "pareto.csv", "pareto.md")


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> dict[str, str]:
    """Outputs of one uninterrupted in-process run of the small sweep."""
    from tests.app.sweep.conftest import SMALL_SWEEP
    folder = tmp_path_factory.mktemp("ref")
    (folder / "s.toml").write_text(SMALL_SWEEP)
    run_sweep(load_sweep(folder / "s.toml"), folder / "out", serial, quiet=True)
    return {name: (folder / "out" / name).read_text() for name in OUTPUTS}


def _outputs(out: Path) -> dict[str, str]:
    return {name: (out / name).read_text() for name in OUTPUTS}


def test_outputs_rows_and_pareto(reference, sweep_file, tmp_path):
    rows = reference["results.csv"].splitlines()
    header = rows[0].split(",")
    assert header[:7] == ["key", "model", "bits", "array.rows", "array.cols", "memory.dram_bytes_per_cycle",
                          "requant_lanes"]
    assert {"latency_ms", "fps", "energy_mj", "utilization", "dram_bytes", "sram_bytes", "macs",
            "area_cells"} <= set(header)
    assert len(rows) == 1 + 10
    assert reference["failed.csv"].count("invalid design") == 2
    assert "## yolov3_tiny_416: latency_ms vs energy_mj" in reference["pareto.md"]
    run_sweep(load_sweep(sweep_file), tmp_path / "o", serial, quiet=True)
    pngs = sorted(p.name for p in (tmp_path / "o").glob("*.png"))
    assert pngs == ["pareto_yolov3_tiny_416_energy_mj_area_cells.png", "pareto_yolov3_tiny_416_latency_ms_energy_mj.png"]


def test_local_processes_give_identical_rows(reference, sweep_file, tmp_path):
    run_sweep(load_sweep(sweep_file), tmp_path / "o", lambda: local_processes(2), quiet=True)
    assert _outputs(tmp_path / "o") == reference


def test_resume_after_interruption_recomputes_nothing(reference, sweep_file, tmp_path):
    spec, out = load_sweep(sweep_file), tmp_path / "o"
    first: list[str] = []
    with pytest.raises(KeyboardInterrupt):
        run_sweep(spec, out, counting(first, crash_after=4), quiet=True)
    assert len((out / "results.jsonl").read_text().splitlines()) == 4 and not (out / "results.csv").exists()
    with (out / "results.jsonl").open("ab") as f:
        f.write(b'{"key":"0123')  # and a torn line, as a crash mid-write leaves
    second: list[str] = []
    summary = run_sweep(spec, out, counting(second), quiet=True)
    assert summary.dropped_torn_line and summary.resumed == 4 and summary.computed == 6
    assert not set(first) & set(second) and len(set(first) | set(second)) == 10
    assert _outputs(out) == reference
    third: list[str] = []
    assert run_sweep(spec, out, counting(third), quiet=True).computed == 0 and third == []
    assert _outputs(out) == reference


def test_resume_after_sigkill(reference, sweep_file, tmp_path):
    out = tmp_path / "o"
    code = ("import sys; "
            "from hwsim.app.sweep.runner import run_sweep; from hwsim.app.sweep.spec import load_sweep; "
            "from hwsim.app.sweep.executors import serial; import time; import hwsim.app.sweep.row as row; "
            "f = row.run_task; row.run_task = lambda t: (time.sleep(0.3), f(t))[1]; "
            "import hwsim.app.sweep.runner as r; r.run_task = row.run_task; "
            f"run_sweep(load_sweep({str(sweep_file)!r}), {str(out)!r}, serial, quiet=True)")
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    log = out / "results.jsonl"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and (not log.exists() or log.read_text().count("\n") < 3):
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    killed_at = log.read_text().count("\n")
    assert 3 <= killed_at < 10 and not (out / "results.csv").exists()
    calls: list[str] = []
    summary = run_sweep(load_sweep(sweep_file), out, counting(calls), quiet=True)
    assert summary.resumed == killed_at and len(calls) == 10 - killed_at
    assert _outputs(out) == reference


def test_failed_points_are_recorded_and_strict_stops(tmp_path):
    sweep = tmp_path / "f.toml"
    sweep.write_text('[sweep]\nbase = "edge16_int4"\nmodels = ["yolov3_tiny_416"]\n'
                     '[grid]\n"memory.weight_sram_bytes" = [131072, 16]\n')
    summary = run_sweep(load_sweep(sweep), tmp_path / "o", serial, quiet=True)
    assert summary.computed == 2 and len(summary.failed) == 1
    assert "[memory.weight_sram_bytes=16]: layer '" in summary.failed[0] and "\n" not in summary.failed[0]
    assert len((tmp_path / "o" / "results.csv").read_text().splitlines()) == 2
    with pytest.raises(ValueError, match=r"point yolov3_tiny_416 \[memory.weight_sram_bytes=16\].*\(--strict\)"):
        run_sweep(load_sweep(sweep), tmp_path / "o", serial, strict=True, quiet=True)


def test_task_keys_are_unique(sweep_file):
    tasks = plan_tasks(load_sweep(sweep_file))
    assert len({t.key for t in tasks}) == len(tasks) == 10
