"""A fully connected layer through the RTL accelerator top (Verilator) next to the simulator.

Run: ``python benchmarks/bench_top_fc.py [--config C] [--bits B] [--cin N] [--cout N] [--seed S]``.
The real detectors have no FC layer, so this one has seeded random codes and requantization
parameters; the golden output comes from :func:`sw.golden.fully_connected.fully_connected`. Prints
bit-exactness, RTL cycles, the simulator's event-mode and fast-path cycles for the compiler's
schedule of the same layer on the same configuration, whether the DMA moved the same bus words as the
simulator charges, and the RTL cycle split. The Verilator
build is cached like ``hwsim cosim layer``'s.
"""

from __future__ import annotations

import argparse

import numpy as np

from hwsim.app.commands.cosim import verilator_cache
from hwsim.app.cosim_layer import VERILATOR_CFLAGS
from hwsim.app.rtltop import top_arch
from hwsim.compiler import compile_layer, tree_totals
from hwsim.configfile import load_config
from hwsim.simulate import layer_cycles
from rtl.top.cosim import bench_words, run_layer
from rtl.top.dram import TopBench
from rtl.top.layer import fc_operands
from rtl.top.program import layer_program
from rtl.top.verilator import TopVerilatorModel
from sw.golden.requant import OutputStage
from sw.graph.ir import Layer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="edge16_int4")
    parser.add_argument("--bits", type=int, default=8)
    parser.add_argument("--cin", type=int, default=256)
    parser.add_argument("--cout", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    cfg = load_config(args.config)
    top = top_arch(cfg)
    bits, cin, cout = args.bits, args.cin, args.cout
    layer = Layer(name="fc", op="fc", inputs=("x",), in_shapes=((1, 1, cin),), out_shape=(1, 1, cout), bias=True,
                  w_bits=bits, a_bits=bits)
    sched = compile_layer(layer, cfg)
    rng = np.random.default_rng(args.seed)
    lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    stage = OutputStage(rng.integers(1 << 30, (1 << 31) - 1, cout), rng.integers(-9, -4, cout), 0, lo, hi)
    ops = fc_operands("fc", rng.integers(lo, hi + 1, cin), rng.integers(lo + 1, hi + 1, (cout, cin)),
                      rng.integers(-500, 500, cout), stage, x_zp=0, w_bits=bits, a_bits=bits)
    t = sched.tiling
    program = layer_program(top, ops.layer, t["tile_out_pixels"], t["tile_out_channels"], t["loop_order"],
                            t["tile_in_channels"])
    latency = cfg.memory.dram_latency_cycles
    bench = TopBench(top, bench_words(top, program, 1 << 16), latency)
    key = f"TopBench({top!r}, dram_words={bench.dram_words}, latency={latency})"
    sim = TopVerilatorModel(bench, verilator_cache(), cflags=VERILATOR_CFLAGS, key=key)
    run = run_layer(sim, top, program, ops, latency)
    event, fast = layer_cycles(sched, cfg, "event"), layer_cycles(sched, cfg, "fast")  # program cycles included
    tot = tree_totals(sched.root)
    dma = (run.reads * top.bus_bytes == tot["load_ifmap_bytes"] + tot["load_weight_bytes"]
           and run.writes * top.bus_bytes == tot["store_bytes"])
    print(f"{cfg.name} fc {cin} -> {cout} int{bits}: bit-exact {run.mismatches == 0}, rtl {run.cycles}, "
          f"event {event}, fast path {fast} (rtl - event {100 * (run.cycles / event - 1):+.1f}%), "
          f"{len(program.instructions)} instructions, DMA bus words equal {dma} ({run.reads} read, "
          f"{run.writes} written), split {run.split()}")


if __name__ == "__main__":
    main()
