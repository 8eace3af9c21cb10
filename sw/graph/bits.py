"""Bit-width policies: the one syntax every command uses for ``--bits``.

A *width* is ``N`` (weights and activations), ``wWaA`` or ``W/A``; 32 means float
(executed on the float path and costed as such). A *policy* is a comma-separated
list of widths and ``PART=WIDTH`` items, e.g. ``4``, ``w4a8``, ``8,head=4`` or
``backbone=4,neck=w4a8,head=32``: a bare width applies to every layer, a part item
to the layers of that part (backbone, neck, head), the later overriding the former.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sw.graph.ir import BITS, Graph, Part

__all__ = ["BitPolicy", "parse_width", "parse_bits"]

PARTS = tuple(p.value for p in Part)


def parse_width(text: str, where: str = "--bits") -> tuple[int, int]:
    """``(w_bits, a_bits)`` of ``"N"``, ``"wWaA"`` or ``"W/A"``; ValueError naming ``where`` otherwise."""
    t = text.strip().lower()
    try:
        if t.startswith("w") and "a" in t:
            w, a = t[1:].split("a", 1)
        elif "/" in t:
            w, a = t.split("/", 1)
        else:
            w = a = t
        pair = (int(w), int(a))
    except ValueError:
        raise ValueError(f"{where}: expected a width like 4, w4a8 or 4/8, got {text!r}") from None
    for b in pair:
        if b not in BITS:
            raise ValueError(f"{where}: unsupported bit width {b} (supported: {sorted(BITS)})")
    return pair


@dataclass(frozen=True)
class BitPolicy:
    """Widths ``(w_bits, a_bits)`` for every layer (``default``) and/or per part (``parts``)."""

    default: tuple[int, int] | None = None
    parts: Mapping[str, tuple[int, int]] | None = None

    def apply(self, graph: Graph) -> Graph:
        """``graph`` with this policy's widths (layers of unnamed parts keep theirs)."""
        return graph.with_bits(default=self.default, parts=self.parts)


def parse_bits(spec: str, where: str = "--bits") -> BitPolicy:
    """Parse a policy such as ``"8,head=4"`` (module docstring); ValueError naming ``where``."""
    default, parts = None, {}
    for item in spec.split(","):
        if not item.strip():
            raise ValueError(f"{where}: empty item in {spec!r}")
        part, sep, value = item.partition("=")
        if sep:
            part = part.strip().lower()
            if part not in PARTS:
                raise ValueError(f"{where}: unknown part '{part}' (parts: {', '.join(PARTS)})")
            parts[part] = parse_width(value, where)
        else:
            default = parse_width(item, where)
    return BitPolicy(default, parts or None)
