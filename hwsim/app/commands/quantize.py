"""``hwsim quantize MODEL --method M [--ranges fqn|mse] --bits POLICY [--keep8 RULES] (--calibration FILE | --data DIR) --out FILE [--seed S]``.

Quantizes a float ``.onnx`` / ``.tflite`` model with calibration samples and
writes a quantized-model file (:mod:`sw.runtime.qmodel`) that
``hwsim run MODEL --quantized FILE`` and ``hwsim eval MODEL --quantized FILE``
execute. Samples are either an array file in the model's layout
(``--calibration``) or the first ``--images`` images of a COCO-format dataset
(``--data``, e.g. ``hwsim data make KIND --split calib``), preprocessed as the
detector family's own package does (:mod:`sw.detect.families`); with
``--data`` the score-logit outputs of the family get their calibrated lower
bound raised to ``--score-floor`` (default -8). ``--keep8`` keeps weighted layers
at 8 bits (:mod:`sw.train.keep`); ``--sensitivity FILE`` writes the per-layer
sensitivity (:mod:`sw.train.sensitivity`) as JSON; ``--label-loss W`` adds the detection loss
from the dataset's boxes to ``fqn`` (:mod:`sw.train.labels`). Methods:
:mod:`sw.train.methods`. Deterministic for a seed; progress on stderr.
"""

from __future__ import annotations

import argparse
import io
from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import numpy as np

from hwsim.app.commands import HELP
from hwsim.app.console import progress_wrapper
from sw.fileio import OutputPlan
from sw.graph import load_imported_model
from sw.graph.bits import parse_bits
from sw.graph.model import ImportedModel
from sw.runtime.arrays import load_samples
from sw.detect.families import SCORE_LOGIT_FLOOR
from sw.runtime.qmodel import QuantizedModel, encode_quantized, file_sha256
from sw.train.keep import DEFAULT_SENSITIVITY_SAMPLES, KeepPolicy, mixed_width, parse_keep
from sw.train.labels import LabelTargets
from sw.train.methods import METHODS, RANGE_RULES, STEPPED, quantize_plan, with_first_last
from sw.train.sensitivity import layer_sensitivity, parse_sensitivity_json, sensitivity_json

__all__ = ["register", "quantize", "DEFAULT_IMAGES"]

#: Default and largest number of --data calibration images (each is kept in memory).
DEFAULT_IMAGES = 32
MAX_IMAGES = 1000


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``quantize`` sub-command."""
    parser = subparsers.add_parser("quantize", help=HELP["quantize"],
                                   description="Quantize a float .onnx / .tflite model with calibration samples and "
                                               "write a quantized-model file (.npz) for hwsim run --quantized.")
    parser.add_argument("model", metavar="MODEL", help="float .onnx or .tflite file")
    parser.add_argument("--method", choices=METHODS, default="ptq",
                        help="ptq: FQN calibration, weights rounded to nearest; gptq: GPTQ weight rounding; "
                             "adaround: learned rounding per layer; brecq: block reconstruction (AdaRound + "
                             "LSQ activation scales, QDrop); fqn: QAT distilled from the float model "
                             "(adaround, brecq and fqn need the train extra)")
    parser.add_argument("--ranges", choices=tuple(RANGE_RULES), default="fqn",
                        help="fqn: percentile activation ranges (gamma 0.999) and per-channel min/max weights; "
                             "mse: activation and per-channel weight ranges clipped at least quantization MSE "
                             "(default fqn); minmax: activation ranges at the observed extremes, min/max weights "
                             "(FQN's ablation)")
    parser.add_argument("--symmetric-weights", action="store_true",
                        help="per-channel weight grids with zero point 0, as the RTL array multiplies them "
                             "(needed by hwsim cosim layer --quantized; --ranges fqn only)")
    parser.add_argument("--per-tensor-weights", action="store_true",
                        help="one weight range per layer instead of per output channel (ptq and fqn; FQN's "
                             "ablation)")
    parser.add_argument("--live-batch-norm", action="store_true",
                        help="fqn: train the layers that carried a batch norm unfolded, folding with each "
                             "mini-batch's statistics (FQN's ablation of frozen batch norm)")
    parser.add_argument("--learn-scales", action="store_true",
                        help="fqn: also learn every activation step size (LSQ) from its percentile start")
    parser.add_argument("--learn-weight-scales", action="store_true",
                        help="fqn: also learn every weight grid's per-channel step sizes (LSQ) from the min/max "
                             "grid, zero points kept (with --symmetric-weights the files stay RTL-executable)")
    parser.add_argument("--floor-targets", action="store_true",
                        help="fqn: distil towards the float outputs raised to their range floors (the score "
                             "logits' --score-floor), so that logits far below the floor do not dominate the loss")
    parser.add_argument("--label-loss", type=float, metavar="WEIGHT",
                        help="fqn with --data: add WEIGHT x the detector's own loss on the labelled boxes "
                             "(picodet, yolox; positive cells chosen with the float model) to the distillation")
    parser.add_argument("--ld-loss", type=float, metavar="WEIGHT",
                        help="fqn with --label-loss (picodet): add WEIGHT x localization distillation, the "
                             "cross-entropy of the box-side bin distributions against the float model's on the "
                             "positive cells")
    parser.add_argument("--warmup", type=int, default=0, metavar="N",
                        help="fqn: ramp the learning rates up linearly over the first N steps (default 0; "
                             "20 of 120 steps kept YOLOX-tiny w4a4 on 64 images from collapsing)")
    parser.add_argument("--step-lr", type=float, metavar="CODES",
                        help="fqn: the weights' learning rate in units of each output channel's weight step "
                             "(about CODES codes per step in every layer) instead of the absolute 3e-4, which "
                             "hardly moves layers with large steps (folded depthwise weights); biases keep 3e-4")
    parser.add_argument("--bits", default="8", metavar="POLICY",
                        help="4, w4a8 (or 4/8), per part e.g. 8,head=4 (parts: backbone, neck, head); default 8")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--calibration", metavar="FILE",
                        help=".npy / .npz of calibration samples stacked on axis 0 (model layout)")
    source.add_argument("--data", metavar="DIR", help="COCO dataset (DIR/annotations.json + images) whose first "
                                                      "--images images, preprocessed for the detector, are the samples")
    parser.add_argument("--images", type=int, default=DEFAULT_IMAGES, metavar="K",
                        help=f"--data: calibration images (default {DEFAULT_IMAGES}, at most {MAX_IMAGES})")
    parser.add_argument("--family", metavar="NAME", help="--data: the detector's post-processing family "
                                                         "(default: recognised from the model's outputs)")
    parser.add_argument("--out", required=True, metavar="FILE", help="quantized-model file to write (.npz)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the method's sampling (default 0)")
    parser.add_argument("--steps", type=int, metavar="N",
                        help="fqn: training steps (default 100); brecq: steps per block (default 200)")
    parser.add_argument("--plot", metavar="FILE", help="fqn, brecq: the loss curve as a PNG")
    parser.add_argument("--first-last", type=int, metavar="BITS",
                        help="widths of the first weighted layer and the weighted layers producing outputs (w and a), "
                             "e.g. 8")
    parser.add_argument("--keep8", metavar="RULES",
                        help="weighted layers kept at w8a8, rules separated by commas: first:K, last:K (topological "
                             "order), sensitive:N (the N remaining layers with the lowest output SQNR alone at the low "
                             "width), e.g. first:1,sensitive:6")
    parser.add_argument("--sensitivity", metavar="FILE",
                        help="write every weighted layer's output SQNR (dB) alone at the low width as JSON")
    parser.add_argument("--sensitivity-from", metavar="FILE",
                        help="sensitive:N ranks the layers by this --sensitivity file (same model and --bits) "
                             "instead of measuring again")
    parser.add_argument("--sensitivity-samples", type=int, default=DEFAULT_SENSITIVITY_SAMPLES, metavar="K",
                        help=f"calibration samples the sensitivity runs on (the first K; default "
                             f"{DEFAULT_SENSITIVITY_SAMPLES})")
    parser.add_argument("--score-floor", type=float, default=SCORE_LOGIT_FLOOR, metavar="LOGIT",
                        help=f"--data: lower bound of the calibrated range of the family's score-logit outputs "
                             f"(default {SCORE_LOGIT_FLOOR:g}: score 3.4e-4)")
    parser.add_argument("--no-score-floor", action="store_true", help="--data: calibrate score logits unbounded")
    parser.set_defaults(func=quantize)


def _tool_version() -> str:
    try:
        return version("hwsim")
    except PackageNotFoundError:
        return "unknown"


def _loss_png(losses: list[float], title: str, ylabel: str = "loss (relative MSE)") -> bytes:
    """PNG of the training loss per step (fqn: distillation; brecq: block reconstruction)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(range(len(losses)), losses, marker=".")
    ax.set(xlabel="step (brecq: block after block)", ylabel=ylabel, title=title)
    ax.grid(alpha=0.3)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def _dataset_samples(args: argparse.Namespace) -> tuple[list[dict], dict, dict[str, float], Callable]:
    """The first ``--images`` images of the COCO dataset ``--data``, preprocessed for the detector,
    the provenance, the range floors of the family's score-logit outputs, and a function of the
    model returning the label targets of those images (:func:`sw.train.labels.label_targets`)."""
    from sw.data.synth.coco import load_coco
    from sw.detect.evaluate import load_detector, score_logit_floors
    from sw.train.labels import input_boxes, label_targets

    if not 1 <= args.images <= MAX_IMAGES:
        raise ValueError(f"--images: expected a number in [1, {MAX_IMAGES}], got {args.images}")
    detector = load_detector(args.model, args.family)
    dataset = load_coco(args.data).subset(args.images)
    prepared = [detector.family.preprocess(dataset.load_image(r), detector.input_hw) for r in dataset.images]
    samples = [{detector.input_name: x} for x, _ in prepared]
    ids = [int(r["id"]) for r in dataset.images]
    floors = {} if args.no_score_floor else score_logit_floors(detector, samples[0], args.score_floor)

    def targets(model: ImportedModel) -> LabelTargets:
        boxes, classes = input_boxes(dataset, [m for _, m in prepared], detector.class_names)
        return label_targets(model, detector.family.name, samples, boxes, classes, detector.input_hw)

    return samples, {"data": Path(args.data).name, "family": detector.family.name,
                     "annotations_sha256": file_sha256(Path(args.data) / "annotations.json"),
                     "image_ids": ids, "samples": len(samples)}, floors, targets


def quantize(args: argparse.Namespace) -> int:
    """Execute the command; returns 0 (errors raise ValueError)."""
    data_file = None if args.data is None else str(Path(args.data) / "annotations.json")
    plan = OutputPlan(inputs=[args.model, args.calibration, data_file, args.sensitivity_from])
    if Path(args.out).suffix.lower() != ".npz":
        raise ValueError(f"{args.out}: --out must be a .npz file")
    out = plan.file(args.out, "--out")
    if args.plot is not None and (args.method not in STEPPED or Path(args.plot).suffix.lower() != ".png"):
        raise ValueError(f"{args.plot}: --plot writes the loss curve as a .png (with --method fqn or brecq)")
    plot = plan.file(args.plot, "--plot")
    if args.sensitivity is not None and Path(args.sensitivity).suffix.lower() != ".json":
        raise ValueError(f"{args.sensitivity}: --sensitivity writes a .json file")
    sensitivity_out = plan.file(args.sensitivity, "--sensitivity")
    keep = KeepPolicy() if args.keep8 is None else parse_keep(args.keep8)
    if args.keep8 is not None and args.first_last is not None:
        raise ValueError("--keep8 and --first-last: give one mixed-width policy")
    if args.sensitivity_samples < 1:
        raise ValueError(f"--sensitivity-samples: expected a number >= 1, got {args.sensitivity_samples}")
    model = load_imported_model(args.model)
    if model.prequantized:
        raise ValueError(f"{args.model}: model is pre-quantized (int8); quantize takes float models")
    if args.symmetric_weights and RANGE_RULES[args.ranges][1] != "minmax":
        raise ValueError("--symmetric-weights: min/max weight ranges only (--ranges fqn or minmax)")
    if args.per_tensor_weights and (args.method not in ("ptq", "fqn") or RANGE_RULES[args.ranges][1] != "minmax"):
        raise ValueError("--per-tensor-weights: --method ptq or fqn with min/max weight ranges (--ranges fqn or minmax)")
    if args.per_tensor_weights and (keep.sensitive or args.sensitivity or args.sensitivity_from):
        raise ValueError("--per-tensor-weights: the sensitivity study measures per-channel weights; "
                         "give --keep8 without sensitive:N")
    for flag, on, why in (("--learn-scales", args.learn_scales, " (brecq always learns the scales)"),
                          ("--learn-weight-scales", args.learn_weight_scales, ""),
                          ("--floor-targets", args.floor_targets, ""),
                          ("--live-batch-norm", args.live_batch_norm, ""), ("--warmup", args.warmup, ""),
                          ("--step-lr", args.step_lr is not None, "")):
        if on and args.method != "fqn":
            raise ValueError(f"{flag} applies to --method fqn only{why}")
    if args.label_loss is not None and (args.method != "fqn" or args.data is None):
        raise ValueError("--label-loss applies to --method fqn with --data (the labelled images) only")
    if args.ld_loss is not None and args.label_loss is None:
        raise ValueError("--ld-loss applies with --label-loss only (its positive cells)")
    if args.step_lr is not None and args.live_batch_norm:
        raise ValueError("--step-lr: not with --live-batch-norm (its layers train unfolded, off the weight grids)")
    if args.step_lr is not None and not (np.isfinite(args.step_lr) and args.step_lr > 0.0):
        raise ValueError(f"--step-lr: expected a rate > 0 (codes per step), got {args.step_lr}")
    for flag, weight in (("--label-loss", args.label_loss), ("--ld-loss", args.ld_loss)):
        if weight is not None and not (np.isfinite(weight) and weight > 0.0):
            raise ValueError(f"{flag}: expected a weight > 0, got {weight}")
    if args.warmup < 0 or (args.warmup and args.steps is not None and args.warmup > args.steps):
        raise ValueError(f"--warmup: expected 0 to --steps steps, got {args.warmup}")
    if args.steps is not None and args.method not in STEPPED:
        raise ValueError(f"--steps applies to --method {', '.join(sorted(STEPPED))} only")
    model = model.with_bits(parse_bits(args.bits))
    if args.first_last is not None:
        model = with_first_last(model, args.first_last)
    floors: dict[str, float] = {}
    targets = None
    if args.data is not None:
        samples, source, floors, targets = _dataset_samples(args)
    else:
        if args.images != DEFAULT_IMAGES or args.family is not None or args.no_score_floor \
                or args.score_floor != SCORE_LOGIT_FLOOR:
            raise ValueError("--images, --family, --score-floor and --no-score-floor apply to --data only")
        samples = load_samples(args.calibration, {n: model.native_shapes[n] for n in model.input_names})
        source = {"name": Path(args.calibration).name, "sha256": file_sha256(args.calibration),
                  "samples": len(samples)}
    sensitivity = None
    if args.sensitivity_from is not None:
        if sensitivity_out is not None:
            raise ValueError("--sensitivity-from and --sensitivity: read the study or measure it, not both")
        try:
            text = Path(args.sensitivity_from).read_text()
        except (OSError, UnicodeDecodeError) as exc:
            raise ValueError(f"{args.sensitivity_from}: cannot read the --sensitivity-from file ({exc})") from None
        sensitivity = parse_sensitivity_json(text, model, args.sensitivity_from)
    elif keep.sensitive or sensitivity_out is not None:
        act_ranges, weight_ranges = RANGE_RULES[args.ranges]
        sensitivity = layer_sensitivity(model, samples[:args.sensitivity_samples], ranges=act_ranges,
                                        weight_ranges=weight_ranges, symmetric_weights=args.symmetric_weights,
                                        floors=floors,
                                        progress=progress_wrapper("sensitivity layers"))
    model, kept, _ = mixed_width(model, keep, samples, sensitivity=sensitivity)
    labels = targets(model) if args.label_loss is not None else None
    losses: list[float] = []
    integer = quantize_plan(model, samples, args.method, args.seed, progress_wrapper(f"{args.method} samples/layers/steps"),
                            steps=args.steps, losses=losses, ranges=args.ranges,
                            symmetric_weights=args.symmetric_weights, floors=floors, learn_scales=args.learn_scales,
                            learn_weight_scales=args.learn_weight_scales,
                            granularity="per_tensor" if args.per_tensor_weights else "per_channel",
                            live_batch_norm=args.live_batch_norm, labels=labels,
                            label_weight=1.0 if labels is None else args.label_loss, warmup=args.warmup,
                            floor_targets=args.floor_targets, ld_weight=args.ld_loss or 0.0, step_lr=args.step_lr)
    provenance = {"method": args.method, "ranges": args.ranges, "symmetric_weights": args.symmetric_weights,
                  "learn_scales": args.learn_scales, "learn_weight_scales": args.learn_weight_scales,
                  "floor_targets": args.floor_targets, "ld_loss": args.ld_loss, "step_lr": args.step_lr,
                  "per_tensor_weights": args.per_tensor_weights,
                  "live_batch_norm": args.live_batch_norm, "warmup": args.warmup,
                  "label_loss": None if labels is None else labels.provenance(args.label_loss),
                  "bits": args.bits, "first_last": args.first_last, "keep8": args.keep8, "kept": list(kept),
                  "score_floors": floors, "seed": args.seed,
                  "tool": f"hwsim {_tool_version()}", "losses": losses,
                  "calibration": source}
    qm = QuantizedModel(integer, {l.name: (l.w_bits, l.a_bits) for l in model.graph}, Path(args.model).name,
                        file_sha256(args.model), provenance)
    plan.stage(out, encode_quantized(qm))
    if sensitivity_out is not None:
        plan.stage(sensitivity_out, sensitivity_json(sensitivity, Path(args.model).name, args.bits,
                                                     min(len(samples), args.sensitivity_samples)).encode())
    if plot is not None:
        plan.stage(plot, _loss_png(losses, f"{Path(args.model).name}: {args.method}, bits {args.bits}",
                                   "loss (relative MSE)" if labels is None else
                                   f"relative MSE + {args.label_loss:g} x label loss"))
    plan.commit()
    curve = f"; loss {losses[0]:.4g} -> {losses[-1]:.4g} in {len(losses) - 1} steps" if losses else ""
    kept_note = f"; kept at 8 bits: {', '.join(kept)}" if kept else ""
    floor_note = "".join(f"; {n} range floored at {f:g}" for n, f in floors.items())
    label_note = "" if labels is None else (f"; label loss x{args.label_loss:g} on {int(labels.positives.sum())} positive cells "
                                            f"covering {labels.covered} of {labels.boxes} boxes")
    print(f"{args.model}: {args.method} ({args.ranges} ranges) at bits {args.bits} on {len(samples)} samples"
          f"{curve}{kept_note}{floor_note}{label_note}; wrote {args.out}")
    return 0
