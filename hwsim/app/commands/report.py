"""``hwsim report``: regenerate the curated reports (zoo models, real detectors, RTL vs simulator).

The real detectors' pages score every quantization setting on ``--eval-images`` images
of their synthetic evaluation split (generated into ``--data-dir``), calibrated on
``--calibration-images`` images of the calibration split.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from hwsim.app.commands import HELP
from hwsim.app.report import ALL_MODELS, DEFAULT_CALIBRATION_IMAGES, DEFAULT_EVAL_IMAGES, REAL_MODELS, generate
from hwsim.app.studies.methods import parse_methods, parse_steps
from sw.fileio import OutputPlan

__all__ = ["register", "run", "DEFAULT_OUT"]

DEFAULT_OUT = "reports"
#: Most images per split (each is kept in memory with its detections for every setting).
MAX_IMAGES = 5000
MAX_JOBS = 64
#: Width policies of the methods study.
DEFAULT_METHOD_BITS = ("8", "w4a8", "4")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``report`` sub-command."""
    p = subparsers.add_parser(
        "report", help=HELP["report"],
        description="Markdown pages with tables and PNG plots: every zoo model on two presets at int4/int8, the "
                    "real detectors (PicoDet layout, YOLOX-tiny, BlazeFace) with COCO mAP (BlazeFace: agreement) of "
                    "float, PTQ int8/int4/w4a8, FQN Table 2 / Table 4 ablations and partial quantization on synthetic "
                    "labeled data, weight spread, accelerator results and real tiles through the Verilated array, and "
                    "RTL-vs-simulator cycles.")
    p.add_argument("--out", default=DEFAULT_OUT, help=f"output directory (default {DEFAULT_OUT}/)")
    p.add_argument("--models", help=f"comma-separated subset (default all: {', '.join(ALL_MODELS)})")
    p.add_argument("--eval-images", type=int, default=DEFAULT_EVAL_IMAGES, metavar="N",
                   help=f"evaluation images per real detector (default {DEFAULT_EVAL_IMAGES}: the whole report in "
                        "~30-60 min on 2 cores; 2 for a smoke test)")
    p.add_argument("--calibration-images", type=int, default=DEFAULT_CALIBRATION_IMAGES, metavar="K",
                   help=f"calibration images per real detector (default {DEFAULT_CALIBRATION_IMAGES})")
    p.add_argument("--data-dir", default=str(Path(tempfile.gettempdir()) / "hwsim-report-data"),
                   help="cache of the generated datasets (default: <tmp>/hwsim-report-data)")
    p.add_argument("--jobs", type=int, default=1, metavar="J", help="images evaluated concurrently (threads)")
    p.add_argument("--no-rtl", action="store_true", help="skip the Verilator sections (no build needed)")
    p.add_argument("--verilator-dir", default=str(Path(tempfile.gettempdir()) / "hwsim-verilator"),
                   help="build cache of the Verilated arrays (default: <tmp>/hwsim-verilator)")
    p.add_argument("--methods", metavar="LIST",
                   help="quantization methods study instead of the detector pages: comma-separated methods "
                        "(e.g. ptq,gptq,fqn), each with optional +variants (minmax, mse, per-tensor, live-bn, lsq, "
                        "lsqw, sym, floored, labels, ld, warmup, slr: hwsim quantize's switches; FQN's ablation: "
                        "fqn,fqn+minmax,fqn+per-tensor,"
                        "fqn+live-bn) x --method-bits, each exported, re-imported and scored; writes "
                        "<model>_methods.md and the best file per width (long: run outside CI)")
    p.add_argument("--method-bits", action="append", metavar="POLICY",
                   help=f"--methods: a width policy (repeatable; default {', '.join(DEFAULT_METHOD_BITS)})")
    p.add_argument("--method-keep8", action="append", metavar="RULES",
                   help="--methods: weighted layers kept at w8a8 in hwsim quantize --keep8 syntax (e.g. "
                        "first:1,last:4,sensitive:4), or 'none'; repeatable, each a set of rows (default none)")
    p.add_argument("--steps", metavar="N|METHOD=N,...",
                   help="--methods: training steps of fqn and brecq (per block), one count or per method, "
                        "e.g. brecq=20,fqn=120 (default: their own)")
    p.add_argument("--seed", type=int, default=0, help="--methods: seed of the methods' sampling (default 0)")
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
    for name, value, top in (("--eval-images", args.eval_images, MAX_IMAGES),
                             ("--calibration-images", args.calibration_images, MAX_IMAGES), ("--jobs", args.jobs, MAX_JOBS)):
        if not 1 <= value <= top:
            raise ValueError(f"{name}: expected an integer in [1, {top}], got {value}")
    OutputPlan().directory(args.data_dir, "--data-dir")
    rows = ()
    if args.methods is not None:
        keeps = [None if k.strip() == "none" else k.strip() for k in args.method_keep8 or ("none",)]
        rows = parse_methods(args.methods, args.method_bits or DEFAULT_METHOD_BITS, parse_steps(args.steps), keeps)
        if not any(m in REAL_MODELS for m in models):
            raise ValueError(f"--methods: needs a real detector in --models ({', '.join(REAL_MODELS)})")
    elif args.method_bits or args.method_keep8 or args.steps is not None:
        raise ValueError("--method-bits, --method-keep8 and --steps apply to --methods only")
    command = "hwsim report" + (f" --models {','.join(models)}" if args.models else "") + \
        (" --no-rtl" if args.no_rtl else "") + f" --eval-images {args.eval_images}" + \
        f" --calibration-images {args.calibration_images}" + \
        (f" --methods {args.methods}" + "".join(f" --method-bits {b}" for b in args.method_bits or ()) +
         "".join(f" --method-keep8 {k}" for k in args.method_keep8 or ()) +
         ("" if args.steps is None else f" --steps {args.steps}") + ("" if args.seed == 0 else f" --seed {args.seed}")
         if rows else "")
    start = time.perf_counter()
    pages = generate(args.out, models, eval_images=args.eval_images, calibration_images=args.calibration_images,
                     data_dir=args.data_dir, verilator_dir=None if args.no_rtl else args.verilator_dir, jobs=args.jobs,
                     command=command, methods=rows, seed=args.seed, log=lambda msg: print(msg, file=sys.stderr, flush=True))
    for page in pages:
        print(page)
    print(f"{len(pages)} pages in {time.perf_counter() - start:.0f} s", file=sys.stderr)
    return 0
