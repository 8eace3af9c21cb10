"""docs/importers.md embeds the supported-operator tables exactly as the importers generate them."""

from __future__ import annotations

from pathlib import Path

from sw.graph.importers.onnx_import import SUPPORTED_OPS as ONNX_OPS
from sw.graph.importers.optable import markdown
from sw.graph.importers.tflite_import import SUPPORTED_OPS as TFLITE_OPS

DOC = Path(__file__).resolve().parents[2] / "docs" / "importers.md"


def test_docs_embed_the_generated_tables():
    text = DOC.read_text()
    begin, end = "<!-- optable:begin -->\n", "<!-- optable:end -->"
    embedded = text[text.index(begin) + len(begin):text.index(end)]
    assert embedded == markdown()


def test_every_supported_operator_has_a_row():
    table = markdown()
    for op in TFLITE_OPS:
        assert f"| `{op}` |" in table
    for op in ONNX_OPS:
        assert f"`{op}`" in table
