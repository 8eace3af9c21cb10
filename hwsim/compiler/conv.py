"""Tiles of weighted layers: (tiling, config) -> SRAM tiles, their costs and the loop tree.

The GEMM per group is ``M = Ho*Wo`` output pixels (row-major), ``N = Cout/groups``
output channels, ``K = kh*kw*Cin/groups``. An SRAM tile is a *run* of ``tm``
consecutive output pixels (flattened raster order, as im2col hardware folds them; the
last run is shorter) by ``tn`` output channels by a K chunk of ``tc`` input channels
(``kh*kw*tc`` reduction elements). Its input is its input window: the input rows the run's
output rows need (halo included, clipped to the map: padding is never loaded, the array
feeds the zero point) by the full width when the run spans several output rows, else by
the x-window of its columns, by the ``tc`` channels; on the RTL's array the run's im2col
instead (:class:`hwsim.compiler.dma.DmaRules`, [rtl]). Double buffering: input, weight and
output tiles must each fit half of their SRAM.

Loop orders (K chunks always innermost): ``wo`` (weights outer: group, channel block,
run, chunk) and ``io`` (inputs outer: group, run, channel block, chunk). An operand
chunk is (re)loaded iff the previous tile in execution order did not use the same one
(inputs keyed by run and chunk, weights by channel block and chunk).

K split: when an SRAM tile is at most one array tile (``tm <= rows``, ``tn <= cols``)
its sums stay in the PE accumulators across chunks (chunk tiles cost ``tk * passes``
beats; the last chunk carries the rest of the array tile's whole cost, the store and
the drain tail). Otherwise each chunk pays its own array-tile intervals and the
partial sums spill to the output SRAM as int32 (written by every chunk but the last,
read back by every chunk but the first; whole array tiles under the RTL's DMA rules) and
the requantization parameters come with the last chunk's weights (with the first one's
when the sums stay in the PE accumulators).
Both are what the RTL top runs ([rtl]: :func:`rtl.top.program.layer_program`, COMPUTE
``acc_keep`` / ``psum_raw`` / ``psum_add``); a reduction split at the accumulator depth
(``max_depth``) is modelled here but refused by the top.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from itertools import chain
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from hwsim import costs
from hwsim.compiler.dma import DmaRules, dma_rules, on_top, padded
from hwsim.compiler.geometry import ConvGeometry, blocks, nbytes
from hwsim.compiler.schedule import Loop, Tile, compress
from hwsim.config import HwConfig
from sw.quant.ints import PSUM_BYTES

__all__ = ["ConvTiling", "RunWindow", "run_window", "run_windows", "run_window_arrays", "run_codes", "run_summaries",
           "window_histogram", "conv_tree", "conv_tile", "tile_compute", "ORDERS"]

ORDERS = ("wo", "io")


@dataclass(frozen=True)
class RunWindow:
    """Input window of a run of output pixels ``[p0, p1)``.

    ``oy0, oy1``: output rows spanned; ``ox0, ox1``: output columns computed (the full width
    when the run spans several rows); ``y0, y1, x0, x1``: input rows / columns loaded
    (clipped); ``pads``: the window's own padding ``((top, bottom), (left, right))``.
    """

    oy0: int
    oy1: int
    ox0: int
    ox1: int
    y0: int
    y1: int
    x0: int
    x1: int
    pads: tuple

    @property
    def elements(self) -> int:
        """Input pixels loaded (per channel)."""
        return (self.y1 - self.y0) * (self.x1 - self.x0)


def run_window(g: ConvGeometry, p0: int, p1: int) -> RunWindow:
    """The input window of output pixels ``[p0, p1)`` (row-major over ``Ho x Wo``)."""
    oy0, oy1 = p0 // g.wo, (p1 - 1) // g.wo + 1
    ox0, ox1 = (p0 % g.wo, (p1 - 1) % g.wo + 1) if oy1 - oy0 == 1 else (0, g.wo)
    y0, y1, pt, pb = g.in_range(oy0, oy1, 0)
    x0, x1, pl, pr = g.in_range(ox0, ox1, 1)
    return RunWindow(oy0, oy1, ox0, ox1, y0, y1, x0, x1, ((pt, pb), (pl, pr)))


def window_histogram(g: ConvGeometry, tm: int) -> Counter:
    """``Counter`` of ``(run pixels, window pixels)`` over the runs of ``tm`` pixels."""
    return Counter(run_windows(g, tm))


@lru_cache(maxsize=4096)
def run_windows(g: ConvGeometry, tm: int) -> tuple[tuple[int, int], ...]:
    """``(run pixels, window pixels)`` of every run of ``tm`` pixels, in order (vectorised :func:`run_window`)."""
    pm, win = run_window_arrays(g, tm)
    return tuple(zip(pm.tolist(), win.tolist()))


@lru_cache(maxsize=4096)
def run_window_arrays(g: ConvGeometry, tm: int) -> tuple[np.ndarray, np.ndarray]:
    """:func:`run_windows` as two read-only int64 arrays: run pixels, window pixels (per run, in order)."""
    m = g.ho * g.wo
    p0 = np.arange(0, m, tm, dtype=np.int64)
    p1 = np.minimum(p0 + tm, m)
    win = _window_pixels(g, p0, p1)
    pm = p1 - p0
    pm.flags.writeable = False
    win.flags.writeable = False
    return pm, win


@lru_cache(maxsize=1024)
def run_codes(g: ConvGeometry, tm: int) -> tuple[tuple[tuple[int, int], ...], list[int]]:
    """:func:`run_windows` as ``(distinct runs, codes)``: run ``i`` is ``runs[codes[i]]`` (few objects for
    many runs; treat the list as read-only)."""
    pm, win = run_window_arrays(g, tm)
    base = int(win.max()) + 1
    uniq, inverse = np.unique(pm * base + win, return_inverse=True)
    return tuple((int(v) // base, int(v) % base) for v in uniq), inverse.tolist()


def run_summaries(g: ConvGeometry, tms: tuple[int, ...], row_block: int = 1, bits: int | None = None,
                  im2col: bool = False) -> dict[int, tuple[tuple[tuple[int, int], ...], int, int]]:
    """Per run length ``tm``: ``((run pixels, count), ...)``, input bytes of all runs (all channels of one
    group) and the largest run input (elements per channel), for several run lengths in one numpy pass.

    A run's input is its window (:func:`run_windows`) plus, when runs are padded to whole blocks of
    ``row_block`` pixels (:class:`hwsim.compiler.dma.DmaRules`), ``kh * kw`` elements per channel for
    each padding pixel; with ``im2col``, ``kh * kw`` elements per channel for every pixel of the padded
    run (:meth:`hwsim.compiler.dma.DmaRules.run_elements`); codes of ``bits`` (default the layer's
    activation width).
    """
    m = g.ho * g.wo
    bits = g.a_bits if bits is None else bits
    tms = tuple(sorted(set(tms)))
    counts = [-(-m // tm) for tm in tms]
    starts = np.cumsum([0, *counts[:-1]])
    tm_of = np.repeat(np.asarray(tms, dtype=np.int64), counts)
    p0 = (np.arange(sum(counts), dtype=np.int64) - np.repeat(starts, counts)) * tm_of
    p1 = np.minimum(p0 + tm_of, m)
    run_pad = -(-(p1 - p0) // row_block) * row_block
    if im2col:
        win = run_pad * (g.kh * g.kw)
    else:
        win = _window_pixels(g, p0, p1) + (run_pad - (p1 - p0)) * (g.kh * g.kw)
    in_bytes = np.add.reduceat(-(-(win * (g.cin_g * bits)) // 8), starts).tolist()
    largest = np.maximum.reduceat(win, starts).tolist()
    out = {}
    for tm, nm, b, w in zip(tms, counts, in_bytes, largest):
        last = m - (nm - 1) * tm
        out[tm] = (((tm, nm - 1), (last, 1)) if nm > 1 and last != tm else ((last, nm),), b, w)
    return out


def _window_pixels(g: ConvGeometry, p0: np.ndarray, p1: np.ndarray) -> np.ndarray:
    """Input window pixels of the runs of output pixels ``[p0, p1)`` (vectorised :func:`run_window`)."""
    oy0, oy1 = p0 // g.wo, (p1 - 1) // g.wo + 1
    single = oy1 - oy0 == 1
    ox0 = np.where(single, p0 % g.wo, 0)
    ox1 = np.where(single, (p1 - 1) % g.wo + 1, g.wo)
    return (_extent(oy0, oy1, g.sh, g.dh, g.kh, g.pad_top, g.h)
            * _extent(ox0, ox1, g.sw, g.dw, g.kw, g.pad_left, g.w))


def _extent(lo, hi, s, d, k, p, size):
    """Clipped input extent ``stop - start`` of output ranges ``[lo, hi)`` (:meth:`ConvGeometry.in_range`)."""
    start = np.maximum(lo * s - p, 0)
    stop = np.minimum((hi - 1) * s - p + (k - 1) * d + 1, size)
    return stop - start


@dataclass(frozen=True)
class ConvTiling:
    """Run length ``tm``, channel block ``tn``, K chunk ``tc`` (input channels) and loop order."""

    geom: ConvGeometry
    tm: int
    tn: int
    tc: int
    order: str
    reason: dict = field(default_factory=dict, compare=False)

    def runs(self) -> list[tuple[int, int]]:
        """Output-pixel runs ``[p0, p1)``."""
        return blocks(self.geom.ho * self.geom.wo, self.tm)

    def chans(self) -> list[tuple[int, int]]:
        """Output-channel blocks (per group)."""
        return blocks(self.geom.n_g, self.tn)

    def chunks(self) -> list[tuple[int, int]]:
        """Input-channel chunks of the reduction (per group)."""
        return blocks(self.geom.cin_g, self.tc)

    def coords(self) -> Iterator[tuple[int, tuple[int, int], tuple[int, int], tuple[int, int], bool, bool]]:
        """Tiles in execution order: ``(group, run, channel block, chunk, load_in, load_w)``."""
        runs, chans, chunks = self.runs(), self.chans(), self.chunks()
        prev_in = prev_w = None
        for g in range(self.geom.groups):
            outer, inner = (chans, runs) if self.order == "wo" else (runs, chans)
            for a in outer:
                for b in inner:
                    mb, nb = (b, a) if self.order == "wo" else (a, b)
                    for cb in chunks:
                        kin, kw = (g, mb, cb), (g, nb, cb)
                        yield g, mb, nb, cb, kin != prev_in, kw != prev_w
                        prev_in, prev_w = kin, kw

    def to_dict(self) -> dict:
        """JSON-ready tile sizes, loop order, GEMM shape and the reason for the choice."""
        g = self.geom
        out = {"tile_out_pixels": self.tm, "tile_out_channels": self.tn, "tile_in_channels": self.tc,
               "k_chunks": -(-g.cin_g // self.tc), "loop_order": self.order, "groups": g.groups,
               "gemm_m": g.ho * g.wo, "gemm_n": g.n_g, "gemm_k": g.k}
        out.update(self.reason)
        return out


def tile_compute(cfg: HwConfig, g: ConvGeometry, passes: int, pm: int, pn: int, tc: int, *, last: bool,
                 nchunks: int, prev_beats: int = 0) -> tuple[int, int, int]:
    """``(compute cycles, tail cycles, accumulator-depth chunks)`` of one SRAM tile (see :func:`conv_tile`).

    Only the last K chunk of a tile depends on ``prev_beats``; no chunk depends on being the first.
    """
    a = cfg.array
    tk = g.kh * g.kw * tc
    ndepth = 1
    if passes == 0:
        compute = costs.float_mac_cycles(pm * pn * tk, cfg.vector.float_macs_per_cycle)
        tail = cfg.vector.latency_cycles if last else 0
    elif a.dataflow == "os":
        array_tiles = -(-pm // a.rows) * -(-pn // a.cols)
        if array_tiles == 1 and nchunks > 1:  # sums stay in the PE accumulators across K chunks
            if last:
                full, tail, ndepth = _os_costs(a.rows, a.cols, cfg.requant_lanes, g.k, a.max_depth, passes, a.timing)
                compute = full - prev_beats
            else:
                compute, tail = tk * passes, 0
        else:
            per, tail, ndepth = _os_costs(a.rows, a.cols, cfg.requant_lanes, tk, a.max_depth, passes, a.timing)
            compute = array_tiles * per
    else:
        tail = cfg.requant_pipeline_cycles if last else 0
        compute = costs.ws_compute_cycles(a.rows, a.cols, cfg.requant_lanes, tk, pn, pm * passes)
    if g.col2im_ops and last:
        compute += costs.vector_cycles(pm * pn, cfg.vector.lanes)
    return compute, tail, ndepth


def conv_tile(cfg: HwConfig, g: ConvGeometry, passes: int, pm: int, pn: int, win: int, tc: int, *,
              load_in: bool, load_w: bool, first: bool, last: bool, nchunks: int, prev_beats: int = 0,
              rules: DmaRules | None = None) -> Tile:
    """One SRAM tile: ``pm`` pixels x ``pn`` channels x a chunk of ``tc`` input channels.

    ``win`` is the input window's pixel count; ``first`` / ``last``: first / last K chunk;
    ``prev_beats``: operand beats of the earlier chunks (single-array-tile accumulation).
    Cycles: :func:`tile_compute`; DRAM bytes: ``rules`` (default :func:`hwsim.compiler.dma.dma_rules` of
    the layer: whole array tiles and requantization parameters on the RTL's array [rtl]).
    """
    a = cfg.array
    tk = g.kh * g.kw * tc
    compute, tail, ndepth = tile_compute(cfg, g, passes, pm, pn, tc, last=last, nchunks=nchunks,
                                         prev_beats=prev_beats)
    rules = dma_rules(cfg, g, passes) if rules is None else rules
    out_bytes = nbytes(pm * pn, g.out_bits) if last else 0
    store = rules.output_bytes(g, pm, pn) if last else 0
    a_stream, w_stream = nbytes(pm * tk, g.a_bits), nbytes(pn * tk, g.w_bits)
    chunk_psum = PSUM_BYTES * padded(pm, rules.row_block) * padded(pn, rules.col_block)  # int32 per output [rtl]
    psum_w = psum_r = 0
    with_params = first  # the requantization parameters come with the chunk that samples them
    if passes == 0:
        unit, array_tiles, requant = "float", 0, 0
        ifmap_read, weight_read = a_stream * pn, w_stream * pm
    elif a.dataflow == "os":
        unit, requant = "array", pm * pn if last else 0
        array_tiles = -(-pm // a.rows) * -(-pn // a.cols)
        ifmap_read, weight_read = a_stream * -(-pn // a.cols), w_stream * -(-pm // a.rows)
        if not (array_tiles == 1 and nchunks > 1):  # else sums stay in the PE accumulators across K chunks
            psum_w = 0 if last else chunk_psum
            psum_r = 0 if first else chunk_psum
            with_params = last  # the requantizing chunk's array tiles sample them on their first beats [rtl]
        spills = ndepth - 1  # accumulator-depth spill + reload rounds
        psum_w += chunk_psum * spills
        psum_r += chunk_psum * spills
    else:
        unit, requant = "array", pm * pn if last else 0
        array_tiles = -(-tk // a.rows) * -(-pn // a.cols)
        ifmap_read, weight_read = a_stream * -(-pn // a.cols), w_stream
        spills = -(-tk // a.rows) - 1 + (0 if last else 1)
        psum_w = chunk_psum * spills
        psum_r = chunk_psum * (-(-tk // a.rows) - 1 + (0 if first else 1))
    vector_ops = pm * pn if g.col2im_ops and last else 0
    params = rules.param_bytes(pn) if with_params else 0
    accumulating = a.dataflow == "os" and array_tiles == 1 and nchunks > 1
    release = 0 if g.col2im_ops or (accumulating and not last) else \
        _release_cycles(cfg, passes, g.k if accumulating else tk)
    # the top's instructions [rtl: rtl/top/program.py]: its input LOAD, its weight LOAD (and the parameters'), the
    # COMPUTE and, for the last chunk, the STORE
    instructions = (1 + load_in + load_w * (1 + (params > 0)) + last) if on_top(cfg, g, passes) else 0
    return Tile(unit=unit, pixels=pm, channels=pn, k=tk, array_tiles=array_tiles, macs=pm * pn * tk,
                load_ifmap_bytes=rules.input_bytes(g, pm, win, tc) if load_in else 0,
                load_weight_bytes=(rules.weight_bytes(g, pn, tk) + params) if load_w else 0,
                store_bytes=store, compute_cycles=compute, tail_cycles=tail,
                ifmap_read_bytes=ifmap_read, weight_read_bytes=weight_read,
                ofmap_read_bytes=out_bytes + psum_r, ofmap_write_bytes=out_bytes + psum_w,
                requant_ops=requant, vector_ops=vector_ops, release_cycles=release, instructions=instructions)


def _release_cycles(cfg: HwConfig, passes: int, k: int) -> int:
    """Cycles from an OS tile's last operand beat to the end of its compute, ``k`` reduction elements
    (:attr:`hwsim.compiler.schedule.Tile.release_cycles`): the last accumulator-depth chunk's interval
    ``max(beats, Dmin)`` minus its beats on the RTL's timing [rtl: rtl/top/compute.py releases a tile's
    input and weight halves when its last beat entered the array], else 0."""
    if not (passes and cfg.on_rtl_top):
        return 0
    a = cfg.array
    return _rtl_release(a.rows, a.cols, cfg.requant_lanes, k, a.max_depth, passes)


@lru_cache(maxsize=4096)
def _rtl_release(rows: int, cols: int, lanes: int, k: int, max_depth: int, passes: int) -> int:
    """:func:`_release_cycles` on the RTL's timing (cycles)."""
    beats = costs.k_chunks(k, max_depth)[-1] * passes
    return costs.os_tile_interval(rows, cols, beats, lanes, "rtl") - beats


@lru_cache(maxsize=4096)
def _os_costs(rows: int, cols: int, lanes: int, k: int, max_depth: int, passes: int, timing: str) -> tuple[int, int, int]:
    """``(cycles of one array tile of depth k, drain tail, accumulator-depth chunks)`` (:mod:`hwsim.costs`)."""
    depth = costs.k_chunks(k, max_depth)
    return (costs.os_compute_cycles(rows, cols, lanes, 1, k, max_depth, passes=passes, timing=timing),
            costs.os_tail_cycles(rows, cols, depth[-1] * passes, lanes, timing), len(depth))


def _fold_periodic(items: list, periods: list[int]) -> tuple:
    """Fold runs of a repeating block (one of ``periods`` long) into loops, then equal neighbours."""
    ids = list(map(id, items))
    n, i, out = len(items), 0, []
    while i < n:
        best_p, best_reps = 0, 1
        for p in periods:
            if p < 2 or i + 2 * p > n or ids[i + p] != ids[i]:  # (the block cannot repeat)
                continue
            reps, block = 1, ids[i:i + p]
            while i + (reps + 1) * p <= n and ids[i + reps * p:i + (reps + 1) * p] == block:
                reps += 1
            if reps > 1 and reps * p > best_reps * best_p:
                best_p, best_reps = p, reps
        if best_p:
            out.append(Loop(compress(items[i:i + best_p]), best_reps))
            i += best_p * best_reps
        else:
            out.append(items[i])
            i += 1
    return compress(out)


def conv_tree(cfg: HwConfig, t: ConvTiling) -> Loop:
    """The loop tree of tiling ``t`` (same order and residency as :meth:`ConvTiling.coords`; memoised)."""
    return _conv_tree(cfg, t)


@lru_cache(maxsize=256)
def _conv_tree(cfg: HwConfig, t: ConvTiling) -> Loop:
    g = t.geom
    passes = cfg.mac_passes(g.w_bits, g.a_bits)
    rules = dma_rules(cfg, g, passes)
    chunks = t.chunks()
    nchunks = len(chunks)
    cache: dict = {}
    runs, codes = run_codes(g, t.tm)  # run i is runs[codes[i]]: (run pixels, window pixels)
    chans = [b - a for a, b in t.chans()]

    seqs: dict = {}

    def chunk_seq(run: tuple[int, int], pn: int, load_in: bool, load_w: bool) -> list:
        """The K-chunk tiles of one output block (one list per distinct block: runs repeat)."""
        if nchunks > 1:
            load_in = load_w = True  # every chunk reloads both operands
        key = (run, pn, load_in, load_w)
        seq = seqs.get(key)
        if seq is None:
            seq = seqs[key] = _chunk_seq(run, pn, load_in, load_w)
        return seq

    def _chunk_seq(run: tuple[int, int], pn: int, load_in: bool, load_w: bool) -> list:
        pm, win = run
        seq, beats = [], 0
        for j, (c0, c1) in enumerate(chunks):
            li, lw = (load_in, load_w) if nchunks == 1 else (True, True)
            key = (pm, win, pn, c1 - c0, li, lw, j == 0, j == nchunks - 1, beats)
            node = cache.get(key)
            if node is None:
                node = cache[key] = conv_tile(cfg, g, passes, pm, pn, win, c1 - c0, load_in=li, load_w=lw,
                                              first=j == 0, last=j == nchunks - 1, nchunks=nchunks,
                                              prev_beats=beats, rules=rules)
            seq.append(node)
            beats += g.kh * g.kw * (c1 - c0) * passes
        return seq

    def seq(items: list, periods: list[int]) -> object:
        body = _fold_periodic(items, periods)
        return body[0] if len(body) == 1 else Loop(body, 1)

    # With one K chunk, residency spans tiles; with several, every chunk changes both keys
    # (except the same chunk of a one-run, one-block layer, handled by coords() semantics:
    # consecutive tiles then differ in chunk, so both operands reload).
    period = g.wo // _gcd(t.tm, g.wo) if t.tm % g.wo else 1
    periods = sorted({1, period, 2 * period}) if period <= 4096 else [1]
    nm, nn = len(codes), len(chans)
    built: dict = {}

    def once(key, build):  # identical blocks / runs share one node
        node = built.get(key)
        if node is None:
            node = built[key] = build()
        return node

    if t.order == "wo":
        def block(pn: int, later: bool):
            li = nchunks > 1 or not (nm == 1 and later)
            items = list(chunk_seq(runs[codes[0]], pn, li, True))  # the first run loads the block's weights
            rest = {c: chunk_seq(runs[c], pn, li, nchunks > 1) for c in dict.fromkeys(codes[1:])}
            items.extend(chain.from_iterable(map(rest.__getitem__, codes[1:])))
            return seq(items, [p * nchunks for p in periods])
        group = seq([once((pn, j > 0), lambda pn=pn, j=j: block(pn, j > 0)) for j, pn in enumerate(chans)], [1])
    else:
        def row(run: tuple[int, int], first: bool):
            items = []
            for j, pn in enumerate(chans):
                lw = nchunks > 1 or not (nn == 1 and not first)
                items.extend(chunk_seq(run, pn, nchunks > 1 or j == 0, lw))
            return seq(items, [nchunks])
        rows = {c: row(runs[c], False) for c in dict.fromkeys(codes[1:])}  # identical runs share one node
        group = seq([row(runs[codes[0]], True), *map(rows.__getitem__, codes[1:])], periods)
    return Loop((group,), g.groups)


def _gcd(a: int, b: int) -> int:
    while b:
        a, b = b, a % b
    return a
