"""Pure cost functions (cycles) of the accelerator's units; no simulation state.

Every PE-array and requantization figure comes from :mod:`rtl.timing`, the RTL's
own timing module, so the simulator cannot drift from the hardware:

* output stationary (the RTL): back-to-back array tiles cost
  :func:`rtl.timing.array_tile_interval` each (``max(k, Dmin)``: each PE's shadow
  register lets the drain of one tile overlap the next tile's beats) and the last result
  of a run of tiles appears :func:`os_tail_cycles` after the array is free (the drain of
  the last tile plus the requantization pipeline:
  :func:`rtl.timing.array_tile_cycles` = interval + tail);
* weight stationary (no RTL yet, [assumed], SCALE-Sim's fold shape): see
  :func:`ws_fold_cycles`.
"""

from __future__ import annotations

import math

from rtl.timing import MAC_CYCLES, REQUANT_PIPELINE_CYCLES, array_tile_cycles, array_tile_interval

__all__ = ["os_tile_interval", "os_tail_cycles", "os_compute_cycles", "ws_fold_cycles", "ws_compute_cycles",
           "vector_cycles", "float_mac_cycles", "dram_cycles", "k_chunks", "REQUANT_PIPELINE_CYCLES"]


def k_chunks(k: int, max_depth: int) -> list[int]:
    """Split a reduction of ``k`` beats into chunks of at most ``max_depth`` (balanced)."""
    n = max(1, math.ceil(k / max_depth))
    base, extra = divmod(k, n)
    return [base + (1 if i < extra else 0) for i in range(n)]


def os_tile_interval(rows: int, cols: int, k: int, lanes: int, timing: str = "rtl") -> int:
    """Cycles between back-to-back OS array tiles of depth ``k``.

    ``timing="rtl"``: :func:`rtl.timing.array_tile_interval` (``max(k, Dmin)``) [rtl: rtl/timing.py];
    ``timing="scalesim"``: SCALE-Sim's stall-free output-stationary fold, ``k + rows + cols - 2``
    (every fold re-pays the skew; folds run back to back) [peer: SCALE-Sim].
    """
    if timing == "scalesim":
        return k + rows + cols - 2
    return array_tile_interval(rows, cols, k, requant_lanes=lanes)


def os_tail_cycles(rows: int, cols: int, k: int, lanes: int, timing: str = "rtl") -> int:
    """Cycles from the end of the last OS tile's interval to its last requantized result.

    ``timing="rtl"`` [rtl: rtl/timing.py]: ``array_tile_cycles - array_tile_interval``: the last
    tile's drain start offset and drain beyond its interval, plus ``REQUANT_PIPELINE_CYCLES``.
    ``timing="scalesim"``: 0 (SCALE-Sim models no drain or requantization) [peer: SCALE-Sim].
    """
    if timing == "scalesim":
        return 0
    return array_tile_cycles(rows, cols, k, requant_lanes=lanes) - array_tile_interval(rows, cols, k,
                                                                                       requant_lanes=lanes)


def os_compute_cycles(rows: int, cols: int, lanes: int, array_tiles: int, k: int, max_depth: int, *,
                      passes: int = 1, timing: str = "rtl") -> int:
    """Array-busy cycles of ``array_tiles`` back-to-back OS tiles of depth ``k`` (K elements).

    A reduction deeper than the PE accumulator (``max_depth``) is split into chunks;
    each chunk is drained like a tile (partial sums go to the accumulator buffer),
    so a tile costs the sum of its chunks' intervals. Each K element takes ``passes``
    operand beats (wider precision modes on narrower PEs). The drain and requantization
    of the last tile is not included (:func:`os_tail_cycles`; it overlaps the next tile;
    the engine adds it as the tail of the last tile).
    """
    per_tile = sum(os_tile_interval(rows, cols, c * passes, lanes, timing) for c in k_chunks(k, max_depth))
    return array_tiles * per_tile


def ws_fold_cycles(rows: int, cols: int, pixels: int, lanes: int, last: bool) -> int:
    """One weight-stationary fold [assumed: no WS RTL; SCALE-Sim's fold shape].

    ``rows`` cycles to preload the weights, ``(rows - 1) + (cols - 1)`` skew, one
    pixel per cycle for ``pixels`` pixels, ``MAC_CYCLES`` [rtl] for the last product.
    On the last reduction fold the ``cols`` outputs per pixel pass the requantization
    units, which accept ``lanes`` per cycle, so the stream takes
    ``pixels * ceil(cols / lanes)`` cycles when that is longer.
    """
    stream = pixels * (-(-cols // lanes)) if last else pixels
    return rows + (rows - 1) + (cols - 1) + MAC_CYCLES + stream


def ws_compute_cycles(rows: int, cols: int, lanes: int, k: int, n: int, pixels: int) -> int:
    """Cycles of a WS SRAM tile: ``ceil(k/rows) * ceil(n/cols)`` folds over ``pixels`` pixels."""
    kf, nf = -(-k // rows), -(-n // cols)
    return nf * ((kf - 1) * ws_fold_cycles(rows, cols, pixels, lanes, False)
                 + ws_fold_cycles(rows, cols, pixels, lanes, True))


def vector_cycles(ops: int, lanes: int) -> int:
    """Vector-unit cycles for ``ops`` element operations at ``lanes`` per cycle [assumed]."""
    return -(-ops // lanes) if ops > 0 else 0


def float_mac_cycles(macs: int, float_macs_per_cycle: int) -> int:
    """Cycles of ``macs`` fp32 MACs on the vector unit's float MACs [assumed]."""
    return -(-macs // float_macs_per_cycle) if macs > 0 else 0


def dram_cycles(nbytes: int, bytes_per_cycle: float) -> int:
    """Port-occupancy cycles of a DRAM transfer of ``nbytes`` (latency excluded)."""
    return math.ceil(nbytes / bytes_per_cycle) if nbytes > 0 else 0
