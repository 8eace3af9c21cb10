"""Tiling of non-MAC layers: row tiles on the vector unit, or DMA-only data movement.

``upsample``, ``concat`` and ``pad`` are data movement: the DMA reads the inputs and
writes the output (replicating / placing rows by address), no compute. Element-wise,
pooling, LUT activations, RoIAlign and proposal layers run on the vector unit at
``vector.lanes`` element operations per cycle (float element operations at a quarter
of that [assumed]).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from hwsim import costs
from hwsim.compiler.geometry import blocks, nbytes
from hwsim.compiler.schedule import Loop, Tile, compress
from hwsim.config import HwConfig
from sw.graph.ir import Layer, Op

__all__ = ["VectorTiling", "vector_tree", "DMA_OPS"]

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
    for lo, hi in blocks(ho, th):
        rows = hi - lo
        node = cache.get(rows)
        if node is None:
            i, o, ops = _vector_layer_costs(layer, rows, in_rows)
            i, o, ops = -(-i // wsplit), -(-o // wsplit), -(-ops // wsplit)
            comp = costs.vector_cycles(ops, rate) if unit == "vector" else 0
            tail = cfg.vector.latency_cycles if unit == "vector" else 0
            if unit == "dma":
                # data movement streams through the ofmap buffer: read i, write o
                node = Tile(unit="dma", pixels=rows * layer.out_shape[1], channels=layer.out_shape[2], k=0,
                            array_tiles=0, macs=0, load_ifmap_bytes=i, load_weight_bytes=0, store_bytes=o,
                            compute_cycles=0, tail_cycles=0, ifmap_read_bytes=0, weight_read_bytes=0,
                            ofmap_read_bytes=o, ofmap_write_bytes=o, requant_ops=0, vector_ops=0)
            else:
                node = Tile(unit="vector", pixels=rows * layer.out_shape[1], channels=layer.out_shape[2], k=0,
                            array_tiles=0, macs=0, load_ifmap_bytes=i, load_weight_bytes=0, store_bytes=o,
                            compute_cycles=comp, tail_cycles=tail, ifmap_read_bytes=i, weight_read_bytes=0,
                            ofmap_read_bytes=o, ofmap_write_bytes=o, requant_ops=0, vector_ops=ops)
            if wsplit > 1:
                node = Loop((node,), wsplit)
            cache[rows] = node
        items.append(node)
    body = compress(items)
    return VectorTiling(th, unit, wsplit), Loop(body, 1)
