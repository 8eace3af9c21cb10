"""Axis-aligned boxes ``(x1, y1, x2, y2)``: IoU, greedy non-maximum suppression, and matching.

Coordinates are in any consistent unit (pixels or fractions of the input);
area is ``max(0, x2 - x1) * max(0, y2 - y1)`` (continuous convention, no +1).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["iou_matrix", "nms", "Detections", "Agreement", "match_detections"]


def _check_boxes(name: str, boxes: np.ndarray) -> np.ndarray:
    boxes = np.asarray(boxes, dtype=np.float64)
    if boxes.ndim != 2 or boxes.shape[1] != 4:
        raise ValueError(f"{name}: expected boxes of shape [N, 4] (x1, y1, x2, y2), got {boxes.shape}")
    return boxes


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Intersection over union of every box in ``a`` ``[N, 4]`` with every box in ``b`` ``[M, 4]``."""
    a = _check_boxes("a", a)
    b = _check_boxes("b", b)
    ix1 = np.maximum(a[:, None, 0], b[None, :, 0])
    iy1 = np.maximum(a[:, None, 1], b[None, :, 1])
    ix2 = np.minimum(a[:, None, 2], b[None, :, 2])
    iy2 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(ix2 - ix1, 0, None) * np.clip(iy2 - iy1, 0, None)
    area_a = np.clip(a[:, 2] - a[:, 0], 0, None) * np.clip(a[:, 3] - a[:, 1], 0, None)
    area_b = np.clip(b[:, 2] - b[:, 0], 0, None) * np.clip(b[:, 3] - b[:, 1], 0, None)
    union = area_a[:, None] + area_b[None, :] - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def nms(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float) -> np.ndarray:
    """Greedy NMS: indices of kept boxes, highest score first.

    A box is dropped when its IoU with an already kept box exceeds ``iou_threshold``.
    Ties in score keep the lower index first (stable sort).
    """
    boxes = _check_boxes("boxes", boxes)
    scores = np.asarray(scores, dtype=np.float64)
    if scores.shape != (boxes.shape[0],):
        raise ValueError(f"scores: expected shape ({boxes.shape[0]},), got {scores.shape}")
    order = np.argsort(-scores, kind="stable")
    keep: list[int] = []
    while order.size:
        i = int(order[0])
        keep.append(i)
        if order.size == 1:
            break
        overlap = iou_matrix(boxes[i : i + 1], boxes[order[1:]])[0]
        order = order[1:][overlap <= iou_threshold]
    return np.asarray(keep, dtype=np.int64)


@dataclass(frozen=True)
class Detections:
    """Detections after post-processing: boxes ``[N, 4]`` (x1, y1, x2, y2), scores ``[N]``, classes ``[N]``."""

    boxes: np.ndarray
    scores: np.ndarray
    classes: np.ndarray

    def __post_init__(self) -> None:
        boxes = _check_boxes("boxes", self.boxes)
        n = boxes.shape[0]
        scores = np.asarray(self.scores, dtype=np.float64)
        classes = np.asarray(self.classes, dtype=np.int64)
        if scores.shape != (n,) or classes.shape != (n,):
            raise ValueError(f"detections: expected {n} scores and classes, got {scores.shape} and {classes.shape}")
        for name, value in (("boxes", boxes), ("scores", scores), ("classes", classes)):
            value.setflags(write=False)
            object.__setattr__(self, name, value)

    def __len__(self) -> int:
        return int(self.boxes.shape[0])


@dataclass(frozen=True)
class Agreement:
    """How well ``test`` detections reproduce ``reference`` detections.

    Attributes
    ----------
    matched
        Pairs matched greedily by IoU (>= the threshold, same class), best IoU first.
    mean_iou
        Mean IoU of the matched pairs (nan if none).
    mean_abs_score_diff
        Mean |score_test - score_ref| over matched pairs (nan if none).
    lost, gained
        Reference detections without a match, and test detections without a match.
    """

    matched: int
    mean_iou: float
    mean_abs_score_diff: float
    lost: int
    gained: int


def match_detections(reference: Detections, test: Detections, iou_threshold: float = 0.5) -> Agreement:
    """Greedy one-to-one matching of ``test`` to ``reference`` by IoU within each class."""
    iou = iou_matrix(reference.boxes, test.boxes)
    iou[reference.classes[:, None] != test.classes[None, :]] = 0.0
    pairs: list[tuple[int, int]] = []
    used_r: set[int] = set()
    used_t: set[int] = set()
    for flat in np.argsort(-iou, axis=None, kind="stable"):
        r, t = np.unravel_index(flat, iou.shape)
        if iou[r, t] < iou_threshold:
            break
        if r in used_r or t in used_t:
            continue
        pairs.append((int(r), int(t)))
        used_r.add(int(r))
        used_t.add(int(t))
    ious = [iou[r, t] for r, t in pairs]
    diffs = [abs(test.scores[t] - reference.scores[r]) for r, t in pairs]
    return Agreement(
        matched=len(pairs),
        mean_iou=float(np.mean(ious)) if pairs else float("nan"),
        mean_abs_score_diff=float(np.mean(diffs)) if pairs else float("nan"),
        lost=len(reference) - len(pairs),
        gained=len(test) - len(pairs),
    )
