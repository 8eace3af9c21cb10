"""Fast path: the engine's timing rules as a recurrence, with identical tiles batched.

:func:`pipeline_times` evaluates the rules of :mod:`hwsim.engine` (two input and two
output slots, a DRAM port shared by loads and prioritised stores, pipelined read
latency, requantization tail) without an event queue: loads and stores are merged in
the order the port would grant them. :func:`simulate_tree` runs it on a loop tree
whose loops are cut to at most ``WINDOW`` iterations; once a loop is in steady state
every further iteration shifts all times by the same period, so the skipped
iterations add ``(count - WINDOW) * period`` cycles (steady-state replication; loops whose
body has more than ``LONG_BODY`` tiles are cut to ``LONG_WINDOW`` iterations). The
period is measured over the last two simulated iterations (so period-2 patterns are
replicated exactly). Agreement with the event engine is tested per layer (1%).
"""

from __future__ import annotations

from hwsim import costs
from hwsim.compiler.schedule import Node, Tile

__all__ = ["pipeline_times", "simulate_tree", "simulate_tree_drain", "WINDOW"]

WINDOW = 6
#: Loop bodies longer than LONG_BODY tiles are simulated for LONG_WINDOW iterations only.
LONG_BODY, LONG_WINDOW = 64, 3


def pipeline_times(tiles: list[Tile], bw: float, latency: int) -> tuple[int, list[int]]:
    """``(end cycle, compute-end cycle of each tile)`` of a tile sequence."""
    n = len(tiles)
    if n == 0:
        return 0, []
    occ_in, occ_out, comp, tail, early = [0] * n, [0] * n, [0] * n, [0] * n, [0] * n
    per_tile: dict[int, tuple[int, int, int, int, int]] = {}  # identical tile objects repeat
    for k, t in enumerate(tiles):
        v = per_tile.get(id(t))
        if v is None:
            v = per_tile[id(t)] = (costs.dram_cycles(t.load_bytes, bw), costs.dram_cycles(t.store_bytes, bw),
                                   t.compute_cycles, t.tail_cycles, t.release_cycles)
        occ_in[k], occ_out[k], comp[k], tail[k], early[k] = v
    le = [0] * n
    lr = [0] * n
    ce = [0] * n
    se = [0] * n
    port = 0
    dma_free = 0
    i = j = c = 0  # next load, next store, next compute end to evaluate
    # compute end of tile c: after its load arrives, the previous compute, and the store two tiles back
    # (two output slots); evaluated lazily up to the tile a decision needs ("while c <= idx" below)
    while j < n:
        if i < n and j >= i - 3:  # a load may go next
            while c <= i - 2:
                start = lr[c]
                if c >= 1 and ce[c - 1] > start:
                    start = ce[c - 1]
                if c >= 2 and se[c - 2] > start:
                    start = se[c - 2]
                ce[c] = start + comp[c]
                c += 1
            free_at = ce[i - 2] - early[i - 2] if i >= 2 else 0  # tile i - 2 freed its input slot
            r_l = dma_free if i < 2 or dma_free >= free_at else free_at
            do_load = True
            if j < i:  # so may a store
                while c <= j:
                    start = lr[c]
                    if c >= 1 and ce[c - 1] > start:
                        start = ce[c - 1]
                    if c >= 2 and se[c - 2] > start:
                        start = se[c - 2]
                    ce[c] = start + comp[c]
                    c += 1
                r_s = ce[j] + tail[j]
                if j >= 1 and se[j - 1] > r_s:
                    r_s = se[j - 1]
                if occ_in[i] == 0:
                    do_load = True
                elif occ_out[j] == 0:
                    do_load = False
                elif (r_l if r_l > r_s else r_s) <= port:
                    # both may wait for the port; a request made at the release instant by the
                    # process that released it is queued after the grant (simpy order)
                    store_queued = r_s < port or (j >= 1 and se[j - 1] != port) or j == 0
                    load_queued = r_l < port or dma_free != port
                    do_load = not store_queued and load_queued
                else:
                    do_load = r_l < r_s
        else:
            do_load = False
            while c <= j:
                start = lr[c]
                if c >= 1 and ce[c - 1] > start:
                    start = ce[c - 1]
                if c >= 2 and se[c - 2] > start:
                    start = se[c - 2]
                ce[c] = start + comp[c]
                c += 1
            r_s = ce[j] + tail[j]
            if j >= 1 and se[j - 1] > r_s:
                r_s = se[j - 1]
        if do_load:  # r_l is current: nothing changed since it was computed
            if occ_in[i]:
                le[i] = port = (port if port > r_l else r_l) + occ_in[i]
                lr[i] = le[i] + latency
            else:
                le[i] = r_l
                lr[i] = (lr[i - 1] if lr[i - 1] > r_l else r_l) if i else r_l
            dma_free = le[i]
            i += 1
        else:  # so is r_s
            if occ_out[j]:
                se[j] = port = (port if port > r_s else r_s) + occ_out[j]
            else:
                se[j] = r_s
            j += 1
    return se[-1], ce


def _flatten(node: Node, window: int, memo: dict) -> tuple[list[Tile], tuple | None]:
    """The tiles of ``node``'s simulated iterations and its record ``(count, [(kids, last index), ...])``
    per iteration (``kids``: ``(offset, record)`` of the loops in the body); indices are relative to the
    node's first tile. A node is flattened once per call (``memo``: id -> (node, tiles, record))."""
    if type(node) is Tile:
        return [node], None
    hit = memo.get(id(node))
    if hit is not None:
        return hit[1], hit[2]
    reps = min(node.count, window)
    iters = []
    tiles: list[Tile] = []
    body = node.body
    leaves = all(type(child) is Tile for child in body)
    for i in range(reps):
        kids = []  # records of the loops in the body (tiles add nothing to _extra)
        if leaves:
            tiles.extend(body)
        else:
            for child in body:
                if type(child) is Tile:
                    tiles.append(child)
                else:
                    sub, rec = _flatten(child, window, memo)
                    kids.append((len(tiles), rec))
                    tiles.extend(sub)
        iters.append((kids, len(tiles) - 1))
        if i == 0 and len(tiles) > LONG_BODY:  # long bodies reach steady state sooner
            reps = min(reps, LONG_WINDOW)
        if len(iters) >= reps:
            break
    rec = (node.count, iters)
    memo[id(node)] = (node, tiles, rec)
    return tiles, rec


def _extra(rec, ce: list[int], base: int = 0) -> float:
    """Cycles of the iterations a record skipped (steady-state replication); ``base``: index of its first tile."""
    if rec is None:
        return 0.0
    count, iters = rec
    total = 0.0
    per_iter = [sum([_extra(k, ce, base + off) for off, k in kids]) if kids else 0 for kids, _ in iters]
    total += sum(per_iter)
    skipped = count - len(iters)
    if skipped > 0:
        ends = [base + end for _, end in iters]
        if len(ends) >= 3:
            period = (ce[ends[-1]] - ce[ends[-3]]) / 2
        else:
            period = ce[ends[-1]] - ce[ends[-2]]
        total += skipped * (period + per_iter[-1])
    return total


def simulate_tree(root: Node, bw: float, latency: int, window: int = WINDOW) -> int:
    """Cycles of a layer's loop tree with steady-state replication of long loops."""
    return simulate_tree_drain(root, bw, latency, window)[0]


def simulate_tree_drain(root: Node, bw: float, latency: int, window: int = WINDOW) -> tuple[int, int, int]:
    """``(cycles, drain, last store)``: the layer's cycles, the cycles from its last compute end to its
    end (requantization tail and remaining stores), and the port cycles of its last tile's store."""
    tiles, rec = _flatten(root, window, {})
    end, ce = pipeline_times(tiles, bw, latency)
    if not tiles:
        return 0, 0, 0
    return int(round(end + _extra(rec, ce))), end - ce[-1], costs.dram_cycles(tiles[-1].store_bytes, bw)
