"""Captcha-like images with exact glyph boxes, for the ddddocr YOLOX-tiny character detector.

416x416 px images (the model's input size, so glyph pixels are model pixels) with
3-8 hanzi, each 22-38 px tall (the regime the detector was trained for: its recall
falls for larger glyphs), rotated by up to 25 degrees, in random colours, never
overlapping. A glyph's box is the extent of its drawn pixels (alpha >= 64 after
rotation), so it is exact.

Splits: ``calib`` uses GB2312 rows 0xB0-0xC3, smooth colour gradients with soft
blobs; ``eval`` uses rows 0xC4-0xD7, striped and noisy backgrounds with
captcha-style lines and arcs.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from sw.data.synth.text import cjk_font_path, font, hanzi_pool

__all__ = ["CHARS_SIZE", "GLYPH_HEIGHT", "render_chars"]

CHARS_SIZE = 416
GLYPH_HEIGHT = (22, 38)  # px, inclusive


def _background(rng: np.random.Generator, split: str) -> Image.Image:
    s = CHARS_SIZE
    yy, xx = np.mgrid[0:s, 0:s].astype(np.float32) / s
    c0, c1 = rng.uniform(60, 250, size=3), rng.uniform(60, 250, size=3)
    angle = rng.uniform(0, np.pi)
    t = (np.cos(angle) * xx + np.sin(angle) * yy)[..., None]
    t = (t - t.min()) / max(float(t.max() - t.min()), 1e-6)
    img = c0 * (1 - t) + c1 * t
    if split == "eval":
        period = rng.uniform(12, 40)
        img += 25 * np.sin(2 * np.pi * (xx * np.cos(angle) - yy * np.sin(angle)) * s / period)[..., None]
        img += rng.normal(0, 10, size=img.shape)
    image = Image.fromarray(np.clip(img, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(image)
    for _ in range(int(rng.integers(3, 9))):
        color = tuple(int(v) for v in rng.integers(40, 256, size=3))
        x, y, r = (float(v) for v in rng.uniform(0, s, size=3) * (1, 1, 0.25))
        if split == "calib":
            draw.ellipse([x - r, y - r, x + r, y + r], fill=color)
        else:
            draw.arc([x - r, y - r, x + r, y + r], float(rng.uniform(0, 360)), float(rng.uniform(0, 360)), fill=color, width=2)
            draw.line([tuple(rng.uniform(0, s, size=2)), tuple(rng.uniform(0, s, size=2))], fill=color, width=1)
    if split == "calib":
        image = image.filter(ImageFilter.GaussianBlur(radius=float(rng.uniform(2, 6))))
    return image


def _glyph(rng: np.random.Generator, char: str, path: str) -> tuple[Image.Image, tuple[int, int, int, int]] | None:
    """An RGBA tile of one rotated glyph and the box of its drawn pixels, or None if outside the height range."""
    size = int(rng.integers(24, 42))
    f = font(path, size)
    pad = size // 2
    tile = Image.new("RGBA", (2 * size + 2 * pad, 2 * size + 2 * pad), (0, 0, 0, 0))
    color = tuple(int(v) for v in rng.integers(0, 256, size=3)) + (255,)
    stroke = int(rng.integers(0, 2))
    ImageDraw.Draw(tile).text((pad, pad), char, font=f, fill=color, stroke_width=stroke,
                              stroke_fill=tuple(int(v) for v in rng.integers(0, 256, size=3)) + (255,))
    tile = tile.rotate(float(rng.uniform(-25, 25)), resample=Image.BILINEAR, expand=True)
    alpha = np.asarray(tile)[..., 3]
    ys, xs = np.nonzero(alpha >= 64)
    if not ys.size:
        return None
    box = (int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1)
    if not GLYPH_HEIGHT[0] <= box[3] - box[1] <= GLYPH_HEIGHT[1]:
        return None
    return tile, box


def render_chars(rng: np.random.Generator, split: str) -> tuple[np.ndarray, np.ndarray, list[int]]:
    """One image: uint8 RGB ``[416, 416, 3]``, glyph boxes ``[N, 4]`` (x1, y1, x2, y2 px), labels (all 0)."""
    image = _background(rng, split)
    pool = hanzi_pool(split)
    path = str(cjk_font_path())
    boxes: list[tuple[float, float, float, float]] = []
    target = int(rng.integers(3, 9))
    for _ in range(60):  # placement attempts
        if len(boxes) == target:
            break
        made = _glyph(rng, pool[int(rng.integers(0, len(pool)))], path)
        if made is None:
            continue
        tile, (bx1, by1, bx2, by2) = made
        x = int(rng.integers(4, CHARS_SIZE - 4 - (bx2 - bx1))) - bx1
        y = int(rng.integers(4, CHARS_SIZE - 4 - (by2 - by1))) - by1
        box = (x + bx1, y + by1, x + bx2, y + by2)
        if any(box[0] < b[2] + 6 and b[0] < box[2] + 6 and box[1] < b[3] + 6 and b[1] < box[3] + 6 for b in boxes):
            continue  # keep glyphs apart (6 px)
        image.paste(tile, (x, y), tile)
        boxes.append(box)
    return np.asarray(image.convert("RGB")), np.asarray(boxes, dtype=np.float64).reshape(-1, 4), [0] * len(boxes)
