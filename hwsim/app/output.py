"""Text, CSV and JSON output of simulation results.

Terminal tables are laid out for the console width (at least 80 columns): numbers are
never cut; the layer-name column takes what is left and long names keep their end
(``…conv2.P3``), which is what tells sibling layers apart. Columns beyond the essential
ones appear from 120 columns on. JSON and CSV keep full precision.
"""

from __future__ import annotations

import csv
import io
import json

from rich import box
from rich.markup import escape
from rich.table import Table

from hwsim.app.console import shorten_left
from hwsim.config import HwConfig
from hwsim.describe import describe_config
from hwsim.stats import SimResult
from sw.graph.ir import Part

__all__ = ["layer_table", "totals_table", "parts_table", "compare_table", "config_summary", "config_table",
           "to_csv", "to_json", "WIDE"]

CSV_COLUMNS = ("name", "op", "part", "unit", "w_bits", "a_bits", "macs", "cycles", "compute_cycles",
               "stall_cycles", "utilization", "dram_read_bytes", "dram_write_bytes", "sram_read_bytes",
               "sram_write_bytes", "bound", "roofline_cycles", "tiles")

#: Console width (columns) from which the per-layer table shows its extra columns.
WIDE = 120


def layer_table(result: SimResult, width: int) -> str:
    """Per-layer table as text for a console of ``width`` (>= 80) columns.

    Columns: layer, op, bits, MMAC (10^6 MACs), kcycles (10^3 cycles), util % (PE utilisation),
    bound (cmp/mem: compute or DRAM bound), energy uJ; from :data:`WIDE` columns on also
    stall % (share of the layer's cycles stalled on DRAM) and DRAM KiB. No line is longer
    than ``width``.
    """
    wide = width >= WIDE
    cols = [("op", 10, "<"), ("bits", 6, "<"), ("MMAC", 9, ">"), ("kcycles", 10, ">"), ("util %", 7, ">")]
    if wide:
        cols += [("stall %", 8, ">"), ("DRAM KiB", 10, ">")]
    cols += [("bound", 6, ">"), ("energy uJ", 11, ">")]
    name_width = max(12, min(width - sum(w for _, w, _ in cols) - 1, 48))
    lines = [f"{result.model} on {result.config['name']} ({result.mode} path"
             f"{', bits ' + result.bits if result.bits else ''})"]
    header = f"{'layer':<{name_width}} " + "".join(f"{h:{al}{w}}" for h, w, al in cols)
    lines += [header, "-" * len(header)]
    for l in result.layers:
        values = [l.op[:9], f"w{l.w_bits}a{l.a_bits}", f"{l.macs / 1e6:.1f}", f"{l.cycles / 1e3:.1f}",
                  f"{100 * l.utilization:.1f}"]
        if wide:
            values += [f"{100 * l.stall_cycles / l.cycles:.1f}" if l.cycles else "0.0",
                       f"{(l.dram_read_bytes + l.dram_write_bytes) / 1024:.0f}"]
        values += ["cmp" if l.bound == "compute" else "mem", f"{l.energy_pj['total'] / 1e6:.2f}"]
        lines.append(f"{shorten_left(l.name, name_width):<{name_width}} "
                     + "".join(f"{v:{al}{w}}" for v, (_, w, al) in zip(values, cols)))
    return "\n".join(lines) + "\n"


def totals_table(result: SimResult) -> Table:
    """Totals: latency, frames/s, energy per frame and its split, utilisation, DRAM MB per frame."""
    tot = result.total
    t = Table(title="Totals per frame", box=box.SIMPLE_HEAD)
    t.add_column("metric")
    t.add_column("value", justify="right")
    rows = [("GMAC", f"{tot['macs'] / 1e9:.3f}"), ("cycles", f"{tot['cycles']:,}"),
            ("latency (ms)", f"{tot['latency_ms']:.3f}"), ("frames/s", f"{tot['fps']:.2f}"),
            ("energy per frame (mJ)", f"{tot['energy_mj']:.3f}")]
    rows += [(f"  {k} (mJ)", f"{v:.3f}") for k, v in tot["energy_breakdown_mj"].items() if k != "total"]
    rows += [("average utilisation (%)", f"{100 * tot['utilization']:.1f}"),
             ("stall cycles (%)", f"{100 * tot['stall_cycles'] / max(tot['cycles'], 1):.1f}"),
             ("DRAM MB per frame", f"{tot['dram_mb']:.2f}")]
    for k, v in rows:
        t.add_row(k, v)
    return t


def parts_table(result: SimResult) -> Table:
    """Backbone / neck / head subtotals: GMAC, latency, energy, utilisation, DRAM."""
    t = Table(title="Subtotals by part", box=box.SIMPLE_HEAD)
    for col in ("part", "layers", "GMAC", "ms", "% time", "mJ", "util %", "DRAM MB"):
        t.add_column(col, justify="left" if col == "part" else "right", no_wrap=True)
    total_cycles = max(result.total["cycles"], 1)
    scale_ms = 1 / (result.clock_mhz * 1e3)
    for part in Part:
        layers = [l for l in result.layers if l.part == part.value]
        if not layers:
            continue
        cycles = sum(l.cycles for l in layers)
        t.add_row(part.value, str(len(layers)), f"{sum(l.macs for l in layers) / 1e9:.3f}",
                  f"{cycles * scale_ms:.3f}", f"{100 * cycles / total_cycles:.1f}",
                  f"{sum(l.energy_pj['total'] for l in layers) * 1e-9:.3f}",
                  f"{100 * sum(l.utilization * l.cycles for l in layers) / cycles:.1f}" if cycles else "0.0",
                  f"{sum(l.dram_read_bytes + l.dram_write_bytes for l in layers) / 1e6:.2f}")
    return t


def compare_table(results: list[SimResult]) -> Table:
    """Side-by-side totals of runs at different bit widths."""
    t = Table(title=escape(f"{results[0].model} on {results[0].config['name']}: bit-width comparison"),
              box=box.SIMPLE_HEAD)
    t.add_column("metric")
    for r in results:
        t.add_column(escape(r.bits), justify="right")
    keys = (("latency (ms)", "latency_ms", "{:.3f}"), ("frames/s", "fps", "{:.2f}"),
            ("energy per frame (mJ)", "energy_mj", "{:.3f}"), ("DRAM MB per frame", "dram_mb", "{:.2f}"),
            ("cycles", "cycles", "{:,}"))
    totals = [r.total for r in results]
    for label, key, fmt in keys:
        t.add_row(label, *[fmt.format(tot[key]) for tot in totals])
    t.add_row("utilisation (%)", *[f"{100 * tot['utilization']:.1f}" for tot in totals])
    return t


_TIMING_NOTE = {"rtl": "RTL array timing", "scalesim": "SCALE-Sim array timing"}


def _rtl_backed(cfg: HwConfig) -> str:
    """How far the printed numbers are backed by the generated RTL."""
    if cfg.array.dataflow == "os" and cfg.array.timing == "rtl":
        return "numbers from the RTL's timing (rtl/timing.py)"
    why = "weight-stationary dataflow" if cfg.array.dataflow != "os" else "SCALE-Sim's fold timing"
    return f"ANALYTICAL: {why} has no RTL here ([assumed]; for comparison only)"


def config_summary(cfg: HwConfig) -> str:
    """One paragraph: array, modes, dataflow and timing model, clock, SRAMs, DRAM bandwidth and latency."""
    a, m = cfg.array, cfg.memory
    bw_gbs = m.dram_bytes_per_cycle * cfg.clock_mhz * 1e6 / 1e9
    return (f"{cfg.name}: {a.rows}x{a.cols} int{a.pe_bits} PEs, modes "
            f"{'/'.join(f'int{b}' for b in a.mac_modes)}, {a.dataflow.upper()} dataflow "
            f"({_TIMING_NOTE[a.timing] if a.dataflow == 'os' else 'weight-stationary fold model'}), "
            f"{cfg.requant_lanes} requant lanes, {cfg.clock_mhz:g} MHz; SRAM in/weight/out "
            f"{m.ifmap_sram_bytes / 1024:g}/{m.weight_sram_bytes / 1024:g}/{m.ofmap_sram_bytes / 1024:g} KiB; "
            f"DRAM {m.dram_bytes_per_cycle:g} B/cycle ({bw_gbs:.1f} GB/s), {m.dram_latency_cycles} cycles latency; "
            f"{_rtl_backed(cfg)}")


def config_table(cfg: HwConfig) -> Table:
    """Every configuration field with value, unit and provenance."""
    t = Table(title=escape(f"Configuration '{cfg.name}' (override any field in a TOML file)"), box=box.SIMPLE_HEAD)
    for col in ("field", "value", "unit", "provenance"):
        t.add_column(col)
    for row in describe_config(cfg):
        t.add_row(row.field, escape(row.shown()), row.unit, escape(row.provenance))
    return t


def to_csv(result: SimResult) -> str:
    """Per-layer CSV (energy columns in pJ; traffic and energy per memory level and operand) plus a TOTAL row."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    ekeys = list(result.layers[0].energy_pj) if result.layers else []
    tkeys = [(lvl, op) for lvl, ops in (result.layers[0].traffic.items() if result.layers else ()) for op in ops]
    okeys = [(lvl, op) for lvl, ops in (result.layers[0].operand_energy_pj.items() if result.layers else ())
             for op in ops]
    w.writerow([*CSV_COLUMNS, *(f"energy_{k}_pj" for k in ekeys), *(f"{lvl}_{op}" for lvl, op in tkeys),
                *(f"energy_{lvl}_{op}_pj" for lvl, op in okeys)])
    for l in result.layers:
        d = l.to_dict()
        w.writerow([d[c] for c in CSV_COLUMNS] + [f"{l.energy_pj[k]:.1f}" for k in ekeys]
                   + [l.traffic[lvl][op] for lvl, op in tkeys]
                   + [f"{l.operand_energy_pj[lvl][op]:.1f}" for lvl, op in okeys])
    tot = result.total
    w.writerow(["TOTAL", "", "", "", "", "", tot["macs"], tot["cycles"], tot["compute_cycles"], tot["stall_cycles"],
                f"{tot['utilization']:.6f}", "", "", tot["sram_read_bytes"], tot["sram_write_bytes"], "", "", ""]
               + [f"{tot['energy_breakdown_mj'][k] * 1e9:.1f}" for k in ekeys]
               + [sum(l.traffic[lvl][op] for l in result.layers) for lvl, op in tkeys]
               + [f"{sum(l.operand_energy_pj[lvl][op] for l in result.layers):.1f}" for lvl, op in okeys])
    return buf.getvalue()


def to_json(results: list[SimResult]) -> str:
    """JSON of one run (``model``, ``config``, ``layers``, ``total``) or of a comparison (``runs``)."""
    if len(results) == 1:
        return json.dumps(results[0].to_dict(), indent=1) + "\n"
    first = results[0]
    return json.dumps({"model": first.model, "config": first.config,
                       "runs": [r.to_dict() for r in results], **{k: v for k, v in first.to_dict().items()
                                                                  if k in ("layers", "total")}}, indent=1) + "\n"
