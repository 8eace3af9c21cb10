"""Tiling of weighted layers: (layer, config) -> tile sizes, loop order and the tile loop tree.

An SRAM tile is ``th x tw`` output pixels by ``tn`` output channels of one group with
the full reduction; its input is the ``th x tw`` window plus its halo
(``(th-1)*stride + (kh-1)*dilation + 1`` rows), clipped to the feature map (padding is
never loaded: the array feeds the zero point). Double buffering: input, weight and
output tiles must each fit half of their SRAM.

Loop orders: ``wo`` (weights outer: for group, channel block, tile row, tile column)
keeps a weight block resident and re-reads the inputs per channel block unless the
whole input is one tile; ``io`` (inputs outer: for group, tile row, tile column,
channel block) keeps an input tile resident and re-reads weights per spatial tile
unless all channels are one block. Choice: among candidates whose compute cycles (the
engine's own cost functions, :mod:`hwsim.costs`) are within 2% of the best, the fewest
DRAM bytes, then the fewest tiles.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

from hwsim import costs
from hwsim.compiler.geometry import BIAS_BYTES, ConvGeometry, blocks, conv_geometry, nbytes
from hwsim.compiler.schedule import Loop, Tile, compress
from hwsim.config import HwConfig
from sw.graph.ir import Layer
from sw.quant.ints import PSUM_BYTES

__all__ = ["ConvTiling", "choose_conv_tiling", "conv_tree", "tile_compute_cycles"]

#: Candidates whose compute is within this factor of the best compete on DRAM bytes.
COMPUTE_SLACK = 1.02


@dataclass(frozen=True)
class ConvTiling:
    """Tile sizes (output rows ``th``, columns ``tw``, channels ``tn``) and loop order of a GEMM layer."""

    geom: ConvGeometry
    th: int
    tw: int
    tn: int
    order: str

    def rows(self) -> list[tuple[int, int]]:
        """Output-row blocks."""
        return blocks(self.geom.ho, self.th)

    def cols(self) -> list[tuple[int, int]]:
        """Output-column blocks."""
        return blocks(self.geom.wo, self.tw)

    def chans(self) -> list[tuple[int, int]]:
        """Output-channel blocks (per group)."""
        return blocks(self.geom.n_g, self.tn)

    def coords(self) -> Iterator[tuple[int, tuple[int, int], tuple[int, int], tuple[int, int], bool, bool]]:
        """Tiles in execution order: ``(group, (y0, y1), (x0, x1), (n0, n1), load_in, load_w)``."""
        rows, cols, chans = self.rows(), self.cols(), self.chans()
        single_sp, single_n = len(rows) * len(cols) == 1, len(chans) == 1
        for g in range(self.geom.groups):
            if self.order == "wo":
                for nb in chans:
                    for iy, ry in enumerate(rows):
                        for ix, rx in enumerate(cols):
                            yield g, ry, rx, nb, not (single_sp and nb[0] > 0), iy == 0 and ix == 0
            else:
                for iy, ry in enumerate(rows):
                    for ix, rx in enumerate(cols):
                        for nb in chans:
                            yield g, ry, rx, nb, nb[0] == 0, not (single_n and (iy, ix) != (0, 0))

    def to_dict(self) -> dict:
        """JSON-ready tile sizes, loop order and GEMM shape."""
        g = self.geom
        return {"tile_out_rows": self.th, "tile_out_cols": self.tw, "tile_out_channels": self.tn,
                "loop_order": self.order, "groups": g.groups, "gemm_m": g.ho * g.wo, "gemm_n": g.n_g, "gemm_k": g.k}


@dataclass(frozen=True)
class _Candidate:
    """One (tile shape, loop order) scored by the tiler."""

    bound: float
    compute: int
    dram: int
    tiles: int
    order: str
    th: int
    tw: int
    tn: int


def _sizes(g: ConvGeometry, th: int, tw: int, tn: int) -> tuple[int, int, int]:
    """Bytes of one tile's input window, weights (+ bias) and outputs."""
    rin = min((th - 1) * g.sh + (g.kh - 1) * g.dh + 1, g.h)
    cin = min((tw - 1) * g.sw + (g.kw - 1) * g.dw + 1, g.w)
    return (nbytes(rin * cin * g.cin_g, g.a_bits),
            nbytes(tn * g.k, g.w_bits) + (tn * BIAS_BYTES if g.bias else 0),
            nbytes(th * tw * tn, g.out_bits))


def _row_candidates(total: int) -> list[int]:
    """Tile heights tried: ``total``, ``ceil(total / d)`` for d <= 8 and powers of two."""
    vals = {total}
    vals.update(-(-total // d) for d in range(1, 9))
    p = 1
    while p < total:
        vals.add(p)
        p *= 2
    return sorted(vals)


def tile_compute_cycles(cfg: HwConfig, g: ConvGeometry, pixels: int, tn: int, passes: int) -> int:
    """Compute cycles of one SRAM tile of ``pixels`` x ``tn`` outputs (the engine's cost functions).

    ``passes`` is :meth:`HwConfig.mac_passes` (0: a float layer on the vector unit).
    """
    a = cfg.array
    if passes == 0:
        return costs.float_mac_cycles(pixels * tn * g.k, cfg.vector.float_macs_per_cycle)
    if a.dataflow == "os":
        array_tiles = -(-pixels // a.rows) * -(-tn // a.cols)
        return costs.os_compute_cycles(a.rows, a.cols, cfg.requant_lanes, array_tiles, g.k, a.max_depth,
                                       passes=passes)
    return costs.ws_compute_cycles(a.rows, a.cols, cfg.requant_lanes, g.k, tn, pixels * passes)


def _check_smallest_tile(layer: Layer, cfg: HwConfig, g: ConvGeometry, split: bool) -> None:
    m = cfg.memory
    need_in, need_w, need_out = _sizes(g, 1, 1, 1)
    if split:
        need_out = max(need_out, PSUM_BYTES)
    for what, need, have in (("input (ifmap)", need_in, m.ifmap_sram_bytes // 2),
                             ("weight", need_w, m.weight_sram_bytes // 2),
                             ("output (ofmap)", need_out, m.ofmap_sram_bytes // 2)):
        if need > have:
            raise ValueError(f"layer '{layer.name}': the smallest legal tile needs {need} bytes of {what} SRAM "
                             f"per buffer (x2 double buffered = {2 * need}), but config '{cfg.name}' has "
                             f"{have} per buffer ({2 * have} total)")


def _tile_shapes(cfg: HwConfig, g: ConvGeometry, split: bool) -> list[tuple[int, int, int]]:
    """Legal ``(th, tw, tn)``: full-width row blocks, else narrower column blocks of one row."""
    m = cfg.memory
    half_in, half_w, half_out = m.ifmap_sram_bytes // 2, m.weight_sram_bytes // 2, m.ofmap_sram_bytes // 2
    cols = cfg.array.cols
    per_col = nbytes(g.k, g.w_bits) + (BIAS_BYTES if g.bias else 0)
    tn_fit = max(1, min(g.n_g, half_w // per_col))
    tn_vals = {min(g.n_g, cols * 2**i) for i in range(12)} | {g.n_g}
    if tn_fit < cols:  # weights of one full column block do not fit: partial column blocks
        tn_vals |= {tn_fit, max(1, cols // 2), max(1, cols // 4)}
    tn_vals = sorted(t for t in tn_vals if t <= tn_fit) or [tn_fit]
    th_vals = _row_candidates(g.ho)
    shapes = []
    for tw_div in range(0, 12):
        tw = -(-g.wo // 2**tw_div)
        if tw_div and tw == -(-g.wo // 2 ** (tw_div - 1)):
            continue
        found_any = False
        for th in (th_vals if tw == g.wo else [1]):
            for tn in tn_vals:
                si, sw_, so = _sizes(g, th, tw, tn)
                if split:
                    so = max(so, th * tw * tn * PSUM_BYTES)
                if si > half_in or sw_ > half_w or so > half_out:
                    continue
                found_any = True
                shapes.append((th, tw, tn))
        if (found_any and tw == g.wo) or tw == 1:
            break
    if not shapes:
        for tn in range(min(cols, g.n_g), 0, -1):
            si, sw_, so = _sizes(g, 1, 1, tn)
            if si <= half_in and sw_ <= half_w and so <= half_out:
                shapes.append((1, 1, tn))
                break
    return shapes


def choose_conv_tiling(layer: Layer, cfg: HwConfig) -> ConvTiling:
    """The tiling of ``layer`` (conv/depthwise/fc/conv_transpose) on ``cfg``.

    Raises
    ------
    ValueError
        If even the smallest legal tile (1 output pixel x 1 output channel with its
        whole reduction) exceeds half of an SRAM; names the layer and the bytes needed.
    """
    g = conv_geometry(layer)
    passes = cfg.mac_passes(g.w_bits, g.a_bits)
    split = len(costs.k_chunks(g.k, cfg.array.max_depth)) > 1 and passes > 0
    _check_smallest_tile(layer, cfg, g, split)
    shapes = _tile_shapes(cfg, g, split)

    def loaded_extent(size: int, tile: int, axis: int) -> tuple[int, Counter, int]:
        # Block count, block sizes and the input rows/cols the blocks load (halos included).
        bl = blocks(size, tile)
        total = 0
        for a, b in bl:
            start, stop, _, _ = g.in_range(a, b, axis)
            total += stop - start
        return len(bl), Counter(b - a for a, b in bl), total

    ys = {th: loaded_extent(g.ho, th, 0) for th in {s[0] for s in shapes}}
    xs = {tw: loaded_extent(g.wo, tw, 1) for tw in {s[1] for s in shapes}}
    ns = {tn: Counter(b - a for a, b in blocks(g.n_g, tn)) for tn in {s[2] for s in shapes}}
    compute: dict[tuple[int, int], int] = {}

    def tile_compute(pixels: int, tn_i: int) -> int:
        if (pixels, tn_i) not in compute:
            compute[pixels, tn_i] = tile_compute_cycles(cfg, g, pixels, tn_i, passes)
        return compute[pixels, tn_i]

    bw = cfg.memory.dram_bytes_per_cycle
    w_once = nbytes(g.groups * g.n_g * g.k, g.w_bits) + (g.out_channels_total * BIAS_BYTES if g.bias else 0)
    out_total = nbytes(g.ho * g.wo * g.n_g * g.groups, g.out_bits)
    cands = []
    for th, tw, tn in shapes:
        (n_y, y_sizes, rin), (n_x, x_sizes, cin) = ys[th], xs[tw]
        in_once = nbytes(rin * cin * g.cin_g, g.a_bits) * g.groups
        n_sp, n_nb = n_y * n_x, -(-g.n_g // tn)
        est = g.groups * sum(cnt_y * cnt_x * cnt_n * tile_compute(th_i * tw_i, tn_i)
                             for th_i, cnt_y in y_sizes.items()
                             for tw_i, cnt_x in x_sizes.items()
                             for tn_i, cnt_n in ns[tn].items())
        for order in ("wo", "io"):
            if order == "wo":
                dram = in_once * (n_nb if n_sp > 1 else 1) + w_once + out_total
            else:
                dram = in_once + w_once * (n_sp if n_nb > 1 else 1) + out_total
            cands.append(_Candidate(bound=max(est, dram / bw), compute=est, dram=dram, tiles=n_sp * n_nb * g.groups,
                                    order=order, th=th, tw=tw, tn=tn))
    min_est = min(c.compute for c in cands)
    pool = [c for c in cands if c.compute <= COMPUTE_SLACK * min_est]
    best = min(pool, key=lambda c: (c.dram, c.tiles, c.bound))
    return ConvTiling(g, best.th, best.tw, best.tn, best.order)


def _weight_load_bytes(g: ConvGeometry, tn: int) -> int:
    """DRAM bytes of ``tn`` channels' weights (+ int32 bias); sparse weights carry their non-zeros only
    (index overhead neglected [assumed])."""
    return nbytes(round(tn * g.k * (1 - g.sparsity)), g.w_bits) + (tn * BIAS_BYTES if g.bias else 0)


def _conv_tile(cfg: HwConfig, g: ConvGeometry, passes: int, ry: tuple[int, int], rx: tuple[int, int],
               tn: int, load_in: bool, load_w: bool) -> Tile:
    a = cfg.array
    y0, y1, _, _ = g.in_range(*ry, 0)
    x0, x1, _, _ = g.in_range(*rx, 1)
    pixels = (ry[1] - ry[0]) * (rx[1] - rx[0])
    out_bytes = nbytes(pixels * tn, g.out_bits)
    compute = tile_compute_cycles(cfg, g, pixels, tn, passes)
    a_stream = nbytes(pixels * g.k, g.a_bits)
    w_stream = nbytes(tn * g.k, g.w_bits)
    spills = 0  # partial-sum spill + reload rounds per output
    if passes == 0:
        unit, array_tiles, tail, requant = "float", 0, cfg.vector.latency_cycles, 0
        ifmap_read, weight_read = a_stream * tn, w_stream * pixels
    elif a.dataflow == "os":
        unit, requant = "array", pixels * tn
        tail = costs.os_tail_cycles(a.rows, a.cols, costs.k_chunks(g.k, a.max_depth)[-1] * passes, cfg.requant_lanes)
        array_tiles = -(-pixels // a.rows) * -(-tn // a.cols)
        ifmap_read = a_stream * -(-tn // a.cols)
        weight_read = w_stream * -(-pixels // a.rows)
        spills = len(costs.k_chunks(g.k, a.max_depth)) - 1
    else:
        unit, tail, requant = "array", cfg.requant_pipeline_cycles, pixels * tn
        array_tiles = -(-g.k // a.rows) * -(-tn // a.cols)
        ifmap_read = a_stream * -(-tn // a.cols)
        weight_read = w_stream
        spills = -(-g.k // a.rows) - 1
    psum_bytes = PSUM_BYTES * pixels * tn * spills  # each spilled partial sum is written once and read once
    vector_ops = 0
    if g.col2im_ops:
        vector_ops = pixels * tn
        compute += costs.vector_cycles(vector_ops, cfg.vector.lanes)
    return Tile(unit=unit, pixels=pixels, channels=tn, k=g.k, array_tiles=array_tiles, macs=pixels * tn * g.k,
                load_ifmap_bytes=nbytes((y1 - y0) * (x1 - x0) * g.cin_g, g.a_bits) if load_in else 0,
                load_weight_bytes=_weight_load_bytes(g, tn) if load_w else 0,
                store_bytes=out_bytes, compute_cycles=compute, tail_cycles=tail,
                ifmap_read_bytes=ifmap_read, weight_read_bytes=weight_read,
                ofmap_read_bytes=out_bytes + psum_bytes, ofmap_write_bytes=out_bytes + psum_bytes,
                requant_ops=requant, vector_ops=vector_ops)


def conv_tree(cfg: HwConfig, t: ConvTiling) -> Loop:
    """The loop tree of tiling ``t`` (same order as :meth:`ConvTiling.coords`)."""
    g = t.geom
    passes = cfg.mac_passes(g.w_bits, g.a_bits)
    rows, cols, chans = t.rows(), t.cols(), t.chans()
    single_sp, single_n = len(rows) * len(cols) == 1, len(chans) == 1
    cache: dict = {}

    def ykey(r):
        y0, y1, _, _ = g.in_range(*r, 0)
        return (r[1] - r[0], y1 - y0)

    def xkey(r):
        x0, x1, _, _ = g.in_range(*r, 1)
        return (r[1] - r[0], x1 - x0)

    def tile(ry, rx, tn, li, lw):
        key = (ykey(ry), xkey(rx), tn, li, lw)
        node = cache.get(key)
        if node is None:
            node = cache[key] = _conv_tile(cfg, g, passes, ry, rx, tn, li, lw)
        return node

    def seq(items):
        body = compress(items)
        return body[0] if len(body) == 1 else Loop(body, 1)

    def memo(key, build):
        node = cache.get(key)
        if node is None:
            node = cache[key] = build()
        return node

    if t.order == "wo":
        def block(nb):
            tn = nb[1] - nb[0]
            li = not (single_sp and nb[0] > 0)

            def row(iy, ry):
                return memo(("row", ykey(ry), tn, li, iy == 0),
                            lambda: seq([tile(ry, rx, tn, li, iy == 0 and ix == 0) for ix, rx in enumerate(cols)]))
            return memo(("block", tn, li), lambda: seq([row(iy, ry) for iy, ry in enumerate(rows)]))
        group = seq([block(nb) for nb in chans])
    else:
        def pix(iy, ry, ix, rx):
            first = (iy, ix) == (0, 0)
            return memo(("pix", ykey(ry), xkey(rx), first),
                        lambda: seq([tile(ry, rx, nb[1] - nb[0], nb[0] == 0, not (single_n and not first))
                                     for nb in chans]))

        def row(iy, ry):
            return memo(("row", ykey(ry), iy == 0), lambda: seq([pix(iy, ry, ix, rx) for ix, rx in enumerate(cols)]))
        group = seq([row(iy, ry) for iy, ry in enumerate(rows)])
    return Loop((group,), g.groups)
