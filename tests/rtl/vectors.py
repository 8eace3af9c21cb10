"""Requantization test vectors: edge values, exact rounding ties and seeded randoms.

Every vector lies in the golden model's domain: ``(acc + bias) * 2**max(shift, 0)``
fits in int32 and ``act_min <= act_max``.
"""

from __future__ import annotations

import numpy as np

from sw.golden.fixedpoint import INT32_MAX, INT32_MIN
from tests.edge_values import int32_edges

__all__ = ["EDGE_MULTIPLIERS", "EDGE_SHIFTS", "edge_vectors", "tie_vectors", "random_vectors", "concat"]

EDGE_MULTIPLIERS = (INT32_MIN, INT32_MIN + 1, -(2**30), -1, 0, 1, 2**30, 2**30 + 1, 1518500250, INT32_MAX)
EDGE_SHIFTS = (-31, -30, -17, -2, -1, 0, 1, 2, 16, 30)


def _fits(x: np.ndarray, shift: np.ndarray) -> np.ndarray:
    shifted = x << np.maximum(shift, 0)
    return (shifted >= INT32_MIN) & (shifted <= INT32_MAX)


def _outputs(n: int, out_width: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Output zero points and clamp bounds: full range for half the vectors, random for the rest."""
    lo, hi = -(1 << (out_width - 1)), (1 << (out_width - 1)) - 1
    zp = rng.integers(lo, hi + 1, n)
    bounds = np.sort(rng.integers(lo, hi + 1, (n, 2)), axis=1)
    full = rng.random(n) < 0.5
    return {"out_zp": np.where(full, 0, zp),
            "act_min": np.where(full, lo, bounds[:, 0]),
            "act_max": np.where(full, hi, bounds[:, 1])}


def _split_bias(x: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """acc + bias == x with both in int32: bias is a random fraction (0 to 1/2) of x."""
    bias = (x * rng.uniform(0.0, 0.5, len(x))).astype(np.int64)
    return x - bias, bias


def edge_vectors(out_width: int) -> dict[str, np.ndarray]:
    """+-2**i +-{0,1,2}, INT32_MIN/MAX accumulators x edge multipliers x edge shifts (in domain)."""
    x, m, s = (a.ravel() for a in np.meshgrid(np.array(int32_edges(), dtype=np.int64),
                                              np.array(EDGE_MULTIPLIERS, dtype=np.int64),
                                              np.array(EDGE_SHIFTS, dtype=np.int64), indexing="ij"))
    keep = _fits(x, s)
    x, m, s = x[keep], m[keep], s[keep]
    rng = np.random.default_rng(1)
    acc, bias = _split_bias(x, rng)
    return {"acc": acc, "bias": bias, "multiplier": m, "shift": s, **_outputs(len(x), out_width, rng)}


def tie_vectors(out_width: int) -> dict[str, np.ndarray]:
    """Exact ties of both roundings.

    SRDHM: multiplier ``2**30`` halves ``x``; odd ``x`` gives ``.5`` (rounded towards +inf).
    RDBPOT: ``x = 2 * (k * 2**e +- 2**(e-1))`` with multiplier ``2**30`` makes the SRDHM
    result an exact half-way point of the division by ``2**e`` (rounded away from zero).
    """
    xs, shifts = [], []
    for x in (-5, -3, -1, 1, 3, 5, INT32_MAX, INT32_MIN + 1, 2**30 + 1, -(2**30) - 1):
        xs.append(x)
        shifts.append(0)
    for e in range(1, 31):
        for k in (-3, -1, 0, 1, 2):
            for sign in (-1, 1):
                y = k * 2**e + sign * 2 ** (e - 1)
                if INT32_MIN <= 2 * y <= INT32_MAX:
                    xs.append(2 * y)
                    shifts.append(-e)
    x = np.array(xs, dtype=np.int64)
    rng = np.random.default_rng(2)
    acc, bias = _split_bias(x, rng)
    n = len(x)
    lo, hi = -(1 << (out_width - 1)), (1 << (out_width - 1)) - 1
    return {"acc": acc, "bias": bias, "multiplier": np.full(n, 2**30), "shift": np.array(shifts),
            "out_zp": np.zeros(n, np.int64), "act_min": np.full(n, lo), "act_max": np.full(n, hi)}


def random_vectors(n: int, seed: int, out_width: int) -> dict[str, np.ndarray]:
    """Seeded random vectors: shifts over [-31, 30] (mostly negative), log-uniform ``acc + bias``,
    multipliers mostly from ``QuantizeMultiplier``'s range [2**30, 2**31) and some anywhere in int32."""
    rng = np.random.default_rng(seed)
    shift = np.where(rng.random(n) < 0.8, rng.integers(-31, 1, n), rng.integers(1, 31, n))
    limit_bits = 31 - np.maximum(shift, 0)
    magnitude_bits = rng.uniform(0, limit_bits)
    x = np.floor(2.0**magnitude_bits).astype(np.int64) - 1
    x = np.where(rng.random(n) < 0.5, -x - rng.integers(0, 2, n), x)
    x = np.clip(x, -(1 << limit_bits), (1 << limit_bits) - 1)
    acc, bias = _split_bias(x, rng)
    multiplier = np.where(rng.random(n) < 0.7, rng.integers(2**30, 2**31, n),
                          rng.integers(INT32_MIN, INT32_MAX + 1, n))
    return {"acc": acc, "bias": bias, "multiplier": multiplier, "shift": shift,
            **_outputs(n, out_width, rng)}


def concat(*parts: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Vector sets joined end to end."""
    return {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}
