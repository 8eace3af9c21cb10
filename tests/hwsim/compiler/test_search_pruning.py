"""The mapping search's shortcuts are exact: lower bounds never exceed the timed cycles, vectorised
run-window summaries and candidate compute equal the per-run / per-tile values, and skipping candidates
by their lower bound never changes the choice."""

from __future__ import annotations

from dataclasses import replace

import pytest

from hwsim.compiler import search
from hwsim.compiler.conv import ORDERS, conv_tree, run_summaries, run_window
from hwsim.compiler.geometry import MAC_OPS, conv_geometry, nbytes
from hwsim.compiler.schedule import expand
from hwsim.configfile import load_config
from hwsim.fastpath import pipeline_times
from sw.graph import load_model
from sw.graph.ir import Layer


def conv(name, h, w, cin, cout, k, s, groups=1, op="conv", bits=4):
    pad = ((k // 2, k // 2), (k // 2, k // 2))
    ho, wo = (h + 2 * (k // 2) - k) // s + 1, (w + 2 * (k // 2) - k) // s + 1
    return Layer(name, op, ("x",), ((h, w, cin),), (ho, wo, cout), kernel=(k, k), stride=(s, s),
                 padding=pad, groups=groups, w_bits=bits, a_bits=bits)


def small(cfg, kb: int, bw: float):
    return replace(cfg, memory=replace(cfg.memory, ifmap_sram_bytes=kb * 1024, weight_sram_bytes=kb * 1024,
                                       ofmap_sram_bytes=kb * 1024, dram_bytes_per_cycle=bw))


EDGE = load_config("edge16_int4")
CASES = [
    (conv("deep_3x3", 9, 9, 160, 40, 3, 1), small(EDGE, 4, 8.0)),            # K split
    (conv("wide_1x1", 14, 14, 48, 64, 1, 1), small(EDGE, 4, 4.0)),            # memory bound
    (conv("stride2", 26, 26, 32, 48, 3, 2), EDGE),
    (conv("int8", 10, 10, 96, 40, 3, 1, bits=8), small(EDGE, 8, 8.0)),
    (conv("dw", 24, 24, 32, 32, 3, 1, groups=32, op="depthwise"), small(EDGE, 4, 2.0)),
    (conv("ws", 20, 20, 64, 48, 3, 1), small(EDGE, 8, 8.0).with_dataflow("ws")),
    (conv("scalesim", 28, 28, 64, 96, 3, 1, bits=8), load_config("scalesim_32x32")),
    (Layer("fc", "fc", ("x",), ((2, 2, 40),), (1, 1, 40), w_bits=4, a_bits=4, repeat=20), small(EDGE, 1, 8.0)),
    (conv("float", 12, 12, 24, 16, 3, 1, bits=32), small(EDGE, 4, 8.0)),  # vector unit's float MACs
]


@pytest.mark.parametrize("layer, cfg", CASES, ids=[c[0].name for c in CASES])
def test_lower_bound_never_exceeds_the_timed_cycles(layer, cfg):
    for t in search.legal_tilings(layer, cfg)[:60]:
        compute = sum(tile.compute_cycles for tile in expand(conv_tree(cfg, t)))
        assert search.estimate(t, cfg)[0] == compute  # the candidate compute the bound uses is exact
        lb = search.lower_bound(t, cfg, compute)
        assert lb <= search._cycles(t, cfg), (t.tm, t.tn, t.tc, t.order)
        # ... and at least the compute plus the first load, as the untruncated recurrence sees it
        tiles = list(expand(conv_tree(cfg, t)))
        assert lb <= pipeline_times(tiles, cfg.memory.dram_bytes_per_cycle, cfg.memory.dram_latency_cycles)[0]


def _reference_summary(g, tm, row_block=1, bits=None):
    """Run summary from :func:`run_window`, one run at a time; runs padded to whole ``row_block`` blocks, each
    padding pixel one im2col row (``kh * kw`` elements per channel), codes of ``bits``."""
    bits = g.a_bits if bits is None else bits
    m, counts, in_bytes, largest = g.ho * g.wo, {}, 0, 0
    for p0 in range(0, m, tm):
        p1 = min(p0 + tm, m)
        w = run_window(g, p0, p1)
        counts[p1 - p0] = counts.get(p1 - p0, 0) + 1
        pad = -(-(p1 - p0) // row_block) * row_block - (p1 - p0)
        elements = w.elements + pad * g.kh * g.kw
        in_bytes += nbytes(elements * g.cin_g, bits)
        largest = max(largest, elements)
    return counts, in_bytes, largest


@pytest.mark.parametrize("row_block, bits", [(1, None), (4, 8), (16, None)])
@pytest.mark.parametrize("layer", [c[0] for c in CASES[:6]] + [conv("odd", 13, 17, 8, 8, 5, 3)],
                         ids=lambda layer: layer.name)
def test_vectorised_run_summaries_equal_run_by_run(layer, row_block, bits):
    g = conv_geometry(layer)
    m = g.ho * g.wo
    tms = tuple(sorted({1, 2, 3, 7, 16, g.wo, g.wo + 1, 2 * g.wo, m // 2 or 1, m}))
    got = run_summaries(g, tms, row_block, bits)
    for tm in tms:
        pm_count, in_bytes, largest = got[tm]
        assert (dict(pm_count), in_bytes, largest) == _reference_summary(g, tm, row_block, bits), tm


def test_pruning_by_lower_bound_does_not_change_any_choice(monkeypatch):
    cfgs = [EDGE, small(EDGE, 8, 4.0), load_config("int8_32x32"), EDGE.with_dataflow("ws")]
    geoms = {conv_geometry(layer) for layer in load_model("yolov3_tiny_416") if layer.op in MAC_OPS}
    geoms |= {conv_geometry(c[0]) for c in CASES if c[0].op != "fc"}
    timed = []
    cycles = search._cycles
    monkeypatch.setattr(search, "_cycles", lambda t, cfg: timed.append(t) or cycles(t, cfg))
    pruned = {(g, i): search._choose.__wrapped__(g, cfg) for g in geoms for i, cfg in enumerate(cfgs)}
    n_pruned = len(timed)
    monkeypatch.setattr(search, "lower_bound", lambda *args, **kwargs: 0)  # nothing skipped
    for (g, i), chosen in pruned.items():
        full = search._choose.__wrapped__(g, cfgs[i])
        assert (full, full.reason) == (chosen, chosen.reason)
        assert chosen.order in ORDERS
    assert len(timed) - n_pruned > n_pruned  # some candidates were skipped


def test_equivalent_loop_orders_take_one_scoring_slot():
    """With one channel block per group (a depthwise layer) both loop orders run the same tiles: the search
    scores distinct schedules, and on this small layer it finds the fastest of every legal mapping, timed
    exactly (every loop iteration simulated)."""
    cfg = load_config("examples/top4_small_sram.toml")
    cfg = replace(cfg, memory=replace(cfg.memory, ifmap_sram_bytes=512, ofmap_sram_bytes=128))
    layer = conv("dw", 6, 6, 4, 4, 3, 1, groups=4, op="depthwise")
    exact = {}
    for t in search.legal_tilings(layer, cfg):
        tiles = list(expand(conv_tree(cfg, t)))
        exact[(t.tm, t.tn, t.tc, t.order)] = pipeline_times(tiles, cfg.memory.dram_bytes_per_cycle,
                                                            cfg.memory.dram_latency_cycles)[0]
    # one channel block: both orders of a shape time the same
    assert all(exact[(tm, tn, tc, "wo")] == exact[(tm, tn, tc, "io")] for tm, tn, tc, _ in exact)
    chosen = search.choose_conv_tiling(layer, cfg)
    assert exact[(chosen.tm, chosen.tn, chosen.tc, chosen.order)] <= search.CYCLE_SLACK * min(exact.values())


def test_the_search_keeps_to_the_rtl_tops_instruction_memory():
    """On the RTL top's array the chosen mapping's program fits the instruction memory when a legal one does;
    when none does, the reason says the top cannot run the layer in one program."""
    cfg = small(EDGE, 4, 8.0)
    layer = conv("deep_3x3", 9, 9, 160, 40, 3, 1)
    g = conv_geometry(layer)
    passes = cfg.mac_passes(4, 4)
    words = {t: search._program_words(cfg, g, passes, t) for t in search.legal_tilings(layer, cfg)}
    free = search._choose.__wrapped__(g, cfg)
    longest_needed = search._program_words(cfg, g, passes, free)
    limit = min(words.values()) + 1
    assert limit < longest_needed  # the unconstrained choice would not fit
    chosen = search._choose.__wrapped__(g, replace(cfg, memory=replace(cfg.memory, program_words=limit)))
    assert search._program_words(cfg, g, passes, chosen) <= limit
    assert "exceeds the RTL top's" in chosen.reason["why"]
    tight = replace(cfg, memory=replace(cfg.memory, program_words=min(words.values()) - 1))
    assert "cannot run this layer in one program" in search._choose.__wrapped__(g, tight).reason["why"]
    # off the top's array no limit applies
    assert search._program_words(cfg.with_dataflow("ws"), g, passes, free) == 0
