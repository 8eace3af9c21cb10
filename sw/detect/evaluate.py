"""Detector evaluation on COCO datasets: float and integer model runs, decoding, COCO mAP, agreement.

A :class:`Detector` is a model file with its family (:mod:`sw.detect.families`);
a *backend* maps a preprocessed input tensor to the raw outputs in file order:

* :func:`float_backend`: the float64 reference executor (:func:`sw.runtime.floatexec.run_float`);
* :func:`integer_backend`: the integer golden model, FQN-calibrated once on
  calibration images (:func:`sw.runtime.executor.calibrate`, then
  :func:`sw.runtime.integer.plan_calibrated` and :func:`sw.runtime.integer.run_integer`,
  the functions ``hwsim run`` uses), outputs dequantized;
* :func:`onnxruntime_backend`: onnxruntime on the same file (dev extra), the
  external reference for the float path.

:func:`evaluate` runs backends over a dataset (optionally on threads: numpy
releases the GIL; results are identical and in image order), scores each with
pycocotools and matches every backend's detections to the first backend's
(agreement with the float model).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sw.data.synth.coco import CocoDataset
from sw.detect.boxes import Agreement, Detections, match_detections
from sw.detect.coco_eval import CocoMetrics, coco_metrics, detections_to_coco
from sw.detect.families import Family, detect_family, get_family
from sw.graph import load_imported_model
from sw.graph.bits import BitPolicy
from sw.graph.model import ImportedModel
from sw.runtime.integer import IntegerPlan
from sw.runtime.qmodel import QuantizedModel

__all__ = ["Detector", "load_detector", "Backend", "float_backend", "integer_backend", "quantized_backend",
           "planned_backend", "onnxruntime_backend",
           "category_map", "EvalResult", "evaluate", "AGREEMENT_SCORE", "AGREEMENT_IOU"]

Backend = Callable[[np.ndarray], list[np.ndarray]]
#: Operating point of the agreement figures: detections scoring at least this, matched at IoU >= 0.5.
AGREEMENT_SCORE = 0.5
AGREEMENT_IOU = 0.5


@dataclass(frozen=True)
class Detector:
    """A detector model file: its imported model, family, input geometry and class names."""

    path: Path
    model: ImportedModel
    family: Family
    input_name: str
    input_hw: tuple[int, int]
    class_names: tuple[str, ...]


def _onnx_outputs(path: Path) -> tuple[list[tuple | None], dict[str, str]]:
    """Declared output shapes and metadata of an ONNX file."""
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    shapes = []
    for out in model.graph.output:
        dims = out.type.tensor_type.shape.dim
        shapes.append(tuple(d.dim_value if d.HasField("dim_value") else None for d in dims) or None)
    return shapes, {p.key: p.value for p in model.metadata_props}


def load_detector(path: str | os.PathLike[str], family: str | None = None) -> Detector:
    """Import ``path`` (.onnx / .tflite) and find its family (``family`` or from its outputs).

    Raises
    ------
    ValueError
        Unknown family name, a file the importers refuse, or outputs no family matches.
    """
    fam = get_family(family) if family is not None else None  # a bad --family fails before any import
    path = Path(path)
    model = load_imported_model(path)
    if len(model.input_names) != 1:
        raise ValueError(f"{path}: expected a detector with one input, got {len(model.input_names)}")
    name = model.input_names[0]
    shape = model.native_shapes[name]
    hw = (int(shape[2]), int(shape[3])) if model.layout == "nchw" else (int(shape[1]), int(shape[2]))
    meta: dict[str, str] = {}
    shapes: list[tuple | None] = [None] * len(model.outputs)
    if path.suffix.lower() == ".onnx":
        shapes, meta = _onnx_outputs(path)
    if fam is None:
        fam = detect_family(str(path), model.outputs, shapes)
    names = tuple(meta["character"].split("\n")) if "character" in meta else fam.class_names
    return Detector(path, model, fam, name, hw, names)


def score_logit_floors(detector: Detector, sample: Mapping[str, np.ndarray], floor: float) -> dict[str, float]:
    """``{output: floor}`` for the outputs the detector's family decodes with a sigmoid (score logits).

    ``sample`` (one preprocessed input) gives the output shapes the family's rule
    reads; families whose graphs apply the sigmoid themselves have none.
    """
    from sw.runtime.floatexec import run_float

    if detector.family.score_logits is None:
        return {}
    outputs = run_float(detector.model, sample)
    names = detector.family.score_logit_outputs(list(outputs), [np.shape(v) for v in outputs.values()])
    return {n: floor for n in names}


def float_backend(detector: Detector) -> Backend:
    """The float64 reference executor."""
    from sw.runtime.floatexec import run_float

    def run(x: np.ndarray) -> list[np.ndarray]:
        out = run_float(detector.model, {detector.input_name: x})
        return [out[n] for n in detector.model.outputs]

    return run


def integer_backend(detector: Detector, bits: BitPolicy | None, calibration: Sequence[np.ndarray],
                    score_floor: float | None = None) -> Backend:
    """The integer golden model at ``bits`` (None: the graph's widths), calibrated on preprocessed inputs.

    ``score_floor``: lower bound (a logit) of the calibrated ranges of the family's
    score-logit outputs (:func:`score_logit_floors`), as ``hwsim quantize --data`` applies;
    ``None``: unbounded.
    """
    from sw.runtime.executor import calibrate
    from sw.runtime.integer import plan_calibrated

    if not calibration:
        raise ValueError("calibration: no images")
    model = detector.model.with_bits(bits) if bits is not None else detector.model
    samples = [{detector.input_name: np.asarray(x, dtype=np.float64)} for x in calibration]
    floors = {} if score_floor is None else score_logit_floors(detector, samples[0], score_floor)
    params = calibrate(model, samples, floors=floors)
    return planned_backend(detector, model, plan_calibrated(model, params))


def quantized_backend(detector: Detector, quantized: QuantizedModel) -> Backend:
    """The integer golden model with a quantized-model file's widths and parameters (no calibration)."""
    return planned_backend(detector, quantized.apply_bits(detector.model), quantized.plan)


def planned_backend(detector: Detector, model: ImportedModel, plan: IntegerPlan) -> Backend:
    """The integer golden model of ``model`` (the detector's graph at its widths) with a ready plan.

    The input is quantized with the plan's input parameters (round half away from
    zero, clamped to the input width: :meth:`sw.quant.QuantParams.quantize`); the
    outputs are dequantized to reals ``scale * (code - zero_point)``.
    """
    from sw.runtime.integer import run_integer

    p_in = plan.params.get(detector.input_name)

    def run(x: np.ndarray) -> list[np.ndarray]:
        codes = np.asarray(x, dtype=np.float64) if p_in is None else p_in.quantize(np.asarray(x, dtype=np.float64))
        out = run_integer(model, plan, {detector.input_name: codes})
        return [plan.params[n].dequantize(out[n]) if out[n].dtype.kind in "iu" else out[n] for n in model.outputs]

    return run


def onnxruntime_backend(path: str | os.PathLike[str]) -> Backend:
    """onnxruntime (single thread, CPU) running the file: the float path's external reference."""
    try:
        import onnxruntime as ort
    except ImportError:
        raise ValueError("onnxruntime is not installed: pip install 'hwsim[dev]'") from None
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name

    def run(x: np.ndarray) -> list[np.ndarray]:
        return [np.asarray(o) for o in session.run(None, {name: np.asarray(x, dtype=np.float32)})]

    return run


def category_map(class_names: Sequence[str], dataset: CocoDataset) -> np.ndarray:
    """Dataset category id of each model class: by name, else by order when the counts agree."""
    cats = dataset.categories
    by_name = {n: i for i, n in cats.items()}
    if all(n in by_name for n in class_names):
        return np.asarray([by_name[n] for n in class_names], dtype=np.int64)
    if len(cats) == len(class_names):
        return np.asarray(sorted(cats), dtype=np.int64)
    raise ValueError(f"{dataset.annotation_path}: categories ({', '.join(cats.values())}) match neither the model's "
                     f"class names ({', '.join(class_names)}) nor their number")


@dataclass(frozen=True)
class EvalResult:
    """Metrics per backend, agreement of each backend with the first one, and speed."""

    metrics: Mapping[str, CocoMetrics]
    agreement: Mapping[str, Agreement]
    detections: Mapping[str, list[Detections]]
    seconds: float
    images: int

    def as_dict(self) -> dict:
        agree = {}
        for name, a in self.agreement.items():
            ref = a.matched + a.lost
            agree[name] = {"matched": a.matched, "lost": a.lost, "gained": a.gained, "mean_iou": a.mean_iou,
                           "mean_abs_score_diff": a.mean_abs_score_diff,
                           "recall_of_reference": a.matched / ref if ref else float("nan"),
                           "precision_vs_reference": a.matched / (a.matched + a.gained) if a.matched + a.gained else float("nan")}
        return {"images": self.images, "seconds": self.seconds,
                "images_per_second": self.images / self.seconds if self.seconds > 0 else None,
                "metrics": {k: v.as_dict() for k, v in self.metrics.items()}, "agreement": agree,
                "agreement_operating_point": {"score": AGREEMENT_SCORE, "iou": AGREEMENT_IOU}}


def _pool(agreements: Sequence[Agreement]) -> Agreement:
    matched = sum(a.matched for a in agreements)
    weights = [a.matched for a in agreements if a.matched]
    iou = float(np.average([a.mean_iou for a in agreements if a.matched], weights=weights)) if weights else float("nan")
    diff = float(np.average([a.mean_abs_score_diff for a in agreements if a.matched], weights=weights)) if weights else float("nan")
    return Agreement(matched, iou, diff, sum(a.lost for a in agreements), sum(a.gained for a in agreements))


def _above(det: Detections, score: float) -> Detections:
    keep = det.scores >= score
    return Detections(det.boxes[keep], det.scores[keep], det.classes[keep])


def evaluate(detector: Detector, dataset: CocoDataset, backends: Mapping[str, Backend], *,
             score_threshold: float | None = None, jobs: int = 1,
             progress: Callable[[int], None] | None = None) -> EvalResult:
    """Run every backend on every image of ``dataset``, decode, score and compare.

    Parameters
    ----------
    backends
        Name -> backend; the first is the reference of the agreement figures.
    score_threshold
        Detections kept for mAP (default: the family's).
    jobs
        Images processed concurrently (threads).
    progress
        Called with 1 after each image.
    """
    if not backends:
        raise ValueError("evaluate: no backend")
    if jobs < 1:
        raise ValueError(f"--jobs: expected a positive number of threads, got {jobs}")
    cat_ids = category_map(detector.class_names, dataset)
    records = dataset.images
    fam, hw = detector.family, detector.input_hw

    def one(record: dict) -> dict[str, Detections]:
        x, input_map = fam.preprocess(dataset.load_image(record), hw)
        out = {name: fam.detect(backend(x), hw, input_map, score_threshold) for name, backend in backends.items()}
        if progress:
            progress(1)
        return out

    t0 = time.perf_counter()
    if jobs > 1:
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            per_image = list(pool.map(one, records))
    else:
        per_image = [one(r) for r in records]
    seconds = time.perf_counter() - t0
    names = list(backends)
    detections = {n: [d[n] for d in per_image] for n in names}
    metrics = {}
    for n in names:
        results = []
        for record, det in zip(records, detections[n]):
            if det.classes.size and det.classes.max() >= len(cat_ids):
                raise ValueError(f"{detector.path}: class index {det.classes.max()} beyond the {len(cat_ids)} class names")
            results += detections_to_coco(int(record["id"]), det.boxes, det.scores, cat_ids[det.classes])
        metrics[n] = coco_metrics(dataset, results)
    reference = names[0]
    agreement = {n: _pool([match_detections(_above(r, AGREEMENT_SCORE), _above(t, AGREEMENT_SCORE), AGREEMENT_IOU)
                           for r, t in zip(detections[reference], detections[n])]) for n in names[1:]}
    return EvalResult(metrics, agreement, detections, seconds, len(records))
