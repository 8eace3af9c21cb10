"""Configuration: presets, TOML loading, validation messages, provenance, precision modes."""

from __future__ import annotations

import pytest

from hwsim.configfile import PRESETS, load_config, load_preset

from hwsim.describe import describe_config
from hwsim.energy import mac_pj, sram_pj_per_byte
from rtl.timing import REQUANT_PIPELINE_CYCLES


def test_presets_load_and_have_provenance_everywhere():
    assert {"edge16_int4", "int8_32x32", "scalesim_32x32"} <= set(PRESETS)
    for name in PRESETS:
        cfg = load_preset(name)
        for row in describe_config(cfg):
            assert row.unit and row.provenance.startswith("["), (name, row.field)
            assert isinstance(row.value, (int, float, list)) or row.field in ("name", "array.dataflow"), row
    edge = load_config()
    assert (edge.array.rows, edge.array.cols, edge.array.pe_bits) == (16, 16, 4)
    assert load_preset("int8_32x32").array.pe_bits == 8


def test_requant_depth_is_the_rtl_constant():
    assert load_config().requant_pipeline_cycles == REQUANT_PIPELINE_CYCLES


def test_int8_on_int4_pes_takes_four_passes():
    edge, big = load_config(), load_preset("int8_32x32")
    assert edge.mac_passes(4, 4) == 1 and edge.mac_passes(8, 8) == 4 and edge.mac_passes(4, 8) == 2
    assert big.mac_passes(4, 4) == 1 and big.mac_passes(8, 8) == 1
    assert mac_pj(edge, 8, 8) == 4 * edge.energy.mac_int4_pj
    with pytest.raises(ValueError, match="w16a16 is not supported"):
        edge.mac_passes(16, 16)


def test_sram_energy_interpolates_horowitz():
    assert sram_pj_per_byte(8 * 1024) == pytest.approx(10 / 8)
    assert sram_pj_per_byte(32 * 1024) == pytest.approx(20 / 8)
    assert sram_pj_per_byte(1024 * 1024) == pytest.approx(100 / 8)


def test_toml_override_and_provenance(tmp_path):
    f = tmp_path / "mine.toml"
    f.write_text('preset = "edge16_int4"\n[memory]\ndram_bytes_per_cycle = 4\n[energy]\ndram_pj_per_byte = 100.0\n'
                 '[provenance]\n"energy.dram_pj_per_byte" = "[measured: board X]"\n')
    cfg = load_config(str(f))
    assert cfg.memory.dram_bytes_per_cycle == 4.0 and cfg.energy.dram_pj_per_byte == 100.0
    assert cfg.provenance["memory.dram_bytes_per_cycle"] == "[user: mine.toml]"
    assert cfg.provenance["energy.dram_pj_per_byte"] == "[measured: board X]"


@pytest.mark.parametrize("body, message", [
    ("[array]\nrowz = 3\n", "unknown field 'array.rowz'"),
    ("colour = 1\n", "unknown field 'colour'"),
    ("[array]\nrows = 0\n", r"array.rows: expected an integer > 0, got 0"),
    ("[memory]\nifmap_sram_bytes = -5\n", r"memory.ifmap_sram_bytes: expected an integer > 0, got -5"),
    ("[memory]\ndram_bytes_per_cycle = 0\n", r"memory.dram_bytes_per_cycle: expected a number > 0, got 0"),
    ("[array]\npe_bits = 2\n", r"array.pe_bits: expected 4 or 8"),
    ("requant_lanes = 5\n", "requant_lanes: expected a divisor of array.cols=16"),
    ("requant_pipeline_cycles = 3\n", "not configurable"),
    ("[array]\ndataflow = 'rs'\n", "array.dataflow: expected one of os, ws"),
])
def test_bad_toml_names_the_field(tmp_path, body, message):
    f = tmp_path / "bad.toml"
    f.write_text('preset = "edge16_int4"\n' + body)
    with pytest.raises(ValueError, match=message):
        load_config(str(f))


def test_unknown_preset():
    with pytest.raises(ValueError, match="unknown preset 'nope'; known: edge16_int4"):
        load_config("nope")
