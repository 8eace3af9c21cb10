"""Concatenation of quantized tensors, requantizing inputs whose parameters differ from the output's.

An input with the output's scale and zero point is copied. Otherwise each code is
rescaled like an ADD input (:mod:`sw.golden.elementwise`): it is first shifted
left by 20 bits so that the Q0.31 multiply keeps its precision on small code
differences, then multiplied by the fixed-point form of ``M = s_in / (s_out * 2**20)``::

    q_out = clamp(MBQM((q_in - z_in) * 2**20, m, shift) + z_out, qmin, qmax)

(double rounding, :mod:`sw.golden.fixedpoint`). ``|q_in - z_in| <= 255`` so the
shifted value stays below 2**28; ``M`` must be below 2**10. Without the pre-shift
the double rounding of ``MBQM(q_in - z_in, ...)`` can be off by a whole code for
4-bit inputs (e.g. 1 * 0.32 -> SRDHM gives 1, then RDBPOT(1, 1) gives 1). TFLite's int8
CONCATENATION requires identical parameters; this is the natural integer
generalisation used by the golden model for FPN / YOLO concats.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from sw.golden.elementwise import LEFT_SHIFT
from sw.golden.requant import OutputStage
from sw.quant.params import QuantParams

__all__ = ["concat"]


def _same(a: QuantParams, b: QuantParams) -> bool:
    return (
        a.bits == b.bits
        and a.signed == b.signed
        and float(a.scale) == float(b.scale)
        and int(a.zero_point) == int(b.zero_point)
    )


def concat(inputs: Sequence[np.ndarray], params: Sequence[QuantParams], output: QuantParams, axis: int = -1) -> np.ndarray:
    """Concatenate code tensors along ``axis``; returns output codes (int64)."""
    if len(inputs) != len(params) or not inputs:
        raise ValueError(f"concat: expected one QuantParams per input, got {len(inputs)} inputs and {len(params)} params")
    if output.per_channel or any(p.per_channel for p in params):
        raise ValueError("concat: expected per-tensor parameters")
    parts = []
    for i, (x, p) in enumerate(zip(inputs, params)):
        x = np.asarray(x)
        if x.dtype.kind not in "iu":
            raise ValueError(f"concat: input {i}: expected integer codes, got dtype {x.dtype}")
        if _same(p, output):
            parts.append(x.astype(np.int64))
            continue
        stage = OutputStage.from_real(float(p.scale) / (float(output.scale) * (1 << LEFT_SHIFT)), output)
        parts.append(stage.apply((x.astype(np.int64) - int(p.zero_point)) << LEFT_SHIFT))
    try:
        return np.concatenate(parts, axis=axis)
    except ValueError as exc:
        shapes = [np.shape(x) for x in inputs]
        raise ValueError(f"concat: input shapes {shapes} do not match off axis {axis}: {exc}") from None
