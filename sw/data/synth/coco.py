"""COCO-format detection datasets on disk: a deterministic writer and a validating reader.

A dataset is a directory holding ``annotations.json`` and the image files it
names (``file_name`` relative to the directory). The JSON has the three lists
the COCO evaluators need:

* ``images``: ``{"id", "file_name", "width", "height"}``;
* ``annotations``: ``{"id", "image_id", "category_id", "bbox": [x, y, w, h],
  "area": w * h, "iscrowd": 0}`` (pixels, top-left origin, continuous coordinates);
* ``categories``: ``{"id", "name"}``.

The writer sorts keys and rounds coordinates to 1/100 px so that the same
content always gives the same bytes.
"""

from __future__ import annotations

import io
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from sw.fileio import atomic_write_bytes, atomic_write_text

__all__ = ["ANNOTATIONS", "CocoWriter", "CocoDataset", "load_coco", "encode_image"]

ANNOTATIONS = "annotations.json"


def encode_image(image: np.ndarray, fmt: str) -> bytes:
    """PNG or JPEG (quality 92, no subsampling of chroma: deterministic) bytes of a uint8 RGB image."""
    buffer = io.BytesIO()
    img = Image.fromarray(np.asarray(image, dtype=np.uint8))
    if fmt == "png":
        img.save(buffer, format="PNG", optimize=False, compress_level=1)
    elif fmt == "jpg":
        img.save(buffer, format="JPEG", quality=92, subsampling=0)
    else:
        raise ValueError(f"image format: expected 'png' or 'jpg', got {fmt!r}")
    return buffer.getvalue()


@dataclass
class CocoWriter:
    """Accumulates images and boxes, writes image files as they come and the JSON at the end.

    Parameters
    ----------
    out
        Output directory (created).
    categories
        Category names; ids are 1-based in this order.
    info
        Free-form description stored under ``"info"`` (generator, seed, split).
    """

    out: Path
    categories: tuple[str, ...]
    info: dict
    images: list[dict] = field(default_factory=list)
    annotations: list[dict] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.out = Path(self.out)
        self.out.mkdir(parents=True, exist_ok=True)

    def add(self, image: np.ndarray, boxes: np.ndarray, labels: list[int], fmt: str = "png") -> None:
        """Add one image with boxes ``[N, 4]`` (x1, y1, x2, y2 pixels) and 0-based category indices."""
        image_id = len(self.images) + 1
        name = f"{image_id:06d}.{fmt}"
        atomic_write_bytes(self.out / name, encode_image(image, fmt))
        h, w = image.shape[:2]
        self.images.append({"id": image_id, "file_name": name, "width": int(w), "height": int(h)})
        for (x1, y1, x2, y2), label in zip(np.asarray(boxes, dtype=np.float64).reshape(-1, 4), labels):
            x1, y1 = round(max(0.0, x1), 2), round(max(0.0, y1), 2)
            bw, bh = round(min(float(w), x2) - x1, 2), round(min(float(h), y2) - y1, 2)
            if bw <= 0 or bh <= 0:
                continue
            self.annotations.append({
                "id": len(self.annotations) + 1, "image_id": image_id, "category_id": int(label) + 1,
                "bbox": [x1, y1, bw, bh], "area": round(bw * bh, 4), "iscrowd": 0,
            })

    def finish(self) -> Path:
        """Write ``annotations.json``; returns its path."""
        doc = {
            "info": self.info,
            "images": self.images,
            "annotations": self.annotations,
            "categories": [{"id": i + 1, "name": n} for i, n in enumerate(self.categories)],
        }
        path = self.out / ANNOTATIONS
        atomic_write_text(path, json.dumps(doc, sort_keys=True, separators=(",", ":")) + "\n")
        return path


@dataclass(frozen=True)
class CocoDataset:
    """A validated COCO detection dataset: the JSON document and its directory."""

    root: Path
    doc: dict

    @property
    def annotation_path(self) -> Path:
        return self.root / ANNOTATIONS

    @property
    def categories(self) -> dict[int, str]:
        """Category names by id."""
        return {int(c["id"]): str(c["name"]) for c in self.doc["categories"]}

    @property
    def images(self) -> list[dict]:
        """Image records sorted by id."""
        return sorted(self.doc["images"], key=lambda r: int(r["id"]))

    def image_path(self, record: dict) -> Path:
        return self.root / record["file_name"]

    def load_image(self, record: dict) -> np.ndarray:
        """uint8 RGB pixels of an image record."""
        path = self.image_path(record)
        try:
            with Image.open(path) as img:
                return np.asarray(img.convert("RGB"), dtype=np.uint8)
        except OSError as exc:
            raise ValueError(f"{path}: cannot read image: {exc}") from None

    def boxes(self, image_id: int) -> tuple[np.ndarray, np.ndarray]:
        """Ground-truth boxes ``[N, 4]`` (x1, y1, x2, y2) and category ids ``[N]`` of one image."""
        anns = [a for a in self.doc["annotations"] if int(a["image_id"]) == image_id]
        xywh = np.asarray([a["bbox"] for a in anns], dtype=np.float64).reshape(-1, 4)
        return np.concatenate([xywh[:, :2], xywh[:, :2] + xywh[:, 2:]], axis=1), np.asarray(
            [int(a["category_id"]) for a in anns], dtype=np.int64)

    def subset(self, limit: int | None) -> "CocoDataset":
        """The first ``limit`` images (by id) and their annotations (all when None)."""
        if limit is None:
            return self
        if limit < 1:
            raise ValueError(f"--limit: expected a positive number of images, got {limit}")
        keep = self.images[:limit]
        ids = {int(r["id"]) for r in keep}
        doc = dict(self.doc, images=keep, annotations=[a for a in self.doc["annotations"] if int(a["image_id"]) in ids])
        return CocoDataset(self.root, doc)


def _require(cond: bool, path: Path, message: str) -> None:
    if not cond:
        raise ValueError(f"{path}: {message}")


def load_coco(root: str | os.PathLike[str]) -> CocoDataset:
    """Read and validate ``ROOT/annotations.json``.

    Raises
    ------
    ValueError
        One line naming the file and the field: missing file, malformed JSON,
        missing lists, records without the required keys, boxes that are not
        4 non-negative numbers, or annotations naming an unknown image or category.
    """
    root = Path(root)
    path = root / ANNOTATIONS
    _require(root.is_dir(), root, "not a directory (expected a COCO dataset directory with annotations.json)")
    _require(path.is_file(), path, "missing (a COCO dataset directory holds annotations.json and the images)")
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: malformed JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except UnicodeDecodeError:
        raise ValueError(f"{path}: not UTF-8 text") from None
    _require(isinstance(doc, dict), path, "expected a JSON object with images, annotations and categories")
    for key in ("images", "annotations", "categories"):
        _require(isinstance(doc.get(key), list), path, f"'{key}': expected a list")
    _require(bool(doc["images"]), path, "'images': empty")
    _require(bool(doc["categories"]), path, "'categories': empty")
    for i, rec in enumerate(doc["images"]):
        _require(isinstance(rec, dict) and all(k in rec for k in ("id", "file_name", "width", "height")), path,
                 f"images[{i}]: expected id, file_name, width and height")
    for i, rec in enumerate(doc["categories"]):
        _require(isinstance(rec, dict) and "id" in rec and "name" in rec, path, f"categories[{i}]: expected id and name")
    image_ids = {rec["id"] for rec in doc["images"]}
    cat_ids = {rec["id"] for rec in doc["categories"]}
    _require(len(image_ids) == len(doc["images"]), path, "'images': duplicate ids")
    for i, ann in enumerate(doc["annotations"]):
        where = f"annotations[{i}]"
        _require(isinstance(ann, dict) and all(k in ann for k in ("id", "image_id", "category_id", "bbox")), path,
                 f"{where}: expected id, image_id, category_id and bbox")
        box = ann["bbox"]
        _require(isinstance(box, list) and len(box) == 4 and all(isinstance(v, (int, float)) for v in box)
                 and min(box[2], box[3]) >= 0, path, f"{where}.bbox: expected [x, y, w, h] with w, h >= 0, got {box!r}")
        _require(ann["image_id"] in image_ids, path, f"{where}.image_id: no image with id {ann['image_id']!r}")
        _require(ann["category_id"] in cat_ids, path, f"{where}.category_id: no category with id {ann['category_id']!r}")
    return CocoDataset(root, doc)
