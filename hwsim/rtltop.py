"""The RTL accelerator top (``rtl/top``) a configuration describes: its :class:`rtl.top.program.TopArch`."""

from __future__ import annotations

from hwsim.config import HwConfig
from rtl.top.program import TopArch

__all__ = ["describes_top", "top_arch"]


def describes_top(cfg: HwConfig) -> bool:
    """True when ``cfg``'s array is the one the RTL top builds and times: output stationary, RTL timing."""
    return cfg.array.dataflow == "os" and cfg.array.timing == "rtl"


def top_arch(cfg: HwConfig) -> TopArch:
    """The accelerator top of configuration ``cfg`` (array, buffer capacities, DRAM bus width).

    ValueError (naming the config) when the RTL cannot build it: the DRAM bandwidth must be a
    power of two bytes/cycle (the bus width) dividing every SRAM word.
    """
    bw = cfg.memory.dram_bytes_per_cycle
    try:
        if bw != int(bw):
            raise ValueError(f"memory.dram_bytes_per_cycle: the RTL top needs a power of two >= 1 "
                             f"bytes/cycle (its bus width), got {bw!r}")
        m = cfg.memory
        return TopArch(cfg.arch, ifmap_sram_bytes=m.ifmap_sram_bytes, weight_sram_bytes=m.weight_sram_bytes,
                       ofmap_sram_bytes=m.ofmap_sram_bytes, bus_bytes=int(bw))
    except ValueError as exc:
        raise ValueError(f"config '{cfg.name}': {exc}") from None
