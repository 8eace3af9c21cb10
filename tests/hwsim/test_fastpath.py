"""The fast path (batched identical tiles, steady-state replication) equals the tile-by-tile simpy engine."""

from __future__ import annotations

import pytest

from hwsim.configfile import load_config
from hwsim.engine import LayerEngine
from hwsim.fastpath import pipeline_times, simulate_tree
from hwsim.simulate import simulate_graph
from hwsim.compiler.schedule import Loop, Tile, expand
from sw.graph import load_model


def _tile(load, comp, store, tail=7, release=0):
    return Tile("array", 1, 1, 1, 1, 1, load, 0, store, comp, tail, 0, 0, 0, 0, 0, 0, release_cycles=release)


def test_engine_exact_timeline():
    # bw 1 byte/cycle, latency 2: load 4 (0-4, ready 6), compute 10 (6-16), tail 7, store 3 (23-26).
    eng = LayerEngine([_tile(4, 10, 3)], 1.0, 2, log=True)
    assert eng.run() == 26
    assert eng.log == [(0, "dma_in", "start", 0), (6, "dma_in", "ready", 0), (6, "array", "start", 0),
                       (16, "array", "end", 0), (23, "requant", "done", 0), (23, "write_back", "start", 0),
                       (26, "write_back", "end", 0)]


@pytest.mark.parametrize("loads, comps, stores", [
    ([5] * 8, [20] * 8, [3] * 8),          # compute bound
    ([30] * 8, [5] * 8, [20] * 8),         # memory bound, port contention
    ([7, 0, 0, 9, 0, 3], [4, 40, 2, 9, 1, 30], [0, 5, 9, 0, 2, 1]),
])
def test_recurrence_matches_engine(loads, comps, stores):
    tiles = [_tile(a, b, c) for a, b, c in zip(loads, comps, stores)]
    for bw, lat in ((1.0, 0), (1.0, 13), (2.5, 100)):
        assert pipeline_times(tiles, bw, lat)[0] == LayerEngine(tiles, bw, lat).run()


def test_input_slot_freed_at_the_last_operand_beat():
    # bw 1 byte/cycle, latency 0, loads 4, compute 10 of which the last 6 come after the last operand beat:
    # tile 0 loads 0-4, computes 4-14 and frees its input slot at 14 - 6 = 8, so tile 2 loads 8-12 (tile 1: 4-8).
    tiles = [_tile(4, 10, 1, tail=0, release=6)] * 3
    eng = LayerEngine(tiles, 1.0, 0, log=True)
    end = eng.run()
    assert (8, "dma_in", "start", 2) in eng.log and (14, "array", "end", 0) in eng.log
    assert pipeline_times(tiles, 1.0, 0)[0] == end


# Loops whose steady state the fast path must replicate exactly (tiles of real layers): a period of three
# iterations (BlazeFace depthwise_conv2d_12 on edge16_int4, int4: 95, 95, 100 cycles per tile); a period of two
# with an odd number of skipped iterations (PicoDet p2o.Conv.24 on top_edge8); a transient longer than the
# first window (BlazeFace depthwise_conv2d_11 on int8_32x32).
PERIODIC = {
    "period3": (Loop((_tile(248, 64, 512, tail=31, release=7),), 96), 8.0, 100),
    "period2_odd": (Loop((_tile(2120, 256, 32, tail=22), Loop((_tile(1096, 256, 32, tail=22),), 7))), 4.0, 100),
    "transient": (Loop((_tile(832, 64, 1024, tail=47, release=23),), 88), 16.0, 120),
}


@pytest.mark.parametrize("name", sorted(PERIODIC))
def test_steady_state_replication_is_exact(name):
    root, bw, lat = PERIODIC[name]
    event = LayerEngine(list(expand(root)), bw, lat).run()
    assert simulate_tree(root, bw, lat) == event
    assert simulate_tree(root, bw, lat, rounds=0) != event  # one pass of the first window misses it


@pytest.mark.parametrize("model, config", [
    ("yolov3_tiny_416", None), ("mobilenet_v2", "int8_32x32"), ("mobilenet_ssd_300", "scalesim_32x32"),
    pytest.param("retinanet_r50_fpn", None, marks=pytest.mark.slow)])
def test_fast_path_equals_event_mode(model, config):
    cfg = load_config(config)
    graph = load_model(model)
    event = simulate_graph(graph, cfg, mode="event")
    fast = simulate_graph(graph, cfg, mode="fast")
    for e, f in zip(event.layers, fast.layers):
        assert f.cycles == e.cycles, (e.name, e.cycles, f.cycles)
        assert f.compute_cycles == e.compute_cycles and f.dram_read_bytes == e.dram_read_bytes


@pytest.mark.parametrize("config", ["edge16_int4", "int8_32x32"])
def test_fast_path_equals_event_mode_on_blazeface_depthwise_layers(config):
    """BlazeFace int4: depthwise layers whose input slots free early settle into period-3 patterns (edge16_int4)
    or after a long transient (int8_32x32)."""
    from sw.data.models import blazeface_path
    from sw.extras import MissingExtra

    try:
        path = blazeface_path()
    except (MissingExtra, ValueError) as exc:
        pytest.skip(str(exc))
    cfg = load_config(config)
    graph = load_model(str(path)).with_bits(default=(4, 4))
    event = simulate_graph(graph, cfg, mode="event")
    fast = simulate_graph(graph, cfg, mode="fast")
    assert [f.cycles for f in fast.layers] == [e.cycles for e in event.layers]
