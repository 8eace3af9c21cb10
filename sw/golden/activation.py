"""Non-linear activations as integer look-up tables over the 2**k input codes.

A table maps every input code ``q`` in ``[qmin_in, qmax_in]`` to
``clamp(round(f(s_in * (q - z_in)) / s_out) + z_out, qmin_out, qmax_out)``,
computed once in float64 with rounding half away from zero (it is a parameter,
like the requantization multipliers). Execution is a pure integer gather, so the
integer op equals the fake-quant float reference at every code by construction.
ReLU and ReLU6 following a conv are clamps in its output stage instead
(:func:`sw.golden.requant.activation_range`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from sw.quant.params import QuantParams

__all__ = ["ACTIVATIONS", "ActivationTable", "apply_table"]


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))


_erf = np.vectorize(math.erf, otypes=[np.float64])


def _gelu(x: np.ndarray) -> np.ndarray:
    """Exact (erf) GELU ``0.5 x (1 + erf(x / sqrt 2))``."""
    return 0.5 * x * (1.0 + _erf(np.asarray(x, dtype=np.float64) * math.sqrt(0.5)))


ACTIVATIONS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "relu": lambda x: np.maximum(x, 0.0),
    "relu6": lambda x: np.clip(x, 0.0, 6.0),
    "sigmoid": _sigmoid,
    "silu": lambda x: x * _sigmoid(x),
    "hardswish": lambda x: x * np.clip(x + 3.0, 0.0, 6.0) / 6.0,
    "hardsigmoid": lambda x: np.clip(x + 3.0, 0.0, 6.0) / 6.0,
    "gelu": _gelu,
    "leaky_relu": lambda x: np.where(x >= 0, x, 0.1 * x),
    "tanh": np.tanh,
}


@dataclass(frozen=True)
class ActivationTable:
    """Integer look-up table of one activation function between two quantizations.

    Attributes
    ----------
    function
        Name in :data:`ACTIVATIONS` (leaky ReLU uses slope ``alpha``).
    table
        Output code of each input code, indexed by ``q - qmin_in`` (int64, read-only).
    qmin_in
        Smallest input code.
    """

    function: str
    table: np.ndarray
    qmin_in: int

    @classmethod
    def build(cls, function: str, inp: QuantParams, out: QuantParams, alpha: float = 0.1) -> "ActivationTable":
        """Tabulate ``function`` for input parameters ``inp`` and output parameters ``out``."""
        if function not in ACTIVATIONS:
            raise ValueError(f"activation: expected one of {sorted(ACTIVATIONS)}, got {function!r}")
        if inp.per_channel or out.per_channel:
            raise ValueError("activation: expected per-tensor parameters")
        codes = np.arange(inp.qmin, inp.qmax + 1)
        real = inp.dequantize(codes)
        if function == "leaky_relu":
            y = np.where(real >= 0, real, alpha * real)
        else:
            y = ACTIVATIONS[function](real)
        table = out.quantize(y)
        table.setflags(write=False)
        return cls(function, table, inp.qmin)


def apply_table(x: np.ndarray, table: ActivationTable) -> np.ndarray:
    """Look up every code of ``x``; codes outside the table's input range raise ValueError."""
    x = np.asarray(x)
    if x.dtype.kind not in "iu":
        raise ValueError(f"activation: expected integer codes, got dtype {x.dtype}")
    idx = x.astype(np.int64) - table.qmin_in
    if idx.size and (idx.min() < 0 or idx.max() >= table.table.size):
        raise ValueError(
            f"activation: input codes [{x.min()}, {x.max()}] outside the table's range "
            f"[{table.qmin_in}, {table.qmin_in + table.table.size - 1}]"
        )
    return table.table[idx]
