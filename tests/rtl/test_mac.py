# amaranth: UnusedElaboratable=no
"""MAC (edge + PE): exhaustive int4 and int8-on-int4 products with zero points, depth extremes."""

import itertools

import numpy as np
import pytest

from rtl.arch import ArrayArch
from rtl.backends import AmaranthModel
from rtl.cosim import cosim_mac
from rtl.mac import MacPE, MacUnit
from rtl.timing import MAC_CYCLES

INT4 = ArrayArch(rows=1, cols=1, pe_bits=4, mac_modes=(4,), max_depth=64, requant_lanes=1)
INT4_SPLIT = ArrayArch(rows=1, cols=1, pe_bits=4, mac_modes=(4, 8), max_depth=64, requant_lanes=1)
INT8 = ArrayArch(rows=1, cols=1, pe_bits=8, mac_modes=(8,), max_depth=512, requant_lanes=1)


def _codes(bits: int, signed: int) -> np.ndarray:
    return np.arange(-(1 << (bits - 1)), 1 << (bits - 1)) if signed else np.arange(0, 1 << bits)


def _grid(w_bits: int, a_bits: int, signed: int, zps) -> dict[str, np.ndarray]:
    """Every weight x every activation code x the given zero points; each element its own reduction."""
    w, x, zp = (a.ravel() for a in np.meshgrid(_codes(w_bits, 1), _codes(a_bits, signed), np.asarray(zps),
                                               indexing="ij"))
    return {"w": w, "x": x, "x_zp": zp, "x_signed": np.full(len(w), signed)}


def _check(result, vectors):
    np.testing.assert_array_equal(result.rtl, vectors["w"] * (vectors["x"] - vectors["x_zp"]))
    np.testing.assert_array_equal(result.rtl, result.golden)


def test_latency_constant():
    assert MacPE.PIPELINE_CYCLES == MAC_CYCLES == 1


@pytest.mark.parametrize("arch", [INT4, INT4_SPLIT], ids=["int4", "int4+int8digits"])
@pytest.mark.parametrize("signed", [0, 1])
def test_int4_exhaustive_products_amaranth(arch, signed):
    vectors = _grid(4, 4, signed, _codes(4, signed))
    assert len(vectors["w"]) == 16 * 16 * 16
    _check(cosim_mac(AmaranthModel(MacUnit(arch)), vectors, arch, 4, 4), vectors)


@pytest.mark.parametrize(("w_bits", "a_bits"), [(8, 8), (4, 8), (8, 4)])
def test_int8_digits_random_accumulation_amaranth(w_bits, a_bits):
    """Random codes and zero points in 4 (w8a8) or 2 digit beats per element, random reduction ends."""
    rng = np.random.default_rng(w_bits * 10 + a_bits)
    n = 1500
    signed = rng.integers(0, 2, n)
    lo = np.where(signed == 1, -(1 << (a_bits - 1)), 0)
    last = ((rng.random(n) < 0.1) | (np.arange(n) % 60 == 59)).astype(np.int64)  # depth <= 60
    last[-1] = 1
    vectors = {"w": rng.integers(-(1 << (w_bits - 1)), 1 << (w_bits - 1), n),
               "x": rng.integers(0, 1 << a_bits, n) + lo, "x_zp": rng.integers(0, 1 << a_bits, n) + lo,
               "x_signed": signed, "last": last}
    result = cosim_mac(AmaranthModel(MacUnit(INT4_SPLIT)), vectors, INT4_SPLIT, w_bits, a_bits)
    np.testing.assert_array_equal(result.rtl, result.golden)
    assert len(result.rtl) == last.sum()


def test_int8_pe_random_accumulation_amaranth():
    rng = np.random.default_rng(5)
    n = 3000
    signed = rng.integers(0, 2, n)
    lo = np.where(signed == 1, -128, 0)
    last = ((rng.random(n) < 0.05) | (np.arange(n) % 500 == 499)).astype(np.int64)
    last[-1] = 1
    vectors = {"w": rng.integers(-128, 128, n), "x": rng.integers(0, 256, n) + lo,
               "x_zp": rng.integers(0, 256, n) + lo, "x_signed": signed, "last": last}
    np.testing.assert_array_equal(*(lambda r: (r.rtl, r.golden))(
        cosim_mac(AmaranthModel(MacUnit(INT8)), vectors, INT8, 8, 8)))


@pytest.mark.slow
@pytest.mark.parametrize("signed", [0, 1])
def test_int8_on_int4_exhaustive_verilator(verilator_dir, signed):
    """Every int8 weight x every int8 (uint8) code x representative zero points: w*(x-zp) exactly."""
    from rtl.backends import VerilatorModel

    zps = (-128, -1, 0, 1, 127) if signed else (0, 1, 128, 255)
    vectors = _grid(8, 8, signed, zps)
    assert len(vectors["w"]) == 256 * 256 * len(zps)
    model = VerilatorModel(MacUnit(INT4_SPLIT), verilator_dir)
    _check(cosim_mac(model, vectors, INT4_SPLIT, 8, 8), vectors)
    for w_bits, a_bits in ((4, 8), (8, 4)):
        mixed = _grid(w_bits, a_bits, signed, _codes(a_bits, signed))
        _check(cosim_mac(model, mixed, INT4_SPLIT, w_bits, a_bits), mixed)


def _extreme_run(arch: ArrayArch, w_bits: int, a_bits: int, w: int, x: int, zp: int, signed: int):
    depth = arch.max_depth
    vectors = {"w": np.full(depth, w), "x": np.full(depth, x), "x_zp": np.full(depth, zp),
               "x_signed": np.full(depth, signed), "last": np.eye(1, depth, depth - 1, dtype=np.int64)[0]}
    return vectors, w * (x - zp) * depth


@pytest.mark.slow
@pytest.mark.parametrize(("preset", "w_bits", "cases"), [
    # edge16_int4: int8 in 4 digit beats, K = 4608 (29-bit accumulator)
    ("edge16_int4", 8, [(-128, 255, 0, 0), (-128, 0, 255, 0), (127, 255, 0, 0), (-113, 255, 0, 0)]),
    # int8 PEs at the 32-bit limit: K = 65536 (scalesim_32x32)
    ("scalesim_32x32", 8, [(-128, 255, 0, 0), (-128, 0, 255, 0)]),
])
def test_accumulator_holds_extremes_at_max_depth_verilator(verilator_dir, preset, w_bits, cases):
    from hwsim.configfile import load_preset
    from rtl.backends import VerilatorModel

    arch = load_preset(preset).arch
    model = VerilatorModel(MacUnit(arch), verilator_dir)
    for w, x, zp, signed in cases:
        vectors, expected = _extreme_run(arch, w_bits, 8, w, x, zp, signed)
        result = cosim_mac(model, vectors, arch, w_bits, 8)
        assert result.rtl.tolist() == [expected] == result.golden.tolist()
        assert abs(expected) < 2 ** (arch.acc_width - 1)


def test_accumulator_extremes_at_max_depth_amaranth():
    """The same rule on a small depth in the Python simulator: worst sums come out exactly."""
    for w, x, zp in ((-128, 255, 0), (-128, 0, 255), (-113, 255, 0)):
        vectors, expected = _extreme_run(INT4_SPLIT, 8, 8, w, x, zp, 0)
        result = cosim_mac(AmaranthModel(MacUnit(INT4_SPLIT)), vectors, INT4_SPLIT, 8, 8)
        assert result.rtl.tolist() == [expected]


def test_element_bound_is_the_brute_force_maximum():
    """Sum of |partial products| over the digit beats, maximised over every digit value."""
    wh, wl, dh, dl = np.meshgrid(np.arange(-8, 8), np.arange(0, 16), np.arange(-15, 16), np.arange(-15, 16),
                                 indexing="ij")
    w8a8 = np.abs(wh * dh * 256) + np.abs(wh * dl * 16) + np.abs(wl * dh * 16) + np.abs(wl * dl)
    assert INT4_SPLIT.element_bound == int(w8a8.max()) == 36465
    assert INT4.element_bound == max(abs(w * d) for w, d in itertools.product(range(-8, 8), range(-15, 16))) == 120
    assert INT8.element_bound == 128 * 255
    # The digits really reach +-15: d_hi = x_hi - zp_hi with x, zp uint8 (x = 255, zp = 0 and swapped).
    assert ((255 >> 4) - (0 >> 4), (0 >> 4) - (255 >> 4)) == (15, -15)
