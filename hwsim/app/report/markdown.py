"""Markdown building blocks of the curated reports: tables and number formatting."""

from __future__ import annotations

import math
from collections.abc import Sequence

__all__ = ["md_table", "num"]


def num(value: float | int | None, digits: int = 1) -> str:
    """A number for a table cell: ``-`` for None / nan, ``inf`` kept, fixed ``digits`` decimals."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, float) and math.isinf(value):
        return "inf" if value > 0 else "-inf"
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:.{digits}f}"


def md_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A GitHub-flavoured markdown table; cells are ``str()``-ed and ``|`` escaped."""
    def cell(v: object) -> str:
        return str(v).replace("|", "\\|")

    lines = ["| " + " | ".join(cell(h) for h in headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"
