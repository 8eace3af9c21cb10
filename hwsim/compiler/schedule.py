"""Tiled schedules: what each layer's tiles load, compute, requantize and store.

A layer's schedule is a tree of :class:`Loop` nodes over :class:`Tile` leaves: the
loop nest of the tiling with runs of identical tiles (and identical rows, column
blocks, groups) folded into one node with a count. Expanding the tree in order gives
the tile sequence the hardware executes; each tile is four operations: load (DMA-in
of ``load_ifmap_bytes + load_weight_bytes``), compute (``compute_cycles`` on
``unit``), requantize (``tail_cycles`` of pipeline latency) and store
(``store_bytes`` of DMA-out). Byte counts are at the layer's bit widths (int4 packs
two per byte). Cycles come from :mod:`hwsim.costs`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from functools import cached_property
from operator import attrgetter
from typing import Any, Union

__all__ = ["Tile", "Loop", "Node", "LayerSchedule", "Schedule", "expand", "compress", "tree_totals"]


@dataclass(frozen=True)
class Tile:
    """One tile: its four operations and its SRAM access counts (bytes).

    ``unit`` is ``array`` (PE array + requantization), ``float`` (vector unit's fp32
    MACs), ``vector`` (element-wise / pooling / LUT) or ``dma`` (pure data movement).
    ``release_cycles``: cycles before the end of ``compute_cycles`` at which the tile's operands
    are no longer needed and its input slot is freed (the last operand beat entered the array:
    ``max(K, Dmin) - K`` of the last array tile on the RTL's timing [rtl: rtl/top/compute.py],
    else 0). ``instructions``: the tile's instructions in the RTL top's program (its LOADs, the
    COMPUTE, the STORE when it stores; [rtl: rtl/top/program.py layer_program]), 0 off the top.
    """

    unit: str
    pixels: int
    channels: int
    k: int
    array_tiles: int
    macs: int
    load_ifmap_bytes: int
    load_weight_bytes: int
    store_bytes: int
    compute_cycles: int
    tail_cycles: int
    ifmap_read_bytes: int
    weight_read_bytes: int
    ofmap_read_bytes: int
    ofmap_write_bytes: int
    requant_ops: int
    vector_ops: int
    release_cycles: int = 0
    instructions: int = 0

    @property
    def load_bytes(self) -> int:
        """DMA-in bytes (activations + weights)."""
        return self.load_ifmap_bytes + self.load_weight_bytes


@dataclass(frozen=True)
class Loop:
    """``count`` repetitions of ``body`` (a sequence of tiles and loops)."""

    body: tuple
    count: int = 1


Node = Union[Tile, Loop]


def compress(items: list) -> tuple:
    """Fold consecutive equal nodes into :class:`Loop` nodes with a count."""
    out: list = []
    prev, run = None, 0
    for item in items:
        if run and (item is prev or item == prev):
            run += 1
            continue
        if run:
            out.append(prev if run == 1 else Loop((prev,), run))
        prev, run = item, 1
    if run:
        out.append(prev if run == 1 else Loop((prev,), run))
    return tuple(out)


def expand(node: Node) -> Iterator[Tile]:
    """Every tile of ``node`` in execution order."""
    if isinstance(node, Tile):
        yield node
        return
    for _ in range(node.count):
        for child in node.body:
            yield from expand(child)


_SUM_FIELDS = ("macs", "array_tiles", "load_ifmap_bytes", "load_weight_bytes", "store_bytes", "compute_cycles",
               "ifmap_read_bytes", "weight_read_bytes", "ofmap_read_bytes", "ofmap_write_bytes",
               "requant_ops", "vector_ops", "instructions")
_TOTAL_FIELDS = (*_SUM_FIELDS, "tiles")
_tile_sums = attrgetter(*_SUM_FIELDS)


def tree_totals(node: Node, _memo: dict | None = None) -> dict[str, int]:
    """Sums of the tile fields over the expanded tree, plus ``tiles`` (count)."""
    return dict(zip(_TOTAL_FIELDS, _sums(node, {} if _memo is None else _memo)))


def _sums(node: Node, memo: dict) -> tuple[int, ...]:
    """:func:`tree_totals` as a tuple in ``_TOTAL_FIELDS`` order (``memo``: id -> (node, sums), shared nodes)."""
    hit = memo.get(id(node))
    if hit is not None:
        return hit[1]
    if isinstance(node, Tile):
        result = (*_tile_sums(node), 1)
    else:
        acc = [0] * len(_TOTAL_FIELDS)
        for child in node.body:
            acc = [a + b for a, b in zip(acc, _sums(child, memo))]
        result = tuple(acc) if node.count == 1 else tuple(v * node.count for v in acc)
    memo[id(node)] = (node, result)
    return result


def _node_json(node: Node, tiles: dict[int, int], kinds: list) -> Any:
    if isinstance(node, Tile):
        key = id(node)
        if key not in tiles:
            tiles[key] = len(kinds)
            kinds.append(asdict(node))
        return tiles[key]
    return {"count": node.count, "body": [_node_json(c, tiles, kinds) for c in node.body]}


@dataclass(frozen=True)
class LayerSchedule:
    """The schedule of one layer.

    Attributes
    ----------
    name, op
        Layer name and op.
    unit
        Unit doing the layer's compute (``array``, ``float``, ``vector``, ``dma``).
    tiling
        The chosen tiling parameters (JSON-ready dict: tile sizes, loop order, reason).
    root
        Loop tree of tiles (see module docstring).
    """

    name: str
    op: str
    unit: str
    tiling: dict
    root: Loop

    def totals(self) -> dict[str, int]:
        """Sums over all tiles (see :func:`tree_totals`; computed once per schedule)."""
        return dict(self._totals)

    @cached_property
    def _totals(self) -> dict[str, int]:
        return tree_totals(self.root)

    def tiles(self) -> Iterator[Tile]:
        """All tiles in execution order."""
        return expand(self.root)

    def to_dict(self) -> dict:
        """JSON-ready: tiling, distinct tile kinds and the loop tree referring to them."""
        kinds: list = []
        tree = _node_json(self.root, {}, kinds)
        return {"name": self.name, "op": self.op, "unit": self.unit, "tiling": self.tiling,
                "totals": self.totals(), "tile_kinds": kinds, "loops": tree}


@dataclass(frozen=True)
class Schedule:
    """Schedules of every layer of a graph on one configuration."""

    model: str
    config: str
    layers: tuple[LayerSchedule, ...]

    def to_dict(self) -> dict:
        return {"model": self.model, "config": self.config, "layers": [l.to_dict() for l in self.layers]}

    def to_json(self, indent: int | None = 1) -> str:
        """The schedule as JSON text."""
        return json.dumps(self.to_dict(), indent=indent)
