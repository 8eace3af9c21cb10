"""``hwsim inspect MODEL``: per-layer table (shapes, MACs, params, bits, part) and totals.

MODEL is a zoo name or a model file (see :func:`sw.graph.load_model`). Bit
widths can be overridden per model, per part and per layer (32 = float).
"""

from __future__ import annotations

import argparse
import json
import sys

from rich.console import Console
from rich.table import Table

from hwsim.app.commands import HELP
from sw.fileio import atomic_write_text
from sw.graph import Graph, Layer, Part, load_model
from sw.graph.bits import BitPolicy, parse_bits, parse_width

__all__ = ["register", "run"]


def _keyed_bits(text: str, where: str) -> tuple[str, tuple[int, int]]:
    key, sep, bits = text.partition("=")
    if not sep or not key:
        raise ValueError(f"{where}: expected NAME=WIDTH (e.g. head=8 or head=w4a8), got {text!r}")
    return key, parse_width(bits, where)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``inspect`` sub-command."""
    parser = subparsers.add_parser("inspect", help=HELP["inspect"],
                                   description="Print each layer's op, shapes, MACs, params, bits and part, "
                                               "then totals.")
    parser.add_argument("model", metavar="MODEL", help="zoo name (see 'hwsim models') or model file (.csv)")
    parser.add_argument("--json", metavar="FILE", help="also write layers and totals as JSON to FILE")
    parser.add_argument("--bits", metavar="POLICY",
                        help="bit widths: 4, w4a8 (or 4/8), per part e.g. 8,head=4; 32 = float")
    parser.add_argument("--part-bits", metavar="PART=WIDTH", action="append", default=[],
                        help="bit widths for one part (backbone, neck, head); repeatable")
    parser.add_argument("--layer-bits", metavar="LAYER=WIDTH", action="append", default=[],
                        help="bit widths for one layer, e.g. backbone.Conv2d_0=32; repeatable")
    parser.set_defaults(func=run)


def _shape(shape: tuple[int, int, int]) -> str:
    return "x".join(map(str, shape))


def _inputs(layer: Layer) -> str:
    if len(layer.in_shapes) > 3:
        return f"{len(layer.in_shapes)} tensors"
    return " + ".join(_shape(s) for s in layer.in_shapes)


def _bits(layer: Layer) -> str:
    return "fp32" if layer.is_float else f"w{layer.w_bits}a{layer.a_bits}"


def _table(graph: Graph) -> Table:
    table = Table(title=f"{graph.name}: {len(graph)} layers", caption="* weights shared with an earlier layer "
                  "(counted once in totals); xN: layer runs N times per inference")
    for column in ("name", "op", "input", "output", "MACs", "params", "bits", "part"):
        table.add_column(column, justify="right" if column in ("MACs", "params") else "left")
    for layer in graph:
        op = layer.op.value + (f" x{layer.repeat}" if layer.repeat > 1 else "")
        params = f"{layer.params:,}" + ("*" if layer.shares_weights else "")
        table.add_row(layer.name, op, _inputs(layer), _shape(layer.out_shape),
                      f"{layer.macs:,}", params, _bits(layer), layer.part.value)
    table.add_section()
    for part in (*Part, None):
        totals = graph.totals(part)
        label = "total" if part is None else f"total {part.value}"
        table.add_row(label, f"{totals.layers} layers", "", "", f"{totals.macs:,}", f"{totals.params:,}",
                      f"{totals.weight_bytes / 1e6:.2f} MB", "")
    return table


def run(args: argparse.Namespace) -> int:
    """Load, apply bit overrides, print the table; returns 0."""
    graph = load_model(args.model)
    if args.bits or args.part_bits or args.layer_bits:
        policy = parse_bits(args.bits) if args.bits else BitPolicy()
        graph = graph.with_bits(
            default=policy.default,
            parts={**(policy.parts or {}), **dict(_keyed_bits(t, "--part-bits") for t in args.part_bits)},
            layers=dict(_keyed_bits(t, "--layer-bits") for t in args.layer_bits),
        )
    Console(width=None if sys.stdout.isatty() else 200).print(_table(graph))
    totals = graph.totals()
    print(f"{graph.name}: {totals.macs / 1e9:.3f} GMAC, {totals.params:,} parameters, "
          f"{totals.weight_bytes:,} weight bytes")
    if args.json:
        atomic_write_text(args.json, json.dumps(graph.to_dict(), indent=1) + "\n")
    return 0
