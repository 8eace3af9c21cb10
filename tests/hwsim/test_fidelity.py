"""Fidelity: roofline lower bound, and SCALE-Sim's stall-free compute formula."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest

from hwsim.configfile import load_config
from hwsim.energy import with_unlimited_sram
from hwsim.simulate import simulate_graph
from sw.graph import load_model

PEERS = Path(__file__).resolve().parents[1] / "fixtures" / "scalesim"
DOCS = Path(__file__).resolve().parents[2] / "docs" / "simulator.md"


@pytest.mark.parametrize("model, preset, bits", [
    ("yolov3_tiny_416", "edge16_int4", None), ("yolov3_tiny_416", "edge16_int4", (8, 8)),
    ("mobilenet_ssd_300", "edge16_int4", None), ("yolov3_416", "int8_32x32", None),
    ("retinanet_r50_fpn", "edge16_int4", None), ("yolov3_tiny_416", "scalesim_32x32", None),
])
@pytest.mark.parametrize("dataflow", ["os", "ws"])
def test_no_layer_beats_its_roofline(model, preset, bits, dataflow):
    cfg = load_config(preset).with_dataflow(dataflow)
    graph = load_model(model)
    if bits:
        graph = graph.with_bits(default=bits)
    for layer, res in zip(graph, simulate_graph(graph, cfg).layers):
        passes = cfg.mac_passes(layer.w_bits, layer.a_bits)
        peak = cfg.array.rows * cfg.array.cols / passes
        bound = max(layer.macs / peak, (res.dram_read_bytes + res.dram_write_bytes) / cfg.memory.dram_bytes_per_cycle)
        assert res.cycles >= bound, (layer.name, res.cycles, bound)
        assert 0.0 <= res.utilization <= 1.0
        assert res.cycles == res.compute_cycles + res.stall_cycles


def scalesim_stall_free(h, w, fh, fw, c, n, s, rows, cols, dataflow="os"):
    """SCALE-Sim's stall-free cycles (folds x per-fold cycles - 1), written independently of hwsim."""
    e = math.ceil((h - fh + s) / s) * math.ceil((w - fw + s) / s)
    k = fh * fw * c
    if dataflow == "os":
        folds, per_fold = math.ceil(e / rows) * math.ceil(n / cols), k + rows + cols - 2
    else:
        folds, per_fold = math.ceil(k / rows) * math.ceil(n / cols), 2 * rows + cols + e - 2
    return folds, folds * per_fold - 1


def _rows(topology):
    lines = (PEERS / f"{topology}.csv").read_text().splitlines()[1:]
    for line in lines:
        f = [x.strip() for x in line.split(",") if x.strip()]
        if f:
            yield f[0], [int(v) for v in f[1:8]]


@pytest.mark.parametrize("topology", ["yolo_tiny", "Resnet18"])
def test_scalesim_os_compute_cycles(topology):
    """Unlimited bandwidth (and SRAM, as SCALE-Sim's formula has no capacity): ours = SCALE-Sim + the RTL drain.

    The RTL (rtl/timing.py) hands each fold's accumulators to the requantization
    lanes (rows * cols / lanes cycles, with lanes = cols: ``rows``)
    before the next fold, and the last result leaves the requantization pipeline
    (7 cycles) later; SCALE-Sim counts neither (and reports one cycle less). Every
    layer must match exactly after that documented term; layers where the term
    exceeds 2% must be listed with their numbers in docs/simulator.md.
    """
    cfg = with_unlimited_sram(load_config("scalesim_32x32").with_unlimited_bandwidth())
    graph = load_model(str(PEERS / f"{topology}.csv"))
    results = {r.name: r for r in simulate_graph(graph, cfg).layers}
    docs = DOCS.read_text()
    r, c = cfg.array.rows, cfg.array.cols
    for name, (h, w, fh, fw, ch, n, s) in _rows(topology):
        folds, ss = scalesim_stall_free(h, w, fh, fw, ch, n, s, r, c)
        ours = results[name].compute_cycles
        drain = folds * (r * c // cfg.requant_lanes) + 7 + 1
        assert ours - ss == drain, (name, ours, ss, drain)
        if abs(ours - ss) > 0.02 * ss:
            assert re.search(rf"\|\s*{topology}\s*\|\s*{name}\s*\|", docs), f"{topology}/{name} not explained in docs"
