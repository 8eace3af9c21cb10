"""``hwsim verilog``: write the RTL of a configuration's PE array as Verilog plus a JSON description."""

from __future__ import annotations

import argparse

from hwsim.app.commands import HELP
from hwsim.configfile import load_config
from rtl.export import build_design, to_verilog, write_designs, yosys_cell_counts

__all__ = ["register", "run"]


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
    """Load the configuration (ValueError on a bad one), write the files, optionally print stats."""
    arch = load_config(args.config).arch
    for path in write_designs(args.out, arch, hierarchical=args.hierarchical):
        print(path)
    if args.stats:
        for label, name in (("mac", "mac"), (f"requant lane (out {arch.out_width} bits)", "requant")):
            counts = yosys_cell_counts(to_verilog(build_design(name, arch), "top"), "top")
            detail = ", ".join(f"{cell} {n}" for cell, n in sorted(counts.items()) if cell != "total")
            print(f"{label}: {counts['total']} cells ({detail})")
    return 0
