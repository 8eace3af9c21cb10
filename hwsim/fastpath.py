"""Fast path: the engine's timing rules as a recurrence, with identical tiles batched.

:func:`pipeline_times` evaluates the rules of :mod:`hwsim.engine` (two input and two
output slots, a DRAM port shared by loads and prioritised stores, pipelined read
latency, input slots freed ``release_cycles`` before the compute ends, requantization
tail) without an event queue: loads and stores are merged in the order the port would
grant them. :func:`simulate_tree` runs it on a loop tree whose loops are cut to at most
``WINDOW`` iterations (loops whose body has more than ``LONG_BODY`` tiles to
``LONG_WINDOW``); once a loop is in steady state its compute ends advance by a periodic
pattern, so the skipped iterations add whole periods (steady-state replication). The
period ``p <= MAX_PERIOD`` iterations is detected on the simulated iterations' compute-end
increments (:func:`_period`); a loop that is not yet periodic, or whose skipped count is
not a multiple of ``p`` (the phase), is simulated again with more iterations, up to
``ROUNDS`` times, so the replication is exact: the fast path equals the event engine
(tested per layer on the model zoo).
"""

from __future__ import annotations

from hwsim import costs
from hwsim.compiler.schedule import Node, Tile

__all__ = ["pipeline_times", "simulate_tree", "simulate_tree_drain", "WINDOW"]

WINDOW = 6
#: Loop bodies longer than LONG_BODY tiles are simulated for LONG_WINDOW iterations only.
LONG_BODY, LONG_WINDOW = 64, 3
#: Longest period (loop iterations) of a steady state that the replication detects.
MAX_PERIOD = 3
#: Re-simulations with more iterations of the loops that are not yet periodic or out of phase.
ROUNDS = 4


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


def _flatten(node: Node, window: int, memo: dict, reps_of: dict[int, int]) -> tuple[list[Tile], tuple | None]:
    """The tiles of ``node``'s simulated iterations and its record ``(loop, [(kids, last index), ...])``
    per iteration (``kids``: ``(offset, record)`` of the loops in the body); indices are relative to the
    node's first tile. A node is flattened once per call (``memo``: id -> (node, tiles, record)).
    ``reps_of``: id -> simulated iterations of the loops :func:`_replicate` asked to simulate longer; the
    record's ``long`` is true when the body has more than ``LONG_BODY`` tiles."""
    if type(node) is Tile:
        return [node], None
    hit = memo.get(id(node))
    if hit is not None:
        return hit[1], hit[2]
    asked = reps_of.get(id(node))
    reps = min(node.count, window) if asked is None else asked
    iters = []
    tiles: list[Tile] = []
    body = node.body
    leaves = all(type(child) is Tile for child in body)
    for i in range(reps):
        kids = []  # records of the loops in the body (tiles add nothing to _replicate)
        if leaves:
            tiles.extend(body)
        else:
            for child in body:
                if type(child) is Tile:
                    tiles.append(child)
                else:
                    sub, rec = _flatten(child, window, memo, reps_of)
                    kids.append((len(tiles), rec))
                    tiles.extend(sub)
        iters.append((kids, len(tiles) - 1))
        if i == 0:
            long = len(tiles) > LONG_BODY
            if long and asked is None:  # long bodies reach steady state sooner
                reps = min(reps, LONG_WINDOW)
        if len(iters) >= reps:
            break
    rec = (node, iters, long)
    memo[id(node)] = (node, tiles, rec)
    return tiles, rec


def _period(inc: list[int], long: bool) -> int:
    """The smallest period ``p <= MAX_PERIOD`` of the last increments ``inc`` (cycles), 0 if none: the
    last ``p + MAX_PERIOD`` increments repeat every ``p`` (so a pattern of any period up to
    ``MAX_PERIOD`` is not taken for a shorter one); ``long`` bodies: the last ``2 p``."""
    n = len(inc)
    for p in range(1, MAX_PERIOD + 1):
        span = p if long else MAX_PERIOD
        if p + span > n:
            return 0
        if all(inc[n - k] == inc[n - k - p] for k in range(1, span + 1)):
            return p
    return 0


def _replicate(rec, ce: list[int], base: int, grow: dict[int, int] | None) -> float:
    """Cycles of the iterations a record skipped (steady-state replication); ``base``: index of its first tile.

    A loop whose compute-end increments per iteration have a period ``p`` (:func:`_period`) and skipped a
    multiple of ``p`` iterations adds ``skipped / p`` times its last ``p`` iterations: exact. Otherwise it
    asks ``grow`` (id -> iterations; ``None``: no further round) for more iterations (the phase's, or
    twice as many), and adds the mean of its last ``p`` (or two) increments per skipped iteration.
    """
    if rec is None:
        return 0.0
    node, iters, long = rec
    per_iter = [sum([_replicate(k, ce, base + off, grow) for off, k in kids]) if kids else 0 for kids, _ in iters]
    total = sum(per_iter)
    done = len(iters)
    skipped = node.count - done
    if skipped <= 0:
        return total
    ends = [ce[base + end] for _, end in iters]
    p = _period([b - a for a, b in zip(ends, ends[1:])], long)
    if grow is not None and (p == 0 or skipped % p):
        want = done + skipped % p if p else max(2 * done, 2 * MAX_PERIOD + 1)
        grow[id(node)] = max(grow.get(id(node), 0), min(node.count, want))
    if p:
        return total + skipped * (ends[-1] - ends[-1 - p] + sum(per_iter[-p:])) / p
    # no period: the mean of two increments, before the last one when there are enough (it may wait for
    # what follows the loop, e.g. a next group's weights, which the skipped iterations do not)
    last = -2 if done >= 4 else -1
    q = min(2, done - 1)
    return total + skipped * (ends[last] - ends[last - q] + sum(per_iter[last - q + 1:len(per_iter) + last + 1])) / q


def simulate_tree(root: Node, bw: float, latency: int, window: int = WINDOW, rounds: int = ROUNDS) -> int:
    """Cycles of a layer's loop tree with steady-state replication of long loops."""
    return simulate_tree_drain(root, bw, latency, window, rounds)[0]


def simulate_tree_drain(root: Node, bw: float, latency: int, window: int = WINDOW,
                        rounds: int = ROUNDS) -> tuple[int, int, int]:
    """``(cycles, drain, last store)``: the layer's cycles, the cycles from its last compute end to its
    end (requantization tail and remaining stores), and the port cycles of its last tile's store.

    ``window``: iterations simulated per loop at first; ``rounds``: re-simulations at most with more
    iterations of the loops not yet periodic or out of phase (:func:`_replicate`; 0: one pass).
    """
    reps_of: dict[int, int] = {}
    for r in range(rounds + 1):
        tiles, rec = _flatten(root, window, {}, reps_of)
        if not tiles:
            return 0, 0, 0
        end, ce = pipeline_times(tiles, bw, latency)
        grow: dict[int, int] | None = {} if r < rounds else None
        extra = _replicate(rec, ce, 0, grow)
        if not grow:
            break
        reps_of.update(grow)
    return int(round(end + extra)), end - ce[-1], costs.dram_cycles(tiles[-1].store_bytes, bw)
