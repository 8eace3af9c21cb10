"""PP-PicoDet post-processing (GFL / DFL box distributions, per-class NMS), in float.

Follows rapid-layout 1.2.1's ``PPPostProcess`` (PaddleDetection's PicoDet ONNX
export without NMS): the model has one score tensor ``[1, N_l, C]`` (sigmoid
already applied) and one box-distribution tensor ``[1, N_l, 4 * (R + 1)]`` per
level ``l`` of strides 8, 16, 32, 64 (cells ``ceil(H / s) x ceil(W / s)``,
row-major), scores first. Decode per level: cell centre ``((x + 0.5) s, (y + 0.5) s)``;
each side's distance is the expectation ``sum_k k * softmax(logits)_k`` over
``R + 1`` bins, times the stride; box ``centre -+ (left, top, right, bottom)``.
The 1,000 best cells per level (by best class score) are kept, then per class:
score > threshold, the 200 best candidates, greedy NMS, at most 100 boxes; kept
boxes are clipped to the input.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from sw.detect.boxes import Detections, nms

__all__ = ["PICODET_STRIDES", "picodet_centres", "picodet_boxes", "decode_picodet"]

PICODET_STRIDES = (8, 16, 32, 64)
NMS_TOP_K = 1000
CANDIDATES = 200
KEEP_TOP_K = 100


def picodet_centres(input_hw: tuple[int, int], stride: int) -> np.ndarray:
    """Cell centres ``[N, 2]`` (x, y) in input pixels of one level, row-major."""
    h, w = -(-input_hw[0] // stride), -(-input_hw[1] // stride)
    ys, xs = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
    return (np.stack([xs.ravel(), ys.ravel()], axis=1) + 0.5) * stride


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def picodet_boxes(centres: np.ndarray, dist: np.ndarray, stride: int) -> np.ndarray:
    """Every cell's box ``[N, 4]`` (x1 y1 x2 y2, input pixels) of one level from its centres ``[N, 2]`` and
    distribution logits ``[N, 4 (R + 1)]``: each side the expected bin over ``R + 1`` bins, times the stride."""
    bins = dist.shape[-1] // 4
    distance = (_softmax(dist.reshape(-1, 4, bins)) * np.arange(bins)).sum(axis=-1) * stride  # [N, 4]
    return np.concatenate([centres - distance[:, :2], centres + distance[:, 2:]], axis=1)


def decode_picodet(
    scores: Sequence[np.ndarray],
    distributions: Sequence[np.ndarray],
    input_hw: tuple[int, int] = (800, 608),
    *,
    score_threshold: float = 0.5,
    iou_threshold: float = 0.5,
    strides: tuple[int, ...] = PICODET_STRIDES,
) -> Detections:
    """Boxes in input pixels (x1 y1 x2 y2), scores and 0-based classes from the per-level raw outputs.

    Parameters
    ----------
    scores, distributions
        Per level (stride order): ``[1, N_l, C]`` class scores and ``[1, N_l, 4 (R + 1)]`` logits.
    input_hw
        Model input height and width (pixels).
    """
    if len(scores) != len(strides) or len(distributions) != len(strides):
        raise ValueError(f"picodet: expected {len(strides)} score and distribution tensors, got {len(scores)} and {len(distributions)}")
    all_boxes, all_scores = [], []
    for stride, score, dist in zip(strides, scores, distributions):
        score = np.asarray(score, dtype=np.float64).reshape(-1, np.shape(score)[-1])
        dist = np.asarray(dist, dtype=np.float64)
        centres = picodet_centres(input_hw, stride)
        if score.shape[0] != centres.shape[0] or dist.shape[-1] % 4:
            raise ValueError(f"picodet: stride {stride}: expected {centres.shape[0]} cells and 4 (R + 1) bins, "
                             f"got scores {score.shape} and distributions {dist.shape}")
        top = np.argsort(-score.max(axis=1), kind="stable")[:NMS_TOP_K]
        all_boxes.append(picodet_boxes(centres[top], dist.reshape(-1, dist.shape[-1])[top], stride))
        all_scores.append(score[top])
    boxes = np.concatenate(all_boxes)
    class_scores = np.concatenate(all_scores)
    out_boxes, out_scores, out_classes = [], [], []
    for cls in range(class_scores.shape[1]):
        probs = class_scores[:, cls]
        idx = np.flatnonzero(probs > score_threshold)
        if not idx.size:
            continue
        idx = idx[np.argsort(-probs[idx], kind="stable")[:CANDIDATES]]
        keep = idx[nms(boxes[idx], probs[idx], iou_threshold)[:KEEP_TOP_K]]
        out_boxes.append(boxes[keep])
        out_scores.append(probs[keep])
        out_classes.append(np.full(keep.size, cls, dtype=np.int64))
    if not out_boxes:
        return Detections(np.zeros((0, 4)), np.zeros(0), np.zeros(0, dtype=np.int64))
    kept = np.concatenate(out_boxes)  # clipped to the input after NMS, as rapid-layout does
    kept[:, [0, 2]] = kept[:, [0, 2]].clip(0, input_hw[1])
    kept[:, [1, 3]] = kept[:, [1, 3]].clip(0, input_hw[0])
    return Detections(kept, np.concatenate(out_scores), np.concatenate(out_classes))
