"""The fast path (batched identical tiles) agrees with the tile-by-tile simpy engine within 1%."""

from __future__ import annotations

import pytest

from hwsim.configfile import load_config
from hwsim.engine import LayerEngine
from hwsim.fastpath import pipeline_times
from hwsim.simulate import simulate_graph
from hwsim.compiler.schedule import Tile
from sw.graph import load_model


def _tile(load, comp, store, tail=7):
    return Tile("array", 1, 1, 1, 1, 1, load, 0, store, comp, tail, 0, 0, 0, 0, 0, 0)


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


@pytest.mark.parametrize("model", ["yolov3_tiny_416", pytest.param("retinanet_r50_fpn", marks=pytest.mark.slow)])
def test_fast_path_within_one_percent_of_event_mode(model):
    cfg = load_config()
    graph = load_model(model)
    event = simulate_graph(graph, cfg, mode="event")
    fast = simulate_graph(graph, cfg, mode="fast")
    for e, f in zip(event.layers, fast.layers):
        assert abs(f.cycles - e.cycles) <= 0.01 * e.cycles, (e.name, e.cycles, f.cycles)
        assert f.compute_cycles == e.compute_cycles and f.dram_read_bytes == e.dram_read_bytes
