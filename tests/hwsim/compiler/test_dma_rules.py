"""The DMA byte rules of SRAM tiles (hwsim.compiler.dma), derived by hand from the RTL top's rules."""

from __future__ import annotations

from dataclasses import replace

from hwsim.compiler.conv import conv_tile
from hwsim.compiler.dma import dma_rules
from hwsim.compiler.geometry import conv_geometry
from hwsim.configfile import load_preset
from sw.graph.ir import Layer, Op


def _layer(bits: int, kernel: int = 3, bias: bool = True) -> Layer:
    return Layer(name="c", op=Op.CONV, inputs=("x",), in_shapes=((10, 10, 6),), out_shape=(10, 10, 20),
                 kernel=(kernel, kernel), padding=((kernel // 2,) * 2,) * 2, w_bits=bits, a_bits=bits, bias=bias)


def test_integer_tile_moves_whole_array_tiles():
    cfg = load_preset("edge16_int4")  # 16x16 int4 PEs
    g = conv_geometry(_layer(4))
    t = conv_tile(cfg, g, 1, 20, 20, 30, 6, load_in=True, load_w=True, first=True, last=True, nchunks=1)
    # input: host im2col, 20 pixels padded to 32, each one row of 3*3*6 elements, 4 bits
    assert t.load_ifmap_bytes == 32 * 54 * 4 // 8
    # weights: 20 channels padded to 32 x 54 elements x 4 bits, plus 9 parameter bytes per padded column
    assert t.load_weight_bytes == 32 * 54 * 4 // 8 + 32 * 9
    # outputs: 32 x 32 codes of 4 bits
    assert t.store_bytes == 32 * 32 * 4 // 8


def test_codes_occupy_whole_pe_digits():
    cfg = load_preset("int8_32x32")  # int8 PEs: an int4 code takes an 8-bit word lane
    rules = dma_rules(cfg, conv_geometry(_layer(4, kernel=1)), 1)
    assert (rules.a_bits, rules.w_bits, rules.row_block, rules.col_block) == (8, 8, 32, 32)


def test_elsewhere_the_tile_moves_its_elements_and_a_bias():
    cfg = load_preset("edge16_int4")
    g = conv_geometry(_layer(4))
    ws = cfg.with_dataflow("ws")
    t = conv_tile(ws, g, 1, 20, 20, 30, 6, load_in=True, load_w=True, first=True, last=True, nchunks=1)
    assert (t.load_ifmap_bytes, t.load_weight_bytes, t.store_bytes) == (
        30 * 6 * 4 // 8, 20 * 54 * 4 // 8 + 20 * 4, 20 * 20 * 4 // 8)
    scalesim = replace(cfg, array=replace(cfg.array, timing="scalesim"))
    assert dma_rules(scalesim, g, 1).row_block == 1
    floats = conv_geometry(_layer(32, bias=False))
    assert dma_rules(cfg, floats, 0).column_bytes == 0


def test_depthwise_tiles_move_whole_array_tiles():
    """The RTL top runs each group as its own GEMM: a depthwise group's one channel fills a column block."""
    cfg = load_preset("edge16_int4")  # 16x16 int4 PEs
    dw = Layer(name="d", op=Op.DEPTHWISE, inputs=("x",), in_shapes=((10, 10, 6),), out_shape=(10, 10, 6),
               kernel=(3, 3), padding=((1, 1), (1, 1)), groups=6, w_bits=4, a_bits=4, bias=True)
    g = conv_geometry(dw)
    rules = dma_rules(cfg, g, 1)
    assert (rules.row_block, rules.col_block, rules.column_bytes) == (16, 16, 9)
    t = conv_tile(cfg, g, 1, 20, 1, 30, 1, load_in=True, load_w=True, first=True, last=True, nchunks=1)
    # one group: host im2col, 20 pixels padded to 32, each 3*3 elements, 4 bits
    assert t.load_ifmap_bytes == 32 * 9 * 4 // 8
    # 1 channel padded to 16 x 9 weights x 4 bits, plus 9 parameter bytes per padded column
    assert t.load_weight_bytes == 16 * 9 * 4 // 8 + 16 * 9
    # outputs: 32 x 16 codes of 4 bits
    assert t.store_bytes == 32 * 16 * 4 // 8
