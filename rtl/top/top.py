"""The accelerator top: controller, DMA, compute unit and the SRAM buffers, with a DRAM port.

Block diagram (text)::

    prog_* --> [Controller: program memory -> dispatcher -> queues + semaphores]
                   | LOAD/STORE              | COMPUTE
                   v                         v
    DRAM <-req/resp-> [DmaEngine] --write--> [input SRAM][weight SRAM][param SRAM] --read--> [ComputeUnit:
                          ^                                                                   SystolicArray +
                          +---------read---- [output SRAM] <-------------drain write--------- requant lanes]

Buffers (``amaranth.lib.memory.Memory``, synchronous read ports, write ports with the
bus word as write granularity): input ``rows * pe_bits`` bits wide, weight ``cols *
pe_bits``, parameter ``cols * 72``, output ``requant_lanes * 32`` (a partial-sum word: one drain
beat of int32 sums; an output word of ``requant_lanes * code_bits`` is one of its
``32 // code_bits`` slots, written with the drain's half-word enables); depths from
the configuration's byte capacities (:class:`rtl.top.program.TopArch`), each split into
two halves by the programs (double buffering).
"""

from __future__ import annotations

from amaranth.hdl import Cat, Const, Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from rtl.top.compute import ComputeUnit
from rtl.top.controller import Controller
from rtl.top.dma import DmaEngine, request_layout, response_layout
from rtl.top.program import INSTR_BITS, TopArch

__all__ = ["Accelerator"]


class Accelerator(wiring.Component):
    """The accelerator top of a :class:`rtl.top.program.TopArch`.

    Attributes
    ----------
    start : In(1)
        Pulse: run the loaded program.
    prog_we, prog_addr, prog_data : In
        Program memory write port.
    mem_req : Out(stream of request_layout); mem_resp : In(stream of response_layout)
        The DRAM port (:mod:`rtl.top.dma`).
    done : Out(1)
        The program finished (held until the next ``start``).
    beat : Out(1)
        Monitor: the PE array accepts an operand beat in this cycle.
    """

    def __init__(self, arch: TopArch):
        self.arch = arch
        super().__init__({
            "start": In(1), "prog_we": In(1), "prog_addr": In(range(arch.program_words)),
            "prog_data": In(INSTR_BITS),
            "mem_req": Out(stream.Signature(request_layout(arch))),
            "mem_resp": In(stream.Signature(response_layout(arch))),
            "done": Out(1), "beat": Out(1),
        })

    def elaborate(self, platform) -> Module:
        m = Module()
        arch = self.arch
        m.submodules.controller = ctrl = Controller(arch)
        m.submodules.dma = dma = DmaEngine(arch)
        m.submodules.compute = comp = ComputeUnit(arch)
        bus = arch.bus_bits

        rams = {name: (words, width) for name, words, width in arch.memories()}

        def memory(name: str) -> Memory:
            words, width = rams[name]
            mem = Memory(shape=width, depth=words, init=[])
            m.submodules[f"{name}_sram"] = mem
            return mem

        mems = {"x": memory("input"), "w": memory("weight"), "p": memory("param")}
        for index, (buf, mem) in enumerate(mems.items()):
            ratio = arch.ratio(buf)
            wr = mem.write_port(granularity=bus) if ratio > 1 else mem.write_port()
            hit = dma.wr_en & (dma.wr_buf == index)
            m.d.comb += [wr.addr.eq(dma.wr_addr), wr.data.eq(dma.wr_data.replicate(ratio))]
            if ratio > 1:
                m.d.comb += wr.en.eq((Const(1, ratio) << dma.wr_lane)[:ratio] & hit.replicate(ratio))
            else:
                m.d.comb += wr.en.eq(hit)
            rd = mem.read_port(transparent_for=(wr,))  # a COMPUTE may read a word in the cycle it lands
            m.d.comb += [rd.addr.eq(getattr(comp, f"{buf}_addr")), rd.en.eq(comp.rd_en),
                         getattr(comp, f"{buf}_data").eq(rd.data)]
        # The output SRAM: partial-sum words of psum_ratio output words (slots); codes by slot, sums whole.
        ratio, shift = arch.psum_ratio, arch.psum_ratio.bit_length() - 1
        out = memory("output")
        owr = out.write_port(granularity=arch.o_bits // 2)
        qwr = out.write_port()
        ord_ = out.read_port(transparent_for=(owr,))  # a STORE may read a word in the cycle it is drained
        qrd = out.read_port()
        slot = Signal(range(ratio))
        with m.If(dma.o_en):
            m.d.sync += slot.eq(dma.o_addr[:shift])
        m.d.comb += [owr.en.eq(comp.o_we << Cat(Const(0, 1), comp.o_addr[:shift])), owr.addr.eq(comp.o_addr >> shift),
                     owr.data.eq(comp.o_data.replicate(ratio)),
                     qwr.en.eq(comp.q_we), qwr.addr.eq(comp.q_addr), qwr.data.eq(comp.q_data),
                     qrd.addr.eq(comp.q_raddr), qrd.en.eq(comp.q_ren), comp.q_rdata.eq(qrd.data),
                     ord_.addr.eq(dma.o_addr >> shift), ord_.en.eq(dma.o_en),
                     dma.o_data.eq(ord_.data.word_select(slot, arch.o_bits))]

        wiring.connect(m, ctrl.load_cmd, dma.load_cmd)
        wiring.connect(m, ctrl.store_cmd, dma.store_cmd)
        wiring.connect(m, ctrl.compute_cmd, comp.cmd)
        wiring.connect(m, wiring.flipped(self.mem_req), dma.req)
        wiring.connect(m, wiring.flipped(self.mem_resp), dma.resp)
        m.d.comb += [ctrl.start.eq(self.start), ctrl.prog_we.eq(self.prog_we), ctrl.prog_addr.eq(self.prog_addr),
                     ctrl.prog_data.eq(self.prog_data), ctrl.release.eq(dma.release | comp.release),
                     ctrl.units_busy.eq(dma.busy | comp.busy), self.done.eq(ctrl.done), self.beat.eq(comp.beat)]
        return m
