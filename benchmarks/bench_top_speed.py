"""Real detector layers through the RTL accelerator top in Verilator, next to the simulator: agreement and speed.

Run: ``python benchmarks/bench_top_speed.py [--config C] [--layers MODEL:LAYER:BITS:HxW ...] [--cflags F]``
(default: the 16x16 ``edge16_int4`` top, four short BlazeFace / YOLOX-tiny layers and two long ones:
BlazeFace's first conv at full size, 154 k cycles, and a 48x48 crop of YOLOX-tiny's ``Conv_64``,
~390 k; the Verilator build is cached like ``hwsim cosim layer``'s, the first run of a config
builds it for minutes).

Per layer (``hwsim.app.cosim_layer.cosim_layer``: bit-exact check against the golden model) it prints
the RTL cycles, the simulator's event-mode and fast-path cycles of the same schedule, RTL - event,
whether the DMA moved the same bus words (RTL read / write requests against the simulator's load /
store port cycles at one bus word per cycle), the Verilator times (``rtl.top.verilator``'s closed-loop
run: the whole run with process start and I/O; inside it the word-by-word preload of program and
DRAM image, and the layer's cycles from ``start`` to ``done``), the layer cycles per second (over the
layer's own time, and over the whole run) and the simulator's time for the same layer (schedule
search from cold caches + fast path; event mode) with its speed ratio over the whole Verilator run.
Output: one markdown table row per layer.
"""

from __future__ import annotations

import argparse
import time

from hwsim.app.commands.cosim import verilator_cache
from hwsim.app.cosim_layer import VERILATOR_CFLAGS, cosim_layer, parse_size
from hwsim.app.studies.setups import real_setup
from hwsim.compiler import compile_layer, conv
from hwsim.compiler import search
from hwsim.configfile import load_config
from hwsim.engine import trace_layer
from hwsim.fastpath import simulate_tree
from rtl.top.layer import crop_layer
from sw.graph.bits import BitPolicy

DEFAULT_LAYERS = ("blazeface:conv2d_2:4:8x8", "blazeface:conv2d_2:8:8x8", "yolox_tiny:Conv_56:4:8x8",
                  "blazeface:conv2d:4:16x16", "blazeface:conv2d:8:128x128", "yolox_tiny:Conv_64:8:48x48")


def _simulator_seconds(model: str, name: str, bits: int, size, cfg) -> tuple[float, float]:
    """``(schedule + fast path, event mode)`` seconds of the cropped layer on ``cfg``, caches cleared."""
    net = real_setup(model, n_eval=1).model.with_bits(BitPolicy(default=(bits, bits)))
    layer = crop_layer(net.graph.layer(name), size)
    bw, lat = cfg.memory.dram_bytes_per_cycle, cfg.memory.dram_latency_cycles
    search._choose.cache_clear()
    conv._conv_tree.cache_clear()
    t0 = time.perf_counter()
    sched = compile_layer(layer, cfg)
    simulate_tree(sched.root, bw, lat)
    t1 = time.perf_counter()
    trace_layer(list(sched.tiles()), bw, lat)
    return t1 - t0, time.perf_counter() - t1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="edge16_int4")
    parser.add_argument("--layers", nargs="+", default=DEFAULT_LAYERS, metavar="MODEL:LAYER:BITS:HxW")
    parser.add_argument("--cflags", default=VERILATOR_CFLAGS,
                        help=f"C++ flags of the Verilated model (default {VERILATOR_CFLAGS}, hwsim cosim layer's)")
    args = parser.parse_args()
    cfg = load_config(args.config)
    print("| config | layer | bits | GEMM M x N x K | bit-exact | RTL cycles | event | fast | RTL - event | "
          "instructions | DMA words equal | Verilator s (run / preload / layer) | layer cycles/s (layer / run) | "
          "simulator ms (fast / event) | speed ratio (fast / event) |")
    print("|---|---|---|---|---|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|", flush=True)
    for spec in args.layers:
        model, name, bits, size = spec.split(":")
        bits, size = int(bits), parse_size(size)
        r = cosim_layer(model, name, args.config, bits, size, "verilator", workdir=verilator_cache(),
                        cflags=args.cflags)
        fast_s, event_s = _simulator_seconds(model, name, bits, size, cfg)
        rs, ms = r.rtl_split, r.sim_split
        equal = rs["dram_reads"] == ms["dram_loads"] and rs["dram_writes"] == ms["dram_stores"]
        g = r.gemm
        print(f"| {r.config} | {model} {name} {size[0]}x{size[1]} | int{bits} | {g['m']}x{g['n']}x{g['k']} | "
              f"{'yes' if r.mismatches == 0 else 'NO'} | {r.rtl_cycles:,} | {r.event_cycles:,} | {r.fast_cycles:,} | "
              f"{100 * (r.rtl_cycles / r.event_cycles - 1):+.1f}% | {r.instructions} | "
              f"{'yes' if equal else 'no'} ({rs['dram_reads']}/{ms['dram_loads']} r, "
              f"{rs['dram_writes']}/{ms['dram_stores']} w) | "
              f"{r.run_seconds:.3f} / {r.preload_seconds:.3f} / {r.layer_seconds:.3f} | "
              f"{r.rtl_cycles / r.layer_seconds:,.0f} / {r.rtl_cycles / r.run_seconds:,.0f} | "
              f"{1e3 * fast_s:.2f} / {1e3 * event_s:.2f} | {r.run_seconds / fast_s:,.0f}x / {r.run_seconds / event_s:,.0f}x |",
              flush=True)


if __name__ == "__main__":
    main()
