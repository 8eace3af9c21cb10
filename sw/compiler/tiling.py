"""Tiling: (layer, hardware config) -> tile sizes, loop order and the tile loop tree.

Convolutions (dense, grouped, depthwise), FC and transposed convolutions are mapped
as implicit GEMMs per group: ``M = Ho*Wo`` output pixels, ``N = Cout/groups`` output
channels, ``K = kh*kw*Cin/groups`` reduction. An SRAM tile is ``th x tw`` output
pixels by ``tn`` output channels of one group with the full reduction; its input is
the ``th x tw`` window plus its halo (``(th-1)*stride + (kh-1)*dilation + 1`` rows),
clipped to the feature map (padding is never loaded: the array feeds the zero point).
Double buffering: input, weight and output tiles must each fit half of their SRAM.

Loop orders: ``wo`` (weights outer: for group, channel block, tile row, tile column)
keeps a weight block resident and re-reads the inputs per channel block unless the
whole input is one tile; ``io`` (inputs outer: for group, tile row, tile column,
channel block) keeps an input tile resident and re-reads weights per spatial tile
unless all channels are one block. Choice: among candidates whose estimated compute
is within 2% of the best, the fewest DRAM bytes, then the fewest tiles.

FC layers are 1x1 convolutions over ``(repeat, 1, H*W*C)`` (RoIs batch as pixels);
transposed convolutions are 1x1 GEMMs producing ``kh*kw*Cout`` columns per input
pixel whose overlap-add (col2im) runs on the vector unit [assumed].
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass

from hwsim import costs
from hwsim.config import HwConfig
from sw.compiler.schedule import Loop, Tile, compress
from sw.graph.ir import Layer, Op

__all__ = ["ConvGeometry", "ConvTiling", "conv_geometry", "choose_conv_tiling", "conv_tree",
           "VectorTiling", "vector_tree", "nbytes", "MAC_OPS"]

MAC_OPS = frozenset({Op.CONV, Op.DEPTHWISE, Op.FC, Op.CONV_TRANSPOSE})
BIAS_BYTES = 4


def nbytes(elements: int, bits: int) -> int:
    """Bytes of ``elements`` values at ``bits`` each, packed."""
    return -(-elements * bits // 8)


@dataclass(frozen=True)
class ConvGeometry:
    """Implicit-GEMM view of a weighted layer (one execution, per group)."""

    h: int
    w: int
    cin_g: int
    groups: int
    ho: int
    wo: int
    n_g: int
    kh: int
    kw: int
    sh: int
    sw: int
    dh: int
    dw: int
    pad_top: int
    pad_left: int
    a_bits: int
    w_bits: int
    out_bits: int
    bias: bool
    out_channels_total: int
    col2im_ops: int = 0
    sparsity: float = 0.0  # zero fraction of weights stored sparse: DRAM weight loads carry the non-zeros only

    @property
    def k(self) -> int:
        """Reduction depth per output."""
        return self.kh * self.kw * self.cin_g

    def in_range(self, lo: int, hi: int, axis: int) -> tuple[int, int, int, int]:
        """Input ``(start, stop, pad_before, pad_after)`` of output rows/cols ``[lo, hi)``."""
        s, d, k, p, size = ((self.sh, self.dh, self.kh, self.pad_top, self.h) if axis == 0
                            else (self.sw, self.dw, self.kw, self.pad_left, self.w))
        start = lo * s - p
        stop = (hi - 1) * s - p + (k - 1) * d + 1
        return max(start, 0), min(stop, size), max(0, -start), max(0, stop - size)


def conv_geometry(layer: Layer) -> ConvGeometry:
    """The GEMM geometry of a conv / depthwise / fc / conv_transpose layer."""
    (h, w, c), (ho, wo, cout) = layer.in_shapes[0], layer.out_shape
    a, wb, bias = layer.a_bits, layer.w_bits, layer.bias
    if layer.op is Op.FC:  # batched fc: one GEMM row per output pixel
        rows, depth = layer.repeat * layer.batched_rows, (c if layer.batched_rows > 1 else h * w * c)
        return ConvGeometry(rows, 1, depth, 1, rows, 1, cout, 1, 1, 1, 1, 1, 1, 0, 0, a, wb, a, bias, cout,
                            sparsity=layer.sparsity)
    if layer.op is Op.CONV_TRANSPOSE:
        g = layer.groups
        cols = layer.kernel[0] * layer.kernel[1] * cout // g
        return ConvGeometry(h, w, c // g, g, h, w, cols, 1, 1, 1, 1, 1, 1, 0, 0, a, wb, 32, bias, cout,
                            col2im_ops=h * w * cols * g, sparsity=layer.sparsity)
    g = layer.groups
    return ConvGeometry(h, w, c // g, g, ho, wo, cout // g, layer.kernel[0], layer.kernel[1],
                        layer.stride[0], layer.stride[1], layer.dilation[0], layer.dilation[1],
                        layer.padding[0][0], layer.padding[1][0], a, wb, a, bias, cout, sparsity=layer.sparsity)


def _blocks(total: int, size: int) -> list[tuple[int, int]]:
    return [(lo, min(lo + size, total)) for lo in range(0, total, size)]


@dataclass(frozen=True)
class ConvTiling:
    """Tile sizes and loop order of a GEMM layer; enumerates tiles with coordinates."""

    geom: ConvGeometry
    th: int
    tw: int
    tn: int
    order: str

    def rows(self) -> list[tuple[int, int]]:
        return _blocks(self.geom.ho, self.th)

    def cols(self) -> list[tuple[int, int]]:
        return _blocks(self.geom.wo, self.tw)

    def chans(self) -> list[tuple[int, int]]:
        return _blocks(self.geom.n_g, self.tn)

    def coords(self):
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
        g = self.geom
        return {"tile_out_rows": self.th, "tile_out_cols": self.tw, "tile_out_channels": self.tn,
                "loop_order": self.order, "groups": g.groups, "gemm_m": g.ho * g.wo, "gemm_n": g.n_g, "gemm_k": g.k}


def _sizes(g: ConvGeometry, th: int, tw: int, tn: int) -> tuple[int, int, int]:
    rin = min((th - 1) * g.sh + (g.kh - 1) * g.dh + 1, g.h)
    cin = min((tw - 1) * g.sw + (g.kw - 1) * g.dw + 1, g.w)
    return (nbytes(rin * cin * g.cin_g, g.a_bits),
            nbytes(tn * g.k, g.w_bits) + (tn * BIAS_BYTES if g.bias else 0),
            nbytes(th * tw * tn, g.out_bits))


def _candidates(total: int) -> list[int]:
    vals = {total}
    vals.update(-(-total // d) for d in range(1, 9))
    p = 1
    while p < total:
        vals.add(p)
        p *= 2
    return sorted(vals)


def _array_params(cfg: HwConfig, g: ConvGeometry) -> tuple[int, bool]:
    passes = cfg.mac_passes(g.w_bits, g.a_bits)
    return passes, passes == 0


def _tile_compute(cfg: HwConfig, g: ConvGeometry, pixels: int, tn: int, passes: int) -> int:
    a = cfg.array
    if passes == 0:
        return costs.float_mac_cycles(pixels * tn * g.k, cfg.vector.float_macs_per_cycle)
    if a.dataflow == "os":
        at = -(-pixels // a.rows) * -(-tn // a.cols)
        return at * sum(costs.os_tile_interval(a.rows, a.cols, c * passes, cfg.requant_lanes)
                        for c in costs.k_chunks(g.k, a.max_depth))
    return costs.ws_compute_cycles(a.rows, a.cols, cfg.requant_lanes, g.k, tn, pixels * passes)


def choose_conv_tiling(layer: Layer, cfg: HwConfig) -> ConvTiling:
    """The tiling of ``layer`` (conv/depthwise/fc/conv_transpose) on ``cfg``.

    Raises
    ------
    ValueError
        If even the smallest legal tile (1 output pixel x 1 output channel with its
        whole reduction) exceeds half of an SRAM; names the layer and the bytes needed.
    """
    g = conv_geometry(layer)
    where = f"layer '{layer.name}': "
    passes, _ = _array_params(cfg, g)
    m = cfg.memory
    half_in, half_w, half_out = m.ifmap_sram_bytes // 2, m.weight_sram_bytes // 2, m.ofmap_sram_bytes // 2
    need_in, need_w, need_out = _sizes(g, 1, 1, 1)
    split = len(costs.k_chunks(g.k, cfg.array.max_depth)) > 1 and passes > 0
    if split:
        need_out = max(need_out, 4)
    for what, need, have in (("input (ifmap)", need_in, half_in), ("weight", need_w, half_w),
                             ("output (ofmap)", need_out, half_out)):
        if need > have:
            raise ValueError(f"{where}the smallest legal tile needs {need} bytes of {what} SRAM per buffer "
                             f"(x2 double buffered = {2 * need}), but config '{cfg.name}' has "
                             f"{have} per buffer ({2 * have} total)")
    cols = cfg.array.cols
    per_col = nbytes(g.k, g.w_bits) + (BIAS_BYTES if g.bias else 0)
    tn_fit = max(1, min(g.n_g, half_w // per_col))
    tn_vals = {min(g.n_g, cols * 2**i) for i in range(12)} | {g.n_g}
    if tn_fit < cols:  # weights of one full column block do not fit: partial column blocks
        tn_vals |= {tn_fit, max(1, cols // 2), max(1, cols // 4)}
    tn_vals = sorted(t for t in tn_vals if t <= tn_fit) or [tn_fit]
    th_vals = _candidates(g.ho)
    best = None
    bw = m.dram_bytes_per_cycle
    w_once = nbytes(g.groups * g.n_g * g.k, g.w_bits) + (g.out_channels_total * BIAS_BYTES if g.bias else 0)
    out_total = nbytes(g.ho * g.wo * g.n_g * g.groups, g.out_bits)
    cands = []
    for tw_div in range(0, 12):
        tw = -(-g.wo // 2**tw_div)
        if tw_div and tw == -(-g.wo // 2 ** (tw_div - 1)):
            continue
        found_any = False
        for th in (th_vals if tw == g.wo else [1]):
            for tn in tn_vals:
                si, sw_, so = _sizes(g, th, tw, tn)
                if split:
                    so = max(so, th * tw * tn * 4)
                if si > half_in or sw_ > half_w or so > half_out:
                    continue
                found_any = True
                cands.append((th, tw, tn))
        if found_any and tw == g.wo:
            break
        if tw == 1:
            break
    if not cands:
        for tn in range(min(cols, g.n_g), 0, -1):
            si, sw_, so = _sizes(g, 1, 1, tn)
            if si <= half_in and sw_ <= half_w and so <= half_out:
                cands.append((1, 1, tn))
                break
    def loaded_extent(size: int, tile: int, axis: int) -> tuple[int, Counter, int]:
        # Block count, block sizes and the input rows/cols the blocks load (halos included).
        blocks = _blocks(size, tile)
        total = 0
        for a, b in blocks:
            start, stop, _, _ = g.in_range(a, b, axis)
            total += stop - start
        return len(blocks), Counter(b - a for a, b in blocks), total

    ys = {th: loaded_extent(g.ho, th, 0) for th in {c[0] for c in cands}}
    xs = {tw: loaded_extent(g.wo, tw, 1) for tw in {c[1] for c in cands}}
    ns = {tn: Counter(b - a for a, b in _blocks(g.n_g, tn)) for tn in {c[2] for c in cands}}
    compute: dict[tuple[int, int], int] = {}

    def tile_compute(pixels: int, tn_i: int) -> int:
        if (pixels, tn_i) not in compute:
            compute[pixels, tn_i] = _tile_compute(cfg, g, pixels, tn_i, passes)
        return compute[pixels, tn_i]

    for th, tw, tn in cands:
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
            tiles = n_sp * n_nb * g.groups
            cands_key = (max(est, dram / bw), est, dram, tiles, order, th, tw, tn)
            if best is None:
                best = []
            best.append(cands_key)
    min_est = min(c[1] for c in best)
    pool = [c for c in best if c[1] <= 1.02 * min_est]
    _, _, _, _, order, th, tw, tn = min(pool, key=lambda c: (c[2], c[3], c[0]))
    return ConvTiling(g, th, tw, tn, order)


def _conv_tile(cfg: HwConfig, g: ConvGeometry, passes: int, ry: tuple[int, int], rx: tuple[int, int],
               tn: int, load_in: bool, load_w: bool) -> Tile:
    a = cfg.array
    y0, y1, _, _ = g.in_range(*ry, 0)
    x0, x1, _, _ = g.in_range(*rx, 1)
    pixels = (ry[1] - ry[0]) * (rx[1] - rx[0])
    in_bytes = nbytes((y1 - y0) * (x1 - x0) * g.cin_g, g.a_bits) if load_in else 0
    w_bytes = (nbytes(round(tn * g.k * (1 - g.sparsity)), g.w_bits) + (tn * BIAS_BYTES if g.bias else 0)) \
        if load_w else 0  # sparse weights [assumed]: non-zeros only, index overhead neglected
    out_bytes = nbytes(pixels * tn, g.out_bits)
    macs = pixels * tn * g.k
    compute = _tile_compute(cfg, g, pixels, tn, passes)
    a_stream = nbytes(pixels * g.k, g.a_bits)
    w_stream = nbytes(tn * g.k, g.w_bits)
    acc_extra = 0
    if passes == 0:
        unit, at, tail, ifr, wr = "float", 0, cfg.vector.latency_cycles, a_stream * tn, w_stream * pixels
        rq = 0
    elif a.dataflow == "os":
        unit, tail = "array", cfg.requant_pipeline_cycles
        at = -(-pixels // a.rows) * -(-tn // a.cols)
        ifr = a_stream * -(-tn // a.cols)
        wr = w_stream * -(-pixels // a.rows)
        acc_extra = 2 * 4 * pixels * tn * (len(costs.k_chunks(g.k, a.max_depth)) - 1)
        rq = pixels * tn
    else:
        unit, tail = "array", cfg.requant_pipeline_cycles
        at = -(-g.k // a.rows) * -(-tn // a.cols)
        ifr = a_stream * -(-tn // a.cols)
        wr = w_stream
        acc_extra = 2 * 4 * pixels * tn * (-(-g.k // a.rows) - 1)
        rq = pixels * tn
    vec = 0
    if g.col2im_ops:
        vec = pixels * tn
        compute += costs.vector_cycles(vec, cfg.vector.lanes)
    return Tile(unit, pixels, tn, g.k, at, macs, in_bytes, w_bytes, out_bytes, compute, tail,
                ifr, wr, out_bytes + acc_extra // 2, out_bytes + acc_extra // 2, rq, vec)


def conv_tree(cfg: HwConfig, t: ConvTiling) -> Loop:
    """The loop tree of tiling ``t`` (same order as :meth:`ConvTiling.coords`)."""
    g = t.geom
    passes, _ = _array_params(cfg, g)
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


# -- vector-unit and data-movement layers --------------------------------------------------

@dataclass(frozen=True)
class VectorTiling:
    """Row tiling of a non-MAC layer: ``th`` output rows per tile."""

    th: int
    unit: str
    wsplit: int = 1

    def to_dict(self) -> dict:
        return {"tile_out_rows": self.th, "row_pieces": self.wsplit, "unit": self.unit}


def _vector_layer_costs(layer: Layer, rows: int, in_rows_fn) -> tuple[int, int, int]:
    """(input bytes, output bytes, element ops) of ``rows`` output rows."""
    (_, wo, c), op, bits = layer.out_shape, layer.op, layer.a_bits
    out_el = rows * wo * c
    if op in (Op.ADD, Op.MUL):
        in_el = sum((rows * s[1] * s[2]) if s[:2] != (1, 1) else s[2] for s in layer.in_shapes)
        return nbytes(in_el, bits), nbytes(out_el, bits), out_el * (len(layer.in_shapes) - 1)
    if op in (Op.MAXPOOL, Op.AVGPOOL):
        hin, win, _ = layer.in_shapes[0]
        return (nbytes(in_rows_fn(rows) * win * c, bits), nbytes(out_el, bits),
                out_el * layer.kernel[0] * layer.kernel[1])
    if op is Op.GLOBAL_AVGPOOL:
        el = math.prod(layer.in_shapes[0])
        return nbytes(el, bits), nbytes(c, bits), el
    if op is Op.ACTIVATION:
        return nbytes(out_el, bits), nbytes(out_el, bits), out_el
    if op is Op.UPSAMPLE:
        f = layer.stride[0]
        return nbytes(-(-rows // f) * layer.in_shapes[0][1] * c, bits), nbytes(out_el, bits), 0
    if op is Op.CONCAT:
        return nbytes(out_el, bits), nbytes(out_el, bits), 0
    if op is Op.PAD:
        inner = min(rows, layer.in_shapes[0][0])
        return nbytes(inner * layer.in_shapes[0][1] * c, bits), nbytes(out_el, bits), 0
    if op is Op.DEPTH_TO_SPACE:  # data movement: each output row block reads rows / b input rows
        return nbytes(out_el, bits), nbytes(out_el, bits), 0
    if op is Op.PRELU:  # compare + multiply per element; the C slopes are read once per tile
        return nbytes(out_el, bits) + c, nbytes(out_el, bits), out_el
    if op is Op.RESIZE_BILINEAR:  # 4 weighted taps per output from the source rows the block spans
        hin, win, _ = layer.in_shapes[0]
        src_rows = min(hin, -(-rows * hin // layer.out_shape[0]) + 1)
        return nbytes(src_rows * win * c, bits), nbytes(out_el, bits), 4 * out_el
    if op is Op.ROI_ALIGN:  # per RoI; 4 bilinear taps per output
        el = rows * wo * c
        return nbytes(4 * el, bits), nbytes(el, bits), 4 * el
    if op is Op.PROPOSALS:
        el = sum(math.prod(s) for s in layer.in_shapes)
        return nbytes(el, bits), nbytes(math.prod(layer.out_shape), bits), 8 * el
    raise ValueError(f"layer '{layer.name}': op {op.value} has no vector mapping")


DMA_OPS = frozenset({Op.UPSAMPLE, Op.CONCAT, Op.PAD, Op.DEPTH_TO_SPACE})


def vector_tree(layer: Layer, cfg: HwConfig) -> tuple[VectorTiling, Loop]:
    """Row tiling and loop tree of a non-MAC layer (vector unit, or DMA for data movement).

    ``upsample``, ``concat`` and ``pad`` are data movement: the DMA reads the inputs and
    writes the output (replicating / placing rows by address), no compute.
    """
    if layer.is_float and layer.op not in DMA_OPS:
        bits_note = "float"
    else:
        bits_note = "int"
    ho = layer.out_shape[0] if layer.op not in (Op.GLOBAL_AVGPOOL, Op.PROPOSALS) else 1
    hin = layer.in_shapes[0][0]

    def in_rows(rows):
        if layer.op in (Op.MAXPOOL, Op.AVGPOOL):
            return min(hin, (rows - 1) * layer.stride[0] + layer.kernel[0])
        return rows

    unit = "dma" if layer.op in DMA_OPS else "vector"
    half_in, half_out = cfg.memory.ifmap_sram_bytes // 2, cfg.memory.ofmap_sram_bytes // 2
    th = ho
    while th > 1:
        i, o, _ = _vector_layer_costs(layer, th, in_rows)
        if i <= half_in and o <= half_out:
            break
        th = -(-th // 2) if th > 2 else 1
    i, o, _ = _vector_layer_costs(layer, th, in_rows)
    # one output row too large: split it into column pieces (window halo columns neglected)
    wsplit = max(1, -(-i // half_in), -(-o // half_out))
    if wsplit > layer.out_shape[1] and layer.op is not Op.GLOBAL_AVGPOOL:  # a global pool streams its input
        raise ValueError(f"layer '{layer.name}': the smallest legal tile (1 output pixel) needs "
                         f"{-(-i // layer.out_shape[1])} bytes of input and {-(-o // layer.out_shape[1])} bytes "
                         f"of output SRAM per buffer, but config '{cfg.name}' has {half_in} and {half_out}")
    lanes = cfg.vector.lanes
    # float element ops run at a quarter of the int lanes [assumed]
    rate = lanes if bits_note == "int" else max(1, lanes // 4)
    items = []
    cache: dict = {}
    for lo, hi in _blocks(ho, th):
        rows = hi - lo
        node = cache.get(rows)
        if node is None:
            i, o, ops = _vector_layer_costs(layer, rows, in_rows)
            i, o, ops = -(-i // wsplit), -(-o // wsplit), -(-ops // wsplit)
            comp = costs.vector_cycles(ops, rate) if unit == "vector" else 0
            tail = cfg.vector.latency_cycles if unit == "vector" else 0
            if unit == "dma":
                # data movement streams through the ofmap buffer: read i, write o
                node = Tile("dma", rows * layer.out_shape[1], layer.out_shape[2], 0, 0, 0, i, 0, o, 0, 0,
                            0, 0, o, o, 0, 0)
            else:
                node = Tile("vector", rows * layer.out_shape[1], layer.out_shape[2], 0, 0, 0, i, 0, o, comp, tail,
                            i, 0, o, o, 0, ops)
            if wsplit > 1:
                node = Loop((node,), wsplit)
            cache[rows] = node
        items.append(node)
    body = compress(items)
    return VectorTiling(th, unit, wsplit), Loop(body, 1)
