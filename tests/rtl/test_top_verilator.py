"""The closed-loop Verilator harness of the accelerator top (``rtl.top.verilator``) against the
Amaranth simulator's per-cycle run of the same program: every number ``run_layer`` reports is equal."""

from __future__ import annotations

from pathlib import Path

import pytest

from hwsim.app.rtltop import top_arch
from hwsim.compiler import compile_layer
from hwsim.configfile import load_config
from rtl.backends import AmaranthModel
from rtl.top.cosim import bench_words, cycle_budget, program_words, run_layer
from rtl.top.dram import TopBench
from rtl.top.layer import dram_image
from rtl.top.program import layer_program
from tests.rtl.test_top_small_sram import _random_conv

CONFIG = Path(__file__).resolve().parents[2] / "examples" / "top4_small_sram.toml"


@pytest.mark.slow
def test_closed_loop_equals_the_per_cycle_run(tmp_path):
    """A random 1x1 int4 conv (7x7x8 -> 10, 49 instructions) on the small 4x4 top: the C++ closed loop
    (Verilator, stops at ``done``) gives the per-cycle Amaranth run's outputs, cycles, beats, DRAM
    reads / writes, read runs; it simulates the preload, ``start`` and the layer's cycles, no budget."""
    from rtl.backends import find_verilator
    from rtl.top.verilator import TopVerilatorModel
    from sw.extras import MissingExtra

    try:
        find_verilator()
    except MissingExtra as exc:
        pytest.skip(str(exc))
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
