"""MAC processing element with a shadow result register, and the activation-digit edge logic.

Operands
--------
The array's edge turns an activation code digit into ``d = x_digit - zp_digit``
(:func:`operand_d`, see :mod:`rtl.arch` for the digit rule and its proof), a signed
``pe_bits + 1``-bit value with ``|d| <= 2**pe_bits - 1``; the PE multiplies it by the
weight digit, sign-extended unless it is a low digit (``w_part == LO``), and shifts the
product left by 4 for each high digit (``w_part == HI``, ``x_hi``): 0, 4 or 8.
Weights are signed and symmetric (zero point 0), so the sum is TFLite's
``sum(w * (x - x_zp))`` with no correction terms.

Accumulator and shadow register
-------------------------------
Each beat adds its partial product to ``acc``; a beat marked ``last`` instead writes
``acc + partial`` to the shadow register ``result`` and clears ``acc``, so the next
tile's first beat may follow in the next cycle while the drain reads ``result``.
``acc`` is ``ArrayArch.acc_width`` bits: every prefix of a ``max_depth``-element
reduction fits (:attr:`rtl.arch.ArrayArch.element_bound`).

Stage (``MAC_CYCLES`` = 1): operands presented in cycle t are multiplied, added and
registered at the end of cycle t (when ``en``); ``d`` and ``w`` are forwarded to the
neighbours through one register in the same cycle. A bubble is ``d = 0``, ``last = 0``.
``last`` and the digit parts are the same for every PE of a beat: :class:`rtl.array.SystolicArray`
delays them in one register line along its diagonals instead of a copy per PE.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Const, Module, Mux, Signal, Value, signed, unsigned
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from rtl.arch import DIGIT_BITS, HI, LO, ArrayArch
from rtl.pipeline import fit_signed
from rtl.timing import MAC_CYCLES

__all__ = ["MacPE", "MacUnit", "operand_d", "weight_digit", "PART_WIDTH"]

#: Width of an operand part field (NATIVE, LO, HI).
PART_WIDTH = 2


def operand_d(arch: ArrayArch, x: Value, x_part: Value | None, x_signed: Value, x_zp: Value) -> Value:
    """``x_digit - zp_digit`` as a signed ``pe_bits + 1``-bit value (combinational).

    ``x`` holds the digit's bits (``pe_bits`` wide); it is signed when ``x_signed`` and the
    part is not a low digit. ``x_zp`` is the tile's signed ``code_bits + 1``-bit zero point;
    its digit is bits ``[4:9]`` (high: arithmetic ``zp >> 4``), ``[0:4]`` zero-extended (low)
    or bits ``[0:pe_bits+1]`` (native; the zero point lies in the code range).
    """
    pe = arch.pe_bits
    if arch.splits:
        lo = x_part == Const(LO, PART_WIDTH)
        x_ext = Cat(x, x_signed & ~lo & x[-1]).as_signed()
        zp_digit = Mux(x_part == Const(HI, PART_WIDTH), x_zp[DIGIT_BITS:2 * DIGIT_BITS + 1],
                       Mux(lo, Cat(x_zp[:DIGIT_BITS], Const(0, 1)), x_zp[:DIGIT_BITS + 1])).as_signed()
    else:
        x_ext = Cat(x, x_signed & x[-1]).as_signed()
        zp_digit = x_zp[:pe + 1].as_signed()
    # |d| <= 2**pe - 1: both operands lie in one code (or digit) range, so pe + 1 bits hold it.
    return (x_ext - zp_digit)[:pe + 1].as_signed()


def weight_digit(w: Value, w_part: Value) -> Value:
    """A weight digit (or 4-bit code) as a signed 5-bit value: sign-extended unless a low digit."""
    return Cat(w, (w_part != Const(LO, PART_WIDTH)) & w[-1]).as_signed()


class MacPE(wiring.Component):
    """One output-stationary processing element of :class:`rtl.array.SystolicArray`.

    Parameters
    ----------
    arch
        The array description (PE width, digit split, accumulator width).

    Attributes
    ----------
    en : In(1)
        Array clock enable: every register loads only when high.
    d : In(signed(pe_bits + 1))
        Activation operand ``x_digit - zp_digit`` (0 for a bubble).
    x_hi : In(1)
        ``d`` comes from a high activation digit (shift 4); only when ``arch.splits``.
    w : In(unsigned(pe_bits))
        Weight code or digit bits.
    w_part : In(2)
        NATIVE / LO / HI weight part; only when ``arch.splits``.
    last : In(1)
        Last beat of a reduction: ``result <= acc + partial``, ``acc <= 0``.
    d_out, w_out : Out
        ``d`` and ``w`` delayed one register, to the right and lower neighbours.
    acc : Out(signed(acc_width))
        Running sum of the current reduction.
    result : Out(signed(acc_width))
        Shadow register: the last finished reduction.
    """

    PIPELINE_CYCLES = MAC_CYCLES

    def __init__(self, arch: ArrayArch):
        self.arch = arch
        pe, acc = arch.pe_bits, arch.acc_width
        members = {"en": In(1), "d": In(signed(pe + 1))}
        if arch.splits:
            members["x_hi"] = In(1)
        members["w"] = In(unsigned(pe))
        if arch.splits:
            members["w_part"] = In(PART_WIDTH)
        members["last"] = In(1)
        members.update({"d_out": Out(signed(pe + 1)), "w_out": Out(unsigned(pe))})
        members.update({"acc": Out(signed(acc)), "result": Out(signed(acc))})
        super().__init__(members)

    def elaborate(self, platform) -> Module:
        m = Module()
        arch, width = self.arch, self.arch.acc_width
        if arch.splits:
            product = weight_digit(self.w, self.w_part) * self.d
            hi_count = Cat(self.w_part == Const(HI, PART_WIDTH), self.x_hi)
            partial = Mux(hi_count.all(), fit_signed(Cat(Const(0, 2 * DIGIT_BITS), product).as_signed(), width),
                          Mux(hi_count.any(), fit_signed(Cat(Const(0, DIGIT_BITS), product).as_signed(), width),
                              fit_signed(product, width)))
        else:
            partial = fit_signed(self.w.as_signed() * self.d, width)
        total = (self.acc + partial)[:width].as_signed()
        with m.If(self.en):
            with m.If(self.last):
                m.d.sync += [self.result.eq(total), self.acc.eq(0)]
            with m.Else():
                m.d.sync += self.acc.eq(total)
            m.d.sync += [self.d_out.eq(self.d), self.w_out.eq(self.w)]
        return m


class MacUnit(wiring.Component):
    """The edge logic of one row plus one PE: the standalone MAC that ``hwsim verilog`` exports.

    Attributes
    ----------
    x : In(unsigned(pe_bits))
        Activation code or digit bits.
    x_part, w_part : In(2)
        NATIVE / LO / HI parts (only when ``arch.splits``).
    x_signed : In(1)
        Activation codes are signed (1) or unsigned (0).
    x_zp : In(signed(code_bits + 1))
        Activation zero point, in the code range.
    w : In(unsigned(pe_bits))
        Weight code or digit bits.
    valid, last : In(1)
        A real beat; the last beat of a reduction.
    acc, result : Out(signed(acc_width))
        Running sum, and the last finished reduction (one cycle after its last beat).
    """

    def __init__(self, arch: ArrayArch):
        self.arch = arch
        pe = arch.pe_bits
        members = {"x": In(unsigned(pe))}
        if arch.splits:
            members["x_part"] = In(PART_WIDTH)
        members.update({"x_signed": In(1), "x_zp": In(signed(arch.code_bits + 1)), "w": In(unsigned(pe))})
        if arch.splits:
            members["w_part"] = In(PART_WIDTH)
        members.update({"valid": In(1), "last": In(1),
                        "acc": Out(signed(arch.acc_width)), "result": Out(signed(arch.acc_width))})
        super().__init__(members)

    def elaborate(self, platform) -> Module:
        m = Module()
        m.submodules.pe = pe = MacPE(self.arch)
        x_part = self.x_part if self.arch.splits else None
        d = Signal(pe.d.shape())
        m.d.comb += [
            d.eq(operand_d(self.arch, self.x, x_part, self.x_signed, self.x_zp)),
            pe.en.eq(1),
            pe.d.eq(Mux(self.valid, d, 0)),
            pe.w.eq(self.w),
            pe.last.eq(self.valid & self.last),
            self.acc.eq(pe.acc),
            self.result.eq(pe.result),
        ]
        if self.arch.splits:
            m.d.comb += [pe.x_hi.eq(x_part == Const(HI, PART_WIDTH)), pe.w_part.eq(self.w_part)]
        return m
