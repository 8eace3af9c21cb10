"""COCO box mAP with pycocotools (the reference implementation; ``pip install 'hwsim[eval]'``).

:func:`coco_metrics` scores detections against a :class:`~sw.data.synth.coco.CocoDataset`
with ``COCOeval`` (``iouType="bbox"``, the standard 10 IoU thresholds 0.50:0.05:0.95,
101 recall points, at most 100 detections per image) and reads:

* ``map`` (AP at IoU 0.50:0.95), ``map50``, ``map75``: ``COCOeval.stats[0:3]``;
* per-class AP: the mean of the precision array ``[T, R, k, area=all, maxDets=100]``
  over valid entries (> -1), as ``COCOeval.summarize`` computes the overall value.

Categories without ground truth get no per-class AP (pycocotools marks them -1).
"""

from __future__ import annotations

import contextlib
import copy
import io
from dataclasses import dataclass

import numpy as np

from sw.extras import require
from sw.data.synth.coco import CocoDataset

__all__ = ["CocoMetrics", "coco_metrics", "detections_to_coco"]


@dataclass(frozen=True)
class CocoMetrics:
    """COCO box metrics (fractions in [0, 1]); ``per_class`` maps category name -> AP@[.5:.95]."""

    map: float
    map50: float
    map75: float
    per_class: dict[str, float]
    images: int
    detections: int

    def as_dict(self) -> dict:
        return {"map": self.map, "map50": self.map50, "map75": self.map75, "per_class": dict(self.per_class),
                "images": self.images, "detections": self.detections}


def _pycocotools():
    feature = "COCO evaluation (hwsim eval)"
    return (require("pycocotools.coco", "eval", feature).COCO,
            require("pycocotools.cocoeval", "eval", feature).COCOeval)


def detections_to_coco(image_id: int, boxes: np.ndarray, scores: np.ndarray, category_ids: np.ndarray) -> list[dict]:
    """COCO result records (``bbox`` as x, y, w, h) of one image's detections in image pixels."""
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    return [{"image_id": int(image_id), "category_id": int(c), "score": float(s),
             "bbox": [float(b[0]), float(b[1]), float(b[2] - b[0]), float(b[3] - b[1])]}
            for b, s, c in zip(boxes, scores, category_ids)]


def coco_metrics(dataset: CocoDataset, results: list[dict]) -> CocoMetrics:
    """Score ``results`` (records from :func:`detections_to_coco`) on ``dataset`` with pycocotools."""
    COCO, COCOeval = _pycocotools()
    doc = copy.deepcopy(dataset.doc)
    for ann in doc["annotations"]:  # fields a user's file may omit
        ann.setdefault("iscrowd", 0)
        ann.setdefault("area", float(ann["bbox"][2]) * float(ann["bbox"][3]))
    n_images = len(doc["images"])
    names = {int(c["id"]): str(c["name"]) for c in doc["categories"]}
    if not results:
        return CocoMetrics(0.0, 0.0, 0.0, {}, n_images, 0)
    with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints progress
        gt = COCO()
        gt.dataset = doc
        gt.createIndex()
        dt = gt.loadRes(copy.deepcopy(results))
        ev = COCOeval(gt, dt, iouType="bbox")
        ev.params.imgIds = sorted(int(r["id"]) for r in doc["images"])
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    precision = ev.eval["precision"]  # [T, R, K, A, M]
    per_class = {}
    for k, cat_id in enumerate(ev.params.catIds):
        p = precision[:, :, k, 0, -1]
        valid = p[p > -1]
        if valid.size:
            per_class[names[int(cat_id)]] = float(valid.mean())
    stats = [max(0.0, float(v)) for v in ev.stats[:3]]
    return CocoMetrics(stats[0], stats[1], stats[2], per_class, n_images, len(results))
