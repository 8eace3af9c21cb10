# amaranth: UnusedElaboratable=no
"""MAC PE: exhaustive int4 products and zero points, accumulation, the accumulator rule."""

import itertools
import re

import numpy as np
import pytest

from rtl.backends import AmaranthModel
from rtl.cosim import cosim_mac
from rtl.mac import MacPE, max_abs_product, min_acc_width
from rtl.timing import MAC_CYCLES


def _exhaustive(bits: int, signed: int) -> dict[str, np.ndarray]:
    """Every weight x every activation code x every zero point of the signedness."""
    lo, hi = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
    w, x, zp = (a.ravel() for a in np.meshgrid(np.arange(-(1 << (bits - 1)), 1 << (bits - 1)),
                                               np.arange(lo, hi + 1), np.arange(lo, hi + 1), indexing="ij"))
    n = len(w)
    return {"w": w, "x": x, "x_zp": zp, "x_signed": np.full(n, signed)}


def test_latency_constant():
    assert MacPE.PIPELINE_CYCLES == MAC_CYCLES == 1


@pytest.mark.parametrize("signed", [0, 1])
def test_int4_exhaustive_products_amaranth(signed):
    vectors = _exhaustive(4, signed)
    assert len(vectors["w"]) == 16 * 16 * 16
    result = cosim_mac(AmaranthModel(MacPE(4, max_depth=64)), vectors, 4, 64)
    np.testing.assert_array_equal(result.rtl, vectors["w"] * (vectors["x"] - vectors["x_zp"]))
    np.testing.assert_array_equal(result.rtl, result.golden)


def test_int8_random_accumulation_amaranth():
    rng = np.random.default_rng(5)
    n = 3000
    signed = rng.integers(0, 2, n)
    x = np.where(signed == 1, rng.integers(-128, 128, n), rng.integers(0, 256, n))
    zp = np.where(signed == 1, rng.integers(-128, 128, n), rng.integers(0, 256, n))
    first = (rng.random(n) < 0.05).astype(np.int64)
    first[0] = 1
    vectors = {"w": rng.integers(-128, 128, n), "x": x, "x_zp": zp, "x_signed": signed, "first": first}
    result = cosim_mac(AmaranthModel(MacPE(8, max_depth=512)), vectors, 8, 512)
    np.testing.assert_array_equal(result.rtl, result.golden)


@pytest.mark.parametrize(("bits", "extreme_w", "extreme_d"), [(4, -8, -15), (4, -8, 15), (8, -128, -255), (8, -128, 255)])
def test_accumulator_holds_worst_case_at_max_depth(bits, extreme_w, extreme_d):
    depth = 37
    x, zp = (0, -extreme_d) if extreme_d < 0 else (extreme_d, 0)  # unsigned codes: d = x - zp
    vectors = {"w": np.full(depth, extreme_w), "x": np.full(depth, x), "x_zp": np.full(depth, zp),
               "x_signed": np.zeros(depth, np.int64), "first": np.eye(1, depth, dtype=np.int64)[0]}
    pe = MacPE(bits, max_depth=depth)
    assert pe.acc_width == min_acc_width(bits, depth)
    result = cosim_mac(AmaranthModel(pe), vectors, bits, depth)
    assert result.rtl[-1] == extreme_w * extreme_d * depth
    assert abs(result.rtl[-1]) == max_abs_product(bits) * depth


@pytest.mark.parametrize("bits", [4, 8])
def test_accumulator_rule_is_tight(bits):
    """The rule's width holds P*K and -P*K; one bit less does not hold P*K for some K."""
    p = max_abs_product(bits)
    assert p == max(abs(w * d) for w, d in itertools.product(range(-(1 << (bits - 1)), 1 << (bits - 1)),
                                                             range(-(1 << bits) + 1, 1 << bits)))
    for k in (1, 2, 3, 100, 4608, 65536):
        width = min_acc_width(bits, k)
        assert -(2 ** (width - 1)) <= -p * k and p * k <= 2 ** (width - 1) - 1
        assert p * k > 2 ** (width - 2) - 1


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"bits": 5}, "bits: expected 4 or 8, got 5"),
    ({"bits": 4, "max_depth": 0}, "max_depth: expected an integer >= 1, got 0"),
    ({"bits": 4, "max_depth": 64, "acc_width": 13},
     "acc_width: expected an integer in [14, 32] for max_depth=64 with int4 operands (|w*(x-x_zp)| <= 120), got 13"),
    ({"bits": 8, "max_depth": 2**17},
     "max_depth: int8 reductions of depth 131072 need a 33-bit accumulator, more than the 32-bit requantization input"),
])
def test_rejects_bad_parameters(kwargs, message):
    bits = kwargs.pop("bits")
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        MacPE(bits, **kwargs)
