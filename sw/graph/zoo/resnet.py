"""ResNet-18/34/50 (He et al. 2016), as torchvision builds them (v1.5: stride on the 3x3).

Batch-norm is folded into the preceding convolution, so every convolution has
a bias; torchvision's parameter counts exclude the frozen batch-norm buffers of
its detectors, so ours are higher by one bias per channel (about 0.1%).
"""

from __future__ import annotations

from sw.graph.builder import GraphBuilder
from sw.graph.ir import Graph, Part

__all__ = ["STAGES", "resnet_features", "resnet"]

# depth -> (block type, blocks per stage)
STAGES: dict[int, tuple[str, tuple[int, int, int, int]]] = {
    18: ("basic", (2, 2, 2, 2)),
    34: ("basic", (3, 4, 6, 3)),
    50: ("bottleneck", (3, 4, 6, 3)),
}
_WIDTHS = (64, 128, 256, 512)


def _basic(b: GraphBuilder, x: str, width: int, stride: int, name: str) -> str:
    y = b.conv(x, width, 3, stride, padding=1, act="relu", name=f"{name}.conv1")
    y = b.conv(y, width, 3, 1, padding=1, name=f"{name}.conv2")
    if stride != 1 or b.shape(x)[2] != width:
        x = b.conv(x, width, 1, stride, padding=0, name=f"{name}.downsample")
    return b.add(y, x, act="relu", name=f"{name}.add")


def _bottleneck(b: GraphBuilder, x: str, width: int, stride: int, name: str) -> str:
    y = b.conv(x, width, 1, 1, padding=0, act="relu", name=f"{name}.conv1")
    y = b.conv(y, width, 3, stride, padding=1, act="relu", name=f"{name}.conv2")
    y = b.conv(y, 4 * width, 1, 1, padding=0, name=f"{name}.conv3")
    if stride != 1 or b.shape(x)[2] != 4 * width:
        x = b.conv(x, 4 * width, 1, stride, padding=0, name=f"{name}.downsample")
    return b.add(y, x, act="relu", name=f"{name}.add")


def resnet_features(b: GraphBuilder, x: str, depth: int, prefix: str = "backbone") -> dict[str, str]:
    """Stem and four stages on ``x``; returns ``{"C2": ..., "C5": ...}`` (strides 4 to 32).

    Raises
    ------
    ValueError
        ``depth`` not in :data:`STAGES`.
    """
    if depth not in STAGES:
        raise ValueError(f"resnet depth: expected one of {sorted(STAGES)}, got {depth}")
    kind, counts = STAGES[depth]
    block = _basic if kind == "basic" else _bottleneck
    x = b.conv(x, 64, 7, 2, padding=3, act="relu", name=f"{prefix}.conv1")
    x = b.maxpool(x, 3, 2, padding=1, name=f"{prefix}.maxpool")
    levels = {}
    for stage, (width, count) in enumerate(zip(_WIDTHS, counts)):
        for i in range(count):
            stride = 2 if i == 0 and stage > 0 else 1
            x = block(b, x, width, stride, f"{prefix}.layer{stage + 1}.{i}")
        levels[f"C{stage + 2}"] = x
    return levels


def resnet(depth: int = 50, input_size: int = 224, num_classes: int = 1000) -> Graph:
    """ResNet-``depth`` ImageNet classifier (global pool + FC tagged ``head``)."""
    b = GraphBuilder(f"resnet{depth}")
    x = b.input("image", (input_size, input_size, 3))
    c5 = resnet_features(b, x, depth)["C5"]
    b.part = Part.HEAD
    y = b.global_avgpool(c5, name="head.avgpool")
    return b.build([b.fc(y, num_classes, name="head.fc")])
