# amaranth: UnusedElaboratable=no
"""Requantization unit vs the golden model (TFLite double rounding), bit for bit.

Amaranth simulator: all edge vectors (~25k) and rounding ties, 2,000 seeded randoms,
the detector layer's accumulators, backpressure. Verilator: the same edges plus 10,000
seeded randoms and the whole detector layer in both precisions.
"""

import re

import numpy as np
import pytest
from amaranth.sim import Simulator

from rtl.backends import AmaranthModel
from rtl.cosim import cosim_requant, golden_requant
from rtl.requant import RequantUnit
from rtl.timing import REQUANT_PIPELINE_CYCLES
from tests.rtl.detector import detector_layer
from tests.rtl.vectors import concat, edge_vectors, random_vectors, tie_vectors


def _detector_vectors(bits: int) -> dict[str, np.ndarray]:
    layer = detector_layer(bits)
    acc = layer.acc
    n = acc.size
    per_channel = np.broadcast_to
    return {"acc": acc.ravel(), "bias": per_channel(layer.bias, acc.shape).ravel(),
            "multiplier": per_channel(layer.multiplier, acc.shape).ravel(),
            "shift": per_channel(layer.shift, acc.shape).ravel(),
            "out_zp": np.full(n, layer.out_zp), "act_min": np.full(n, layer.act_min),
            "act_max": np.full(n, layer.act_max)}


def _assert_exact(result):
    mismatches = np.flatnonzero(result.rtl != result.golden)
    assert mismatches.size == 0, f"{mismatches.size} mismatches, first at {mismatches[:5]}"
    assert np.all(result.latency == REQUANT_PIPELINE_CYCLES)


def test_pipeline_cycles_constant():
    assert RequantUnit.PIPELINE_CYCLES == REQUANT_PIPELINE_CYCLES


def test_edges_and_ties_amaranth():
    _assert_exact(cosim_requant(AmaranthModel(RequantUnit(32)),
                                concat(edge_vectors(32), tie_vectors(32)), 32))


def test_random_amaranth():
    _assert_exact(cosim_requant(AmaranthModel(RequantUnit(32)), random_vectors(2000, 7, 32), 32))


@pytest.mark.parametrize("out_width", [5, 9])
def test_narrow_outputs_clamp_amaranth(out_width):
    vectors = concat(random_vectors(1000, out_width, out_width), tie_vectors(out_width))
    _assert_exact(cosim_requant(AmaranthModel(RequantUnit(out_width)), vectors, out_width))


@pytest.mark.parametrize("bits", [4, 8])
def test_detector_layer_amaranth(bits):
    vectors = {key: value[::6] for key, value in _detector_vectors(bits).items()}
    _assert_exact(cosim_requant(AmaranthModel(RequantUnit(bits + 1)), vectors, bits + 1))


def test_saturating_case_is_observable():
    # INT32_MIN * INT32_MIN saturates to INT32_MAX; shift 0, no clamp.
    vectors = {"acc": np.array([-(2**31)]), "bias": np.array([0]), "multiplier": np.array([-(2**31)]),
               "shift": np.array([0]), "out_zp": np.array([0]), "act_min": np.array([-(2**31)]),
               "act_max": np.array([2**31 - 1])}
    result = cosim_requant(AmaranthModel(RequantUnit(32)), vectors, 32)
    assert result.rtl.tolist() == result.golden.tolist() == [2**31 - 1]


def test_backpressure_keeps_order_and_values():
    """Random input gaps and output stalls: every result arrives once, in order, exact."""
    vectors = random_vectors(300, 11, 9)
    expected = golden_requant(vectors).tolist()
    dut = RequantUnit(9)
    rng = np.random.default_rng(3)
    received = []

    async def testbench(ctx):
        sent = 0
        for _ in range(5000):
            if sent == len(expected) and len(received) == len(expected):
                break
            offer = sent < len(expected) and rng.random() < 0.7
            ctx.set(dut.i.valid, offer)
            if offer:
                ctx.set(dut.i.payload, {key: int(vectors[key][sent]) for key in vectors})
            ready = rng.random() < 0.6
            ctx.set(dut.o.ready, ready)
            if ready and ctx.get(dut.o.valid):
                received.append(ctx.get(dut.o.payload))
            if offer and ctx.get(dut.i.ready):
                sent += 1
            await ctx.tick()

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(testbench)
    sim.run()
    assert received == expected


@pytest.mark.parametrize("out_width", [1, 33, "9"])
def test_rejects_bad_out_width(out_width):
    with pytest.raises(ValueError, match=re.escape(f"out_width: expected an integer in [2, 32], got {out_width!r}")):
        RequantUnit(out_width)


@pytest.mark.slow
def test_edges_ties_and_10k_random_verilator(verilator_requant):
    vectors = concat(edge_vectors(32), tie_vectors(32), random_vectors(10_000, 2024, 32))
    _assert_exact(cosim_requant(verilator_requant, vectors, 32))


@pytest.mark.slow
@pytest.mark.parametrize("bits", [4, 8])
def test_detector_layer_verilator(verilator_requant, bits):
    vectors = _detector_vectors(bits)
    assert len(vectors["acc"]) == 256 * 48
    _assert_exact(cosim_requant(verilator_requant, vectors, 32))
