"""Tile-by-tile discrete-event engine (simpy): DMA-in, PE array, requantization, write-back.

Timing semantics (the fast path in :mod:`hwsim.fastpath` implements the same rules
analytically; tests check that they agree exactly on every layer of the model zoo):

* **DMA-in** (mimics the load DMA): for tile ``i`` it takes a free input slot (two
  slots: input and weight buffers are double buffered), holds the shared DRAM port for
  ``ceil(bytes / dram_bytes_per_cycle)`` cycles, releases it, and the data lands
  ``dram_latency_cycles`` later (requests are pipelined, so latency does not hold
  the port). A tile's whole load (input, weights, requantization parameters) is one
  transfer [rtl: the accelerator top chains a tile's LOADs, ``rtl/top/dma.py``, and
  its first LOAD acquires both halves, ``rtl.top.program.tile_loads``]. Tiles that load
  nothing (operands resident) skip the port; data is handed to the array in tile order.
* **PE array** (rtl/array.py via :mod:`rtl.timing`): takes the loaded tile and a free
  output slot, computes for ``compute_cycles`` (back-to-back array-tile intervals), and
  frees the input slot ``release_cycles`` before the end, when the last operand beat
  entered the array [rtl: rtl/top/compute.py releases the tile's input and weight halves
  then; ``max(K, Dmin) - K`` of the last array tile on the RTL's timing].
* **requantization** (rtl/requant.py): the tile's last result leaves the pipeline
  ``tail_cycles`` (``REQUANT_PIPELINE_CYCLES``) after the array finishes; it overlaps
  the next tile.
* **write-back**: holds the DRAM port for the tile's output bytes (posted writes, no
  latency), then frees the output slot. Write-back requests have priority over loads
  on the port (``simpy.PriorityResource``, priority 0 vs 1); the write-back process asks
  for the port again only once its previous store has released it, so a load already
  waiting then goes first [rtl: the top's DMA arbitrates the same way].

Each layer starts with empty buffers and ends when its last store completes; layers
do not overlap. Time is integer cycles. Monitors append ``(cycle, unit, event, tile)``
tuples to :attr:`LayerEngine.log`.
"""

from __future__ import annotations

from collections.abc import Iterable

import simpy

from hwsim import costs
from hwsim.compiler.schedule import Tile

__all__ = ["LayerEngine", "simulate_tiles_event", "trace_layer", "TRACE_COLUMNS"]

#: Columns of a cycle-level trace (:func:`trace_layer`): one row per tile operation, cycles.
TRACE_COLUMNS = ("tile", "unit", "event", "start", "end")

STORE_PRIORITY, LOAD_PRIORITY = 0, 1


class LayerEngine:
    """simpy model of one layer's tile pipeline.

    Parameters
    ----------
    tiles
        The layer's tiles in execution order.
    bytes_per_cycle
        DRAM port bandwidth, bytes/cycle.
    latency
        DRAM read latency, cycles.
    log
        Record ``(cycle, unit, event, tile)`` tuples (slower; for tests and traces).
    trace
        Record ``(tile, unit, event, start, end)`` intervals in :attr:`spans`: ``dma_in load`` (port
        held), ``dma_in latency`` (until the data landed), ``array compute``, ``requant tail``,
        ``write_back store`` (port held).
    """

    def __init__(self, tiles: Iterable[Tile], bytes_per_cycle: float, latency: int, *, log: bool = False,
                 trace: bool = False):
        self.env = simpy.Environment()
        self.tiles = list(tiles)
        self.bw, self.latency = bytes_per_cycle, latency
        self.port = simpy.PriorityResource(self.env, capacity=1)
        self.in_free, self.in_full = simpy.Store(self.env), simpy.Store(self.env)
        self.out_free, self.out_full = simpy.Store(self.env), simpy.Store(self.env)
        for slot in (0, 1):
            self.in_free.put(slot)
            self.out_free.put(slot)
        self.log: list[tuple[int, str, str, int]] | None = [] if log else None
        self.spans: list[tuple[int, str, str, int, int]] | None = [] if trace else None
        self.end = 0
        self.last_compute_end = 0
        self._last_ready = 0

    def _mark(self, unit: str, event: str, i: int) -> None:
        if self.log is not None:
            self.log.append((int(self.env.now), unit, event, i))

    def _span(self, i: int, unit: str, event: str, start: int) -> None:
        if self.spans is not None:
            self.spans.append((i, unit, event, int(start), int(self.env.now)))

    def dma_in(self):
        """Load process: one tile after the other into the free input slot."""
        for i, tile in enumerate(self.tiles):
            slot = yield self.in_free.get()
            if tile.load_bytes:
                with self.port.request(priority=LOAD_PRIORITY) as req:
                    yield req
                    self._mark("dma_in", "start", i)
                    t0 = self.env.now
                    yield self.env.timeout(costs.dram_cycles(tile.load_bytes, self.bw))
                    self._span(i, "dma_in", "load", t0)
                ready = int(self.env.now) + self.latency
            else:  # operands resident: ready once every earlier tile's data has landed (in order)
                ready = max(int(self.env.now), self._last_ready)
            self._last_ready = ready
            self.env.process(self._deliver(i, slot, ready - int(self.env.now)))

    def _deliver(self, i: int, slot: int, delay: int):
        t0 = self.env.now
        if delay:
            yield self.env.timeout(delay)
            self._span(i, "dma_in", "latency", t0)
        self._mark("dma_in", "ready", i)
        yield self.in_full.put((i, slot))

    def pe_array(self):
        """Array process: compute each loaded tile into a free output slot."""
        for i, tile in enumerate(self.tiles):
            _, in_slot = yield self.in_full.get()
            out_slot = yield self.out_free.get()
            self._mark("array", "start", i)
            t0 = self.env.now
            yield self.env.timeout(tile.compute_cycles - tile.release_cycles)
            self.in_free.put(in_slot)  # the last operand beat entered the array
            if tile.release_cycles:
                yield self.env.timeout(tile.release_cycles)
            self._span(i, "array", "compute", t0)
            self.last_compute_end = int(self.env.now)
            self._mark("array", "end", i)
            self.env.process(self.requant(i, out_slot, tile.tail_cycles))

    def requant(self, i: int, out_slot: int, tail: int):
        """Requantization pipeline latency of the tile's last result."""
        t0 = self.env.now
        yield self.env.timeout(tail)
        if tail:
            self._span(i, "requant", "tail", t0)
        self._mark("requant", "done", i)
        yield self.out_full.put((i, out_slot))

    def write_back(self):
        """Store process: each finished tile's output to DRAM, then free its slot."""
        for i, tile in enumerate(self.tiles):
            _, slot = yield self.out_full.get()
            if tile.store_bytes:
                with self.port.request(priority=STORE_PRIORITY) as req:
                    yield req
                    self._mark("write_back", "start", i)
                    t0 = self.env.now
                    yield self.env.timeout(costs.dram_cycles(tile.store_bytes, self.bw))
                    self._span(i, "write_back", "store", t0)
            self._mark("write_back", "end", i)
            self.out_free.put(slot)
        self.end = int(self.env.now)

    def run(self) -> int:
        """Simulate; returns the layer's cycles (end of its last store)."""
        if not self.tiles:
            return 0
        self.env.process(self.dma_in())
        self.env.process(self.pe_array())
        done = self.env.process(self.write_back())
        self.env.run(until=done)
        return self.end


def simulate_tiles_event(tiles: Iterable[Tile], bytes_per_cycle: float, latency: int) -> int:
    """Cycles of a tile sequence in the simpy engine."""
    return LayerEngine(tiles, bytes_per_cycle, latency).run()


def trace_layer(tiles: Iterable[Tile], bytes_per_cycle: float, latency: int) -> tuple[int, list[tuple]]:
    """``(cycles, rows)``: a layer's cycle-level trace from event mode, rows as :data:`TRACE_COLUMNS`, by start."""
    eng = LayerEngine(tiles, bytes_per_cycle, latency, trace=True)
    cycles = eng.run()
    return cycles, sorted(eng.spans, key=lambda r: (r[3], r[0], r[4]))
