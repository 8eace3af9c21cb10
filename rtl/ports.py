"""Flat port lists of components and per-cycle port values packed in 32-bit words.

Both cosimulation backends (the Amaranth simulator and a Verilator model) run an
open-loop *stimulus*: for every input port an ``(ncycles, words)`` uint32 array of
raw port bits (LSB word first), and return the same for every output port.
Port names join the signature path with ``_`` (``i_payload``, ``o_valid``); the
Verilog export uses the same names.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from amaranth.hdl import Shape, Value
from amaranth.lib import wiring

__all__ = ["Port", "component_ports", "words_for", "pack_fields", "unpack_field"]


@dataclass(frozen=True)
class Port:
    """One flattened port of a component.

    Attributes
    ----------
    name
        Verilog name: the signature path joined with ``_``.
    direction
        ``"in"`` or ``"out"``.
    width
        Width in bits.
    signed
        Whether the port (as a whole) is a signed integer; structured ports are unsigned bit vectors.
    value
        The Amaranth value behind the port.
    """

    name: str
    direction: Literal["in", "out"]
    width: int
    signed: bool
    value: Value


def component_ports(component: wiring.Component) -> list[Port]:
    """Flatten ``component``'s signature into :class:`Port` records (signature order)."""
    ports = []
    for path, member, value in component.signature.flatten(component):
        shape = member.shape
        signed = isinstance(shape, Shape) and shape.signed
        value = Value.cast(value)
        direction = "in" if member.flow == wiring.In else "out"
        ports.append(Port("_".join(map(str, path)), direction, len(value), signed, value))
    return ports


def words_for(width: int) -> int:
    """Number of 32-bit words holding ``width`` bits (at least 1)."""
    return max(1, (width + 31) // 32)


def pack_fields(count: int, fields: Sequence[tuple[np.ndarray | int, int]]) -> np.ndarray:
    """Pack fields (LSB first) into ``(count, words)`` uint32 rows.

    Parameters
    ----------
    count
        Number of rows (cycles).
    fields
        ``(values, width)`` pairs, ``width`` in [1, 32]; ``values`` broadcast to ``count``
        integers, taken modulo ``2**width`` (two's complement for negatives).
    """
    total = sum(width for _, width in fields)
    words = np.zeros((count, words_for(total) + 1), dtype=np.uint64)
    offset = 0
    for values, width in fields:
        if not 1 <= width <= 32:
            raise ValueError(f"width: expected a field width in [1, 32], got {width}")
        raw = np.broadcast_to(np.asarray(values, dtype=np.int64), (count,))
        raw = (raw & ((1 << width) - 1)).astype(np.uint64) << np.uint64(offset % 32)
        index = offset // 32
        words[:, index] |= raw & np.uint64(0xFFFFFFFF)
        words[:, index + 1] |= raw >> np.uint64(32)
        offset += width
    return words[:, :-1].astype(np.uint32)


def unpack_field(words: np.ndarray, offset: int, width: int, signed: bool) -> np.ndarray:
    """Read a ``width``-bit field (``width <= 32``) at bit ``offset`` from uint32 rows, as int64."""
    index, bit = divmod(offset, 32)
    raw = words[:, index].astype(np.uint64)
    if index + 1 < words.shape[1]:
        raw |= words[:, index + 1].astype(np.uint64) << np.uint64(32)
    value = ((raw >> np.uint64(bit)) & np.uint64((1 << width) - 1)).astype(np.int64)
    if signed:
        value = np.where(value >= (1 << (width - 1)), value - (1 << width), value)
    return value
