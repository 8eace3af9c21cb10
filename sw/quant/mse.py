"""Clipping ranges that minimise the quantization error (MSE), for activations and per-channel weights.

FQN takes percentile activation ranges (gamma 0.999) and min/max weight ranges.
At 4 bits both keep rare outliers at the cost of a coarse step for every other
value; clipping the range where the mean squared error of
``x -> dequantize(quantize(x))`` is smallest is the usual post-training remedy
(Banner et al. 2019, "ACIQ"; the initialisation of BRECQ and QDrop). The error
is measured exactly on the candidate grids of :func:`sw.quant.ranges.params_from_range`
(zero-point alignment included), so the chosen range is what the integer model uses.

Search
------
* Activations (one tensor, :func:`mse_range`): the bounds start at the observed
  ``[min(x, 0), max(x, 0)]``, first both scaled together by each of
  :data:`FRACTIONS`; then the upper bound is scaled by each of
  :data:`FRACTIONS` with the lower bound fixed, then the lower bound with the
  chosen upper bound fixed (coordinate descent); a second round scales each by
  :data:`FINE` around its choice. Ties keep the wider range. The error is taken over at most :data:`SEARCH_VALUES` values
  (a seeded uniform sub-sample of larger inputs).
* Weights (per output channel, :func:`mse_weight_params`): both bounds of each
  channel scaled by the same fraction; each channel takes its own minimiser.

A factor of 1.0 is always a candidate, so the result's error never exceeds the
min/max range's on the values searched (a refined bound may exceed the observed
min / max by at most 9 %, never clipping less than the data's range).
"""

from __future__ import annotations

import numpy as np

from sw.quant.params import QuantParams
from sw.quant.ranges import params_from_range

__all__ = ["FRACTIONS", "FINE", "SEARCH_VALUES", "quantization_mse", "mse_range", "mse_weight_params"]

#: Candidate scale factors of a bound: ``2**(-k/8)`` for k = 64, ..., 1, 0 (1/256 to 1 in steps of 9 %), ascending.
FRACTIONS = 2.0 ** (-np.arange(64, -1, -1) / 8.0)
#: Refinement factors around a coarse choice: ``2**(k/64)`` for k = -8, ..., 8 (1.1 % steps).
FINE = 2.0 ** (np.arange(-8, 9) / 64.0)
#: Most values the activation search evaluates (seeded sub-sample beyond).
SEARCH_VALUES = 200_000


def quantization_mse(x: np.ndarray, p: QuantParams) -> np.ndarray:
    """Mean of ``(dequantize(quantize(x)) - x)**2``: a scalar, or one value per channel (axis 0) if ``p`` is per channel."""
    x = np.asarray(x, dtype=np.float64)
    err = (p.dequantize(p.quantize(x)) - x) ** 2
    return err.reshape(err.shape[0], -1).mean(axis=1) if p.axis is not None else np.asarray(err.mean())


def _best(errors: list[float], candidates: np.ndarray) -> float:
    """The candidate of least error; among equal errors the largest (the widest range)."""
    errs = np.asarray(errors)
    return float(candidates[np.flatnonzero(errs == errs.min())[-1]])


def mse_range(values: np.ndarray, bits: int, signed: bool = True, seed: int = 0) -> tuple[float, float]:
    """The range ``(lb, ub)`` of least quantization MSE of ``values`` at ``bits`` (see the module docstring).

    Parameters
    ----------
    values
        Observed real activations (any shape; finite).
    bits, signed
        Code width (2..8) and signedness of the tensor.
    seed
        Seed of the sub-sample drawn when there are more than :data:`SEARCH_VALUES` values.
    """
    x = np.asarray(values, dtype=np.float64).ravel()
    if x.size == 0:
        raise ValueError("MSE range: no values")
    if not np.all(np.isfinite(x)):
        raise ValueError("MSE range: values contain NaN or infinity")
    if x.size > SEARCH_VALUES:
        x = np.random.default_rng(seed).choice(x, size=SEARCH_VALUES, replace=False)
    lo, hi = min(float(x.min()), 0.0), max(float(x.max()), 0.0)

    def error(lb: float, ub: float) -> float:
        return float(quantization_mse(x, params_from_range(lb, ub, bits, signed)))

    both = _best([error(f * lo, f * hi) for f in FRACTIONS], FRACTIONS)
    lo, hi = both * lo, both * hi
    for grid in (FRACTIONS, FINE):
        if hi > 0.0:
            hi = hi * _best([error(lo, f * hi) for f in grid], grid)
        if lo < 0.0:
            lo = lo * _best([error(f * lo, hi) for f in grid], grid)
    return lo, hi


def mse_weight_params(w: np.ndarray, bits: int, signed: bool = True) -> QuantParams:
    """Per-output-channel weight parameters (axis 0) of least quantization MSE, both bounds scaled together.

    Parameters
    ----------
    w
        Float weights with output channels on axis 0 (OHWI conv, ``[Cout, Cin]`` FC); finite.
    bits, signed
        Weight code width (2..8) and signedness.
    """
    w = np.asarray(w, dtype=np.float64)
    if not np.all(np.isfinite(w)):
        raise ValueError("weights: contain NaN or infinity")
    flat = w.reshape(w.shape[0], -1)
    lo, hi = flat.min(axis=1), flat.max(axis=1)
    errors = np.stack([quantization_mse(flat, params_from_range(f * lo, f * hi, bits, signed, axis=0))
                       for f in FRACTIONS])
    # The last index of the least error per channel: the widest of equally good ranges.
    pick = len(FRACTIONS) - 1 - np.argmin(errors[::-1], axis=0)
    f = FRACTIONS[pick]
    return params_from_range(f * lo, f * hi, bits, signed, axis=0)
