"""Mapping search: its choice is within 2% of the best of every legal mapping, timed by the event engine."""

from __future__ import annotations

from dataclasses import replace

import pytest

from hwsim.compiler.conv import conv_tree
from hwsim.compiler.schedule import expand
from hwsim.compiler.search import choose_conv_tiling, legal_tilings
from hwsim.configfile import load_config
from hwsim.engine import simulate_tiles_event
from sw.graph.ir import Layer


def conv(name, h, w, cin, cout, k, s, groups=1, op="conv", bits=4):
    pad = ((k // 2, k // 2), (k // 2, k // 2))
    ho, wo = (h + 2 * (k // 2) - k) // s + 1, (w + 2 * (k // 2) - k) // s + 1
    return Layer(name, op, ("x",), ((h, w, cin),), (ho, wo, cout), kernel=(k, k), stride=(s, s),
                 padding=pad, groups=groups, w_bits=bits, a_bits=bits)


def small(kb_in: int, kb_w: int, kb_out: int, bw: float):
    cfg = load_config()
    return replace(cfg, memory=replace(cfg.memory, ifmap_sram_bytes=kb_in * 1024, weight_sram_bytes=kb_w * 1024,
                                       ofmap_sram_bytes=kb_out * 1024, dram_bytes_per_cycle=bw))


CASES = [
    (conv("deep_3x3", 9, 9, 160, 40, 3, 1), small(4, 4, 4, 8.0)),          # K split forced by the weight SRAM
    (conv("wide_1x1", 14, 14, 48, 64, 1, 1), small(4, 4, 4, 4.0)),          # memory bound
    (conv("stride2", 26, 26, 32, 48, 3, 2), small(8, 16, 8, 8.0)),
    (conv("int8", 10, 10, 96, 40, 3, 1, bits=8), small(8, 8, 8, 8.0)),
    (conv("dw", 24, 24, 32, 32, 3, 1, groups=32, op="depthwise"), small(4, 4, 4, 2.0)),
    (Layer("fc", "fc", ("x",), ((2, 2, 40),), (1, 1, 40), w_bits=4, a_bits=4, repeat=20), small(1, 1, 1, 8.0)),
]


@pytest.mark.slow
@pytest.mark.parametrize("layer, cfg", CASES, ids=[c[0].name for c in CASES])
def test_search_within_two_percent_of_exhaustive(layer, cfg):
    bw, lat = cfg.memory.dram_bytes_per_cycle, cfg.memory.dram_latency_cycles

    def event_cycles(t):
        return simulate_tiles_event(expand(conv_tree(cfg, t)), bw, lat)

    every = legal_tilings(layer, cfg)
    assert len(every) >= 8
    best = min(event_cycles(t) for t in every)
    chosen = event_cycles(choose_conv_tiling(layer, cfg))
    assert chosen <= 1.02 * best, (chosen, best)
