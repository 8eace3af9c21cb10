"""Area estimate of a configuration from cell counts measured on the RTL.

Model (units: generic Yosys cells and SRAM bits; docs/sweep.md)::

    logic_cells = rows * cols * mac_cells[pe_bits] + requant_lanes * requant_cells[max(mac_modes) + 1]
    sram_bits   = bits of the RAMs (below)
    area_cells  = logic_cells + SRAM_BIT_CELLS * sram_bits

RAMs: ``rams`` as the caller gives them, by default the three SRAMs, ``8 * (ifmap_sram_bytes +
weight_sram_bytes + ofmap_sram_bytes)``; the sweep passes the RTL top's own RAMs where the
configuration describes a top that can be built (:func:`hwsim.app.rtltop.ram_bits`: input, weight,
parameter, output and program memories, the sizes its generated Verilog declares). The top's
controller, DMA engine and compute unit are not in
``logic_cells`` (docs/rtl.md lists the whole top's synthesised cells).

``mac_cells`` and ``requant_cells`` are measured by generic gate synthesis (``synth -flatten``,
:func:`rtl.export.yosys_cell_counts`) of ``rtl/mac.py`` ``MacPE`` (with its shadow register; the
int4 PE with the int8 digit mode, as the presets use it) and ``rtl/requant.py`` and stored in
``hwsim/data/rtl_area.json``; regenerate with ``python -m hwsim.app.area_measure --regenerate``.
The MAC is measured at one accumulator depth (``max_depth``); a configuration with another
``array.max_depth`` has no area estimate (``None``) rather than a guessed one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from types import MappingProxyType
from typing import Mapping

from hwsim.config import HwConfig

__all__ = ["AreaTable", "AreaEstimate", "SRAM_BIT_CELLS", "load_area_table", "estimate_area", "sram_bits"]

#: Area of one SRAM bit in generic-cell equivalents [assumed]: a 45 nm 6T bit cell of 0.346 um^2
#: (Intel 45 nm, Mistry et al., IEDM 2007) at ~70 % array efficiency (decoders, sense amplifiers)
#: is ~0.5 um^2, against ~2 um^2 for an average generic cell (Nangate 45 nm open cell library:
#: NAND2_X1 0.80 um^2 ... DFF_X1 4.52 um^2; the measured MAC is about one third flip-flops).
SRAM_BIT_CELLS = 0.25

#: MAC modes the PE of each width is synthesised with: the presets' (int4 PEs with int8 digits).
MEASURED_MAC_MODES = MappingProxyType({4: (4, 8), 8: (8,)})


@dataclass(frozen=True)
class AreaTable:
    """Measured cell counts (generic Yosys cells after ``synth -flatten``).

    Attributes
    ----------
    max_depth : int
        Reduction depth the MAC PE was elaborated for (sets its accumulator width), operand beats.
    mac_cells : Mapping[int, int]
        PE operand width (bits) -> cells of one ``rtl.mac.MacPE``.
    requant_cells : Mapping[int, int]
        Output code width (bits) -> cells of one ``rtl.requant.RequantUnit``.
    tools : Mapping[str, str]
        Package -> version of the tools that produced the counts (provenance).
    """

    max_depth: int
    mac_cells: Mapping[int, int]
    requant_cells: Mapping[int, int]
    tools: Mapping[str, str]

    def to_dict(self) -> dict:
        """JSON-ready form (integer keys as strings)."""
        return {"max_depth": self.max_depth,
                "mac_cells": {str(k): v for k, v in sorted(self.mac_cells.items())},
                "requant_cells": {str(k): v for k, v in sorted(self.requant_cells.items())},
                "tools": dict(sorted(self.tools.items())),
                "regenerate": "python -m hwsim.app.area_measure --regenerate"}

    @classmethod
    def from_dict(cls, data: dict) -> AreaTable:
        """Inverse of :meth:`to_dict`."""
        return cls(max_depth=int(data["max_depth"]),
                   mac_cells=MappingProxyType({int(k): int(v) for k, v in data["mac_cells"].items()}),
                   requant_cells=MappingProxyType({int(k): int(v) for k, v in data["requant_cells"].items()}),
                   tools=MappingProxyType(dict(data["tools"])))


@dataclass(frozen=True)
class AreaEstimate:
    """Area of one configuration.

    Attributes
    ----------
    logic_cells : int
        PE array plus requantization units, generic Yosys cells.
    sram_bits : int
        Capacity of the RAMs (module docstring), bits.
    memories : tuple[tuple[str, int], ...]
        ``(name, bits)`` of each RAM counted in ``sram_bits``.
    area_cells : float
        ``logic_cells + SRAM_BIT_CELLS * sram_bits``, generic-cell equivalents.
    """

    logic_cells: int
    sram_bits: int
    area_cells: float
    memories: tuple[tuple[str, int], ...] = ()


def load_area_table() -> AreaTable:
    """The curated measurements shipped in ``hwsim/data/rtl_area.json``."""
    text = resources.files("hwsim.data").joinpath("rtl_area.json").read_text(encoding="utf-8")
    return AreaTable.from_dict(json.loads(text))


def estimate_area(cfg: HwConfig, table: AreaTable, rams: tuple[tuple[str, int], ...] | None = None
                  ) -> AreaEstimate | None:
    """Area of ``cfg`` by the model in the module docstring (``rams``: ``(name, bits)`` of its RAMs, default
    :func:`sram_bits`); ``None`` if a count is not measured.

    ``None`` when ``cfg.array.max_depth`` differs from ``table.max_depth`` (another accumulator
    width), its PE has other MAC modes than the measured one (:data:`MEASURED_MAC_MODES`) or a
    width has no measured count.
    """
    a = cfg.array
    out_width = max(a.mac_modes) + 1
    if a.max_depth != table.max_depth or a.pe_bits not in table.mac_cells or out_width not in table.requant_cells \
            or tuple(a.mac_modes) != MEASURED_MAC_MODES.get(a.pe_bits):
        return None
    logic = a.rows * a.cols * table.mac_cells[a.pe_bits] + cfg.requant_lanes * table.requant_cells[out_width]
    rams = sram_bits(cfg) if rams is None else rams
    bits = sum(b for _, b in rams)
    return AreaEstimate(logic_cells=logic, sram_bits=bits, area_cells=logic + SRAM_BIT_CELLS * bits, memories=rams)


def sram_bits(cfg: HwConfig) -> tuple[tuple[str, int], ...]:
    """``(name, bits)`` of ``cfg``'s three SRAMs."""
    m = cfg.memory
    return (("ifmap", 8 * m.ifmap_sram_bytes), ("weight", 8 * m.weight_sram_bytes), ("ofmap", 8 * m.ofmap_sram_bytes))
