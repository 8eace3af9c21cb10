"""Requantization unit: int32 accumulator -> output code, one result per cycle.

Implements exactly the golden model's default (TFLite *double rounding*)
arithmetic, :func:`sw.golden.fixedpoint.requantize`::

    q = clamp(RDBPOT(SRDHM((acc + bias) << max(shift, 0), multiplier), max(-shift, 0))
              + out_zp, act_min, act_max)

Stages (register counts from :mod:`rtl.timing`, latency ``PIPELINE_CYCLES``):

1. ``bias``     ``acc + bias``, 32 bits.
2. ``lshift``   ``<< max(shift, 0)``, 32 bits.
3. ``multiply`` 32 x 32 -> 64-bit signed product; flag ``INT32_MIN * INT32_MIN``.
4. ``srdhm``    ``(product + 2**30) >> 31``, or ``INT32_MAX`` for the flagged case.
5. ``rdbpot``   ``>> max(-shift, 0)`` rounded to nearest, ties away from zero.
6. ``output``   ``+ out_zp``, then ``min(max(v, act_min), act_max)`` (numpy ``clip`` order).

Outside the golden model's domain (``acc + bias`` or the left-shifted value
leaving int32, where the golden model refuses) stages 1 and 2 wrap modulo 2**32,
as the TFLite C code does on two's-complement machines.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Const, Module, Mux, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from rtl.pipeline import delay, sign_extend
from sw.quant.ints import INT32_MAX, INT32_MIN, SHIFT_MAX, SHIFT_MIN
from rtl.timing import (
    REQUANT_BIAS_CYCLES,
    REQUANT_LSHIFT_CYCLES,
    REQUANT_MULTIPLY_CYCLES,
    REQUANT_OUTPUT_CYCLES,
    REQUANT_PIPELINE_CYCLES,
    REQUANT_RDBPOT_CYCLES,
    REQUANT_SRDHM_CYCLES,
)

__all__ = ["RequantUnit", "requant_input_layout", "SHIFT_MIN", "SHIFT_MAX", "SHIFT_WIDTH"]

#: Width of the signed ``shift`` field.
SHIFT_WIDTH = 6

_INT32_MIN_C = Const(INT32_MIN, signed(32))
_INT32_MAX_C = Const(INT32_MAX, signed(32))


def requant_input_layout(out_width: int) -> data.StructLayout:
    """Payload of the unit's input stream (field order = bit order, LSB first).

    ``acc``, ``bias``, ``multiplier``: signed 32 bits; ``shift``: signed 6 bits in
    [-31, 30]; ``out_zp``, ``act_min``, ``act_max``: signed ``out_width`` bits.
    """
    return data.StructLayout({
        "acc": signed(32),
        "bias": signed(32),
        "multiplier": signed(32),
        "shift": signed(SHIFT_WIDTH),
        "out_zp": signed(out_width),
        "act_min": signed(out_width),
        "act_max": signed(out_width),
    })


class RequantUnit(wiring.Component):
    """Pipelined per-channel requantization with valid/ready streams.

    Parameters
    ----------
    out_width
        Width in bits of the signed output code and of ``out_zp``/``act_min``/``act_max``,
        in [2, 32]. Use ``bits + 1`` to cover both int``bits`` and uint``bits`` codes.

    Attributes
    ----------
    i : In(stream.Signature(requant_input_layout(out_width)))
        One accumulator with its channel's parameters per transfer.
    o : Out(stream.Signature(signed(out_width)))
        The requantized code, ``PIPELINE_CYCLES`` cycles after its input was accepted
        (when ``o.ready`` stays high). ``i.ready = ~o.valid | o.ready``: the whole
        pipeline stalls while a result waits, and never drops or duplicates one.
    """

    PIPELINE_CYCLES = REQUANT_PIPELINE_CYCLES

    def __init__(self, out_width: int = 9):
        if not isinstance(out_width, int) or not 2 <= out_width <= 32:
            raise ValueError(f"out_width: expected an integer in [2, 32], got {out_width!r}")
        self.out_width = out_width
        super().__init__({
            "i": In(stream.Signature(requant_input_layout(out_width))),
            "o": Out(stream.Signature(signed(out_width))),
        })

    def elaborate(self, platform) -> Module:
        m = Module()
        p = self.i.payload
        # The pipeline moves when its last stage is empty or being read.
        enable = ~self.o.valid | self.o.ready
        m.d.comb += self.i.ready.eq(enable)

        def stage(name: str, cycles: int, **values):
            return {key: delay(m, enable, value, cycles, f"{name}_{key}", reset_less=key != "valid")
                    for key, value in values.items()}

        # Stage 1 (bias): acc + bias, wrapped to 32 bits.
        s1 = stage("bias", REQUANT_BIAS_CYCLES,
                   valid=self.i.valid,
                   x=(p.acc + p.bias)[:32].as_signed(),
                   multiplier=p.multiplier, shift=p.shift,
                   out_zp=p.out_zp, act_min=p.act_min, act_max=p.act_max)

        # Stage 2 (lshift): x << max(shift, 0), wrapped to 32 bits; keep max(-shift, 0).
        shift = s1["shift"]
        negative = shift[-1]
        left = Mux(negative, 0, shift.as_unsigned()[:5])
        right = Mux(negative, (-shift).as_unsigned()[:5], 0)
        shifted = (s1["x"].as_unsigned() << left)[:32].as_signed()  # a barrel shifter, no table
        s2 = stage("lshift", REQUANT_LSHIFT_CYCLES,
                   valid=s1["valid"],
                   x=shifted,
                   right=right, multiplier=s1["multiplier"],
                   out_zp=s1["out_zp"], act_min=s1["act_min"], act_max=s1["act_max"])

        # Stage 3 (multiply): 64-bit product; INT32_MIN * INT32_MIN is the one overflow.
        s3 = stage("multiply", REQUANT_MULTIPLY_CYCLES,
                   valid=s2["valid"],
                   product=s2["x"] * s2["multiplier"],
                   overflow=(s2["x"] == _INT32_MIN_C) & (s2["multiplier"] == _INT32_MIN_C),
                   right=s2["right"],
                   out_zp=s2["out_zp"], act_min=s2["act_min"], act_max=s2["act_max"])

        # Stage 4 (srdhm): high word of 2 * product, rounded half towards +infinity.
        high = (s3["product"] + Const(1 << 30, signed(64)))[31:63].as_signed()
        s4 = stage("srdhm", REQUANT_SRDHM_CYCLES,
                   valid=s3["valid"],
                   x=Mux(s3["overflow"], _INT32_MAX_C, high),
                   right=s3["right"],
                   out_zp=s3["out_zp"], act_min=s3["act_min"], act_max=s3["act_max"])

        # Stage 5 (rdbpot): x / 2**e, nearest, ties away from zero. With r = x mod 2**e and
        # e >= 1, round up iff r > 2**(e-1) - 1, except a tie (r == 2**(e-1)) when x < 0.
        # The masks are shifts of constants (arithmetic, no lookup table).
        x, e = s4["x"], s4["right"]
        ones = Const(2**32 - 1, 32)
        mask = ~(ones << e)[:32]  # 2**e - 1
        half = (Const(1, 33) << e)[1:33]  # 2**(e-1), 0 for e = 0
        below_half = mask >> 1  # 2**(e-1) - 1, 0 for e = 0
        remainder = x.as_unsigned() & mask
        round_up = (remainder > below_half) & ~(x[-1] & (remainder == half))
        s5 = stage("rdbpot", REQUANT_RDBPOT_CYCLES,
                   valid=s4["valid"],
                   x=((x >> e) + Cat(round_up, Const(0, 31)).as_signed())[:32].as_signed(),
                   out_zp=s4["out_zp"], act_min=s4["act_min"], act_max=s4["act_max"])

        # Stage 6 (output): + out_zp, then clamp like numpy.clip (max with act_min first),
        # in 33 bits so that no sum wraps.
        v = (sign_extend(s5["x"], 33) + sign_extend(s5["out_zp"], 33))[:33].as_signed()
        act_min, act_max = sign_extend(s5["act_min"], 33), sign_extend(s5["act_max"], 33)
        lower = Mux(v < act_min, act_min, v)
        clamped = Mux(lower > act_max, act_max, lower)
        s6 = stage("output", REQUANT_OUTPUT_CYCLES,
                   valid=s5["valid"],
                   q=clamped[:self.out_width].as_signed())

        m.d.comb += [
            self.o.valid.eq(s6["valid"]),
            self.o.payload.eq(s6["q"]),
        ]
        return m
