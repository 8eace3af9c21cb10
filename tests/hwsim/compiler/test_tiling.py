"""Tiler: tiles fit half of each SRAM, MACs are conserved, schedules serialise to JSON."""

from __future__ import annotations

import json

import pytest

from hwsim.configfile import load_config
from hwsim.compiler import compile_graph
from hwsim.compiler.conv import conv_tree
from hwsim.compiler.search import choose_conv_tiling
from hwsim.compiler.schedule import expand
from rtl.arch import PARAM_BYTES
from sw.graph import load_model


@pytest.mark.parametrize("model", ["yolov3_tiny_416", "mobilenet_ssd_300"])
@pytest.mark.parametrize("preset", ["edge16_int4", "int8_32x32"])
def test_tiles_fit_and_conserve_macs(model, preset):
    cfg = load_config(preset)
    graph = load_model(model)
    sched = compile_graph(graph, cfg)
    half = {k: getattr(cfg.memory, f"{k}_sram_bytes") // 2 for k in ("ifmap", "weight", "ofmap")}
    for layer, ls in zip(graph, sched.layers):
        assert ls.totals()["macs"] == layer.macs, layer.name
        for tile in expand(ls.root):
            assert tile.load_ifmap_bytes <= half["ifmap"] and tile.load_weight_bytes <= half["weight"]
            assert tile.store_bytes <= half["ofmap"]
    data = json.loads(sched.to_json())
    assert data["layers"][0]["tiling"]["loop_order"] in ("wo", "io")


@pytest.mark.parametrize("name", ["backbone.conv0", "backbone.conv4", "neck.scale0.conv0"])
def test_weights_read_once_in_weights_outer_order(name):
    """Weights outer with one K chunk: each weight block is loaded once, as the RTL top moves it [rtl]:
    padded to whole 16-column blocks, with 9 bytes of requantization parameters per padded column."""
    cfg = load_config()
    layer = load_model("yolov3_tiny_416").layer(name)
    t = choose_conv_tiling(layer, cfg)
    t = type(t)(t.geom, t.tm, t.tn, t.geom.cin_g, "wo")
    total = sum(tile.load_weight_bytes for tile in expand(conv_tree(cfg, t)))
    cout = layer.out_shape[-1]
    k = layer.kernel[0] * layer.kernel[1] * layer.in_shapes[0][-1]
    columns = sum(-(-(min(c + t.tn, cout) - c) // 16) * 16 for c in range(0, cout, t.tn))
    assert total == columns * k * layer.w_bits // 8 + columns * PARAM_BYTES
