"""Grouped and depthwise convolutions on the accelerator top: one GEMM per group (rtl.top.grouped), on the
4x4 top with tiny SRAMs (``examples/top4_small_sram.toml``) in the Amaranth simulator, on the compiler's
schedule; bit-exact with ``sw.golden.conv2d`` (groups), DMA bytes derived by hand and equal to the
simulator's where both load the same data."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from hwsim.app.rtltop import top_arch
from hwsim.compiler import compile_layer, tree_totals
from hwsim.configfile import load_config
from hwsim.engine import trace_layer
from hwsim.fastpath import simulate_tree
from rtl.arch import PARAM_BYTES
from rtl.backends import AmaranthModel
from rtl.timing import PROGRAM_CYCLES
from rtl.top.cosim import bench_words, run_layer
from rtl.top.dram import TopBench
from rtl.top.grouped import grouped_program
from rtl.top.layer import conv_operands, fc_operands, layer_gemm
from rtl.top.program import GemmLayer, layer_program
from sw.golden.requant import OutputStage
from sw.graph.ir import Layer, Op
from tests.rtl.test_top import DIGITS
from tests.rtl.test_top_small_sram import loads_unsplit, tile_load_words

CONFIG = Path(__file__).resolve().parents[2] / "examples" / "top4_small_sram.toml"
ROWS = COLS = 4  # the 4x4 array of top4_small_sram


def _cdiv(a: int, b: int) -> int:
    return -(-a // b)


def _run(seed: int, hw: int, cin: int, cout: int, groups: int, k: int, stride: int, chunks: int = 1, **memory: int):
    """A random int4 layer of ``groups`` groups through the compiler's schedule (``chunks`` K chunks per
    group) and the top (``memory``: SRAM capacities replacing the config's)."""
    cfg = load_config(str(CONFIG))
    cfg = replace(cfg, memory=replace(cfg.memory, **memory))
    top = top_arch(cfg)
    rng = np.random.default_rng(seed)
    pad = k // 2
    ho = (hw + 2 * pad - k) // stride + 1
    x = rng.integers(-8, 8, (1, hw, hw, cin))
    weights = rng.integers(-7, 8, (cout, k, k, cin // groups))
    stage = OutputStage(rng.integers(1 << 30, (1 << 31) - 1, cout), rng.integers(-7, -3, cout), 1, -8, 7)
    ops = conv_operands("g", x, weights, rng.integers(-100, 100, cout), stage, x_zp=-1, w_bits=4, a_bits=4,
                        stride=(stride, stride), padding=((pad, pad), (pad, pad)), groups=groups)
    op = Op.DEPTHWISE if groups == cin == cout else Op.CONV
    layer = Layer(name="g", op=op, inputs=("x",), in_shapes=((hw, hw, cin),), out_shape=(ho, ho, cout),
                  kernel=(k, k), stride=(stride, stride), padding=((pad, pad), (pad, pad)), groups=groups,
                  w_bits=4, a_bits=4, bias=True)
    sched = compile_layer(layer, cfg)
    t = sched.tiling
    assert t["groups"] == groups and t["k_chunks"] == chunks
    program = grouped_program(top, ops.layer, groups, t["tile_out_pixels"], t["tile_out_channels"], t["loop_order"],
                              t["tile_in_channels"])
    lat = cfg.memory.dram_latency_cycles
    run = run_layer(AmaranthModel(TopBench(top, bench_words(top, program), lat)), top, program, ops, lat)
    bw = cfg.memory.dram_bytes_per_cycle
    event, _ = trace_layer(list(sched.tiles()), bw, lat)
    assert simulate_tree(sched.root, bw, lat) == event
    return top, ops, sched, program, run, event, ho


@pytest.mark.parametrize("stride", [1, 2], ids=["3x3s1", "3x3s2"])
def test_depthwise_layer_matches_golden_and_simulator(stride):
    hw, c = 6, 4
    # A 512-byte input SRAM holds a run's host im2col (9 codes per pixel); a 128-byte output SRAM (32 words
    # per half) splits the 36 pixels of stride 1 into several runs.
    top, ops, sched, program, run, event, ho = _run(seed=stride, hw=hw, cin=c, cout=c, groups=c, k=3, stride=stride,
                                                    ifmap_sram_bytes=512, ofmap_sram_bytes=128)
    assert run.outputs.shape == ops.golden.shape == (ho * ho, c)
    assert run.first_mismatch() is None
    t = sched.tiling
    tm, tn = t["tile_out_pixels"], t["tile_out_channels"]
    assert tn == 1
    m = ho * ho
    runs = [(p, min(p + tm, m)) for p in range(0, m, tm)]
    assert len(runs) > 1 or stride == 2
    row_blocks = sum(_cdiv(p1 - p0, ROWS) for p0, p1 in runs)
    # Per group (one channel, one column block, so every run's input and the block's weights load once):
    # the input is host im2col, row blocks x 4 pixels x K = 9 int4 codes (18 bytes); the weights a column
    # block of 4 x 9 int4 codes (18 bytes) + 4 x 9 parameter bytes; outputs 4 x 4 int4 codes per row block.
    rtl_input = c * row_blocks * ROWS * 9 * 4 // 8
    weights = c * (COLS * 9 * 4 // 8 + COLS * PARAM_BYTES)
    outputs = c * row_blocks * ROWS * COLS * 4 // 8
    tot = tree_totals(sched.root)
    assert (tot["load_ifmap_bytes"], tot["load_weight_bytes"], tot["store_bytes"]) == (rtl_input, weights, outputs)
    bus = top.bus_bytes
    assert run.reads * bus == rtl_input + weights
    assert run.writes * bus == outputs
    # a tile's loads (input, weights, parameters) are one transfer on the port: no store between them
    words = tile_load_words(program)
    assert sum(words) == run.reads and loads_unsplit(run.read_runs, words)
    assert run.cycles == event + PROGRAM_CYCLES


def test_grouped_1x1_layer_moves_what_the_simulator_charges():
    """Two groups of 3 -> 3 channels (1x1: the im2col is the window, so every DMA word agrees)."""
    hw, groups, cg = 5, 2, 3
    top, ops, sched, program, run, event, ho = _run(seed=5, hw=hw, cin=groups * cg, cout=groups * cg, groups=groups,
                                                    k=1, stride=1)
    assert run.first_mismatch() is None
    t = sched.tiling
    tm = t["tile_out_pixels"]
    assert t["tile_out_channels"] == cg  # one channel block per group
    m = ho * ho
    runs = [(p, min(p + tm, m)) for p in range(0, m, tm)]
    row_blocks = sum(_cdiv(p1 - p0, ROWS) for p0, p1 in runs)
    # per group: row blocks x 4 pixels x 3 int4 codes; one column block of 4 x 3 codes + 36 parameter bytes,
    # loaded once per group (one block); outputs 4 x 4 codes per row block
    x_bytes = groups * row_blocks * ROWS * cg * 4 // 8
    w_bytes = groups * (COLS * cg * 4 // 8 + COLS * PARAM_BYTES)
    out_bytes = groups * row_blocks * ROWS * COLS * 4 // 8
    tot = tree_totals(sched.root)
    assert (tot["load_ifmap_bytes"], tot["load_weight_bytes"], tot["store_bytes"]) == (x_bytes, w_bytes, out_bytes)
    bus = top.bus_bytes
    assert run.reads * bus == x_bytes + w_bytes
    assert run.writes * bus == out_bytes
    assert run.cycles == event + PROGRAM_CYCLES


def test_grouped_3x3_halves_alternate_across_groups():
    """Two groups of 2 -> 3 channels, 3x3, on DIGITS with odd loads per group (three runs, ``wo``): the second
    group's loads start in the other SRAM halves; bit-exact with the golden model."""
    rng = np.random.default_rng(9)
    x = rng.integers(-8, 8, (1, 6, 6, 4))
    w = rng.integers(-7, 8, (6, 3, 3, 2))
    stage = OutputStage(rng.integers(1 << 30, (1 << 31) - 1, 6), rng.integers(-7, -3, 6), 1, -8, 7)
    ops = conv_operands("g2", x, w, rng.integers(-100, 100, 6), stage, x_zp=-1, w_bits=4, a_bits=4,
                        padding=((1, 1), (1, 1)), groups=2)
    assert (ops.layer.n, ops.layer.k) == (3, 18)
    program = grouped_program(DIGITS, ops.layer, 2, 12, 3, "wo")
    loads = [i for i in program.instructions if i.op == "LOAD" and i.get("buf") == 0]
    assert len(loads) == 6 and [i.get("sram") for i in loads] == [0, DIGITS.half("x")] * 3
    run = run_layer(AmaranthModel(TopBench(DIGITS, bench_words(DIGITS, program), 5)), DIGITS, program, ops, 5)
    assert run.first_mismatch() is None


def test_grouped_program_is_layer_program_per_group():
    layer = GemmLayer("dw", m=16, n=1, k=9, w_bits=4, a_bits=4, x_zp=0, out_zp=0, act_min=-8, act_max=7)
    one = layer_program(DIGITS, layer, 8, 1, "io")
    assert grouped_program(DIGITS, layer, 1, 8, 1, "io") == one
    three = grouped_program(DIGITS, layer, 3, 8, 1, "io")
    body = len(one.instructions) - 3  # without the two SYNCs and END
    assert len(three.instructions) == 3 + 3 * body
    assert three.layout.words == 3 * one.layout.words and three.layout.group_words == one.layout.words
    stores = [i.get("dram") for i in three.instructions if i.op == "STORE"]
    assert stores == [d + g * one.layout.words for g in range(3) for d in one.layout.o_base]
    # 2 runs of 8 pixels, one channel block, io order: 2 input loads, 1 weight (and parameter) load, 2 tiles
    assert dict(one.half_switches) == {"x": 2, "w": 1, "p": 1, "o": 2}
    assert dict(three.half_switches) == {"x": 6, "w": 3, "p": 3, "o": 6}
    # group 1 starts in the halves group 0 did not end in: its weights (1 switch) flip, its input (2) does not
    w_loads = [i.get("sram") for i in three.instructions if i.op == "LOAD" and i.get("buf") == 1]
    assert w_loads[0] != w_loads[1] and w_loads[0] == w_loads[2]
    with pytest.raises(ValueError, match=r"layer 'dw': the program of 1000 groups has \d+ instructions"):
        grouped_program(DIGITS, layer, 1000, 8, 1, "io")


@pytest.mark.slow
def test_real_depthwise_layer_amaranth():
    """BlazeFace's stride-2 depthwise layer (4x4 crop, int4) through ``hwsim cosim layer`` on the small top:
    bit-exact; one row block and one column block per group, so 28 x 4 x 4 int4 codes are written."""
    from hwsim.app.cosim_layer import cosim_layer
    from sw.data.models import blazeface_path
    from sw.extras import MissingExtra

    try:
        blazeface_path()
    except (MissingExtra, ValueError) as exc:
        pytest.skip(str(exc))
    report = cosim_layer("blazeface", "depthwise_conv2d_2", str(CONFIG), 4, (4, 4), "amaranth")
    assert (report.gemm["groups"], report.gemm["m"], report.gemm["n"], report.gemm["k"]) == (28, 4, 1, 9)
    assert report.first_mismatch is None and report.outputs == 4 * 28
    bus = load_config(str(CONFIG)).memory.dram_bytes_per_cycle
    assert report.rtl_split["dram_writes"] * bus == 28 * ROWS * COLS * 4 // 8 == report.sim_split["dram_stores"] * bus


@pytest.mark.parametrize("hw, cin, chunks, memory, flag", [
    (3, 160, 3, {"ofmap_sram_bytes": 64}, "acc_keep"),  # no room for partial sums: sums stay in the PEs
    (4, 192, 6, {}, "psum_raw"),  # tiles of 2 array tiles: int32 partial sums spill to the output half
])
def test_grouped_layer_with_k_chunks_bit_exact(hw, cin, chunks, memory, flag):
    """2 groups of 1x1 convs whose reductions the compiler splits into K chunks: bit-exact, the halves of
    chunked groups alternate, RTL = event + the controller's program start and end."""
    top, ops, sched, program, run, event, ho = _run(seed=7, hw=hw, cin=cin, cout=12, groups=2, k=1, stride=1,
                                                    chunks=chunks, **memory)
    assert run.mismatches == 0
    assert sum(i.op == "COMPUTE" and i.get(flag) for i in program.instructions) > 0
    assert loads_unsplit(run.read_runs, tile_load_words(program))  # a chunk's loads: one transfer
    assert run.cycles == event + PROGRAM_CYCLES


@pytest.mark.parametrize("k, stride, groups, cin, cout", [(3, 2, 2, 6, 4), (3, 1, 5, 5, 5), (1, 1, 1, 7, 3)])
def test_layer_gemm_is_the_shape_of_the_operands(k, stride, groups, cin, cout):
    """The shapes-only GEMM of an IR layer equals the one conv_operands derives from the arrays."""
    rng = np.random.default_rng(k + stride + groups)
    hw, pad = 7, k // 2
    x = rng.integers(-8, 8, (1, hw, hw, cin))
    weights = rng.integers(-7, 8, (cout, k, k, cin // groups))
    stage = OutputStage(np.full(cout, 1 << 30), np.full(cout, -4), 0, -8, 7)
    ops = conv_operands("c", x, weights, np.zeros(cout, np.int64), stage, x_zp=0, w_bits=4, a_bits=4,
                        stride=(stride, stride), padding=((pad, pad),) * 2, groups=groups)
    ho = (hw + 2 * pad - k) // stride + 1
    layer = Layer(name="c", op=Op.CONV, inputs=("x",), in_shapes=((hw, hw, cin),), out_shape=(ho, ho, cout),
                  kernel=(k, k), stride=(stride, stride), padding=((pad, pad),) * 2, groups=groups, w_bits=4,
                  a_bits=4, bias=True)
    assert layer_gemm(layer) == (ops.layer, groups)
    fc = Layer(name="f", op=Op.FC, inputs=("x",), in_shapes=((1, 1, cin * 3),), out_shape=(1, 1, cout), w_bits=4,
               a_bits=4, bias=True)
    ops_fc = fc_operands("f", rng.integers(-8, 8, cin * 3), rng.integers(-7, 8, (cout, cin * 3)),
                         np.zeros(cout, np.int64), stage, x_zp=0, w_bits=4, a_bits=4)
    assert layer_gemm(fc) == (ops_fc.layer, 1)

