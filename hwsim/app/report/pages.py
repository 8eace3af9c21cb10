"""Curated report pages: zoo models (accelerator), RTL cycles, the index (real detectors: ``detection_page``).

Every page is markdown with relative links to PNGs beside it; every number on a page
is computed by the run that writes it (nothing is copied in by hand).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from hwsim.configfile import DEFAULT_PRESET, load_config
from hwsim.app.plots import render_plots
from hwsim.app.report.markdown import md_table, num
from sw.fileio import atomic_write_bytes, atomic_write_text
from sw.graph.ir import Graph
from hwsim.app.studies.accelerator import PRESETS, AcceleratorRun, memory_bound_layers, simulate_widths
from hwsim.app.studies.rtl_tiles import CycleRow, TileCheck

__all__ = ["PageSummary", "zoo_page", "accelerator_section", "rtl_page", "index_page", "read_index"]

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


_SECTIONS = {"real": "## Real trained detectors (COCO mAP / agreement of PTQ settings, accelerator)",
             "other": "## RTL", "zoo": "## Zoo models on the accelerator"}
_ROW = re.compile(r"^\| \[(?P<title>[^\]]*)\]\((?P<file>[^)]*)\) \| (?P<headline>.*) \|$")


def read_index(path: Path) -> dict[str, list[PageSummary]]:
    """Entries of an existing ``index.md`` by section (``real``, ``other``, ``zoo``); empty if there is none."""
    found: dict[str, list[PageSummary]] = {k: [] for k in _SECTIONS}
    if not path.is_file():
        return found
    section = None
    for line in path.read_text().splitlines():
        if line.startswith("## "):
            section = next((k for k, t in _SECTIONS.items() if line.startswith(t.split(" (")[0])), None)
            continue
        m = _ROW.match(line)
        if section and m:
            found[section].append(PageSummary(m["file"], m["title"], m["headline"].replace("\\|", "|")))
    return found


def _merge(old: Sequence[PageSummary], new: Sequence[PageSummary], written: set[str], out: Path) -> list[PageSummary]:
    """``old`` entries with those regenerated replaced in place, then the new ones; vanished pages dropped."""
    by_file = {p.file: p for p in new}
    merged = [by_file.get(p.file, p) for p in old if p.file in by_file or (p.file not in written
                                                                           and (out / p.file).is_file())]
    return merged + [p for p in new if p.file not in {m.file for m in merged}]


def index_page(out: Path, real: Sequence[PageSummary], zoo: Sequence[PageSummary], other: Sequence[PageSummary],
               command: str) -> None:
    """``out/index.md`` linking every page with its headline.

    Pages of an earlier run that this run did not regenerate keep their entries (a
    ``--models`` subset updates its own rows only); ``command`` is this run's.
    """
    def rows(pages: Sequence[PageSummary]) -> str:
        return md_table(["page", "headline"], [[f"[{p.title}]({p.file})", p.headline] for p in pages])

    old = read_index(out / "index.md")
    written = {p.file for p in (*real, *zoo, *other)}
    sections = {"real": _merge(old["real"], real, written, out), "other": _merge(old["other"], other, written, out),
                "zoo": _merge(old["zoo"], zoo, written, out)}
    text = (f"# hwsim curated reports\n\nRegenerated by `hwsim report`; each page states the command and data that "
            f"made it (last run: `{command}`). Method and caveats in [docs/reports.md](../docs/reports.md).\n")
    for key, pages in sections.items():
        if pages:
            text += f"\n{_SECTIONS[key]}\n\n" + rows(pages)
    atomic_write_text(out / "index.md", text)
