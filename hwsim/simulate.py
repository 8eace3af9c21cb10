"""Whole-network simulation: graph + config -> schedule -> engine -> stats -> energy."""

from __future__ import annotations

from collections.abc import Callable

from hwsim import costs
from hwsim.config import HwConfig
from hwsim.describe import config_dict
from hwsim.energy import layer_energy_pj, operand_energy_pj, operand_traffic
from hwsim.engine import simulate_tiles_event
from hwsim.fastpath import simulate_tree
from hwsim.stats import LayerResult, SimResult
from hwsim.compiler.compiler import compile_layer
from hwsim.compiler.schedule import LayerSchedule
from sw.graph.ir import Graph, Layer

__all__ = ["simulate_graph", "layer_result", "MODES"]

MODES = ("fast", "event")


def layer_result(layer: Layer, sched: LayerSchedule, cfg: HwConfig, cycles: int) -> LayerResult:
    """Statistics and energy of one layer given its simulated ``cycles``."""
    t = sched.totals()
    tail = next((tile.tail_cycles for tile in sched.tiles()), 0) if t["compute_cycles"] else 0
    compute = t["compute_cycles"] + tail
    passes = cfg.mac_passes(layer.w_bits, layer.a_bits) if layer.macs and sched.unit in ("array", "float") else 0
    if sched.unit == "array" and passes:
        peak = cfg.peak_macs_per_cycle / passes
        util = layer.macs / (cycles * peak) if cycles else 0.0
    else:
        peak = cfg.vector.float_macs_per_cycle if sched.unit == "float" else 0
        util = 0.0
    dram_r, dram_w = t["load_ifmap_bytes"] + t["load_weight_bytes"], t["store_bytes"]
    bw = cfg.memory.dram_bytes_per_cycle
    dram_cyc = costs.dram_cycles(dram_r + dram_w, bw)
    roof = max(-(-layer.macs // int(peak)) if peak and layer.macs else 0, dram_cyc)
    sram = {"ifmap_read": t["ifmap_read_bytes"], "ifmap_write": t["load_ifmap_bytes"],
            "weight_read": t["weight_read_bytes"], "weight_write": t["load_weight_bytes"],
            "ofmap_read": t["ofmap_read_bytes"], "ofmap_write": t["ofmap_write_bytes"]}
    energy = layer_energy_pj(cfg, macs=layer.macs, w_bits=layer.w_bits, a_bits=layer.a_bits, sram=sram,
                             dram_bytes=dram_r + dram_w, requant_ops=t["requant_ops"],
                             vector_ops=t["vector_ops"], cycles=cycles)
    traffic = operand_traffic(t, layer.macs * passes if sched.unit == "array" else layer.macs)
    return LayerResult(
        name=layer.name, op=layer.op.value, part=layer.part.value, unit=sched.unit,
        w_bits=layer.w_bits, a_bits=layer.a_bits, macs=layer.macs, cycles=cycles,
        compute_cycles=compute, stall_cycles=max(0, cycles - compute), utilization=util,
        dram_read_bytes=dram_r, dram_write_bytes=dram_w,
        sram_read_bytes=sram["ifmap_read"] + sram["weight_read"] + sram["ofmap_read"],
        sram_write_bytes=sram["ifmap_write"] + sram["weight_write"] + sram["ofmap_write"],
        bound="compute" if compute >= dram_cyc else "memory", roofline_cycles=roof,
        tiles=t["tiles"], energy_pj=energy, tiling=dict(sched.tiling),
        traffic=traffic, operand_energy_pj=operand_energy_pj(cfg, traffic),
    )


def simulate_graph(graph: Graph, cfg: HwConfig, *, mode: str = "fast", bits: str = "",
                   progress: Callable | None = None) -> SimResult:
    """Simulate every layer of ``graph`` on ``cfg``.

    Parameters
    ----------
    mode
        ``fast`` (loop trees with steady-state replication, :mod:`hwsim.fastpath`) or
        ``event`` (every tile through the simpy engine, :mod:`hwsim.engine`).
    progress
        Optional wrapper over the layer iterable (e.g. ``tqdm``).

    Raises
    ------
    ValueError
        Unknown mode, unsupported bit widths or a layer that does not fit the SRAMs.
    """
    if mode not in MODES:
        raise ValueError(f"mode: expected one of {', '.join(MODES)}, got {mode!r}")
    bw, lat = cfg.memory.dram_bytes_per_cycle, cfg.memory.dram_latency_cycles
    layers = graph.layers if progress is None else progress(graph.layers)
    results = []
    for layer in layers:
        if layer.macs:
            cfg.mac_passes(layer.w_bits, layer.a_bits, f"layer '{layer.name}': ")
        sched = compile_layer(layer, cfg)
        if mode == "fast":
            cycles = simulate_tree(sched.root, bw, lat)
        else:
            cycles = simulate_tiles_event(sched.tiles(), bw, lat)
        results.append(layer_result(layer, sched, cfg, cycles))
    return SimResult(model=graph.name, config=config_dict(cfg), layers=tuple(results), clock_mhz=cfg.clock_mhz,
                     peak_macs_per_cycle=cfg.peak_macs_per_cycle, mode=mode, bits=bits)
