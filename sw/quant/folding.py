"""Batch-norm folding with frozen EMA statistics (FQN eq. 13-14) and bias quantization.

``W_fold[o] = alpha[o] / sqrt(var_EMA[o] + eps) * W[o]``,
``b_fold[o] = alpha[o] / sqrt(var_EMA[o] + eps) * (b[o] - mu_EMA[o]) + beta[o]``,
with the frozen running statistics of the trained float model (never batch
statistics). Output channels are on axis 0 of ``W`` (OHWI conv, [Cout, Cin] FC).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sw.quant.ints import INT32_MAX, INT32_MIN
from sw.quant.params import QuantParams
from sw.quant.rounding import round_half_away

__all__ = ["BatchNorm", "fold_batch_norm", "quantize_bias"]


@dataclass(frozen=True)
class BatchNorm:
    """Frozen batch-norm parameters, one entry per channel.

    Attributes
    ----------
    gamma, beta
        Affine scale (alpha in FQN) and shift.
    mean, var
        Frozen EMA mean and variance from full-precision training.
    eps
        Variance epsilon.
    """

    gamma: np.ndarray
    beta: np.ndarray
    mean: np.ndarray
    var: np.ndarray
    eps: float = 1e-5

    def __post_init__(self) -> None:
        arrays = [np.asarray(a, dtype=np.float64) for a in (self.gamma, self.beta, self.mean, self.var)]
        if len({a.shape for a in arrays}) != 1 or arrays[0].ndim != 1:
            raise ValueError(f"batch norm: gamma/beta/mean/var must be equal-length 1-D arrays, got {[a.shape for a in arrays]}")
        if not all(np.all(np.isfinite(a)) for a in arrays):
            raise ValueError("batch norm: parameters contain NaN or infinity")
        if np.any(arrays[3] + self.eps <= 0):
            raise ValueError("batch norm: var + eps must be > 0")
        for name, a in zip(("gamma", "beta", "mean", "var"), arrays):
            a.setflags(write=False)
            object.__setattr__(self, name, a)


def fold_batch_norm(w: np.ndarray, b: np.ndarray | None, bn: BatchNorm) -> tuple[np.ndarray, np.ndarray]:
    """Fold ``bn`` into the preceding layer's weights ``w`` and bias ``b`` (FQN eq. 13-14)."""
    w = np.asarray(w, dtype=np.float64)
    if w.shape[0] != bn.gamma.size:
        raise ValueError(f"batch norm: {bn.gamma.size} channels but weights have {w.shape[0]} output channels")
    b = np.zeros(w.shape[0]) if b is None else np.asarray(b, dtype=np.float64)
    if b.shape != (w.shape[0],):
        raise ValueError(f"bias: expected shape ({w.shape[0]},), got {b.shape}")
    factor = bn.gamma / np.sqrt(bn.var + bn.eps)
    w_fold = w * factor.reshape((-1,) + (1,) * (w.ndim - 1))
    b_fold = factor * (b - bn.mean) + bn.beta
    return w_fold, b_fold


def quantize_bias(b: np.ndarray, input_params: QuantParams, weight_params: QuantParams) -> np.ndarray:
    """int32 bias codes at scale ``s_in * s_w[o]``, zero point 0, rounded half away from zero."""
    b = np.asarray(b, dtype=np.float64)
    scale = float(input_params.scale) * weight_params.scale
    codes = round_half_away(b / scale)
    if codes.size and (codes.min() < INT32_MIN or codes.max() > INT32_MAX):
        raise ValueError(f"bias: quantized values leave the int32 range (scale {scale.min()}..{scale.max()})")
    return codes.astype(np.int64)
