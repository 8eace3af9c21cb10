"""Whole-network simulation speed of ``hwsim simulate`` (fast path) on this machine.

For RetinaNet-R50-FPN and YOLOv3-416 (preset ``edge16_int4``, the models' default 4 bits) prints:

* **cold**: the first ``simulate_graph`` call of a fresh process (a subprocess per run: imports and
  model build excluded, the mapping search of every distinct layer included, nothing memoised),
  wall and CPU (``process_time``) seconds, median and best of ``--cold-runs``;
* **memoised**: in process, best of 3 after a warm-up (mappings and loop trees memoised; model
  build included);
* with ``--baseline DIR`` (another checkout of this repository, e.g. a ``git worktree`` of an
  older commit), the same cold runs of that code, interleaved with ours so both see the same load;
* the load average before and after, peak RSS, and the speed ratio against SCALE-Sim: measured on
  the same SCALE-Sim topology when the ``scalesim`` package is installed, otherwise against its
  published per-cycle wall time (0.4 ms per simulated cycle, the fast end of SCALE-Sim's measured
  0.4-1 ms; a reference figure, not measured here).

Run: ``python benchmarks/bench_sim.py [--cold-runs N] [--baseline DIR]``. Exit status 1 if a target
(cold median) or the RSS limit is missed.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCALESIM_S_PER_CYCLE = 0.4e-3  # [reference figure: SCALE-Sim 3.0 measured at 0.4-1 ms per cycle on this machine class]
#: (model, cold target s, memoised target s)
TARGETS = (("retinanet_r50_fpn", 0.2, 0.2), ("yolov3_416", 1.0, 1.0))
TOPOLOGY = ROOT / "tests" / "fixtures" / "scalesim" / "yolo_tiny.csv"
PRESET = "edge16_int4"


def child(root: str, model: str, preset: str) -> None:
    """One cold run in this (fresh) process, code imported from ``root``: prints JSON seconds and cycles."""
    sys.path.insert(0, root)
    from hwsim.configfile import load_config
    from hwsim.simulate import simulate_graph
    from sw.graph import load_model

    cfg, graph = load_config(preset), load_model(model)
    w0, c0 = time.perf_counter(), time.process_time()
    result = simulate_graph(graph, cfg)
    wall, cpu = time.perf_counter() - w0, time.process_time() - c0
    print(json.dumps({"wall": wall, "cpu": cpu, "cycles": result.total["cycles"]}))


def cold(root: Path, model: str, preset: str = PRESET) -> dict:
    """Run :func:`child` in a fresh interpreter."""
    out = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--child", str(root), model, preset],
                         capture_output=True, text=True, check=True, env={**os.environ, "PYTHONPATH": str(root)})
    return json.loads(out.stdout.strip().splitlines()[-1])


def memoised(model: str, preset: str = PRESET) -> tuple[float, float, int]:
    """``(wall s, CPU s, cycles)``: best of 3 in-process runs after a warm-up (model build included)."""
    sys.path.insert(0, str(ROOT))
    from hwsim.configfile import load_config
    from hwsim.simulate import simulate_graph
    from sw.graph import load_model

    cfg = load_config(preset)
    best, best_cpu, cycles = float("inf"), float("inf"), 0
    for i in range(4):
        w0, c0 = time.perf_counter(), time.process_time()
        result = simulate_graph(load_model(model), cfg)
        wall, cpu = time.perf_counter() - w0, time.process_time() - c0
        if i:
            best, best_cpu = min(best, wall), min(best_cpu, cpu)
        cycles = result.total["cycles"]
    return best, best_cpu, cycles


def _summary(runs: list[dict]) -> str:
    walls, cpus = [r["wall"] for r in runs], [r["cpu"] for r in runs]
    return (f"median {statistics.median(walls):.3f} s (CPU {statistics.median(cpus):.3f} s), "
            f"best {min(walls):.3f} s (CPU {min(cpus):.3f} s) of {len(runs)}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--cold-runs", type=int, default=5, help="fresh processes per model (default 5)")
    p.add_argument("--baseline", type=Path, help="another checkout of this repository to time the same way")
    p.add_argument("--child", nargs=3, metavar=("ROOT", "MODEL", "PRESET"), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        child(*args.child)
        return 0
    load0 = os.getloadavg()
    print(f"hwsim simulate (fast path), preset {PRESET}; load average {load0[0]:.2f} {load0[1]:.2f} {load0[2]:.2f} "
          f"on {os.cpu_count()} CPUs")
    ok = True
    for model, cold_limit, memo_limit in TARGETS:
        ours, base = [], []
        for _ in range(args.cold_runs):  # interleaved: both see the same load
            ours.append(cold(ROOT, model))
            if args.baseline:
                base.append(cold(args.baseline.resolve(), model))
        seconds, cpu, cycles = memoised(model)
        med = statistics.median(r["wall"] for r in ours)
        ok &= med <= cold_limit and seconds <= memo_limit
        print(f"  {model}: {cycles:,} simulated cycles")
        print(f"    cold (fresh process, first simulate call, mapping search included): {_summary(ours)}; "
              f"target <= {cold_limit:g} s: {'met' if med <= cold_limit else f'MISSED by {med - cold_limit:.3f} s'}")
        if base:
            bmed = statistics.median(r["wall"] for r in base)
            same = all(r["cycles"] == cycles for r in base)
            print(f"    baseline (--baseline) cold: {_summary(base)}; speed-up {bmed / med:.2f}x (median wall), "
                  f"{statistics.median(r['cpu'] for r in base) / statistics.median(r['cpu'] for r in ours):.2f}x "
                  f"(median CPU); same simulated cycles: {same}")
        print(f"    memoised (in process, best of 3 after a warm-up, model build included): {seconds:.3f} s "
              f"(CPU {cpu:.3f} s); {cycles / seconds / 1e6:,.0f} M cycles/s, "
              f"~{cycles * SCALESIM_S_PER_CYCLE / seconds:,.0f}x faster than SCALE-Sim at 0.4 ms/cycle "
              f"(reference figure: {cycles * SCALESIM_S_PER_CYCLE / 3600:,.1f} h)")
    seconds, _, cycles = memoised(str(TOPOLOGY), "scalesim_32x32")
    if importlib.util.find_spec("scalesim") is None:
        print(f"  SCALE-Sim topology yolo_tiny.csv on scalesim_32x32: {seconds:.3f} s, {cycles:,} cycles; "
              f"scalesim not installed: reference 0.4 ms/cycle -> {cycles * SCALESIM_S_PER_CYCLE:,.0f} s, "
              f"ratio ~{cycles * SCALESIM_S_PER_CYCLE / seconds:,.0f}x")
    else:  # pragma: no cover - only where scalesim is installed
        print("  scalesim is installed: run it on the same topology (tests/fixtures/scalesim/yolo_tiny.csv, "
              "scalesim_32x32_os.cfg) and divide its wall time by the figure above")
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    load1 = os.getloadavg()
    print(f"  peak RSS {rss_mb:.0f} MB (limit 1024 MB); load average after {load1[0]:.2f} {load1[1]:.2f} {load1[2]:.2f}")
    ok &= rss_mb < 1024
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
