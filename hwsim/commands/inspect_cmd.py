"""``hwsim inspect MODEL``: per-layer table (shapes, MACs, params, bits, part) and totals.

MODEL is a zoo name or a model file (see :func:`sw.graph.load_model`). Bit
widths can be overridden per model, per part and per layer (32 = float).
``--ops`` lists every operator type of an .onnx / .tflite file with its count
and coverage instead (it does not stop at the first unsupported one).
``--input-shape NAME=1x3x640x640`` pins dynamic input dimensions.
"""

from __future__ import annotations

import argparse
import json
import sys

from rich.console import Console
from rich.table import Table

from sw.fileio import atomic_write_text
from sw.graph import Graph, Layer, Part, load_model, model_coverage, parse_input_shape
from sw.graph.bits import BitPolicy, parse_bits, parse_width

__all__ = ["register", "run"]


def _keyed_bits(text: str, where: str) -> tuple[str, tuple[int, int]]:
    key, sep, bits = text.partition("=")
    if not sep or not key:
        raise ValueError(f"{where}: expected NAME=WIDTH (e.g. head=8 or head=w4a8), got {text!r}")
    return key, parse_width(bits, where)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``inspect`` sub-command."""
    parser = subparsers.add_parser("inspect", help="per-layer table of a zoo model or model file",
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
    add_input_shape_argument(parser)
    parser.add_argument("--ops", action="store_true",
                        help="list every operator of an .onnx/.tflite file with its count and coverage")
    parser.set_defaults(func=run)


def add_input_shape_argument(parser: argparse.ArgumentParser) -> None:
    """``--input-shape NAME=DxDx...`` (repeatable), shared by inspect, simulate and run."""
    parser.add_argument("--input-shape", metavar="NAME=1x3xHxW", action="append", default=[],
                        help="pin a model input's dynamic dimensions (external layout); repeatable")


def input_shapes(args: argparse.Namespace) -> dict[str, tuple[int, ...]] | None:
    """The ``--input-shape`` values by input name (None when absent)."""
    return dict(parse_input_shape(t) for t in args.input_shape) or None


def _ops(model: str, shapes) -> int:
    coverage = model_coverage(model, shapes)
    table = Table()
    numbers = ("count", "lowered", "not reached")
    for column in ("operator", *numbers, "status", "reason"):
        table.add_column(column, justify="right" if column in numbers else "left")
    rows = coverage.rows()
    for r in rows:
        table.add_row(r.op, str(r.count), str(r.lowered), str(r.skipped), r.status, "; ".join(r.reasons))
    Console(width=None if sys.stdout.isatty() else 200).print(table)
    bad = [r.op for r in rows if r.status in ("unsupported", "partial")]
    print(f"{model}: {sum(r.count for r in rows)} operators of {len(rows)} types; "
          + (f"unsupported: {', '.join(bad)}" if bad else "all supported"))
    return 0


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
    """Load, apply bit overrides, print the table (or the operator coverage with ``--ops``); returns 0."""
    if args.ops:
        return _ops(args.model, input_shapes(args))
    graph = load_model(args.model, input_shapes(args))
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
