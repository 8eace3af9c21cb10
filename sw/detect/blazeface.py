"""BlazeFace post-processing (MediaPipe SSD anchors, box decode, sigmoid scores, NMS), in float.

Follows MediaPipe's ``ssd_anchors_calculator`` and ``tflite_tensors_to_detections_calculator``
as used for the face-detection models: anchors of fixed size 1 at cell centres
``((x + 0.5) / W_f, (y + 0.5) / H_f)``, two anchors per cell and per layer sharing a
stride (``interpolated_scale_aspect_ratio = 1``). Raw regressors ``[896, 16]`` hold
``(dx, dy, w, h)`` then six key points, in input pixels; they are divided by the input
size and offset by the anchor centre. Scores are ``sigmoid(clip(raw, -80, 80))``.
Suppression here is plain greedy NMS (MediaPipe blends overlapping boxes: "weighted"
NMS); it is applied identically to float and integer outputs, so their comparison is fair.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sw.detect.boxes import Detections, nms

__all__ = ["AnchorOptions", "SHORT_RANGE", "BACK", "ssd_anchors", "decode_blazeface"]

RAW_SCORE_LIMIT = 80.0


@dataclass(frozen=True)
class AnchorOptions:
    """SSD anchor layout: input size (pixels) and the stride (pixels) of each anchor layer."""

    input_size: int
    strides: tuple[int, ...]


#: face_detection_short_range / front: 128x128 input, 896 anchors.
SHORT_RANGE = AnchorOptions(128, (8, 16, 16, 16))
#: face_detection_back: 256x256 input, 896 anchors.
BACK = AnchorOptions(256, (16, 32, 32, 32))


def ssd_anchors(options: AnchorOptions) -> np.ndarray:
    """Anchor centres ``[N, 2]`` (x, y) as fractions of the input size."""
    anchors: list[np.ndarray] = []
    strides = options.strides
    layer = 0
    while layer < len(strides):
        stride = strides[layer]
        repeats = 0
        while layer < len(strides) and strides[layer] == stride:
            repeats += 2
            layer += 1
        cells = options.input_size // stride
        centres = (np.arange(cells) + 0.5) / cells
        ys, xs = np.meshgrid(centres, centres, indexing="ij")
        grid = np.stack([xs.ravel(), ys.ravel()], axis=1)
        anchors.append(np.repeat(grid, repeats, axis=0))
    return np.concatenate(anchors)


def decode_blazeface(
    raw_boxes: np.ndarray,
    raw_scores: np.ndarray,
    options: AnchorOptions = SHORT_RANGE,
    *,
    score_threshold: float = 0.5,
    iou_threshold: float = 0.3,
) -> Detections:
    """Face boxes (fractions of the input, x1 y1 x2 y2) and scores from the two raw output tensors."""
    anchors = ssd_anchors(options)
    raw_boxes = np.asarray(raw_boxes, dtype=np.float64).reshape(-1, 16)
    raw_scores = np.asarray(raw_scores, dtype=np.float64).reshape(-1)
    if raw_boxes.shape[0] != anchors.shape[0] or raw_scores.shape[0] != anchors.shape[0]:
        raise ValueError(
            f"blazeface: expected {anchors.shape[0]} anchors' outputs, got {raw_boxes.shape[0]} boxes and {raw_scores.shape[0]} scores"
        )
    centre = raw_boxes[:, 0:2] / options.input_size + anchors
    size = raw_boxes[:, 2:4] / options.input_size
    boxes = np.concatenate([centre - size / 2, centre + size / 2], axis=1)
    scores = 1.0 / (1.0 + np.exp(-np.clip(raw_scores, -RAW_SCORE_LIMIT, RAW_SCORE_LIMIT)))
    valid = (scores > score_threshold) & (size[:, 0] > 0) & (size[:, 1] > 0)
    boxes, scores = boxes[valid], scores[valid]
    keep = nms(boxes, scores, iou_threshold)
    return Detections(boxes[keep], scores[keep], np.zeros(keep.size, dtype=np.int64))
