"""The configuration as a table: every field with its value, unit and provenance.

Derived values are shown as what the model uses: an SRAM energy of 0 in the table is
priced from the buffer's size (:func:`hwsim.energy.sram_pj`), and the RTL's pipeline
constants are listed with their ``[rtl]`` provenance.
"""

from __future__ import annotations

from dataclasses import fields

from hwsim.config import CONFIG_SECTIONS, TOP_FIELDS, HwConfig
from hwsim.energy import sram_pj
from rtl.timing import MAC_CYCLES, REQUANT_PIPELINE_CYCLES

__all__ = ["describe_config", "config_dict"]


def describe_config(cfg: HwConfig) -> list[tuple[str, str, str, str]]:
    """``(field, value, unit, provenance)`` rows of every field of ``cfg``, incl. derived ones."""
    rows = []
    for key, (unit, _doc, _prov) in TOP_FIELDS.items():
        rows.append((key, str(getattr(cfg, key)), unit, cfg.provenance.get(key, _prov)))
    for section, cls in CONFIG_SECTIONS.items():
        obj = getattr(cfg, section)
        for f in fields(cls):
            value = getattr(obj, f.name)
            prov = cfg.provenance.get(f"{section}.{f.name}", f.metadata["prov"])
            shown = value
            if section == "energy" and f.name.endswith("_sram_pj_per_byte") and value <= 0:
                shown = f"{sram_pj(cfg, f.name.split('_')[0]):.3f} (from size)"
            rows.append((f"{section}.{f.name}", str(shown), f.metadata["unit"], prov))
    rows.append(("requant_pipeline_cycles", str(REQUANT_PIPELINE_CYCLES), "cycles",
                 "[rtl: rtl/timing.py REQUANT_PIPELINE_CYCLES]"))
    rows.append(("mac_cycles", str(MAC_CYCLES), "cycles", "[rtl: rtl/timing.py MAC_CYCLES]"))
    return rows


def config_dict(cfg: HwConfig) -> dict:
    """JSON-ready: every field of ``cfg`` with value, unit and provenance."""
    return {"name": cfg.name,
            "fields": {k: {"value": v, "unit": u, "provenance": p} for k, v, u, p in describe_config(cfg)}}
