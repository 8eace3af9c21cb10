"""The RTL accelerator top (``rtl/top``) a configuration describes: its :class:`rtl.top.program.TopArch` and
RAMs (application layer: the simulator's floors import only ``rtl.timing`` and ``rtl.arch``)."""

from __future__ import annotations

from hwsim.area import sram_bits
from hwsim.config import HwConfig
from rtl.top.program import TopArch

__all__ = ["top_arch", "builds_top", "ram_bits"]


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
                       ofmap_sram_bytes=m.ofmap_sram_bytes, bus_bytes=int(bw), program_words=m.program_words)
    except ValueError as exc:
        raise ValueError(f"config '{cfg.name}': {exc}") from None


def builds_top(cfg: HwConfig) -> bool:
    """``cfg`` describes an RTL top that can be built (:attr:`hwsim.config.HwConfig.on_rtl_top` and a bus width
    that :func:`top_arch` accepts)."""
    if not cfg.on_rtl_top:
        return False
    try:
        top_arch(cfg)
    except ValueError:
        return False  # e.g. a bandwidth that is no bus width
    return True


def ram_bits(cfg: HwConfig) -> tuple[tuple[str, int], ...]:
    """``(name, bits)`` of ``cfg``'s RAMs for the area model (:func:`hwsim.area.estimate_area`): the RTL top's
    own (:meth:`rtl.top.program.TopArch.memories`: input, weight, parameter, output and program memories)
    where ``cfg`` describes a top that can be built, else the three SRAMs."""
    if builds_top(cfg):
        return tuple((name, words * width) for name, words, width in top_arch(cfg).memories())
    return sram_bits(cfg)
