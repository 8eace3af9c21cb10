"""Report page of a real detector: COCO mAP (agreement for BlazeFace) per quantization setting.

The numbers come from :func:`hwsim.app.studies.detection.run_study` (the ``hwsim eval``
machinery on the synthetic datasets); the page adds the commands that regenerate it,
the dataset sizes and seeds, the time the run took, the weight range spread, the
accelerator results and, when given, real tiles through the Verilated array.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from hwsim.app.report.figures import spread_figure
from hwsim.app.report.markdown import md_table, num
from hwsim.app.report.pages import PageSummary, accelerator_section
from hwsim.app.studies.detection import RowResult, StudyResult
from hwsim.app.studies.rtl_tiles import TileCheck
from hwsim.app.studies.weights import channel_ratios_db, layer_spreads
from sw.detect.evaluate import AGREEMENT_IOU, AGREEMENT_SCORE
from sw.fileio import atomic_write_text
from sw.graph.model import ImportedModel

__all__ = ["detection_page", "quality_headers", "quality_rows", "page_command"]

_TITLES = {
    "main": "## Float, PTQ int8 / int4 / w4a8 and the first/last-layer 8-bit policy",
    "table2": "## FQN Table 2 ablation: weight granularity x activation calibration x width (no fine-tuning)",
    "table4": "## FQN Table 4: percentile gamma of the activation ranges (per-channel weights)",
    "partial": "## Partial quantization (seed 003): widths per part (B/N/H = backbone/neck/head; 32 = float)",
}


def page_command(name: str, eval_images: int, calibration_images: int, rtl: bool = False) -> str:
    """The ``hwsim report`` command that regenerates one detector page."""
    return (f"hwsim report --models {name}{'' if rtl else ' --no-rtl'} --eval-images {eval_images} "
            f"--calibration-images {calibration_images}")


def quality_headers(agreement_first: bool) -> list[str]:
    """Column headers of the quality tables (agreement columns first for BlazeFace)."""
    coco = ["mAP50:95", "mAP50", "mAP75"]
    agree = ["float dets matched", "lost", "gained", "mean IoU"]
    if agreement_first:
        coco = [f"{c} (approx. boxes)" for c in coco]
        return ["configuration", "bits", "weights", "activations"] + agree + coco + ["weights KiB"]
    return ["configuration", "bits", "weights", "activations"] + coco + agree + ["weights KiB"]


def quality_rows(rows: Sequence[RowResult], agreement_first: bool) -> list[list[str]]:
    """Table cells of ``rows``: metrics with 3 decimals, agreement as ``matched/float``."""
    out = []
    for r in rows:
        s, m, a = r.setting, r.metrics, r.agreement
        head = [s.label, s.bits_label, s.granularity.replace("_", "-") if s.bits is not None else "-",
                (s.observer.replace("percentile@", "P") if s.bits is not None else "-")]
        coco = [num(m.map, 3), num(m.map50, 3), num(m.map75, 3)]
        if a is None:
            agree = ["(reference)", "-", "-", "-"]
        else:
            agree = [f"{a.matched}/{a.matched + a.lost}", str(a.lost), str(a.gained), num(a.mean_iou, 3)]
        body = agree + coco if agreement_first else coco + agree
        out.append(head + body + [num(r.weight_kib, 0)])
    return out


def _per_class(result: StudyResult) -> str:
    main = result.table("main")
    classes = sorted({c for r in main for c in r.metrics.per_class})
    if len(classes) < 2:
        return ""
    rows = [[c] + [num(r.metrics.per_class.get(c), 3) for r in main] for c in classes]
    return ("\n### Per-class AP@[.5:.95]\n\n" + md_table(["class"] + [r.setting.label for r in main], rows))


def _method(result: StudyResult, eval_images: int, calibration_images: int, rtl: bool) -> str:
    spec, data, cal, sec = result.spec, result.evaluation_data, result.calibration_data, result.seconds
    per_setting = result.backends * data.images / sec["evaluation"] if sec["evaluation"] > 0 else float("nan")
    main = [r.setting for r in result.table("main") if r.setting.bits is not None and r.setting.first_last is None]
    evals = "\n".join(f"hwsim eval MODEL --data EVAL --bits {s.bits_label} --calibration CAL "
                      f"--calibration-images {cal.images}   # {s.label}" for s in main)
    return (
        "## How this page was measured\n\n"
        f"- **Regenerate**: `{page_command(spec.name, eval_images, calibration_images, rtl)}` "
        "(datasets are generated into the report's data cache, `--data-dir`).\n"
        f"- **Evaluation data**: {data.images} images with {data.boxes} labeled boxes, `{data.kind}` generator, "
        f"split `{data.split}`, seed {data.seed}: `{data.command.replace('DIR', 'EVAL')}`.\n"
        f"- **Calibration data** (disjoint content): {cal.images} images, split `{cal.split}`, seed {cal.seed}: "
        f"`{cal.command.replace('DIR', 'CAL')}`. One float pass records min/max and percentile ranges of every "
        "tensor; each row turns them into parameters at its widths (FQN: aligned ranges, per-channel or "
        "per-tensor weights, integer-only requantization) and runs the bit-exact integer golden model.\n"
        f"- **Scoring**: `hwsim eval`'s machinery (`sw/detect/evaluate.py`): the family's preprocessing and "
        "decoding, pycocotools COCOeval (bbox), and agreement with the float model (detections scoring >= "
        f"{AGREEMENT_SCORE}, one-to-one at IoU >= {AGREEMENT_IOU}, same class). The PTQ rows equal, on the same "
        f"data, `MODEL` = `{spec.model_ref}`:\n\n```sh\n{evals}\n```\n\n"
        f"- **Time**: {sec['total']:.0f} s on this 2-core machine (shared): data {sec['data']:.0f} s, calibration "
        f"{sec['calibration']:.0f} s, evaluation {sec['evaluation']:.0f} s for {result.backends} distinct settings "
        f"x {data.images} images ({per_setting:.2f} image-settings/s). Identical settings across tables "
        "(e.g. FQN int8 = Table 2 int8 per-channel P0.999) are measured once.\n"
        + ("- **Agreement, not mAP**: no labeled face set ships offline; the face boxes of the `faces` data follow "
           "BlazeFace's box convention only approximately (`docs/eval.md`), so read the agreement columns; the mAP "
           "columns are against approximate boxes.\n" if spec.agreement else "")
        + f"- Small evaluation sets give coarse figures ({data.images} images): differences of a few points between "
        "rows are within noise.\n")


def _headline(result: StudyResult) -> str:
    f, i8, i4 = (result.row(x) for x in ("float", "FQN int8 (PTQ)", "int4 PTQ (w4a4)"))
    w48 = result.row("w4a8")
    n = result.evaluation_data.images
    if result.spec.agreement:
        def agree(r: RowResult) -> str:
            return f"{r.agreement.matched}/{r.agreement.matched + r.agreement.lost}"

        return (f"{n} images: float faces matched by int8 {agree(i8)}, w4a8 {agree(w48)}, w4a4 {agree(i4)} "
                f"(score >= {AGREEMENT_SCORE}, IoU >= {AGREEMENT_IOU})")
    return (f"{n} images, mAP50:95 / mAP50: float {f.metrics.map:.3f} / {f.metrics.map50:.3f}, "
            f"int8 {i8.metrics.map:.3f} / {i8.metrics.map50:.3f}, w4a8 {w48.metrics.map:.3f} / {w48.metrics.map50:.3f}, "
            f"w4a4 {i4.metrics.map:.3f} / {i4.metrics.map50:.3f}")


def _spread_section(name: str, model: ImportedModel, directory: Path, link: str) -> str:
    spreads = layer_spreads(model)
    spread_figure(spreads, channel_ratios_db(model), f"{name}: per-output-channel weight ranges",
                  directory / "weight_spread.png")
    values = np.array([s.spread_db for s in spreads])
    top = sorted(spreads, key=lambda s: -s.spread_db)[:8]
    rows = [[s.name, s.op, s.part, s.channels, f"{s.min_range:.3g}", f"{s.max_range:.3g}", num(s.spread_db),
             s.dead_channels] for s in top]
    return ("## Weight range spread per output channel (FQN Figure 2)\n\n"
            f"Spread = 20 log10(max channel range / min channel range) per layer. Over {len(spreads)} weighted layers: "
            f"median {np.median(values):.1f} dB, max {values.max():.1f} dB; {int(np.sum(values > 20))} layers above "
            f"20 dB. Dead (constant) channels: {sum(s.dead_channels for s in spreads)}.\n\n"
            f"![weight spread]({link}/weight_spread.png)\n\n"
            + md_table(["layer", "op", "part", "channels", "min range", "max range", "spread dB", "dead"], rows))


def _rtl_section(checks: Sequence[TileCheck]) -> str:
    rows = [[c.layer, c.array, c.k, c.tiles, c.outputs, c.matches_array_golden, c.matches_layer_golden,
             c.measured_cycles, c.formula_cycles] for c in checks]
    return ("## RTL on real data (Verilator)\n\nOne layer's real input codes and per-channel symmetric weights as 8 "
            "tiles through the generated Verilog; see [rtl.md](rtl.md).\n\n"
            + md_table(["layer", "array", "K", "tiles", "outputs", "= tile golden", "= layer golden (conv2d)",
                        "measured cycles/tile", "rtl.timing cycles/tile"], rows))


def _finite(value: object) -> object:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    return value


def _json(result: StudyResult) -> str:
    rows = []
    for r in result.rows:
        a = r.agreement
        rows.append(_finite({"table": r.table, "label": r.setting.label, "bits": r.setting.bits_label,
                             "weights": r.setting.granularity if r.setting.bits is not None else None,
                             "activations": r.setting.observer if r.setting.bits is not None else None,
                             "map": r.metrics.map, "map50": r.metrics.map50, "map75": r.metrics.map75,
                             "per_class": r.metrics.per_class, "detections": r.metrics.detections,
                             "agreement": None if a is None else {"matched": a.matched, "lost": a.lost,
                                                                  "gained": a.gained, "mean_iou": a.mean_iou},
                             "weight_kib": r.weight_kib}))
    d, c = result.evaluation_data, result.calibration_data
    doc = {"model": result.spec.name, "eval_data": {"kind": d.kind, "split": d.split, "seed": d.seed, "images": d.images,
                                                    "boxes": d.boxes},
           "calibration_data": {"kind": c.kind, "split": c.split, "seed": c.seed, "images": c.images},
           "seconds": dict(result.seconds), "distinct_settings": result.backends, "rows": rows}
    return json.dumps(doc, indent=1) + "\n"


def detection_page(result: StudyResult, out: Path, *, eval_images: int, calibration_images: int,
                   checks: Sequence[TileCheck] = ()) -> PageSummary:
    """Write ``out/<name>.md`` (+ ``<name>/quality.json`` and PNGs); returns its index entry."""
    spec, model = result.spec, result.detector.model
    directory = out / spec.name
    directory.mkdir(parents=True, exist_ok=True)
    totals = model.graph.totals()
    agreement_first = spec.agreement
    parts = [f"# {spec.name}\n\n{spec.description}: {totals.layers} layers, {totals.macs / 1e6:.1f} MMAC, "
             f"{totals.params / 1e3:.1f} k parameters. Post-training quantization only (no fine-tuning); method and "
             "caveats: [docs/reports.md](../docs/reports.md), [docs/eval.md](../docs/eval.md).\n\n"
             f"**Headline**: {_headline(result)}.\n\n", _method(result, eval_images, calibration_images, bool(checks))]
    headers = quality_headers(agreement_first)
    for key, title in _TITLES.items():
        rows = result.table(key)
        if rows:
            parts.append(f"\n{title}\n\n" + md_table(headers, quality_rows(rows, agreement_first)))
            if key == "main":
                parts.append(_per_class(result))
    parts.append("\n" + _spread_section(spec.name, model, directory, spec.name))
    accel, _ = accelerator_section(spec.name, model.graph, directory, spec.name)
    parts.append("\n" + accel)
    if checks:
        parts.append("\n" + _rtl_section(checks))
    atomic_write_text(out / f"{spec.name}.md", "".join(parts))
    atomic_write_text(directory / "quality.json", _json(result))
    return PageSummary(f"{spec.name}.md", spec.name, _headline(result))
