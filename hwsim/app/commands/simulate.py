"""``hwsim simulate``: per-layer latency, utilisation, traffic and energy of a detector on a MAC array.

With no arguments it simulates the embedded default: the 4-bit FQN RetinaNet-ResNet50-FPN
(800x800) from the zoo on the default edge preset (16x16 int4 PEs).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from hwsim.app.commands import HELP
from hwsim.config import DATAFLOWS

from hwsim.configfile import DEFAULT_PRESET, PRESETS, load_config
from hwsim.app.console import console_width, make_console, progress, progress_wrapper
from hwsim.app.output import (compare_table, config_summary, config_table, layer_table, parts_table, to_csv,
                              to_json, totals_table)
from hwsim.simulate import MODES, simulate_graph
from hwsim.app.options import add_input_shape_argument, input_shapes
from sw.fileio import OutputPlan
from sw.graph import load_model
from sw.graph.bits import parse_bits, parse_width_list

__all__ = ["register", "run", "DEFAULT_MODEL"]

DEFAULT_MODEL = "retinanet_r50_fpn"
#: Suffixes of the model and configuration files a run reads.
MODEL_AND_CONFIG_SUFFIXES = (".onnx", ".tflite", ".csv", ".toml")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``simulate`` sub-command."""
    p = subparsers.add_parser(
        "simulate", help=HELP["simulate"],
        description="Per-layer cycles (compute/stall), utilisation, SRAM/DRAM traffic and energy of a model "
                    f"on an accelerator. Default: 4-bit {DEFAULT_MODEL} on preset {DEFAULT_PRESET}.")
    p.add_argument("--model", default=DEFAULT_MODEL, help=f"zoo name or model file (default {DEFAULT_MODEL})")
    p.add_argument("--config", default=DEFAULT_PRESET,
                   help=f"preset ({', '.join(PRESETS)}) or TOML file (default {DEFAULT_PRESET})")
    p.add_argument("--bits", help="widths: 4, 8, w4a8 (or 4/8), per part e.g. 8,head=4; 32 = float (default: the model's)")
    p.add_argument("--quantized", metavar="FILE", help="a quantized-model file of MODEL (hwsim quantize): simulate "
                                                      "at its per-layer widths")
    p.add_argument("--dataflow", choices=DATAFLOWS, help="override the config's dataflow (os, ws)")
    p.add_argument("--mode", choices=MODES, default="fast",
                   help="fast (batched identical tiles, default) or event (every tile in simpy)")
    p.add_argument("--json", metavar="FILE", help="write the results as JSON")
    p.add_argument("--csv", metavar="FILE", help="write the per-layer table as CSV")
    p.add_argument("--plot", metavar="DIR", help="write latency/energy/roofline PNGs into DIR (created if missing)")
    p.add_argument("--schedule", metavar="FILE", help="write the tiled schedule (tile operations) as JSON")
    p.add_argument("--compare-bits", metavar="LIST", help="comma-separated widths to run side by side, e.g. 4,8")
    p.add_argument("--functional", action="store_true",
                   help="also run every conv/depthwise/fc layer tile by tile through the golden model and "
                        "check it is bit-identical to the whole layer")
    p.add_argument("--trace", metavar="LAYER", help="write a cycle-level trace (event mode) of LAYER's DMA, "
                   "array, requantization and write-back operations to --trace-out")
    p.add_argument("--trace-out", metavar="FILE", help="CSV file of --trace (tile, unit, event, start, end cycles)")
    p.add_argument("--no-layers", action="store_true", help="print only totals (no configuration line, no per-layer table)")
    p.add_argument("--show-config", action="store_true", help="also print every configuration field with unit and provenance")
    add_input_shape_argument(p)
    p.set_defaults(func=run)


def _model_inputs(args: argparse.Namespace) -> list[str]:
    """The files this run reads (an output may not overwrite one)."""
    files = [p for p in (args.model, args.config) if p and Path(p).suffix.lower() in MODEL_AND_CONFIG_SUFFIXES]
    return files + ([args.quantized] if args.quantized else [])


def run(args: argparse.Namespace) -> int:
    """Simulate and print; returns 0 (1 if the functional check fails)."""
    plan = OutputPlan(inputs=_model_inputs(args))
    json_out, csv_out = plan.file(args.json, "--json"), plan.file(args.csv, "--csv")
    schedule_out, plot_dir = plan.file(args.schedule, "--schedule"), plan.directory(args.plot, "--plot")
    if args.bits is not None and args.compare_bits is not None:
        raise ValueError("--bits and --compare-bits are exclusive")
    if (args.trace is None) != (args.trace_out is None):
        raise ValueError("--trace LAYER and --trace-out FILE go together")
    trace_out = plan.file(args.trace_out, "--trace-out")
    cfg = load_config(args.config)
    if args.dataflow:
        cfg = cfg.with_dataflow(args.dataflow)
    if args.quantized is not None and (args.bits is not None or args.compare_bits is not None):
        raise ValueError("--quantized fixes the widths: --bits and --compare-bits do not apply")
    if args.quantized is not None:
        graph, args.bits = _quantized_graph(args)
    else:
        graph = load_model(args.model, input_shapes(args))
    runs: list[tuple[str, object]] = []
    if args.compare_bits is not None:
        for label, width in parse_width_list(args.compare_bits, "--compare-bits"):
            runs.append((label, graph.with_bits(default=width)))
    else:
        label = args.bits or ""
        if args.bits is not None and args.quantized is None:
            graph = parse_bits(args.bits).apply(graph)
        runs.append((label, graph))
    results = [simulate_graph(g, cfg, mode=args.mode, bits=label, progress=progress_wrapper(f"simulate {label}".strip(), "layer"))
               for label, g in runs]
    width = console_width()
    console = make_console()
    if len(results) == 1:
        if not args.no_layers:
            console.print(escape(config_summary(cfg)))
            console.print(escape(layer_table(results[0], width)), highlight=False, soft_wrap=True)
        console.print(totals_table(results[0]))
        console.print(parts_table(results[0]))
        _program_note(console, results[0], cfg.memory.program_words)
    else:
        console.print(compare_table(results))
    if args.show_config:
        console.print(config_table(cfg))
    status = 0
    if args.functional:
        status = _functional(console, runs[0][1], cfg)
    if json_out:
        plan.stage(json_out, to_json(results))
    if csv_out:
        plan.stage(csv_out, to_csv(results[0]))
    if schedule_out:
        from hwsim.compiler import compile_graph
        plan.stage(schedule_out, compile_graph(runs[0][1], cfg).to_json() + "\n")
    if trace_out:
        plan.stage(trace_out, _trace_csv(runs[0][1], cfg, args.trace))
    if plot_dir:
        from hwsim.app.plots import render_plots
        for name, png in render_plots(results[0], cfg.memory.dram_bytes_per_cycle).items():
            plan.stage(plot_dir / name, png)
    for path in plan.commit():
        console.print(f"wrote {escape(str(path))}")
    return status


def _quantized_graph(args: argparse.Namespace) -> tuple[object, str]:
    """MODEL's graph at the per-layer widths of the quantized-model file, and the file's bit-policy label."""
    from sw.graph import load_imported_model
    from sw.runtime.qmodel import load_quantized

    if Path(args.model).suffix.lower() not in (".onnx", ".tflite"):
        raise ValueError(f"--quantized: MODEL must be the .onnx / .tflite file the quantized file was made from, "
                         f"got '{args.model}'")
    model = load_imported_model(args.model, input_shapes(args))
    qm = load_quantized(args.quantized, model, args.model)
    asymmetric = qm.plan.asymmetric_weight_layers()
    if asymmetric:
        raise ValueError(f"{args.quantized}: layer '{asymmetric[0]}' (and {len(asymmetric) - 1} more) has weights "
                         "with nonzero zero points, which the accelerator's array cannot multiply; re-quantize "
                         "with hwsim quantize --symmetric-weights")
    return qm.apply_bits(model).graph, str(qm.provenance.get("bits", "quantized"))


def _trace_csv(graph, cfg, name: str) -> str:
    """CSV text of the cycle-level event-mode trace of layer ``name``."""
    import csv
    import io

    from hwsim.compiler import compile_layer
    from hwsim.engine import TRACE_COLUMNS, trace_layer
    try:
        layer = graph.layer(name)
    except (KeyError, ValueError):
        raise ValueError(f"--trace: no layer named {name!r} in model '{graph.name}'") from None
    sched = compile_layer(layer, cfg)
    _, rows = trace_layer(sched.tiles(), cfg.memory.dram_bytes_per_cycle, cfg.memory.dram_latency_cycles)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(TRACE_COLUMNS)
    w.writerows(rows)
    return buf.getvalue()


def _program_note(console: Console, result, limit: int) -> None:
    """One line naming the layers whose program exceeds the RTL top's instruction memory (no mapping fits)."""
    long = [layer.name for layer in result.layers if layer.tiling.get("program_instructions", 0) > limit]
    if long:
        shown = ", ".join(long[:4]) + (", ..." if len(long) > 4 else "")
        console.print(escape(f"note: {len(long)} layers need more instructions than the RTL top's {limit}-word "
                             f"instruction memory in every legal mapping ({shown}): the top cannot run them in one "
                             "program; their cycles are the simulator's"), highlight=False)


def _functional(console: Console, graph, cfg) -> int:
    from hwsim.functional import FUNCTIONAL_OPS, check_layer
    layers = [l for l in graph if l.op in FUNCTIONAL_OPS and not l.is_float]
    bad = []
    for layer in progress(layers, "functional check", unit="layer"):
        r = check_layer(layer, cfg)
        if not r.ok:
            bad.append(f"{r.name} (identical={r.identical}, covered once={r.covered_once})")
    if bad:
        console.print(f"functional: {len(bad)} of {len(layers)} layers differ: {'; '.join(bad)}")
        return 1
    console.print(f"functional: {len(layers)} conv/depthwise/fc layers executed tile by tile through the golden "
                  f"model: bit-identical to whole-layer execution, every output written exactly once")
    return 0
