"""``hwsim demo``: FQN quantization + integer golden execution of a small network on a real photo."""

from __future__ import annotations

import argparse

from rich.table import Table

from hwsim.app.commands import HELP
from hwsim.app.console import make_console
from hwsim.app.demo import run_demo
from sw.quant.params import check_bits

__all__ = ["register", "run", "MAX_N_CAL"]

#: Most calibration crops ``--n-cal`` accepts (each is a 64x64 crop run through the float model).
MAX_N_CAL = 1000


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``demo`` sub-command."""
    p = subparsers.add_parser("demo", help=HELP["demo"])
    p.add_argument("--bits", default="8,4", help="comma-separated bit widths to compare (2..8), default 8,4")
    p.add_argument("--n-cal", type=int, default=20,
                   help=f"calibration crops (FQN n_cal), 1..{MAX_N_CAL}, default 20")
    p.add_argument("--gamma", type=float, default=0.999, help="activation percentile (FQN gamma), default 0.999")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Print per-layer SQNR of integer vs float execution for each requested bit width."""
    try:
        widths = [check_bits("--bits", int(b)) for b in str(args.bits).split(",")]
    except ValueError as exc:
        raise ValueError(f"--bits: expected comma-separated integers in [2, 8], got {args.bits!r}") from exc
    if len(set(widths)) != len(widths):
        raise ValueError(f"--bits: each width once, got {args.bits!r}")
    if not 1 <= args.n_cal <= MAX_N_CAL:
        raise ValueError(f"--n-cal: expected a count in [1, {MAX_N_CAL}], got {args.n_cal}")
    if not 0.5 <= args.gamma <= 1.0:
        raise ValueError(f"--gamma: expected a percentile in [0.5, 1], got {args.gamma}")
    runs = {bits: run_demo(bits=bits, n_cal=args.n_cal, gamma=args.gamma) for bits in widths}
    table = Table(title="FQN demo: integer golden model vs float, grace_hopper.jpg crop (random seeded weights)")
    table.add_column("layer")
    table.add_column("output (NHWC)")
    table.add_column("MACs", justify="right")
    for bits in widths:
        table.add_column(f"SQNR w{bits}a{bits} (dB)", justify="right")
    first = runs[widths[0]]
    for i, layer in enumerate(first):
        table.add_row(layer.name, "x".join(map(str, layer.shape)), f"{layer.macs:,}", *(f"{runs[b][i].sqnr_db:.1f}" for b in widths))
    make_console().print(table)
    return 0
