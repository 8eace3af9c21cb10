"""Faster R-CNN (Ren et al. 2015) with ResNet-50 + FPN, as torchvision's ``fasterrcnn_resnet50_fpn``.

FPN over C2-C5 (P2-P5) plus P6 = 1x1 stride-2 max pool of P5 (``LastLevelMaxPool``).
The RPN head (3x3 conv + ReLU, 1x1 objectness and 1x1 box convs, 3 anchors)
runs on P2-P6 with shared weights. ``proposals`` boxes (anchor decode + NMS, 0
MACs) go to a multi-scale RoIAlign (7x7x256 per RoI, data movement, 0 MACs)
and the box head: two 1024-wide FC layers and the class / box predictors, each
executed once per proposal (``repeat``).
"""

from __future__ import annotations

from sw.graph.builder import GraphBuilder
from sw.graph.ir import Graph, Part
from sw.graph.zoo.fpn import fpn
from sw.graph.zoo.resnet import resnet_features

__all__ = ["faster_rcnn_resnet50_fpn"]


def faster_rcnn_resnet50_fpn(input_size: int = 800, proposals: int = 1000, num_classes: int = 81,
                             anchors: int = 3) -> Graph:
    """Faster R-CNN ResNet-50-FPN at ``input_size`` x ``input_size``.

    Parameters
    ----------
    input_size
        Square input side in pixels (torchvision resizes the short side to 800).
    proposals
        RoIs kept after the RPN's NMS (torchvision test default 1000); every
        box-head layer runs this many times.
    num_classes
        Classes including background (torchvision's COCO model uses 91).
    anchors
        RPN anchors per location (3 aspect ratios, one size per level).
    """
    b = GraphBuilder("faster_rcnn_r50_fpn")
    x = b.input("image", (input_size, input_size, 3))
    c = resnet_features(b, x, 50)
    pyramid = fpn(b, {k: c[k] for k in ("C2", "C3", "C4", "C5")})
    pyramid["P6"] = b.maxpool(pyramid["P5"], 1, 2, name="fpn.p6_pool")
    b.part = Part.HEAD
    rpn_outputs = []
    for level in ("P2", "P3", "P4", "P5", "P6"):
        share = level != "P2"
        t = b.conv(pyramid[level], 256, 3, 1, padding=1, act="relu", name=f"rpn.conv.{level}",
                   shares="rpn.conv.P2" if share else None)
        rpn_outputs.append(b.conv(t, anchors, 1, 1, padding=0, name=f"rpn.objectness.{level}",
                                  shares="rpn.objectness.P2" if share else None))
        rpn_outputs.append(b.conv(t, anchors * 4, 1, 1, padding=0, name=f"rpn.box.{level}",
                                  shares="rpn.box.P2" if share else None))
    boxes = b.proposals(rpn_outputs, proposals, name="rpn.proposals")
    rois = b.roi_align([pyramid[k] for k in ("P2", "P3", "P4", "P5")], boxes, 7, name="roi_align")
    t = b.fc(rois, 1024, act="relu", repeat=proposals, name="box_head.fc6")
    t = b.fc(t, 1024, act="relu", repeat=proposals, name="box_head.fc7")
    scores = b.fc(t, num_classes, repeat=proposals, name="box_predictor.cls_score")
    deltas = b.fc(t, num_classes * 4, repeat=proposals, name="box_predictor.bbox_pred")
    return b.build([scores, deltas])
