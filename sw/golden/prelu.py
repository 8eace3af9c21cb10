"""PReLU with one slope per channel (TFLite ``PRELU``, ONNX ``PRelu``), float and integer.

``y = x`` for ``x >= 0`` else ``alpha[c] * x``. The integer kernel follows
TFLite's reference ``BroadcastPrelu4DSlow`` for int8 / uint8: with
``x' = q_x - z_x`` and ``a' = q_alpha - z_alpha``::

    y = MBQM(x', M1) + z_out            if x' >= 0,   M1 = s_x / s_out
    y = MBQM(x' * a', M2) + z_out       otherwise,    M2 = s_x * s_alpha / s_out

clamped to the output code range; each MBQM with TFLite's double rounding.
"""

from __future__ import annotations

import numpy as np

from sw.golden.fixedpoint import multiply_by_quantized_multiplier
from sw.quant.multiplier import quantize_multiplier
from sw.quant.params import QuantParams

__all__ = ["prelu_float", "prelu_int"]


def prelu_float(x: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Real PReLU of NHWC ``x`` with slopes ``alpha`` (``[C]``)."""
    x = np.asarray(x, dtype=np.float64)
    return np.where(x >= 0, x, np.asarray(alpha, dtype=np.float64) * x)


def prelu_int(x: np.ndarray, alpha: np.ndarray, inp: QuantParams, slope: QuantParams, out: QuantParams) -> np.ndarray:
    """Integer PReLU: input codes ``x`` (NHWC), slope codes ``alpha`` (``[C]``) -> output codes (int64)."""
    for what, p in (("input", inp), ("alpha", slope), ("output", out)):
        if p.per_channel:
            raise ValueError(f"prelu: {what}: expected per-tensor parameters")
    xc = np.asarray(x, dtype=np.int64) - int(inp.zero_point)
    ac = np.asarray(alpha, dtype=np.int64) - int(slope.zero_point)
    m1, s1 = quantize_multiplier(float(inp.scale) / float(out.scale))
    m2, s2 = quantize_multiplier(float(inp.scale) * float(slope.scale) / float(out.scale))
    pos = multiply_by_quantized_multiplier(np.where(xc >= 0, xc, 0), m1, s1)
    neg = multiply_by_quantized_multiplier(np.where(xc < 0, xc * ac, 0), m2, s2)
    y = np.where(xc >= 0, pos, neg) + int(out.zero_point)
    return np.clip(y, out.qmin, out.qmax).astype(np.int64)
