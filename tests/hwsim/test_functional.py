"""Tile-by-tile execution through the golden model equals whole-layer execution, bit for bit."""

from __future__ import annotations

from dataclasses import replace

import pytest

from hwsim.configfile import load_config
from hwsim.functional import check_layer
from hwsim.compiler.conv import choose_conv_tiling
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


def test_yolov3_tiny_backbone_layers_functional():
    cfg = load_config()
    graph = load_model("yolov3_tiny_416")
    for layer in list(graph)[:5]:
        if layer.op.value == "conv":
            assert check_layer(layer, cfg).ok
