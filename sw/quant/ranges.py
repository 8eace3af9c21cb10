"""Quantization ranges [lb, ub] -> aligned parameters; per-channel weight quantization (FQN §3.2-3.3, §3.6).

``Delta = (ub - lb) / (2**k - 1)`` (FQN eq. 4). Zero-point alignment (FQN §3.6):
the range is first widened to contain 0.0, then the zero point
``z = round(qmin - lb / Delta)`` (half away from zero) is clamped to the code range,
which nudges the range to ``[Delta * (qmin - z), Delta * (qmax - z)]`` so that
real 0.0 is exactly the code ``z`` and zero padding is exact. A degenerate range
(``lb == ub == 0``, or a step below the smallest normal float) gets ``Delta = 1``.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from sw.quant.params import QuantParams, check_bits, code_range
from sw.quant.rounding import round_half_away

__all__ = ["params_from_range", "weight_params", "Granularity"]

Granularity = Literal["per_channel", "per_tensor"]


def params_from_range(
    lb: np.ndarray | float,
    ub: np.ndarray | float,
    bits: int,
    signed: bool,
    *,
    symmetric: bool = False,
    axis: int | None = None,
) -> QuantParams:
    """Aligned quantization parameters for real ranges ``[lb, ub]`` (scalars or per channel).

    Parameters
    ----------
    lb, ub
        Range bounds in real units; widened to include 0.0.
    bits, signed
        Code width (2..8) and signedness.
    symmetric
        If True (signed codes only), ``z = 0`` and ``Delta = max(|lb|, |ub|) / qmax``
        (the TFLite weight convention; the code -2**(k-1) is then unused by rounding).
    axis
        Channel axis for per-channel parameters (``lb``/``ub`` 1-D), else None.
    """
    bits = check_bits("bits", bits)
    lb = np.minimum(np.asarray(lb, dtype=np.float64), 0.0)
    ub = np.maximum(np.asarray(ub, dtype=np.float64), 0.0)
    if lb.shape != ub.shape:
        raise ValueError(f"lb/ub: shapes must match, got {lb.shape} and {ub.shape}")
    if not (np.all(np.isfinite(lb)) and np.all(np.isfinite(ub))):
        raise ValueError("lb/ub: expected finite range bounds")
    qmin, qmax = code_range(bits, signed)
    if symmetric:
        if not signed:
            raise ValueError("symmetric: symmetric quantization needs signed codes")
        step = np.maximum(-lb, ub) / qmax
        scale = np.where(step >= np.finfo(np.float64).tiny, step, 1.0)
        zp = np.zeros_like(scale, dtype=np.int64)
        return QuantParams(bits, signed, scale, zp, axis)
    step = (ub - lb) / (qmax - qmin)
    # A range whose step underflows the normal floats is degenerate: Delta = 1.
    scale = np.where(step >= np.finfo(np.float64).tiny, step, 1.0)
    zp = np.clip(round_half_away(qmin - lb / scale), qmin, qmax).astype(np.int64)
    return QuantParams(bits, signed, scale, zp, axis)


def weight_params(
    w: np.ndarray,
    bits: int,
    *,
    granularity: Granularity = "per_channel",
    symmetric: bool = False,
    signed: bool = True,
) -> QuantParams:
    """Weight quantization ranges: lb = min, ub = max of each output channel (FQN eq. 9-10).

    Parameters
    ----------
    w
        Float weights with output channels on axis 0 (OHWI conv, ``[Cout, Cin]`` FC).
    granularity
        ``"per_channel"`` (FQN) or ``"per_tensor"`` (for ablations).
    """
    w = np.asarray(w, dtype=np.float64)
    if not np.all(np.isfinite(w)):
        raise ValueError("weights: contain NaN or infinity")
    if granularity == "per_channel":
        flat = w.reshape(w.shape[0], -1)
        return params_from_range(flat.min(axis=1), flat.max(axis=1), bits, signed, symmetric=symmetric, axis=0)
    if granularity == "per_tensor":
        return params_from_range(w.min(), w.max(), bits, signed, symmetric=symmetric)
    raise ValueError(f"granularity: expected 'per_channel' or 'per_tensor', got {granularity!r}")
