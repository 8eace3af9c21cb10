"""GPTQ weight rounding on the golden model's per-channel grid (numpy, no autodiff).

For one layer with weights ``W`` ``[Cout, K]`` (a conv's OHWI flattened per
group) and inputs ``X`` ``[rows, K]`` (im2col patches), GPTQ (Frantar et al.
2023, Alg. 1) minimises ``||W X^T - Q X^T||_F`` column by column: with
``H = X^T X + lambda I`` (damping ``lambda = 0.01 mean(diag H)``) and the upper
Cholesky factor ``U`` of ``H^-1``, column ``i`` is rounded to the grid and its
error ``(w_i - q_i) / U_ii`` is spread over the not yet rounded columns by
``U_i,j``. The grid is the layer's per-output-channel one (the golden model's
``clamp(round(w / s) + z)``, ties away from zero), so the codes drop into
:func:`sw.runtime.integer.plan_calibrated` unchanged. Inputs that are always
zero (``H_ii = 0``) get weight 0 before rounding.
"""

from __future__ import annotations

import numpy as np

from sw.golden.window import extract_patches, group_columns
from sw.graph.ir import Layer, Op
from sw.quant.params import QuantParams
from sw.quant.rounding import round_half_away

__all__ = ["gptq_codes", "layer_columns", "second_moments", "DAMPING", "BLOCK"]

DAMPING = 0.01
BLOCK = 128


def layer_columns(layer: Layer, x: np.ndarray) -> np.ndarray:
    """Im2col rows of one layer input (NHWC) per group: ``[G, rows, K]`` (fc: ``[1, N, H*W*C]``)."""
    if layer.op is Op.FC:
        return x.reshape(1, x.shape[0], -1)
    patches = extract_patches(x, layer.kernel, layer.stride, layer.dilation, layer.padding, pad_value=0.0)
    return group_columns(patches, layer.groups)


def second_moments(columns: np.ndarray) -> np.ndarray:
    """``X^T X`` per group: ``[G, K, K]`` float64."""
    cols = np.asarray(columns, dtype=np.float64)
    return np.einsum("grk,grl->gkl", cols, cols)


def _grid(wp: QuantParams, rows: slice | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return wp.scale[rows].astype(np.float64), wp.zero_point[rows].astype(np.float64)


def _round_column(w: np.ndarray, scale: np.ndarray, zp: np.ndarray, qmin: int, qmax: int) -> np.ndarray:
    return np.clip(round_half_away(w / scale) + zp, qmin, qmax)


def gptq_codes(w: np.ndarray, wp: QuantParams, hessian: np.ndarray, damping: float = DAMPING) -> np.ndarray:
    """GPTQ codes of ``w`` ``[Cout, K]`` on the per-row grid ``wp`` (axis 0) for ``H = hessian`` ``[K, K]``.

    Returns int64 codes ``[Cout, K]`` in ``[wp.qmin, wp.qmax]``.
    """
    w = np.array(w, dtype=np.float64)
    h = np.array(hessian, dtype=np.float64)
    if w.ndim != 2 or h.shape != (w.shape[1], w.shape[1]):
        raise ValueError(f"gptq: weights {w.shape} and second moments {h.shape} do not match")
    dead = np.diag(h) == 0
    h[dead, dead] = 1.0
    w[:, dead] = 0.0
    h[np.diag_indices_from(h)] += damping * float(np.mean(np.diag(h)))
    u = np.linalg.cholesky(np.linalg.inv(h)).T  # upper factor of H^-1
    scale, zp = _grid(wp, slice(None))
    codes = np.zeros_like(w)
    k = w.shape[1]
    for start in range(0, k, BLOCK):
        stop = min(start + BLOCK, k)
        block = w[:, start:stop].copy()
        errors = np.zeros_like(block)
        for j in range(stop - start):
            col = block[:, j]
            q = _round_column(col, scale, zp, wp.qmin, wp.qmax)
            codes[:, start + j] = q
            err = (col - scale * (q - zp)) / u[start + j, start + j]
            block[:, j:] -= np.outer(err, u[start + j, start + j:stop])
            errors[:, j] = err
        w[:, stop:] -= errors @ u[start:stop, stop:]
    return codes.astype(np.int64)
