"""YOLOX post-processing (grid decode, objectness x class scores, class-agnostic NMS), in float.

Raw output rows ``[x, y, log w, log h, obj, cls...]`` for the cells of the stride-8,
16 and 32 grids in row-major order (3,549 rows at 416x416). Decode:
``centre = (xy + cell) * stride``, ``size = exp(wh) * stride`` (pixels), score
``obj * cls`` (the ONNX export already applies the sigmoids), as in the YOLOX demo
post-processing.
"""

from __future__ import annotations

import numpy as np

from sw.detect.boxes import Detections, nms

__all__ = ["yolox_grid", "yolox_boxes", "decode_yolox"]

STRIDES = (8, 16, 32)


def yolox_grid(input_hw: tuple[int, int], strides: tuple[int, ...] = STRIDES) -> tuple[np.ndarray, np.ndarray]:
    """Cell offsets ``[N, 2]`` (x, y) and strides ``[N, 1]`` of all grid cells, stride by stride, row-major."""
    cells, cell_strides = [], []
    for stride in strides:
        h, w = input_hw[0] // stride, input_hw[1] // stride
        ys, xs = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
        cells.append(np.stack([xs.ravel(), ys.ravel()], axis=1))
        cell_strides.append(np.full((h * w, 1), stride))
    return np.concatenate(cells).astype(np.float64), np.concatenate(cell_strides).astype(np.float64)


def yolox_boxes(raw: np.ndarray, input_hw: tuple[int, int]) -> np.ndarray:
    """Every cell's box ``[N, 4]`` (x1 y1 x2 y2, input pixels) from raw rows ``[N, 5 + classes]`` (float64)."""
    cells, strides = yolox_grid(input_hw)
    if raw.shape[0] != cells.shape[0] or raw.shape[1] < 6:
        raise ValueError(f"yolox: expected [{cells.shape[0]}, 5 + classes] raw outputs, got {raw.shape}")
    centre = (raw[:, 0:2] + cells) * strides
    size = np.exp(np.clip(raw[:, 2:4], None, 30.0)) * strides
    return np.concatenate([centre - size / 2, centre + size / 2], axis=1)


def decode_yolox(
    raw: np.ndarray,
    input_hw: tuple[int, int] = (416, 416),
    *,
    score_threshold: float = 0.1,
    iou_threshold: float = 0.45,
) -> Detections:
    """Boxes in input pixels (x1 y1 x2 y2), scores and classes from the raw ``[1, N, 5 + classes]`` output."""
    raw = np.asarray(raw, dtype=np.float64)
    raw = raw.reshape(-1, raw.shape[-1])
    boxes = yolox_boxes(raw, input_hw)
    class_scores = raw[:, 4:5] * raw[:, 5:]
    classes = class_scores.argmax(axis=1)
    scores = class_scores[np.arange(classes.size), classes]
    valid = scores > score_threshold
    boxes, scores, classes = boxes[valid], scores[valid], classes[valid]
    keep = nms(boxes, scores, iou_threshold)
    return Detections(boxes[keep], scores[keep], classes[keep])
