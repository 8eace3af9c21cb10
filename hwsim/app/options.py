"""Command-line options shared by several commands."""

from __future__ import annotations

import argparse

from sw.graph import parse_input_shape

__all__ = ["add_input_shape_argument", "input_shapes"]


def add_input_shape_argument(parser: argparse.ArgumentParser) -> None:
    """``--input-shape NAME=DxDx...`` (repeatable), shared by inspect, simulate and run."""
    parser.add_argument("--input-shape", metavar="NAME=1x3xHxW", action="append", default=[],
                        help="pin a model input's dynamic dimensions (external layout); repeatable")


def input_shapes(args: argparse.Namespace) -> dict[str, tuple[int, ...]] | None:
    """The ``--input-shape`` values by input name (None when absent); a name given twice is an error."""
    shapes: dict[str, tuple[int, ...]] = {}
    for text in args.input_shape:
        name, shape = parse_input_shape(text)
        if name in shapes:
            raise ValueError(f"--input-shape: input '{name}' is given twice")
        shapes[name] = shape
    return shapes or None
