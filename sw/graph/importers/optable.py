"""Supported-operator tables of the importers, generated from the importers themselves.

One source: each ``op_<Op>`` handler's docstring says what the operator becomes
in the IR, and :data:`~sw.graph.importers.patterns.PATTERN_TABLE` lists the
rewrite patterns both importers apply. ``python -m sw.graph.importers.optable``
prints the Markdown that ``docs/importers.md`` embeds (a test keeps them equal).
"""

from __future__ import annotations

import inspect

from sw.graph.importers.onnx_fold import FOLDABLE
from sw.graph.importers.onnx_import import SUPPORTED_OPS as ONNX_OPS
from sw.graph.importers.onnx_ops import OnnxOps
from sw.graph.importers.patterns import PATTERN_TABLE
from sw.graph.importers.tflite_import import SUPPORTED_OPS as TFLITE_OPS
from sw.graph.importers.tflite_ops import TfliteOps

__all__ = ["markdown"]


def _doc(cls: type, op: str) -> str:
    doc = inspect.getdoc(getattr(cls, f"op_{op}")) or ""
    return " ".join(doc.split("\n\n")[0].split())


def _table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]


def markdown() -> str:
    """The ONNX, TFLite and shared-pattern tables as Markdown."""
    handled = [op for op in ONNX_OPS if hasattr(OnnxOps, f"op_{op}")]
    onnx_rows = [(f"`{op}`", _doc(OnnxOps, op)) for op in handled]
    folded = sorted(set(FOLDABLE) - set(handled) | {"Constant"})
    onnx_rows.append((", ".join(f"`{op}`" for op in folded),
                      "folded when all inputs are constants (shape subgraphs); also every op above"))
    tflite_rows = [(f"`{op}`", _doc(TfliteOps, op)) for op in TFLITE_OPS]
    lines = ["#### ONNX", ""] + _table(("operator", "IR"), onnx_rows)
    lines += ["", "#### TFLite", ""] + _table(("operator", "IR"), tflite_rows)
    lines += ["", "#### Rewrite patterns (shared table, `sw/graph/importers/patterns.py`)", ""]
    lines += _table(("ONNX", "TFLite", "IR", "condition"), [(r.onnx, r.tflite, r.ir, r.note) for r in PATTERN_TABLE])
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(markdown(), end="")
