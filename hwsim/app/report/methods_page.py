"""Report page of the quantization methods on one real detector (``<name>_methods.md``).

The figures come from :func:`hwsim.app.studies.methods.run_methods_study`: each row's
quantized-model file, re-imported and scored like ``hwsim eval --quantized``. The page
lists the commands that regenerate every row and the time each quantization took; the
file of the best row of every width (by mAP50:95, by float detections matched for an
agreement detector) is copied beside the page so that anyone can score it on their data.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from hwsim.app.report.markdown import md_table, num
from hwsim.app.report.pages import PageSummary
from hwsim.app.studies.methods import MethodResult, MethodsResult
from sw.detect.evaluate import AGREEMENT_IOU, AGREEMENT_SCORE
from sw.fileio import atomic_write_text

__all__ = ["methods_page", "headline_rows"]


def _score(r: MethodResult, agreement: bool) -> tuple:
    a = r.agreement
    return (a.matched, r.metrics.map) if agreement else (r.metrics.map, a.matched)


def headline_rows(result: MethodsResult) -> list[MethodResult]:
    """The best row of every width policy and 8-bit-layer rule (ties: the earlier row)."""
    best: dict[tuple[str, str | None], MethodResult] = {}
    for r in result.rows:
        key = (r.row.bits, r.row.keep8)
        if key not in best or _score(r, result.spec.agreement) > _score(best[key], result.spec.agreement):
            best[key] = r
    return list(best.values())


def _kept(r: MethodResult) -> str:
    return "-" if r.row.keep8 is None else f"{r.row.keep8} ({len(r.kept)})"


def loss_summary(r: MethodResult) -> str:
    """The row's loss column: ``start -> best`` of its curve; for ``brecq`` (a curve of ``steps`` entries per
    weighted block, block after block) the sums over the blocks of each block's first and best loss."""
    losses = r.losses
    if len(losses) <= 1:
        return "-"
    if r.row.method != "brecq":
        return f"{losses[0]:.3g} -> {min(losses):.3g}"
    from sw.train.brecq import DEFAULT_STEPS  # a brecq row was trained here: the train extra is installed

    steps = DEFAULT_STEPS if r.row.steps is None else r.row.steps
    blocks = [losses[i:i + steps] for i in range(0, len(losses), steps)]
    return f"{sum(b[0] for b in blocks):.3g} -> {sum(min(b) for b in blocks):.3g} ({len(blocks)} blocks)"


def methods_page(result: MethodsResult, out: Path, command: str) -> PageSummary:
    """Write ``<name>_methods.md`` and the headline files into ``out``; returns the index entry."""
    spec, f = result.spec, result.float_metrics
    name = spec.name
    files_dir = out / name / "quantized"
    files_dir.mkdir(parents=True, exist_ok=True)
    headline = headline_rows(result)
    for r in headline:
        shutil.copyfile(r.file, files_dir / r.file.name)
    ref = result.rows[0].agreement.matched + result.rows[0].agreement.lost if result.rows else 0
    rows = [["float", "32", "-", "-", num(f.map, 3), num(f.map50, 3), num(f.map75, 3), "(reference)", "-", "-", "-"]]
    for r in result.rows:
        a, m = r.agreement, r.metrics
        curve = loss_summary(r)
        mark = " **(file below)**" if any(r is h for h in headline) else ""
        rows.append([f"`{r.row.name}`{mark}", r.row.bits, _kept(r), "-" if r.row.steps is None else str(r.row.steps),
                     num(m.map, 3), num(m.map50, 3), num(m.map75, 3), f"{a.matched}/{ref}", str(a.gained),
                     curve, num(r.seconds, 0)])
    metric = "float detections matched" if spec.agreement else "mAP50:95"
    lines = [
        f"# {name}: quantization methods",
        "",
        f"{spec.description}. Every row is a quantized-model file written by the method and scored after "
        "re-import (`hwsim eval MODEL --data EVAL --quantized FILE`): the numbers are the file's. "
        "Methods: [docs/train.md](../docs/train.md).",
        "",
        "## How this page was measured",
        "",
        f"- **Regenerate**: `{command}`.",
        f"- **Calibration / training data**: the first {result.calibration_data.images} images of "
        f"`{result.calibration_data.command.replace('DIR', 'CAL')}`.",
        f"- **Evaluation data**: {result.evaluation_data.images} images with {result.evaluation_data.boxes} labeled boxes: "
        f"`{result.evaluation_data.command.replace('DIR', 'EVAL')}`. Agreement with the float model: detections "
        f"scoring >= {AGREEMENT_SCORE}, one-to-one at IoU >= {AGREEMENT_IOU}, same class"
        + (" (the headline figure of this detector: its synthetic boxes are approximate)." if spec.agreement else "."),
        f"- **Time** on this 2-core machine (shared): quantization of all rows {result.seconds['quantization']:.0f} s, "
        f"evaluation {result.seconds['evaluation']:.0f} s; per row in the table (calibration, the method, export).",
        "- **Commands of the rows** (`MODEL` = " + f"`{spec.model_ref}`):",
        "",
        "```sh",
        *[r.row.command(spec, result.calibration_data.images) for r in result.rows],
        "hwsim eval MODEL --data EVAL --quantized FILE.npz",
        "```",
        "",
        "## Methods x widths",
        "",
        md_table(["method", "bits", "8-bit layers (count)", "steps", "mAP50:95", "mAP50", "mAP75", "float dets matched", "gained",
                  "loss start -> best", "time s"], rows),
        "8-bit layers: the row's `--keep8` rules and the number of weighted layers they keep at w8a8 "
        "(the rest run at the row's bits). Loss: the training loss of the first step and the lowest of the "
        "curve; `brecq`: each block's first-step and lowest reconstruction loss, summed over its blocks.",
        "",
        f"Files of the best row per width and 8-bit-layer rule ({metric}), under `{name}/quantized/`: "
        + ", ".join(f"[`{r.file.name}`]({name}/quantized/{r.file.name}) ({r.file_bytes / 1024:.0f} KiB)"
                    for r in headline) + ".",
        "",
    ]
    page = f"{name}_methods.md"
    atomic_write_text(out / page, "\n".join(lines))
    best = "; ".join(f"{r.row.bits}{'' if r.row.keep8 is None else ' keep8 ' + r.row.keep8}: `{r.row.name}` {num(r.metrics.map, 3)} / {num(r.metrics.map50, 3)}, "
                     f"{r.agreement.matched}/{ref} matched" for r in headline)
    return PageSummary(page, f"{name}: quantization methods",
                       f"mAP50:95 / mAP50, float {num(f.map, 3)} / {num(f.map50, 3)}; best per width: {best}")
