"""Curated report pages: zoo models (accelerator), real models (quality, ablation, accelerator, RTL), RTL cycles.

Every page is markdown with relative links to PNGs beside it; every number on a page
is computed by the run that writes it (nothing is copied in by hand).
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hwsim.configfile import DEFAULT_PRESET, load_config
from hwsim.app.plots import render_plots
from hwsim.app.report.figures import detections_figure, spread_figure, sqnr_figure
from hwsim.app.report.markdown import md_table, num
from sw.detect.boxes import match_detections
from sw.fileio import atomic_write_bytes, atomic_write_text
from sw.graph.ir import Graph
from hwsim.app.studies.ablation import Ablation, AblationRow, run_ablation
from hwsim.app.studies.accelerator import PRESETS, AcceleratorRun, memory_bound_layers, simulate_widths
from hwsim.app.studies.rtl_tiles import ArrayModels, CycleRow, TileCheck, check_real_tile
from hwsim.app.studies.setups import RealSetup
from hwsim.app.studies.weights import channel_ratios_db, layer_spreads

__all__ = ["PageSummary", "zoo_page", "real_page", "rtl_page", "index_page"]

MAX_MEMORY_ROWS = 12


@dataclass(frozen=True)
class PageSummary:
    """What the index shows for one page: file name, title and one headline line."""

    file: str
    title: str
    headline: str


# --- accelerator section (zoo and real models) -------------------------------------------------


def _run(runs: Sequence[AcceleratorRun], preset: str, bits: int) -> AcceleratorRun:
    return next(r for r in runs if r.preset == preset and r.bits == bits)


def _summary_rows(runs: Sequence[AcceleratorRun]) -> list[list[str]]:
    rows = []
    for r in runs:
        if r.result is None:
            rows.append([r.preset, f"int{r.bits}", "does not fit: " + r.error, "", "", "", "", ""])
            continue
        t = r.result.total
        mem = sum(l.bound == "memory" for l in r.result.layers)
        rows.append([r.preset, f"int{r.bits}", num(t["latency_ms"], 3), num(t["fps"], 1), num(t["energy_mj"], 3),
                     num(100 * t["utilization"]), num(t["dram_mb"], 2), f"{mem}/{len(r.result.layers)}"])
    return rows


def accelerator_section(name: str, graph: Graph, directory: Path, link: str) -> tuple[str, str]:
    """Markdown of the accelerator results (and the PNGs under ``directory``); returns (text, headline)."""
    runs = simulate_widths(graph)
    text = ["## Accelerator (`hwsim simulate`, fast path)\n\n",
            md_table(["preset", "bits", "latency (ms)", "frames/s", "energy (mJ/frame)", "utilisation %",
                      "DRAM MB/frame", "memory-bound layers"], _summary_rows(runs))]
    preset = next((p for p in PRESETS if _run(runs, p, 4).result and _run(runs, p, 8).result), None)
    headline = ""
    if preset is not None:
        r4, r8 = _run(runs, preset, 4), _run(runs, preset, 8)
        t4, t8 = r4.result.total, r8.result.total
        headline = (f"{preset}: int4 {t4['latency_ms']:.2f} ms / {t4['energy_mj']:.3f} mJ, "
                    f"int8 {t8['latency_ms']:.2f} ms / {t8['energy_mj']:.3f} mJ")
        if preset != DEFAULT_PRESET:
            text.append(f"\nThe default preset `{DEFAULT_PRESET}` cannot run both widths (above), so the per-layer "
                        f"results below are on `{preset}`.\n")
        text.append(f"\nint4 vs int8 on `{preset}`: {t8['latency_ms'] / t4['latency_ms']:.2f}x faster, "
                    f"{t8['energy_mj'] / t4['energy_mj']:.2f}x less energy per frame. On `edge16_int4` int8 runs as "
                    "4 int4 passes on the int4 PEs; on `int8_32x32` the native int8 PEs run int4 at int8 speed, so "
                    "int4 gains there only through memory traffic and MAC energy.\n")
        text.append(_layer_table(r4, r8))
        text.append(_memory_section(r4))
        for r in (r4, r8):
            sub = directory / f"{r.preset}_int{r.bits}"
            sub.mkdir(parents=True, exist_ok=True)
            for name, png in render_plots(r.result, load_config(r.preset).memory.dram_bytes_per_cycle).items():
                atomic_write_bytes(sub / name, png)
            rel = f"{link}/{sub.name}"
            text.append(f"\n**int{r.bits} on `{r.preset}`**: per-layer latency (compute / stall), energy breakdown, "
                        f"roofline\n\n![latency]({rel}/latency.png)\n![energy]({rel}/energy.png) "
                        f"![roofline]({rel}/roofline.png)\n")
    return "".join(text), headline


def _layer_table(r4: AcceleratorRun, r8: AcceleratorRun) -> str:
    rows = []
    for a, b in zip(r4.result.layers, r8.result.layers):
        rows.append([a.name, a.op, a.part, num(a.macs / 1e6, 2), num(a.cycles / 1e3), num(b.cycles / 1e3),
                     num(100 * a.utilization), num(100 * b.utilization), a.bound, b.bound,
                     num(a.energy_pj["total"] / 1e6, 2), num(b.energy_pj["total"] / 1e6, 2)])
    return (f"\n### Per layer on `{r4.preset}` (int4 vs int8)\n\n<details><summary>{len(rows)} layers</summary>\n\n"
            + md_table(["layer", "op", "part", "MMAC", "int4 kcycles", "int8 kcycles", "int4 util %", "int8 util %",
                        "int4 bound", "int8 bound", "int4 energy uJ", "int8 energy uJ"], rows)
            + "\n</details>\n")


def _memory_section(r: AcceleratorRun) -> str:
    layers = memory_bound_layers(r.result, load_config(r.preset), r.bits)
    if not layers:
        return f"\nNo memory-bound layer at int{r.bits} on `{r.preset}`.\n"
    stalls = sum(l.stall_cycles for l in r.result.layers if l.bound == "memory")
    total = r.result.total["cycles"]
    no_macs = sum(1 for l in layers if not l.macs)
    ranked = sorted(layers, key=lambda m: -m.dram_bytes)[:MAX_MEMORY_ROWS]
    rows = [[m.name, m.op, num(m.macs / 1e6, 2), num(m.dram_bytes / 1024, 0), num(m.intensity, 2), num(m.ridge, 1),
             num(100 * m.stall_share), m.reason] for m in ranked]
    return (f"\n### Memory-bound layers (int{r.bits} on `{r.preset}`)\n\n"
            f"{len(layers)} of {len(r.result.layers)} layers are memory-bound ({no_macs} of them have no MACs); their "
            f"stalls are {100 * stalls / max(total, 1):.1f}% of all cycles. A layer is memory-bound when its DRAM "
            "transfer takes longer than its compute, i.e. its MACs per DRAM byte are below the ridge point "
            "(peak MACs per cycle / DRAM bytes per cycle). Largest by DRAM traffic:\n\n"
            + md_table(["layer", "op", "MMAC", "DRAM KiB", "MAC/B", "ridge MAC/B", "stall %", "why"], rows))


# --- zoo pages ----------------------------------------------------------------------------------


def zoo_page(name: str, graph: Graph, out: Path) -> PageSummary:
    """``out/<name>.md`` with the accelerator section of a zoo model."""
    totals = graph.totals()
    text, headline = accelerator_section(name, graph, out / name, name)
    page = (f"# {name}\n\nZoo model `{name}`: {totals.layers} layers, {totals.macs / 1e9:.2f} GMAC, "
            f"{totals.params / 1e6:.2f} M parameters. Regenerate with `hwsim report --models {name}`.\n\n" + text)
    atomic_write_text(out / f"{name}.md", page)
    return PageSummary(f"{name}.md", name, headline)


# --- real-model pages ---------------------------------------------------------------------------

_ABLATION_HEADERS = ["configuration", "bits", "weights", "calibration", "output SQNR dB", "median layer SQNR dB",
                     "worst layer (SQNR dB)", "matched / float", "lost", "gained", "mean IoU", "mean abs score diff",
                     "weights KiB"]


def _ablation_rows(rows: Sequence[AblationRow]) -> list[list[str]]:
    return [[r.label, r.bits, r.weights.replace("_", "-"), r.calibration, num(r.output_sqnr_db),
             num(r.median_layer_sqnr_db), f"{r.worst_layer} ({num(r.worst_layer_sqnr_db)})", f"{r.matched}/{r.reference}",
             r.lost, r.gained, num(r.mean_iou, 3), num(r.mean_abs_score_diff, 3), num(r.weight_kib, 0)]
            for r in rows]


def _agreement_section(setup: RealSetup, ablation: Ablation) -> str:
    rows = []
    for i, item in enumerate(setup.evaluation):
        ref = ablation.reference.detections[i]
        row = [item.label, len(ref)]
        for e in (ablation.fqn_int8, ablation.fqn_int4):
            a = match_detections(ref, e.detections[i])
            row += [len(e.detections[i]), a.matched, a.lost, a.gained, num(a.mean_iou, 3), num(a.mean_abs_score_diff, 3)]
        rows.append(row)
    headers = ["held-out input", "float dets"] + [f"{b} {c}" for b in ("int8", "int4")
                                                  for c in ("dets", "matched", "lost", "gained", "IoU", "abs score diff")]
    outs = md_table(["output", "FQN int8 SQNR dB", "FQN int4 SQNR dB"],
                    [[n, num(ablation.fqn_int8.outputs_sqnr_db[n]), num(ablation.fqn_int4.outputs_sqnr_db[n])]
                     for n in ablation.fqn_int8.outputs_sqnr_db])
    return ("## Detection agreement with the float model (FQN: per-channel weights, percentile 0.999)\n\n"
            "Matching: greedy one-to-one by IoU >= 0.5 within a class; IoU and score differences over matched pairs.\n\n"
            + md_table(headers, rows) + "\nFinal-output SQNR (dequantized raw outputs vs float, before decoding):\n\n"
            + outs)


def _findings(ablation: Ablation) -> str:
    """Where int4 loses detections, from the measured rows."""
    rows = ablation.rows
    ref = rows[0].reference
    all4 = [r for r in rows if r.bits == "4"]
    best4 = max(all4, key=lambda r: (r.matched - r.gained, r.matched))
    any4 = [r for r in rows if "4" in r.bits]
    best_mixed = max(any4, key=lambda r: (r.matched - r.gained, r.matched))
    best8 = max((r for r in rows if r.bits == "8"), key=lambda r: (r.matched - r.gained, r.matched))
    fqn4 = ablation.fqn_int4.agreement
    return (f"- **int4 everywhere loses detections**: FQN int4 (per-channel, percentile 0.999) keeps "
            f"{fqn4.matched} of {ref} float detections ({fqn4.lost} lost, {fqn4.gained} spurious). The best "
            f"all-int4 row is *{best4.label}*: {best4.matched}/{ref} matched, {best4.gained} gained. This is "
            "post-training quantization without FQN's fine-tuning, so FQN's small 4-bit mAP loss is not expected here.\n"
            f"- **Best configuration with any 4-bit part**: *{best_mixed.label}* ({best_mixed.bits}): "
            f"{best_mixed.matched}/{ref} matched, {best_mixed.lost} lost, {best_mixed.gained} gained, "
            f"{best_mixed.weight_kib:.0f} KiB of weights.\n"
            f"- **Best int8 row**: *{best8.label}*: {best8.matched}/{ref} matched, {best8.lost} lost, "
            f"{best8.gained} gained, output SQNR {best8.output_sqnr_db:.1f} dB.\n")


def _layer_sqnr_section(ablation: Ablation, directory: Path, link: str) -> str:
    e8, e4 = ablation.fqn_int8, ablation.fqn_int4
    sqnr_figure([e8, e4], f"{ablation.model}: per-layer SQNR, FQN int8 vs int4", directory / "sqnr.png")
    rows = [[a.name, a.op, a.part, num(a.sqnr_db), num(b.sqnr_db)] for a, b in zip(e8.layers, e4.layers)]
    return ("## Per-layer SQNR (float vs integer golden execution, end to end)\n\n"
            f"![per-layer SQNR]({link}/sqnr.png)\n\n<details><summary>{len(rows)} layers</summary>\n\n"
            + md_table(["layer", "op", "part", "FQN int8 SQNR dB", "FQN int4 SQNR dB"], rows) + "\n</details>\n")


def _spread_section(setup: RealSetup, directory: Path, link: str) -> str:
    spreads = layer_spreads(setup.model)
    ratios = channel_ratios_db(setup.model)
    spread_figure(spreads, ratios, f"{setup.name}: per-output-channel weight ranges", directory / "weight_spread.png")
    values = np.array([s.spread_db for s in spreads])
    top = sorted(spreads, key=lambda s: -s.spread_db)[:8]
    rows = [[s.name, s.op, s.part, s.channels, f"{s.min_range:.3g}", f"{s.max_range:.3g}", num(s.spread_db),
             s.dead_channels] for s in top]
    return ("## Weight range spread per output channel (FQN Figure 2)\n\n"
            f"Spread = 20 log10(max channel range / min channel range) per layer (range = max - min of the channel's "
            f"weights). Over {len(spreads)} weighted layers: median {np.median(values):.1f} dB, max "
            f"{values.max():.1f} dB; {int(np.sum(values > 20))} layers above 20 dB (a 10x range ratio: a per-tensor "
            f"4-bit step would leave their smallest channels with fewer than 2 codes). Dead (constant) channels: "
            f"{sum(s.dead_channels for s in spreads)}.\n\n![weight spread]({link}/weight_spread.png)\n\n"
            + md_table(["layer", "op", "part", "channels", "min range", "max range", "spread dB", "dead"], rows))


def _rtl_section(checks: Sequence[TileCheck]) -> str:
    rows = [[c.layer, c.array, c.k, c.tiles, c.outputs, c.matches_array_golden, c.matches_layer_golden,
             c.measured_cycles, c.formula_cycles] for c in checks]
    return ("## RTL on real data (Verilator)\n\nThe layer's real input codes (integer golden execution of the whole "
            "network on the first held-out input) and its weights (symmetric per-channel: the array has no weight "
            "zero point) as 8 tiles spread over the output map, through the generated Verilog; see "
            "[rtl.md](rtl.md).\n\n"
            + md_table(["layer", "array", "K", "tiles", "outputs", "= tile golden", "= layer golden (conv2d)",
                        "measured cycles/tile", "rtl.timing cycles/tile"], rows))


def _json_ready(value: object) -> object:
    if isinstance(value, float) and not math.isfinite(value):
        return None if math.isnan(value) else str(value)
    return value


def real_page(setup: RealSetup, out: Path, *, quick: bool = False, arrays: ArrayModels | None = None
              ) -> tuple[PageSummary, list[TileCheck]]:
    """``out/<name>.md`` (+ PNGs and ``<name>/ablation.json``) for a real model; also returns its RTL checks."""
    directory = out / setup.name
    directory.mkdir(parents=True, exist_ok=True)
    link = setup.name
    ablation = run_ablation(setup, quick=quick)
    checks = check_real_tile(setup, ablation.ranges, arrays) if arrays is not None else []
    item = setup.evaluation[0]
    detections_figure(setup, item, [("float", ablation.reference.detections[0]),
                                    ("FQN int8", ablation.fqn_int8.detections[0]),
                                    ("FQN int4", ablation.fqn_int4.detections[0])], directory / "detections.png")
    accel, _ = accelerator_section(setup.name, setup.model.graph, directory, link)
    totals = setup.model.graph.totals()
    parts = [
        f"# {setup.name}\n\n{setup.description}: {totals.layers} layers, {totals.macs / 1e6:.1f} MMAC, "
        f"{totals.params / 1e3:.1f} k parameters. Calibration: {len(setup.calibration)} inputs; evaluation (held out): "
        + ", ".join(f"*{e.label}*" for e in setup.evaluation)
        + f". Regenerate with `hwsim report --models {setup.name}`"
        + (" (this page: `--quick`, reduced ablation grid)" if quick else "") + ". Method and caveats: "
        "[docs/reports.md](../docs/reports.md).\n\n"
        f"![detections]({link}/detections.png)\n\n*{item.label}*: float (left), FQN int8, FQN int4; decoded in float "
        "by the same post-processing.\n\n## Findings\n\n" + _findings(ablation) + "\n",
        _agreement_section(setup, ablation),
    ]
    titles = {"table2": "## Ablation (FQN Table 2 style): weight granularity x calibration x width",
              "table4": "## Percentile gamma (FQN Table 4 style), per-channel weights",
              "partial": "## Partial quantization (seed 003 Table 2 style): per-part widths (B/N/H = backbone/neck/head)"}
    for key, title in titles.items():
        rows = ablation.table(key)
        if rows:
            parts.append(f"\n{title}\n\n" + md_table(_ABLATION_HEADERS, _ablation_rows(rows)))
    parts += ["\n" + _layer_sqnr_section(ablation, directory, link), "\n" + _spread_section(setup, directory, link),
              "\n" + accel]
    if checks:
        parts.append("\n" + _rtl_section(checks))
    atomic_write_text(out / f"{setup.name}.md", "".join(parts))
    atomic_write_text(directory / "ablation.json", json.dumps(
        [{k: _json_ready(v) for k, v in dataclasses.asdict(r).items()} for r in ablation.rows], indent=1) + "\n")
    a8, a4 = ablation.fqn_int8.agreement, ablation.fqn_int4.agreement
    ref = ablation.fqn_int8.reference_count
    headline = (f"FQN int8 {a8.matched}/{ref} float detections matched ({a8.lost} lost, {a8.gained} gained), "
                f"int4 {a4.matched}/{ref} ({a4.lost} lost, {a4.gained} gained)")
    return PageSummary(f"{setup.name}.md", setup.name, headline), checks


# --- RTL page and index -------------------------------------------------------------------------


def rtl_page(out: Path, sweep: Sequence[CycleRow], checks: Sequence[TileCheck]) -> PageSummary:
    """``out/rtl.md``: real tiles bit-exact and measured tile cycles vs the simulator's cost function."""
    exact = sum(c.matches_layer_golden for c in checks)
    outputs = sum(c.outputs for c in checks)
    equal = sum(r.measured_tile == r.formula_tile and r.measured_span == r.simulator_span for r in sweep)
    tiles = md_table(["model", "layer", "array", "K", "tiles", "outputs", "= tile golden", "= layer golden",
                      "measured cycles/tile", "formula"],
                     [[c.model, c.layer, c.array, c.k, c.tiles, c.outputs, c.matches_array_golden,
                       c.matches_layer_golden, c.measured_cycles, c.formula_cycles] for c in checks])
    cycles = md_table(["array", "K", "tiles", "measured cycles/tile", "rtl.timing.array_tile_cycles",
                       "measured span", "simulator (os_compute_cycles + requant tail)", "difference"],
                      [[r.array, r.k, r.tiles, r.measured_tile, r.formula_tile, r.measured_span, r.simulator_span,
                        r.measured_span - r.simulator_span] for r in sweep])
    page = ("# RTL vs golden model vs simulator\n\nGenerated Verilog of `rtl/array.py` (output-stationary systolic "
            "array with double-rounding requantization lanes) compiled with Verilator; method in "
            "[docs/reports.md](../docs/reports.md) and `hwsim/app/studies/rtl_tiles.py`.\n\n"
            f"## Real tiles: {exact}/{outputs} output codes bit-exact with the golden model\n\n" + tiles
            + f"\n## Tile cycles: {equal}/{len(sweep)} shapes equal to the simulator's cost function\n\n"
            "Tiles are streamed back to back at `rtl.timing.array_tile_interval` (the driver fails if the array "
            "refuses a beat); per-tile cycles are measured from the first operand beat to the last requantized "
            "output. Seeded random codes (3 tiles per shape), each also checked bit-exact.\n\n" + cycles)
    atomic_write_text(out / "rtl.md", page)
    return PageSummary("rtl.md", "RTL vs simulator", f"{exact}/{outputs} real-tile outputs bit-exact; "
                                                      f"{equal}/{len(sweep)} tile shapes: measured cycles = simulator")


def index_page(out: Path, real: Sequence[PageSummary], zoo: Sequence[PageSummary], other: Sequence[PageSummary],
               command: str) -> None:
    """``out/index.md`` linking every page with its headline."""
    def rows(pages: Sequence[PageSummary]) -> str:
        return md_table(["page", "headline"], [[f"[{p.title}]({p.file})", p.headline] for p in pages])

    text = (f"# hwsim curated reports\n\nRegenerated by `{command}` (deterministic; method and caveats in "
            "[docs/reports.md](../docs/reports.md)).\n\n")
    if real:
        text += "## Real trained detectors (quantization quality, ablations, accelerator, RTL tiles)\n\n" + rows(real)
    if other:
        text += "\n## RTL\n\n" + rows(other)
    if zoo:
        text += "\n## Zoo models on the accelerator\n\n" + rows(zoo)
    atomic_write_text(out / "index.md", text)
