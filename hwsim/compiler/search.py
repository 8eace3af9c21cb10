"""Mapping search of weighted layers: (layer, config) -> :class:`~hwsim.compiler.conv.ConvTiling`.

Search space: run length ``tm`` (multiples of the array rows, or all of ``M``), channel
block ``tn`` (multiples of the array columns, or all of ``N``), K chunk ``tc`` (input
channels per chunk) and loop order (``wo`` / ``io``). Legal: the input window of the
largest run, the weight chunk (+ bias) and the output tile (int32 partial sums when they
spill) each fit half of their SRAM.

Cost: every legal candidate is ranked cheaply by ``max(compute, DRAM bytes / bandwidth)``
with compute summed from the exact tile costs (:func:`hwsim.compiler.conv.conv_tile`, the
engine's cost functions) and DRAM bytes from the run-window histogram and the loop
order's reload rule; the best :data:`KEEP` are built as loop trees and scored with the
engine's own timing (:func:`hwsim.fastpath.simulate_tree`). Choice: fewest cycles, then
least energy (:func:`hwsim.energy.layer_energy_pj` on the tree totals), then fewest DRAM
bytes. Results are memoised per (geometry, config).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from hwsim import costs
from hwsim.compiler.conv import ORDERS, ConvTiling, conv_tile, conv_tree, window_histogram
from hwsim.compiler.geometry import BIAS_BYTES, ConvGeometry, blocks, conv_geometry, nbytes
from hwsim.config import HwConfig
from sw.graph.ir import Layer
from sw.quant.ints import PSUM_BYTES

__all__ = ["choose_conv_tiling", "legal_tilings", "estimate", "score_tiling", "KEEP"]

#: Candidates scored exactly (loop tree through the fast path) after the cheap ranking.
KEEP = 4


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


def _sizes(g: ConvGeometry, tm: int, tn: int, tc: int) -> tuple[int, int, int]:
    """Bytes of the largest input window, the weight chunk (+ bias) and the output tile."""
    win = max(w for _, w in window_histogram(g, tm))
    return (nbytes(win * tc, g.a_bits), nbytes(tn * g.kh * g.kw * tc, g.w_bits) + (tn * BIAS_BYTES if g.bias else 0),
            nbytes(tm * tn, g.out_bits))


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
    return (nchunks > 1 and several) or len(costs.k_chunks(g.k if not several else tk, a.max_depth)) > 1


def legal_tilings(layer: Layer, cfg: HwConfig) -> list[ConvTiling]:
    """Every legal ``(tm, tn, tc, order)`` of the search space (ValueError if none fits)."""
    g = conv_geometry(layer)
    try:
        shapes = _shapes(g, cfg)
    except ValueError as exc:
        raise ValueError(f"layer '{layer.name}': {exc}") from None
    return [ConvTiling(g, tm, tn, tc, order) for tm, tn, tc in shapes for order in ORDERS]


def _shapes(g: ConvGeometry, cfg: HwConfig) -> list[tuple[int, int, int]]:
    a, mem = cfg.array, cfg.memory
    passes = cfg.mac_passes(g.w_bits, g.a_bits)
    half = (mem.ifmap_sram_bytes // 2, mem.weight_sram_bytes // 2, mem.ofmap_sram_bytes // 2)
    m = g.ho * g.wo
    m_unit = a.rows if a.dataflow == "os" and passes else 1
    tms = _divided(m, m_unit) | {min(m, r * g.wo) for r in (1, 2, 4)}
    tns = _divided(g.n_g, a.cols, 8) if g.n_g > a.cols else {g.n_g}
    tcs = _divided(g.cin_g, 1, 8)
    out = []
    for small in (False, True):
        if small:  # nothing fits with whole array tiles: smaller runs and column blocks
            tms = {max(1, m_unit >> i) for i in range(1, 12)} | {1}
            tns = tns | {max(1, min(g.n_g, a.cols) >> i) for i in range(0, 12)}
        for tm in sorted(tms):
            for tn in sorted(tns):
                for tc in sorted(tcs, reverse=True):
                    si, sw_, so = _sizes(g, tm, tn, tc)
                    if _needs_psum(cfg, g, tm, tn, tc, passes):
                        so = max(so, tm * tn * PSUM_BYTES)
                    if si <= half[0] and sw_ <= half[1] and so <= half[2]:
                        out.append((tm, tn, tc))
                        break  # the largest legal chunk for this (tm, tn)
        if out:
            return out
    si, sw_, so = _sizes(g, 1, 1, 1)
    raise ValueError(f"the smallest legal tile (1 output pixel x 1 channel x 1 input channel) "
                     f"needs {si}/{sw_}/{so} bytes of input/weight/output SRAM per buffer, but config "
                     f"'{cfg.name}' has {half[0]}/{half[1]}/{half[2]}")


def estimate(t: ConvTiling, cfg: HwConfig) -> tuple[int, int]:
    """``(compute cycles, DRAM bytes)`` of tiling ``t`` without building its tiles."""
    g = t.geom
    passes = cfg.mac_passes(g.w_bits, g.a_bits)
    hist = window_histogram(g, t.tm)
    pm_count: dict[int, int] = {}
    for (pm, _), cnt in hist.items():
        pm_count[pm] = pm_count.get(pm, 0) + cnt
    pn_count: dict[int, int] = {}
    for a, b in t.chans():
        pn_count[b - a] = pn_count.get(b - a, 0) + 1
    chunks = t.chunks()
    nchunks = len(chunks)
    compute = 0
    for pm, cm in pm_count.items():
        for pn, cn in pn_count.items():
            beats, per = 0, 0
            for j, (c0, c1) in enumerate(chunks):
                per += conv_tile(cfg, g, passes, pm, pn, 0, c1 - c0, load_in=False, load_w=False, first=j == 0,
                                 last=j == nchunks - 1, nchunks=nchunks, prev_beats=beats).compute_cycles
                beats += g.kh * g.kw * (c1 - c0) * passes
            compute += cm * cn * per
    compute *= g.groups
    nm, nn = sum(pm_count.values()), len(t.chans())
    in_once = g.groups * sum(cnt * nbytes(win * g.cin_g, g.a_bits) for (_, win), cnt in hist.items())
    w_once = nbytes(g.groups * g.n_g * g.k, g.w_bits) + (g.out_channels_total * BIAS_BYTES if g.bias else 0)
    out_total = nbytes(g.ho * g.wo * g.n_g * g.groups, g.out_bits)
    if t.order == "wo":
        dram = in_once * (1 if nm == 1 and nchunks == 1 else nn) + w_once * (nm if nchunks > 1 else 1)
    else:
        dram = in_once * (nn if nchunks > 1 else 1) + w_once * (1 if nn == 1 and nchunks == 1 else nm)
    return compute, dram + out_total


def score_tiling(t: ConvTiling, cfg: HwConfig, macs: int, w_bits: int, a_bits: int) -> tuple[int, float, int]:
    """``(cycles, energy pJ, DRAM bytes)`` of tiling ``t`` by the engine's own timing (fast path)."""
    from hwsim.energy import layer_energy_pj
    from hwsim.fastpath import simulate_tree
    from hwsim.compiler.schedule import tree_totals

    root = conv_tree(cfg, t)
    mem = cfg.memory
    cycles = simulate_tree(root, mem.dram_bytes_per_cycle, mem.dram_latency_cycles)
    tot = tree_totals(root)
    dram = tot["load_ifmap_bytes"] + tot["load_weight_bytes"] + tot["store_bytes"]
    sram = {"ifmap_read": tot["ifmap_read_bytes"], "ifmap_write": tot["load_ifmap_bytes"],
            "weight_read": tot["weight_read_bytes"], "weight_write": tot["load_weight_bytes"],
            "ofmap_read": tot["ofmap_read_bytes"], "ofmap_write": tot["ofmap_write_bytes"]}
    energy = layer_energy_pj(cfg, macs=macs, w_bits=w_bits, a_bits=a_bits, sram=sram, dram_bytes=dram,
                             requant_ops=tot["requant_ops"], vector_ops=tot["vector_ops"], cycles=cycles)["total"]
    return cycles, energy, dram


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
    bw = cfg.memory.dram_bytes_per_cycle
    ranked = []
    for tm, tn, tc in _shapes(g, cfg):
        for order in ORDERS:
            t = ConvTiling(g, tm, tn, tc, order)
            compute, dram = estimate(t, cfg)
            ranked.append((max(compute, dram / bw), dram, compute, t))
    ranked.sort(key=lambda r: (r[0], r[1]))
    macs = g.groups * g.ho * g.wo * g.n_g * g.k
    best = None
    for bound, dram_est, compute, t in ranked[:KEEP]:
        cycles, energy, dram = score_tiling(t, cfg, macs, g.w_bits, g.a_bits)
        key = (cycles, energy, dram)
        if best is None or key < best[0]:
            best = (key, t, bound, compute)
    (cycles, energy, dram), t, bound, compute = best
    reason = {"array_tiles_per_tile": -(-min(t.tm, g.ho * g.wo) // cfg.array.rows) * -(-t.tn // cfg.array.cols),
              "candidates": len(ranked), "scored": min(KEEP, len(ranked)),
              "why": f"fewest cycles ({cycles}) of the {min(KEEP, len(ranked))} best by max(compute, DRAM/bandwidth) "
                     f"of {len(ranked)} legal mappings, then energy, then DRAM bytes"}
    return ConvTiling(g, t.tm, t.tn, t.tc, t.order, reason)
