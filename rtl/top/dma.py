"""DMA engine of the accelerator top: LOAD and STORE over one valid/ready DRAM port.

Memory port (:func:`request_layout`, :func:`response_layout`): a request stream of
``{we, addr, data, tag}`` (one bus word per accepted request; ``addr`` in bus words)
and a response stream of ``{data, tag}`` for reads, in request order; the DMA is
always ready for responses. The tag travels with a read and names where the word
lands (buffer, SRAM word, bus-word lane in it) and the semaphores to release when it
is the last word of its LOAD (AXI's ID/user role).

Arbitration, like the simulator's DRAM port (``hwsim.engine``): one transfer (a STORE,
or a chain of LOADs: every LOAD with ``chain`` set and the LOAD after it, a tile's whole
load) holds the port until its last request is accepted. When the port is free a waiting
STORE is granted before a waiting LOAD, with two exceptions: within a chain the next LOAD
is granted and no STORE (the port stays held, idle, until that LOAD arrives; it acquires
no semaphore, :func:`rtl.top.program.tile_loads`), and when a STORE ends, a LOAD that was
already waiting goes before the next STORE (the simulator's write-back asks for the port
again only once its previous store has released it). Reads are pipelined: the port is
released after the last read request, not after the data.

Stage timing (cycles): a command is accepted when the port is free (or in the cycle of
the previous transfer's last request) and requests from the next cycle on, one bus word
per cycle while the DRAM is ready. A STORE reads the output SRAM one cycle ahead of each
request (synchronous read port), its first word in the cycle it is accepted (the read
port is transparent for the drain's writes: a STORE granted in the cycle of its tile's
last drain write reads that word).
"""

from __future__ import annotations

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from rtl.top.program import ADDR_BITS, INSTR_BITS, OP_BITS, SEMAPHORES, TopArch, field_offset

__all__ = ["DmaEngine", "request_layout", "response_layout", "tag_layout", "LANE_BITS"]

#: Bits of the bus-word lane inside an SRAM word.
LANE_BITS = 8


def tag_layout() -> data.StructLayout:
    """Read tag: destination buffer (0 input, 1 weight, 2 parameters), SRAM word, lane; release mask."""
    return data.StructLayout({"buf": 2, "addr": ADDR_BITS, "lane": LANE_BITS, "release": SEMAPHORES})


def request_layout(arch: TopArch) -> data.StructLayout:
    """DRAM request: write enable, bus-word address, write data, read tag."""
    return data.StructLayout({"we": 1, "addr": 32, "data": arch.bus_bits, "tag": tag_layout()})


def response_layout(arch: TopArch) -> data.StructLayout:
    """DRAM read response: data and the request's tag."""
    return data.StructLayout({"data": arch.bus_bits, "tag": tag_layout()})


def instr_field(word, op: str, name: str):
    """Field ``name`` of an ``op`` instruction word (an Amaranth value)."""
    offset, bits, signed = field_offset(op, name)
    value = word[offset:offset + bits]
    return value.as_signed() if signed else value


def release_of(word):
    """The ``release`` mask of an instruction word."""
    return word[OP_BITS + SEMAPHORES:OP_BITS + 2 * SEMAPHORES]


class DmaEngine(wiring.Component):
    """LOAD / STORE execution with store-first arbitration of the DRAM port.

    Attributes
    ----------
    load_cmd, store_cmd : In(stream of INSTR_BITS)
        LOAD / STORE instruction words whose semaphores were acquired.
    req : Out(stream of request_layout)
        DRAM requests.
    resp : In(stream of response_layout)
        DRAM read responses (always accepted).
    wr_buf, wr_addr, wr_lane, wr_data, wr_en : Out
        SRAM write of one landed bus word (buffer 0 input, 1 weight, 2 parameters).
    o_addr, o_en : Out; o_data : In
        Output SRAM synchronous read port (STORE).
    release : Out(SEMAPHORES)
        Semaphores to increment this cycle (last word of a LOAD landed / of a STORE accepted).
    busy : Out(1)
        A transfer is active or read data is outstanding.
    """

    def __init__(self, arch: TopArch):
        self.arch = arch
        super().__init__({
            "load_cmd": In(stream.Signature(INSTR_BITS)),
            "store_cmd": In(stream.Signature(INSTR_BITS)),
            "req": Out(stream.Signature(request_layout(arch))),
            "resp": In(stream.Signature(response_layout(arch))),
            "wr_buf": Out(2), "wr_addr": Out(ADDR_BITS), "wr_lane": Out(LANE_BITS),
            "wr_data": Out(arch.bus_bits), "wr_en": Out(1),
            "o_addr": Out(ADDR_BITS), "o_en": Out(1), "o_data": In(arch.o_bits),
            "release": Out(SEMAPHORES), "busy": Out(1),
        })

    def elaborate(self, platform) -> Module:
        m = Module()
        arch = self.arch
        owner = Signal(2)  # 0 free, 1 LOAD, 2 STORE
        chained = Signal()  # the last LOAD granted had ``chain``: the next LOAD goes before any STORE
        rel_load = Signal(SEMAPHORES)
        rel_store = Signal(SEMAPHORES)


        # LOAD: one read request per cycle; the tag says where the word lands.
        l_dram = Signal(32)
        l_left = Signal(ADDR_BITS + 1)
        l_buf = Signal(2)
        l_addr = Signal(ADDR_BITS)
        l_lane = Signal(LANE_BITS)
        l_rel = Signal(SEMAPHORES)
        ratio = Mux(l_buf == 0, arch.ratio("x"), Mux(l_buf == 1, arch.ratio("w"), arch.ratio("p")))
        load_req = Signal(request_layout(self.arch))
        m.d.comb += [load_req.addr.eq(l_dram), load_req.tag.buf.eq(l_buf), load_req.tag.addr.eq(l_addr),
                     load_req.tag.lane.eq(l_lane), load_req.tag.release.eq(Mux(l_left == 1, l_rel, 0))]
        load_valid = (owner == 1) & (l_left != 0)
        with m.If((owner == 1) & (l_left == 0)):
            m.d.sync += owner.eq(0)  # a LOAD of zero words
        with m.If(load_valid & self.req.ready):
            last_lane = l_lane == ratio - 1
            m.d.sync += [l_dram.eq(l_dram + 1), l_left.eq(l_left - 1),
                         l_lane.eq(Mux(last_lane, 0, l_lane + 1)), l_addr.eq(Mux(last_lane, l_addr + 1, l_addr))]
            with m.If(l_left == 1):
                m.d.sync += owner.eq(0)

        # Responses land in the SRAMs; the last word of a LOAD releases its semaphores.
        tag = self.resp.payload.tag
        m.d.comb += [self.resp.ready.eq(1), self.wr_en.eq(self.resp.valid), self.wr_buf.eq(tag.buf),
                     self.wr_addr.eq(tag.addr), self.wr_lane.eq(tag.lane), self.wr_data.eq(self.resp.payload.data),
                     rel_load.eq(Mux(self.resp.valid, tag.release, 0))]
        outstanding = Signal(range(1 << 16))
        issued = load_valid & self.req.ready
        m.d.sync += outstanding.eq(outstanding + issued - self.resp.valid)

        # STORE: stage 0 reads the output SRAM, stage 1 offers the word to the port.
        s_dram = Signal(32)
        s_left = Signal(ADDR_BITS + 1)
        s_addr = Signal(ADDR_BITS)
        s_lane = Signal(LANE_BITS)
        s_rel = Signal(SEMAPHORES)
        v1 = Signal()
        lane1 = Signal(LANE_BITS)
        last1 = Signal()
        store_active = owner == 2
        advance = ~v1 | self.req.ready
        scmd = self.store_cmd.payload
        s_accept = self.store_cmd.valid & self.store_cmd.ready
        m.d.comb += [self.o_addr.eq(Mux(s_accept, instr_field(scmd, "STORE", "sram"), s_addr)),
                     self.o_en.eq(advance | s_accept)]
        with m.If(store_active & advance):
            m.d.sync += [v1.eq(s_left != 0), lane1.eq(s_lane), last1.eq(s_left == 1)]
            with m.If(s_left != 0):
                last_lane = s_lane == arch.ratio("o") - 1
                m.d.sync += [s_left.eq(s_left - 1), s_lane.eq(Mux(last_lane, 0, s_lane + 1)),
                             s_addr.eq(Mux(last_lane, s_addr + 1, s_addr))]
        store_req = Signal(request_layout(self.arch))
        m.d.comb += [store_req.we.eq(1), store_req.addr.eq(s_dram),
                     store_req.data.eq(self.o_data.word_select(lane1, arch.bus_bits))]
        with m.If(v1 & self.req.ready):
            m.d.sync += s_dram.eq(s_dram + 1)
            with m.If(last1):
                m.d.sync += [owner.eq(0), v1.eq(0)]
        with m.If(store_active & (s_left == 0) & ~v1):
            m.d.sync += owner.eq(0)  # a STORE of zero words
        m.d.comb += rel_store.eq(Mux(v1 & self.req.ready & last1, s_rel, 0))

        # Arbitration: the port is free, or its transfer issues its last request this cycle (the next
        # transfer's first request follows at once); a waiting STORE goes before a waiting LOAD, except
        # after a LOAD with ``chain`` (then only the next LOAD) and at the end of a STORE when a LOAD has
        # been waiting since the cycle before (then that LOAD).
        free = (owner == 0) | (load_valid & self.req.ready & (l_left == 1)) | (v1 & self.req.ready & last1)
        load_waited = Signal()  # a LOAD was offered and not granted in the previous cycle
        m.d.sync += load_waited.eq(self.load_cmd.valid & ~self.load_cmd.ready)
        load_first = chained | ((owner == 2) & load_waited)
        m.d.comb += [self.store_cmd.ready.eq(free & ~load_first),
                     self.load_cmd.ready.eq(free & (load_first | ~self.store_cmd.valid))]
        cmd = self.load_cmd.payload
        with m.If(self.load_cmd.valid & self.load_cmd.ready):  # after the updates above: it wins
            m.d.sync += [owner.eq(1), chained.eq(instr_field(cmd, "LOAD", "chain")),
                         l_dram.eq(instr_field(cmd, "LOAD", "dram")),
                         l_left.eq(instr_field(cmd, "LOAD", "words")), l_buf.eq(instr_field(cmd, "LOAD", "buf")),
                         l_addr.eq(instr_field(cmd, "LOAD", "sram")), l_lane.eq(0), l_rel.eq(release_of(cmd))]
        with m.If(s_accept):  # stage 0 of the first word runs in this cycle: it requests from the next
            words = instr_field(scmd, "STORE", "words")
            sram = instr_field(scmd, "STORE", "sram")
            one_lane = arch.ratio("o") == 1
            m.d.sync += [owner.eq(2), s_dram.eq(instr_field(scmd, "STORE", "dram")), s_rel.eq(release_of(scmd)),
                         v1.eq(words != 0), lane1.eq(0), last1.eq(words == 1),
                         s_left.eq(Mux(words != 0, words - 1, 0)),
                         s_addr.eq(sram + 1 if one_lane else sram), s_lane.eq(0 if one_lane else 1)]

        m.d.comb += [
            self.req.valid.eq(Mux(store_active, v1, load_valid)),
            self.req.payload.eq(Mux(store_active, store_req, load_req)),
            self.release.eq(rel_load | rel_store),
            self.busy.eq((owner != 0) | (outstanding != 0) | self.resp.valid),
        ]
        return m
