"""Output stage of integer layers: accumulator -> output codes.

``q = clamp(MBQM(acc, multiplier[c], shift[c]) + zero_point, act_min, act_max)``
with TFLite's default double rounding (see :mod:`sw.golden.fixedpoint`), the
arithmetic of every integer layer here and of the RTL requantization unit.
Fused ReLU / ReLU6 are the clamp bounds, as in TFLite
(``CalculateActivationRangeQuantized``).

Rounding modes (:data:`StageRounding`):

``"double"`` (default)
    Integer-only, TFLite's default ``MultiplyByQuantizedMultiplier``.
``"single"``
    Integer-only ``TFLITE_SINGLE_ROUNDING`` variant.
``"float"``
    ``round_half_away(acc * M)`` in float64 with the real multiplier
    ``M = (s_in * s_w[c]) / s_out``: **not** integer-only. It reproduces the
    reference FULLY_CONNECTED kernel of LiteRT (ai-edge-litert 2.3.0), which was
    changed upstream to requantize in float while CONV_2D, DEPTHWISE_CONV_2D and
    ADD keep double rounding. Use it only to match such TFLite models bit for bit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from sw.golden.fixedpoint import INT32_MAX, INT32_MIN, as_int32_array, requantize, requantize_unchecked
from sw.quant.ints import SHIFT_MAX, SHIFT_MIN
from sw.quant.multiplier import quantize_multiplier
from sw.quant.params import QuantParams
from sw.quant.rounding import round_half_away

__all__ = ["OutputStage", "FusedActivation", "StageRounding", "activation_range", "add_bias_checked"]

FusedActivation = Literal["none", "relu", "relu6", "relu_n1_to_1"]
StageRounding = Literal["double", "single", "float"]


def activation_range(activation: FusedActivation, output: QuantParams) -> tuple[int, int]:
    """Clamp bounds of a fused activation in output codes (TFLite semantics).

    ReLU clamps below at the code of 0.0 (the zero point), ReLU6 also above at the
    code of 6.0 (rounded half away from zero), both intersected with the code range.
    """
    if output.per_channel:
        raise ValueError("output: activation ranges need per-tensor output parameters")
    qmin, qmax = output.qmin, output.qmax
    zp = int(output.zero_point)
    scale = float(output.scale)

    def code(real: float) -> int:
        return zp + int(round_half_away(real / scale))

    if activation == "none":
        return qmin, qmax
    if activation == "relu":
        return max(qmin, zp), qmax
    if activation == "relu6":
        return max(qmin, zp), min(qmax, code(6.0))
    if activation == "relu_n1_to_1":
        return max(qmin, code(-1.0)), min(qmax, code(1.0))
    raise ValueError(f"activation: expected one of none, relu, relu6, relu_n1_to_1, got {activation!r}")


def add_bias_checked(acc: np.ndarray, bias: np.ndarray | None, where: str) -> np.ndarray:
    """``acc + bias`` as int64, refusing results outside the int32 accumulator range."""
    acc = np.asarray(acc, dtype=np.int64)
    if bias is not None:
        acc = acc + as_int32_array(f"{where}: bias", bias)
    if acc.size and (acc.min() < INT32_MIN or acc.max() > INT32_MAX):
        raise ValueError(
            f"{where}: accumulator + bias leaves the int32 range "
            f"([{acc.min()}, {acc.max()}]); the int32 accumulator bound cannot be met"
        )
    return acc


@dataclass(frozen=True)
class OutputStage:
    """Integer requantization parameters of one layer output.

    Parameters
    ----------
    multiplier
        Q0.31 multipliers, one per output channel or a scalar.
    shift
        Power-of-two exponents in [-31, 30], same shape as ``multiplier``.
    zero_point
        Output zero point (code).
    act_min, act_max
        Clamp bounds in output codes (fused activation and code range).
    rounding
        ``"double"`` (TFLite default, the golden model's and RTL's arithmetic),
        ``"single"`` or ``"float"`` (see the module docstring).
    real_multiplier
        The real multipliers ``M`` the integer ones were quantized from (float64,
        same shape); required by ``rounding="float"``.
    """

    multiplier: np.ndarray
    shift: np.ndarray
    zero_point: int
    act_min: int
    act_max: int
    rounding: StageRounding = "double"
    real_multiplier: np.ndarray | None = None

    def __post_init__(self) -> None:
        m = as_int32_array("multiplier", self.multiplier)
        s = np.asarray(self.shift)
        if s.dtype.kind not in "iu":
            raise ValueError(f"shift: expected integers, got dtype {s.dtype}")
        s = s.astype(np.int64)
        if m.shape != s.shape or m.ndim > 1:
            raise ValueError(f"multiplier/shift: expected equal scalar or 1-D shapes, got {m.shape}, {s.shape}")
        if m.size and m.min() < 0:
            raise ValueError(f"multiplier: expected values >= 0, got {m.min()}")
        if s.size and (s.min() < SHIFT_MIN or s.max() > SHIFT_MAX):
            raise ValueError(f"shift: expected values in [{SHIFT_MIN}, {SHIFT_MAX}], got [{s.min()}, {s.max()}]")
        if self.act_min > self.act_max:
            raise ValueError(f"act_min/act_max: expected act_min <= act_max, got {self.act_min} > {self.act_max}")
        if self.rounding not in ("double", "single", "float"):
            raise ValueError(f"rounding: expected 'double', 'single' or 'float', got {self.rounding!r}")
        if self.real_multiplier is not None:
            real = np.array(self.real_multiplier, dtype=np.float64)
            if real.shape != m.shape or not np.all(np.isfinite(real)) or np.any(real < 0):
                raise ValueError(f"real_multiplier: expected finite values >= 0 of shape {m.shape}")
            real.setflags(write=False)
            object.__setattr__(self, "real_multiplier", real)
        elif self.rounding == "float":
            raise ValueError("rounding: 'float' needs the real_multiplier")
        for arr in (m, s):
            arr.setflags(write=False)
        object.__setattr__(self, "multiplier", m)
        object.__setattr__(self, "shift", s)
        object.__setattr__(self, "zero_point", int(self.zero_point))
        object.__setattr__(self, "act_min", int(self.act_min))
        object.__setattr__(self, "act_max", int(self.act_max))

    @classmethod
    def from_real(
        cls,
        real_multiplier: np.ndarray | float,
        output: QuantParams,
        activation: FusedActivation = "none",
        rounding: StageRounding = "double",
    ) -> "OutputStage":
        """Build from real multipliers ``M = s_in * s_w[c] / s_out`` and the output's parameters."""
        multiplier, shift = quantize_multiplier(real_multiplier)
        act_min, act_max = activation_range(activation, output)
        return cls(multiplier, shift, int(output.zero_point), act_min, act_max, rounding, np.asarray(real_multiplier, dtype=np.float64))

    @classmethod
    def for_layer(
        cls,
        input_params: QuantParams,
        weight_params: QuantParams,
        output: QuantParams,
        activation: FusedActivation = "none",
        rounding: StageRounding = "double",
    ) -> "OutputStage":
        """Output stage of a conv/FC layer: ``M[c] = (s_in * s_w[c]) / s_out`` in float64.

        The operation order matches TFLite's ``PopulateConvolutionQuantizationParams``.
        """
        if input_params.per_channel or output.per_channel:
            raise ValueError("input/output: expected per-tensor activation parameters")
        real = (float(input_params.scale) * weight_params.scale) / float(output.scale)
        return cls.from_real(real, output, activation, rounding)

    @property
    def channels(self) -> int:
        """Number of per-channel multipliers (1 for a per-tensor stage)."""
        return int(self.multiplier.size)

    def finish(self, acc: np.ndarray, bias: np.ndarray | None, where: str) -> np.ndarray:
        """Add the int32 ``bias`` (one per output channel, or None) to ``acc`` and requantize.

        Raises ValueError if ``bias`` has the wrong shape or ``acc + bias`` leaves int32.
        """
        if bias is not None and np.shape(bias) != (acc.shape[-1],):
            raise ValueError(f"{where}: bias: expected shape ({acc.shape[-1]},), got {np.shape(bias)}")
        acc = add_bias_checked(acc, bias, where)
        if self.rounding != "double":
            return self.apply(acc)
        # acc is int64 and inside int32 (checked above); the stage's arrays were validated at construction.
        return requantize_unchecked(acc, self.multiplier, self.shift, self.zero_point, self.act_min, self.act_max)

    def apply(self, acc: np.ndarray) -> np.ndarray:
        """Requantize int32-range accumulators (channels on the last axis) to output codes (int64)."""
        acc = np.asarray(acc)
        if self.multiplier.ndim == 1 and acc.shape[-1] != self.multiplier.size:
            raise ValueError(
                f"output stage: {self.multiplier.size} per-channel multipliers for "
                f"{acc.shape[-1]} accumulator channels"
            )
        if self.rounding == "float":
            rounded = round_half_away(np.asarray(acc, dtype=np.float64) * self.real_multiplier)
            return np.clip(rounded + self.zero_point, self.act_min, self.act_max).astype(np.int64)
        return requantize(
            acc, self.multiplier, self.shift, self.zero_point, self.act_min, self.act_max, self.rounding
        )
