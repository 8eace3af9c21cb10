"""RetinaNet (Lin et al. 2017) as torchvision's ``retinanet_resnet50_fpn`` (v1).

Backbone levels C3-C5 feed an FPN (P3-P5); P6 is a 3x3 stride-2 conv on P5 and
P7 a 3x3 stride-2 conv on ReLU(P6) (torchvision ``LastLevelP6P7(256, 256)``).
The class and box subnets (four 3x3 256-channel convs with ReLU, then a 3x3
predictor of ``anchors * classes`` or ``anchors * 4`` channels) run on each of
P3-P7 with weights shared across levels. Anchor decode and NMS are not costed.
"""

from __future__ import annotations

from sw.graph.builder import GraphBuilder
from sw.graph.ir import Graph, Part
from sw.graph.zoo.fpn import fpn
from sw.graph.zoo.mobilenet import mobilenet_v2_features
from sw.graph.zoo.resnet import resnet_features

__all__ = ["retinanet_resnet_fpn", "retinanet_mobilenet_v2_fpn", "retinanet_head"]


def _p6p7(b: GraphBuilder, pyramid: dict[str, str], width: int) -> dict[str, str]:
    p6 = b.conv(pyramid["P5"], width, 3, 2, padding=1, name="fpn.p6")
    p6_relu = b.activation(p6, "relu", name="fpn.p6_relu")
    p7 = b.conv(p6_relu, width, 3, 2, padding=1, name="fpn.p7")
    return {**pyramid, "P6": p6, "P7": p7}


def retinanet_head(b: GraphBuilder, pyramid: dict[str, str], num_classes: int, anchors: int = 9,
                   width: int = 256, convs: int = 4) -> list[str]:
    """Shared class and box subnets on every level; returns the predictor tensors.

    The first level owns the weights; the others set ``shares_weights``.
    """
    b.part = Part.HEAD
    outputs = []
    first = min(pyramid, key=lambda k: int(k[1:]))
    for subnet, out_channels in (("cls", anchors * num_classes), ("box", anchors * 4)):
        for level in sorted(pyramid, key=lambda k: int(k[1:])):
            x = pyramid[level]
            for i in range(convs):
                owner = None if level == first else f"head.{subnet}.conv{i}.{first}"
                x = b.conv(x, width, 3, 1, padding=1, act="relu", shares=owner, name=f"head.{subnet}.conv{i}.{level}")
            owner = None if level == first else f"head.{subnet}.pred.{first}"
            outputs.append(b.conv(x, out_channels, 3, 1, padding=1, shares=owner, name=f"head.{subnet}.pred.{level}"))
    return outputs


def retinanet_resnet_fpn(depth: int = 50, input_size: int = 800, num_classes: int = 80, anchors: int = 9) -> Graph:
    """RetinaNet with a ResNet-``depth`` + FPN (P3-P7) at ``input_size`` x ``input_size``.

    Parameters
    ----------
    depth
        18, 34 or 50.
    input_size
        Square input side in pixels.
    num_classes
        Class-subnet outputs per anchor (torchvision's COCO model uses 91).
    anchors
        Anchors per location (3 scales x 3 aspect ratios).
    """
    b = GraphBuilder(f"retinanet_r{depth}_fpn")
    x = b.input("image", (input_size, input_size, 3))
    c = resnet_features(b, x, depth)
    pyramid = _p6p7(b, fpn(b, {k: c[k] for k in ("C3", "C4", "C5")}), 256)
    return b.build(retinanet_head(b, pyramid, num_classes, anchors))


def retinanet_mobilenet_v2_fpn(input_size: int = 600, num_classes: int = 80, anchors: int = 9) -> Graph:
    """RetinaNet with a MobileNet v2 + FPN (P3-P7) at ``input_size`` x ``input_size``.

    FPN inputs are the last stride-8, 16 and 32 blocks (32, 96 and 320
    channels); otherwise identical to :func:`retinanet_resnet_fpn`.
    """
    b = GraphBuilder("retinanet_mbv2_fpn")
    x = b.input("image", (input_size, input_size, 3))
    c = mobilenet_v2_features(b, x)
    pyramid = _p6p7(b, fpn(b, {k: c[k] for k in ("C3", "C4", "C5")}), 256)
    return b.build(retinanet_head(b, pyramid, num_classes, anchors))
