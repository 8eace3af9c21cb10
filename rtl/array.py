"""Output-stationary ``rows x cols`` systolic array computing one requantized GEMM tile.

Tile: ``q[r, c] = requant(sum_k w[k, c] * (x[r, k] - x_zp) + bias[c], multiplier[c], shift[c])``
for ``rows`` output pixels ``r`` and ``cols`` output channels ``c``.

Dataflow (cycle numbers relative to the first accepted operand beat, see
:func:`rtl.timing.array_tile_cycles`):

* Operand beat ``t`` carries the activation column ``x[:, t]`` and the weight row
  ``w[t, :]``. Row ``r``'s activation is skewed by ``r`` registers, column ``c``'s
  weight by ``c``; activations (with ``valid``/``first`` flags) move right and weights
  move down one PE per cycle, so PE ``(r, c)`` multiplies beat ``t`` in cycle ``t + r + c``.
* A copy of the ``last`` flag, delayed ``rows + cols - 2`` cycles, tells the sequencer
  when PE ``(rows-1, cols-1)`` has its final sum; the drain starts the next cycle.
* Drain: ``requant_lanes`` requantization units read the accumulators through a
  multiplexer, column group ``g`` (columns ``g*L .. g*L + L-1``) row by row, one row
  of a group per cycle. Output beat ``n`` holds row ``n % rows`` of group ``n // rows``.
* The array accepts the next tile once the drain has read the last accumulator
  (:func:`rtl.timing.array_tile_interval`); the requantization tail overlaps it.

``x_signed``, ``x_zp``, ``bias``, ``multiplier``, ``shift``, ``out_zp``, ``act_min``
and ``act_max`` are layer parameters and must stay constant from a tile's first beat
until its drain is over (the cycle its next tile may start).
``K`` beyond ``max_depth`` may overflow the accumulators: callers keep ``K <= max_depth``.
"""

from __future__ import annotations

from amaranth.hdl import Array, Module, Signal, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from rtl.mac import MacPE, check_mac_params
from rtl.pipeline import delay
from rtl.requant import SHIFT_WIDTH, RequantUnit
from rtl.timing import MAC_CYCLES, array_tile_cycles, check_array_shape

__all__ = ["SystolicArray", "operand_layout"]


def operand_layout(rows: int, cols: int, bits: int) -> data.StructLayout:
    """Payload of one operand beat: ``x`` (``rows`` unsigned codes), ``w`` (``cols`` signed), ``last``."""
    return data.StructLayout({
        "x": data.ArrayLayout(unsigned(bits), rows),
        "w": data.ArrayLayout(signed(bits), cols),
        "last": 1,
    })


class SystolicArray(wiring.Component):
    """``rows x cols`` output-stationary MAC array with ``requant_lanes`` requantization units.

    Parameters
    ----------
    rows, cols
        Array shape in PEs, each >= 1.
    bits
        Operand width: 4 (int4) or 8 (int8 mode).
    max_depth
        Largest reduction depth ``K`` per tile; sets the accumulator width.
    acc_width
        Accumulator width in bits; default the minimum for ``max_depth`` (see :mod:`rtl.mac`).
    requant_lanes
        Requantization units, a divisor of ``cols`` (default ``cols``).

    Attributes
    ----------
    i : In(stream.Signature(operand_layout(rows, cols, bits)))
        Operand beats; ``last`` marks a tile's final beat.
    o : Out(stream.Signature(ArrayLayout(signed(bits + 1), requant_lanes)))
        Requantized results, ``rows * cols // requant_lanes`` beats per tile.
    x_signed, x_zp : In
        Activation signedness and zero point (see :class:`rtl.mac.MacPE`).
    bias, multiplier, shift : In(ArrayLayout(..., cols))
        Per-output-channel int32 bias, Q0.31 multiplier and shift in [-31, 30].
    out_zp, act_min, act_max : In(signed(bits + 1))
        Output zero point and clamp bounds (covers int``bits`` and uint``bits`` codes).
    """

    def __init__(self, rows: int, cols: int, *, bits: int = 4, max_depth: int = 4608,
                 acc_width: int | None = None, requant_lanes: int | None = None):
        self.lanes = check_array_shape(rows, cols, requant_lanes)
        self.acc_width = check_mac_params(bits, max_depth, acc_width)
        self.rows, self.cols, self.bits, self.max_depth = rows, cols, bits, max_depth
        self.out_width = bits + 1
        super().__init__({
            "i": In(stream.Signature(operand_layout(rows, cols, bits))),
            "o": Out(stream.Signature(data.ArrayLayout(signed(self.out_width), self.lanes))),
            "x_signed": In(1),
            "x_zp": In(signed(bits + 1)),
            "bias": In(data.ArrayLayout(signed(32), cols)),
            "multiplier": In(data.ArrayLayout(signed(32), cols)),
            "shift": In(data.ArrayLayout(signed(SHIFT_WIDTH), cols)),
            "out_zp": In(signed(self.out_width)),
            "act_min": In(signed(self.out_width)),
            "act_max": In(signed(self.out_width)),
        })

    def tile_cycles(self, k: int) -> int:
        """Cycles of one tile of depth ``k`` (:func:`rtl.timing.array_tile_cycles`)."""
        return array_tile_cycles(self.rows, self.cols, k, requant_lanes=self.lanes)

    def elaborate(self, platform) -> Module:
        m = Module()
        rows, cols, lanes = self.rows, self.cols, self.lanes
        groups = cols // lanes

        pes = [[MacPE(self.bits, max_depth=self.max_depth, acc_width=self.acc_width)
                for _ in range(cols)] for _ in range(rows)]
        for r in range(rows):
            for c in range(cols):
                m.submodules[f"pe_{r}_{c}"] = pes[r][c]
                m.d.comb += [pes[r][c].x_signed.eq(self.x_signed), pes[r][c].x_zp.eq(self.x_zp)]

        accept = Signal()
        started = Signal()  # a tile has begun: later beats accumulate instead of loading
        m.d.comb += accept.eq(self.i.valid & self.i.ready)
        first = accept & ~started
        with m.If(accept):
            m.d.sync += started.eq(~self.i.payload.last)

        # Feed: skew row r by r registers and column c by c registers (always enabled).
        for r in range(rows):
            pe = pes[r][0]
            m.d.comb += [
                pe.x.eq(delay(m, 1, self.i.payload.x[r], r, f"skew_x{r}")),
                pe.valid.eq(delay(m, 1, accept, r, f"skew_valid{r}", reset_less=False)),
                pe.first.eq(delay(m, 1, first, r, f"skew_first{r}")),
            ]
            for c in range(1, cols):
                m.d.comb += [
                    pes[r][c].x.eq(pes[r][c - 1].x_out),
                    pes[r][c].valid.eq(pes[r][c - 1].valid_out),
                    pes[r][c].first.eq(pes[r][c - 1].first_out),
                ]
        for c in range(cols):
            m.d.comb += pes[0][c].w.eq(delay(m, 1, self.i.payload.w[c], c, f"skew_w{c}"))
            for r in range(1, rows):
                m.d.comb += pes[r][c].w.eq(pes[r - 1][c].w_out)

        # PE (rows-1, cols-1) accumulates the last beat rows + cols - 2 cycles after it is
        # accepted and holds the sum MAC_CYCLES later; `done` is high the cycle before that.
        done = delay(m, 1, accept & self.i.payload.last, rows + cols - 3 + MAC_CYCLES, "done",
                     reset_less=False)

        units = [RequantUnit(self.out_width) for _ in range(lanes)]
        for lane, unit in enumerate(units):
            m.submodules[f"requant_{lane}"] = unit
        row = Signal(range(rows))
        group = Signal(range(groups))
        draining = Signal()
        for lane, unit in enumerate(units):
            column = [g * lanes + lane for g in range(groups)]
            accs = Array(Array(pes[r][c].acc for r in range(rows)) for c in column)
            payload = unit.i.payload
            m.d.comb += [
                unit.i.valid.eq(draining),
                payload.acc.eq(accs[group][row]),
                payload.bias.eq(Array(self.bias[c] for c in column)[group]),
                payload.multiplier.eq(Array(self.multiplier[c] for c in column)[group]),
                payload.shift.eq(Array(self.shift[c] for c in column)[group]),
                payload.out_zp.eq(self.out_zp),
                payload.act_min.eq(self.act_min),
                payload.act_max.eq(self.act_max),
                unit.o.ready.eq(self.o.ready),
                self.o.payload[lane].eq(unit.o.payload),
            ]
        # All lanes move in lockstep: lane 0 speaks for them.
        m.d.comb += self.o.valid.eq(units[0].o.valid)

        # Sequencer, one-hot: loading (accepting beats) -> waiting (for `done`) -> draining.
        loading = Signal(init=1)
        waiting = Signal()
        m.d.comb += self.i.ready.eq(loading)
        with m.If(done):
            m.d.sync += [loading.eq(0), waiting.eq(0), draining.eq(1)]
        with m.Elif(accept & self.i.payload.last):
            m.d.sync += [loading.eq(0), waiting.eq(1)]
        # One row of one column group per cycle into the requantization units.
        with m.If(draining & units[0].i.ready):
            m.d.sync += row.eq(row + 1)
            with m.If(row == rows - 1):
                m.d.sync += [row.eq(0), group.eq(group + 1)]
                with m.If(group == groups - 1):
                    m.d.sync += [group.eq(0), draining.eq(0), loading.eq(1)]
        return m
