"""``hwsim models``: list the built-in model zoo (name, input size, GMAC, parameters)."""

from __future__ import annotations

import argparse
import json

from rich.table import Table

from hwsim.app.commands import HELP
from hwsim.app.console import make_console
from sw.fileio import OutputPlan
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
    plan = OutputPlan()
    json_out = plan.file(args.json, "--json")
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
    make_console().print(table)
    if json_out:
        plan.stage(json_out, json.dumps({"models": rows}, indent=2) + "\n")
    plan.commit()
    return 0
