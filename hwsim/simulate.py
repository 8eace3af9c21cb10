"""Whole-network simulation: graph + config -> schedule -> engine -> stats -> energy."""

from __future__ import annotations

from collections.abc import Callable

from hwsim import costs
from hwsim.config import HwConfig
from hwsim.describe import config_dict
from hwsim.energy import layer_energy_pj, operand_energy_pj, operand_traffic
from hwsim.engine import LayerEngine
from hwsim.fastpath import simulate_tree_drain
from hwsim.stats import LayerResult, SimResult
from hwsim.compiler.compiler import compile_layer
from hwsim.compiler.dma import program_cycles
from hwsim.compiler.schedule import LayerSchedule
from sw.graph.ir import Graph, Layer, Op

__all__ = ["simulate_graph", "layer_timing", "layer_cycles", "layer_result", "prefetch_hidden", "MODES"]

MODES = ("fast", "event")


def prefetch_hidden(layer: Layer, sched: LayerSchedule, cfg: HwConfig, cycles: int,
                    prev: tuple[str, int, int]) -> int:
    """Cycles of ``layer`` hidden under the previous layer's drain [assumed model].

    ``prev`` = (name, drain, port-free cycles of the drain) of the previous layer. The first tile's
    weights (and its inputs unless they are the previous layer's output) may load while the previous
    layer drains (requantization tail, last stores): if the whole first load is prefetchable it hides
    ``min(drain, latency + min(load cycles, port-free cycles))``, else only the weight part of the port
    time, ``min(port-free cycles, weight load cycles)``. Never more than ``cycles - compute``.
    """
    first = next(iter(sched.tiles()), None)
    if first is None or not first.load_bytes:
        return 0
    name, drain, port_free = prev
    bw = cfg.memory.dram_bytes_per_cycle
    if name not in layer.inputs:
        hidden = min(drain, cfg.memory.dram_latency_cycles + min(costs.dram_cycles(first.load_bytes, bw), port_free))
    else:
        hidden = min(port_free, costs.dram_cycles(first.load_weight_bytes, bw))
    t = sched.totals()
    compute = t["compute_cycles"] + (first.tail_cycles if t["compute_cycles"] else 0)
    return max(0, min(hidden, cycles - compute))


def layer_result(layer: Layer, sched: LayerSchedule, cfg: HwConfig, cycles: int, hidden: int = 0) -> LayerResult:
    """Statistics and energy of one layer given its simulated ``cycles`` (``hidden``: cycles overlapped with
    the previous layer's drain, already subtracted)."""
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
        traffic=traffic, operand_energy_pj=operand_energy_pj(cfg, traffic), hidden_cycles=hidden,
    )


def layer_timing(sched: LayerSchedule, cfg: HwConfig, mode: str = "fast", memo: dict | None = None
                 ) -> tuple[int, int, int]:
    """``(cycles, drain, last store)`` of one layer's schedule on ``cfg``.

    ``cycles``: its tiles' cycles (``mode`` ``fast``: :func:`hwsim.fastpath.simulate_tree_drain`, ``event``:
    :class:`hwsim.engine.LayerEngine`) plus the controller's program cycles where the RTL top runs the
    layer (:func:`hwsim.compiler.dma.program_cycles`); ``drain``: cycles from the tiles' last compute end
    to their end; ``last store``: DRAM port cycles of the last tile's store. ``memo`` (fast mode): results
    by loop tree, for layers that share one.
    """
    bw, lat = cfg.memory.dram_bytes_per_cycle, cfg.memory.dram_latency_cycles
    if mode == "fast":
        memo = {} if memo is None else memo
        hit = memo.get(id(sched.root))
        if hit is None:
            hit = memo[id(sched.root)] = (sched.root, simulate_tree_drain(sched.root, bw, lat))
        cycles, drain, last_store = hit[1]
    elif mode == "event":
        eng = LayerEngine(sched.tiles(), bw, lat)
        cycles = eng.run()
        last = next(iter(reversed(eng.tiles)), None)
        drain = cycles - eng.last_compute_end if last else 0
        last_store = costs.dram_cycles(last.store_bytes, bw) if last else 0
    else:
        raise ValueError(f"mode: expected one of {', '.join(MODES)}, got {mode!r}")
    return cycles + program_cycles(cfg, Op(sched.op), sched.unit), drain, last_store


def layer_cycles(sched: LayerSchedule, cfg: HwConfig, mode: str = "fast") -> int:
    """Cycles of one layer's schedule, program cycles included (:func:`layer_timing`)."""
    return layer_timing(sched, cfg, mode)[0]


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
    layers = graph.layers if progress is None else progress(graph.layers)
    results = []
    prev: tuple[str, int, int] | None = None  # (name, drain cycles, port-free cycles of the drain)
    timed: dict[int, tuple] = {}  # fast-path results of the loop trees (layer_timing)
    for layer in layers:
        if layer.macs:
            cfg.mac_passes(layer.w_bits, layer.a_bits, f"layer '{layer.name}': ")
        sched = compile_layer(layer, cfg)
        cycles, drain, last_store = layer_timing(sched, cfg, mode, timed)
        hidden = 0
        if cfg.memory.prefetch_next_layer and prev is not None:
            hidden = prefetch_hidden(layer, sched, cfg, cycles, prev)
        results.append(layer_result(layer, sched, cfg, cycles - hidden, hidden))
        prev = (layer.name, drain, max(0, drain - last_store))
    return SimResult(model=graph.name, config=config_dict(cfg), layers=tuple(results), clock_mhz=cfg.clock_mhz,
                     peak_macs_per_cycle=cfg.peak_macs_per_cycle, mode=mode, bits=bits)
