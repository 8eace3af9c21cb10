"""MobileNet v1 (Howard et al. 2017) and v2 (Sandler et al. 2018) feature extractors.

v1 follows the TensorFlow slim definition used by the TF Object Detection API
(SAME padding, ReLU6); v2 follows torchvision (symmetric padding, ReLU6). Batch
norm is folded into each convolution as a bias.
"""

from __future__ import annotations

from sw.graph.builder import GraphBuilder
from sw.graph.ir import Graph, Part

__all__ = ["mobilenet_v1_features", "mobilenet_v2_features", "mobilenet_v1", "mobilenet_v2"]

# (pointwise output channels, depthwise stride) of the 13 separable blocks
_V1_BLOCKS = ((64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2),
              (512, 1), (512, 1), (512, 1), (512, 1), (512, 1), (1024, 2), (1024, 1))
# (expansion t, output channels c, repeats n, first stride s), Sandler et al. Table 2
_V2_BLOCKS = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2),
              (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1))


def mobilenet_v1_features(b: GraphBuilder, x: str, prefix: str = "backbone") -> dict[str, str]:
    """Conv2d_0 and 13 depthwise-separable blocks; returns ``{"Conv2d_<i>_pointwise": tensor}``."""
    x = b.conv(x, 32, 3, 2, act="relu6", name=f"{prefix}.Conv2d_0")
    points = {}
    for i, (channels, stride) in enumerate(_V1_BLOCKS, start=1):
        x = b.depthwise(x, 3, stride, act="relu6", name=f"{prefix}.Conv2d_{i}_depthwise")
        x = b.conv(x, channels, 1, 1, act="relu6", name=f"{prefix}.Conv2d_{i}_pointwise")
        points[f"Conv2d_{i}_pointwise"] = x
    return points


def mobilenet_v2_features(b: GraphBuilder, x: str, prefix: str = "backbone") -> dict[str, str]:
    """Stem and 17 inverted-residual blocks; returns ``{"C3", "C4", "C5"}`` (32, 96, 320 channels).

    ``C3`` is the last stride-8 block, ``C4`` the last stride-16 block, ``C5``
    the last block (stride 32); the final 1x1 conv to 1280 is not included.
    """
    x = b.conv(x, 32, 3, 2, padding=1, act="relu6", name=f"{prefix}.stem")
    points, index, stride_so_far = {}, 0, 2
    for t, c, n, s in _V2_BLOCKS:
        for i in range(n):
            stride = s if i == 0 else 1
            name = f"{prefix}.block{index}"
            y = x
            if t != 1:
                y = b.conv(y, t * b.shape(x)[2], 1, 1, padding=0, act="relu6", name=f"{name}.expand")
            y = b.depthwise(y, 3, stride, padding=1, act="relu6", name=f"{name}.dw")
            y = b.conv(y, c, 1, 1, padding=0, name=f"{name}.project")
            x = b.add(x, y, name=f"{name}.add") if stride == 1 and b.shape(x)[2] == c else y
            stride_so_far *= stride
            index += 1
        points[{8: "C3", 16: "C4", 32: "C5"}.get(stride_so_far, f"S{stride_so_far}")] = x
    return points


def mobilenet_v1(input_size: int = 224, num_classes: int = 1000) -> Graph:
    """MobileNet v1 (width 1.0) ImageNet classifier."""
    b = GraphBuilder("mobilenet_v1")
    x = b.input("image", (input_size, input_size, 3))
    x = mobilenet_v1_features(b, x)["Conv2d_13_pointwise"]
    b.part = Part.HEAD
    x = b.global_avgpool(x, name="head.avgpool")
    return b.build([b.fc(x, num_classes, name="head.fc")])


def mobilenet_v2(input_size: int = 224, num_classes: int = 1000) -> Graph:
    """MobileNet v2 (width 1.0) ImageNet classifier, as torchvision."""
    b = GraphBuilder("mobilenet_v2")
    x = b.input("image", (input_size, input_size, 3))
    x = mobilenet_v2_features(b, x)["C5"]
    x = b.conv(x, 1280, 1, 1, padding=0, act="relu6", name="backbone.conv_last")
    b.part = Part.HEAD
    x = b.global_avgpool(x, name="head.avgpool")
    return b.build([b.fc(x, num_classes, name="head.fc")])
