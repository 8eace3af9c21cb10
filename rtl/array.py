"""Output-stationary ``rows x cols`` systolic array streaming requantized GEMM tiles.

Tile: ``q[r, c] = requant(sum_k w[k, c] * (x[r, k] - x_zp) + bias[c], multiplier[c], shift[c])``
for ``rows`` output pixels ``r`` and ``cols`` output channels ``c``; every parameter
travels with the tile (:func:`tile_layout`, sampled on the tile's first beat).

Dataflow (cycle numbers are array cycles relative to a beat's acceptance; see
:mod:`rtl.timing` for the derivations):

* Operand beat ``t`` carries the activation column ``x[:, t]`` and the weight row
  ``w[t, :]`` (4-bit digits with their parts on int4 PEs running int8, see
  :mod:`rtl.arch`). The edge turns row ``r``'s activation into ``d = x - zp``
  (:func:`rtl.mac.operand_d`), skewed by ``r`` registers; column ``c``'s weight is
  skewed by ``c``; PE ``(r, c)`` multiplies beat ``t`` in cycle ``t + r + c``.
* A beat marked ``last`` moves each PE's sum into its shadow register; the next tile's
  beats follow at once. The drain starts ``S0`` cycles after the last beat
  (:func:`rtl.timing.drain_start_offset`): ``requant_lanes`` requantization units read
  the shadow registers of column group ``g`` row by row; output beat ``n`` holds row
  ``n % rows`` of group ``n // rows``.
* The array refuses a tile's last beat until ``Dmin`` cycles after the previous tile's
  (:func:`rtl.timing.min_tile_interval`), so a shadow register is never overwritten
  before it is read: steady-state interval ``max(K, Dmin)``.
* One enable moves the whole array (skew, PEs, drain); it drops only while the drain
  waits for the requantization units (output back-pressure) or, with ``psum=True``, for a
  stored partial sum, which keeps every timing relation above exact under any stall
  pattern. Input gaps are bubbles.

The requantization parameters of up to ``ArrayArch.param_slots`` tiles (computing,
waiting for the drain, draining) sit in a register queue.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from rtl.arch import HI, ArrayArch
from rtl.mac import PART_WIDTH, MacPE, operand_d
from rtl.pipeline import delay, delay_line, select, sign_extend
from rtl.requant import SHIFT_WIDTH, RequantUnit

__all__ = ["SystolicArray", "operand_layout", "tile_layout", "requant_layout"]


def requant_layout(arch: ArrayArch) -> data.StructLayout:
    """Per-tile requantization parameters: per-column bias, multiplier, shift; output zero point, clamps."""
    cols, out = arch.cols, arch.out_width
    return data.StructLayout({
        "bias": data.ArrayLayout(signed(32), cols),
        "multiplier": data.ArrayLayout(signed(32), cols),
        "shift": data.ArrayLayout(signed(SHIFT_WIDTH), cols),
        "out_zp": signed(out),
        "act_min": signed(out),
        "act_max": signed(out),
    })


def tile_layout(arch: ArrayArch) -> data.StructLayout:
    """Per-tile parameters: activation signedness and zero point, then :func:`requant_layout`'s fields."""
    return data.StructLayout({"x_signed": 1, "x_zp": signed(arch.code_bits + 1),
                              **{name: field.shape for name, field in requant_layout(arch)}})


def operand_layout(arch: ArrayArch) -> data.StructLayout:
    """Payload of one operand beat: ``x`` (rows digits), ``w`` (cols digits), parts, ``last``, ``tile``."""
    fields = {"x": data.ArrayLayout(unsigned(arch.pe_bits), arch.rows),
              "w": data.ArrayLayout(unsigned(arch.pe_bits), arch.cols)}
    if arch.splits:
        fields.update(x_part=PART_WIDTH, w_part=PART_WIDTH)
    fields.update(last=1, tile=tile_layout(arch))
    return data.StructLayout(fields)


class SystolicArray(wiring.Component):
    """The PE array of an :class:`rtl.arch.ArrayArch` with its requantization lanes.

    Attributes
    ----------
    i : In(stream.Signature(operand_layout(arch)))
        Operand beats; ``last`` marks a tile's final beat; ``tile`` is read on a tile's first beat.
    o : Out(stream.Signature(ArrayLayout(signed(out_width), requant_lanes)))
        Requantized results, ``rows * cols // requant_lanes`` beats per tile.

    With ``psum=True`` (partial sums of a K split, the accelerator top), also:

    psum_add, psum_raw : In(1)
        Per tile, sampled with its parameters on its first beat: add a stored partial sum to
        each sum at the drain (``psum_add``); drain the int32 sums to ``raw`` instead of
        requantizing them (``psum_raw``).
    p : In(stream.Signature(ArrayLayout(signed(32), requant_lanes)))
        The stored partial sums of a ``psum_add`` tile, one drain beat per transfer, in drain
        order; the drain waits (the array's enable drops) while none is offered.
    raw_valid : Out(1); raw : Out(ArrayLayout(signed(32), requant_lanes))
        A ``psum_raw`` tile's drain beat (its sums plus any added partial sums, int32), in the
        cycle it is read from the shadow registers (no requantization, no back-pressure).
    """

    def __init__(self, arch: ArrayArch, psum: bool = False):
        self.arch = arch
        self.psum = psum
        lanes32 = data.ArrayLayout(signed(32), arch.requant_lanes)
        members = {
            "i": In(stream.Signature(operand_layout(arch))),
            "o": Out(stream.Signature(data.ArrayLayout(signed(arch.out_width), arch.requant_lanes))),
        }
        if psum:
            members.update({"psum_add": In(1), "psum_raw": In(1), "p": In(stream.Signature(lanes32)),
                            "raw_valid": Out(1), "raw": Out(lanes32)})
        super().__init__(members)

    def elaborate(self, platform) -> Module:
        m = Module()
        arch = self.arch
        rows, cols, lanes = arch.rows, arch.cols, arch.requant_lanes
        groups = cols // lanes
        beat = self.i.payload
        en = Signal()  # the array's one clock enable

        pes = [[MacPE(arch) for _ in range(cols)] for _ in range(rows)]
        for r in range(rows):
            for c in range(cols):
                m.submodules[f"pe_{r}_{c}"] = pes[r][c]
                m.d.comb += pes[r][c].en.eq(en)

        # Input: the first beat of a tile samples its parameters.
        accept = Signal()
        started = Signal()  # inside a tile (a beat accepted, its last not yet)
        m.d.comb += accept.eq(self.i.valid & self.i.ready)
        first = accept & ~started
        with m.If(accept):
            m.d.sync += started.eq(~beat.last)
        x_signed = Signal()
        x_zp = Signal(signed(arch.code_bits + 1))
        with m.If(first):
            m.d.sync += [x_signed.eq(beat.tile.x_signed), x_zp.eq(beat.tile.x_zp)]
        tile_x_signed = Mux(started, x_signed, beat.tile.x_signed)
        tile_x_zp = Mux(started, x_zp, beat.tile.x_zp)

        # Edge and skew: bubbles enter as d = 0, last = 0. PE (r, c) sees beat t in cycle t + r + c: row r's
        # d is skewed by r registers, then forwarded PE to PE; column c's w likewise. last, x_hi and
        # w_part are the same for every PE of a beat: one register line each serves the whole array
        # along its diagonals (tap r + c), where a copy per PE would cost 3 x rows x cols registers.
        hops = rows + cols - 2
        last = delay_line(m, en, accept & beat.last, hops, "skew_last", reset_less=False)
        if arch.splits:
            x_hi = delay_line(m, en, beat.x_part == Const(HI, PART_WIDTH), hops, "skew_xhi")
            w_part = delay_line(m, en, beat.w_part, hops, "skew_wpart")
        x_part = beat.x_part if arch.splits else None
        for r in range(rows):
            d = Signal(signed(arch.pe_bits + 1), name=f"edge_d{r}")
            m.d.comb += d.eq(Mux(accept, operand_d(arch, beat.x[r], x_part, tile_x_signed, tile_x_zp), 0))
            m.d.comb += pes[r][0].d.eq(delay(m, en, d, r, f"skew_d{r}", reset_less=False))
            for c in range(cols):
                m.d.comb += pes[r][c].last.eq(last[r + c])
                if c:
                    m.d.comb += pes[r][c].d.eq(pes[r][c - 1].d_out)
                if arch.splits:
                    m.d.comb += [pes[r][c].x_hi.eq(x_hi[r + c]), pes[r][c].w_part.eq(w_part[r + c])]
        for c in range(cols):
            m.d.comb += pes[0][c].w.eq(delay(m, en, beat.w[c], c, f"skew_w{c}"))
            for r in range(1, rows):
                m.d.comb += pes[r][c].w.eq(pes[r - 1][c].w_out)

        # A tile's last beat waits until Dmin array cycles after the previous one.
        hold = Signal(range(arch.min_interval))
        m.d.comb += self.i.ready.eq(en & (~beat.last | ~hold.any()))
        with m.If(accept & beat.last):
            m.d.sync += hold.eq(arch.min_interval - 1)
        with m.Elif(en & hold.any()):
            m.d.sync += hold.eq(hold - 1)

        # Requantization parameters: a register queue written on first beats, read by the drain.
        layout = requant_layout(arch)
        offset = tile_layout(arch).size - layout.size  # the requantization fields close the tile layout
        slots = [Signal(layout.size, name=f"params{n}", reset_less=True) for n in range(arch.param_slots)]
        write = Signal(range(arch.param_slots))
        read = Signal(range(arch.param_slots))
        with m.If(first):
            m.d.sync += write.eq(Mux(write == arch.param_slots - 1, 0, write + 1))
            with m.Switch(write):
                for n, slot in enumerate(slots):
                    with m.Case(n):
                        m.d.sync += slot.eq(beat.tile.as_value()[offset:])
        params = Signal(layout)
        m.d.comb += params.as_value().eq(select(read, slots))
        add, raw = Signal(), Signal()  # the draining tile's partial-sum flags
        if self.psum:
            flags = [Signal(2, name=f"psum_flags{n}") for n in range(arch.param_slots)]
            with m.If(first):
                with m.Switch(write):
                    for n, slot in enumerate(flags):
                        with m.Case(n):
                            m.d.sync += slot.eq(Cat(self.psum_add, self.psum_raw))
            m.d.comb += Cat(add, raw).eq(select(read, flags))

        # Drain: starts S0 cycles after a last beat, one row of one column group per cycle.
        start = delay(m, en, accept & beat.last, arch.drain_start, "drain_start", reset_less=False)
        running = Signal()
        active = Signal()
        row = Signal(range(rows))
        group = Signal(range(groups))
        end = (row == rows - 1) & (group == groups - 1)
        m.d.comb += active.eq(start | running)
        with m.If(en & active):
            m.d.sync += [running.eq(~end), row.eq(Mux(row == rows - 1, 0, row + 1))]
            with m.If(row == rows - 1):
                m.d.sync += group.eq(Mux(group == groups - 1, 0, group + 1))
            with m.If(end):
                m.d.sync += read.eq(Mux(read == arch.param_slots - 1, 0, read + 1))

        units = [RequantUnit(arch.out_width) for _ in range(lanes)]
        # A psum_add tile's drain beat waits for its stored partial sums; a psum_raw beat skips requantization.
        psum_ok = ~add | self.p.valid if self.psum else Const(1)
        for lane, unit in enumerate(units):
            m.submodules[f"requant_{lane}"] = unit
            column = [g * lanes + lane for g in range(groups)]
            payload = unit.i.payload
            shadow = select(group, [select(row, [pes[r][c].result for r in range(rows)]) for c in column])
            total = sign_extend(shadow, 32)
            if self.psum:
                total = (total + Mux(add, self.p.payload[lane], 0))[:32].as_signed()
                m.d.comb += self.raw[lane].eq(total)
            m.d.comb += [
                unit.i.valid.eq(active & ~raw & psum_ok),
                payload.acc.eq(total),
                payload.bias.eq(select(group, [params.bias[c] for c in column])),
                payload.multiplier.eq(select(group, [params.multiplier[c] for c in column])),
                payload.shift.eq(select(group, [params.shift[c] for c in column])),
                payload.out_zp.eq(params.out_zp),
                payload.act_min.eq(params.act_min),
                payload.act_max.eq(params.act_max),
                unit.o.ready.eq(self.o.ready),
                self.o.payload[lane].eq(unit.o.payload),
            ]
        # All lanes move in lockstep: lane 0 speaks for them.
        m.d.comb += [self.o.valid.eq(units[0].o.valid), en.eq(~active | (psum_ok & (raw | units[0].i.ready)))]
        if self.psum:
            m.d.comb += [self.p.ready.eq(active & add & (raw | units[0].i.ready)),
                         self.raw_valid.eq(active & raw & psum_ok)]
        return m
