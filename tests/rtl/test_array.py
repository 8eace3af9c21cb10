# amaranth: UnusedElaboratable=no
"""Systolic array: random GEMM tiles and detector tiles, bit-exact; tile latency = the formula."""

import re

import numpy as np
import pytest

from rtl.array import SystolicArray
from rtl.backends import AmaranthModel
from rtl.cosim import ArrayShape, cosim_array
from rtl.export import to_verilog
from rtl.timing import array_tile_cycles
from tests.rtl.detector import detector_layer


def _random_tiles(shape: ArrayShape, tiles: int, k: int, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    bits, rows, cols = shape.bits, shape.rows, shape.cols
    signed = rng.integers(0, 2, tiles)
    lo = np.where(signed == 1, -(1 << (bits - 1)), 0)
    span = 1 << bits
    x = rng.integers(0, span, (tiles, rows, k)) + lo[:, None, None]
    zp = rng.integers(0, span, tiles) + lo
    out_lo, out_hi = -(1 << bits), (1 << bits) - 1
    return {
        "x": x, "w": rng.integers(-(1 << (bits - 1)), 1 << (bits - 1), (tiles, k, cols)),
        "bias": rng.integers(-5000, 5000, (tiles, cols)),
        "multiplier": rng.integers(2**30, 2**31, (tiles, cols)),
        "shift": rng.integers(-12 if bits == 8 else -8, 1, (tiles, cols)),
        "x_zp": zp, "x_signed": signed, "out_zp": rng.integers(-8, 8, tiles),
        "act_min": np.full(tiles, out_lo), "act_max": np.full(tiles, out_hi),
    }


def _detector_tiles(bits: int, rows: int, cols: int, tiles: int) -> dict[str, np.ndarray]:
    """Tiles cut from the quantized detector layer: pixel block i, channel block i."""
    layer = detector_layer(bits)
    x, w, biases, mults, shifts = [], [], [], [], []
    for i in range(tiles):
        p0, c0 = (i * rows) % layer.x.shape[0], (i * cols) % layer.w.shape[1]
        x.append(layer.x[p0:p0 + rows])
        w.append(layer.w[:, c0:c0 + cols])
        biases.append(layer.bias[c0:c0 + cols])
        mults.append(layer.multiplier[c0:c0 + cols])
        shifts.append(layer.shift[c0:c0 + cols])
    return {"x": np.stack(x), "w": np.stack(w), "bias": np.stack(biases), "multiplier": np.stack(mults),
            "shift": np.stack(shifts), "x_zp": np.full(tiles, layer.x_zp),
            "x_signed": np.zeros(tiles, np.int64), "out_zp": np.full(tiles, layer.out_zp),
            "act_min": np.full(tiles, layer.act_min), "act_max": np.full(tiles, layer.act_max)}


def _run(model, vectors, shape):
    result = cosim_array(model, vectors, shape)
    np.testing.assert_array_equal(result.rtl, result.golden)
    k = vectors["x"].shape[2]
    assert np.all(result.latency == array_tile_cycles(shape.rows, shape.cols, k, requant_lanes=shape.lanes))
    return result


def _amaranth(shape: ArrayShape) -> AmaranthModel:
    return AmaranthModel(SystolicArray(shape.rows, shape.cols, bits=shape.bits, max_depth=shape.max_depth,
                                       requant_lanes=shape.lanes))


@pytest.mark.parametrize(("rows", "cols", "bits", "lanes", "k"), [
    (1, 1, 4, 1, 1), (1, 3, 4, 3, 5), (2, 3, 8, 1, 4), (4, 4, 4, 4, 16), (4, 4, 8, 2, 9), (3, 2, 4, 2, 1),
])
def test_random_tiles_and_latency_amaranth(rows, cols, bits, lanes, k):
    shape = ArrayShape(rows, cols, bits, lanes, max_depth=64)
    _run(_amaranth(shape), _random_tiles(shape, 3, k, seed=rows * 100 + cols * 10 + k), shape)


def test_8x8_random_tiles_amaranth():
    shape = ArrayShape(8, 8, 4, 8, max_depth=256)
    _run(_amaranth(shape), _random_tiles(shape, 2, 24, seed=8), shape)


@pytest.mark.parametrize("bits", [4, 8])
def test_detector_tiles_amaranth(bits):
    shape = ArrayShape(4, 4, bits, 4, max_depth=256)
    vectors = _detector_tiles(bits, 4, 4, 2)
    assert vectors["x"].shape == (2, 4, 216)
    _run(_amaranth(shape), vectors, shape)


def test_next_tile_accepted_exactly_after_the_drain():
    """Ready drops after the last beat and rises at array_tile_interval (checked by cosim_array:
    back-to-back tiles start at that interval, and every beat must be accepted)."""
    from amaranth.sim import Simulator

    from rtl.timing import array_tile_interval

    dut = SystolicArray(2, 2, bits=4, max_depth=8)
    k = 3
    ready_trace = []

    async def testbench(ctx):
        ctx.set(dut.o.ready, 1)
        for cycle in range(30):
            beat = cycle < k
            ctx.set(dut.i.valid, beat)
            ctx.set(dut.i.payload, {"x": [1, 2], "w": [1, -1], "last": cycle == k - 1})
            ready_trace.append(ctx.get(dut.i.ready))
            await ctx.tick()

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(testbench)
    sim.run()
    interval = array_tile_interval(2, 2, k)
    assert ready_trace[:k] == [1] * k
    assert ready_trace[k:interval] == [0] * (interval - k)
    assert ready_trace[interval] == 1


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"rows": 0, "cols": 4}, "rows: expected an integer >= 1, got 0"),
    ({"rows": 4, "cols": -1}, "cols: expected an integer >= 1, got -1"),
    ({"rows": 4, "cols": 4, "bits": 2}, "bits: expected 4 or 8, got 2"),
    ({"rows": 4, "cols": 4, "requant_lanes": 3}, "requant_lanes: expected a divisor of cols=4 in [1, 4], got 3"),
    ({"rows": 4, "cols": 4, "max_depth": 216, "acc_width": 15},
     "acc_width: expected an integer in [16, 32] for max_depth=216 with int4 operands (|w*(x-x_zp)| <= 120), got 15"),
])
def test_rejects_bad_parameters(kwargs, message):
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        SystolicArray(**kwargs)


@pytest.mark.slow
def test_16x16_generates_verilog():
    text = to_verilog(SystolicArray(16, 16, bits=4, max_depth=4608), "hwsim_array")
    assert "module hwsim_array(" in text
    assert text.count("endmodule") == 1


@pytest.mark.slow
def test_random_and_detector_tiles_8x8_verilator(verilator_array8):
    shape = ArrayShape(8, 8, 4, 8, max_depth=256)
    _run(verilator_array8, _random_tiles(shape, 40, 64, seed=88), shape)
    detector = _detector_tiles(4, 8, 8, 32)
    _run(verilator_array8, detector, shape)


@pytest.mark.slow
def test_int8_shared_lanes_verilator(verilator_array4_int8):
    shape = ArrayShape(4, 4, 8, 2, max_depth=256)
    _run(verilator_array4_int8, _random_tiles(shape, 40, 100, seed=48), shape)
    _run(verilator_array4_int8, _detector_tiles(8, 4, 4, 48), shape)
