"""A real BlazeFace tile through the Verilated array: bit-exact, cycles = rtl.timing = simulator."""

from __future__ import annotations

import pytest

from rtl.arch import ArrayArch
from hwsim.app.studies.quality import calibrate_ranges
from hwsim.app.studies.rtl_tiles import build_arrays, check_real_tile, cycle_sweep
from hwsim.app.studies.setups import real_setup


@pytest.mark.slow
def test_real_blazeface_tile_and_cycle_sweep(tmp_path_factory):
    arrays = build_arrays(tmp_path_factory.mktemp("verilator"), (ArrayArch(rows=4, cols=4, pe_bits=4, mac_modes=(4,), max_depth=128, requant_lanes=4),))
    setup = real_setup("blazeface", n_eval=1)
    ranges = calibrate_ranges(setup.model, setup.calibration[:2])
    (check,) = check_real_tile(setup, ranges, arrays, tiles=4)
    assert check.outputs == 4 * 4 * 4 == check.matches_array_golden == check.matches_layer_golden
    assert check.measured_cycles == check.formula_cycles
    rows = cycle_sweep(arrays, depths=(1, 75, 128))
    assert [(r.measured_tile, r.measured_span) for r in rows] == [(r.formula_tile, r.simulator_span) for r in rows]
