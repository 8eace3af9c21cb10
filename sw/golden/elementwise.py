"""Integer element-wise addition with fixed-point rescaling of both inputs (TFLite int8 ADD).

Parameters follow TFLite's ``Prepare`` for int8/uint8 ADD: ``left_shift = 20``,
``twice_max = 2 * max(s_a, s_b)``, input multipliers ``s_a / twice_max`` and
``s_b / twice_max`` and output multiplier ``twice_max / (2**20 * s_out)``, each
through :func:`~sw.quant.multiplier.quantize_multiplier` (all are < 1, so their
shifts are <= 0). Execution::

    a' = MBQM((a - z_a) * 2**20, m_a, s_a)      # |a - z_a| <= 255: 2**28 fits int32
    b' = MBQM((b - z_b) * 2**20, m_b, s_b)
    out = clamp(MBQM(a' + b', m_out, s_out) + z_out, act_min, act_max)

each MBQM with double rounding. ``|a'|, |b'| <= 2**27`` so ``a' + b'`` fits int32.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sw.golden.codes import centered
from sw.golden.fixedpoint import multiply_by_quantized_multiplier
from sw.golden.requant import FusedActivation, OutputStage
from sw.quant.multiplier import quantize_multiplier
from sw.quant.params import QuantParams

__all__ = ["AddParams", "add"]

LEFT_SHIFT = 20


@dataclass(frozen=True)
class AddParams:
    """Integer parameters of one ADD: input zero points, multipliers/shifts, output stage."""

    a_zero_point: int
    b_zero_point: int
    a_multiplier: int
    a_shift: int
    b_multiplier: int
    b_shift: int
    output: OutputStage

    @classmethod
    def from_params(
        cls, a: QuantParams, b: QuantParams, out: QuantParams, activation: FusedActivation = "none"
    ) -> "AddParams":
        """TFLite's ADD parameters for inputs ``a``, ``b`` and output ``out`` (per tensor)."""
        for name, p in (("a", a), ("b", b), ("out", out)):
            if p.per_channel:
                raise ValueError(f"add: {name}: expected per-tensor parameters")
        twice_max = 2.0 * max(float(a.scale), float(b.scale))
        ma, sa = quantize_multiplier(float(a.scale) / twice_max)
        mb, sb = quantize_multiplier(float(b.scale) / twice_max)
        real_out = twice_max / ((1 << LEFT_SHIFT) * float(out.scale))
        return cls(
            int(a.zero_point), int(b.zero_point), int(ma), int(sa), int(mb), int(sb),
            OutputStage.from_real(real_out, out, activation),
        )


def add(a: np.ndarray, b: np.ndarray, params: AddParams) -> np.ndarray:
    """Element-wise sum of two quantized tensors (numpy broadcasting); returns output codes (int64)."""
    ac, _ = centered("add: a", a, params.a_zero_point)
    bc, _ = centered("add: b", b, params.b_zero_point)
    try:
        np.broadcast_shapes(ac.shape, bc.shape)
    except ValueError:
        raise ValueError(f"add: input shapes {ac.shape} and {bc.shape} do not broadcast") from None
    sa = multiply_by_quantized_multiplier(ac << LEFT_SHIFT, params.a_multiplier, params.a_shift)
    sb = multiply_by_quantized_multiplier(bc << LEFT_SHIFT, params.b_multiplier, params.b_shift)
    return params.output.apply(sa + sb)
