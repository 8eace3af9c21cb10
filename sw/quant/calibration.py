"""Activation range calibration over sample batches (FQN §3.4.1; Jacob et al. EMA as an option).

Observers see the float activations of one layer batch by batch and report
``(lb, ub)``:

* :class:`PercentileObserver` (FQN default): the ``1 - gamma`` and ``gamma``
  percentiles (``gamma = 0.999``) of all values seen over the calibration set
  (FQN uses ``n_cal = 20`` batches). Values are pooled exactly while they fit
  ``max_values``; beyond that each batch contributes a seeded uniform sample of
  ``max_values / n_expected`` values (documented approximation, deterministic).
* :class:`MseObserver`: the clipping range of least quantization MSE at the
  tensor's width over the pooled values (:mod:`sw.quant.mse`; pooled as the
  percentile observer pools).
* :class:`MinMaxObserver`: global minimum and maximum.
* :class:`EmaObserver`: exponential moving averages of per-batch min and max with
  momentum ``M``: ``ema = M * ema + (1 - M) * batch`` (first batch initialises).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from sw.quant.mse import mse_range

__all__ = ["PercentileObserver", "MseObserver", "MinMaxObserver", "EmaObserver", "make_observer", "DEFAULT_GAMMA", "DEFAULT_N_CAL"]

DEFAULT_GAMMA = 0.999
DEFAULT_N_CAL = 20


def _finite(name: str, x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64).ravel()
    if x.size == 0:
        raise ValueError(f"{name}: empty calibration batch")
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{name}: calibration batch contains NaN or infinity")
    return x


@dataclass
class _ValuePool:
    """All observed values while they fit ``max_values``; beyond, a seeded uniform sample per batch."""

    max_values: int
    n_expected: int
    seed: int
    _chunks: list[np.ndarray] = field(default_factory=list, init=False, repr=False)
    _count: int = field(default=0, init=False, repr=False)

    def __post_init__(self) -> None:
        self._rng = np.random.default_rng(self.seed)

    def add(self, x: np.ndarray) -> None:
        budget = max(self.max_values // max(self.n_expected, 1), 1)
        if x.size > budget and self._count + x.size > self.max_values:
            x = self._rng.choice(x, size=budget, replace=False)
        self._chunks.append(x)
        self._count += x.size

    def values(self, name: str) -> np.ndarray:
        if not self._chunks:
            raise ValueError(f"{name}: no batches observed")
        return np.concatenate(self._chunks)


@dataclass
class PercentileObserver:
    """Percentile range ``[P_(1-gamma), P_gamma]`` over all observed values.

    Parameters
    ----------
    gamma
        Upper percentile as a fraction in (0.5, 1].
    max_values
        Most values kept in memory (default 4 M, 32 MB).
    n_expected
        Expected number of batches, used to size per-batch samples once over budget.
    seed
        Seed of the sub-sampling generator.
    """

    gamma: float = DEFAULT_GAMMA
    max_values: int = 4_000_000
    n_expected: int = DEFAULT_N_CAL
    seed: int = 0

    def __post_init__(self) -> None:
        if not 0.5 < self.gamma <= 1.0:
            raise ValueError(f"gamma: expected a fraction in (0.5, 1], got {self.gamma}")
        self._pool = _ValuePool(self.max_values, self.n_expected, self.seed)

    def observe(self, x: np.ndarray) -> None:
        """Record one batch of float activations."""
        self._pool.add(_finite("percentile observer", x))

    def range(self) -> tuple[float, float]:
        """``(lb, ub)`` in real units."""
        values = self._pool.values("percentile observer")
        lo, hi = np.quantile(values, [1.0 - self.gamma, self.gamma])
        return float(lo), float(hi)


@dataclass
class MseObserver:
    """The range of least quantization MSE at ``bits`` over the observed values (:func:`sw.quant.mse.mse_range`).

    Parameters
    ----------
    bits, signed
        Code width (2..8) and signedness of the tensor.
    max_values, n_expected, seed
        Value pooling, as :class:`PercentileObserver`.
    """

    bits: int
    signed: bool = True
    max_values: int = 4_000_000
    n_expected: int = DEFAULT_N_CAL
    seed: int = 0

    def __post_init__(self) -> None:
        self._pool = _ValuePool(self.max_values, self.n_expected, self.seed)

    def observe(self, x: np.ndarray) -> None:
        """Record one batch of float activations."""
        self._pool.add(_finite("MSE observer", x))

    def range(self) -> tuple[float, float]:
        """``(lb, ub)`` in real units."""
        return mse_range(self._pool.values("MSE observer"), self.bits, self.signed, self.seed)


@dataclass
class MinMaxObserver:
    """Global ``[min, max]`` over all observed values."""

    _lo: float = field(default=np.inf, init=False, repr=False)
    _hi: float = field(default=-np.inf, init=False, repr=False)

    def observe(self, x: np.ndarray) -> None:
        """Record one batch."""
        x = _finite("min-max observer", x)
        self._lo = min(self._lo, float(x.min()))
        self._hi = max(self._hi, float(x.max()))

    def range(self) -> tuple[float, float]:
        """``(lb, ub)`` in real units."""
        if self._lo > self._hi:
            raise ValueError("min-max observer: no batches observed")
        return self._lo, self._hi


@dataclass
class EmaObserver:
    """Exponential moving averages of per-batch min and max (Jacob et al. 2018)."""

    momentum: float = 0.9
    _lo: float | None = field(default=None, init=False, repr=False)
    _hi: float | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        if not 0.0 <= self.momentum < 1.0:
            raise ValueError(f"momentum: expected a value in [0, 1), got {self.momentum}")

    def observe(self, x: np.ndarray) -> None:
        """Record one batch."""
        x = _finite("EMA observer", x)
        lo, hi = float(x.min()), float(x.max())
        if self._lo is None:
            self._lo, self._hi = lo, hi
        else:
            m = self.momentum
            self._lo = m * self._lo + (1.0 - m) * lo
            self._hi = m * self._hi + (1.0 - m) * hi

    def range(self) -> tuple[float, float]:
        """``(lb, ub)`` in real units."""
        if self._lo is None:
            raise ValueError("EMA observer: no batches observed")
        return self._lo, self._hi


def make_observer(method: str, *, gamma: float = DEFAULT_GAMMA, momentum: float = 0.9, n_cal: int = DEFAULT_N_CAL):
    """Observer by name: ``"percentile"`` (default in FQN), ``"minmax"`` or ``"ema"``."""
    if method == "percentile":
        return PercentileObserver(gamma=gamma, n_expected=n_cal)
    if method == "minmax":
        return MinMaxObserver()
    if method == "ema":
        return EmaObserver(momentum=momentum)
    raise ValueError(f"calibration method: expected 'percentile', 'minmax' or 'ema', got {method!r}")
