"""Compute unit of the accelerator top: COMPUTE instructions on the PE array.

A COMPUTE runs ``mb x nb`` array tiles (row blocks inner, column blocks outer) of ``k``
reduction elements. Each element is one operand beat per digit pair (int8 operands on int4
PEs are stored as two digit words per element, high digit first; the beat order is
:meth:`rtl.arch.ArrayArch.beat_parts`': 1, 2 or 4 beats). Per beat the unit reads one input SRAM word
(``rows`` digits), one weight SRAM word (``cols`` digits) and the column block's
parameter entry (bias, multiplier, shift of ``cols`` columns) and offers them to the
:class:`rtl.array.SystolicArray` together with the instruction's zero points and clamps.

Stages (cycles): stage 0 presents the SRAM addresses (synchronous read ports, enabled
by ``advance``); stage 1 holds the read words and offers the beat; ``advance = ~valid1 |
array ready``, so a refused beat (the array's ``Dmin`` hold) stalls both stages. The
array's drain writes each output beat (``requant_lanes`` codes, low ``code_bits`` bits)
to the output SRAM at ``o_base + n`` (``n``: drain beats of this COMPUTE so far: array
tile ``t = col_block * mb + row_block``, beat ``t * rows * cols / lanes + g * rows + r``;
with ``o_half``, word ``o_base + n // 2``, half ``n % 2``). A new COMPUTE is taken in the
cycle its predecessor issues its last beat, or, when the unit is idle, in the cycle it is
granted, its first beat's stage 0 in that same cycle (the input, weight and parameter SRAMs'
read ports are transparent for the DMA's writes: a COMPUTE granted in the cycle its last
operand word lands reads that word).

K chunks (``acc_keep``): the COMPUTE's beats are not marked ``last``, so the PEs keep their
sums in ``acc`` and the next COMPUTE (the reduction's next chunk, same single array tile)
goes on adding; it queues no drain. The array samples the tile's parameters on the first
beat of the first chunk.

Partial sums (K chunks over several array tiles): a ``psum_raw`` COMPUTE's drain writes
each beat's ``requant_lanes`` int32 sums (no requantization) to partial-sum word
``o_base / (32 // code_bits) + n`` of the output SRAM, in the cycle the beat leaves the
shadow registers; a ``psum_add`` COMPUTE's drain adds the sums stored there (read ahead
through a ``PSUM_QUEUE``-deep queue, each word only once the previous COMPUTE, the previous
chunk, has written it; the array waits when none is ready) before requantizing or writing
them again.

Semaphores: ``release`` when the last beat entered the array, ``drain_release`` when the
last output beat is in the output SRAM (a queue of up to ``DRAIN_QUEUE`` COMPUTEs).
"""

from __future__ import annotations

from amaranth.hdl import Cat, Module, Mux, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.fifo import SyncFIFO
from amaranth.lib.wiring import In, Out

from rtl.arch import HI, LO, NATIVE
from rtl.array import SystolicArray
from rtl.top.dma import instr_field, release_of
from rtl.top.program import ADDR_BITS, INSTR_BITS, PARAM_FIELD_BITS, SEMAPHORES, TopArch

__all__ = ["ComputeUnit", "DRAIN_QUEUE"]

#: COMPUTE instructions whose outputs may be draining at once.
DRAIN_QUEUE = 4
#: Partial-sum beats read ahead of the drain.
PSUM_QUEUE = 4
#: Width of the raw-beat counters (wrapping; far more than the beats in flight).
COUNT_BITS = ADDR_BITS + 2


class ComputeUnit(wiring.Component):
    """Executes COMPUTE instructions (module docstring).

    Attributes
    ----------
    cmd : In(stream of INSTR_BITS)
        COMPUTE instruction words whose semaphores were acquired.
    x_addr, w_addr, p_addr, rd_en : Out; x_data, w_data, p_data : In
        Synchronous read ports of the input, weight and parameter SRAMs.
    o_we, o_addr, o_data : Out
        Output SRAM write port (``o_we``: one enable per half word).
    q_we, q_addr, q_data : Out
        Output SRAM partial-sum write port (whole ``q_bits`` words).
    q_raddr, q_ren : Out; q_rdata : In
        Output SRAM partial-sum read port (synchronous).
    release : Out(SEMAPHORES)
        Semaphores to increment this cycle.
    busy : Out(1)
        Beats or drains in flight.
    beat : Out(1)
        The array accepts an operand beat in this cycle (a monitor).
    """

    def __init__(self, arch: TopArch):
        self.arch = arch
        super().__init__({
            "cmd": In(stream.Signature(INSTR_BITS)),
            "x_addr": Out(ADDR_BITS), "w_addr": Out(ADDR_BITS), "p_addr": Out(ADDR_BITS), "rd_en": Out(1),
            "x_data": In(arch.x_bits), "w_data": In(arch.w_bits), "p_data": In(arch.p_bits),
            "o_we": Out(2), "o_addr": Out(ADDR_BITS), "o_data": Out(arch.o_bits),
            "q_we": Out(1), "q_addr": Out(ADDR_BITS), "q_data": Out(arch.q_bits),
            "q_raddr": Out(ADDR_BITS), "q_ren": Out(1), "q_rdata": In(arch.q_bits),
            "release": Out(SEMAPHORES), "busy": Out(1), "beat": Out(1),
        })

    def elaborate(self, platform) -> Module:
        m = Module()
        top = self.arch
        a = top.array
        m.submodules.array = array = SystolicArray(a, psum=True)
        beats_per_tile = a.rows * (a.cols // a.requant_lanes)

        # Instruction registers.
        cmd = self.cmd.payload
        active = Signal()
        f = {name: Signal(instr_field(cmd, "COMPUTE", name).shape(), name=f"c_{name}")
             for name in ("x_base", "w_base", "p_base", "mb", "nb", "k", "x_digits", "w_digits", "x_signed",
                          "x_zp", "out_zp", "act_min", "act_max", "acc_keep", "psum_add", "psum_raw")}
        rel = Signal(SEMAPHORES)
        ib, jb = Signal(12), Signal(12)
        kk = Signal(16)
        part = Signal(2)
        xp, wp, wblock = Signal(ADDR_BITS), Signal(ADDR_BITS), Signal(ADDR_BITS)

        # Drain descriptors: output base, beats, release mask.
        m.submodules.drains = drains = SyncFIFO(width=2 * ADDR_BITS + SEMAPHORES + 1, depth=DRAIN_QUEUE)
        # Partial-sum descriptors: raw drains (psum word base, beats), psum_add drains (base, beats, the
        # raw-beat count at which the previous chunk's first beat is written); prefetched partial sums.
        m.submodules.raws = raws = SyncFIFO(width=2 * ADDR_BITS, depth=DRAIN_QUEUE)
        m.submodules.adds = adds = SyncFIFO(width=2 * ADDR_BITS + COUNT_BITS, depth=DRAIN_QUEUE)
        m.submodules.sums = sums = SyncFIFO(width=top.q_bits, depth=PSUM_QUEUE)
        count = instr_field(cmd, "COMPUTE", "mb") * instr_field(cmd, "COMPUTE", "nb") * beats_per_tile

        # Stage 0: addresses of the current beat. ``early``: the unit is idle and takes a COMPUTE, whose first
        # beat reads its SRAM words in this very cycle (the taken instruction's fields instead of the registers).
        advance = Signal()
        early = Signal()
        fields = {name: instr_field(cmd, "COMPUTE", name) for name in f}

        def now(reg, value):
            return Mux(early, value, reg)

        e = {name: now(sig, fields[name]) for name, sig in f.items()}
        e_part, e_kk, e_ib, e_jb = now(part, 0), now(kk, 0), now(ib, 0), now(jb, 0)
        e_xp, e_wp = now(xp, fields["x_base"]), now(wp, fields["w_base"])
        e_wblock, e_rel = now(wblock, fields["w_base"]), now(rel, release_of(cmd))

        def flags(part, kk, ib, jb, f):
            """Digit selects and last-beat / row / column flags of a beat."""
            xd, wd = f["x_digits"], f["w_digits"]
            last_part = part == Mux(xd & wd, 3, xd | wd)  # passes - 1: 0, 1 or 3
            last_elem = kk == f["k"] - 1
            return (Mux(xd, part[0], 0), Mux(xd, part[1], part[0]) & wd, last_part, last_elem,
                    last_part & last_elem, ib == f["mb"] - 1, jb == f["nb"] - 1)

        xd, wd = e["x_digits"], e["w_digits"]
        xsel, wsel, last_part, last_elem, last_beat, last_row, last_col = flags(e_part, e_kk, e_ib, e_jb, e)
        m.d.comb += [self.x_addr.eq(e_xp + xsel), self.w_addr.eq(e_wp + wsel), self.p_addr.eq(e["p_base"] + e_jb)]

        # Stage 1: the read words and the beat's flags.
        v1 = Signal()
        last1, end1 = Signal(), Signal()
        xpart1, wpart1 = Signal(2), Signal(2)
        keep1 = {name: Signal.like(f[name], name=f"s1_{name}") for name in
                 ("x_signed", "x_zp", "out_zp", "act_min", "act_max", "psum_add", "psum_raw")}
        rel1 = Signal(SEMAPHORES)
        m.d.comb += [advance.eq(~v1 | array.i.ready), self.rd_en.eq(advance)]

        # A new COMPUTE starts when the unit is idle or issues its last beat in this cycle (the registers' flags).
        *_, r_last_beat, r_last_row, r_last_col = flags(part, kk, ib, jb, f)
        finishing = advance & active & r_last_beat & r_last_row & r_last_col
        keep = instr_field(cmd, "COMPUTE", "acc_keep")  # no drain: the next COMPUTE continues the sums
        raw = instr_field(cmd, "COMPUTE", "psum_raw")  # drains int32 partial sums, not codes
        add = instr_field(cmd, "COMPUTE", "psum_add")  # adds the stored partial sums at its drain
        codes = ~keep & ~raw
        room = (drains.w_rdy | ~codes) & (raws.w_rdy | ~raw) & (adds.w_rdy | ~add)
        take = self.cmd.valid & (~active | finishing) & room
        m.d.comb += early.eq(take & ~active & advance)
        start = [active.eq(1), rel.eq(release_of(cmd)), ib.eq(0), jb.eq(0), kk.eq(0), part.eq(0),
                 xp.eq(fields["x_base"]), wp.eq(fields["w_base"]), wblock.eq(fields["w_base"])]
        start += [sig.eq(fields[name]) for name, sig in f.items()]
        with m.If(early):  # before stage 0's updates of its first beat, which win
            m.d.sync += start

        with m.If(advance):
            m.d.sync += [v1.eq(active | early), last1.eq(last_beat & ~e["acc_keep"]),
                         end1.eq(last_beat & last_row & last_col), rel1.eq(e_rel),
                         xpart1.eq(Mux(xd, Mux(xsel, LO, HI), NATIVE)), wpart1.eq(Mux(wd, Mux(wsel, LO, HI), NATIVE))]
            m.d.sync += [keep1[name].eq(e[name]) for name in keep1]
            with m.If(active | early):
                with m.If(~last_part):
                    m.d.sync += part.eq(e_part + 1)
                with m.Else():
                    m.d.sync += [part.eq(0), kk.eq(Mux(last_elem, 0, e_kk + 1)), xp.eq(e_xp + 1 + xd),
                                 wp.eq(e_wp + 1 + wd)]
                    with m.If(last_elem):
                        m.d.sync += ib.eq(Mux(last_row, 0, e_ib + 1))
                        with m.If(~last_row):
                            m.d.sync += wp.eq(e_wblock)  # the next row block reuses the column block's weights
                        with m.Else():
                            m.d.sync += [jb.eq(e_jb + 1), xp.eq(e["x_base"]), wblock.eq(e_wp + 1 + wd)]
                            with m.If(last_col):
                                m.d.sync += active.eq(0)

        m.d.comb += [self.cmd.ready.eq((~active | finishing) & room), drains.w_en.eq(take & codes),
                     drains.w_data.eq(Cat(instr_field(cmd, "COMPUTE", "o_base"), count[:ADDR_BITS],
                                          instr_field(cmd, "COMPUTE", "drain_release"),
                                          instr_field(cmd, "COMPUTE", "o_half")))]
        with m.If(take & ~early):  # after the previous COMPUTE's stage-0 updates: it wins; first beat next cycle
            m.d.sync += start

        # The beat into the array.
        beat = array.i.payload
        m.d.comb += [array.i.valid.eq(v1), beat.x.as_value().eq(self.x_data), beat.w.as_value().eq(self.w_data),
                     beat.last.eq(last1), beat.tile.x_signed.eq(keep1["x_signed"]), beat.tile.x_zp.eq(keep1["x_zp"]),
                     beat.tile.out_zp.eq(keep1["out_zp"]), beat.tile.act_min.eq(keep1["act_min"]),
                     beat.tile.act_max.eq(keep1["act_max"])]
        if a.splits:
            m.d.comb += [beat.x_part.eq(xpart1), beat.w_part.eq(wpart1)]
        m.d.comb += [array.psum_add.eq(keep1["psum_add"]), array.psum_raw.eq(keep1["psum_raw"])]
        bias_bits, mult_bits, shift_bits = PARAM_FIELD_BITS
        for c in range(a.cols):
            base = c * sum(PARAM_FIELD_BITS)
            m.d.comb += [beat.tile.bias[c].eq(self.p_data[base:base + bias_bits]),
                         beat.tile.multiplier[c].eq(self.p_data[base + bias_bits:base + bias_bits + mult_bits]),
                         beat.tile.shift[c].eq(self.p_data[base + bias_bits + mult_bits:
                                                           base + bias_bits + mult_bits + len(beat.tile.shift[c])])]
        issue_release = Mux(v1 & array.i.ready & end1, rel1, 0)

        # Drain: output beats to the output SRAM; the last one of a COMPUTE releases its semaphores.
        o_base = drains.r_data[:ADDR_BITS]
        o_count = drains.r_data[ADDR_BITS:2 * ADDR_BITS]
        o_rel = drains.r_data[2 * ADDR_BITS:2 * ADDR_BITS + SEMAPHORES]
        o_half = drains.r_data[-1]
        n = Signal(ADDR_BITS)
        out = array.o
        done = out.valid & (n == o_count - 1)
        full = Cat(*(out.payload[lane][:a.code_bits] for lane in range(a.requant_lanes)))
        half = Cat(*(out.payload[lane][:a.code_bits // 2] for lane in range(a.requant_lanes)))
        m.d.comb += [out.ready.eq(1), self.o_we.eq(Mux(out.valid, Mux(o_half, Mux(n[0], 0b10, 0b01), 0b11), 0)),
                     self.o_addr.eq(o_base + Mux(o_half, n >> 1, n)),
                     self.o_data.eq(Mux(o_half, Cat(half, half), full)), drains.r_en.eq(done)]
        with m.If(out.valid):
            m.d.sync += n.eq(Mux(done, 0, n + 1))
        m.d.comb += [self.beat.eq(array.i.valid & array.i.ready), self.release.eq(issue_release | Mux(done, o_rel, 0))]

        # Partial sums (K chunks over several array tiles): raw drains write int32 sums, psum_add drains
        # read them back (prefetched in drain order, each beat only after the previous chunk wrote it).
        q_base = instr_field(cmd, "COMPUTE", "o_base") >> (top.psum_ratio.bit_length() - 1)
        raw_issued, raw_written = Signal(COUNT_BITS), Signal(COUNT_BITS)
        m.d.comb += [raws.w_en.eq(take & raw), raws.w_data.eq(Cat(q_base, count[:ADDR_BITS])),
                     adds.w_en.eq(take & add),
                     adds.w_data.eq(Cat(q_base, count[:ADDR_BITS], (raw_issued - count)[:COUNT_BITS]))]
        with m.If(take & raw):
            m.d.sync += raw_issued.eq(raw_issued + count)
        rn = Signal(ADDR_BITS)
        r_done = array.raw_valid & (rn == raws.r_data[ADDR_BITS:] - 1)
        m.d.comb += [self.q_we.eq(array.raw_valid), self.q_addr.eq(raws.r_data[:ADDR_BITS] + rn),
                     self.q_data.eq(array.raw.as_value()), raws.r_en.eq(r_done)]
        with m.If(array.raw_valid):
            m.d.sync += [rn.eq(Mux(r_done, 0, rn + 1)), raw_written.eq(raw_written + 1)]
        pn = Signal(ADDR_BITS)
        inflight = Signal()
        a_base, a_count = adds.r_data[:ADDR_BITS], adds.r_data[ADDR_BITS:2 * ADDR_BITS]
        a_need = adds.r_data[2 * ADDR_BITS:]
        written = (raw_written - a_need - pn - 1)[:COUNT_BITS].as_signed() >= 0  # the previous chunk wrote it
        read = adds.r_rdy & written & (sums.level + inflight < PSUM_QUEUE)
        m.d.comb += [self.q_raddr.eq(a_base + pn), self.q_ren.eq(read), adds.r_en.eq(read & (pn == a_count - 1)),
                     sums.w_en.eq(inflight), sums.w_data.eq(self.q_rdata), array.p.valid.eq(sums.r_rdy),
                     array.p.payload.as_value().eq(sums.r_data), sums.r_en.eq(array.p.ready)]
        m.d.sync += inflight.eq(read)
        with m.If(read):
            m.d.sync += pn.eq(Mux(pn == a_count - 1, 0, pn + 1))
        m.d.comb += self.busy.eq(active | v1 | drains.r_rdy | raws.r_rdy | adds.r_rdy | sums.r_rdy)
        return m
