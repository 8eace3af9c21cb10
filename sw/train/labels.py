"""The detection loss from labels for ``fqn`` fine-tuning: dense per-output targets from COCO boxes.

FQN fine-tunes with the detector's own loss where labels exist. This module turns a
labelled image into targets of the model's raw outputs in the form each family trains with,
on a set of *positive cells* chosen with the float model (the detectors' own assigners,
SimOTA / ATSS, need their training-time dynamics; the float model already encodes their
choice):

* a cell is positive for a ground-truth box of class ``c`` when the float model's decoded box at
  that cell overlaps it at IoU >= :data:`POSITIVE_IOU` and the float model scores class ``c``
  there at >= :data:`POSITIVE_SCORE`; a cell positive for several boxes takes the best-overlapping one;
* **picodet** (GFL): the four side distances of the box from the cell centre, in strides, as
  the distribution focal loss's two-bin soft target (the two bins around the distance, weighted
  by nearness; distances clipped to ``[0, R - 0.01]``), one cross-entropy per side, mean over
  the sides; the class-``c`` score regressed (squared error) to the float box's IoU with the
  ground truth (GFL's quality target);
* **yolox**: the box's raw values (centre offset in cells, log size in strides) with an L1 loss
  (YOLOX's L1 term), objectness regressed to 1 and the class-``c`` score to the float box's IoU
  (YOLOX's IoU-aware class target).

Scores are regressed with squared error rather than cross-entropy: the fake-quantized scores are
dequantized codes that are often exactly 0 or 1, where a clipped cross-entropy has no gradient.
The loss of a mini-batch is the sum of every term over its positive cells divided by their number
(at least 1). Targets are built in the declared outputs' layout (file order) and moved to the IR
outputs' layout by running the model's tail (pure data movement) on element indices.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from sw.data.synth.coco import CocoDataset
from sw.detect.boxes import iou_matrix
from sw.detect.evaluate import category_map
from sw.detect.families import InputMap
from sw.detect.picodet import picodet_boxes, picodet_centres
from sw.detect.yolox import yolox_boxes, yolox_grid
from sw.graph.model import ImportedModel
from sw.runtime.floatexec import run_float, run_tail

__all__ = ["LabelTargets", "label_targets", "input_boxes", "LABEL_FAMILIES", "POSITIVE_IOU", "POSITIVE_SCORE", "DenseTarget"]

#: Least IoU of the float model's box at a cell with a ground-truth box for the cell to be positive.
POSITIVE_IOU = 0.5
#: Least float score of the ground truth's class at a cell for the cell to be positive.
POSITIVE_SCORE = 0.05
#: Largest distribution-focal-loss distance below the last bin (bins), as GFL clips its targets.
DFL_MARGIN = 0.01


@dataclass(frozen=True)
class DenseTarget:
    """Targets of one output tensor (all arrays the output's shape).

    Attributes
    ----------
    target
        Target values: raw values (L1 terms), scores (squared-error terms) or two-bin soft
        distributions (DFL terms).
    l1, l2, dfl
        Per-element weights of ``|y - t|``, ``(y - t)^2`` and ``-t log softmax(y)`` (softmax over
        consecutive groups of ``bins`` along the last axis).
    bins
        DFL group size (0: no DFL term).
    """

    target: np.ndarray
    l1: np.ndarray
    l2: np.ndarray
    dfl: np.ndarray
    bins: int = 0


@dataclass(frozen=True)
class LabelTargets:
    """Dense targets of the IR outputs, stacked over samples on axis 0 (IR layout, NHWC).

    Attributes
    ----------
    outputs
        IR output name -> (target, l1, l2, dfl) arrays, float32, ``[n, ...]``.
    bins
        IR output name -> DFL group size (0: none).
    positives
        Positive cells per sample ``[n]`` (float32).
    boxes, covered
        Ground-truth boxes of the model's classes, and those with at least one positive cell.
    """

    outputs: Mapping[str, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]
    bins: Mapping[str, int]
    positives: np.ndarray
    boxes: int
    covered: int

    def provenance(self, weight: float) -> dict:
        """The quantized-model file's record of a label loss of ``weight`` on these targets."""
        return {"weight": weight, "positive_cells": int(self.positives.sum()), "boxes": self.boxes,
                "boxes_with_positives": self.covered}


def _assign(boxes: np.ndarray, class_scores: np.ndarray, gt: np.ndarray, gt_cls: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Positive cells, their ground-truth index and IoU (module docstring's rule)."""
    if not len(gt):
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0)
    iou = iou_matrix(boxes, gt)  # [cells, gts]
    ok = (iou >= POSITIVE_IOU) & (class_scores[:, gt_cls] >= POSITIVE_SCORE)
    iou = np.where(ok, iou, -1.0)
    best = iou.argmax(axis=1)
    cells = np.flatnonzero(iou[np.arange(len(boxes)), best] >= 0.0)
    return cells, best[cells], iou[cells, best[cells]]


def _empty(shape: tuple[int, ...], bins: int = 0) -> DenseTarget:
    return DenseTarget(*(np.zeros(shape, np.float32) for _ in range(4)), bins=bins)


def _picodet(outputs: Sequence[np.ndarray], input_hw: tuple[int, int], gt: np.ndarray,
             gt_cls: np.ndarray) -> tuple[list[DenseTarget], int, set[int]]:
    half = len(outputs) // 2
    scores = [np.asarray(o, np.float64).reshape(-1, np.shape(o)[-1]) for o in outputs[:half]]
    dists = [np.asarray(o, np.float64).reshape(-1, np.shape(o)[-1]) for o in outputs[half:]]
    bins = dists[0].shape[1] // 4
    strides = [8 * 2**k for k in range(half)]
    centres = [picodet_centres(input_hw, s) for s in strides]
    boxes = np.concatenate([picodet_boxes(c, d, s) for s, c, d in zip(strides, centres, dists)])
    cells, owner, iou = _assign(boxes, np.concatenate(scores), gt, gt_cls)
    out = [_empty(np.shape(o)) for o in outputs[:half]] + [_empty(np.shape(o), bins) for o in outputs[half:]]
    start = np.cumsum([0] + [len(c) for c in centres])
    for lvl, s in enumerate(strides):
        sel = (cells >= start[lvl]) & (cells < start[lvl + 1])
        i, g = cells[sel] - start[lvl], owner[sel]
        score, dist = out[lvl], out[half + lvl]
        cls = gt_cls[g]
        score.target.reshape(-1, score.target.shape[-1])[i, cls] = iou[sel]
        score.l2.reshape(-1, score.l2.shape[-1])[i, cls] = 1.0
        c, b = centres[lvl][i], gt[g]
        sides = np.stack([c[:, 0] - b[:, 0], c[:, 1] - b[:, 1], b[:, 2] - c[:, 0], b[:, 3] - c[:, 1]], axis=1) / s
        sides = sides.clip(0.0, bins - 1 - DFL_MARGIN)
        low = np.floor(sides).astype(np.int64)
        soft = np.zeros((len(i), 4, bins))
        rows, side = np.arange(len(i))[:, None], np.arange(4)[None, :]
        soft[rows, side, low] = low + 1 - sides
        soft[rows, side, low + 1] = sides - low
        dist.target.reshape(-1, 4 * bins)[i] = soft.reshape(len(i), 4 * bins)
        dist.dfl.reshape(-1, 4 * bins)[i] = 0.25  # the mean over the four sides
    return out, len(cells), set(owner.tolist())


def _yolox(outputs: Sequence[np.ndarray], input_hw: tuple[int, int], gt: np.ndarray,
           gt_cls: np.ndarray) -> tuple[list[DenseTarget], int, set[int]]:
    raw = np.asarray(outputs[0], np.float64).reshape(-1, np.shape(outputs[0])[-1])
    grid, strides = yolox_grid(input_hw)
    cells, owner, iou = _assign(yolox_boxes(raw, input_hw), raw[:, 4:5] * raw[:, 5:], gt, gt_cls)
    t = _empty(np.shape(outputs[0]))
    target, l1, l2 = (a.reshape(-1, raw.shape[1]) for a in (t.target, t.l1, t.l2))
    b, s = gt[owner], strides[cells]
    target[cells, 0:2] = (b[:, :2] + b[:, 2:]) / 2 / s - grid[cells]
    target[cells, 2:4] = np.log(np.maximum(b[:, 2:] - b[:, :2], 1e-3) / s)
    l1[cells, 0:4] = 1.0
    target[cells, 4], l2[cells, 4] = 1.0, 1.0
    target[cells, 5 + gt_cls[owner]], l2[cells, 5 + gt_cls[owner]] = iou, 1.0
    return [t], len(cells), set(owner.tolist())


Builder = Callable[[Sequence[np.ndarray], tuple[int, int], np.ndarray, np.ndarray],
                   tuple[list[DenseTarget], int, set[int]]]
#: Families with a detection loss: ``(float outputs in file order, input (h, w), gt boxes in input pixels,
#: gt class indices) -> (per-output targets, positive cells, indices of the covered boxes)``.
LABEL_FAMILIES: dict[str, Builder] = {"picodet": _picodet, "yolox": _yolox}


def _placement(model: ImportedModel, shapes: Mapping[str, tuple[int, ...]],
               dense: Sequence[DenseTarget]) -> tuple[dict[str, list], dict[str, int]]:
    """Where the elements of each declared output sit in the IR outputs (``shapes``), and each IR output's
    DFL group size: the model's tail run on element indices (every IR element numbered once, float64)."""
    env, offsets, at = {}, {}, 0
    for name, shape in shapes.items():
        size = int(np.prod(shape))
        env[name], offsets[name] = (at + np.arange(size, dtype=np.float64)).reshape(shape), at
        at += size
    index = {k: v.astype(np.int64).reshape(-1) for k, v in run_tail(model, env).items()}
    place: dict[str, list] = {}
    bins = {k: 0 for k in shapes}
    for name, d in zip(model.outputs, dense):
        src, place[name] = index[name], []
        for k, shape in shapes.items():
            part = (src >= offsets[k]) & (src < offsets[k] + env[k].size)
            if not part.any():
                continue
            place[name].append((k, part, src[part] - offsets[k]))
            if d.bins:
                groups = src.reshape(-1, d.bins) - offsets[k]
                if not part.all() or shape[-1] % d.bins or (groups[:, 0] % d.bins).any() \
                        or (np.diff(groups, axis=1) != 1).any():
                    raise ValueError(f"output '{name}': its distribution bins are not contiguous along "
                                     f"the last axis of IR output '{k}'")
                bins[k] = d.bins
    return place, bins


def input_boxes(dataset: CocoDataset, input_maps: Sequence[InputMap],
                class_names: Sequence[str]) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Ground-truth boxes of ``dataset``'s images (in order) in input pixels, and their model class indices.

    ``input_maps``: each image's :class:`~sw.detect.families.InputMap` (from the family's preprocessing);
    boxes of categories that are not among ``class_names`` (:func:`sw.detect.evaluate.category_map`) are dropped.
    """
    index = {int(c): i for i, c in enumerate(category_map(class_names, dataset))}
    boxes, classes = [], []
    for record, m in zip(dataset.images, input_maps, strict=True):
        b, cats = dataset.boxes(int(record["id"]))
        known = np.asarray([int(c) in index for c in cats], dtype=bool)
        boxes.append(m.to_input(b[known]))
        classes.append(np.asarray([index[int(c)] for c in cats[known]], dtype=np.int64))
    return boxes, classes


def label_targets(model: ImportedModel, family: str, samples: Sequence[Mapping[str, np.ndarray]],
                  boxes: Sequence[np.ndarray], classes: Sequence[np.ndarray],
                  input_hw: tuple[int, int]) -> LabelTargets:
    """Dense label targets of every sample (module docstring).

    Parameters
    ----------
    samples
        Model inputs (external layout), one per image.
    boxes, classes
        Per sample: ground-truth boxes ``[G, 4]`` (x1 y1 x2 y2) in *input* pixels and model class indices ``[G]``.
    input_hw
        Model input height and width (pixels).

    Raises
    ------
    ValueError
        A family without a detection loss, or outputs whose DFL groups are not contiguous in the IR layout.
    """
    if family not in LABEL_FAMILIES:
        raise ValueError(f"--label-loss: no detection loss for family '{family}' (families with one: "
                         f"{', '.join(LABEL_FAMILIES)})")
    ir_names = model.graph.outputs
    per_sample, positives, total, covered = [], [], 0, 0
    place = bins = None  # the same for every sample: computed with the first
    for sample, gt, cls in zip(samples, boxes, classes, strict=True):
        env: dict[str, np.ndarray] = {}
        declared = run_float(model, sample, lambda k, v: env.__setitem__(k, v) if k in ir_names else None)
        dense, n_pos, owners = LABEL_FAMILIES[family]([declared[k] for k in model.outputs], input_hw,
                                                       np.asarray(gt, np.float64).reshape(-1, 4),
                                                       np.asarray(cls, np.int64).reshape(-1))
        if place is None:
            place, bins = _placement(model, {k: env[k].shape for k in ir_names}, dense)
        flat = {k: np.zeros((4, env[k].size), np.float32) for k in ir_names}
        for name, d in zip(model.outputs, dense):
            for k, part, dst in place[name]:
                for j, a in enumerate((d.target, d.l1, d.l2, d.dfl)):
                    flat[k][j, dst] = a.reshape(-1)[part]
        per_sample.append({k: flat[k].reshape(4, *env[k].shape) for k in ir_names})
        positives.append(n_pos)
        total += len(gt)
        covered += len(owners)
    outputs = {k: tuple(np.concatenate([s[k][j] for s in per_sample]) for j in range(4)) for k in ir_names}
    return LabelTargets(outputs, bins, np.asarray(positives, np.float32), total, covered)
