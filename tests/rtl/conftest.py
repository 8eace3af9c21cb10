"""Shared RTL fixtures: Verilator models built once per test session (a build takes ~15 s)."""

from __future__ import annotations

import pytest

from rtl.array import SystolicArray
from rtl.backends import VerilatorModel
from rtl.requant import RequantUnit


@pytest.fixture(scope="session")
def verilator_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("verilator")


@pytest.fixture(scope="session")
def verilator_requant(verilator_dir):
    """RequantUnit(out_width=32): every intermediate result is observable at the output."""
    return VerilatorModel(RequantUnit(32), verilator_dir)


@pytest.fixture(scope="session")
def verilator_array8(verilator_dir):
    """8 x 8 int4 array, one requantization lane per column."""
    return VerilatorModel(SystolicArray(8, 8, bits=4, max_depth=256), verilator_dir)


@pytest.fixture(scope="session")
def verilator_array4_int8(verilator_dir):
    """4 x 4 int8 array sharing 2 requantization lanes."""
    return VerilatorModel(SystolicArray(4, 4, bits=8, max_depth=256, requant_lanes=2), verilator_dir)
