"""Testbench DRAM with the configuration's bandwidth and latency, and the bench around the top.

:class:`DramModel` accepts one request per cycle (the bus word is ``bus_bytes`` =
``memory.dram_bytes_per_cycle`` bytes, so the port moves exactly the configured bytes
per cycle) and returns the word of a read accepted in cycle ``t`` in cycle
``t + latency`` (``memory.dram_latency_cycles``, first data after the request; reads
are pipelined, as in the simulator). Writes are posted: stored when accepted.

:class:`TopBench` is :class:`rtl.top.top.Accelerator` plus a :class:`DramModel`, with
ports to preload DRAM and the program, a ``start`` pulse, a monitor of every DRAM
write (how the cosimulation reads the results back) and of DRAM reads and array beats (the
cycle split); it is what the backends run.
"""

from __future__ import annotations

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from rtl.pipeline import delay
from rtl.top.dma import request_layout, response_layout
from rtl.top.program import INSTR_BITS, TopArch
from rtl.top.top import Accelerator

__all__ = ["DramModel", "TopBench"]


class DramModel(wiring.Component):
    """Word-addressed DRAM of ``depth`` bus words with a read latency (module docstring).

    Attributes
    ----------
    req : In(stream of request_layout); resp : Out(stream of response_layout)
        The memory port (always ready; responses are not back-pressured).
    host_we, host_addr, host_data : In
        Preload port (used before the run).
    wr_valid, wr_addr, wr_data : Out
        The write accepted this cycle.
    rd_valid : Out
        A read accepted this cycle.
    """

    def __init__(self, arch: TopArch, depth: int, latency: int):
        self._MustUse__silence = True  # refused below: never elaborated, on purpose
        if depth < 1 or depth & (depth - 1):
            raise ValueError(f"depth: expected a power of two >= 1 words, got {depth}")
        if isinstance(latency, bool) or not isinstance(latency, int) or latency < 1:
            raise ValueError(f"memory.dram_latency_cycles: the RTL DRAM model needs an integer >= 1, got {latency!r}")
        self._MustUse__silence = False
        self.arch, self.depth, self.latency = arch, depth, latency
        super().__init__({
            "req": In(stream.Signature(request_layout(arch))),
            "resp": Out(stream.Signature(response_layout(arch))),
            "host_we": In(1), "host_addr": In(range(depth)), "host_data": In(arch.bus_bits),
            "wr_valid": Out(1), "wr_addr": Out(32), "wr_data": Out(arch.bus_bits), "rd_valid": Out(1),
        })

    def elaborate(self, platform) -> Module:
        m = Module()
        m.submodules.mem = mem = Memory(shape=self.arch.bus_bits, depth=self.depth, init=[])
        wr = mem.write_port()
        rd = mem.read_port()
        req = self.req.payload
        write = self.req.valid & req.we
        read = self.req.valid & ~req.we
        m.d.comb += [self.req.ready.eq(1),
                     wr.en.eq(write | self.host_we),
                     wr.addr.eq(Mux(self.host_we, self.host_addr, req.addr)),
                     wr.data.eq(Mux(self.host_we, self.host_data, req.data)),
                     rd.addr.eq(req.addr), rd.en.eq(1),
                     self.wr_valid.eq(write), self.wr_addr.eq(req.addr), self.wr_data.eq(req.data),
                     self.rd_valid.eq(read)]
        # The read port registers the word (1 cycle); latency - 1 more registers.
        valid1 = Signal()
        tag1 = Signal.like(req.tag)
        m.d.sync += [valid1.eq(read), tag1.eq(req.tag)]
        extra = self.latency - 1
        m.d.comb += [self.resp.valid.eq(delay(m, 1, valid1, extra, "rd_valid", reset_less=False)),
                     self.resp.payload.data.eq(delay(m, 1, rd.data, extra, "rd_data")),
                     self.resp.payload.tag.eq(delay(m, 1, tag1, extra, "rd_tag"))]
        return m


class TopBench(wiring.Component):
    """:class:`Accelerator` wired to a :class:`DramModel`, with preload ports and a write monitor."""

    def __init__(self, arch: TopArch, dram_words: int, latency: int):
        self.arch = arch
        self.dram_words = dram_words
        self.latency = latency
        super().__init__({
            "start": In(1), "prog_we": In(1), "prog_addr": In(range(arch.program_words)),
            "prog_data": In(INSTR_BITS),
            "host_we": In(1), "host_addr": In(range(dram_words)), "host_data": In(arch.bus_bits),
            "done": Out(1), "wr_valid": Out(1), "wr_addr": Out(32), "wr_data": Out(arch.bus_bits),
            "rd_valid": Out(1), "beat": Out(1),
        })

    def elaborate(self, platform) -> Module:
        m = Module()
        m.submodules.top = top = Accelerator(self.arch)
        m.submodules.dram = dram = DramModel(self.arch, self.dram_words, self.latency)
        wiring.connect(m, top.mem_req, dram.req)
        wiring.connect(m, dram.resp, top.mem_resp)
        m.d.comb += [top.start.eq(self.start), top.prog_we.eq(self.prog_we), top.prog_addr.eq(self.prog_addr),
                     top.prog_data.eq(self.prog_data), dram.host_we.eq(self.host_we),
                     dram.host_addr.eq(self.host_addr), dram.host_data.eq(self.host_data),
                     self.done.eq(top.done), self.wr_valid.eq(dram.wr_valid), self.wr_addr.eq(dram.wr_addr),
                     self.wr_data.eq(dram.wr_data), self.rd_valid.eq(dram.rd_valid), self.beat.eq(top.beat)]
        return m
