"""The simulator charges what the accelerator top moves: a 1x1 conv on the 4x4 top with tiny SRAMs
(``examples/top4_small_sram.toml``) in the Amaranth simulator, against the simulator's own schedule."""

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
from rtl.timing import PROGRAM_CYCLES
from rtl.backends import AmaranthModel
from rtl.top.cosim import bench_words, run_layer
from rtl.top.dram import TopBench
from rtl.top.layer import conv_operands
from rtl.top.program import TopProgram, layer_program
from sw.golden.requant import OutputStage
from sw.graph.ir import Layer, Op

CONFIG = Path(__file__).resolve().parents[2] / "examples" / "top4_small_sram.toml"
def _cdiv(a: int, b: int) -> int:
    return -(-a // b)


def tile_load_words(program: TopProgram) -> list[int]:
    """Bus words each tile loads: the LOADs before each COMPUTE (0 when its operands are resident)."""
    out, words = [], 0
    for instr in program.instructions:
        if instr.op == "LOAD":
            words += instr.get("words")
        elif instr.op == "COMPUTE":
            out.append(words)
            words = 0
    return out


def loads_unsplit(read_runs: tuple[int, ...], tile_words: list[int]) -> bool:
    """True when every write on the DRAM port falls between two tiles' loads (none inside one tile's)."""
    tile_ends = set(np.cumsum(tile_words).tolist())
    return set(np.cumsum(read_runs).tolist()) <= tile_ends


def _random_conv(seed: int, h: int, w: int, cin: int, cout: int, shifts: tuple[int, int], k: int = 1,
                 stride: int = 1):
    """A random int4 ``k x k`` conv (zero padding ``k // 2``): its operands for the top and the IR layer the
    compiler schedules (requantization shifts drawn from ``shifts``)."""
    rng = np.random.default_rng(seed)
    x = rng.integers(-8, 8, (1, h, w, cin))
    weights = rng.integers(-7, 8, (cout, k, k, cin))
    stage = OutputStage(rng.integers(1 << 30, (1 << 31) - 1, cout), rng.integers(*shifts, cout), 1, -8, 7)
    pads = ((k // 2, k // 2),) * 2
    ops = conv_operands("c", x, weights, rng.integers(-100, 100, cout), stage, x_zp=-1, w_bits=4, a_bits=4,
                        stride=(stride, stride), padding=pads)
    ho, wo = (h + 2 * (k // 2) - k) // stride + 1, (w + 2 * (k // 2) - k) // stride + 1
    layer = Layer(name="c", op=Op.CONV, inputs=("x",), in_shapes=((h, w, cin),), out_shape=(ho, wo, cout),
                  kernel=(k, k), stride=(stride, stride), padding=pads, w_bits=4, a_bits=4, bias=True)
    return ops, layer


def test_small_sram_layer_matches_the_simulator():
    cfg = load_config(str(CONFIG))
    top = top_arch(cfg)
    h = w = 7
    cin, cout = 8, 10  # 49 pixels and 10 channels: partial row and column blocks of the 4x4 array
    ops, layer = _random_conv(3, h, w, cin, cout, (-7, -3))
    sched = compile_layer(layer, cfg)
    t = sched.tiling
    program = layer_program(top, ops.layer, t["tile_out_pixels"], t["tile_out_channels"], t["loop_order"])
    lat = cfg.memory.dram_latency_cycles
    run = run_layer(AmaranthModel(TopBench(top, bench_words(top, program), lat)), top, program, ops, lat)
    assert run.first_mismatch() is None

    # many SRAM tiles, so every buffer is refilled
    tm, tn, order = t["tile_out_pixels"], t["tile_out_channels"], t["loop_order"]
    runs, blocks = _cdiv(h * w, tm), _cdiv(cout, tn)
    assert runs >= 3 and blocks >= 2
    # DMA bus words: equal in the RTL and the simulator, and what the rules give by hand. A row block is
    # 4 pixels x K = 8 int4 codes (16 bytes), a column block 4 channels x (8 int4 codes + 9 parameter
    # bytes) = 52 bytes; runs and channel blocks are padded to whole blocks; an operand is reloaded when
    # the previous tile used another one (wo: inputs once per channel block, io: weights once per run).
    row_blocks = sum(_cdiv(min(p + tm, h * w) - p, 4) for p in range(0, h * w, tm))
    col_blocks = sum(_cdiv(min(c + tn, cout) - c, 4) for c in range(0, cout, tn))
    x_times = blocks if order == "wo" and runs > 1 else 1
    w_times = runs if order == "io" and blocks > 1 else 1
    tot = tree_totals(sched.root)
    assert tot["load_ifmap_bytes"] == row_blocks * 16 * x_times
    assert tot["load_weight_bytes"] == col_blocks * (4 * 8 * 4 // 8 + 4 * PARAM_BYTES) * w_times
    assert tot["store_bytes"] == row_blocks * col_blocks * 16 * 4 // 8
    bus = top.bus_bytes
    assert run.reads * bus == tot["load_ifmap_bytes"] + tot["load_weight_bytes"]
    assert run.writes * bus == tot["store_bytes"]
    # a tile's loads are one transfer on the port, as the simulator moves them: no store between them
    assert loads_unsplit(run.read_runs, tile_load_words(program))
    # the event engine and the fast path agree; the RTL takes exactly their cycles plus the controller's program
    # start and end (rtl.timing.PROGRAM_CYCLES, which the simulator charges per layer)
    bw = cfg.memory.dram_bytes_per_cycle
    event, _ = trace_layer(list(sched.tiles()), bw, lat)
    assert simulate_tree(sched.root, bw, lat) == event
    assert run.cycles == event + PROGRAM_CYCLES


@pytest.mark.parametrize("stride", [1, 2], ids=["3x3s1", "3x3s2"])
def test_3x3_layer_moves_its_im2col_and_matches_the_simulator(stride):
    """A 3x3 conv: the top loads every run's host im2col (9 taps x cin codes per pixel, padding pixels and
    taps outside the map included), the simulator charges exactly that, and the cycles agree."""
    cfg = load_config(str(CONFIG))
    top = top_arch(cfg)
    h = w = 5
    cin, cout = 2, 6
    ops, layer = _random_conv(6 + stride, h, w, cin, cout, (-7, -3), k=3, stride=stride)
    sched = compile_layer(layer, cfg)
    t = sched.tiling
    tm, tn, order = t["tile_out_pixels"], t["tile_out_channels"], t["loop_order"]
    assert t["k_chunks"] == 1
    program = layer_program(top, ops.layer, tm, tn, order)
    lat = cfg.memory.dram_latency_cycles
    run = run_layer(AmaranthModel(TopBench(top, bench_words(top, program), lat)), top, program, ops, lat)
    assert run.first_mismatch() is None
    m = ops.golden.shape[0]
    runs, blocks = _cdiv(m, tm), _cdiv(cout, tn)
    row_blocks = sum(_cdiv(min(p + tm, m) - p, 4) for p in range(0, m, tm))
    col_blocks = sum(_cdiv(min(c + tn, cout) - c, 4) for c in range(0, cout, tn))
    x_times = blocks if order == "wo" and runs > 1 else 1
    w_times = runs if order == "io" and blocks > 1 else 1
    tot = tree_totals(sched.root)
    # a row block: 4 pixels x 9 * 2 int4 codes = 36 bytes; a column block: 4 x (18 codes + 9 parameter bytes)
    assert tot["load_ifmap_bytes"] == row_blocks * 36 * x_times
    assert tot["load_weight_bytes"] == col_blocks * 4 * (18 // 2 + PARAM_BYTES) * w_times
    assert run.reads * top.bus_bytes == tot["load_ifmap_bytes"] + tot["load_weight_bytes"]
    assert run.writes * top.bus_bytes == tot["store_bytes"]
    bw = cfg.memory.dram_bytes_per_cycle
    event, _ = trace_layer(list(sched.tiles()), bw, lat)
    assert simulate_tree(sched.root, bw, lat) == event
    assert run.cycles == event + PROGRAM_CYCLES


@pytest.mark.parametrize("ofmap_bytes, h, w, cin, cout, spill", [
    # a 64-byte output SRAM leaves no room for int32 partial sums (a 4x4 tile's are 64 bytes, a half 32), so
    # the compiler splits K only over tiles of one array tile: the sums stay in the PE accumulators
    (64, 3, 3, 80, 6, False),
    # the example's 256-byte output SRAM: K chunks (six) over tiles of two row blocks spill int32 partial sums
    (256, 4, 4, 96, 6, True),
], ids=["accumulate", "spill"])
def test_k_split_matches_the_simulator(ofmap_bytes, h, w, cin, cout, spill):
    """A reduction split over SRAM refills (the compiler's K chunks, every chunk reloading its input and
    weights): bit-exact, the simulator's DMA words, every element's beat once, cycles within the bound."""
    base = load_config(str(CONFIG))
    cfg = replace(base, memory=replace(base.memory, ofmap_sram_bytes=ofmap_bytes))
    top = top_arch(cfg)
    ops, layer = _random_conv(4, h, w, cin, cout, (-9, -5))
    sched = compile_layer(layer, cfg)
    t = sched.tiling
    tm, tn, tc, order = t["tile_out_pixels"], t["tile_out_channels"], t["tile_in_channels"], t["loop_order"]
    assert t["k_chunks"] >= 2 and (tm > 4 or tn > 4) == spill
    program = layer_program(top, ops.layer, tm, tn, order, tc)
    assert any(i.get("psum_raw") for i in program.instructions) == spill
    lat = cfg.memory.dram_latency_cycles
    run = run_layer(AmaranthModel(TopBench(top, bench_words(top, program), lat)), top, program, ops, lat)
    assert run.first_mismatch() is None
    assert loads_unsplit(run.read_runs, tile_load_words(program))
    # every chunk reloads its operands, so each tile loads its run's whole input (whole row blocks of 4 pixels
    # x cin int4 codes) and its block's whole weights (whole column blocks of 4 channels x cin codes) plus,
    # with the first chunk, 9 parameter bytes per column; each tile stores its whole array tiles of codes
    runs = [_cdiv(min(p + tm, h * w) - p, 4) for p in range(0, h * w, tm)]  # row blocks per run
    blocks = [_cdiv(min(c + tn, cout) - c, 4) for c in range(0, cout, tn)]  # column blocks per block
    tot = tree_totals(sched.root)
    assert tot["load_ifmap_bytes"] == sum(runs) * len(blocks) * 4 * cin // 2
    assert tot["load_weight_bytes"] == sum(blocks) * len(runs) * 4 * (cin // 2 + PARAM_BYTES)
    assert tot["store_bytes"] == sum(runs) * sum(blocks) * 4 * 4 // 2
    assert run.reads * top.bus_bytes == tot["load_ifmap_bytes"] + tot["load_weight_bytes"]
    assert run.writes * top.bus_bytes == tot["store_bytes"]
    assert run.beats == sum(runs) * sum(blocks) * cin  # one beat per element and array tile, chunks included
    bw = cfg.memory.dram_bytes_per_cycle
    event, _ = trace_layer(list(sched.tiles()), bw, lat)
    assert simulate_tree(sched.root, bw, lat) == event
    assert run.cycles == event + PROGRAM_CYCLES
