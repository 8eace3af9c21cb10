"""Quantization methods on the real detectors: every method at every width, exported, re-imported and scored.

For one detector (:data:`hwsim.app.studies.detection.STUDIES`) and every ``(method,
bits)`` row, the study does what ``hwsim quantize MODEL --method M --bits B --data CAL
--images K --out FILE`` does (the same samples: the first ``K`` images of the calibration
split, preprocessed by the detector's family; the same score-logit range floor,
:data:`sw.detect.families.SCORE_LOGIT_FLOOR`; the same :func:`sw.train.methods.quantize_plan`),
writes the quantized-model file, reads it back with :func:`sw.runtime.qmodel.load_quantized`
and scores the file (not the in-memory plan) with ``hwsim eval``'s machinery on the
evaluation split. The figures are therefore those of ``hwsim eval MODEL --data EVAL
--quantized FILE`` on the file the row names. The time of each row is the time of its
quantization (calibration, the method's optimisation and the export) on this machine.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from hwsim.app.studies.detection import CALIB_SEED, EVAL_SEED, DatasetInfo, StudySpec, prepare_dataset
from sw.data.synth.coco import load_coco
from sw.detect.boxes import Agreement
from sw.detect.coco_eval import CocoMetrics
from sw.detect.evaluate import (Backend, Detector, evaluate, float_backend, load_detector, quantized_backend,
                                score_logit_floors)
from sw.detect.families import SCORE_LOGIT_FLOOR
from sw.fileio import OutputPlan
from sw.graph.bits import parse_bits
from sw.runtime.qmodel import QuantizedModel, encode_quantized, file_sha256, load_quantized
from sw.train.keep import mixed_width, parse_keep
from sw.train.labels import LABEL_FAMILIES, input_boxes, label_targets
from sw.train.methods import METHODS, STEPPED, quantize_plan
from sw.train.sensitivity import LayerSensitivity

__all__ = ["MethodRow", "MethodResult", "MethodsResult", "parse_methods", "parse_steps", "run_methods_study", "VARIANTS"]

#: Warm-up steps of the ``warmup`` variant (``hwsim quantize --warmup``).
VARIANT_WARMUP = 20

#: Weight learning rate of the ``slr`` variant, in weight steps (``hwsim quantize --step-lr``).
VARIANT_STEP_LR = 0.01

#: Row variants (``--methods fqn+live-bn``): name -> (``hwsim quantize`` flags, methods it applies to).
#: FQN's ablation under fine-tuning is ``fqn,fqn+minmax,fqn+per-tensor,fqn+live-bn``.
VARIANTS: dict[str, tuple[str, frozenset[str]]] = {
    "minmax": ("--ranges minmax", frozenset(METHODS)),
    "mse": ("--ranges mse", frozenset(METHODS)),
    "per-tensor": ("--per-tensor-weights", frozenset({"ptq", "fqn"})),
    "live-bn": ("--live-batch-norm", frozenset({"fqn"})),
    "lsq": ("--learn-scales", frozenset({"fqn"})),
    "lsqw": ("--learn-weight-scales", frozenset({"fqn"})),
    "sym": ("--symmetric-weights", frozenset(METHODS)),
    "labels": ("--label-loss 1", frozenset({"fqn"})),
    "ld": ("--ld-loss 1", frozenset({"fqn"})),
    "floored": ("--floor-targets", frozenset({"fqn"})),
    "warmup": (f"--warmup {VARIANT_WARMUP}", frozenset({"fqn"})),
    "slr": (f"--step-lr {VARIANT_STEP_LR}", frozenset({"fqn"})),
}


@dataclass(frozen=True)
class MethodRow:
    """One row: a method at a width policy, with its optional number of training steps.

    Attributes
    ----------
    method
        One of :data:`sw.train.methods.METHODS`.
    bits
        Width policy in ``--bits`` syntax (:func:`sw.graph.bits.parse_bits`).
    steps
        Training steps of a method in :data:`sw.train.methods.STEPPED` (``None``: its default).
    keep8
        Layers kept at 8 bits, in ``--keep8`` syntax (:func:`sw.train.keep.parse_keep`; ``None``: none).
    variants
        Keys of :data:`VARIANTS` applied to the method (e.g. FQN's ablation switches).
    """

    method: str
    bits: str
    steps: int | None = None
    keep8: str | None = None
    variants: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        """The method with its variants, as ``--methods`` spells it (``fqn+live-bn``)."""
        return "+".join((self.method, *self.variants))

    def options(self) -> dict:
        """Keyword arguments of :func:`sw.train.methods.quantize_plan` for the variants (labels aside)."""
        v = self.variants
        return {"ranges": "minmax" if "minmax" in v else "mse" if "mse" in v else "fqn",
                "granularity": "per_tensor" if "per-tensor" in v else "per_channel",
                "live_batch_norm": "live-bn" in v, "learn_scales": "lsq" in v,
                "learn_weight_scales": "lsqw" in v, "symmetric_weights": "sym" in v,
                "floor_targets": "floored" in v, "ld_weight": 1.0 if "ld" in v else 0.0,
                "warmup": VARIANT_WARMUP if "warmup" in v else 0,
                "step_lr": VARIANT_STEP_LR if "slr" in v else None}

    @property
    def stem(self) -> str:
        """File-name stem of the row's quantized-model file, e.g. ``gptq_w4a8`` or ``ptq_4_k-first-1``."""
        def safe(text: str) -> str:
            return "".join(c if c.isalnum() else "-" for c in text)
        return (f"{safe(self.name)}_{safe(self.bits)}" + ("" if self.steps is None else f"_s{self.steps}")
                + ("" if self.keep8 is None else f"_k{safe(self.keep8)}"))

    def command(self, spec: StudySpec, images: int) -> str:
        """The ``hwsim quantize`` command that writes the same file."""
        steps = "" if self.steps is None else f" --steps {self.steps}"
        keep = "" if self.keep8 is None else f" --keep8 {self.keep8}"
        flags = "".join(f" {VARIANTS[v][0]}" for v in self.variants)
        return (f"hwsim quantize MODEL --method {self.method}{flags} --bits {self.bits}{steps}{keep} --data CAL "
                f"--images {images} --out {self.stem}.npz")


@dataclass(frozen=True)
class MethodResult:
    """A row's scores on the evaluation split, its quantization time and the training loss curve."""

    row: MethodRow
    metrics: CocoMetrics
    agreement: Agreement
    seconds: float
    losses: tuple[float, ...]
    file: Path
    file_bytes: int
    kept: tuple[str, ...] = ()


@dataclass(frozen=True)
class MethodsResult:
    """Every row of one detector, the float reference, and the data behind them."""

    spec: StudySpec
    detector: Detector
    evaluation_data: DatasetInfo
    calibration_data: DatasetInfo
    float_metrics: CocoMetrics
    rows: tuple[MethodResult, ...]
    seconds: Mapping[str, float] = field(default_factory=dict)


def parse_steps(text: str | None) -> int | dict[str, int] | None:
    """``--steps``: ``N`` for every stepped method, or ``METHOD=N,...`` per method (e.g. ``brecq=20,fqn=120``)."""
    if text is None:
        return None
    try:
        if "=" not in text:
            return int(text)
        pairs = [item.split("=") for item in text.split(",")]
        steps = {m.strip(): int(n) for m, n in pairs}
    except ValueError:
        raise ValueError(f"--steps: expected N or METHOD=N,... (e.g. brecq=20,fqn=120), got {text!r}") from None
    bad = [m for m in steps if m not in STEPPED]
    if bad or len(steps) != len(pairs):
        raise ValueError(f"--steps: methods with steps are {', '.join(sorted(STEPPED))}, each once; got {text!r}")
    return steps


def parse_methods(methods: str, bits: Sequence[str], steps: int | Mapping[str, int] | None,
                  keeps: Sequence[str | None] = (None,)) -> tuple[MethodRow, ...]:
    """Rows of ``--methods`` (comma-separated, each ``METHOD[+VARIANT...]``) x ``--method-bits`` policies x
    ``--method-keep8`` rules.

    ``steps``: one count for every stepped method, or a count per method (:func:`parse_steps`; methods
    not named keep their defaults). ``keeps``: ``--keep8`` rules, ``None`` for a row without 8-bit layers.
    ValueError naming the option.
    """
    names = [m.strip() for m in methods.split(",")]
    parsed = [(name, name.split("+")[0], tuple(name.split("+")[1:])) for name in names]
    bad = [name for name, method, _ in parsed if method not in METHODS]
    if not methods.strip() or bad:
        raise ValueError(f"--methods: expected comma-separated names from {', '.join(METHODS)}, got {methods!r}")
    if len(set(names)) != len(names):
        raise ValueError(f"--methods: each method once, got {methods!r}")
    for name, method, variants in parsed:
        for v in variants:
            if v not in VARIANTS or method not in VARIANTS[v][1]:
                known = ", ".join(k for k, (_, ms) in VARIANTS.items() if method in ms)
                raise ValueError(f"--methods: {name!r}: variant {v!r} of {method} unknown (known: {known})")
        if len(set(variants)) != len(variants) or {"minmax", "mse"} <= set(variants):
            raise ValueError(f"--methods: {name!r}: each variant once, and one range rule")
        if {"sym", "mse"} <= set(variants):
            raise ValueError(f"--methods: {name!r}: symmetric weights take min/max ranges, not mse")
        if "ld" in variants and "labels" not in variants:
            raise ValueError(f"--methods: {name!r}: ld needs labels (their positive cells)")
    policies = [(b, parse_bits(b, "--method-bits")) for b in bits]
    per_method = steps if isinstance(steps, Mapping) else {m: steps for m in STEPPED if steps is not None}
    if any(n < 0 for n in per_method.values()):
        raise ValueError(f"--steps: expected counts >= 0, got {steps}")
    for k in keeps:
        if k is not None:
            parse_keep(k, "--method-keep8")
    if len(set(keeps)) != len(keeps):
        raise ValueError("--method-keep8: each policy once")
    rows = []
    for b, policy in policies:
        all8 = policy.default == (8, 8) and all(v == (8, 8) for v in (policy.parts or {}).values())
        # keeping layers at 8 bits changes nothing in an all-8-bit policy: one row per method
        rows += [MethodRow(method, b, per_method.get(method), k, variants) for k in keeps
                 for _, method, variants in parsed if k is None or not all8]
    if not rows:
        raise ValueError("--method-keep8: every row keeps layers at 8 bits of an all-8-bit policy; add 'none'")
    return tuple(rows)


def run_methods_study(spec: StudySpec, rows: Sequence[MethodRow], *, eval_images: int, calibration_images: int,
                      cache: Path, files: Path, seed: int = 0, jobs: int = 1,
                      log: Callable[[str], None] = lambda _: None) -> MethodsResult:
    """Quantize, export, re-import and score every row (module docstring).

    Parameters
    ----------
    cache
        Directory of the generated datasets (reused across runs).
    files
        Directory the quantized-model files are written to (``<stem>.npz`` per row).
    seed
        Seed of every method's sampling.
    """
    t0 = time.perf_counter()
    model_path = spec.model_path()
    detector = load_detector(model_path)
    if any("labels" in row.variants for row in rows) and detector.family.name not in LABEL_FAMILIES:
        raise ValueError(f"--methods: variant 'labels': no detection loss for {spec.name}'s family "
                         f"'{detector.family.name}' (families with one: {', '.join(LABEL_FAMILIES)})")
    data = prepare_dataset(spec.kind, eval_images, EVAL_SEED, "eval", cache)
    calib = prepare_dataset(spec.kind, calibration_images, CALIB_SEED, "calib", cache)
    calib_set = load_coco(calib.path)
    prepared = [detector.family.preprocess(calib_set.load_image(r), detector.input_hw) for r in calib_set.images]
    samples = [{detector.input_name: x} for x, _ in prepared]
    sha = file_sha256(model_path)
    floors = score_logit_floors(detector, samples[0], SCORE_LOGIT_FLOOR)
    files = Path(files)
    OutputPlan().directory(files, "quantized-model directory")
    files.mkdir(parents=True, exist_ok=True)
    backends: dict[str, Backend] = {"float": float_backend(detector)}
    made: list[tuple[MethodRow, float, tuple[float, ...], Path, tuple[str, ...]]] = []
    sensitivities: dict[str, tuple[LayerSensitivity, ...] | None] = {}
    for row in rows:
        log(f"{spec.name}: {row.name} at bits {row.bits}" + ("" if row.keep8 is None else f", keep8 {row.keep8}"))
        t = time.perf_counter()
        model = detector.model.with_bits(parse_bits(row.bits))
        kept: tuple[str, ...] = ()
        if row.keep8 is not None:  # the sensitivity of a width policy is measured once, for every method
            model, kept, sensitivities[row.bits] = mixed_width(model, parse_keep(row.keep8, "--method-keep8"),
                                                               samples, sensitivity=sensitivities.get(row.bits),
                                                               floors=floors)
        losses: list[float] = []
        labels = None
        if "labels" in row.variants:
            boxes, classes = input_boxes(calib_set, [m for _, m in prepared], detector.class_names)
            labels = label_targets(model, detector.family.name, samples, boxes, classes, detector.input_hw)
        options = row.options()
        plan = quantize_plan(model, samples, row.method, seed, steps=row.steps, losses=losses, floors=floors,
                             labels=labels, **options)
        provenance = {"method": row.method, "ranges": options["ranges"],
                      "symmetric_weights": options["symmetric_weights"],
                      "per_tensor_weights": options["granularity"] == "per_tensor",
                      "live_batch_norm": options["live_batch_norm"], "learn_scales": options["learn_scales"],
                      "learn_weight_scales": options["learn_weight_scales"],
                      "floor_targets": options["floor_targets"], "ld_loss": options["ld_weight"] or None,
                      "warmup": options["warmup"], "step_lr": options["step_lr"],
                      "label_loss": None if labels is None else labels.provenance(1.0), "bits": row.bits,
                      "first_last": None, "keep8": row.keep8, "kept": list(kept), "score_floors": floors,
                      "seed": seed, "tool": "hwsim report (methods study)", "losses": losses,
                      "calibration": {"data": calib.path.name, "family": detector.family.name,
                                      "image_ids": [int(r["id"]) for r in calib_set.images],
                                      "samples": len(samples)}}
        qm = QuantizedModel(plan, {l.name: (l.w_bits, l.a_bits) for l in model.graph}, model_path.name, sha, provenance)
        path = files / f"{row.stem}.npz"
        out = OutputPlan(inputs=[str(model_path)])
        out.stage(out.file(str(path), "quantized-model file"), encode_quantized(qm))
        out.commit()
        seconds = time.perf_counter() - t
        backends[row.stem] = quantized_backend(detector, load_quantized(path, detector.model, model_path))
        made.append((row, seconds, tuple(losses), path, kept))
    t1 = time.perf_counter()
    log(f"{spec.name}: scoring {len(backends)} backends on {data.images} images")
    result = evaluate(detector, load_coco(data.path), backends, jobs=jobs)
    t2 = time.perf_counter()
    out_rows = tuple(MethodResult(row, result.metrics[row.stem], result.agreement[row.stem], seconds, losses, path,
                                  path.stat().st_size, kept) for row, seconds, losses, path, kept in made)
    return MethodsResult(spec, detector, data, calib, result.metrics["float"], out_rows,
                         {"quantization": t1 - t0, "evaluation": t2 - t1, "total": t2 - t0})
