"""Shared RTL fixtures: Verilator models built once per test session (a build takes ~15 s)."""

from __future__ import annotations

import pytest

from rtl.arch import ArrayArch
from rtl.backends import VerilatorModel
from rtl.requant import RequantUnit


class ArchModel(VerilatorModel):
    """A Verilated array that remembers its :class:`rtl.arch.ArrayArch`."""

    def __init__(self, arch: ArrayArch, workdir):
        super().__init__(arch.create(), workdir)
        self.arch = arch


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
    arch = ArrayArch(rows=8, cols=8, pe_bits=4, mac_modes=(4,), max_depth=256, requant_lanes=8)
    return ArchModel(arch, verilator_dir)


@pytest.fixture(scope="session")
def verilator_array4_int8(verilator_dir):
    """4 x 4 int8 array sharing 2 requantization lanes."""
    arch = ArrayArch(rows=4, cols=4, pe_bits=8, mac_modes=(8,), max_depth=256, requant_lanes=2)
    return ArchModel(arch, verilator_dir)


@pytest.fixture(scope="session")
def verilator_edge16(verilator_dir):
    """The edge16_int4 preset's array (16 x 16 int4 PEs with int8 digits, 16 lanes, K <= 4608)."""
    from hwsim.configfile import load_preset

    return ArchModel(load_preset("edge16_int4").arch, verilator_dir)
