"""``hwsim models``: list the built-in model zoo (name, input size, GMAC, parameters)."""

from __future__ import annotations

import argparse
import json
import sys

from rich.console import Console
from rich.table import Table

from hwsim.app.commands import HELP
from sw.fileio import atomic_write_text
from sw.graph.zoo import ZOO

__all__ = ["register", "run"]


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``models`` sub-command."""
    parser = subparsers.add_parser("models", help=HELP["models"],
                                   description="List the built-in models with input size, GMAC and parameters.")
    parser.add_argument("--json", metavar="FILE", help="also write the list as JSON to FILE")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Print the zoo table; returns 0."""
    rows = []
    for spec in ZOO.values():
        totals = spec.build().totals()
        rows.append({
            "name": spec.name,
            "input": list(spec.input_size),
            "gmac": totals.macs / 1e9,
            "params": totals.params,
            "description": spec.description,
        })
    table = Table(title="Model zoo (default build: 4-bit weights and activations)")
    for column, justify in (("name", "left"), ("input", "right"), ("GMAC", "right"),
                            ("params (M)", "right"), ("description", "left")):
        table.add_column(column, justify=justify)
    for row in rows:
        table.add_row(row["name"], "x".join(map(str, row["input"])), f"{row['gmac']:.2f}",
                      f"{row['params'] / 1e6:.2f}", row["description"])
    Console(width=None if sys.stdout.isatty() else 200).print(table)
    if args.json:
        atomic_write_text(args.json, json.dumps({"models": rows}, indent=2) + "\n")
    return 0
