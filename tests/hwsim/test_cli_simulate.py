"""``hwsim simulate``: default run, JSON/CSV keys, comparison, bad input (one line, exit 2), atomic outputs."""

from __future__ import annotations

import json

import pytest

JSON_LAYER_KEYS = {"name", "op", "macs", "cycles", "compute_cycles", "stall_cycles", "utilization",
                   "dram_read_bytes", "dram_write_bytes", "sram_read_bytes", "sram_write_bytes", "bound", "energy_pj"}
ENERGY_KEYS = {"mac", "sram", "dram", "requant", "vector", "static", "total"}
TOTAL_KEYS = {"macs", "cycles", "latency_ms", "fps", "energy_mj", "utilization", "dram_bytes"}


def test_default_run_prints_totals_and_writes_json(run_cli, tmp_path, capsys):
    out = tmp_path / "r.json"
    assert run_cli(["simulate", "--json", str(out), "--csv", str(tmp_path / "r.csv"), "--show-config"]) == 0
    text = capsys.readouterr().out
    for word in ("latency (ms)", "frames/s", "energy per frame (mJ)", "average utilisation", "DRAM MB per frame",
                 "16x16 int4 PEs", "RTL array timing", "Subtotals by part", "backbone", "Horowitz"):
        assert word in text
    data = json.loads(out.read_text())
    fields = data["config"]["fields"]
    assert fields["array.rows"]["value"] == 16 and fields["array.mac_modes"]["value"] == [4, 8]
    assert fields["clock_mhz"]["value"] == 500.0 and fields["energy.ifmap_sram_pj_per_byte"]["derived"] == "from size"
    assert isinstance(fields["energy.ifmap_sram_pj_per_byte"]["value"], float)
    assert {"model", "config", "layers", "total"} <= set(data)
    assert data["model"] == "retinanet_r50_fpn"
    for layer in data["layers"]:
        assert JSON_LAYER_KEYS <= set(layer) and ENERGY_KEYS == set(layer["energy_pj"])
        assert 0 <= layer["utilization"] <= 1 and layer["bound"] in ("compute", "memory")
    assert TOTAL_KEYS <= set(data["total"])
    assert (tmp_path / "r.csv").read_text().startswith("name,op,")


def test_compare_bits_and_per_part_bits(run_cli, tmp_path, capsys):
    out = tmp_path / "c.json"
    assert run_cli(["simulate", "--model", "yolov3_tiny_416", "--compare-bits", "4,8", "--json", str(out)]) == 0
    runs = json.loads(out.read_text())["runs"]
    assert [r["bits"] for r in runs] == ["4", "8"]
    assert runs[1]["total"]["cycles"] > 3 * runs[0]["total"]["cycles"]  # int8 = 4 passes on int4 PEs
    assert run_cli(["simulate", "--model", "yolov3_tiny_416", "--bits", "8,head=4", "--json", str(out),
                    "--no-layers"]) == 0
    layers = json.loads(out.read_text())["layers"]
    assert {(l["part"], l["w_bits"]) for l in layers} >= {("head", 4), ("backbone", 8)}


def test_plots_and_schedule(run_cli, tmp_path):
    sched = tmp_path / "s.json"
    assert run_cli(["simulate", "--model", "yolov3_tiny_416", "--plot", str(tmp_path), "--schedule", str(sched),
                    "--no-layers"]) == 0
    for name in ("latency.png", "energy.png", "energy_operands.png", "roofline.png"):
        assert (tmp_path / name).read_bytes()[:4] == b"\x89PNG"
    layer = json.loads(sched.read_text())["layers"][0]
    assert {"tiling", "tile_kinds", "loops"} <= set(layer)


def test_trace_is_the_event_engine_timeline(run_cli, tmp_path):
    """--trace: every tile's load, latency, compute, tail and store; ends when event mode says the layer ends."""
    import csv

    from hwsim.compiler import compile_layer
    from hwsim.configfile import load_config
    from hwsim.engine import simulate_tiles_event
    from sw.graph import load_model

    out, js = tmp_path / "t.csv", tmp_path / "r.json"
    assert run_cli(["simulate", "--model", "yolov3_tiny_416", "--trace", "backbone.conv4", "--trace-out", str(out),
                    "--json", str(js), "--no-layers"]) == 0
    rows = list(csv.DictReader(out.read_text().splitlines()))
    cfg = load_config()
    tiles = list(compile_layer(load_model("yolov3_tiny_416").layer("backbone.conv4"), cfg).tiles())
    cycles = simulate_tiles_event(tiles, cfg.memory.dram_bytes_per_cycle, cfg.memory.dram_latency_cycles)
    assert max(int(r["end"]) for r in rows) == cycles
    computes = [r for r in rows if r["event"] == "compute"]
    assert len(computes) == len(tiles)
    assert sum(int(r["end"]) - int(r["start"]) for r in computes) == sum(t.compute_cycles for t in tiles)
    stores = [r for r in rows if r["event"] == "store"]
    assert sum(int(r["end"]) - int(r["start"]) for r in stores) == sum(
        -(-t.store_bytes // int(cfg.memory.dram_bytes_per_cycle)) for t in tiles if t.store_bytes)
    assert all(int(r["start"]) <= int(r["end"]) for r in rows)
    # traffic and energy per operand: levels sum to the layer's DRAM bytes and SRAM/DRAM energy
    for layer in json.loads(js.read_text())["layers"]:
        t, e = layer["traffic"], layer["operand_energy_pj"]
        assert sum(t["dram"].values()) == layer["dram_read_bytes"] + layer["dram_write_bytes"]
        assert sum(t["sram_read"].values()) == layer["sram_read_bytes"]
        assert sum(e["dram"].values()) == pytest.approx(layer["energy_pj"]["dram"])
        assert sum(e["sram"].values()) == pytest.approx(layer["energy_pj"]["sram"])
        if layer["unit"] == "array":
            assert t["pe"]["input"] == layer["macs"] * (4 if layer["w_bits"] == 8 else 1)
    assert run_cli(["simulate", "--model", "yolov3_tiny_416", "--trace", "nope", "--trace-out",
                    str(tmp_path / "x.csv"), "--no-layers"]) == 2


def test_functional_flag(run_cli, capsys):
    assert run_cli(["simulate", "--model", "yolov3_tiny_416", "--config", "int8_32x32", "--functional",
                    "--no-layers"]) == 0
    assert "bit-identical" in capsys.readouterr().out


def _bad(tmp_path, body):
    f = tmp_path / "bad.toml"
    f.write_text(body)
    return str(f)


@pytest.mark.parametrize("args, message", [
    (["--config", "nope"], "unknown preset 'nope'"),
    (["--bits", "16"], "w16a16 is not supported"),
    (["--bits", "5x"], "--bits: expected a width"),
    (["--bits", "tail=4"], "unknown part 'tail'"),
    (["--model", "no_such_model"], "neither a zoo model"),
])
def test_bad_input_one_line_exit_2(run_cli, tmp_path, capsys, args, message):
    out = tmp_path / "never.json"
    assert run_cli(["simulate", "--model", "yolov3_tiny_416", *args, "--json", str(out)]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and err.startswith("hwsim simulate: error:")
    assert not out.exists()


@pytest.mark.parametrize("body, message", [
    ('preset = "edge16_int4"\n[memory]\nifmap_sram_bytes = 0\n', "memory.ifmap_sram_bytes: expected an integer > 0"),
    ('preset = "edge16_int4"\n[memory]\ndram_bytes_per_cycle = -1.0\n', "dram_bytes_per_cycle: expected a number > 0"),
    ('preset = "edge16_int4"\n[array]\nrows = -4\n', "array.rows: expected an integer > 0"),
    ('preset = "edge16_int4"\n[array]\nmac_modes = [4]\n', "w8a8 is not supported"),
    ('preset = "edge16_int4"\n[memory]\nweight_sram_bytes = 16\n',
     # int4 3x3 weights of one input channel padded to a whole 16-column block (16 x 9 x 4 bits = 72 bytes)
     # plus 9 parameter bytes per column (144) [rtl]
     "layer 'backbone.conv0': the smallest legal tile (1 output pixel x 1 output channel x 1 input channel) "
     f"needs {16 * 9 * 4 // 8 + 16 * 9} bytes of weight SRAM per buffer"),
])
def test_bad_config_one_line_exit_2(run_cli, tmp_path, capsys, body, message):
    args = ["simulate", "--model", "yolov3_tiny_416", "--config", _bad(tmp_path, body)]
    if "mac_modes" in body:
        args += ["--bits", "8"]
    assert run_cli(args) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_existing_output_survives_a_failed_run(run_cli, tmp_path):
    out = tmp_path / "keep.json"
    out.write_text("old")
    assert run_cli(["simulate", "--config", "nope", "--json", str(out)]) == 2
    assert out.read_text() == "old"


def test_layers_no_program_fits_are_named(run_cli, capsys):
    """MobileNetV2's 7x7 depthwise layers of 960 groups take at least 5 instructions per group on the RTL top,
    more than its 4,096-word instruction memory in every mapping: the run names them in one note."""
    assert run_cli(["simulate", "--model", "mobilenet_v2", "--no-layers"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert ("note: 3 layers need more instructions than the RTL top's 4096-word instruction memory in every legal "
            "mapping (backbone.block14.dw, backbone.block15.dw, backbone.block16.dw)") in text
    assert run_cli(["simulate", "--model", "resnet18", "--no-layers"]) == 0
    assert "note:" not in capsys.readouterr().out
