"""Integer fully connected layer (TFLite ``reference_integer_ops::FullyConnected``, per-channel).

``acc[n, o] = sum_c (w[o, c] - zw[o]) * (x[n, c] - zx)``; then ``+ bias[o]`` and the
output stage (double rounding by default). Accumulator bound
``|acc| <= Cin * max|x - zx| * max|w - zw|``, exact through :mod:`sw.golden.exact`;
``acc + bias`` must fit int32 (ValueError otherwise).
"""

from __future__ import annotations

import numpy as np

from sw.golden.codes import centered
from sw.golden.exact import exact_matmul
from sw.golden.requant import OutputStage

__all__ = ["fully_connected", "fully_connected_accumulate"]


def fully_connected_accumulate(
    x: np.ndarray, w: np.ndarray, *, input_zero_point: int = 0, weight_zero_point: np.ndarray | int = 0
) -> np.ndarray:
    """Exact int64 accumulators ``[N, Cout]`` of input codes ``[N, Cin]`` and weight codes ``[Cout, Cin]``."""
    x = np.asarray(x)
    w = np.asarray(w)
    if x.ndim != 2 or w.ndim != 2:
        raise ValueError(f"fully_connected: expected input [N, Cin] and weights [Cout, Cin], got {x.shape} and {w.shape}")
    if x.shape[1] != w.shape[1]:
        raise ValueError(f"fully_connected: input has {x.shape[1]} channels but weights expect {w.shape[1]}")
    xc, max_x = centered("fully_connected: input", x, input_zero_point)
    wc, max_w = centered("fully_connected: weights", w, weight_zero_point, axis=0)
    return exact_matmul(xc, wc.T, max_x, max_w)


def fully_connected(
    x: np.ndarray,
    w: np.ndarray,
    bias: np.ndarray | None,
    output: OutputStage,
    *,
    input_zero_point: int = 0,
    weight_zero_point: np.ndarray | int = 0,
) -> np.ndarray:
    """Integer fully connected layer; returns output codes ``[N, Cout]`` (int64)."""
    acc = fully_connected_accumulate(x, w, input_zero_point=input_zero_point, weight_zero_point=weight_zero_point)
    return output.finish(acc, bias, "fully_connected")
