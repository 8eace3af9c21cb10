"""Per-layer and whole-network results of a simulation (frozen, JSON-ready)."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["LayerResult", "SimResult"]


@dataclass(frozen=True)
class LayerResult:
    """One layer's simulated figures.

    Cycles are integer clock cycles; bytes are bytes; ``utilization`` is the fraction
    of PE-cycles doing useful MACs (an int8 MAC on int4 PEs uses ``passes`` PE-cycles);
    ``bound`` is ``compute`` when the compute cycles are at least the DRAM-transfer
    cycles, else ``memory``; ``energy_pj`` is the breakdown of :mod:`hwsim.energy`.
    """

    name: str
    op: str
    part: str
    unit: str
    w_bits: int
    a_bits: int
    macs: int
    cycles: int
    compute_cycles: int
    stall_cycles: int
    utilization: float
    dram_read_bytes: int
    dram_write_bytes: int
    sram_read_bytes: int
    sram_write_bytes: int
    bound: str
    roofline_cycles: int
    tiles: int
    energy_pj: dict = field(default_factory=dict)
    tiling: dict = field(default_factory=dict)
    traffic: dict = field(default_factory=dict)
    operand_energy_pj: dict = field(default_factory=dict)
    hidden_cycles: int = 0

    def to_dict(self) -> dict:
        return {
            "name": self.name, "op": self.op, "part": self.part, "unit": self.unit,
            "w_bits": self.w_bits, "a_bits": self.a_bits, "macs": self.macs, "cycles": self.cycles,
            "compute_cycles": self.compute_cycles, "stall_cycles": self.stall_cycles,
            "utilization": self.utilization, "dram_read_bytes": self.dram_read_bytes,
            "dram_write_bytes": self.dram_write_bytes, "sram_read_bytes": self.sram_read_bytes,
            "sram_write_bytes": self.sram_write_bytes, "bound": self.bound,
            "roofline_cycles": self.roofline_cycles, "tiles": self.tiles,
            "energy_pj": dict(self.energy_pj), "tiling": dict(self.tiling),
            "traffic": self.traffic, "operand_energy_pj": self.operand_energy_pj,
            "hidden_cycles": self.hidden_cycles,
        }


@dataclass(frozen=True)
class SimResult:
    """A whole-network simulation: model, config, layers and totals."""

    model: str
    config: dict
    layers: tuple[LayerResult, ...]
    clock_mhz: float
    peak_macs_per_cycle: int
    mode: str
    bits: str = ""

    @property
    def total(self) -> dict:
        """Totals: MACs, cycles, latency (ms), frames/s, energy (mJ), utilization, DRAM bytes."""
        cycles = sum(l.cycles for l in self.layers)
        macs = sum(l.macs for l in self.layers)
        pe_work = sum(l.utilization * l.cycles for l in self.layers)
        latency_ms = cycles / (self.clock_mhz * 1e3)
        energy = {k: sum(l.energy_pj[k] for l in self.layers) for k in self.layers[0].energy_pj} if self.layers else {}
        dram = sum(l.dram_read_bytes + l.dram_write_bytes for l in self.layers)
        return {
            "macs": macs,
            "cycles": cycles,
            "compute_cycles": sum(l.compute_cycles for l in self.layers),
            "stall_cycles": sum(l.stall_cycles for l in self.layers),
            "hidden_cycles": sum(l.hidden_cycles for l in self.layers),
            "latency_ms": latency_ms,
            "fps": 1e3 / latency_ms if latency_ms > 0 else float("inf"),
            "energy_mj": energy.get("total", 0.0) * 1e-9,
            "energy_breakdown_mj": {k: v * 1e-9 for k, v in energy.items()},
            "utilization": pe_work / cycles if cycles else 0.0,
            "dram_bytes": dram,
            "dram_mb": dram / 1e6,
            "sram_read_bytes": sum(l.sram_read_bytes for l in self.layers),
            "sram_write_bytes": sum(l.sram_write_bytes for l in self.layers),
        }

    def to_dict(self) -> dict:
        """JSON-ready: ``model``, ``config``, ``mode``, ``bits``, ``layers``, ``total``."""
        return {"model": self.model, "config": self.config, "mode": self.mode, "bits": self.bits,
                "layers": [l.to_dict() for l in self.layers], "total": self.total}
