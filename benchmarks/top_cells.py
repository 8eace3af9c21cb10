"""Yosys cell counts of the accelerator top (rtl/top) with its SRAMs kept as black boxes.

Usage: ``python benchmarks/top_cells.py CONFIG [CONFIG ...]`` (preset names or TOML files).
Prints, per configuration, the gate-level logic cells after generic synthesis
(:func:`rtl.export.yosys_cells_with_memories`), the flip-flops among them, and every
memory (words x width = bits, ports), plus the export and synthesis times.
"""

import sys
import time

from hwsim.app.rtltop import top_arch
from hwsim.configfile import load_config
from rtl.export import to_verilog, yosys_cells_with_memories
from rtl.top.top import Accelerator


def main(configs: list[str]) -> None:
    for name in configs:
        cfg = load_config(name)
        t0 = time.perf_counter()
        verilog = to_verilog(Accelerator(top_arch(cfg)), "hwsim_top", uninitialized_memories=True)
        t1 = time.perf_counter()
        counts, memories = yosys_cells_with_memories(verilog, "hwsim_top")
        t2 = time.perf_counter()
        flops = sum(n for cell, n in counts.items() if "DFF" in cell)
        arr = cfg.arch
        print(f"{cfg.name}: {arr.rows}x{arr.cols} array, PE {arr.pe_bits} bit, modes {list(arr.mac_modes)}, "
              f"{arr.requant_lanes} requant lanes; logic cells {counts['logic']:,} (flip-flops {flops:,}); "
              f"{len(memories)} memories, {sum(m['bits'] for m in memories):,} bits; "
              f"export {t1 - t0:.1f} s, synthesis {t2 - t1:.1f} s")
        for m in memories:
            print(f"  memory {m['words']} x {m['width']} bit = {m['bits']:,} bits, "
                  f"{m['read_ports']} read / {m['write_ports']} write ports")


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit("usage: python benchmarks/top_cells.py CONFIG [CONFIG ...]")
    main(sys.argv[1:])
