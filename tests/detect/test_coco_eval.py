"""COCO scoring through the evaluation pipeline on hand-made datasets with known boxes.

A stand-in backend returns raw YOLOX outputs that encode chosen boxes (one grid
cell each), so preprocessing, decoding, class mapping and pycocotools scoring
all run for real; the expected mAP values are derived by hand from IoU arithmetic.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("pycocotools")

from sw.data.synth.coco import CocoWriter, load_coco  # noqa: E402
from sw.detect.coco_eval import coco_metrics, detections_to_coco  # noqa: E402
from sw.detect.evaluate import Detector, evaluate  # noqa: E402
from sw.detect.families import FAMILIES  # noqa: E402

STRIDE = 32
GRID_START = (416 // 8) ** 2 + (416 // 16) ** 2  # first row of the stride-32 level
# Two images, boxes (x1, y1, x2, y2) in distinct stride-32 cells.
BOXES = {1: [(40.0, 50.0, 140.0, 150.0), (250.0, 260.0, 330.0, 300.0)], 2: [(100.0, 200.0, 180.0, 380.0)]}


def make_dataset(root: Path) -> None:
    writer = CocoWriter(root, ("char",), {"test": "hand-made"})
    for image_id, boxes in BOXES.items():
        image = np.full((416, 416, 3), image_id, dtype=np.uint8)  # the pixel value tells the backend the image
        writer.add(image, np.asarray(boxes), [0] * len(boxes))
    writer.finish()


def yolox_raw(boxes: list[tuple[float, float, float, float]]) -> np.ndarray:
    """Raw YOLOX rows that decode to ``boxes`` with score 1."""
    raw = np.zeros((1, 3549, 6))
    for x1, y1, x2, y2 in boxes:
        cx, cy = (x1 + x2) / 2 / STRIDE, (y1 + y2) / 2 / STRIDE
        row = GRID_START + int(cy) * (416 // STRIDE) + int(cx)
        raw[0, row] = [cx - int(cx), cy - int(cy), np.log((x2 - x1) / STRIDE), np.log((y2 - y1) / STRIDE), 1.0, 1.0]
    return raw


def detector() -> Detector:
    return Detector(path=Path("hand-made"), model=None, family=FAMILIES["yolox"], input_name="images",
                    input_hw=(416, 416), class_names=("char",))


def backend_for(predictions: dict[int, list]):
    def run(x: np.ndarray) -> list[np.ndarray]:
        image_id = int(round(float(x[0, 0, 0, 0])))  # BGR 0..255, top-left pixel
        return [yolox_raw(predictions[image_id])]

    return run


def test_predictions_equal_to_ground_truth_score_one(tmp_path):
    make_dataset(tmp_path)
    ds = load_coco(tmp_path)
    result = evaluate(detector(), ds, {"exact": backend_for(BOXES)})
    m = result.metrics["exact"]
    assert (m.map, m.map50, m.map75) == pytest.approx((1.0, 1.0, 1.0), abs=1e-12)
    assert m.per_class == pytest.approx({"char": 1.0}, abs=1e-12) and m.detections == 3


def test_shifted_box_scored_as_iou_thresholds_dictate(tmp_path):
    box = (40.0, 50.0, 140.0, 150.0)  # one 100x100 ground-truth box, one prediction shifted right
    writer = CocoWriter(tmp_path, ("char",), {})
    writer.add(np.full((416, 416, 3), 1, dtype=np.uint8), np.asarray([box]), [0])
    writer.finish()
    shift = 10.0
    m = evaluate(detector(), load_coco(tmp_path), {"shifted": backend_for({1: [(box[0] + shift, box[1], box[2] + shift, box[3])]})}).metrics["shifted"]
    # IoU by hand: 90 x 100 overlap, union 2 * 100 * 100 - overlap.
    inter = (box[2] - box[0] - shift) * (box[3] - box[1])
    iou = inter / (2 * (box[2] - box[0]) * (box[3] - box[1]) - inter)
    assert iou == pytest.approx(9000 / 11000)
    # One box, one detection: AP is 1 at every IoU threshold t <= IoU (a match), else 0.
    thresholds = 0.5 + 0.05 * np.arange(10)
    expected = float(np.mean(iou >= thresholds))
    assert expected == pytest.approx(0.7)
    assert m.map == pytest.approx(expected, abs=1e-12)
    assert m.map50 == pytest.approx(1.0, abs=1e-12) and m.map75 == pytest.approx(1.0, abs=1e-12)


def test_coco_metrics_per_class_and_missing_fields(tmp_path):
    doc = {"images": [{"id": 7, "file_name": "a.png", "width": 100, "height": 100}],
           "annotations": [{"id": 1, "image_id": 7, "category_id": 3, "bbox": [10, 10, 30, 40]},
                           {"id": 2, "image_id": 7, "category_id": 5, "bbox": [50, 50, 20, 20]}],
           "categories": [{"id": 3, "name": "cat"}, {"id": 5, "name": "dog"}]}
    (tmp_path / "annotations.json").write_text(json.dumps(doc))  # no area / iscrowd: filled in for pycocotools
    ds = load_coco(tmp_path)
    results = detections_to_coco(7, np.array([[10, 10, 40, 50], [0, 0, 5, 5]]), np.array([0.9, 0.8]), np.array([3, 5]))
    m = coco_metrics(ds, results)
    assert m.per_class == pytest.approx({"cat": 1.0, "dog": 0.0}, abs=1e-12)
    assert m.map == pytest.approx(0.5) and m.map50 == pytest.approx(0.5)


@pytest.mark.parametrize("content, match", [
    (None, "annotations.json: missing"),
    ("{not json", "malformed JSON"),
    ('{"images": [], "annotations": [], "categories": []}', "'images': empty"),
    ('{"images": [{"id": 1}], "annotations": [], "categories": [{"id": 1, "name": "a"}]}', r"images\[0\]"),
])
def test_bad_datasets(content, match, tmp_path):
    if content is not None:
        (tmp_path / "annotations.json").write_text(content)
    with pytest.raises(ValueError, match=match):
        load_coco(tmp_path)
