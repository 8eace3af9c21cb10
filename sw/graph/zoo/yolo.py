"""YOLOv3 and YOLOv3-tiny (Redmon & Farhadi 2018) as darknet's ``yolov3.cfg`` / ``yolov3-tiny.cfg``.

Darknet convolutions pad ``size // 2`` on every side; every conv except the
three (two for tiny) 1x1 detection convs has batch norm (folded to a bias) and
leaky ReLU. Part tags: Darknet-53 / the tiny conv-pool trunk is ``backbone``;
the per-scale conv sets, route 1x1 convs, upsamples and concats are ``neck``;
the last 3x3 conv and the 1x1 detection conv of each scale are ``head``. The
yolo layers (sigmoid/exp decode) and NMS are not costed.
"""

from __future__ import annotations

from sw.graph.builder import GraphBuilder
from sw.graph.ir import Graph, Part

__all__ = ["yolov3", "yolov3_tiny", "darknet53_features"]


def _conv(b: GraphBuilder, x: str, channels: int, kernel: int, stride: int = 1, *, name: str) -> str:
    return b.conv(x, channels, kernel, stride, padding=kernel // 2, act="leaky_relu", name=name)


def darknet53_features(b: GraphBuilder, x: str, prefix: str = "backbone") -> dict[str, str]:
    """Darknet-53 trunk; returns ``{"C3", "C4", "C5"}`` (256, 512, 1024 channels, strides 8-32)."""
    x = _conv(b, x, 32, 3, name=f"{prefix}.conv0")
    points = {}
    for stage, blocks in enumerate((1, 2, 8, 8, 4), start=1):
        width = 32 << stage
        x = _conv(b, x, width, 3, 2, name=f"{prefix}.stage{stage}.down")
        for i in range(blocks):
            y = _conv(b, x, width // 2, 1, name=f"{prefix}.stage{stage}.{i}.conv1")
            y = _conv(b, y, width, 3, name=f"{prefix}.stage{stage}.{i}.conv2")
            x = b.add(x, y, name=f"{prefix}.stage{stage}.{i}.add")
        if stage >= 3:
            points[f"C{stage}"] = x
    return points


def _detect(b: GraphBuilder, x: str, channels: int, outputs: int, name: str) -> str:
    b.part = Part.HEAD
    x = _conv(b, x, channels, 3, name=f"{name}.conv")
    out = b.conv(x, outputs, 1, 1, padding=0, name=f"{name}.pred")
    b.part = Part.NECK
    return out


def yolov3(input_size: int = 416, num_classes: int = 80, anchors: int = 3) -> Graph:
    """YOLOv3 with Darknet-53 at ``input_size`` x ``input_size`` (a multiple of 32)."""
    b = GraphBuilder(f"yolov3_{input_size}")
    x = b.input("image", (input_size, input_size, 3))
    c = darknet53_features(b, x)
    b.part = Part.NECK
    outputs, per_anchor = [], anchors * (num_classes + 5)
    x, lateral = c["C5"], None
    for scale, (width, skip) in enumerate(((512, None), (256, "C4"), (128, "C3"))):
        name = f"neck.scale{scale}"
        if skip is not None:
            r = _conv(b, lateral, width, 1, name=f"{name}.reduce")
            r = b.upsample(r, 2, name=f"{name}.upsample")
            x = b.concat(r, c[skip], name=f"{name}.concat")
        for i in range(2):
            x = _conv(b, x, width, 1, name=f"{name}.conv{2 * i}")
            x = _conv(b, x, 2 * width, 3, name=f"{name}.conv{2 * i + 1}")
        lateral = x = _conv(b, x, width, 1, name=f"{name}.conv4")
        outputs.append(_detect(b, x, 2 * width, per_anchor, f"head.scale{scale}"))
    return b.build(outputs)


def yolov3_tiny(input_size: int = 416, num_classes: int = 80, anchors: int = 3) -> Graph:
    """YOLOv3-tiny at ``input_size`` x ``input_size`` (a multiple of 32)."""
    b = GraphBuilder(f"yolov3_tiny_{input_size}")
    x = b.input("image", (input_size, input_size, 3))
    for i, width in enumerate((16, 32, 64, 128, 256)):
        x = _conv(b, x, width, 3, name=f"backbone.conv{i}")
        if i == 4:
            route = x
        x = b.maxpool(x, 2, 2, name=f"backbone.pool{i}")
    x = _conv(b, x, 512, 3, name="backbone.conv5")
    x = b.maxpool(x, 2, 1, padding=((0, 1), (0, 1)), name="backbone.pool5")
    x = _conv(b, x, 1024, 3, name="backbone.conv6")
    b.part = Part.NECK
    lateral = _conv(b, x, 256, 1, name="neck.scale0.conv0")
    per_anchor = anchors * (num_classes + 5)
    out0 = _detect(b, lateral, 512, per_anchor, "head.scale0")
    r = _conv(b, lateral, 128, 1, name="neck.scale1.reduce")
    r = b.upsample(r, 2, name="neck.scale1.upsample")
    x = b.concat(r, route, name="neck.scale1.concat")
    out1 = _detect(b, x, 256, per_anchor, "head.scale1")
    return b.build([out0, out1])
