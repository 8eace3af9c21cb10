"""Synthetic COCO datasets: validity through pycocotools' own loader, determinism, disjoint splits, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("pycocotools")
pytest.importorskip("skimage")
pytest.importorskip("paperang_p2_fonts_cjk")

from pycocotools.coco import COCO  # noqa: E402

from sw.data.synth import KINDS, make_dataset, render_images  # noqa: E402
from sw.data.synth.chars import GLYPH_HEIGHT  # noqa: E402
from sw.data.synth.coco import load_coco  # noqa: E402
from sw.data.synth.faces import _LFW, _PHOTOS, _BACKGROUNDS  # noqa: E402
from sw.data.synth.layout import LAYOUT_CLASSES, PAGE_SIZE  # noqa: E402
from sw.data.synth.text import hanzi_pool, latin_words  # noqa: E402

SIZES = {"layout": (PAGE_SIZE[1], PAGE_SIZE[0]), "chars": (416, 416), "faces": (256, 256)}
COUNT = {"layout": 2, "chars": 3, "faces": 4}


def _files(root: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(root.iterdir())}


@pytest.mark.parametrize("kind", KINDS)
def test_dataset_is_valid_coco(kind, tmp_path):
    made = make_dataset(kind, COUNT[kind], seed=3, out=tmp_path, split="eval")
    assert made.images == COUNT[kind] and made.boxes > 0
    coco = COCO(str(made.annotations))  # pycocotools' own loader and index
    assert len(coco.getImgIds()) == COUNT[kind]
    assert len(coco.getAnnIds()) == made.boxes
    names = [c["name"] for c in coco.loadCats(coco.getCatIds())]
    assert names == (list(LAYOUT_CLASSES) if kind == "layout" else ["char" if kind == "chars" else "face"])
    ds = load_coco(tmp_path)
    for record in ds.images:
        image = ds.load_image(record)
        assert image.shape[:2] == SIZES[kind] == (record["height"], record["width"])
        for ann in coco.loadAnns(coco.getAnnIds(imgIds=record["id"])):
            x, y, w, h = ann["bbox"]
            assert ann["iscrowd"] == 0 and ann["area"] == pytest.approx(w * h, abs=0.01)
            assert w > 0 and h > 0 and x >= 0 and y >= 0 and x + w <= record["width"] + 1e-6
            assert y + h <= record["height"] + 1e-6


@pytest.mark.parametrize("kind", KINDS)
def test_same_seed_gives_identical_bytes(kind, tmp_path):
    make_dataset(kind, 2, seed=11, out=tmp_path / "a", split="calib")
    make_dataset(kind, 2, seed=11, out=tmp_path / "b", split="calib")
    assert _files(tmp_path / "a") == _files(tmp_path / "b")
    # and render_images (in-memory calibration) gives the same pixels as the written files
    ds = load_coco(tmp_path / "a")
    rendered = render_images(kind, 2, seed=11, split="calib")
    if kind != "layout":  # layout pages are JPEG (lossy): compare PNG kinds exactly
        for record, image in zip(ds.images, rendered):
            np.testing.assert_array_equal(ds.load_image(record), image)


@pytest.mark.parametrize("kind", KINDS)
def test_splits_and_seeds_change_content(kind, tmp_path):
    make_dataset(kind, 2, seed=5, out=tmp_path / "calib", split="calib")
    make_dataset(kind, 2, seed=5, out=tmp_path / "eval", split="eval")
    make_dataset(kind, 2, seed=6, out=tmp_path / "eval6", split="eval")
    images = [b for d in ("calib", "eval", "eval6") for n, b in _files(tmp_path / d).items() if n != "annotations.json"]
    assert len(set(images)) == len(images)  # no image repeats across splits or seeds


def test_split_sources_are_disjoint():
    calib, evaluation = set(hanzi_pool("calib")), set(hanzi_pool("eval"))
    assert len(calib) + len(evaluation) == 3755 and not calib & evaluation  # all of GB2312 level 1, split in two
    rng = np.random.default_rng(0)
    assert not set(latin_words(rng, "calib", 200)) & set(latin_words(rng, "eval", 200))
    assert not set(_LFW["calib"]) & set(_LFW["eval"])
    assert not set(_PHOTOS["calib"]) & set(_PHOTOS["eval"])
    assert not set(_BACKGROUNDS["calib"]) & set(_BACKGROUNDS["eval"])


def test_chars_glyphs_in_the_trained_size_regime(tmp_path):
    make_dataset("chars", 4, seed=2, out=tmp_path)
    doc = json.loads((tmp_path / "annotations.json").read_text())
    heights = [a["bbox"][3] for a in doc["annotations"]]
    assert len(heights) >= 12
    assert GLYPH_HEIGHT[0] <= min(heights) and max(heights) <= GLYPH_HEIGHT[1]


@pytest.mark.parametrize("kwargs, match", [
    (dict(kind="maps", n=1, seed=0), "kind"),
    (dict(kind="chars", n=0, seed=0), "--n"),
    (dict(kind="chars", n=1, seed=-1), "--seed"),
    (dict(kind="chars", n=1, seed=0, split="train"), "--split"),
])
def test_bad_arguments(kwargs, match, tmp_path):
    with pytest.raises(ValueError, match=match):
        make_dataset(out=tmp_path, **kwargs)
