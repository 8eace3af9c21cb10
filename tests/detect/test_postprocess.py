"""Detector post-processing against hand-derived values and transcribed reference loops."""

from __future__ import annotations

import numpy as np
import pytest

from sw.detect.blazeface import BACK, SHORT_RANGE, decode_blazeface, ssd_anchors
from sw.detect.boxes import Detections, iou_matrix, match_detections, nms
from sw.detect.yolox import decode_yolox, yolox_grid


def mediapipe_anchors(input_size, strides):
    """MediaPipe ssd_anchors_calculator loop (fixed anchor size, interpolated ratio 1), transcribed."""
    anchors, layer_id = [], 0
    while layer_id < len(strides):
        last, repeats = layer_id, 0
        while last < len(strides) and strides[last] == strides[layer_id]:
            last += 1
            repeats += 2
        fm = input_size // strides[layer_id]
        for y in range(fm):
            for x in range(fm):
                anchors.extend([((x + 0.5) / fm, (y + 0.5) / fm)] * repeats)
        layer_id = last
    return np.array(anchors)


@pytest.mark.parametrize("options", [SHORT_RANGE, BACK])
def test_anchor_layout(options):
    a = ssd_anchors(options)
    # 16x16 cells x 2 + 8x8 cells x 6 = 896 for both models.
    assert a.shape == (896, 2)
    np.testing.assert_allclose(a, mediapipe_anchors(options.input_size, options.strides))
    np.testing.assert_allclose(a[0], [0.5 / 16, 0.5 / 16])
    np.testing.assert_allclose(a[2], [1.5 / 16, 0.5 / 16])


def test_blazeface_decode_hand_case():
    raw = np.zeros((896, 16))
    scores = np.full(896, -10.0)
    # Anchor 2 sits at (1.5/16, 0.5/16); offset by (12.8, 0) px = 0.1 and size 25.6 px = 0.2.
    raw[2, :4] = [12.8, 0.0, 25.6, 25.6]
    scores[2] = 2.0
    det = decode_blazeface(raw, scores, SHORT_RANGE)
    assert len(det) == 1
    cx, cy = 1.5 / 16 + 0.1, 0.5 / 16
    np.testing.assert_allclose(det.boxes[0], [cx - 0.1, cy - 0.1, cx + 0.1, cy + 0.1])
    assert det.scores[0] == pytest.approx(1 / (1 + np.exp(-2.0)))


def test_iou_and_nms_hand_case():
    boxes = np.array([[0, 0, 10, 10], [1, 0, 11, 10], [20, 20, 30, 30], [0, 0, 10, 5]], dtype=float)
    iou = iou_matrix(boxes, boxes)
    assert iou[0, 1] == pytest.approx(90 / 110)
    assert iou[0, 3] == pytest.approx(0.5)
    assert iou[0, 2] == 0.0
    scores = np.array([0.9, 0.95, 0.5, 0.8])
    # Box 1 first; box 0 overlaps it by 0.818 -> dropped; box 3 overlaps box 1 by 45/105 < 0.5 -> kept.
    assert nms(boxes, scores, 0.5).tolist() == [1, 3, 2]
    assert nms(boxes, scores, 0.4).tolist() == [1, 2]


def test_yolox_grid_and_decode():
    cells, strides = yolox_grid((416, 416))
    assert cells.shape == (52 * 52 + 26 * 26 + 13 * 13, 2)
    assert cells[1].tolist() == [1, 0] and cells[52].tolist() == [0, 1] and strides[52 * 52, 0] == 16
    raw = np.zeros((1, cells.shape[0], 6))
    row = 52 * 52 + 26 * 3 + 5  # stride-16 grid, cell (x=5, y=3)
    raw[0, row] = [0.5, 0.25, np.log(2.0), 0.0, 0.8, 0.5]
    det = decode_yolox(raw)
    assert len(det) == 1
    cx, cy, w, h = (5.5) * 16, (3.25) * 16, 32.0, 16.0
    np.testing.assert_allclose(det.boxes[0], [cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2])
    assert det.scores[0] == pytest.approx(0.4)


def test_match_detections_counts():
    ref = Detections(np.array([[0, 0, 10, 10], [20, 20, 30, 30]], float), np.array([0.9, 0.8]), np.array([0, 0]))
    test = Detections(np.array([[1, 0, 11, 10], [50, 50, 60, 60], [20, 20, 30, 30]], float), np.array([0.85, 0.6, 0.8]), np.array([0, 0, 1]))
    agreement = match_detections(ref, test)
    # Only box 0 matches (the identical box 2 has another class): one lost, two gained.
    assert (agreement.matched, agreement.lost, agreement.gained) == (1, 1, 2)
    assert agreement.mean_iou == pytest.approx(90 / 110)
    assert agreement.mean_abs_score_diff == pytest.approx(0.05)


def test_bad_shapes():
    with pytest.raises(ValueError, match=r"expected boxes of shape \[N, 4\]"):
        iou_matrix(np.zeros((2, 3)), np.zeros((1, 4)))
    with pytest.raises(ValueError, match="blazeface: expected 896 anchors' outputs"):
        decode_blazeface(np.zeros((10, 16)), np.zeros(10))
    with pytest.raises(ValueError, match=r"yolox: expected \[3549, 5 \+ classes\]"):
        decode_yolox(np.zeros((1, 100, 6)))
