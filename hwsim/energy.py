"""Energy: the pricing of MACs and SRAM accesses, and the energy of each layer.

``E = MACs * e_mac(w_bits, a_bits) + sum_buffers(reads * e_sram + writes * e_sram * write_factor)
+ DRAM bytes * e_dram + requantized outputs * e_requant + vector element ops * e_vector
+ static power * time``. The table's values and provenance are in :mod:`hwsim.config`
(defaults from Horowitz, ISSCC 2014); int4 MACs on int4 PEs use ``mac_int4_pj``, int8
on int4 PEs costs ``passes`` int4 MACs, float layers ``mac_float_pj``.
"""

from __future__ import annotations

import math
from dataclasses import replace

from hwsim.config import HwConfig
from rtl.arch import FLOAT_BITS

__all__ = ["layer_energy_pj", "ENERGY_KEYS", "sram_pj_per_byte", "sram_pj", "mac_pj", "with_unlimited_sram",
           "OPERANDS", "operand_traffic", "operand_energy_pj"]

#: Operands of a MAC layer, ZigZag style: input activations, weights, outputs / partial sums.
OPERANDS = ("input", "weight", "output")
_BUFFER = {"input": "ifmap", "weight": "weight", "output": "ofmap"}

ENERGY_KEYS = ("mac", "sram", "dram", "requant", "vector", "static", "total")


def sram_pj_per_byte(size_bytes: int) -> float:
    """Read energy per byte of an SRAM of ``size_bytes`` (Horowitz ISSCC'14, 45 nm).

    Log-log interpolation (and extrapolation) through 8 KB -> 10 pJ, 32 KB -> 20 pJ,
    1 MB -> 100 pJ per 64-bit read, divided by 8 bytes.
    """
    points = ((8 * 1024, 10.0), (32 * 1024, 20.0), (1024 * 1024, 100.0))
    x = math.log(max(size_bytes, 1))
    (x0, y0), (x1, y1) = (points[0], points[1]) if size_bytes <= points[1][0] else (points[1], points[2])
    lx0, lx1 = math.log(x0), math.log(x1)
    ly = math.log(y0) + (math.log(y1) - math.log(y0)) * (x - lx0) / (lx1 - lx0)
    return math.exp(ly) / 8.0


def sram_pj(cfg: HwConfig, buffer: str) -> float:
    """Read energy per byte of ``buffer`` ('ifmap', 'weight', 'ofmap') of ``cfg``, pJ (0 in the table: from its size)."""
    value = getattr(cfg.energy, f"{buffer}_sram_pj_per_byte")
    return value if value > 0 else sram_pj_per_byte(getattr(cfg.memory, f"{buffer}_sram_bytes"))


def mac_pj(cfg: HwConfig, w_bits: int, a_bits: int) -> float:
    """Energy of one layer MAC at this precision, pJ (passes x native PE MAC energy; float MACs for 32 bits)."""
    if FLOAT_BITS in (w_bits, a_bits):
        return cfg.energy.mac_float_pj
    native = cfg.energy.mac_int4_pj if cfg.array.pe_bits == 4 else cfg.energy.mac_int8_pj
    return native * cfg.mac_passes(w_bits, a_bits)


def with_unlimited_sram(cfg: HwConfig) -> HwConfig:
    """A copy whose SRAMs hold any layer in one tile (SCALE-Sim's capacity-free formula).

    The energy per byte of each buffer stays that of its configured size.
    """
    prov = dict(cfg.provenance)
    big = 2**40
    for n in ("ifmap", "weight", "ofmap"):
        prov[f"memory.{n}_sram_bytes"] = "[user: unlimited]"
    mem = replace(cfg.memory, ifmap_sram_bytes=big, weight_sram_bytes=big, ofmap_sram_bytes=big)
    energy = replace(cfg.energy, **{f"{n}_sram_pj_per_byte": sram_pj(cfg, n) for n in ("ifmap", "weight", "ofmap")})
    return replace(cfg, memory=mem, energy=energy, provenance=prov)


def layer_energy_pj(cfg: HwConfig, *, macs: int, w_bits: int, a_bits: int, sram: dict[str, int],
                    dram_bytes: int, requant_ops: int, vector_ops: int, cycles: int) -> dict[str, float]:
    """Energy breakdown of one layer in pJ (keys :data:`ENERGY_KEYS`).

    Parameters
    ----------
    sram
        Bytes per access type: ``ifmap_read``, ``ifmap_write``, ``weight_read``,
        ``weight_write``, ``ofmap_read``, ``ofmap_write``.
    """
    e = cfg.energy
    mac = macs * mac_pj(cfg, w_bits, a_bits) if macs else 0.0
    sram_total = 0.0
    for buf in ("ifmap", "weight", "ofmap"):
        per = sram_pj(cfg, buf)
        sram_total += sram[f"{buf}_read"] * per + sram[f"{buf}_write"] * per * e.sram_write_factor
    out = {
        "mac": mac,
        "sram": sram_total,
        "dram": dram_bytes * e.dram_pj_per_byte,
        "requant": requant_ops * e.requant_op_pj,
        "vector": vector_ops * e.vector_op_pj,
        "static": e.static_mw * cycles / cfg.clock_mhz * 1e3,
    }
    out["total"] = sum(out.values())
    return out


def operand_traffic(totals: dict[str, int], pe_beats: int) -> dict[str, dict[str, int]]:
    """Accesses per memory level and operand (ZigZag style) from a schedule's tile totals.

    ``pe``: operand beats at the PE registers (each MAC beat reads an input and a weight register
    and updates an accumulator: ``pe_beats`` = MACs x passes each); ``sram_read`` / ``sram_write``:
    bytes read / written in the operand's buffer (input, weight, output buffers; the output buffer
    carries int32 partial sums); ``dram``: bytes loaded (input, weight) and stored (output).
    """
    t = totals
    return {
        "pe": {"input": pe_beats, "weight": pe_beats, "output": pe_beats},
        "sram_read": {"input": t["ifmap_read_bytes"], "weight": t["weight_read_bytes"],
                      "output": t["ofmap_read_bytes"]},
        "sram_write": {"input": t["load_ifmap_bytes"], "weight": t["load_weight_bytes"],
                       "output": t["ofmap_write_bytes"]},
        "dram": {"input": t["load_ifmap_bytes"], "weight": t["load_weight_bytes"], "output": t["store_bytes"]},
    }


def operand_energy_pj(cfg: HwConfig, traffic: dict[str, dict[str, int]]) -> dict[str, dict[str, float]]:
    """Energy (pJ) per memory level (``sram``, ``dram``) and operand of :func:`operand_traffic`.

    PE-register accesses have no entry in the energy table (their cost is inside the MAC energy).
    The sums over operands equal the ``sram`` and ``dram`` entries of :func:`layer_energy_pj`.
    """
    e = cfg.energy
    sram = {op: traffic["sram_read"][op] * sram_pj(cfg, _BUFFER[op])
            + traffic["sram_write"][op] * sram_pj(cfg, _BUFFER[op]) * e.sram_write_factor for op in OPERANDS}
    dram = {op: traffic["dram"][op] * e.dram_pj_per_byte for op in OPERANDS}
    return {"sram": sram, "dram": dram}
