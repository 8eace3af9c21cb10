"""Run a sweep into a directory: skip finished points, log each new row durably, write the tables.

Outputs in ``out`` (docs/sweep.md): ``results.jsonl`` (the log, appended as points finish),
then, once every point is done, ``results.csv``, ``failed.csv``, ``pareto.csv``, ``pareto.md``
and ``pareto_<model>_<x>_<y>.png``, each written atomically. Rows are ordered as the sweep
file enumerates them (model, bits, design), so identical inputs give identical files.
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ContextManager

from hwsim.app.sweep.executors import MapFn
from hwsim.app.sweep.pareto import front_rows, markdown_table, write_front_plots
from hwsim.app.sweep.row import METRICS, Task, base_config, run_task
from hwsim.app.sweep.spec import SweepSpec, build_config, point_key
from hwsim.app.sweep.store import ResultLog, write_csv
from sw.fileio import atomic_write_text

__all__ = ["SweepSummary", "plan_tasks", "run_sweep"]


@dataclass(frozen=True)
class SweepSummary:
    """What a run did.

    Attributes
    ----------
    points : int
        Valid points in the sweep (models x bits x valid designs).
    resumed : int
        Points found finished in ``results.jsonl`` and not recomputed.
    computed : int
        Points simulated by this run.
    failed : tuple[str, ...]
        One line per point whose simulation raised (e.g. a layer does not fit the SRAMs).
    invalid : tuple[str, ...]
        One line per design the config validation rejected (not simulated).
    seconds : float
        Wall time of the simulations, s.
    outputs : tuple[Path, ...]
        Files written at the end.
    dropped_torn_line : bool
        A torn last line of ``results.jsonl`` (an earlier crash) was truncated.
    """

    points: int
    resumed: int
    computed: int
    failed: tuple[str, ...]
    invalid: tuple[str, ...]
    seconds: float
    outputs: tuple[Path, ...]
    dropped_torn_line: bool


def plan_tasks(spec: SweepSpec) -> list[Task]:
    """Every valid point of ``spec`` as a task, in output order (model, bits, design)."""
    base = base_config(spec.base)
    configs = [build_config(base, d, spec.source) for d in spec.designs]
    shapes = spec.input_shapes
    pinned = "" if not shapes else "?" + ",".join(shapes)  # pins change the point, so they enter its key
    return [Task(key=point_key(model + pinned, bits, cfg), model=model, bits=bits, base=spec.base, design=design,
                 fields=spec.fields, source=spec.source, input_shapes=shapes)
            for model in spec.models for bits in spec.bits for design, cfg in zip(spec.designs, configs)]


def _failure(record: dict[str, Any]) -> str:
    bits = f" bits {record['bits']!r}" if record["bits"] else ""
    return f"{record['model']}{bits} [{record['design']}]: {record['error']}"


def run_sweep(spec: SweepSpec, out: str | Path, executor: Callable[[], ContextManager[MapFn]], *,
              strict: bool = False, quiet: bool = False) -> SweepSummary:
    """Run the unfinished points of ``spec`` with ``executor`` and write the outputs into ``out``.

    Parameters
    ----------
    executor
        Factory of an executor context (:mod:`hwsim.app.sweep.executors`); entered only if a point
        is left to compute.
    strict
        Stop with ValueError at the first invalid design or failed point instead of going on.
    quiet
        No progress bar (it is also off when stderr is not a terminal).

    Raises
    ------
    ValueError
        ``strict`` and a point is invalid or failed; the log is locked or corrupt.
    """
    invalid = tuple(f"[{bad.design.label()}]: {bad.reason}" for bad in spec.invalid)
    if strict and invalid:
        raise ValueError(f"invalid design {invalid[0]} ({len(invalid)} invalid; --strict)")
    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    tasks = plan_tasks(spec)
    with ResultLog(out_dir / "results.jsonl") as log:
        done = {t.key for t in tasks if t.key in log.records}
        if strict:
            for key in done:
                if "error" in log.records[key]:
                    raise ValueError(f"point {_failure(log.records[key])} (--strict)")
        todo = [t for t in tasks if t.key not in done]
        start = time.perf_counter()
        if todo:
            with contextlib.ExitStack() as stack:
                bar = stack.enter_context(_progress(len(tasks), len(done), quiet))
                run = stack.enter_context(executor())
                for record in run(run_task, todo):
                    log.append(record)
                    bar.update(1)
                    if strict and "error" in record:
                        raise ValueError(f"point {_failure(record)} (--strict)")
        seconds = time.perf_counter() - start
        records = [log.records[t.key] for t in tasks]
        dropped = log.dropped_torn_line
    rows = [r for r in records if "error" not in r]
    failed = tuple(_failure(r) for r in records if "error" in r)
    outputs = _write_outputs(spec, out_dir, rows, failed, invalid)
    return SweepSummary(points=len(tasks), resumed=len(done), computed=len(todo), failed=failed, invalid=invalid,
                        seconds=seconds, outputs=tuple(outputs), dropped_torn_line=dropped)


def _progress(total: int, initial: int, quiet: bool) -> ContextManager:
    from tqdm import tqdm
    return tqdm(total=total, initial=initial, desc="sweep", unit="point", file=sys.stderr,
                disable=True if quiet else None, smoothing=0.1)


def _write_outputs(spec: SweepSpec, out: Path, rows: list[dict[str, Any]], failed: tuple[str, ...],
                   invalid: tuple[str, ...]) -> list[Path]:
    columns = ["key", "model", "bits", *spec.fields, *METRICS]
    paths = [out / "results.csv", out / "failed.csv", out / "pareto.csv", out / "pareto.md"]
    write_csv(paths[0], rows, columns)
    write_csv(paths[1], [{"kind": "invalid design", "reason": r} for r in invalid]
              + [{"kind": "simulation failed", "reason": r} for r in failed], ["kind", "reason"])
    fronts = front_rows(rows, spec.models)
    write_csv(paths[2], fronts, ["front", *columns])
    atomic_write_text(paths[3], markdown_table(fronts, spec.fields))
    return paths + write_front_plots(rows, spec.models, out)
