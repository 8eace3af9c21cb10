"""``hwsim verilog``: write the RTL designs as Verilog plus a JSON port description."""

from __future__ import annotations

import argparse

from hwsim.app.commands import HELP
from rtl.export import DesignConfig, build_design, to_verilog, write_designs, yosys_cell_counts

__all__ = ["register", "run"]


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``verilog`` sub-command."""
    parser = subparsers.add_parser(
        "verilog", help=HELP["verilog"],
        description="Write hwsim_mac.v, hwsim_requant.v, hwsim_array.v and designs.json into --out.")
    parser.add_argument("--out", required=True, help="output directory (created if missing)")
    parser.add_argument("--rows", type=int, default=4, help="array rows (output pixels), default 4")
    parser.add_argument("--cols", type=int, default=4, help="array columns (output channels), default 4")
    parser.add_argument("--bits", type=int, default=4, help="operand width, 4 or 8 (default 4)")
    parser.add_argument("--max-depth", type=int, default=4608,
                        help="largest reduction depth K; sets the accumulator width (default 4608)")
    parser.add_argument("--requant-lanes", type=int, default=None,
                        help="requantization units of the array, a divisor of --cols (default --cols)")
    parser.add_argument("--stats", action="store_true",
                        help="also print Yosys cell counts of the int4/int8 MAC and the requantization unit")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Validate the parameters (ValueError on bad ones), write the files, optionally print stats."""
    config = DesignConfig(rows=args.rows, cols=args.cols, bits=args.bits, max_depth=args.max_depth,
                          requant_lanes=args.requant_lanes)
    for path in write_designs(args.out, config):
        print(path)
    if args.stats:
        totals = {}
        for label, name, bits in (("mac int4", "mac", 4), ("mac int8", "mac", 8),
                                  (f"requant (out {args.bits + 1} bits)", "requant", args.bits)):
            component = build_design(name, DesignConfig(bits=bits, max_depth=args.max_depth))
            counts = yosys_cell_counts(to_verilog(component, "top"), "top")
            detail = ", ".join(f"{cell} {n}" for cell, n in sorted(counts.items()) if cell != "total")
            print(f"{label}: {counts['total']} cells ({detail})")
            totals[label] = counts["total"]
        print(f"mac int8 / int4 cell ratio: {totals['mac int8'] / totals['mac int4']:.2f}")
    return 0
