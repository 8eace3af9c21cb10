"""Layer operations, part tags and activation functions of the layer IR (see :mod:`sw.graph.ir`)."""

from __future__ import annotations

from enum import Enum

__all__ = ["Op", "Part", "Activation", "WEIGHTED", "WINDOWED", "SINGLE_INPUT", "RESIZE_MODES"]


class Op(str, Enum):
    """Layer operation; the module docstring gives each op's shape rule and cost."""

    CONV = "conv"
    DEPTHWISE = "depthwise"
    CONV_TRANSPOSE = "conv_transpose"
    FC = "fc"
    ADD = "add"
    MUL = "mul"
    CONCAT = "concat"
    UPSAMPLE = "upsample"
    MAXPOOL = "maxpool"
    AVGPOOL = "avgpool"
    GLOBAL_AVGPOOL = "global_avgpool"
    PAD = "pad"
    ACTIVATION = "activation"
    ROI_ALIGN = "roi_align"
    PROPOSALS = "proposals"
    PRELU = "prelu"
    RESIZE_BILINEAR = "resize_bilinear"
    DEPTH_TO_SPACE = "depth_to_space"


class Part(str, Enum):
    """Which part of a detector a layer belongs to."""

    BACKBONE = "backbone"
    NECK = "neck"
    HEAD = "head"


class Activation(str, Enum):
    """Non-linearity, fused into a layer or as a stand-alone ``activation`` layer."""

    RELU = "relu"
    RELU6 = "relu6"
    LEAKY_RELU = "leaky_relu"
    SILU = "silu"
    HARDSWISH = "hardswish"
    SIGMOID = "sigmoid"
    HARDSIGMOID = "hardsigmoid"
    GELU = "gelu"


WEIGHTED = frozenset({Op.CONV, Op.DEPTHWISE, Op.CONV_TRANSPOSE, Op.FC})
WINDOWED = frozenset({Op.CONV, Op.DEPTHWISE, Op.MAXPOOL, Op.AVGPOOL})
SINGLE_INPUT = WEIGHTED | WINDOWED | {Op.UPSAMPLE, Op.GLOBAL_AVGPOOL, Op.PAD, Op.ACTIVATION, Op.PRELU,
                                      Op.RESIZE_BILINEAR, Op.DEPTH_TO_SPACE}
# Source-coordinate conventions of resize_bilinear: out y reads y * in/out (asymmetric), y * (in-1)/(out-1)
# (align_corners) or (y + 0.5) * in/out - 0.5 (half_pixel).
RESIZE_MODES = ("asymmetric", "align_corners", "half_pixel")


