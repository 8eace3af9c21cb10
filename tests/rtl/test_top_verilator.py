"""The closed-loop Verilator harness of the accelerator top (``rtl.top.verilator``) against the
Amaranth simulator's per-cycle run of the same program (every number ``run_layer`` reports is equal), and
every layer kind the top runs, on Verilator, against the golden model and the simulator."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hwsim.app.rtltop import top_arch
from hwsim.compiler import compile_layer, tree_totals
from hwsim.configfile import load_config
from hwsim.simulate import layer_cycles
from rtl.backends import AmaranthModel
from rtl.top.cosim import bench_words, cycle_budget, program_words, run_layer
from rtl.top.dram import TopBench
from rtl.top.grouped import grouped_program
from rtl.top.layer import conv_operands, dram_image, fc_operands
from rtl.top.program import layer_program
from sw.golden.requant import OutputStage
from sw.graph.ir import Layer, Op
from tests.rtl.test_top_small_sram import _random_conv

CONFIG = Path(__file__).resolve().parents[2] / "examples" / "top4_small_sram.toml"


def _require_verilator() -> None:
    """Skip the calling test when the Verilator extra is not installed."""
    from rtl.backends import find_verilator
    from sw.extras import MissingExtra

    try:
        find_verilator()
    except MissingExtra as exc:
        pytest.skip(str(exc))


@pytest.mark.slow
def test_closed_loop_equals_the_per_cycle_run(tmp_path):
    """A random 1x1 int4 conv (7x7x8 -> 10, 49 instructions) on the small 4x4 top: the C++ closed loop
    (Verilator, stops at ``done``) gives the per-cycle Amaranth run's outputs, cycles, beats, DRAM
    reads / writes, read runs; it simulates the preload, ``start`` and the layer's cycles, no budget."""
    from rtl.top.verilator import TopVerilatorModel

    _require_verilator()
    cfg = load_config(str(CONFIG))
    top = top_arch(cfg)
    ops, layer = _random_conv(3, 7, 7, 8, 10, (-7, -3))
    t = compile_layer(layer, cfg).tiling
    program = layer_program(top, ops.layer, t["tile_out_pixels"], t["tile_out_channels"], t["loop_order"])
    lat = cfg.memory.dram_latency_cycles
    words = bench_words(top, program)
    reference = run_layer(AmaranthModel(TopBench(top, words, lat)), top, program, ops, lat)
    model = TopVerilatorModel(TopBench(top, words, lat), tmp_path, cflags="-O0")
    run = run_layer(model, top, program, ops, lat)

    assert run.first_mismatch() is None and reference.first_mismatch() is None
    assert (run.outputs == reference.outputs).all()
    assert run.split() == reference.split()
    assert run.read_runs == reference.read_runs
    image = dram_image(top, program, ops)
    preload = max(len(program.instructions), len(image))
    assert reference.stimulus_cycles == preload + 1 + cycle_budget(top, program, lat)
    assert run.stimulus_cycles == preload + 1 + reference.cycles
    assert run.layer_seconds > 0 and run.preload_seconds > 0

    # the harness stops in the cycle that samples done; one cycle less of budget: no done
    prog = program_words(program)
    assert model.run_program(prog, image, reference.cycles).done == reference.cycles
    assert model.run_program(prog, image, reference.cycles - 1).done is None


def _layer_kinds():
    """``(name, operands, IR layer)`` of every layer kind the top runs, random int4 codes, sized for the small
    top's SRAMs (its 128-byte input SRAM holds a few pixels' im2col)."""
    rng = np.random.default_rng(11)
    stage = OutputStage(rng.integers(1 << 30, (1 << 31) - 1, 6), rng.integers(-9, -5, 6), 1, -8, 7)
    fc = Layer(name="fc", op=Op.FC, inputs=("x",), in_shapes=((1, 1, 64),), out_shape=(1, 1, 6), w_bits=4, a_bits=4,
               bias=True)
    fc_ops = fc_operands("fc", rng.integers(-8, 8, 64), rng.integers(-7, 8, (6, 64)), rng.integers(-100, 100, 6),
                         stage, x_zp=-1, w_bits=4, a_bits=4)
    dw_stage = OutputStage(rng.integers(1 << 30, (1 << 31) - 1, 4), rng.integers(-7, -3, 4), 1, -8, 7)
    dw_x = rng.integers(-8, 8, (1, 6, 6, 4))
    dw_ops = conv_operands("dw", dw_x, rng.integers(-7, 8, (4, 3, 3, 1)), rng.integers(-100, 100, 4), dw_stage,
                           x_zp=-1, w_bits=4, a_bits=4, padding=((1, 1), (1, 1)), groups=4)
    dw = Layer(name="dw", op=Op.DEPTHWISE, inputs=("x",), in_shapes=((6, 6, 4),), out_shape=(6, 6, 4),
               kernel=(3, 3), padding=((1, 1), (1, 1)), groups=4, w_bits=4, a_bits=4, bias=True)
    return [("3x3 s1", *_random_conv(21, 5, 5, 2, 6, (-7, -3), k=3, stride=1)),
            ("3x3 s2", *_random_conv(22, 5, 5, 2, 6, (-7, -3), k=3, stride=2)),
            ("1x1", *_random_conv(23, 7, 7, 8, 10, (-7, -3))),
            ("K split, partial sums spilled", *_random_conv(24, 4, 4, 96, 6, (-9, -5))),
            ("depthwise 3x3", dw_ops, dw),
            ("fc", fc_ops, fc)]


@pytest.mark.slow
def test_every_layer_kind_on_verilator_matches_golden_and_simulator(tmp_path):
    """One Verilated small top (4x4 int4, 128 / 256 / 256-byte SRAMs) runs a 3x3 conv at stride 1 and 2 with
    padding, a 1x1 conv, a reduction split over SRAM refills with spilled partial sums, a depthwise conv and an
    FC layer on the compiler's schedules: every output bit-exact with the golden model, the DMA words those
    the simulator charges, and the RTL cycles the simulator's event mode and fast path exactly."""
    from rtl.top.verilator import TopVerilatorModel

    _require_verilator()
    cfg = load_config(str(CONFIG))
    top = top_arch(cfg)
    lat = cfg.memory.dram_latency_cycles
    model = TopVerilatorModel(TopBench(top, 1 << 12, lat), tmp_path, cflags="-O0")  # one build for every layer
    kinds = check_layer_kinds(model, cfg, _layer_kinds(), 1 << 12)
    assert {(True, True, False), (False, False, True)} <= kinds  # the split with spills, the grouped layer


def check_layer_kinds(model, cfg, layers, dram_words: int) -> set[tuple[bool, bool, bool]]:
    """Run ``(name, operands, IR layer)`` ``layers`` on ``model`` (a Verilated top of ``cfg`` with a DRAM of
    ``dram_words`` bus words) on the compiler's
    schedules; assert each bit-exact with the golden model, its DMA words the simulator's load / store bytes, its
    RTL cycles the event mode's and the fast path's. Returns the ``(K split, partial sums spilled, grouped)``
    kinds that ran."""
    top = top_arch(cfg)
    lat = cfg.memory.dram_latency_cycles
    kinds = set()
    for name, ops, layer in layers:
        sched = compile_layer(layer, cfg)
        t = sched.tiling
        program = grouped_program(top, ops.layer, ops.groups, t["tile_out_pixels"], t["tile_out_channels"],
                                  t["loop_order"], t["tile_in_channels"])
        assert bench_words(top, program) <= dram_words, name
        run = run_layer(model, top, program, ops, lat)
        assert run.first_mismatch() is None, name
        tot = tree_totals(sched.root)
        assert run.reads * top.bus_bytes == tot["load_ifmap_bytes"] + tot["load_weight_bytes"], name
        assert run.writes * top.bus_bytes == tot["store_bytes"], name
        assert run.cycles == layer_cycles(sched, cfg, "event") == layer_cycles(sched, cfg, "fast"), name
        kinds.add((t["k_chunks"] > 1, any(i.get("psum_raw") for i in program.instructions), ops.groups > 1))
    return kinds
