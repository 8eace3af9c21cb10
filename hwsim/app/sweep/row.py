"""One sweep point -> one results row. The same function runs on local processes and Dask workers."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from hwsim.config import HwConfig

from hwsim.app.rtltop import builds_top, ram_bits
from hwsim.app.sweep.spec import Design, build_config, config_values
from hwsim.area import AreaTable, estimate_area, load_area_table
from hwsim.configfile import load_config
from hwsim.simulate import simulate_graph
from sw.graph.bits import parse_bits
from sw.graph import load_model, parse_input_shape
from sw.graph.ir import Graph

__all__ = ["Task", "run_task", "base_config", "METRICS"]

#: Result columns after ``key``, ``model``, ``bits`` and the swept fields, with units.
METRICS: dict[str, str] = {
    "macs": "MACs per frame",
    "cycles": "cycles per frame",
    "stall_cycles": "cycles per frame waiting for DRAM",
    "latency_ms": "ms per frame",
    "fps": "frames/s",
    "energy_mj": "mJ per frame",
    "utilization": "fraction of PE-cycles doing MACs",
    "dram_bytes": "DRAM bytes per frame (read + write)",
    "sram_read_bytes": "SRAM bytes read per frame",
    "sram_write_bytes": "SRAM bytes written per frame",
    "sram_bytes": "SRAM capacity, bytes (ifmap + weight + ofmap)",
    "pe_count": "PEs (rows x cols)",
    "logic_cells": "generic Yosys cells (PEs + requantization units, measured per unit; + control_cells)",
    "control_cells": "the RTL top's control logic, generic Yosys cells (a fit to syntheses; 0 where no top is built)",
    "sram_bits": "RAM capacity, bits (on the RTL top: its buffers, parameter and program memories)",
    "area_cells": "logic_cells + SRAM_BIT_CELLS x sram_bits, generic-cell equivalents",
}


@dataclass(frozen=True)
class Task:
    """Everything a worker needs for one point (picklable; no HwConfig, which holds a mappingproxy).

    Attributes
    ----------
    key : str
        :func:`hwsim.app.sweep.spec.point_key` of the point.
    model : str
        Zoo name or absolute model file path.
    bits : str
        ``hwsim simulate --bits`` spec; ``""`` = the model's widths.
    base : str
        Preset name or absolute config file path.
    design : Design
        Overrides of ``base``.
    fields : tuple[str, ...]
        Swept field paths to report as columns.
    source : str
        Sweep file name (for messages and provenance).
    input_shapes : tuple[str, ...]
        ``NAME=1x3xHxW`` pins of dynamic model inputs.
    """

    key: str
    model: str
    bits: str
    base: str
    design: Design
    fields: tuple[str, ...]
    source: str
    input_shapes: tuple[str, ...] = ()


@functools.lru_cache(maxsize=8)
def base_config(spec: str) -> HwConfig:
    return load_config(spec)


@functools.lru_cache(maxsize=64)
def _graph(model: str, bits: str, input_shapes: tuple[str, ...] = ()) -> Graph:
    graph = load_model(model, dict(parse_input_shape(t) for t in input_shapes) or None)
    if not bits:
        return graph
    return parse_bits(bits).apply(graph)


@functools.lru_cache(maxsize=1)
def _area_table() -> AreaTable:
    return load_area_table()


def run_task(task: Task) -> dict[str, Any]:
    """Simulate one point (fast mode) and return its row; a ValueError becomes ``{"key", ..., "error"}``.

    The row holds no timing or host data, so identical tasks give identical rows anywhere.
    """
    head: dict[str, Any] = {"key": task.key, "model": task.model, "bits": task.bits}
    try:
        cfg = build_config(base_config(task.base), task.design, task.source)
        total = simulate_graph(_graph(task.model, task.bits, task.input_shapes), cfg, bits=task.bits).total
    except ValueError as exc:
        return {**head, "design": task.design.label(), "error": str(exc)}
    rams = ram_bits(cfg)
    area = estimate_area(cfg, _area_table(), rams, top=builds_top(cfg))
    m = cfg.memory
    sram = m.ifmap_sram_bytes + m.weight_sram_bytes + m.ofmap_sram_bytes
    return {
        **head, **config_values(cfg, task.fields),
        "macs": total["macs"], "cycles": total["cycles"], "stall_cycles": total["stall_cycles"],
        "latency_ms": total["latency_ms"], "fps": total["fps"], "energy_mj": total["energy_mj"],
        "utilization": total["utilization"], "dram_bytes": total["dram_bytes"],
        "sram_read_bytes": total["sram_read_bytes"], "sram_write_bytes": total["sram_write_bytes"],
        "sram_bytes": sram, "pe_count": cfg.peak_macs_per_cycle,
        "logic_cells": area.logic_cells if area else None,
        "control_cells": area.control_cells if area else None,
        "sram_bits": sum(bits for _, bits in rams),
        "area_cells": area.area_cells if area else None,
    }
