"""``hwsim eval MODEL --data DIR [--bits POLICY] [--limit N] [--json F]``: COCO mAP of a detector, float and integer.

MODEL is an .onnx / .tflite detector of a known family (``--family`` or
recognised from its outputs: yolox, picodet, blazeface). Every image of the COCO
dataset DIR is preprocessed as the family's own package does, run through the
float64 reference and (unless ``--float`` / ``--bits 32``) the integer golden
model at ``--bits`` (default 8), decoded with the family's post-processing and
scored with pycocotools: mAP@[.5:.95], mAP50, mAP75 and per-class AP, plus the
agreement of the integer detections with the float ones (score >= 0.5, IoU >= 0.5).

The integer model is FQN-calibrated (percentile observers) on ``--calibration
DIR`` (a COCO dataset; its first ``--calibration-images`` images), by default on
``--calibration-images`` images of the family's synthetic calibration split
(``hwsim data make KIND --split calib --seed 0``, rendered in memory), which
shares no content with evaluation splits. ``--quantized FILE`` instead runs a
quantized-model file from ``hwsim quantize`` (its widths and parameters; no
calibration), the way ``hwsim run --quantized`` does.
"""

from __future__ import annotations

import argparse
import json
import math
import sys

from tqdm import tqdm

from hwsim.app.commands import HELP
from sw.data.synth import render_images
from sw.data.synth.coco import load_coco
from sw.detect.evaluate import (AGREEMENT_IOU, AGREEMENT_SCORE, evaluate, float_backend, integer_backend,
                                load_detector, quantized_backend)
from sw.detect.families import FAMILIES, SCORE_LOGIT_FLOOR
from sw.fileio import OutputPlan
from sw.graph.bits import parse_bits
from sw.runtime.qmodel import load_quantized

__all__ = ["register", "run", "CALIBRATION_KIND", "DEFAULT_CALIBRATION_IMAGES"]

#: Synthetic calibration data of each family (``hwsim data make KIND --split calib``).
CALIBRATION_KIND = {"yolox": "chars", "picodet": "layout", "blazeface": "faces"}
DEFAULT_CALIBRATION_IMAGES = 16
#: Most calibration images (each runs through the float model and is kept in memory).
MAX_CALIBRATION_IMAGES = 1000
#: Most concurrent images.
MAX_JOBS = 64


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``eval`` sub-command."""
    parser = subparsers.add_parser("eval", help=HELP["eval"],
                                   description="Score a detector file on a COCO-format dataset: float reference and "
                                               "integer golden model, pycocotools mAP, agreement with the float model.")
    parser.add_argument("model", metavar="MODEL", help=".onnx or .tflite detector file")
    parser.add_argument("--data", required=True, metavar="DIR", help="COCO dataset: DIR/annotations.json and images")
    parser.add_argument("--family", metavar="NAME", help=f"post-processing family ({', '.join(FAMILIES)}); "
                                                         "default: recognised from the model's outputs")
    parser.add_argument("--bits", metavar="POLICY", help="integer widths: 4, w4a8, 8,head=4 ...; 32 = float only "
                                                         "(default 8)")
    parser.add_argument("--float", action="store_true", help="evaluate the float model only (same as --bits 32)")
    parser.add_argument("--calibration", metavar="DIR", help="COCO dataset whose images calibrate the integer model "
                                                             "(default: the family's synthetic calibration split)")
    parser.add_argument("--score-floor", type=float, default=SCORE_LOGIT_FLOOR, metavar="LOGIT",
                        help=f"integer model calibrated here: lower bound of the calibrated range of the family's "
                             f"score-logit outputs, as hwsim quantize --data applies (default {SCORE_LOGIT_FLOOR:g})")
    parser.add_argument("--no-score-floor", action="store_true",
                        help="integer model calibrated here: score logits unbounded")
    parser.add_argument("--calibration-images", type=int, default=DEFAULT_CALIBRATION_IMAGES, metavar="K",
                        help=f"calibration images (default {DEFAULT_CALIBRATION_IMAGES})")
    parser.add_argument("--quantized", metavar="FILE", help="a quantized-model file from hwsim quantize for MODEL "
                                                            "(its widths and parameters; no calibration)")
    parser.add_argument("--limit", type=int, metavar="N", help="evaluate the first N images only")
    parser.add_argument("--score-threshold", type=float, metavar="S",
                        help="keep detections scoring above S (default: the family's, low for mAP)")
    parser.add_argument("--jobs", type=int, default=1, metavar="J", help="images processed concurrently (threads)")
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(func=run)


def _finite(value):
    """JSON-safe: NaN -> None, recursively."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def run(args: argparse.Namespace) -> int:
    """Evaluate; returns 0 (bad input raises ValueError)."""
    plan = OutputPlan(inputs=[args.model, f"{args.data}/annotations.json", args.quantized])
    json_out = plan.file(args.json, "--json")
    if not 1 <= args.jobs <= MAX_JOBS:
        raise ValueError(f"--jobs: expected an integer in [1, {MAX_JOBS}], got {args.jobs}")
    if args.limit is not None and args.limit < 1:
        raise ValueError(f"--limit: expected a positive number of images, got {args.limit}")
    if args.score_threshold is not None and not 0.0 <= args.score_threshold <= 1.0:
        raise ValueError(f"--score-threshold: expected a score in [0, 1], got {args.score_threshold}")
    if args.family is not None and args.family not in FAMILIES:
        raise ValueError(f"--family: unknown detector family {args.family!r} (known: {', '.join(FAMILIES)})")
    if not 1 <= args.calibration_images <= MAX_CALIBRATION_IMAGES:
        raise ValueError(f"--calibration-images: expected a number in [1, {MAX_CALIBRATION_IMAGES}], "
                         f"got {args.calibration_images}")
    if args.quantized is not None and (args.float or args.bits is not None or args.calibration is not None):
        raise ValueError("--quantized fixes the widths and parameters: --float, --bits and --calibration do not apply")
    floor_given = args.no_score_floor or args.score_floor != SCORE_LOGIT_FLOOR
    if floor_given and (args.quantized is not None or args.float or (args.bits or "").strip() == "32"):
        raise ValueError("--score-floor and --no-score-floor apply to an integer model calibrated here "
                         "(not --quantized or --float)")
    bits = None if args.bits is None else parse_bits(args.bits)
    float_only = args.float or (args.bits is not None and args.bits.strip() == "32")
    dataset = load_coco(args.data).subset(args.limit)
    detector = load_detector(args.model, args.family)
    backends = {"float": float_backend(detector)}
    if args.quantized is not None:
        qm = load_quantized(args.quantized, detector.model, args.model)
        backends["integer"] = quantized_backend(detector, qm)
        calib_source = f"quantized file {args.quantized} ({qm.provenance.get('method', '?')})"
        bits_label = str(qm.provenance.get("bits", "?"))
    elif not float_only:
        fam = detector.family
        if args.calibration:
            calib_set = load_coco(args.calibration).subset(args.calibration_images)
            images = [calib_set.load_image(r) for r in calib_set.images]
            calib_source = f"{args.calibration} ({len(images)} images)"
        else:
            images = render_images(CALIBRATION_KIND[fam.name], args.calibration_images, seed=0, split="calib")
            calib_source = f"synthetic {CALIBRATION_KIND[fam.name]} calib split, seed 0 ({len(images)} images)"
        inputs = [fam.preprocess(img, detector.input_hw)[0] for img in images]
        backends["integer"] = integer_backend(detector, bits if bits is not None else parse_bits("8"), inputs,
                                              None if args.no_score_floor else args.score_floor)
        bits_label = args.bits or "8"
    else:
        bits_label, calib_source = "32", None
    with tqdm(total=len(dataset.images), desc="eval", unit="img", file=sys.stderr, disable=args.quiet) as bar:
        result = evaluate(detector, dataset, backends, score_threshold=args.score_threshold, jobs=args.jobs,
                          progress=bar.update)
    print(f"{detector.path.name} ({detector.family.name}) on {args.data}: {result.images} images, "
          f"{result.images / result.seconds:.2f} images/s")
    print(f"{'model':<8} {'mAP':>7} {'mAP50':>7} {'mAP75':>7}")
    for name, m in result.metrics.items():
        print(f"{name:<8} {m.map:7.4f} {m.map50:7.4f} {m.map75:7.4f}")
    classes = sorted({c for m in result.metrics.values() for c in m.per_class})
    if len(classes) > 1:
        print("per-class AP@[.5:.95]: " + "; ".join(
            f"{c} " + "/".join(f"{m.per_class.get(c, float('nan')):.3f}" for m in result.metrics.values())
            for c in classes))
    for name, a in result.agreement.items():
        print(f"agreement {name} vs float (score >= {AGREEMENT_SCORE}, IoU >= {AGREEMENT_IOU}): {a.matched} matched, "
              f"{a.lost} lost, {a.gained} gained, mean IoU {f'{a.mean_iou:.4f}' if a.matched else '-'}")
    if json_out:
        doc = {"model": str(args.model), "family": detector.family.name, "data": str(args.data),
               "bits": bits_label, "quantized": args.quantized,
               "calibration": calib_source,
               "score_threshold": detector.family.score_threshold if args.score_threshold is None else args.score_threshold,
               **result.as_dict()}
        plan.stage(json_out, json.dumps(_finite(doc), indent=2, sort_keys=True) + "\n")
    plan.commit()
    return 0
