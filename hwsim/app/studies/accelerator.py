"""The imported real graphs (and zoo graphs) on simulator presets at int4 and int8; memory-bound layers.

A layer is memory-bound when its DRAM transfer cycles exceed its compute cycles
(:class:`hwsim.stats.LayerResult` ``bound``). The explanation is the roofline: its
operational intensity ``MACs / DRAM bytes`` is below the ridge point
``peak MACs per cycle / DRAM bytes per cycle`` of the preset at that width
(the peak counts the int8-on-int4 passes). Layers without MACs (add, concat,
upsample, pools, pads) have intensity 0: pure data movement.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from hwsim.config import HwConfig

from hwsim.configfile import load_config
from hwsim.simulate import simulate_graph
from hwsim.stats import LayerResult, SimResult
from sw.graph.ir import Graph

__all__ = ["PRESETS", "WIDTHS", "AcceleratorRun", "MemoryBound", "simulate_widths", "memory_bound_layers",
           "ridge_point"]

#: The default edge preset (16x16 int4 PEs) and the 32x32 native-int8 preset.
PRESETS = ("edge16_int4", "int8_32x32")
WIDTHS = (4, 8)


@dataclass(frozen=True)
class AcceleratorRun:
    """One simulation: preset, width (weights = activations), the result or the error that prevented it."""

    preset: str
    bits: int
    result: SimResult | None
    error: str = ""


def simulate_widths(graph: Graph, presets: Sequence[str] = PRESETS, widths: Sequence[int] = WIDTHS
                    ) -> tuple[AcceleratorRun, ...]:
    """``graph`` at every width on every preset (fast path); a layer that does not fit is recorded as an error."""
    runs = []
    for preset in presets:
        cfg = load_config(preset)
        for bits in widths:
            try:
                result = simulate_graph(graph.with_bits(default=(bits, bits)), cfg, bits=str(bits))
            except ValueError as exc:
                runs.append(AcceleratorRun(preset, bits, None, str(exc)))
            else:
                runs.append(AcceleratorRun(preset, bits, result))
    return tuple(runs)


def ridge_point(cfg: HwConfig, bits: int) -> float:
    """Roofline ridge ``peak MACs per cycle / DRAM bytes per cycle`` (MAC per byte) at ``bits``."""
    return cfg.peak_macs_per_cycle / cfg.mac_passes(bits, bits) / cfg.memory.dram_bytes_per_cycle


@dataclass(frozen=True)
class MemoryBound:
    """A memory-bound layer and why.

    Attributes
    ----------
    name, op
        The layer.
    macs, dram_bytes
        MACs and DRAM bytes (read + write) per frame.
    intensity
        MACs per DRAM byte.
    ridge
        The preset's ridge point at this width (MAC per byte).
    stall_share
        Stall cycles / cycles of the layer.
    reason
        One line.
    """

    name: str
    op: str
    macs: int
    dram_bytes: int
    intensity: float
    ridge: float
    stall_share: float
    reason: str


def _reason(layer: LayerResult, intensity: float, ridge: float) -> str:
    if not layer.macs:
        return "no MACs: pure data movement through DRAM"
    if layer.op == "depthwise":
        return (f"depthwise: K = kh*kw per output, one channel per array column; {intensity:.1f} MAC/B "
                f"< ridge {ridge:.1f}")
    return f"{intensity:.1f} MAC/B < ridge {ridge:.1f} (weights or feature maps streamed with little reuse)"


def memory_bound_layers(result: SimResult, cfg: HwConfig, bits: int) -> tuple[MemoryBound, ...]:
    """The result's memory-bound layers (simulated on ``cfg``), in graph order, with the roofline explanation."""
    ridge = ridge_point(cfg, bits)
    rows = []
    for layer in result.layers:
        if layer.bound != "memory":
            continue
        dram = layer.dram_read_bytes + layer.dram_write_bytes
        intensity = layer.macs / dram if dram else float("inf")
        rows.append(MemoryBound(layer.name, layer.op, layer.macs, dram, intensity, ridge,
                                layer.stall_cycles / layer.cycles if layer.cycles else 0.0,
                                _reason(layer, intensity, ridge)))
    return tuple(rows)
