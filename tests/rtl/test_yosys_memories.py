"""Yosys cell counts with memories kept as black boxes (rtl.export.yosys_cells_with_memories)."""

from amaranth import Module
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from rtl.export import to_verilog, yosys_cells_with_memories


class _RegisteredMemory(wiring.Component):
    """A 40 x 12-bit memory (one write, one synchronous read port) and a 12-bit output register."""

    addr: In(6)
    data: In(12)
    we: In(1)
    q: Out(12)

    def elaborate(self, platform) -> Module:
        m = Module()
        m.submodules.mem = mem = Memory(shape=12, depth=40, init=[])
        w, r = mem.write_port(), mem.read_port()
        m.d.comb += [w.addr.eq(self.addr), w.data.eq(self.data), w.en.eq(self.we), r.addr.eq(self.addr)]
        m.d.sync += self.q.eq(r.data)
        return m


def test_a_memory_stays_one_cell_with_its_size_listed():
    counts, memories = yosys_cells_with_memories(to_verilog(_RegisteredMemory(), "top"), "top")
    assert memories == [{"words": 40, "width": 12, "bits": 480, "read_ports": 1, "write_ports": 1}]
    assert counts["$mem_v2"] == 1
    # The 12 output flip-flops (reset to 0) are the only logic: the memory was not mapped to registers.
    flops = sum(n for cell, n in counts.items() if "DFF" in cell)
    assert flops == 12 and counts["logic"] == counts["total"] - 1
