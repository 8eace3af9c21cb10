"""Energy per layer from access counts and the configuration's energy table.

``E = MACs * e_mac(w_bits, a_bits) + sum_buffers(reads * e_sram + writes * e_sram * write_factor)
+ DRAM bytes * e_dram + requantized outputs * e_requant + vector element ops * e_vector
+ static power * time``. The table's values and provenance are in :mod:`hwsim.config`
(defaults from Horowitz, ISSCC 2014); int4 MACs on int4 PEs use ``mac_int4_pj``, int8
on int4 PEs costs ``passes`` int4 MACs, float layers ``mac_float_pj``.
"""

from __future__ import annotations

from hwsim.config import HwConfig

__all__ = ["layer_energy_pj", "ENERGY_KEYS"]

ENERGY_KEYS = ("mac", "sram", "dram", "requant", "vector", "static", "total")


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
    mac = macs * cfg.mac_pj(w_bits, a_bits) if macs else 0.0
    sram_pj = 0.0
    for buf in ("ifmap", "weight", "ofmap"):
        per = cfg.sram_pj(buf)
        sram_pj += sram[f"{buf}_read"] * per + sram[f"{buf}_write"] * per * e.sram_write_factor
    out = {
        "mac": mac,
        "sram": sram_pj,
        "dram": dram_bytes * e.dram_pj_per_byte,
        "requant": requant_ops * e.requant_op_pj,
        "vector": vector_ops * e.vector_op_pj,
        "static": e.static_mw * cycles / cfg.clock_mhz * 1e3,
    }
    out["total"] = sum(out.values())
    return out
