"""Bit-width policies: the one syntax every command uses for ``--bits``.

A *width* is ``N`` (weights and activations), ``wWaA`` or ``W/A``; 32 means float
(executed on the float path and costed as such). A *policy* is a comma-separated
list of at most one bare width and ``PART=WIDTH`` items, e.g. ``4``, ``w4a8``,
``8,head=4`` or ``backbone=4,neck=w4a8,head=32``: the bare width applies to every
layer, a part item to the layers of that part (backbone, neck, head), overriding the
bare width. Ambiguous policies are errors naming the token: two bare widths
(``4,8``), a part named twice, an empty policy or an empty item.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sw.graph.ir import BITS, Graph, Part

__all__ = ["BitPolicy", "parse_width", "parse_bits", "parse_width_list"]

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
    if not spec.strip():
        raise ValueError(f"{where}: expected a width or policy like 4, w4a8 or 8,head=4, got an empty value")
    default, default_token, parts = None, "", {}
    for item in spec.split(","):
        if not item.strip():
            raise ValueError(f"{where}: empty item in {spec!r}")
        part, sep, value = item.partition("=")
        if sep:
            part = part.strip().lower()
            if part not in PARTS:
                raise ValueError(f"{where}: unknown part '{part}' (parts: {', '.join(PARTS)})")
            if part in parts:
                raise ValueError(f"{where}: part '{part}' is given twice in {spec!r}; give each part once")
            parts[part] = parse_width(value, where)
        else:
            if default is not None:
                raise ValueError(f"{where}: '{item.strip()}' is a second bare width after '{default_token}' in "
                                 f"{spec!r}; give one width for all layers, and PART=WIDTH for parts "
                                 f"(for a side-by-side run use --compare-bits)")
            default, default_token = parse_width(item, where), item.strip()
    return BitPolicy(default, parts or None)


def parse_width_list(spec: str, where: str) -> list[tuple[str, tuple[int, int]]]:
    """``(item, width)`` of each distinct width of a list such as ``"4,8,w4a8"`` (at least one)."""
    if not spec.strip():
        raise ValueError(f"{where}: expected comma-separated widths like 4,8, got an empty value")
    widths: list[tuple[str, tuple[int, int]]] = []
    for item in spec.split(","):
        if not item.strip():
            raise ValueError(f"{where}: empty item in {spec!r}")
        width = parse_width(item, where)
        if width in (w for _, w in widths):
            raise ValueError(f"{where}: width '{item.strip()}' is given twice in {spec!r}")
        widths.append((item.strip(), width))
    return widths
