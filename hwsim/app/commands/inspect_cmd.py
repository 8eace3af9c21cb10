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


from rich.table import Table

from hwsim.app.commands import HELP
from hwsim.app.console import console_width, make_console, shorten_left
from hwsim.app.options import add_input_shape_argument, input_shapes
from sw.fileio import OutputPlan
from sw.graph import Graph, Layer, Part, load_model, model_coverage
from sw.graph.bits import BitPolicy, parse_bits, parse_width

__all__ = ["register", "run"]

#: Layer names up to this many characters are never wrapped in the table.
NAME_WIDTH = 48


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
    add_input_shape_argument(parser)
    parser.add_argument("--ops", action="store_true",
                        help="list every operator of an .onnx/.tflite file with its count and coverage")
    parser.set_defaults(func=run)


def _ops(model: str, shapes) -> int:
    coverage = model_coverage(model, shapes)
    table = Table()
    numbers = ("count", "lowered", "not reached")
    for column in ("operator", *numbers, "status", "reason"):
        table.add_column(column, justify="right" if column in numbers else "left")
    rows = coverage.rows()
    for r in rows:
        table.add_row(r.op, str(r.count), str(r.lowered), str(r.skipped), r.status, "; ".join(r.reasons))
    make_console().print(table)
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


def _table(graph: Graph, width: int) -> str:
    """Per-layer text table fitting ``width`` (>= 80) columns, then totals per part.

    Columns: name (long names keep their end), op (``xN``: runs N times), output shape, MMAC (10^6 MACs),
    params (``*``: weights shared with an earlier layer), bits, part; from 120 columns on also
    the input shapes.
    """
    wide = width >= 120
    cols = [("op", 11, "<"), ("output", 12, "<"), ("MMAC", 10, ">"), ("params", 12, ">"), (" bits", 6, "<"),
            ("part", 9, "<")]
    if wide:
        cols.insert(1, ("input", 22, "<"))
    name_width = max(12, min(width - sum(w for _, w, _ in cols) - 1, NAME_WIDTH))
    header = f"{'name':<{name_width}} " + "".join(f"{h:{al}{w}}" for h, w, al in cols)
    lines = [f"{graph.name}: {len(graph)} layers", header, "-" * len(header)]

    def row(name: str, values: list[str]) -> str:
        return f"{shorten_left(name, name_width):<{name_width}} " + "".join(
            f"{v[:w - 1]:{al}{w}}" for v, (_, w, al) in zip(values, cols))

    for layer in graph:
        op = layer.op.value + (f" x{layer.repeat}" if layer.repeat > 1 else "")
        values = [op, _shape(layer.out_shape), f"{layer.macs / 1e6:.1f}",
                  f"{layer.params:,}" + ("*" if layer.shares_weights else ""), " " + _bits(layer), layer.part.value]
        if wide:
            values.insert(1, _inputs(layer))
        lines.append(row(layer.name, values))
    lines.append("-" * len(header))
    for part in (*Part, None):
        totals = graph.totals(part)
        values = [f"{totals.layers} layers", "", f"{totals.macs / 1e6:.1f}", f"{totals.params:,}",
                  "", ""]
        if wide:
            values.insert(1, "")
        lines.append(row("total" if part is None else f"total {part.value}", values))
    lines.append("* weights shared with an earlier layer (counted once); xN: the layer runs N times")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    """Load, apply bit overrides, print the table (or the operator coverage with ``--ops``); returns 0."""
    plan = OutputPlan(inputs=[args.model])
    json_out = plan.file(args.json, "--json")
    if args.ops:
        if json_out:
            raise ValueError("--ops prints the operator coverage; --json applies to the layer table")
        return _ops(args.model, input_shapes(args))
    graph = load_model(args.model, input_shapes(args))
    if args.bits or args.part_bits or args.layer_bits:
        policy = parse_bits(args.bits) if args.bits else BitPolicy()
        graph = graph.with_bits(
            default=policy.default,
            parts={**(policy.parts or {}), **dict(_keyed_bits(t, "--part-bits") for t in args.part_bits)},
            layers=dict(_keyed_bits(t, "--layer-bits") for t in args.layer_bits),
        )
    print(_table(graph, console_width()))
    totals = graph.totals()
    print(f"{graph.name}: {totals.macs / 1e9:.3f} GMAC, {totals.params:,} parameters, "
          f"{totals.weight_bytes:,} weight bytes")
    if json_out:
        plan.stage(json_out, json.dumps(graph.to_dict(), indent=1) + "\n")
    plan.commit()
    return 0
