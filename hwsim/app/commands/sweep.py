"""``hwsim sweep``: run a design-space sweep file locally or on Dask; results table and Pareto fronts."""

from __future__ import annotations

import argparse
import os
import sys
from functools import partial

from hwsim.app.commands import HELP
from hwsim.app.sweep.executors import check_scheduler_address, dask_cluster, local_processes, serial
from hwsim.app.sweep.runner import run_sweep
from hwsim.app.sweep.spec import load_sweep
from sw.fileio import OutputPlan

__all__ = ["register", "run"]

#: Most worker processes ``--jobs`` accepts.
MAX_JOBS = 256
#: Longest ``--scheduler-timeout``, s.
MAX_SCHEDULER_TIMEOUT_S = 3600.0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``sweep`` sub-command."""
    p = subparsers.add_parser(
        "sweep", help=HELP["sweep"],
        description="Run a sweep file (docs/sweep.md) into --out: results.jsonl (resumable log), results.csv, "
                    "failed.csv, pareto.csv, pareto.md and Pareto PNGs. Rerunning resumes: finished points "
                    "are not recomputed.")
    p.add_argument("file", help="sweep TOML file")
    p.add_argument("--out", required=True, help="output directory (created if missing)")
    p.add_argument("--jobs", type=int, default=None,
                   help=f"local worker processes (default: all cores, {os.cpu_count()}); 1 = in this process")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--scheduler", metavar="ADDRESS",
                       help="run on the Dask scheduler at ADDRESS, e.g. tcp://host:8786 (needs dask[distributed])")
    where.add_argument("--dask", action="store_true",
                       help="run on a Dask LocalCluster of --jobs workers started for this sweep")
    p.add_argument("--scheduler-timeout", type=float, default=10.0, metavar="S",
                   help="seconds to try to reach --scheduler before giving up (default 10)")
    p.add_argument("--strict", action="store_true",
                   help="stop (exit 2) at the first invalid design or failed point instead of going on")
    p.add_argument("--quiet", action="store_true", help="no progress bar or skipped-point lines")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run the sweep; print one summary line (and skipped points on stderr).

    Returns 0, or 1 when every point of the sweep failed. Bad input (an invalid file, no valid
    design, bad options) raises ValueError before any point runs.
    """
    if args.jobs is not None and not 1 <= args.jobs <= MAX_JOBS:
        raise ValueError(f"--jobs: expected an integer in [1, {MAX_JOBS}], got {args.jobs}")
    if not 0 < args.scheduler_timeout <= MAX_SCHEDULER_TIMEOUT_S:
        raise ValueError(f"--scheduler-timeout: expected seconds in (0, {MAX_SCHEDULER_TIMEOUT_S:g}], "
                         f"got {args.scheduler_timeout:g}")
    if args.scheduler is not None:
        check_scheduler_address(args.scheduler)
    OutputPlan(inputs=[args.file]).directory(args.out, "--out")
    spec = load_sweep(args.file)
    if not spec.designs:
        raise ValueError(f"{args.file}: every design of the sweep is invalid; first: {spec.invalid[0].reason}")
    if args.scheduler or args.dask:
        executor = partial(dask_cluster, args.scheduler, args.jobs, args.scheduler_timeout)
    elif args.jobs == 1:
        executor = serial
    else:
        executor = partial(local_processes, args.jobs)
    summary = run_sweep(spec, args.out, executor, strict=args.strict, quiet=args.quiet)
    if not args.quiet:
        if summary.dropped_torn_line:
            print("hwsim sweep: dropped a torn last line of results.jsonl (interrupted run)", file=sys.stderr)
        for line in summary.invalid:
            print(f"hwsim sweep: skipped invalid design {line}", file=sys.stderr)
        for line in summary.failed:
            print(f"hwsim sweep: failed point {line}", file=sys.stderr)
    rate = f", {summary.computed / summary.seconds:.1f} points/s" if summary.computed and summary.seconds else ""
    print(f"sweep {args.file}: {summary.points} points ({len(spec.models)} models x {len(spec.bits)} bits x "
          f"{len(spec.designs)} designs): {summary.computed} computed in {summary.seconds:.1f} s{rate}, "
          f"{summary.resumed} resumed, {len(summary.failed)} failed, {len(spec.invalid)} invalid designs skipped; "
          f"wrote {len(summary.outputs)} files to {args.out} (results.csv, pareto.md, ...)")
    if summary.failed and len(summary.failed) == summary.points:
        print(f"hwsim sweep: error: every point failed; first: {summary.failed[0]}", file=sys.stderr)
        return 1
    return 0
