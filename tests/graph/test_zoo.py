"""Zoo models against published figures and hand-derived formulas."""

from __future__ import annotations

from math import ceil

import pytest

from sw.graph import ZOO, Op, Part, load_model, load_zoo_model

PUBLISHED = [name for name, spec in ZOO.items() if spec.published is not None]
C3X3 = 9 * 256 * 256  # MACs per output pixel of a 3x3 256->256 conv


@pytest.mark.parametrize("name", PUBLISHED)
def test_published_macs_and_params(name):
    pub = ZOO[name].published
    totals = load_zoo_model(name, **pub.kwargs).totals()
    assert totals.macs / 1e9 == pytest.approx(pub.gmac, rel=pub.rel_tol)
    assert totals.params == pytest.approx(pub.params, rel=pub.rel_tol)


@pytest.mark.parametrize("name", list(ZOO))
def test_spec_input_size_and_parts(name):
    graph = load_model(name)
    assert graph.inputs == (("image", (*ZOO[name].input_size, 3)),)
    assert {l.w_bits for l in graph} == {l.a_bits for l in graph} == {4}
    if not name.startswith(("resnet", "mobilenet_v")):
        assert {l.part for l in graph} == set(Part)


def _retinanet_neck_head_macs(c3, c4, c5, sides, classes):
    """FPN laterals + outputs + P6/P7 and both subnets, from the architecture description."""
    s3, s4, s5, s6, s7 = sides
    laterals = 256 * (s3 * s3 * c3 + s4 * s4 * c4 + s5 * s5 * c5)
    outputs = C3X3 * (s3 * s3 + s4 * s4 + s5 * s5 + s6 * s6 + s7 * s7)  # P3-P5 outputs, P6, P7
    pixels = sum(s * s for s in sides)
    heads = pixels * (8 * C3X3 + 9 * 256 * 9 * (classes + 4))
    return laterals + outputs + heads


def _retinanet_neck_head_params(c3, c4, c5, classes):
    conv3 = C3X3 + 256
    fpn = 256 * (c3 + c4 + c5) + 3 * 256 + 5 * conv3
    heads = 8 * conv3 + 9 * 256 * 9 * (classes + 4) + 9 * (classes + 4)
    return fpn + heads


@pytest.mark.parametrize("depth, published_gmac, published_params, channels", [
    (18, 1.814, 11_689_512, (128, 256, 512)),
    (34, 3.664, 21_797_672, (128, 256, 512)),
    (50, 4.089, 25_557_032, (512, 1024, 2048)),
])
def test_retinanet_resnet_hand_derived(depth, published_gmac, published_params, channels):
    # 224 and 800 are multiples of 32, so every backbone map scales by exactly (800/224)^2.
    fc = channels[2] * 1000
    backbone = (published_gmac * 1e9 - fc) * (800 / 224) ** 2
    expected = backbone + _retinanet_neck_head_macs(*channels, (100, 50, 25, 13, 7), 80)
    graph = load_model(f"retinanet_r{depth}_fpn")
    assert graph.totals().macs == pytest.approx(expected, rel=0.01)
    params = published_params - fc - 1000 + _retinanet_neck_head_params(*channels, 80)
    assert graph.totals().params == pytest.approx(params, rel=0.01)


def _mbv2_backbone_macs(size):
    side = ceil(size / 2)
    macs, cin = side * side * 27 * 32, 32
    for t, c, n, s in ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2),
                       (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)):
        for i in range(n):
            hidden, before = cin * t, side
            side = ceil(side / 2) if i == 0 and s == 2 else side
            macs += (before * before * cin * hidden if t != 1 else 0) + side * side * hidden * (9 + c)
            cin = c
    return macs


def test_mobilenet_v2_formula_matches_torchvision_at_224():
    assert _mbv2_backbone_macs(224) + 320 * 1280 * 49 + 1280 * 1000 == pytest.approx(0.301e9, rel=0.01)


def test_retinanet_mbv2_hand_derived():
    expected = _mbv2_backbone_macs(600) + _retinanet_neck_head_macs(32, 96, 320, (75, 38, 19, 10, 5), 80)
    graph = load_model("retinanet_mbv2_fpn")
    assert graph.totals().macs == pytest.approx(expected, rel=0.001)
    assert graph.layer("fpn.upsample3").out_shape == (75, 75, 256)  # 38 -> 75: cropped nearest resize


def test_faster_rcnn_proposals_scale_box_head():
    per_roi = 7 * 7 * 256 * 1024 + 1024 * 1024 + 1024 * 81 * 5
    small = load_model("faster_rcnn_r50_fpn", proposals=100).totals()
    large = load_model("faster_rcnn_r50_fpn").totals()
    assert large.macs - small.macs == 900 * per_roi
    assert large.params == small.params
    graph = load_model("faster_rcnn_r50_fpn")
    roi = graph.layer("roi_align")
    assert (roi.op, roi.out_shape, roi.repeat, roi.macs) == (Op.ROI_ALIGN, (7, 7, 256), 1000, 0)


def test_faster_rcnn_input_size_parameter():
    graph = load_model("faster_rcnn_r50_fpn", input_size=512)
    assert graph.layer("fpn.output2").out_shape == (128, 128, 256)


def test_head_weights_shared_across_levels():
    graph = load_model("retinanet_r50_fpn")
    owners = [l for l in graph if l.part is Part.HEAD and l.shares_weights is None]
    assert len(owners) == 10  # 2 subnets x (4 convs + predictor), stored once


def test_yolo_tiny_pool_keeps_13():
    assert load_model("yolov3_tiny_416").layer("backbone.pool5").out_shape == (13, 13, 512)


def test_unknown_zoo_name_lists_known():
    with pytest.raises(ValueError, match="unknown zoo model 'yolov9'.*retinanet_r50_fpn"):
        load_zoo_model("yolov9")
    with pytest.raises(ValueError, match="zoo model 'yolov3_416'.*unexpected keyword"):
        load_zoo_model("yolov3_416", proposals=3)
