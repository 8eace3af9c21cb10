"""Text, CSV and JSON reports of simulation results."""

from __future__ import annotations

import csv
import io
import json

from rich.markup import escape
from rich.table import Table

from hwsim.config import HwConfig
from hwsim.describe import describe_config
from hwsim.stats import SimResult

__all__ = ["layer_table", "totals_table", "compare_table", "energy_table", "to_csv", "to_json"]

CSV_COLUMNS = ("name", "op", "part", "unit", "w_bits", "a_bits", "macs", "cycles", "compute_cycles",
               "stall_cycles", "utilization", "dram_read_bytes", "dram_write_bytes", "sram_read_bytes",
               "sram_write_bytes", "bound", "roofline_cycles", "tiles")


def layer_table(result: SimResult) -> Table:
    """Per-layer table: MACs, cycles split into compute and stall, utilisation, DRAM, bound, energy."""
    t = Table(title=f"{result.model} on {result.config['name']} ({result.mode} path{', ' + result.bits if result.bits else ''})")
    for col, just in (("layer", "left"), ("op", "left"), ("bits", "right"), ("MMAC", "right"),
                      ("kcycles", "right"), ("compute", "right"), ("stall", "right"), ("util %", "right"),
                      ("DRAM KB", "right"), ("bound", "left"), ("energy uJ", "right")):
        t.add_column(col, justify=just)
    for l in result.layers:
        t.add_row(escape(l.name), l.op, f"w{l.w_bits}a{l.a_bits}", f"{l.macs / 1e6:.1f}", f"{l.cycles / 1e3:.1f}",
                  f"{l.compute_cycles / 1e3:.1f}", f"{l.stall_cycles / 1e3:.1f}", f"{100 * l.utilization:.1f}",
                  f"{(l.dram_read_bytes + l.dram_write_bytes) / 1024:.0f}", l.bound,
                  f"{l.energy_pj['total'] / 1e6:.2f}")
    return t


def totals_table(result: SimResult) -> Table:
    """Totals: latency, frames/s, energy per frame and its split, utilisation, DRAM MB per frame."""
    tot = result.total
    t = Table(title="Totals per frame")
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


def compare_table(results: list[SimResult]) -> Table:
    """Side-by-side totals of runs at different bit widths."""
    t = Table(title=f"{results[0].model} on {results[0].config['name']}: bit-width comparison")
    t.add_column("metric")
    for r in results:
        t.add_column(r.bits, justify="right")
    keys = (("latency (ms)", "latency_ms", "{:.3f}"), ("frames/s", "fps", "{:.2f}"),
            ("energy per frame (mJ)", "energy_mj", "{:.3f}"), ("utilisation (%)", "utilization", "{:.1%}"),
            ("DRAM MB per frame", "dram_mb", "{:.2f}"), ("cycles", "cycles", "{:,}"))
    totals = [r.total for r in results]
    for label, key, fmt in keys:
        t.add_row(label, *[fmt.format(tot[key]).rstrip("%") if key != "utilization" else f"{100 * tot[key]:.1f}"
                           for tot in totals])
    return t


def energy_table(cfg: HwConfig) -> Table:
    """The energy table in use, with units and provenance."""
    t = Table(title=escape(f"Energy table of '{cfg.name}' (override any field in a TOML [energy] table)"))
    for col in ("field", "value", "unit", "provenance"):
        t.add_column(col)
    for name, value, unit, prov in describe_config(cfg):
        if name.startswith("energy."):
            t.add_row(name[7:], value, unit, escape(prov))
    return t


def to_csv(result: SimResult) -> str:
    """Per-layer CSV (energy columns in pJ) plus a final TOTAL row."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    ekeys = list(result.layers[0].energy_pj) if result.layers else []
    w.writerow([*CSV_COLUMNS, *(f"energy_{k}_pj" for k in ekeys)])
    for l in result.layers:
        d = l.to_dict()
        w.writerow([d[c] for c in CSV_COLUMNS] + [f"{l.energy_pj[k]:.1f}" for k in ekeys])
    tot = result.total
    w.writerow(["TOTAL", "", "", "", "", "", tot["macs"], tot["cycles"], tot["compute_cycles"], tot["stall_cycles"],
                f"{tot['utilization']:.6f}", "", "", tot["sram_read_bytes"], tot["sram_write_bytes"], "", "", ""]
               + [f"{tot['energy_breakdown_mj'][k] * 1e9:.1f}" for k in ekeys])
    return buf.getvalue()


def to_json(results: list[SimResult]) -> str:
    """JSON of one run (``model``, ``config``, ``layers``, ``total``) or of a comparison (``runs``)."""
    if len(results) == 1:
        return json.dumps(results[0].to_dict(), indent=1) + "\n"
    first = results[0]
    return json.dumps({"model": first.model, "config": first.config,
                       "runs": [r.to_dict() for r in results], **{k: v for k, v in first.to_dict().items()
                                                                  if k in ("layers", "total")}}, indent=1) + "\n"
