"""``hwsim report``: regenerate the curated reports (zoo models, real detectors, RTL vs simulator)."""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from hwsim.app.commands import HELP
from hwsim.app.report import ALL_MODELS, generate
from sw.fileio import OutputPlan

__all__ = ["register", "run", "DEFAULT_OUT"]

DEFAULT_OUT = "reports"


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``report`` sub-command."""
    p = subparsers.add_parser(
        "report", help=HELP["report"],
        description="Markdown pages with tables and PNG plots: every zoo model on two presets at int4/int8, the "
                    "real detectors (BlazeFace, YOLOX-tiny) with FQN ablations, detection agreement, weight spread, "
                    "accelerator results and real tiles through the Verilated array, and RTL-vs-simulator cycles.")
    p.add_argument("--out", default=DEFAULT_OUT, help=f"output directory (default {DEFAULT_OUT}/)")
    p.add_argument("--models", help=f"comma-separated subset (default all: {', '.join(ALL_MODELS)})")
    p.add_argument("--quick", action="store_true",
                   help="reduced ablation grid, one held-out input per real model (for tests)")
    p.add_argument("--no-rtl", action="store_true", help="skip the Verilator sections (no build needed)")
    p.add_argument("--verilator-dir", default=str(Path(tempfile.gettempdir()) / "hwsim-verilator"),
                   help="build cache of the Verilated arrays (default: <tmp>/hwsim-verilator)")
    p.set_defaults(func=run)


def parse_models(text: str) -> tuple[str, ...]:
    """The ``--models`` subset: known names, each once, at least one."""
    names = [m.strip() for m in text.split(",")]
    if not text.strip() or any(not n for n in names):
        raise ValueError(f"--models: expected comma-separated names from {', '.join(ALL_MODELS)}, got {text!r}")
    unknown = [n for n in names if n not in ALL_MODELS]
    if unknown:
        raise ValueError(f"--models: unknown model '{unknown[0]}' (known: {', '.join(ALL_MODELS)})")
    if len(set(names)) != len(names):
        raise ValueError(f"--models: each model once, got {text!r}")
    return tuple(names)


def run(args: argparse.Namespace) -> int:
    """Generate the reports; print the pages written and the time taken."""
    OutputPlan().directory(args.out, "--out")
    models = ALL_MODELS if args.models is None else parse_models(args.models)
    command = "hwsim report" + (f" --models {','.join(models)}" if args.models else "") + \
        (" --quick" if args.quick else "") + (" --no-rtl" if args.no_rtl else "")
    start = time.perf_counter()
    pages = generate(args.out, models, quick=args.quick, verilator_dir=None if args.no_rtl else args.verilator_dir,
                     command=command, log=lambda msg: print(msg, file=sys.stderr, flush=True))
    for page in pages:
        print(page)
    print(f"{len(pages)} pages in {time.perf_counter() - start:.0f} s", file=sys.stderr)
    return 0
