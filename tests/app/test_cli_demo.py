"""The ``hwsim demo`` command and the CLI's bad-input contract."""

from __future__ import annotations

import subprocess
import sys

import pytest

from hwsim.app.cli import main
from hwsim.app.demo import run_demo


def test_demo_quantization_quality_orders_with_bits():
    int8 = run_demo(bits=8, n_cal=4)
    int4 = run_demo(bits=4, n_cal=4)
    # Uniform 8-bit quantization of well-calibrated ReLU6 features: SQNR far above 25 dB;
    # 4 bits loses ~6 dB per bit but stays positive; every layer is better at 8 bits.
    assert min(r.sqnr_db for r in int8) > 25
    assert all(a.sqnr_db > b.sqnr_db > 0 for a, b in zip(int8, int4))
    # MACs of the stem: 32x32 outputs x 16 channels x 3x3x3 taps.
    assert int8[0].macs == 32 * 32 * 16 * 27


def test_demo_cli_prints_table(capsys):
    assert main(["demo", "--bits", "8", "--n-cal", "2"]) == 0
    out = capsys.readouterr().out
    assert "SQNR w8a8" in out and "head" in out


@pytest.mark.parametrize("argv, message", [(["demo", "--bits", "9"], "--bits: expected"), (["demo", "--n-cal", "0"], "--n-cal")])
def test_cli_bad_input_exits_2_with_one_line(argv, message):
    proc = subprocess.run([sys.executable, "-m", "hwsim.app.cli", *argv], capture_output=True, text=True)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0] and "Traceback" not in proc.stderr
