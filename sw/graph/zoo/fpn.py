"""Feature Pyramid Network (Lin et al. 2017) as torchvision's ``FeaturePyramidNetwork``.

1x1 lateral convolutions to ``width`` channels, top-down nearest upsampling
(resized to the lateral's size, so odd sizes crop) added to each lateral, then a
3x3 output convolution per level. All layers are tagged ``neck``.
"""

from __future__ import annotations

from sw.graph.builder import GraphBuilder
from sw.graph.ir import Part

__all__ = ["fpn"]


def fpn(b: GraphBuilder, levels: dict[str, str], width: int = 256, prefix: str = "fpn") -> dict[str, str]:
    """Build an FPN over ``{"C3": tensor, ...}``; returns ``{"P3": tensor, ...}``.

    Levels are processed from the coarsest (highest number) down.
    """
    b.part = Part.NECK
    names = sorted(levels, key=lambda k: int(k[1:]), reverse=True)
    outputs: dict[str, str] = {}
    top = None
    for key in names:
        level = key[1:]
        lateral = b.conv(levels[key], width, 1, 1, padding=0, name=f"{prefix}.lateral{level}")
        if top is not None:
            h, w, _ = b.shape(lateral)
            up = b.upsample(top, 2, size=(h, w), name=f"{prefix}.upsample{level}")
            lateral = b.add(lateral, up, name=f"{prefix}.merge{level}")
        top = lateral
        outputs[f"P{level}"] = b.conv(lateral, width, 3, 1, padding=1, name=f"{prefix}.output{level}")
    return outputs
