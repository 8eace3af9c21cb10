"""``hwsim verilog``: write the RTL of a configuration's PE array as Verilog plus a JSON description."""

from __future__ import annotations

import argparse
import sys

from hwsim.app.commands import HELP
from hwsim.configfile import load_config
from rtl.export import build_design, render_designs, to_verilog, yosys_available, yosys_cell_counts
from sw.fileio import OutputPlan

__all__ = ["register", "run", "MAX_PES"]

#: Largest array (PEs) ``hwsim verilog`` generates; above :data:`SLOW_PES` it warns with a time estimate.
MAX_PES = 128 * 128
SLOW_PES = 32 * 32


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``verilog`` sub-command."""
    parser = subparsers.add_parser(
        "verilog", help=HELP["verilog"],
        description="Write hwsim_mac.v, hwsim_requant.v, hwsim_array.v and designs.json into --out: exactly "
                    "the array (shape, PE width, MAC modes, accumulator depth, lanes) the simulator charges for.")
    parser.add_argument("--config", default=None, help="preset name or .toml file (default: the default preset)")
    parser.add_argument("--out", required=True, help="output directory (created if missing)")
    parser.add_argument("--hierarchical", action="store_true",
                        help="keep the module hierarchy (one module per PE / lane) instead of one flat module")
    parser.add_argument("--stats", action="store_true",
                        help="also print Yosys cell counts of the MAC (edge + PE) and one requantization lane")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Load the configuration (ValueError on a bad one), write the files, optionally print stats.

    Every file is generated in memory first and written together at the end, so a failure
    (or a missing ``rtl`` extra for ``--stats``) leaves earlier files untouched.
    """
    plan = OutputPlan(inputs=[args.config] if args.config and args.config.endswith(".toml") else [])
    out = plan.directory(args.out, "--out")
    arch = load_config(args.config).arch
    pes = arch.rows * arch.cols
    if pes > MAX_PES:
        raise ValueError(f"config '{args.config}': a {arch.rows}x{arch.cols} array ({pes:,} PEs) exceeds the "
                         f"{MAX_PES:,} PEs 'hwsim verilog' generates (export time grows with the PE count: "
                         f"~{_minutes(pes):.0f} min estimated)")
    if args.stats:
        yosys_available()  # a missing extra fails before any work
    if pes > SLOW_PES:
        log(f"hwsim verilog: a {arch.rows}x{arch.cols} array takes ~{_minutes(pes):.0f} min to export")
    files = render_designs(arch, hierarchical=args.hierarchical, log=lambda m: log(f"hwsim verilog: {m}"))
    stats = []
    if args.stats:
        for label, name in (("mac", "mac"), (f"requant lane (out {arch.out_width} bits)", "requant")):
            counts = yosys_cell_counts(to_verilog(build_design(name, arch), "top"), "top")
            detail = ", ".join(f"{cell} {n}" for cell, n in sorted(counts.items()) if cell != "total")
            stats.append(f"{label}: {counts['total']} cells ({detail})")
    for name, text in files.items():
        plan.stage(out / name, text)
    for path in plan.commit():
        print(path)
    for line in stats:
        print(line)
    return 0


def _minutes(pes: int) -> float:
    """Export time estimate, min: measured ~16 s at 256 PEs and ~66 s at 1,024 PEs (about linear)."""
    return pes * 66 / 1024 / 60


def log(message: str) -> None:
    """One progress line on stderr."""
    print(message, file=sys.stderr, flush=True)
