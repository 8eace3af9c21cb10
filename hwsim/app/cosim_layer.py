"""``hwsim cosim layer``: one real model layer through the RTL accelerator top, next to the simulator.

Steps: the configuration's accelerator top (:func:`hwsim.app.rtltop.top_arch`); the layer's operands from
the model's integer golden model (:func:`rtl.top.layer.model_layer`: FQN calibration;
``blazeface`` / ``yolox_tiny`` use the studies' real calibration images and first
held-out input, a model file a seeded random input and its noisy copies); the
compiler's schedule of the (cropped) layer (:func:`hwsim.compiler.compile_layer`), its
program (:func:`rtl.top.grouped.grouped_program`: one :func:`rtl.top.program.layer_program`
per channel group, host im2col, the schedule's K chunks: sums kept in the PE accumulators over
tiles of one array tile, else int32 partial sums spilled); the run on
the Amaranth simulator or Verilator; the outputs compared bit for bit with the golden
model; the RTL cycles beside the simulator's event-mode and fast-path cycles of the
same schedule.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import dataclass

import numpy as np

from hwsim.app.rtltop import top_arch
from hwsim.compiler import compile_layer
from hwsim.compiler.dma import program_cycles
from hwsim.configfile import load_config
from hwsim.engine import trace_layer
from hwsim.simulate import layer_cycles
from rtl.timing import PROGRAM_START_CYCLES
from rtl.top.cosim import bench_words, run_layer
from rtl.top.grouped import grouped_program
from rtl.top.layer import model_layer, planned_layer
from rtl.top.program import TopProgram
from rtl.top.verilator import DEFAULT_VCD_WINDOW
from sw.fileio import OutputPlan

__all__ = ["register", "run", "LayerReport", "cosim_layer", "parse_size"]


@dataclass(frozen=True)
class LayerReport:
    """One layer through the top and the simulator (cycles at the configuration's clock).

    ``rtl_split`` / ``sim_split``: where the cycles went (:meth:`rtl.top.cosim.LayerRun.split`;
    the simulator's from its event-mode trace: array compute cycles, DRAM-port cycles of loads and
    stores, cycles before the first and after the last compute). ``run_seconds``: the whole backend
    run; ``layer_seconds`` / ``preload_seconds``: the layer's cycles / the preload inside the
    Verilator model (None on the Amaranth simulator).
    """

    model: str
    layer: str
    config: str
    bits: int
    backend: str
    gemm: dict
    tiling: dict
    instructions: int
    outputs: int
    mismatches: int
    first_mismatch: tuple | None
    rtl_cycles: int
    event_cycles: int
    fast_cycles: int
    build_seconds: float
    run_seconds: float
    stimulus_cycles: int
    rtl_split: dict
    sim_split: dict
    layer_seconds: float | None = None
    preload_seconds: float | None = None

    def to_dict(self) -> dict:
        """JSON-ready fields plus the RTL / event-mode ratio."""
        out = dict(self.__dict__)
        out["rtl_over_event"] = round(self.rtl_cycles / self.event_cycles, 4) if self.event_cycles else None
        out["bit_exact"] = self.mismatches == 0
        return out


def parse_size(text: str | None) -> tuple[int, int] | None:
    """``HxW`` -> ``(H, W)``; ValueError naming --size otherwise."""
    if text is None:
        return None
    try:
        h, w = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise ValueError(f"--size: expected HxW (e.g. 8x8), got {text!r}") from None
    if h < 1 or w < 1:
        raise ValueError(f"--size: expected positive H and W, got {text!r}")
    return h, w


def parse_window(text: str | None) -> tuple[int, int] | None:
    """``START:END`` -> ``(START, END)`` run cycles, ``0 <= START < END``; ValueError naming --vcd-window otherwise."""
    if text is None:
        return None
    try:
        start, end = (int(v) for v in text.split(":"))
    except ValueError:
        raise ValueError(f"--vcd-window: expected START:END run cycles (e.g. 0:1000), got {text!r}") from None
    if not 0 <= start < end:
        raise ValueError(f"--vcd-window: expected 0 <= START < END, got {text!r}")
    return start, end


def _model_inputs(name: str, seed: int):
    """``(model, calibration samples, input sample)`` of a real model name or a model file."""
    from hwsim.app.studies.setups import RTL_SETUPS, real_setup

    if name in RTL_SETUPS:
        setup = real_setup(name, n_eval=1)
        return setup.model, list(setup.calibration), setup.evaluation[0].inputs
    from sw.graph import load_imported_model
    from sw.runtime.executor import default_calibration

    model = load_imported_model(name)
    rng = np.random.default_rng(seed)
    sample = {n: rng.uniform(-1.0, 1.0, model.native_shapes[n]) for n in model.input_names}
    return model, default_calibration(model, sample, seed), sample


def _program(cfg, layer, ops) -> tuple[TopProgram, object]:
    sched = compile_layer(layer, cfg)
    tiling = sched.tiling
    program = grouped_program(top_arch(cfg), ops.layer, ops.groups, tiling["tile_out_pixels"],
                              tiling["tile_out_channels"], tiling["loop_order"], tiling["tile_in_channels"])
    return program, sched


#: C++ flags of the Verilated top: -O2 runs the 16x16 top ~4x faster than -O0 (~250 k against ~70 k
#: cycles/s) for a build of ~55 s instead of ~30 s on 2 cores (split C++, rtl.backends; benchmarks/RESULTS.md).
VERILATOR_CFLAGS = "-O2"


def cosim_layer(model: str, layer: str, config: str | None, bits: int | None, size: tuple[int, int] | None,
                backend: str, seed: int = 0, log=None, workdir=None, vcd=None,
                quantized: str | None = None, cflags: str = VERILATOR_CFLAGS,
                vcd_window: tuple[int, int] | None = None) -> LayerReport:
    """Run one layer on the top (module docstring); Verilator builds are cached in ``workdir``
    (default :func:`hwsim.app.commands.cosim.verilator_cache`).

    ``quantized``: a quantized-model file of ``model`` (a model file) from ``hwsim quantize
    --symmetric-weights``; its plan and widths replace the calibration and ``bits``. ``cflags``: the
    Verilated model's C++ optimisation flags (a separate cached build per value). ``vcd``: write
    waveforms there: the whole run (Amaranth) or the run cycles ``vcd_window`` (Verilator, default
    :data:`DEFAULT_VCD_WINDOW`; a separate tracing build).
    """
    from rtl.backends import AmaranthModel, find_verilator
    from rtl.top.dram import TopBench

    if quantized is not None and not model.lower().endswith((".onnx", ".tflite")):
        raise ValueError(f"--quantized: --model must be the .onnx / .tflite file the quantized file was made from, "
                         f"got {model!r}")
    if quantized is not None and bits is not None:
        raise ValueError("--bits: the widths come from the --quantized file; give one of them")
    bits = 8 if bits is None and quantized is None else bits
    if quantized is None and bits not in (4, 8):
        raise ValueError(f"--bits: expected 4 or 8, got {bits}")
    cfg = load_config(config)
    top = top_arch(cfg)
    if vcd_window is not None and vcd is None:
        raise ValueError("--vcd-window: give --vcd FILE too")
    if vcd_window is not None and backend != "verilator":
        raise ValueError("--vcd-window: the Amaranth backend writes the whole run; the window is for "
                         "--backend verilator")
    if backend == "verilator":
        find_verilator()
    net, calibration, sample = _model_inputs(model, seed)
    if quantized is None:
        ops, run = model_layer(net, layer, calibration, sample, bits, size)
    else:
        from sw.runtime.qmodel import load_quantized

        qm = load_quantized(quantized, net, model)
        at_bits = qm.apply_bits(net)
        ops, run = planned_layer(at_bits, qm.plan, layer, sample, size)
        bits = at_bits.graph.layer(layer).w_bits
    program, sched = _program(cfg, run, ops)
    latency = cfg.memory.dram_latency_cycles
    bench = TopBench(top, bench_words(top, program, 1 << 16), latency)
    t0 = time.perf_counter()
    if backend == "amaranth":
        sim = AmaranthModel(bench, vcd=vcd)
    else:
        from hwsim.app.commands.cosim import verilator_cache
        from rtl.top.verilator import TopVerilatorModel

        key = f"TopBench({top!r}, dram_words={bench.dram_words}, latency={latency})"
        sim = TopVerilatorModel(bench, workdir or verilator_cache(), log=log, cflags=cflags, key=key,
                                trace=vcd is not None)
    build = time.perf_counter() - t0
    options = {} if backend == "amaranth" or vcd is None else {"vcd": vcd, "window": vcd_window or DEFAULT_VCD_WINDOW}
    result = run_layer(sim, top, program, ops, latency, **options)
    bw = cfg.memory.dram_bytes_per_cycle
    # the tiles' cycles plus the controller's program start and end (rtl.timing.PROGRAM_CYCLES), as simulate does
    event, fast = layer_cycles(sched, cfg, "event"), layer_cycles(sched, cfg, "fast")
    overhead = program_cycles(cfg, run.op, sched.unit)  # its share in the split
    start = PROGRAM_START_CYCLES if overhead else 0
    spans = trace_layer(list(sched.tiles()), bw, latency)[1]
    total = {kind: sum(end - begin for _, unit, ev, begin, end in spans if (unit, ev) == kind)
             for kind in (("array", "compute"), ("dma_in", "load"), ("write_back", "store"))}
    compute = [(begin + start, end + start) for _, unit, ev, begin, end in spans if unit == "array"]
    sim_split = {"total": int(event), "array_compute": total[("array", "compute")],
                 "dram_loads": total[("dma_in", "load")], "dram_stores": total[("write_back", "store")],
                 "before_first_compute": min(b for b, _ in compute) if compute else 0,
                 "after_last_compute": int(event) - max(e for _, e in compute) if compute else 0,
                 "program": overhead}
    g = ops.layer
    return LayerReport(model=model, layer=layer, config=cfg.name, bits=bits, backend=backend,
                       gemm={"m": g.m, "n": g.n, "k": g.k, "groups": ops.groups, "in_shape": list(run.in_shapes[0]),
                             "out_shape": list(run.out_shape)},
                       tiling={k: sched.tiling[k] for k in ("tile_out_pixels", "tile_out_channels", "tile_in_channels",
                                                            "k_chunks", "loop_order")},
                       instructions=len(program.instructions), outputs=int(result.outputs.size),
                       mismatches=result.mismatches, first_mismatch=result.first_mismatch(),
                       rtl_cycles=result.cycles, event_cycles=int(event), fast_cycles=int(fast),
                       build_seconds=round(build, 3), run_seconds=round(result.run_seconds, 3),
                       stimulus_cycles=result.stimulus_cycles,
                       rtl_split=result.split(), sim_split=sim_split,
                       layer_seconds=None if result.layer_seconds is None else round(result.layer_seconds, 4),
                       preload_seconds=None if result.preload_seconds is None else round(result.preload_seconds, 4))


def register(designs: argparse._SubParsersAction) -> None:
    """Add ``hwsim cosim layer`` to the cosim designs."""
    text = "a real model layer through the RTL accelerator top: bit-exact check and cycles vs the simulator"
    sub = designs.add_parser("layer", help=text, description=text)
    sub.add_argument("--model", required=True, help="blazeface, yolox_tiny, or an .onnx / .tflite file")
    sub.add_argument("--layer", required=True, help="layer name (a conv, depthwise or fc layer)")
    sub.add_argument("--config", default=None, help="preset name or .toml file (default preset)")
    sub.add_argument("--bits", type=int, default=None, help="weight and activation width, 4 or 8 (default 8)")
    sub.add_argument("--quantized", default=None, metavar="FILE",
                     help="a quantized-model file of --model (an .onnx / .tflite file) made with hwsim quantize "
                          "--symmetric-weights: its integer weights and parameters instead of a calibration")
    sub.add_argument("--size", default=None, help="crop the layer's input to HxW (e.g. 8x8) to keep runs short")
    sub.add_argument("--backend", choices=("verilator", "amaranth"), default="verilator",
                     help="compiled Verilator model (default) or the Amaranth simulator")
    sub.add_argument("--json", default=None, help="write the report as JSON to this file")
    sub.add_argument("--vcd", default=None,
                     help="write waveforms to this file: with Verilator the run cycles of --vcd-window (a separate, "
                          "slower tracing build), with Amaranth the whole run (use a small --size)")
    sub.add_argument("--vcd-window", default=None, metavar="START:END",
                     help="Verilator: run cycles [START, END) after the start pulse to write (default "
                          f"{DEFAULT_VCD_WINDOW[0]}:{DEFAULT_VCD_WINDOW[1]}); cycle c at 10c ns")
    sub.add_argument("--seed", type=int, default=0, help="seed of a model file's random input (default 0)")
    sub.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Print the report; 0 when bit-exact, 1 otherwise."""
    plan = OutputPlan(inputs=[p for p in (args.model, args.config, args.quantized) if p])
    out = plan.file(args.json, "--json") if args.json else None
    vcd = plan.file(args.vcd, "--vcd") if args.vcd else None
    size, window = parse_size(args.size), parse_window(args.vcd_window)
    staging = None if vcd is None else vcd.with_name(f".{vcd.name}.partial")
    try:
        report = cosim_layer(args.model, args.layer, args.config, args.bits, size, args.backend, args.seed,
                             log=lambda m: print(f"hwsim cosim: {m}", file=sys.stderr), vcd=staging,
                             quantized=args.quantized, vcd_window=window)
        if staging is not None:
            os.replace(staging, vcd)
    finally:
        if staging is not None:
            staging.unlink(missing_ok=True)
    g = report.gemm
    per = f" per group, {g['groups']} groups" if g["groups"] > 1 else ""
    print(f"layer {report.layer} ({report.model}, {report.config}, int{report.bits}): GEMM M={g['m']} N={g['n']} "
          f"K={g['k']}{per}, {report.instructions} instructions, backend {report.backend}")
    if report.mismatches == 0:
        print(f"outputs: {report.outputs} codes, bit-exact with the golden model")
    else:
        p, c, rtl, gold = report.first_mismatch
        print(f"outputs: {report.mismatches} of {report.outputs} codes differ; first at pixel {p}, channel {c}: "
              f"rtl {rtl}, golden {gold}")
    ratio = report.rtl_cycles / report.event_cycles if report.event_cycles else float("nan")
    print(f"cycles: rtl {report.rtl_cycles}, simulator event {report.event_cycles}, fast path {report.fast_cycles} "
          f"(rtl / event = {ratio:.3f})")
    r, m = report.rtl_split, report.sim_split
    print(f"split rtl / simulator: array {r['array_beats']} beats / {m['array_compute']} compute cycles, "
          f"DRAM reads {r['dram_reads']} / loads {m['dram_loads']}, writes {r['dram_writes']} / stores "
          f"{m['dram_stores']} cycles, before the first beat {r['before_first_beat']} / {m['before_first_compute']}, "
          f"after the last {r['after_last_beat']} / {m['after_last_compute']}")
    model = "" if report.layer_seconds is None else (
        f"; in the model: preload {report.preload_seconds:.3f} s, the layer {report.layer_seconds:.3f} s = "
        f"{report.rtl_cycles / max(report.layer_seconds, 1e-9):,.0f} cycles/s")
    print(f"time: build {report.build_seconds:.1f} s, run {report.run_seconds:.2f} s "
          f"({report.rtl_cycles / max(report.run_seconds, 1e-9):,.0f} simulated cycles/s incl. process start and "
          f"preload{model})")
    if vcd is not None and args.backend == "verilator":
        start, end = window or DEFAULT_VCD_WINDOW
        last = min(end - 1, report.rtl_cycles)
        span = (f"run cycles {start}-{last} at 10 ns each" if start <= last else
                f"no cycles: the window starts after the layer's last cycle {report.rtl_cycles}")
        print(f"waveforms: {vcd} ({span})")
    elif vcd is not None:
        print(f"waveforms: {vcd} (the whole run, preload included, at 10 ns a cycle)")
    if out is not None:
        plan.stage(out, (json.dumps(report.to_dict(), indent=1) + "\n").encode())
        plan.commit()
    return 0 if report.mismatches == 0 else 1
