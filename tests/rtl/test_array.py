# amaranth: UnusedElaboratable=no
"""Systolic array: random and detector tiles bit-exact in every precision mode; cycles = rtl.timing;
input gaps, output back-pressure, mid-tile reset and tile parameters that change after the first beat."""

import re

import numpy as np
import pytest
from amaranth.hdl import ClockDomain, Module
from amaranth.sim import Simulator

from rtl.arch import ArrayArch
from rtl.backends import AmaranthModel
from rtl.cosim import array_schedule, check_array_vectors, cosim_array, digit_beats
from tests.rtl.detector import detector_layer


def _arch(rows, cols, pe_bits, modes, lanes, max_depth=64):
    return ArrayArch(rows=rows, cols=cols, pe_bits=pe_bits, mac_modes=modes, max_depth=max_depth,
                     requant_lanes=lanes)


def _random_tiles(arch: ArrayArch, tiles: int, k: int, seed: int, w_bits: int, a_bits: int) -> dict:
    rng = np.random.default_rng(seed)
    rows, cols = arch.rows, arch.cols
    signed = rng.integers(0, 2, tiles)
    lo = np.where(signed == 1, -(1 << (a_bits - 1)), 0)
    span = 1 << a_bits
    out = 1 << (arch.out_width - 1)
    return {
        "x": rng.integers(0, span, (tiles, rows, k)) + lo[:, None, None],
        "w": rng.integers(-(1 << (w_bits - 1)), 1 << (w_bits - 1), (tiles, k, cols)),
        "bias": rng.integers(-5000, 5000, (tiles, cols)),
        "multiplier": rng.integers(2**30, 2**31, (tiles, cols)),
        "shift": rng.integers(-14 if max(w_bits, a_bits) == 8 else -8, 1, (tiles, cols)),
        "x_zp": rng.integers(0, span, tiles) + lo, "x_signed": signed, "out_zp": rng.integers(-8, 8, tiles),
        "act_min": np.full(tiles, -out), "act_max": np.full(tiles, out - 1),
    }


def _detector_tiles(bits: int, rows: int, cols: int, tiles: int) -> dict:
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


def _run(model, vectors, arch, w_bits, a_bits, gaps=None):
    """Bit-exact, and every measured cycle equals rtl.timing (through the schedule and the closed forms)."""
    result = cosim_array(model, vectors, arch, w_bits, a_bits, gaps)
    np.testing.assert_array_equal(result.rtl, result.golden)
    t, _, k = vectors["x"].shape
    beats = k * arch.mac_passes(w_bits, a_bits)
    cycles = result.cycles
    expected = array_schedule(arch, [beats] * t, gaps)
    for name in ("first_beat", "last_beat", "last_result"):
        np.testing.assert_array_equal(getattr(cycles, name), getattr(expected, name))
    if gaps is None:
        assert cycles.last_result[0] - cycles.first_beat[0] + 1 == arch.tile_cycles(beats)
        assert cycles.total == (t - 1) * arch.tile_interval(beats) + arch.tile_cycles(beats)
    return result


def _gaps(tiles: int, beats: int, seed: int) -> np.ndarray:
    """Random idle input cycles before beats (most beats none, some 1..5)."""
    rng = np.random.default_rng(seed)
    return np.where(rng.random((tiles, beats)) < 0.2, rng.integers(1, 6, (tiles, beats)), 0)


@pytest.mark.parametrize(("rows", "cols", "pe_bits", "modes", "lanes", "k", "w_bits", "a_bits"), [
    (1, 1, 4, (4,), 1, 1, 4, 4), (1, 3, 4, (4,), 3, 5, 4, 4), (2, 3, 8, (8,), 1, 4, 8, 8),
    (4, 4, 4, (4,), 4, 16, 4, 4), (4, 4, 8, (8,), 2, 9, 8, 8), (3, 2, 4, (4,), 2, 1, 4, 4),
    (2, 3, 4, (4, 8), 3, 5, 8, 8), (3, 2, 4, (4, 8), 1, 3, 4, 8), (2, 2, 4, (4, 8), 2, 7, 8, 4),
    (2, 4, 4, (4, 8), 2, 6, 4, 4), (2, 8, 4, (4, 8), 4, 2, 8, 8), (2, 3, 8, (8,), 3, 4, 4, 4),
])
def test_random_tiles_and_cycles_amaranth(rows, cols, pe_bits, modes, lanes, k, w_bits, a_bits):
    arch = _arch(rows, cols, pe_bits, modes, lanes)
    _run(AmaranthModel(arch.create()), _random_tiles(arch, 3, k, rows * 100 + cols * 10 + k, w_bits, a_bits),
         arch, w_bits, a_bits)


def test_input_gaps_follow_the_schedule_amaranth():
    arch = _arch(3, 4, 4, (4, 8), 2, 12)
    _run(AmaranthModel(arch.create()), _random_tiles(arch, 4, 5, 3, 8, 8), arch, 8, 8, _gaps(4, 20, 3))


def test_8x8_random_tiles_amaranth():
    arch = _arch(8, 8, 4, (4,), 8, 256)
    _run(AmaranthModel(arch.create()), _random_tiles(arch, 3, 24, 8, 4, 4), arch, 4, 4)


@pytest.mark.parametrize(("pe_bits", "modes", "bits"), [(4, (4,), 4), (8, (8,), 8), (4, (4, 8), 8)])
def test_detector_tiles_amaranth(pe_bits, modes, bits):
    arch = _arch(4, 4, pe_bits, modes, 4, 256)
    vectors = _detector_tiles(bits, 4, 4, 2)
    assert vectors["x"].shape == (2, 4, 216)
    _run(AmaranthModel(arch.create()), vectors, arch, bits, bits)


def _output_beats(q: np.ndarray, arch: ArrayArch) -> list[list[int]]:
    """Output beat order of one tile: column group g, row r -> lanes."""
    lanes = arch.requant_lanes
    return [q[r, g * lanes:(g + 1) * lanes].tolist() for g in range(arch.cols // lanes) for r in range(arch.rows)]


def _tile_sequence(arch: ArrayArch, count: int, rng) -> list[tuple[dict, list[dict], list[list[int]]]]:
    """Random tiles (random K in [1, max_depth], random supported mode): vectors, beat payloads, output beats."""
    out = []
    for index in range(count):
        w_bits, a_bits = arch.supported()[rng.integers(len(arch.supported()))]
        k = int(rng.integers(1, arch.max_depth + 1))
        v = check_array_vectors(_random_tiles(arch, 1, k, int(rng.integers(1 << 30)), w_bits, a_bits),
                                arch, w_bits, a_bits)
        x, w, parts = digit_beats(v, arch, w_bits, a_bits)
        tile = {"x_signed": int(v["x_signed"][0]), "x_zp": int(v["x_zp"][0]), "bias": v["bias"][0].tolist(),
                "multiplier": v["multiplier"][0].tolist(), "shift": v["shift"][0].tolist(),
                **{n: int(v[n][0]) for n in ("out_zp", "act_min", "act_max")}}
        beats = []
        for b in range(x.shape[2]):
            beat = {"x": x[0, :, b].tolist(), "w": w[0, b, :].tolist(), "last": int(b == x.shape[2] - 1),
                    "tile": tile}
            if arch.splits:
                beat.update(w_part=parts[b % len(parts)][0], x_part=parts[b % len(parts)][1])
            beats.append(beat)
        out.append((v, beats, _output_beats(arch.compute(v)[0], arch)))
    return out


def _reactive(arch: ArrayArch, seed: int, tiles: int, gap: float, stall: float, reset_after: int | None):
    """A producer that honours ready (random gaps, payload held while refused, garbage tile parameters on
    every beat but a tile's first) and a consumer with random back-pressure; optional reset mid-tile."""
    rng = np.random.default_rng(seed)
    dut = arch.create()
    top = Module()
    top.domains.sync = cd = ClockDomain("sync")
    top.submodules.dut = dut
    before = _tile_sequence(arch, tiles, rng)
    after = _tile_sequence(arch, tiles, rng) if reset_after is not None else []
    received: list[list[int]] = []
    received_before_reset: list[list[int]] = []
    violations = []

    async def testbench(ctx):
        ctx.set(cd.rst, 1)
        await ctx.tick()
        ctx.set(cd.rst, 0)
        phases = [before] + ([after] if after else [])
        for phase_index, sequence in enumerate(phases):
            beats = [(b, i == 0) for _, tile_beats, _ in sequence for i, b in enumerate(tile_beats)]
            position, offered, held_out = 0, False, None
            budget = 40 * (len(beats) + 1) + 400
            accepted_total = 0
            for _ in range(budget):
                if not offered and position < len(beats) and rng.random() >= gap:
                    offered = True
                beat, is_first = beats[position] if position < len(beats) else (beats[-1][0], False)
                payload = dict(beat)
                if not is_first:  # parameters of other tiles: the array must ignore them
                    payload["tile"] = before[int(rng.integers(len(before)))][1][0]["tile"]
                ctx.set(dut.i.payload, payload)
                ctx.set(dut.i.valid, offered)
                ready_out = rng.random() >= stall
                ctx.set(dut.o.ready, ready_out)
                o_valid, o_payload = ctx.get(dut.o.valid), [int(v) for v in ctx.get(dut.o.payload)]
                if held_out is not None and (not o_valid or o_payload != held_out):
                    violations.append("output changed or dropped valid before ready")
                held_out = o_payload if o_valid and not ready_out else None
                if o_valid and ready_out:
                    received.append(o_payload)
                if offered and ctx.get(dut.i.ready):
                    position += 1
                    accepted_total += 1
                    offered = False
                    if phase_index == 0 and reset_after is not None and accepted_total == reset_after:
                        await ctx.tick()
                        received_before_reset.extend(received)
                        received.clear()
                        ctx.set(cd.rst, 1)
                        await ctx.tick()
                        ctx.set(cd.rst, 0)
                        break
                await ctx.tick()

    sim = Simulator(top)
    sim.add_clock(1e-8, domain="sync")
    sim.add_testbench(testbench)
    sim.run()
    return before, after, received_before_reset, received, violations


@pytest.mark.parametrize(("arch", "gap", "stall"), [
    (_arch(3, 4, 4, (4, 8), 2, 12), 0.3, 0.4),
    (_arch(2, 4, 4, (4, 8), 4, 9), 0.0, 0.6),
    (_arch(4, 2, 8, (8,), 1, 20), 0.5, 0.2),
], ids=["3x4-int4+8-2lanes", "2x4-int4+8-4lanes", "4x2-int8-1lane"])
def test_gaps_backpressure_and_mixed_modes_amaranth(arch, gap, stall):
    before, _, _, received, violations = _reactive(arch, 7, 6, gap, stall, None)
    assert not violations
    assert received == [beat for _, _, tile in before for beat in tile]


def test_mid_tile_reset_amaranth():
    arch = _arch(3, 4, 4, (4, 8), 2, 12)
    before, after, early, late, violations = _reactive(arch, 11, 4, 0.2, 0.3, reset_after=None or 17)
    assert not violations
    expected_before = [beat for _, _, tile in before for beat in tile]
    assert early == expected_before[:len(early)]  # whatever left before the reset was right
    assert late == [beat for _, _, tile in after for beat in tile]  # nothing of the old tiles after it


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"rows": 0}, "rows: expected an integer >= 1, got 0"),
    ({"cols": -1}, "cols: expected an integer >= 1, got -1"),
    ({"pe_bits": 2}, "array.pe_bits: expected 4 or 8, got 2"),
    ({"requant_lanes": 3}, "requant_lanes: expected a divisor of cols=4 in [1, 4], got 3"),
    ({"mac_modes": (4,), "pe_bits": 8}, "array.mac_modes: expected a non-empty subset of [4, 8], none narrower "
                                        "than pe_bits=8, got [4]"),
    ({"max_depth": 2**17, "pe_bits": 8, "mac_modes": (8,)},
     "array.max_depth: 131072 needs a 33-bit accumulator (|partial sum| <= 32640 per K element), more than the "
     "32-bit requantization input; the RTL holds at most 65793 (longer K is split)"),
])
def test_rejects_bad_parameters(kwargs, message):
    base = {"rows": 4, "cols": 4, "pe_bits": 4, "mac_modes": (4, 8), "max_depth": 64, "requant_lanes": 4}
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        ArrayArch(**{**base, **kwargs})


@pytest.mark.slow
def test_random_and_detector_tiles_8x8_verilator(verilator_array8):
    arch = verilator_array8.arch
    _run(verilator_array8, _random_tiles(arch, 40, 64, 88, 4, 4), arch, 4, 4)
    _run(verilator_array8, _detector_tiles(4, 8, 8, 32), arch, 4, 4)
    _run(verilator_array8, _random_tiles(arch, 20, 30, 89, 4, 4), arch, 4, 4, _gaps(20, 30, 89))


@pytest.mark.slow
def test_int8_shared_lanes_verilator(verilator_array4_int8):
    arch = verilator_array4_int8.arch
    _run(verilator_array4_int8, _random_tiles(arch, 40, 100, 48, 8, 8), arch, 8, 8)
    _run(verilator_array4_int8, _detector_tiles(8, 4, 4, 48), arch, 8, 8)


@pytest.mark.slow
@pytest.mark.parametrize("k", [27, 144, 576, 2304])
def test_edge16_int4_preset_array_verilator(verilator_edge16, k):
    """The edge16_int4 preset's 16x16 array exactly as generated: w4a4 and w8a8 (4 digit beats)
    tiles, >= 3 back to back, bit-exact and at rtl.timing's cycles."""
    arch = verilator_edge16.arch
    for w_bits, a_bits, kk in ((4, 4, k), (8, 8, max(1, k // 4))):
        _run(verilator_edge16, _random_tiles(arch, 3, kk, k + w_bits, w_bits, a_bits), arch, w_bits, a_bits)
    beats = 4 * max(1, k // 4)
    _run(verilator_edge16, _random_tiles(arch, 4, beats // 4, k, 8, 8), arch, 8, 8, _gaps(4, beats, k))
