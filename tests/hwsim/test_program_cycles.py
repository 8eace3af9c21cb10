"""Layers the RTL top runs pay its controller's program start and end once (rtl.timing.PROGRAM_CYCLES)."""

from __future__ import annotations

from dataclasses import replace

from hwsim.compiler import compile_layer
from hwsim.configfile import load_config
from hwsim.fastpath import simulate_tree
from hwsim.simulate import simulate_graph
from rtl.timing import PROGRAM_CYCLES
from sw.graph import load_model
from sw.graph.ir import Op


def _isolated(preset: str | None):
    cfg = load_config(preset) if preset else load_config()
    return replace(cfg, memory=replace(cfg.memory, prefetch_next_layer=False))


def test_rtl_top_layers_pay_the_program_cycles_and_others_do_not():
    assert PROGRAM_CYCLES == 6 + 1  # start -> first DRAM request, last transfer -> done (docs/rtl.md)
    graph = load_model("mobilenet_v2")
    for preset, rtl in ((None, True), ("scalesim_32x32", False)):
        cfg = _isolated(preset)
        assert (cfg.array.dataflow == "os" and cfg.array.timing == "rtl") == rtl
        bw, lat = cfg.memory.dram_bytes_per_cycle, cfg.memory.dram_latency_cycles
        result = simulate_graph(graph, cfg)
        charged = 0
        for layer, r in zip(graph, result.layers):
            sched = compile_layer(layer, cfg)
            on_top = rtl and sched.unit == "array" and layer.op in (Op.CONV, Op.DEPTHWISE, Op.FC)
            assert r.cycles == simulate_tree(sched.root, bw, lat) + (7 if on_top else 0), layer.name
            charged += on_top
        if rtl:  # every conv / depthwise / fc of MobileNetV2 runs on the top; pooling and adds do not
            assert 0 < charged < len(result.layers)
