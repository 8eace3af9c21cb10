"""Sweep files: grid expansion, validation by hwsim.config, one-line errors, stable keys."""

from __future__ import annotations

from pathlib import Path

import pytest

from hwsim.configfile import load_preset
from hwsim.app.sweep.row import base_config
from hwsim.app.sweep.runner import plan_tasks
from hwsim.app.sweep.spec import Design, build_config, field_paths, load_sweep, parse_sweep, point_key


def _spec(grid=None, points=None, **sweep):
    data = {"sweep": {"base": "edge16_int4", "models": ["yolov3_tiny_416"], **sweep}}
    if grid is not None:
        data["grid"] = grid
    if points is not None:
        data["points"] = points
    return parse_sweep(data, "t.toml", Path("."))


def test_grid_product_points_and_invalid_designs(sweep_file):
    spec = load_sweep(sweep_file)
    assert spec.fields == ("array.rows", "array.cols", "memory.dram_bytes_per_cycle", "requant_lanes")
    assert len(spec.designs) == 5 and len(spec.invalid) == 2
    assert spec.designs[0].overrides == (("array.cols", 16), ("array.rows", 8), ("memory.dram_bytes_per_cycle", 8.0))
    assert all("requant_lanes: expected a divisor of array.cols=24, got 16" in bad.reason for bad in spec.invalid)
    assert spec.bits == ("4", "backbone=4,neck=4,head=8")
    assert len(plan_tasks(spec)) == 10


def test_no_grid_is_the_base_design_and_default_bits_are_the_models():
    spec = _spec()
    assert spec.designs == (Design(()),) and spec.bits == ("",) and spec.fields == ()


def test_field_paths_cover_sections_and_top_level():
    paths = field_paths(load_preset("edge16_int4"))
    assert {"clock_mhz", "requant_lanes", "array.rows", "array.dataflow", "memory.weight_sram_bytes",
            "energy.static_mw"} <= set(paths)
    assert "name" not in paths and "provenance" not in paths


def test_build_config_validates_like_a_config_file():
    base = load_preset("edge16_int4")
    cfg = build_config(base, Design((("array.dataflow", "ws"), ("clock_mhz", 800))), "t.toml")
    assert cfg.array.dataflow == "ws" and cfg.clock_mhz == 800.0
    assert cfg.provenance["clock_mhz"] == "[sweep: t.toml]"
    with pytest.raises(ValueError, match=r"array.dataflow: expected one of os, ws, got 'xs'"):
        build_config(base, Design((("array.dataflow", "xs"),)), "t.toml")


@pytest.mark.parametrize("kwargs, message", [
    ({"grid": {"array": {"rowz": [1]}}}, "t.toml: [grid]: unknown field 'array.rowz' (valid: clock_mhz, requant_lanes, array.rows,"),
    ({"grid": {"array.rows": []}}, "t.toml: [grid] 'array.rows' must be a non-empty list of values, got []"),
    ({"grid": {"array.rows": 8}}, "t.toml: [grid] 'array.rows' must be a non-empty list of values, got 8"),
    ({"grid": {}}, "t.toml: [grid] is empty"),
    ({"points": [{"memory.sram_kib": 4}]}, "t.toml: [[points]] #1: unknown field 'memory.sram_kib' (valid: "),
    ({"bits": ["4", "neck=9"]}, "t.toml: sweep.bits 'neck=9': unsupported bit width 9"),
    ({"bits": []}, "t.toml: sweep.bits: expected a non-empty list of strings, got []"),
    ({"models": ["no_such_net"]}, "t.toml: sweep.models: 'no_such_net' is neither a zoo model (known: retinanet_r18_fpn,"),
    ({"base": "no_such_preset"}, "t.toml: sweep.base: unknown preset 'no_such_preset'; known: edge16_int4"),
    ({"colour": "red"}, "t.toml: unknown key 'sweep.colour' (valid: base, models, bits, input_shapes)"),
])
def test_bad_sweep_files_fail_with_one_line(kwargs, message):
    grid, points = kwargs.pop("grid", None), kwargs.pop("points", None)
    with pytest.raises(ValueError) as info:
        _spec(grid=grid, points=points, **kwargs)
    assert str(info.value).startswith(message) and "\n" not in str(info.value)


def test_unknown_table_and_bad_toml(tmp_path):
    with pytest.raises(ValueError, match=r"unknown table \[gird\] \(valid: sweep, grid, points\)"):
        parse_sweep({"sweep": {}, "gird": {}}, "t.toml", tmp_path)
    bad = tmp_path / "bad.toml"
    bad.write_text("[sweep\n")
    with pytest.raises(ValueError, match="bad.toml: not valid TOML"):
        load_sweep(bad)


def test_keys_are_stable_and_follow_the_effective_config():
    base = base_config("edge16_int4")
    cfg = build_config(base, Design((("array.rows", 8),)), "a.toml")
    same = build_config(base, Design((("array.rows", 8),)), "b.toml")
    assert point_key("m", "4", cfg) == point_key("m", "4", same) == "%s" % point_key("m", "4", cfg)
    assert len({point_key("m", "4", cfg), point_key("m", "8", cfg), point_key("n", "4", cfg),
                point_key("m", "4", base)}) == 4
    # the base preset's own value gives the same key as not overriding it
    assert point_key("m", "4", build_config(base, Design((("array.rows", 16),)), "a.toml")) == point_key("m", "4", base)


def test_input_shapes_pin_dynamic_models_and_enter_the_key():
    from hwsim.app.sweep.row import run_task
    from sw.data.models import corpus_path

    ocr = str(corpus_path("ppocr_det_tiny"))  # dynamic H, W
    spec = parse_sweep({"sweep": {"base": "edge16_int4", "models": [ocr], "input_shapes": ["x=1x3x64x96"]}},
                       "t.toml", Path("."))
    assert spec.input_shapes == ("x=1x3x64x96",)
    (task,) = plan_tasks(spec)
    row = run_task(task)
    assert "error" not in row and row["macs"] > 0
    # an unpinned dynamic model is refused before any point runs, with the hint
    with pytest.raises(ValueError, match="sweep.models: .*pin them with --input-shape x=1x3xHxW"):
        parse_sweep({"sweep": {"base": "edge16_int4", "models": [ocr]}}, "t.toml", Path("."))
    other = parse_sweep({"sweep": {"base": "edge16_int4", "models": [ocr], "input_shapes": ["x=1x3x64x64"]}},
                        "t.toml", Path("."))
    assert plan_tasks(other)[0].key != task.key  # the pinned shape enters the key
    with pytest.raises(ValueError, match="sweep.input_shapes: expected NAME=DxDx"):
        _spec(input_shapes=["x=1x3xHx4"])
