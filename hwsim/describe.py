"""The configuration as a table: every field with its value, unit and provenance.

Derived values are shown as what the model uses: an SRAM energy of 0 in the table is
priced from the buffer's size (:func:`hwsim.energy.sram_pj`), and the RTL's pipeline
constants are listed with their ``[rtl]`` provenance.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from hwsim.config import CONFIG_SECTIONS, DATAFLOWS, MAX_CLOCK_MHZ, TIMINGS, TOP_FIELDS, HwConfig, format_limit
from hwsim.energy import sram_pj
from rtl.timing import MAC_CYCLES, REQUANT_PIPELINE_CYCLES

__all__ = ["ConfigRow", "describe_config", "config_dict", "reference_table"]


@dataclass(frozen=True)
class ConfigRow:
    """One configuration field as the model uses it.

    Attributes
    ----------
    field : str
        Dotted name (``array.rows``, ``clock_mhz``, ...).
    value : int | float | str | list
        The value in ``unit`` (JSON-typed: numbers are numbers, tuples are lists).
    unit : str
        Unit of ``value``.
    provenance : str
        Where the value comes from (``[assumed]``, ``[rtl: ...]``, ``[user: file]``, ...).
    derived : str
        How a value the table leaves at 0 was derived (e.g. ``from size``), else ``""``.
    """

    field: str
    value: int | float | str | list
    unit: str
    provenance: str
    derived: str = ""

    def shown(self) -> str:
        """The value as text, with its derivation."""
        text = f"{self.value:.3f}" if self.derived else str(self.value)
        return f"{text} ({self.derived})" if self.derived else text


def _typed(value: object) -> int | float | str | list:
    return list(value) if isinstance(value, tuple) else value


def describe_config(cfg: HwConfig) -> list[ConfigRow]:
    """Every field of ``cfg`` (incl. derived ones) with value, unit and provenance."""
    rows = [ConfigRow(field=key, value=_typed(getattr(cfg, key)), unit=unit, provenance=cfg.provenance.get(key, prov))
            for key, (unit, _doc, prov) in TOP_FIELDS.items()]
    for section, cls in CONFIG_SECTIONS.items():
        obj = getattr(cfg, section)
        for f in fields(cls):
            value = getattr(obj, f.name)
            prov = cfg.provenance.get(f"{section}.{f.name}", f.metadata["prov"])
            derived = ""
            if section == "energy" and f.name.endswith("_sram_pj_per_byte") and value <= 0:
                value, derived = sram_pj(cfg, f.name.split("_")[0]), "from size"
            rows.append(ConfigRow(field=f"{section}.{f.name}", value=_typed(value), unit=f.metadata["unit"],
                                  provenance=prov, derived=derived))
    rows.append(ConfigRow(field="requant_pipeline_cycles", value=REQUANT_PIPELINE_CYCLES, unit="cycles",
                          provenance="[rtl: rtl/timing.py REQUANT_PIPELINE_CYCLES]"))
    rows.append(ConfigRow(field="mac_cycles", value=MAC_CYCLES, unit="cycles", provenance="[rtl: rtl/timing.py MAC_CYCLES]"))
    return rows


def config_dict(cfg: HwConfig) -> dict:
    """JSON-ready: every field of ``cfg`` with its typed value, unit and provenance (and derivation)."""
    out = {}
    for r in describe_config(cfg):
        entry = {"value": r.value, "unit": r.unit, "provenance": r.provenance}
        if r.derived:
            entry["derived"] = r.derived
        out[r.field] = entry
    return {"name": cfg.name, "fields": out}


def _range(meta: dict) -> str:
    lo = ">= 0" if meta["zero_ok"] else "> 0"
    return f"{lo}, <= {format_limit(meta['hi'])}" if meta.get("hi") is not None else lo


def reference_table() -> str:
    """Markdown table of every configuration field: unit, accepted range, meaning, default provenance.

    ``docs/simulator.md`` embeds it verbatim (a test keeps the two equal).
    """
    rows = ["| field | unit | accepted values | meaning | default provenance |", "|---|---|---|---|---|"]
    top_ranges = {"name": "non-empty string", "clock_mhz": f"> 0, <= {format_limit(MAX_CLOCK_MHZ)}",
                  "requant_lanes": "a divisor of `array.cols`"}
    for key, (unit, doc, prov) in TOP_FIELDS.items():
        rows.append(f"| `{key}` | {unit} | {top_ranges[key]} | {doc} | {prov} |")
    special = {"array.pe_bits": "4 or 8", "array.mac_modes": "non-empty subset of [4, 8], none below `pe_bits`",
               "array.dataflow": ", ".join(f"`{d}`" for d in DATAFLOWS),
               "array.timing": ", ".join(f"`{d}`" for d in TIMINGS),
               "memory.prefetch_next_layer": "`true`, `false`"}
    for section, cls in CONFIG_SECTIONS.items():
        for f in fields(cls):
            name = f"{section}.{f.name}"
            accepted = special.get(name) or _range(f.metadata)
            rows.append(f"| `{name}` | {f.metadata['unit']} | {accepted} | {f.metadata['doc']} | {f.metadata['prov']} |")
    return "\n".join(rows) + "\n"
