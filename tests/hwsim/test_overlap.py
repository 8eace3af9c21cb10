"""Overlap between layers (memory.prefetch_next_layer): what is hidden, and off = layers in isolation."""

from __future__ import annotations

from dataclasses import replace

import pytest

from hwsim.configfile import load_config
from hwsim.costs import dram_cycles
from hwsim.simulate import simulate_graph
from sw.graph import load_model


def test_prefetch_is_refused_where_the_rtl_top_times_the_array():
    cfg = load_config()
    assert not cfg.memory.prefetch_next_layer  # the RTL top runs one program per layer
    with pytest.raises(ValueError, match=r"memory.prefetch_next_layer: the RTL top .* one program per layer"):
        replace(cfg, memory=replace(cfg.memory, prefetch_next_layer=True))


def test_prefetch_hides_first_loads_under_the_previous_drain():
    base = load_config()  # a timing the RTL top does not define: SCALE-Sim's fold
    cfg = replace(base, array=replace(base.array, timing="scalesim"),
                  memory=replace(base.memory, prefetch_next_layer=True))
    graph = load_model("yolov3_tiny_416")
    on = simulate_graph(graph, cfg)
    off = simulate_graph(graph, replace(cfg, memory=replace(cfg.memory, prefetch_next_layer=False)))
    assert all(l.hidden_cycles == 0 for l in off.layers)
    assert on.layers[0].hidden_cycles == 0  # nothing runs before the first layer
    assert on.total["hidden_cycles"] == sum(l.hidden_cycles for l in on.layers) > 0
    assert on.total["cycles"] == off.total["cycles"] - on.total["hidden_cycles"]
    bw = cfg.memory.dram_bytes_per_cycle
    for a, b, layer in zip(on.layers, off.layers, graph):
        assert a.cycles == b.cycles - a.hidden_cycles and a.cycles >= a.compute_cycles
        # a layer fed by the previous one can only prefetch its first weights (port time, no latency)
        if a.hidden_cycles and len(layer.inputs) == 1 and layer.inputs[0] in [l.name for l in graph]:
            first_w = a.traffic["dram"]["weight"]
            assert a.hidden_cycles <= dram_cycles(first_w, bw) + cfg.memory.dram_latency_cycles
