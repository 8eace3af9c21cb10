"""Built-in model zoo: detectors (and their ImageNet backbones) built in code, no downloads.

``ZOO`` maps a name to a :class:`ModelSpec`; :func:`load_zoo_model` builds one.
Published MAC / parameter figures and the builder arguments they were measured
with are in each spec; ``docs/zoo.md`` explains the modelling choices.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from types import MappingProxyType

from sw.graph.ir import Graph
from sw.graph.zoo.faster_rcnn import faster_rcnn_resnet50_fpn
from sw.graph.zoo.mobilenet import mobilenet_v1, mobilenet_v2
from sw.graph.zoo.resnet import resnet
from sw.graph.zoo.retinanet import retinanet_mobilenet_v2_fpn, retinanet_resnet_fpn
from sw.graph.zoo.ssd import mobilenet_ssd
from sw.graph.zoo.yolo import yolov3, yolov3_tiny

__all__ = ["Published", "ModelSpec", "ZOO", "load_zoo_model"]


@dataclass(frozen=True)
class Published:
    """A published cost figure and how to reproduce the configuration it was measured on.

    Parameters
    ----------
    gmac
        Multiply-accumulates per inference, in units of 1e9 MACs.
    params
        Parameter count.
    source
        Where the figures come from.
    kwargs
        Builder arguments matching the published configuration.
    rel_tol
        Relative tolerance a build must meet: 1%, or the rounding interval of
        a figure published with fewer digits.
    """

    gmac: float
    params: float
    source: str
    kwargs: Mapping[str, object] = field(default_factory=dict)
    rel_tol: float = 0.01


@dataclass(frozen=True)
class ModelSpec:
    """A zoo entry: builder, default input size, description, published figure (or None)."""

    name: str
    build: Callable[..., Graph]
    input_size: tuple[int, int]
    description: str
    published: Published | None = None


_TV = "torchvision {} weights meta (_ops = GMAC, num_params)"
_SPECS = (
    ModelSpec("retinanet_r18_fpn", partial(retinanet_resnet_fpn, 18), (800, 800),
              "RetinaNet, ResNet-18 + FPN P3-P7, 9 anchors, 80 classes"),
    ModelSpec("retinanet_r34_fpn", partial(retinanet_resnet_fpn, 34), (800, 800),
              "RetinaNet, ResNet-34 + FPN P3-P7, 9 anchors, 80 classes"),
    ModelSpec("retinanet_r50_fpn", partial(retinanet_resnet_fpn, 50), (800, 800),
              "RetinaNet, ResNet-50 + FPN P3-P7, 9 anchors, 80 classes",
              Published(151.54, 34_014_999, _TV.format("RetinaNet_ResNet50_FPN_Weights.COCO_V1"),
                        {"num_classes": 91})),
    ModelSpec("retinanet_mbv2_fpn", retinanet_mobilenet_v2_fpn, (600, 600),
              "RetinaNet, MobileNetV2 + FPN P3-P7, 9 anchors, 80 classes"),
    ModelSpec("faster_rcnn_r50_fpn", faster_rcnn_resnet50_fpn, (800, 800),
              "Faster R-CNN, ResNet-50 + FPN, RPN, RoIAlign 7x7, 2x1024 FC, 1000 proposals",
              Published(134.38, 41_755_286, _TV.format("FasterRCNN_ResNet50_FPN_Weights.COCO_V1"),
                        {"num_classes": 91})),
    ModelSpec("yolov3_416", yolov3, (416, 416), "YOLOv3, Darknet-53, 3 scales, 80 classes",
              Published(65.86 / 2, 61.9e6, "darknet: 65.86 BFLOPs (2 FLOPs per MAC); 61.9 M parameters")),
    ModelSpec("yolov3_tiny_416", yolov3_tiny, (416, 416), "YOLOv3-tiny, 2 scales, 80 classes",
              Published(5.56 / 2, 8.86e6, "darknet: 5.56 BFLOPs (2 FLOPs per MAC); 8.86 M parameters")),
    ModelSpec("mobilenet_ssd_300", mobilenet_ssd, (300, 300),
              "SSD300, MobileNet v1 (TF OD API ssd_mobilenet_v1), 6 maps, 80 classes + background",
              Published(1.2, 6.8e6, "MobileNet paper (Howard et al. 2017) Table 13: ~1.2 G mult-adds, 6.8 M",
                        {"num_classes": 91}, rel_tol=0.05 / 1.2)),
    ModelSpec("resnet18", partial(resnet, 18), (224, 224), "ResNet-18 ImageNet classifier",
              Published(1.814, 11_689_512, _TV.format("ResNet18_Weights.IMAGENET1K_V1"))),
    ModelSpec("resnet34", partial(resnet, 34), (224, 224), "ResNet-34 ImageNet classifier",
              Published(3.664, 21_797_672, _TV.format("ResNet34_Weights.IMAGENET1K_V1"))),
    ModelSpec("resnet50", partial(resnet, 50), (224, 224), "ResNet-50 ImageNet classifier",
              Published(4.089, 25_557_032, _TV.format("ResNet50_Weights.IMAGENET1K_V1"))),
    ModelSpec("mobilenet_v1", mobilenet_v1, (224, 224), "MobileNet v1 1.0 ImageNet classifier",
              Published(0.569, 4.2e6, "MobileNet paper Table 8: 569 M mult-adds, 4.2 M parameters")),
    ModelSpec("mobilenet_v2", mobilenet_v2, (224, 224), "MobileNet v2 1.0 ImageNet classifier",
              Published(0.301, 3_504_872, _TV.format("MobileNet_V2_Weights.IMAGENET1K_V1"))),
)

ZOO: Mapping[str, ModelSpec] = MappingProxyType({spec.name: spec for spec in _SPECS})


def load_zoo_model(name: str, **kwargs: object) -> Graph:
    """Build zoo model ``name``; ``kwargs`` go to its builder (``input_size``, ``num_classes``, ...).

    Raises
    ------
    ValueError
        Unknown name (the message lists the known names) or bad builder arguments.
    """
    spec = ZOO.get(name)
    if spec is None:
        raise ValueError(f"unknown zoo model '{name}'; known: {', '.join(ZOO)}")
    try:
        return spec.build(**kwargs)
    except TypeError as exc:
        raise ValueError(f"zoo model '{name}': {exc}") from None
