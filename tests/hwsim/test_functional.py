"""Tile-by-tile execution through the golden model equals whole-layer execution, bit for bit."""

from __future__ import annotations

from dataclasses import replace

import pytest

from hwsim.configfile import load_config
from hwsim.functional import check_layer
from hwsim.compiler.conv import ConvTiling
from hwsim.compiler.geometry import conv_geometry
from hwsim.compiler.search import choose_conv_tiling, legal_tilings
from sw.graph import load_model
from sw.graph.ir import Layer


def tiny_sram(kb: int = 2):
    cfg = load_config()
    return replace(cfg, memory=replace(cfg.memory, ifmap_sram_bytes=kb * 1024, weight_sram_bytes=kb * 1024,
                                       ofmap_sram_bytes=kb * 1024))


def conv(name, h, w, cin, cout, k, s, pad, groups=1, op="conv", dil=1, bits=4):
    kh, kw = (k, k) if isinstance(k, int) else k
    ho = (h + sum(pad[0]) - dil * (kh - 1) - 1) // s + 1
    wo = (w + sum(pad[1]) - dil * (kw - 1) - 1) // s + 1
    return Layer(name, op, ("x",), ((h, w, cin),), (ho, wo, cout), kernel=(kh, kw), stride=(s, s),
                 dilation=(dil, dil), padding=pad, groups=groups, w_bits=bits, a_bits=bits)


LAYERS = [
    conv("stride2_same", 37, 29, 12, 40, 3, 2, ((0, 1), (0, 1))),
    conv("same_3x3", 30, 33, 16, 24, 3, 1, ((1, 1), (1, 1))),
    conv("halo_5x5", 21, 25, 8, 33, 5, 1, ((2, 2), (2, 2))),
    conv("asym_7x3", 19, 23, 6, 17, (7, 3), 2, ((3, 3), (1, 1))),
    conv("dilated", 24, 24, 8, 16, 3, 1, ((2, 2), (2, 2)), dil=2),
    conv("depthwise_s2", 40, 36, 32, 32, 3, 2, ((0, 1), (0, 1)), groups=32, op="depthwise"),
    conv("depthwise_x2", 17, 19, 8, 16, 3, 1, ((1, 1), (1, 1)), groups=8, op="depthwise"),
    conv("grouped", 22, 18, 24, 36, 3, 1, ((1, 1), (1, 1)), groups=4),
    conv("int8", 20, 20, 16, 20, 3, 1, ((1, 1), (1, 1)), bits=8),
    Layer("fc", "fc", ("x",), ((3, 3, 40),), (1, 1, 50), w_bits=4, a_bits=4),
]


@pytest.mark.parametrize("layer", LAYERS, ids=lambda l: l.name)
def test_tiled_equals_whole(layer):
    cfg = tiny_sram()
    tiling = choose_conv_tiling(layer, cfg)
    result = check_layer(layer, cfg, seed=7, tiling=tiling)
    assert result.tiles > 1 or layer.name == "fc"  # the tiny SRAMs force real tiling
    assert result.identical and result.covered_once


@pytest.mark.parametrize("order", ["wo", "io"])
def test_both_loop_orders_cover_exactly_once(order):
    cfg = tiny_sram()
    layer = LAYERS[0]
    tiling = replace(choose_conv_tiling(layer, cfg), order=order)
    assert check_layer(layer, cfg, tiling=tiling).ok


@pytest.mark.parametrize("layer", [LAYERS[1], LAYERS[2], LAYERS[5], LAYERS[7], LAYERS[9]], ids=lambda l: l.name)
@pytest.mark.parametrize("tm, tn, tc", [(7, 5, 3), (16, 16, 5), (45, 8, 1), (100, 32, 7)])
def test_runs_across_rows_and_k_chunks(layer, tm, tn, tc):
    """Runs that start mid-row and span rows, partial channel blocks and K chunks (int32 partial sums)."""
    g = conv_geometry(layer)
    t = ConvTiling(g, min(tm, g.ho * g.wo), min(tn, g.n_g), min(tc, g.cin_g), "io")
    result = check_layer(layer, load_config(), seed=3, tiling=t)
    assert result.ok
    assert result.tiles == (g.groups * -(-g.ho * g.wo // t.tm) * -(-g.n_g // t.tn) * -(-g.cin_g // t.tc))


@pytest.mark.parametrize("layer", [LAYERS[0], LAYERS[3], LAYERS[6], LAYERS[9]], ids=lambda l: l.name)
def test_every_legal_mapping_is_exact(layer):
    """The whole search space on tiny SRAMs (includes K splits: 2 KiB cannot hold whole reductions)."""
    cfg = tiny_sram()
    tilings = legal_tilings(layer, cfg)
    assert any(t.tc < t.geom.cin_g for t in tilings) or layer.op.value == "depthwise"
    for t in tilings:
        assert check_layer(layer, cfg, seed=5, tiling=t).ok, t


def test_deep_reduction_split_by_accumulator_depth():
    """K = 3*3*512 with 64-element accumulators: the schedule spills depth partial sums; tiles stay exact."""
    layer = conv("deep", 6, 7, 512, 20, 3, 1, ((1, 1), (1, 1)))
    cfg = load_config()
    cfg = replace(cfg, array=replace(cfg.array, max_depth=64))
    from hwsim.compiler import compile_layer
    tot = compile_layer(layer, cfg).totals()
    assert tot["macs"] == layer.macs
    assert tot["ofmap_write_bytes"] > tot["store_bytes"]  # partial sums went through the output SRAM
    assert check_layer(layer, cfg, seed=2).ok


def test_yolov3_tiny_backbone_layers_functional():
    cfg = load_config()
    graph = load_model("yolov3_tiny_416")
    for layer in list(graph)[:5]:
        if layer.op.value == "conv":
            assert check_layer(layer, cfg).ok
