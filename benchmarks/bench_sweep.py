"""Benchmark ``hwsim sweep``: 200 designs x 3 detectors, local processes vs a 2-worker Dask LocalCluster.

Prints wall time and points/s of each (one point = one (model, design) simulation) and checks
that both runs wrote identical rows. Run from the repository root::

    python benchmarks/bench_sweep.py
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from hwsim.app.sweep.executors import dask_cluster, local_processes
from hwsim.app.sweep.runner import run_sweep
from hwsim.app.sweep.spec import load_sweep

#: The sweep file shipped as an example (200 designs x 3 detectors).
SWEEP = (Path(__file__).resolve().parents[1] / "examples" / "sweep_benchmark.toml").read_text()


def _timed(label: str, spec, out: Path, executor) -> tuple[float, str]:
    start = time.perf_counter()
    summary = run_sweep(spec, out, executor, quiet=True)
    wall = time.perf_counter() - start
    assert summary.computed == summary.points and not summary.failed, summary
    print(f"{label:<34} {summary.points:>6} {wall:>8.1f} {summary.points / wall:>9.2f}")
    return wall, (out / "results.csv").read_text()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "bench.toml").write_text(SWEEP)
        spec = load_sweep(root / "bench.toml")
        print(f"date: {datetime.now(timezone.utc).isoformat(timespec='seconds')}")
        print(f"machine: {os.cpu_count()} logical cores; python {platform.python_version()}; "
              f"load average before the run: {os.getloadavg()[0]:.2f}")
        print(f"sweep: {len(spec.designs)} designs x {len(spec.models)} detectors x {len(spec.bits)} bits "
              f"= {len(spec.designs) * len(spec.models) * len(spec.bits)} points, fast mode\n")
        print(f"{'executor':<34} {'points':>6} {'wall s':>8} {'points/s':>9}")
        local_wall, local_csv = _timed("local processes (2)", spec, root / "local",
                                       lambda: local_processes(2))
        dask_wall, dask_csv = _timed("Dask LocalCluster (2 workers)", spec, root / "dask",
                                     lambda: dask_cluster(None, 2))
        same = local_csv == dask_csv
        rows = local_csv.count("\n") - 1
        print(f"\nidentical rows local vs Dask: {'yes' if same else 'NO'} ({rows} rows, results.csv byte-equal)")
        print(f"target < 60 s on 2 cores: local {'MET' if local_wall < 60 else 'NOT MET'} ({local_wall:.1f} s), "
              f"Dask {'MET' if dask_wall < 60 else 'NOT MET'} ({dask_wall:.1f} s, incl. cluster start-up)")
        print(f"load average after the run: {os.getloadavg()[0]:.2f} (another process on the cores inflates times)")
        return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
