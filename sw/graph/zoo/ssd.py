"""MobileNet(v1)-SSD300 as the TF Object Detection API's ``ssd_mobilenet_v1_coco``.

This is the model of the MobileNet paper's Table 13 (Huang et al. 2017 built it).
Feature maps: Conv2d_11_pointwise (19x19x512), Conv2d_13_pointwise (10x10x1024)
and four extra layers, each a 1x1 conv to half depth then a 3x3 stride-2 conv
to 512, 256, 256, 128 channels (5x5, 3x3, 2x2, 1x1); SAME padding, ReLU6. Box
predictors are 1x1 convs (``kernel_size: 1``) with 3 anchors on the first map
and 6 on the others. Part tags: MobileNet ``backbone``, extra layers ``neck``,
predictors ``head``. Anchor decode and NMS are not costed.
"""

from __future__ import annotations

from sw.graph.builder import GraphBuilder
from sw.graph.ir import Graph, Part
from sw.graph.zoo.mobilenet import mobilenet_v1_features

__all__ = ["mobilenet_ssd"]

_EXTRA_DEPTHS = (512, 256, 256, 128)


def mobilenet_ssd(input_size: int = 300, num_classes: int = 81) -> Graph:
    """MobileNet-SSD at ``input_size`` x ``input_size``.

    Parameters
    ----------
    input_size
        Square input side in pixels.
    num_classes
        Classes including background (the TF COCO model uses 91).
    """
    b = GraphBuilder(f"mobilenet_ssd_{input_size}")
    x = b.input("image", (input_size, input_size, 3))
    points = mobilenet_v1_features(b, x)
    maps = [points["Conv2d_11_pointwise"], points["Conv2d_13_pointwise"]]
    b.part = Part.NECK
    x = maps[-1]
    for i, depth in enumerate(_EXTRA_DEPTHS, start=2):
        x = b.conv(x, depth // 2, 1, 1, act="relu6", name=f"neck.extra{i}_1x1_{depth // 2}")
        x = b.conv(x, depth, 3, 2, act="relu6", name=f"neck.extra{i}_3x3_s2_{depth}")
        maps.append(x)
    b.part = Part.HEAD
    outputs = []
    for i, fmap in enumerate(maps):
        anchors = 3 if i == 0 else 6
        outputs.append(b.conv(fmap, anchors * num_classes, 1, 1, name=f"head.cls{i}"))
        outputs.append(b.conv(fmap, anchors * 4, 1, 1, name=f"head.box{i}"))
    return b.build(outputs)
