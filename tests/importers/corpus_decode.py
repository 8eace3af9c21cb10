"""Inputs and box decoders for the detector corpus (test helpers; both our outputs and the reference
runtime's go through the same decoder, so equal boxes mean equal detections).

* BlazeFace / palm: SSD anchors (MediaPipe layout), centre offsets and sizes in input pixels, sigmoid
  scores > 0.5, NMS 0.3.
* PicoDet (GFL head): class scores (sigmoid in the model) and 4 x 8 distance bins per cell, softmax
  expectation times the stride from the cell centre, score > 0.4, NMS 0.5 per class.
* YOLOX: :func:`sw.detect.yolox.decode_yolox`.
* PP-OCR DB: probability map > 0.3, text regions = 4-connected components (their bounding boxes).
"""

from __future__ import annotations

from collections import deque

import numpy as np

from sw.data.images import blazeface_input, grace_hopper, render_text
from sw.detect.blazeface import AnchorOptions, ssd_anchors
from sw.detect.boxes import Detections, nms
from sw.detect.yolox import decode_yolox

_MEAN, _STD = np.array([0.485, 0.456, 0.406]), np.array([0.229, 0.224, 0.225])
TEXT = ("hwsim 4-bit detectors", "PicoDet PP-OCR BlazeFace", "int8 MAC array")


def image_input(name: str, shape: tuple[int, ...]) -> np.ndarray:
    """A real image in the model's input layout and range: the Grace Hopper photo for the face / hand / pose
    models ([-1, 1] NHWC), rendered text for the document and OCR models (ImageNet-normalized NCHW;
    YOLOX: BGR 0..255)."""
    if shape[-1] == 3:  # NHWC TFLite models
        return blazeface_input(grace_hopper(), shape[1])[0].astype(np.float32)
    h, w = shape[2:]
    img = render_text(TEXT, (h, w), fontsize=max(12, h // 14)).astype(np.float64)
    if name == "yolox_tiny_ddddocr":
        return np.ascontiguousarray(img[..., ::-1].transpose(2, 0, 1)[None]).astype(np.float32)
    return ((img / 255 - _MEAN) / _STD).transpose(2, 0, 1)[None].astype(np.float32)


def _ssd(raw_boxes: np.ndarray, raw_scores: np.ndarray, anchors: np.ndarray, size: int) -> Detections:
    raw_boxes = np.asarray(raw_boxes, dtype=np.float64).reshape(anchors.shape[0], -1)
    scores = 1 / (1 + np.exp(-np.clip(np.asarray(raw_scores, dtype=np.float64).reshape(-1), -80, 80)))
    centre = raw_boxes[:, :2] / size + anchors
    half = raw_boxes[:, 2:4] / size / 2
    boxes = np.concatenate([centre - half, centre + half], axis=1)
    keep = scores > 0.5
    boxes, scores = boxes[keep], scores[keep]
    order = nms(boxes, scores, 0.3)
    return Detections(boxes[order], scores[order], np.zeros(order.size, dtype=np.int64))


def _full_range_anchors() -> np.ndarray:
    centres = (np.arange(48) + 0.5) / 48
    ys, xs = np.meshgrid(centres, centres, indexing="ij")
    return np.stack([xs.ravel(), ys.ravel()], axis=1)


def _picodet(outputs: dict[str, np.ndarray], hw: tuple[int, int]) -> Detections:
    boxes, scores, classes = [], [], []
    for level, stride in enumerate((8, 16, 32, 64)):
        cls = outputs[f"transpose_{2 * level}.tmp_0"][0].astype(np.float64)
        reg = outputs[f"transpose_{2 * level + 1}.tmp_0"][0].astype(np.float64).reshape(-1, 4, 8)
        gh, gw = -(-hw[0] // stride), -(-hw[1] // stride)
        ys, xs = np.meshgrid(np.arange(gh), np.arange(gw), indexing="ij")
        centre = (np.stack([xs.ravel(), ys.ravel()], axis=1) + 0.5) * stride
        prob = np.exp(reg - reg.max(axis=2, keepdims=True))
        dist = (prob / prob.sum(axis=2, keepdims=True)) @ np.arange(8) * stride
        boxes.append(np.concatenate([centre - dist[:, :2], centre + dist[:, 2:]], axis=1))
        classes.append(cls.argmax(axis=1))
        scores.append(cls.max(axis=1))
    boxes, scores, classes = (np.concatenate(v) for v in (boxes, scores, classes))
    keep = scores > 0.4
    boxes, scores, classes = boxes[keep], scores[keep], classes[keep]
    kept = [i for c in np.unique(classes) for i in np.flatnonzero(classes == c)[nms(boxes[classes == c],
                                                                                     scores[classes == c], 0.5)]]
    kept = np.asarray(sorted(kept, key=lambda i: -scores[i]), dtype=np.int64)
    return Detections(boxes[kept].reshape(-1, 4), scores[kept], classes[kept])


def _db_regions(prob: np.ndarray) -> Detections:
    mask = np.asarray(prob).reshape(prob.shape[-2:]) > 0.3
    seen = np.zeros_like(mask)
    boxes = []
    for y, x in zip(*np.nonzero(mask)):
        if seen[y, x]:
            continue
        queue, ys, xs = deque([(y, x)]), [], []
        seen[y, x] = True
        while queue:
            cy, cx = queue.popleft()
            ys.append(cy)
            xs.append(cx)
            for ny, nx in ((cy + 1, cx), (cy - 1, cx), (cy, cx + 1), (cy, cx - 1)):
                if 0 <= ny < mask.shape[0] and 0 <= nx < mask.shape[1] and mask[ny, nx] and not seen[ny, nx]:
                    seen[ny, nx] = True
                    queue.append((ny, nx))
        boxes.append([min(xs), min(ys), max(xs) + 1, max(ys) + 1])
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    return Detections(boxes, np.ones(len(boxes)), np.zeros(len(boxes), dtype=np.int64))


def decode(name: str, outputs: dict[str, np.ndarray], input_shape: tuple[int, ...]) -> Detections:
    """Detections of corpus model ``name`` from its outputs by name."""
    if name.startswith("blazeface"):
        regs, scores = (outputs[k] for k in sorted(outputs, key=lambda k: -outputs[k].shape[-1]))
        size = input_shape[1]
        anchors = {"blazeface_full_range": _full_range_anchors(),
                   "blazeface_back": ssd_anchors(AnchorOptions(256, (16, 32, 32, 32))),
                   "blazeface_short_range": ssd_anchors(AnchorOptions(128, (8, 16, 16, 16)))}[name]
        return _ssd(regs, scores, anchors, size)
    if name in ("palm_detection_lite", "pose_detection"):
        regs, scores = (outputs[k] for k in sorted(outputs, key=lambda k: -outputs[k].shape[-1]))
        size = input_shape[1]
        strides = (8, 16, 16, 16) if name == "palm_detection_lite" else (8, 16, 32, 32, 32)
        return _ssd(regs, scores, ssd_anchors(AnchorOptions(size, strides)), size)
    if name == "picodet_layout_cdla":
        return _picodet(outputs, input_shape[2:])
    if name == "yolox_tiny_ddddocr":
        return decode_yolox(next(iter(outputs.values())), input_shape[2:])
    return _db_regions(next(iter(outputs.values())))
