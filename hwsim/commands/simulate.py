"""``hwsim simulate``: per-layer latency, utilisation, traffic and energy of a detector on a MAC array.

With no arguments it simulates the embedded default: the 4-bit FQN RetinaNet-ResNet50-FPN
(800x800) from the zoo on the default edge preset (16x16 int4 PEs).
"""

from __future__ import annotations

import argparse
import sys

from rich.console import Console

from hwsim.config import DATAFLOWS, DEFAULT_PRESET, PRESETS, load_config
from hwsim.report import compare_table, energy_table, layer_table, to_csv, to_json, totals_table
from hwsim.simulate import MODES, simulate_graph
from sw.fileio import atomic_write_text
from hwsim.commands.inspect_cmd import add_input_shape_argument, input_shapes
from sw.graph import load_model
from sw.graph.bits import parse_bits, parse_width

__all__ = ["register", "run", "DEFAULT_MODEL"]

DEFAULT_MODEL = "retinanet_r50_fpn"


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``simulate`` sub-command."""
    p = subparsers.add_parser(
        "simulate", help="simulate a detector layer by layer on a MAC-array accelerator",
        description="Per-layer cycles (compute/stall), utilisation, SRAM/DRAM traffic and energy of a model "
                    f"on an accelerator. Default: 4-bit {DEFAULT_MODEL} on preset {DEFAULT_PRESET}.")
    p.add_argument("--model", default=DEFAULT_MODEL, help=f"zoo name or model file (default {DEFAULT_MODEL})")
    p.add_argument("--config", default=DEFAULT_PRESET,
                   help=f"preset ({', '.join(PRESETS)}) or TOML file (default {DEFAULT_PRESET})")
    p.add_argument("--bits", help="widths: 4, 8, w4a8 (or 4/8), per part e.g. 8,head=4; 32 = float (default: the model's)")
    p.add_argument("--dataflow", choices=DATAFLOWS, help="override the config's dataflow (os, ws)")
    p.add_argument("--mode", choices=MODES, default="fast",
                   help="fast (batched identical tiles, default) or event (every tile in simpy)")
    p.add_argument("--json", metavar="FILE", help="write the results as JSON")
    p.add_argument("--csv", metavar="FILE", help="write the per-layer table as CSV")
    p.add_argument("--plot", metavar="DIR", help="write latency/energy/roofline PNGs into DIR")
    p.add_argument("--schedule", metavar="FILE", help="write the tiled schedule (tile operations) as JSON")
    p.add_argument("--compare-bits", metavar="LIST", help="comma-separated widths to run side by side, e.g. 4,8")
    p.add_argument("--functional", action="store_true",
                   help="also run every conv/depthwise/fc layer tile by tile through the golden model and "
                        "check it is bit-identical to the whole layer")
    p.add_argument("--no-layers", action="store_true", help="print only totals")
    add_input_shape_argument(p)
    p.set_defaults(func=run)


def _progress(total_label: str):
    try:
        from tqdm import tqdm
    except ImportError:  # pragma: no cover
        return None
    return lambda it: tqdm(it, desc=total_label, unit="layer", file=sys.stderr, leave=False, disable=None)


def run(args: argparse.Namespace) -> int:
    """Simulate and print; returns 0 (1 if the functional check fails)."""
    cfg = load_config(args.config)
    if args.dataflow:
        cfg = cfg.with_dataflow(args.dataflow)
    graph = load_model(args.model, input_shapes(args))
    runs: list[tuple[str, object]] = []
    if args.compare_bits:
        if args.bits:
            raise ValueError("--bits and --compare-bits are exclusive")
        for item in args.compare_bits.split(","):
            runs.append((item.strip(), graph.with_bits(default=parse_width(item, "--compare-bits"))))
    else:
        label = args.bits or "model widths"
        if args.bits:
            graph = parse_bits(args.bits).apply(graph)
        runs.append((label, graph))
    results = [simulate_graph(g, cfg, mode=args.mode, bits=label, progress=_progress(f"simulate {label}"))
               for label, g in runs]
    console = Console(width=None if sys.stdout.isatty() else 160)
    if len(results) == 1:
        if not args.no_layers:
            console.print(layer_table(results[0]))
        console.print(totals_table(results[0]))
    else:
        console.print(compare_table(results))
    console.print(energy_table(cfg))
    status = 0
    if args.functional:
        status = _functional(console, runs[0][1], cfg)
    if args.json:
        atomic_write_text(args.json, to_json(results))
    if args.csv:
        atomic_write_text(args.csv, to_csv(results[0]))
    if args.schedule:
        from sw.compiler import compile_graph
        atomic_write_text(args.schedule, compile_graph(runs[0][1], cfg).to_json() + "\n")
    if args.plot:
        from hwsim.plots import write_plots
        for path in write_plots(results[0], args.plot, cfg.memory.dram_bytes_per_cycle):
            console.print(f"wrote {path}")
    return status


def _functional(console: Console, graph, cfg) -> int:
    from hwsim.functional import FUNCTIONAL_OPS, check_layer
    layers = [l for l in graph if l.op in FUNCTIONAL_OPS and not l.is_float]
    bar = _progress("functional")
    bad = []
    for layer in (bar(layers) if bar else layers):
        r = check_layer(layer, cfg)
        if not r.ok:
            bad.append(f"{r.name} (identical={r.identical}, covered once={r.covered_once})")
    if bad:
        console.print(f"functional: {len(bad)} of {len(layers)} layers differ: {'; '.join(bad)}")
        return 1
    console.print(f"functional: {len(layers)} conv/depthwise/fc layers executed tile by tile through the golden "
                  f"model: bit-identical to whole-layer execution, every output written exactly once")
    return 0
