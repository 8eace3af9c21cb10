"""Exact integer dot products on floating-point BLAS, chosen by a proven bound.

An integer matrix product is computed exactly in floating point when every
partial sum is exactly representable. Any partial sum of ``sum_k a[i,k]*b[k,j]``
is bounded in magnitude by ``K * max|a| * max|b|``, whatever order the BLAS
kernel adds the terms in (and fused multiply-adds round nothing while the
result is representable). So:

* ``float32``: exact when ``K * max|a| * max|b| <= 2**24``;
* ``float32_chunked``: the depth is split into chunks of
  ``C = floor(2**24 / (max|a| * max|b|))`` (at least 128) products; each chunk's GEMM is
  exact in float32 and the chunk results are summed in float64, exact while
  ``K * max|a| * max|b| <= 2**53``. This runs int8 layers (``C = 514`` for
  ``|x - zx| <= 255``, ``|w| <= 128``) at float32 GEMM speed;
* ``float64``: exact when ``K * max|a| * max|b| <= 2**53`` (chunks would be too small);
* otherwise int64 (exact while the bound is below ``2**63``; beyond that we raise).

The returned accumulators are int64 either way.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

__all__ = ["FLOAT32_EXACT", "FLOAT64_EXACT", "choose_dtype", "exact_matmul", "Path"]

FLOAT32_EXACT = 2**24
FLOAT64_EXACT = 2**53
INT64_EXACT = 2**63 - 1

Path = Literal["float32", "float32_chunked", "float64", "int64"]

#: Smallest chunk depth worth a separate float32 GEMM.
MIN_CHUNK = 128


def choose_dtype(depth: int, max_abs_a: int, max_abs_b: int) -> Path:
    """The cheapest exact accumulation path for a depth-``depth`` integer dot product.

    Parameters
    ----------
    depth
        Number of products summed into one accumulator (K).
    max_abs_a, max_abs_b
        Bounds on the magnitude of the operands.

    Raises
    ------
    ValueError
        If even int64 cannot hold the worst-case sum.
    """
    per_term = int(max_abs_a) * int(max_abs_b)
    bound = int(depth) * per_term
    if bound <= FLOAT32_EXACT:
        return "float32"
    if bound <= FLOAT64_EXACT:
        return "float32_chunked" if FLOAT32_EXACT // per_term >= MIN_CHUNK else "float64"
    if bound <= INT64_EXACT:
        return "int64"
    raise ValueError(
        f"accumulator bound {bound} = K {depth} x |a| {max_abs_a} x |b| {max_abs_b} exceeds int64"
    )


def exact_matmul(a: np.ndarray, b: np.ndarray, max_abs_a: int, max_abs_b: int) -> np.ndarray:
    """Exact ``a @ b`` of integer-valued arrays, returned as int64.

    Parameters
    ----------
    a : (..., M, K) array of integers (any integer or float dtype holding integers)
    b : (K, N) or batched (..., K, N) array of integers
    max_abs_a, max_abs_b
        Proven bounds on ``|a|`` and ``|b|`` (from the operands' bit widths);
        they select float32, float64 or int64 accumulation (see module docstring).
    """
    depth = a.shape[-1]
    path = choose_dtype(depth, max_abs_a, max_abs_b)
    if path == "float32_chunked":
        chunk = FLOAT32_EXACT // (int(max_abs_a) * int(max_abs_b))
        a32 = a.astype(np.float32, copy=False)
        b32 = b.astype(np.float32, copy=False)
        out = np.matmul(a32[..., :chunk], b32[..., :chunk, :]).astype(np.float64)
        for k0 in range(chunk, depth, chunk):
            out += np.matmul(a32[..., k0 : k0 + chunk], b32[..., k0 : k0 + chunk, :])
        return out.astype(np.int64)
    dtype = np.dtype(path)
    out = np.matmul(a.astype(dtype, copy=False), b.astype(dtype, copy=False))
    return out.astype(np.int64, copy=False)
