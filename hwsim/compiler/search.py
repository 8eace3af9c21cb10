"""Mapping search of weighted layers: (layer, config) -> :class:`~hwsim.compiler.conv.ConvTiling`.

Search space: run length ``tm`` (multiples of the array rows, or all of ``M``), channel
block ``tn`` (multiples of the array columns, or all of ``N``), K chunk ``tc`` (input
channels per chunk) and loop order (``wo`` / ``io``). Legal: the input of the
largest run, the weight chunk (+ its requantization parameters or bias) and the output tile
(int32 partial sums when they spill) each fit half of their SRAM, counted as the DMA moves
them (:mod:`hwsim.compiler.dma`: whole array tiles on the RTL's array [rtl]).

Cost: every legal candidate is ranked cheaply by ``max(compute, DRAM bytes / bandwidth)``
plus the pipeline fill and drain (first tile's load + latency, last tile's store)
with compute summed from the exact tile costs (:func:`hwsim.compiler.conv.tile_compute`, the
engine's cost functions) and DRAM bytes from the run-window summaries and the loop
order's reload rule, vectorised over a layer's candidates (:func:`evaluate`); the best :data:`KEEP`
are built as loop trees and scored with the engine's own timing
(:func:`hwsim.fastpath.simulate_tree`), together with the candidates of fewest DRAM bytes among
those whose bound is within :data:`CYCLE_SLACK` of the best. They are timed best cheap bound first,
and one whose provable :func:`lower_bound` exceeds :data:`CYCLE_SLACK` times the fewest cycles found
so far is not timed (it can neither be the fastest nor within the slack of it). Choice:
among the scored mappings within :data:`CYCLE_SLACK` of the fewest cycles, the least energy
(:func:`hwsim.energy.layer_energy_pj` on the tree totals), then the fewest DRAM bytes (so a
mapping that moves several times the DRAM traffic for a fraction of a percent of cycles is not
chosen). Results are memoised per (geometry, config).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from hwsim import costs
from hwsim.compiler.conv import (ORDERS, ConvTiling, conv_tile, conv_tree, run_summaries, run_window_arrays,
                                 tile_compute)
from hwsim.compiler.dma import DmaRules, dma_rules, on_top, padded
from hwsim.compiler.geometry import ConvGeometry, conv_geometry, nbytes
from hwsim.config import HwConfig
from rtl.arch import PROGRAM_FRAME_INSTRUCTIONS
from sw.graph.ir import Layer
from sw.quant.ints import PSUM_BYTES

__all__ = ["choose_conv_tiling", "legal_tilings", "estimate", "evaluate", "lower_bound", "score_tiling", "KEEP",
           "SCORE_SLACK"]

#: Candidates scored exactly (loop tree through the fast path) per cheap ranking (two rankings).
KEEP = 2
#: ... among those whose cheap bound is within this factor of the best one.
SCORE_SLACK = 1.05
#: Mappings within this factor of the fewest cycles compete on energy, then DRAM bytes.
CYCLE_SLACK = 1.01
#: Loop iterations the scoring simulates before steady-state replication (the fast path's WINDOW is 6).
SCORE_WINDOW = 3


def _divided(total: int, unit: int, limit: int = 16) -> set[int]:
    """``total``, multiples of ``unit`` below it (powers of two) and ``ceil(total / d)`` rounded up to ``unit``."""
    vals = {total}
    p = unit
    while p < total:
        vals.add(p)
        p *= 2
    for d in range(2, limit + 1):
        v = -(-(-(-total // d)) // unit) * unit
        if 0 < v < total:
            vals.add(v)
    return vals


Summary = tuple[tuple[tuple[int, int], ...], int, int]


@lru_cache(maxsize=4096)
def _run_summary(g: ConvGeometry, tm: int, rules: DmaRules) -> Summary:
    """``((run pixels, count), ...)``, input bytes of all runs (all channels, one group), largest run input
    (elements per channel; :func:`hwsim.compiler.conv.run_summaries` with the layer's DMA ``rules``)."""
    return run_summaries(g, (tm,), rules.row_block, rules.a_bits, rules.im2col)[tm]


def _m_unit(cfg: HwConfig, passes: int) -> int:
    """Granularity of run lengths: the array rows (output stationary on the array), else one pixel."""
    return cfg.array.rows if cfg.array.dataflow == "os" and passes else 1


@lru_cache(maxsize=1024)
def _run_table(g: ConvGeometry, m_unit: int, rules: DmaRules) -> dict[int, Summary]:
    """:func:`_run_summary` of every run length the search tries first (one numpy pass)."""
    m = g.ho * g.wo
    tms = tuple(_divided(m, m_unit) | {min(m, r * g.wo) for r in (1, 2, 4)})  # whole rows
    return run_summaries(g, tms, rules.row_block, rules.a_bits, rules.im2col)


def _summary(g: ConvGeometry, tm: int, table: dict[int, Summary] | None, rules: DmaRules) -> Summary:
    """:func:`_run_summary` of ``tm``, from ``table`` when it holds it."""
    hit = table.get(tm) if table is not None else None
    return hit if hit is not None else _run_summary(g, tm, rules)


def _sizes(g: ConvGeometry, rules: DmaRules, tm: int, tn: int, tc: int) -> tuple[int, int, int]:
    """Bytes of the largest run input, the weight chunk (+ parameters) and the output tile (DMA ``rules``)."""
    win = _run_summary(g, tm, rules)[2]
    return (nbytes(win * tc, rules.a_bits), rules.weight_bytes(g, tn, g.kh * g.kw * tc) + rules.param_bytes(tn),
            rules.output_bytes(g, tm, tn))


def _needs_psum(cfg: HwConfig, g: ConvGeometry, tm: int, tn: int, tc: int, passes: int) -> bool:
    """Partial sums of this tile spill to the output SRAM (K chunks over several array tiles, or depth)."""
    a = cfg.array
    nchunks = -(-g.cin_g // tc)
    tk = g.kh * g.kw * tc
    if passes == 0:
        return nchunks > 1
    if a.dataflow == "ws":
        return nchunks > 1 or tk > a.rows
    several = -(-tm // a.rows) * -(-tn // a.cols) > 1
    # costs.k_chunks(k, max_depth) has more than one chunk iff k > max_depth
    return (nchunks > 1 and several) or (g.k if not several else tk) > a.max_depth


def legal_tilings(layer: Layer, cfg: HwConfig) -> list[ConvTiling]:
    """Every legal ``(tm, tn, tc, order)`` of the search space, every legal K chunk included (ValueError if none)."""
    g = conv_geometry(layer)
    try:
        shapes = _shapes(g, cfg, every_chunk=True)
    except ValueError as exc:
        raise ValueError(f"layer '{layer.name}': {exc}") from None
    return [ConvTiling(g, tm, tn, tc, order) for tm, tn, tc in shapes for order in ORDERS]


def _shapes(g: ConvGeometry, cfg: HwConfig, every_chunk: bool = False) -> list[tuple[int, int, int]]:
    """Legal ``(tm, tn, tc)``; per ``(tm, tn)`` only the largest legal chunk unless ``every_chunk``."""
    a, mem = cfg.array, cfg.memory
    passes = cfg.mac_passes(g.w_bits, g.a_bits)
    half = (mem.ifmap_sram_bytes // 2, mem.weight_sram_bytes // 2, mem.ofmap_sram_bytes // 2)
    m = g.ho * g.wo
    m_unit = _m_unit(cfg, passes)
    rules = dma_rules(cfg, g, passes)
    table = _run_table(g, m_unit, rules)
    tms = set(table)  # run lengths: multiples of m_unit, whole rows (strided layers)
    tns = _divided(g.n_g, a.cols, 8) if g.n_g > a.cols else {g.n_g}
    tcs = sorted(_divided(g.cin_g, 1, 8), reverse=True)
    out = []
    for small in (False, True):
        if small:  # nothing fits with whole array tiles: smaller runs and column blocks
            tms = {max(1, m_unit >> i) for i in range(1, 12)} | {1}
            tns = tns | {max(1, min(g.n_g, a.cols) >> i) for i in range(0, 12)}
        # per channel block: padded columns, parameter bytes, weight bits per input channel
        blocks = [(tn, ptn, ptn * rules.column_bytes, ptn * g.kh * g.kw * rules.w_bits)
                  for tn in sorted(tns) for ptn in (padded(tn, rules.col_block),)]
        for tm in sorted(tms):
            win = _summary(g, tm, table, rules)[2]
            out_bits = padded(tm, rules.row_block) * g.out_bits
            cap_in = half[0] * 8 // (win * rules.a_bits)
            for tn, ptn, params, wide in blocks:
                if -(-out_bits * ptn // 8) > half[2]:  # the output tile, whole array tiles
                    continue
                # largest chunk whose run input and weights fit (bytes grow with tc)
                cap_w = (half[1] - params) * 8 // wide if half[1] > params else 0
                cap = min(cap_in, cap_w)
                # int32 partial sums of the whole array tiles (the RTL top's drain beats [rtl])
                psum_fits = padded(tm, rules.row_block) * padded(tn, rules.col_block) * PSUM_BYTES <= half[2]
                for tc in tcs:  # largest first
                    if tc > cap:
                        continue
                    # the input window and the weights fit (tc <= cap), so does the output tile (checked
                    # above) unless int32 partial sums spill to it and do not fit
                    if psum_fits or not _needs_psum(cfg, g, tm, tn, tc, passes):
                        out.append((tm, tn, tc))
                        if not every_chunk:
                            break  # the largest legal chunk for this (tm, tn)
        if out:
            return out
    need = dict(zip(("input (ifmap)", "weight", "output (ofmap)"), _sizes(g, rules, 1, 1, 1)))
    have = dict(zip(need, half))
    short = [k for k in need if need[k] > have[k]] or ["output (ofmap)"]
    what = short[0]
    raise ValueError(f"the smallest legal tile (1 output pixel x 1 output channel x 1 input channel) needs "
                     f"{need[what]} bytes of {what} SRAM per buffer (x2 double buffered = {2 * need[what]}), "
                     f"but config '{cfg.name}' has {have[what]} per buffer ({2 * have[what]} total)")


def estimate(t: ConvTiling, cfg: HwConfig, passes: int | None = None, memo: dict | None = None,
             table: dict[int, Summary] | None = None) -> tuple[int, int]:
    """``(compute cycles, DRAM bytes)`` of tiling ``t`` without building its tiles (``memo``: block costs,
    ``table``: run summaries, :func:`_run_table`); :func:`evaluate` of one shape."""
    g = t.geom
    if passes is None:
        passes = cfg.mac_passes(g.w_bits, g.a_bits)
    ev = evaluate(g, cfg, passes, [(t.tm, t.tn, t.tc)], memo, table)
    return int(ev["compute"][0]), int(ev["dram_" + t.order][0])


def evaluate(g: ConvGeometry, cfg: HwConfig, passes: int, shapes: list[tuple[int, int, int]],
             memo: dict | None = None, table: dict[int, Summary] | None = None) -> dict[str, np.ndarray]:
    """Cheap costs of the ``(tm, tn, tc)`` ``shapes`` of one layer, vectorised over the shapes.

    Returns arrays (one entry per shape): ``compute`` (cycles, exact: :func:`_block_compute` per distinct
    output block), ``dram_wo`` / ``dram_io`` (DRAM bytes of each loop order, from the run-window summaries
    and the order's reload rule) and ``bound_wo`` / ``bound_io`` (cycles: the slowest of compute, DRAM
    transfer and the two-slot latency loop, plus the fill and drain). With two input buffers a loading
    tile occupies its slot for load + latency + compute, so ``n`` loading tiles take at least
    ``(n * latency + load cycles + compute) / 2``; the fill and drain are the first tile's load
    (+ latency) and the last tile's store, which no pipeline hides.
    """
    memo = {} if memo is None else memo
    mem = cfg.memory
    bw, lat = mem.dram_bytes_per_cycle, mem.dram_latency_cycles
    m = g.ho * g.wo
    rules = dma_rules(cfg, g, passes)
    summaries = [_summary(g, tm, table, rules) for tm, _, _ in shapes]
    compute = []
    for (tm, tn, tc), (pm_count, _, _) in zip(shapes, summaries):
        nn = -(-g.n_g // tn)
        pn_last = g.n_g - (nn - 1) * tn  # block sizes as ConvTiling.chans(): nn - 1 of tn, then the rest
        pn_count = ((tn, nn - 1), (pn_last, 1)) if nn > 1 and pn_last != tn else ((pn_last, nn),)
        total = 0
        for pm, cm in pm_count:
            for pn, cn in pn_count:
                key = (pm, pn, tc)
                if key not in memo:
                    memo[key] = _block_compute(cfg, g, passes, pm, pn, tc)
                total += cm * cn * memo[key]
        compute.append(total * g.groups)
    i64 = np.int64
    tm, tn, tc = (np.array(col, dtype=i64) for col in zip(*shapes))
    comp = np.array(compute, dtype=i64)
    in_once = np.array([s[1] for s in summaries], dtype=i64) * g.groups
    win = np.array([s[2] for s in summaries], dtype=i64)
    nm, nn, nc = -(-m // tm), -(-g.n_g // tn), -(-g.cin_g // tc)
    # output pixels and channels of all tiles, padded to whole array tiles ([rtl] DMA rules)
    rb, cb = rules.row_block, rules.col_block
    rows_all = (nm - 1) * (-(-tm // rb) * rb) + -(-(m - (nm - 1) * tm) // rb) * rb
    cols_all = (nn - 1) * (-(-tn // cb) * cb) + -(-(g.n_g - (nn - 1) * tn) // cb) * cb
    w_elements = (g.groups * cols_all * g.k if rules.dense_weights
                  else np.full_like(cols_all, round(g.groups * g.n_g * g.k * (1 - g.sparsity))))
    w_once = -(-(w_elements * rules.w_bits) // 8) + g.groups * cols_all * rules.column_bytes
    out_total = -(-(g.groups * rows_all * cols_all * g.out_bits) // 8)
    one_in = (nm == 1) & (nc == 1)
    one_w = (nn == 1) & (nc == 1)
    dram = {"wo": in_once * np.where(one_in, 1, nn) + w_once * np.where(nc > 1, nm, 1) + out_total,
            "io": in_once * np.where(nc > 1, nn, 1) + w_once * np.where(one_w, 1, nm) + out_total}
    tiles = nm * nn * nc
    loading = g.groups * np.where(tiles > 1, tiles, 1)
    c1 = np.minimum(tc, g.cin_g)
    pn1, pm1 = np.minimum(tn, g.n_g), np.minimum(tm, m)
    cols, rows = -(-pn1 // rules.col_block) * rules.col_block, -(-pm1 // rules.row_block) * rules.row_block
    first = (-(-(win * c1 * rules.a_bits) // 8) + -(-(cols * (g.kh * g.kw) * c1 * rules.w_bits) // 8)
             + cols * rules.column_bytes)
    last = -(-(rows * cols * g.out_bits) // 8)
    fill = (first + last) / bw + lat
    out = {"compute": comp}
    for order in ORDERS:
        d = dram[order]
        slots = (loading * lat + (d - out_total) / bw + comp) / 2
        out["dram_" + order] = d
        out["bound_" + order] = np.maximum(np.maximum(comp, d / bw), slots) + fill
    return out


def _block_compute(cfg: HwConfig, g: ConvGeometry, passes: int, pm: int, pn: int, tc: int) -> int:
    """Compute cycles of one ``pm x pn`` output block over all its K chunks of ``tc`` channels.

    Every chunk but the last has ``tc`` channels and costs the same (:func:`tile_compute` of a non-last
    chunk depends on neither its position nor the earlier beats).
    """
    n = -(-g.cin_g // tc)
    tc_last = g.cin_g - (n - 1) * tc
    total = tile_compute(cfg, g, passes, pm, pn, tc_last, last=True, nchunks=n,
                         prev_beats=g.kh * g.kw * (g.cin_g - tc_last) * passes)[0]
    if n > 1:
        total += (n - 1) * tile_compute(cfg, g, passes, pm, pn, tc, last=False, nchunks=n)[0]
    return total


def _cycles(t: ConvTiling, cfg: HwConfig) -> int:
    """Cycles of tiling ``t`` by the engine's own timing (fast path, :data:`SCORE_WINDOW` iterations, one
    pass: no re-simulation of loops whose steady state is not yet periodic)."""
    from hwsim.fastpath import simulate_tree

    mem = cfg.memory
    return simulate_tree(conv_tree(cfg, t), mem.dram_bytes_per_cycle, mem.dram_latency_cycles, window=SCORE_WINDOW,
                         rounds=0)


def score_tiling(t: ConvTiling, cfg: HwConfig, macs: int, w_bits: int, a_bits: int,
                 cycles: int | None = None) -> tuple[int, float, int]:
    """``(cycles, energy pJ, DRAM bytes)`` of tiling ``t`` by the engine's own timing (fast path).

    ``cycles``: the tiling's cycles if already simulated (:func:`_cycles`), else simulated here.
    """
    from hwsim.energy import layer_energy_pj
    from hwsim.compiler.schedule import tree_totals

    if cycles is None:
        cycles = _cycles(t, cfg)
    tot = tree_totals(conv_tree(cfg, t))
    dram = tot["load_ifmap_bytes"] + tot["load_weight_bytes"] + tot["store_bytes"]
    sram = {"ifmap_read": tot["ifmap_read_bytes"], "ifmap_write": tot["load_ifmap_bytes"],
            "weight_read": tot["weight_read_bytes"], "weight_write": tot["load_weight_bytes"],
            "ofmap_read": tot["ofmap_read_bytes"], "ofmap_write": tot["ofmap_write_bytes"]}
    energy = layer_energy_pj(cfg, macs=macs, w_bits=w_bits, a_bits=a_bits, sram=sram, dram_bytes=dram,
                             requant_ops=tot["requant_ops"], vector_ops=tot["vector_ops"], cycles=cycles)["total"]
    return cycles, energy, dram


def lower_bound(t: ConvTiling, cfg: HwConfig, compute: int, passes: int | None = None) -> int:
    """A provable lower bound on :func:`_cycles` of ``t`` (``compute``: its total compute cycles).

    The fast path (:func:`hwsim.fastpath.pipeline_times`) starts a tile's compute no earlier than the
    previous tile's compute end and than its own load's arrival, and stores a tile no earlier than its
    compute end plus tail; steady-state replication adds at least the compute of every skipped iteration
    (a period is measured between compute ends). So the cycles are at least: the first tile's load
    (port cycles + latency), all compute, the last tile's tail and store (port cycles).
    """
    g, mem = t.geom, cfg.memory
    if passes is None:
        passes = cfg.mac_passes(g.w_bits, g.a_bits)
    m, nchunks = g.ho * g.wo, -(-g.cin_g // t.tc)
    pm, win = run_window_arrays(g, t.tm)
    first_run = int(pm[0]), int(win[0])
    tc0, tc1 = min(t.tc, g.cin_g), g.cin_g - (nchunks - 1) * t.tc
    pn0, pn1 = min(t.tn, g.n_g), g.n_g - (-(-g.n_g // t.tn) - 1) * t.tn
    first = conv_tile(cfg, g, passes, first_run[0], pn0, first_run[1], tc0, load_in=True, load_w=True,
                      first=True, last=nchunks == 1, nchunks=nchunks)
    beats = g.kh * g.kw * (g.cin_g - tc1) * passes
    last = conv_tile(cfg, g, passes, m - (-(-m // t.tm) - 1) * t.tm, pn1, 0, tc1, load_in=False, load_w=False,
                     first=nchunks == 1, last=True, nchunks=nchunks, prev_beats=beats)
    bw = mem.dram_bytes_per_cycle
    fill = costs.dram_cycles(first.load_bytes, bw) + mem.dram_latency_cycles if first.load_bytes else 0
    return fill + compute + last.tail_cycles + costs.dram_cycles(last.store_bytes, bw)


def choose_conv_tiling(layer: Layer, cfg: HwConfig) -> ConvTiling:
    """The chosen tiling of ``layer`` (conv/depthwise/fc/conv_transpose) on ``cfg`` (see module docstring).

    Raises
    ------
    ValueError
        If even the smallest tile (1 pixel x 1 channel x 1 input channel) exceeds half of an SRAM.
    """
    try:
        return _choose(conv_geometry(layer), cfg)
    except ValueError as exc:
        raise ValueError(f"layer '{layer.name}': {exc}") from None


@lru_cache(maxsize=1024)
def _choose(g: ConvGeometry, cfg: HwConfig) -> ConvTiling:
    passes = cfg.mac_passes(g.w_bits, g.a_bits)
    bw = cfg.memory.dram_bytes_per_cycle
    table = _run_table(g, _m_unit(cfg, passes), dma_rules(cfg, g, passes))
    shapes = _shapes(g, cfg)
    ev = evaluate(g, cfg, passes, shapes, {}, table)
    computes, bounds, rows = {}, {}, []
    comp = ev["compute"].tolist()
    per_order = {o: (ev["bound_" + o].tolist(), ev["dram_" + o].tolist()) for o in ORDERS}
    m = g.ho * g.wo
    for i, (tm, tn, tc) in enumerate(shapes):
        # with one run or one channel block both loop orders run the same tiles in the same order: keep one
        orders = ORDERS if -(-m // tm) > 1 and -(-g.n_g // tn) > 1 else ORDERS[:1]
        for order in orders:
            key = (tm, tn, tc, order)
            bound, dram = per_order[order][0][i], per_order[order][1][i]
            computes[key], bounds[key] = comp[i], bound
            rows.append((bound, max(comp[i], dram / bw), dram, key))
    # the best by the two-slot bound (+ fill/drain) and the best by the plain roofline bound, then DRAM bytes;
    # and the fewest DRAM bytes among those within CYCLE_SLACK of the best roofline bound
    pool: dict = {}
    for col in (0, 1):
        ranked = sorted(rows, key=lambda r: (r[col], r[2]))
        for r in ranked[:KEEP]:
            if r[col] <= SCORE_SLACK * ranked[0][col]:
                pool.setdefault(r[3], r[3])
    best_bound = min(r[1] for r in rows)
    for r in sorted((r for r in rows if r[1] <= CYCLE_SLACK * best_bound), key=lambda r: (r[2], r[1]))[:KEEP]:
        pool.setdefault(r[3], r[3])
    pool = {key: ConvTiling(g, *key) for key in pool}
    macs = g.groups * g.ho * g.wo * g.n_g * g.k
    if len(pool) == 1:  # both rankings agree: nothing to compare
        key, t = next(iter(pool.items()))
        scored, cycles = {}, None
    else:
        # best cheap bound first; a candidate whose provable lower bound exceeds CYCLE_SLACK x the fewest
        # cycles found so far can neither be the fastest nor within the slack of it: not simulated
        scored = {}
        for k, t in sorted(pool.items(), key=lambda kv: (bounds[kv[0]], kv[0])):
            if scored and lower_bound(t, cfg, computes[k], passes) > CYCLE_SLACK * min(scored.values()):
                continue
            scored[k] = _cycles(t, cfg)
        ranked = sorted((c, k) for k, c in scored.items())
        cycles = ranked[0][0]
        near = [k for c, k in ranked if c <= CYCLE_SLACK * cycles]  # energy, then DRAM, within the slack
        key = min(near, key=lambda k: score_tiling(pool[k], cfg, macs, g.w_bits, g.a_bits, scored[k])[1:]) \
            if len(near) > 1 else near[0]
        t = pool[key]
    fits, words = "", _program_words(cfg, g, passes, t)
    limit = cfg.memory.program_words
    if words > limit:
        found = _fitting(g, cfg, passes, [r[3] for r in sorted(rows, key=lambda r: (r[0], r[2]))], macs)
        if found is None:
            fits = (f"; its program ({words} instructions) exceeds the RTL top's {limit}-instruction memory "
                    "and no legal mapping's fits: the top cannot run this layer in one program")
        else:
            t, cycles, fits = found
            scored = scored or {(t.tm, t.tn, t.tc, t.order): cycles}
            words = _program_words(cfg, g, passes, t)
    reason = {"array_tiles_per_tile": -(-min(t.tm, g.ho * g.wo) // cfg.array.rows) * -(-t.tn // cfg.array.cols),
              "candidates": len(rows), "scored": len(pool) if scored else 0,
              "why": (f"least energy, then fewest DRAM bytes, among the mappings within {CYCLE_SLACK - 1:.0%} of the "
                      f"fewest cycles ({cycles}) of the {len(pool)} scored by the engine's timing (best cheap "
                      f"estimates of {len(rows)} legal ones)" if scored
                      else f"best by both cheap estimates of {len(rows)} legal mappings") + fits}
    if words:
        reason["program_instructions"] = words  # the RTL top's program (memory.program_words holds)
    return ConvTiling(g, t.tm, t.tn, t.tc, t.order, reason)


def _program_words(cfg: HwConfig, g: ConvGeometry, passes: int, t: ConvTiling) -> int:
    """Instructions of ``t``'s program on the RTL top, 0 off the top: the sum of its tiles'
    (:attr:`hwsim.compiler.schedule.Tile.instructions`) plus the program frame, counted from the loop nest.

    Per group: a COMPUTE per tile and K chunk, a STORE per tile, a LOAD whenever the input (run, chunk) or
    the weights (channel block, chunk) differ from the previous COMPUTE's, and a parameter LOAD with the
    weight LOAD of the chunk that samples them (every K-chunked tile reloads its weights)."""
    if not on_top(cfg, g, passes):
        return 0
    nm, nn, nc = -(-g.ho * g.wo // t.tm), -(-g.n_g // t.tn), -(-g.cin_g // t.tc)
    steps = nm * nn * nc
    if nc > 1:
        x_loads = w_loads = steps
        params = nm * nn
    elif t.order == "io":  # runs outer: the input once per run, the weights again whenever the block changes
        x_loads, w_loads = nm, (nm * nn if nn > 1 else 1)
        params = w_loads
    else:  # weights outer
        x_loads, w_loads = (nm * nn if nm > 1 else 1), nn
        params = w_loads
    return PROGRAM_FRAME_INSTRUCTIONS + g.groups * (steps + nm * nn + x_loads + w_loads + params)


def _fitting(g: ConvGeometry, cfg: HwConfig, passes: int, keys: list, macs: int
             ) -> tuple[ConvTiling, int, str] | None:
    """The fastest of the first :data:`KEEP` mappings of ``keys`` (best cheap bound first) whose program fits the
    RTL top's instruction memory, its cycles and a note for the reason; None when none fits."""
    fitting = []
    for key in keys:
        t = ConvTiling(g, *key)
        if _program_words(cfg, g, passes, t) <= cfg.memory.program_words:
            fitting.append(t)
            if len(fitting) == KEEP:
                break
    if not fitting:
        return None
    timed = sorted(score_tiling(t, cfg, macs, g.w_bits, g.a_bits)[:2] + (i,) for i, t in enumerate(fitting))
    cycles, _, i = timed[0]
    return fitting[i], cycles, (f"; the fastest mapping's program exceeds the RTL top's "
                                f"{cfg.memory.program_words}-instruction memory: the best of the first "
                                f"{len(fitting)} that fit")
