"""From a float conv / FC layer to its integer parameters (FQN flow).

Steps: fold batch norm with frozen statistics (optional), quantize weights per
output channel (or per tensor) with FQN's min/max ranges, quantize the bias to
int32 at ``s_in * s_w[o]``, and derive the per-channel output stage from the
calibrated output parameters.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sw.golden.conv import conv2d
from sw.golden.requant import FusedActivation, OutputStage
from sw.golden.window import Padding2D
from sw.quant.folding import BatchNorm, fold_batch_norm, quantize_bias
from sw.quant.params import QuantParams
from sw.quant.ranges import Granularity, weight_params

__all__ = ["IntConv", "quantize_conv"]


@dataclass(frozen=True)
class IntConv:
    """An integer convolution: codes, zero points, int32 bias, output stage and geometry."""

    weights: np.ndarray
    weight_params: QuantParams
    bias: np.ndarray
    input_params: QuantParams
    output_params: QuantParams
    output: OutputStage
    stride: tuple[int, int] = (1, 1)
    dilation: tuple[int, int] = (1, 1)
    padding: str | Padding2D = "SAME"
    groups: int = 1

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """Run the golden integer convolution on input codes (NHWC)."""
        return conv2d(
            x,
            self.weights,
            self.bias,
            self.output,
            input_zero_point=int(self.input_params.zero_point),
            weight_zero_point=self.weight_params.zero_point,
            stride=self.stride,
            dilation=self.dilation,
            padding=self.padding,
            groups=self.groups,
        )


def quantize_conv(
    w: np.ndarray,
    b: np.ndarray | None,
    input_params: QuantParams,
    output_params: QuantParams,
    *,
    w_bits: int,
    granularity: Granularity = "per_channel",
    symmetric: bool = False,
    bn: BatchNorm | None = None,
    activation: FusedActivation = "none",
    stride: tuple[int, int] = (1, 1),
    dilation: tuple[int, int] = (1, 1),
    padding: str | Padding2D = "SAME",
    groups: int = 1,
) -> IntConv:
    """Integer parameters of a float OHWI convolution (``w [Cout, kh, kw, Cin/groups]``)."""
    w = np.asarray(w, dtype=np.float64)
    if bn is not None:
        w, b = fold_batch_norm(w, b, bn)
    wp = weight_params(w, w_bits, granularity=granularity, symmetric=symmetric)
    codes = wp.quantize(w)
    bias = quantize_bias(np.zeros(w.shape[0]) if b is None else b, input_params, wp)
    stage = OutputStage.for_layer(input_params, wp, output_params, activation)
    return IntConv(codes, wp, bias, input_params, output_params, stage, stride, dilation, padding, groups)
