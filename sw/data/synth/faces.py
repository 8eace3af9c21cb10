"""Face images with known face boxes, for BlazeFace: augmented photos and pasted-face composites.

No labeled face set ships offline, so images are built from the photos that ship
in installed wheels (matplotlib's ``grace_hopper.jpg``; scikit-image's
``astronaut``, ``camera``, backgrounds and the 100 LFW face crops of
``lfw_subset.npy``). 256x256 px images of two kinds:

* *photo* (35 %): a random crop (scale, position), flip and colour change of a
  portrait whose face box is known; the box follows the crop exactly.
* *composite*: 1-3 face crops, 40-120 px, pasted at known, non-overlapping
  positions on a background photo crop, each flipped and colour-changed.

Face boxes of the portraits were located once with the float short-range
BlazeFace model and are constants here (image pixels); an LFW crop's face box is
its central 80 % (the crops are tight face crops). Face boxes follow BlazeFace's
own convention only approximately, so results on this set are read as agreement
with the float model (``hwsim eval`` reports both), not as face-detection mAP.

Splits share no face and no background: ``calib`` uses LFW faces 0-49,
grace_hopper and camera on brick, grass, gravel, coffee, rocket and Hubble
backgrounds; ``eval`` uses LFW faces 50-99 and astronaut on chelsea, motorcycle,
coins, moon, retina and page backgrounds.
"""

from __future__ import annotations

import importlib.util
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageEnhance

__all__ = ["FACES_SIZE", "render_faces"]

FACES_SIZE = 256
_PHOTOS = {"calib": ("grace_hopper", "camera"), "eval": ("astronaut",)}
#: Face boxes (x1, y1, x2, y2, image px) of the portraits.
_FACE_BOX = {"grace_hopper": (171, 148, 365, 342), "camera": (174, 120, 267, 213), "astronaut": (179, 82, 274, 177)}
_BACKGROUNDS = {"calib": ("brick", "grass", "gravel", "coffee", "rocket", "hubble_deep_field"),
                "eval": ("chelsea", "motorcycle_left", "coins", "moon", "retina", "page")}
_LFW = {"calib": range(0, 50), "eval": range(50, 100)}  # the first 100 entries of lfw_subset are faces


def _skimage_data() -> Path:
    spec = importlib.util.find_spec("skimage")
    if spec is None or not spec.submodule_search_locations:
        raise ValueError("the faces generator needs scikit-image's sample photos: pip install 'hwsim[eval]'")
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def _rgb(path: Path) -> np.ndarray:
    with Image.open(path) as img:
        return np.asarray(img.convert("RGB"), dtype=np.uint8)


@lru_cache(maxsize=32)
def _photo(name: str) -> np.ndarray:
    """A shipped photo as uint8 RGB (read-only)."""
    if name == "grace_hopper":
        import matplotlib.cbook as cbook

        arr = _rgb(Path(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)))
    else:
        data = _skimage_data()
        candidates = [data / f"{name}.{ext}" for ext in ("png", "jpg")]
        path = next((p for p in candidates if p.is_file()), None)
        if path is None:
            raise ValueError(f"{data}: sample photo '{name}' missing from the installed scikit-image")
        arr = _rgb(path)
    arr.setflags(write=False)
    return arr


@lru_cache(maxsize=1)
def _lfw() -> np.ndarray:
    path = _skimage_data() / "lfw_subset.npy"
    if not path.is_file():
        raise ValueError(f"{path}: LFW subset missing from the installed scikit-image")
    faces = (np.load(path)[:100] * 255).round().astype(np.uint8)
    faces.setflags(write=False)
    return faces


def _jitter(rng: np.random.Generator, img: Image.Image) -> Image.Image:
    img = ImageEnhance.Brightness(img).enhance(float(rng.uniform(0.7, 1.3)))
    img = ImageEnhance.Contrast(img).enhance(float(rng.uniform(0.7, 1.3)))
    return ImageEnhance.Color(img).enhance(float(rng.uniform(0.5, 1.5)))


def _crop_resize(img: np.ndarray, box: tuple[float, float, float, float], size: tuple[int, int]) -> Image.Image:
    return Image.fromarray(img).resize(size, resample=Image.BILINEAR, box=box)


def _photo_image(rng: np.random.Generator, split: str) -> tuple[Image.Image, list[tuple[float, ...]]]:
    name = _PHOTOS[split][int(rng.integers(0, len(_PHOTOS[split])))]
    img = _photo(name)
    h, w = img.shape[:2]
    fx1, fy1, fx2, fy2 = _FACE_BOX[name]
    face = max(fx2 - fx1, fy2 - fy1)
    # Crop side: the face covers 20-60 % of it; the crop contains the whole face.
    side = min(float(min(h, w)), face / float(rng.uniform(0.2, 0.6)))
    x0 = float(rng.uniform(max(0.0, fx2 - side), max(0.0, min(fx1, w - side)) + 1e-9))
    y0 = float(rng.uniform(max(0.0, fy2 - side), max(0.0, min(fy1, h - side)) + 1e-9))
    s = FACES_SIZE / side
    out = _jitter(rng, _crop_resize(img, (x0, y0, x0 + side, y0 + side), (FACES_SIZE, FACES_SIZE)))
    box = [(fx1 - x0) * s, (fy1 - y0) * s, (fx2 - x0) * s, (fy2 - y0) * s]
    if rng.random() < 0.5:
        out = out.transpose(Image.FLIP_LEFT_RIGHT)
        box = [FACES_SIZE - box[2], box[1], FACES_SIZE - box[0], box[3]]
    return out, [tuple(box)]


def _face_crop(rng: np.random.Generator, split: str) -> tuple[np.ndarray, tuple[float, float, float, float]]:
    """A face crop (uint8 RGB) and its face box within the crop."""
    if rng.random() < 0.8:
        crop = _lfw()[_LFW[split][int(rng.integers(0, 50))]]
        crop = np.repeat(crop[..., None], 3, axis=2)
        n = crop.shape[0]
        return crop, (0.1 * n, 0.1 * n, 0.9 * n, 0.9 * n)
    name = _PHOTOS[split][int(rng.integers(0, len(_PHOTOS[split])))]
    x1, y1, x2, y2 = _FACE_BOX[name]
    m = 0.25 * (x2 - x1)
    crop = np.ascontiguousarray(_photo(name)[int(y1 - m) : int(y2 + m), int(x1 - m) : int(x2 + m)])
    return crop, (m, m, m + x2 - x1, m + y2 - y1)


def _composite(rng: np.random.Generator, split: str) -> tuple[Image.Image, list[tuple[float, ...]]]:
    bg = _photo(_BACKGROUNDS[split][int(rng.integers(0, len(_BACKGROUNDS[split])))])
    h, w = bg.shape[:2]
    side = float(rng.uniform(0.4, 1.0)) * min(h, w)
    x0, y0 = float(rng.uniform(0, w - side)), float(rng.uniform(0, h - side))
    canvas = _jitter(rng, _crop_resize(bg, (x0, y0, x0 + side, y0 + side), (FACES_SIZE, FACES_SIZE)))
    if rng.random() < 0.5:
        canvas = canvas.transpose(Image.FLIP_LEFT_RIGHT)
    boxes: list[tuple[float, ...]] = []
    placed: list[tuple[int, int, int, int]] = []
    for _ in range(int(rng.integers(1, 4))):
        crop, (bx1, by1, bx2, by2) = _face_crop(rng, split)
        target = float(rng.uniform(40, 120))  # pasted face-box width (px)
        s = target / (bx2 - bx1)
        cw, ch = max(1, round(crop.shape[1] * s)), max(1, round(crop.shape[0] * s))
        if cw >= FACES_SIZE or ch >= FACES_SIZE:
            continue
        for _attempt in range(10):
            px, py = int(rng.integers(0, FACES_SIZE - cw)), int(rng.integers(0, FACES_SIZE - ch))
            if not any(px < q[2] and q[0] < px + cw and py < q[3] and q[1] < py + ch for q in placed):
                break
        else:
            continue
        tile = _jitter(rng, Image.fromarray(crop).resize((cw, ch), resample=Image.BILINEAR))
        sx, sy = cw / crop.shape[1], ch / crop.shape[0]
        box = [px + bx1 * sx, py + by1 * sy, px + bx2 * sx, py + by2 * sy]
        if rng.random() < 0.5:
            tile = tile.transpose(Image.FLIP_LEFT_RIGHT)
            box = [px + cw - (box[2] - px), box[1], px + cw - (box[0] - px), box[3]]
        canvas.paste(tile, (px, py))
        placed.append((px, py, px + cw, py + ch))
        boxes.append(tuple(box))
    return canvas, boxes


def render_faces(rng: np.random.Generator, split: str) -> tuple[np.ndarray, np.ndarray, list[int]]:
    """One image: uint8 RGB ``[256, 256, 3]``, face boxes ``[N, 4]`` (x1, y1, x2, y2 px), labels (all 0)."""
    image, boxes = _photo_image(rng, split) if rng.random() < 0.35 else _composite(rng, split)
    return np.asarray(image.convert("RGB")), np.asarray(boxes, dtype=np.float64).reshape(-1, 4), [0] * len(boxes)
