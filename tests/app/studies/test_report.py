"""``hwsim report``: zoo pages, and the real-detector pages' mAP / agreement tables against independent runs."""

from __future__ import annotations

import json
import math
import re

import pytest

from hwsim.app.cli import main
from hwsim.app.report.detection_page import quality_headers, quality_rows
from hwsim.app.studies.detection import RowResult, Setting, settings
from sw.detect.boxes import Agreement
from sw.detect.coco_eval import CocoMetrics
from sw.graph.bits import BitPolicy

_run = main


def _table_header(text: str, title: str) -> list[str]:
    section = text.split(title, 1)[1]
    header = next(line for line in section.splitlines() if line.startswith("| "))
    return [c.strip() for c in header.strip("|").split("|")]


def _table_rows(text: str, title: str) -> dict[str, list[str]]:
    """Rows of the first table after ``title``, by their first cell."""
    lines = text.split(title, 1)[1].split("\n\n", 2)[1].splitlines()
    cells = [[c.strip() for c in line.strip("|").split("|")] for line in lines if line.startswith("| ")]
    return {row[0]: row for row in cells[1:]}


def test_report_on_a_small_zoo_model(tmp_path):
    assert _run(["report", "--out", str(tmp_path), "--models", "yolov3_tiny_416", "--no-rtl"]) == 0
    index = (tmp_path / "index.md").read_text()
    assert "[yolov3_tiny_416](yolov3_tiny_416.md)" in index
    page = (tmp_path / "yolov3_tiny_416.md").read_text()
    assert _table_header(page, "## Accelerator")[:3] == ["preset", "bits", "latency (ms)"]
    for preset in ("edge16_int4", "int8_32x32"):
        for bits in ("int4", "int8"):
            assert re.search(rf"^\| {preset} \| {bits} \| \d", page, re.M)
    section = page.split("### Per layer", 1)[1].split("</details>", 1)[0]
    layer_rows = [l for l in section.splitlines() if l.startswith("| ")][1:]
    assert len(layer_rows) == 21  # yolov3-tiny has 21 layers
    for sub in ("edge16_int4_int4", "edge16_int4_int8"):
        for png in ("latency.png", "energy.png", "roofline.png"):
            assert (tmp_path / "yolov3_tiny_416" / sub / png).stat().st_size > 1000


REQUIRED = {
    "main": ["float", "FQN int8 (PTQ)", "int4 PTQ (w4a4)", "w4a8", "first/last layer 8-bit, w4a4 body"],
    "table2": [f"int{b} {g} {c}" for b in (8, 4) for g in ("per-tensor", "per-channel") for c in ("min-max", "P0.999")],
    "table4": [f"int{b} gamma={g}" for b in (8, 4) for g in (0.999, 0.9973, 0.9545)],
    # BlazeFace has a backbone and a head: seed 003's FP32/int4 combinations, then int8/int4 ones.
    "partial": ["B32, H4", "B4, H32", "B4, H4", "B8, H8", "B8, H4", "B4, H8"],
}
TITLES = {"main": "## Float, PTQ", "table2": "## FQN Table 2", "table4": "## FQN Table 4",
          "partial": "## Partial quantization"}


def _eval_json(tmp_path, name: str, argv: list[str]) -> dict:
    out = tmp_path / f"{name}.json"
    assert main(["eval", *argv, "--json", str(out), "--quiet"]) == 0
    return json.loads(out.read_text())


def test_blazeface_page_equals_independent_hwsim_eval(tmp_path):
    from sw.data.models import blazeface_path
    from sw.data.synth import make_dataset

    out, cache = tmp_path / "reports", tmp_path / "cache"
    out.mkdir()
    # An earlier index with a page this run does not regenerate: its entry stays.
    (out / "resnet18.md").write_text("# resnet18\n")
    (out / "index.md").write_text("# hwsim curated reports\n\n## Zoo models on the accelerator\n\n| page | headline |\n"
                                  "|---|---|\n| [resnet18](resnet18.md) | earlier headline |\n")
    argv = ["report", "--out", str(out), "--models", "blazeface", "--no-rtl", "--eval-images", "2",
            "--calibration-images", "2", "--data-dir", str(cache)]
    assert _run(argv) == 0
    page = (out / "blazeface.md").read_text()
    doc = json.loads((out / "blazeface" / "quality.json").read_text())
    rows = {r["label"]: r for r in doc["rows"]}
    for table, labels in REQUIRED.items():
        assert [r["label"] for r in doc["rows"] if r["table"] == table] == labels
        assert list(_table_rows(page, TITLES[table])) == labels
    assert doc["eval_data"] == {"kind": "faces", "split": "eval", "seed": 0, "images": 2, "boxes": 3}
    assert "hwsim report --models blazeface --no-rtl --eval-images 2 --calibration-images 2" in page
    assert "hwsim data make faces --n 2 --seed 0 --split eval" in page
    assert re.search(r"\*\*Time\*\*: \d+ s", page)
    # The old toy evaluation is gone.
    assert "held-out input" not in page and not (out / "blazeface" / "ablation.json").exists()
    index = (out / "index.md").read_text()
    assert "| [resnet18](resnet18.md) | earlier headline |" in index and "[blazeface](blazeface.md)" in index

    # Independent data and runs: the generator into another directory, hwsim eval on it.
    make_dataset("faces", 2, 0, tmp_path / "eval", split="eval")
    make_dataset("faces", 2, 0, tmp_path / "cal", split="calib")
    model = str(blazeface_path("short_range"))
    main_rows = _table_rows(page, TITLES["main"])
    for label, bits in (("FQN int8 (PTQ)", "8"), ("int4 PTQ (w4a4)", "4"), ("w4a8", "w4a8")):
        ref = _eval_json(tmp_path, bits, [model, "--data", str(tmp_path / "eval"), "--bits", bits, "--calibration",
                                          str(tmp_path / "cal"), "--calibration-images", "2"])
        for key in ("map", "map50", "map75"):
            assert rows[label][key] == ref["metrics"]["integer"][key], (label, key)
            assert rows["float"][key] == ref["metrics"]["float"][key]
        agree = ref["agreement"]["integer"]
        assert {k: rows[label]["agreement"][k] for k in ("matched", "lost", "gained")} == \
            {k: agree[k] for k in ("matched", "lost", "gained")}
        cells = main_rows[label]  # configuration, bits, weights, activations, matched/float, lost, gained, IoU, mAPs
        assert cells[4] == f"{agree['matched']}/{agree['matched'] + agree['lost']}"
        assert cells[8:11] == [f"{ref['metrics']['integer'][k]:.3f}" for k in ("map", "map50", "map75")]


def test_per_tensor_minmax_row_equals_a_plan_built_by_hand(tmp_path):
    """A non-default setting: min-max ranges, per-tensor weights, score logits floored at -8, through evaluate()."""
    from sw.data.models import blazeface_path
    from sw.data.synth import make_dataset
    from sw.data.synth.coco import load_coco
    from sw.detect.evaluate import evaluate, float_backend, load_detector, planned_backend, score_logit_floors
    from sw.quant.calibration import MinMaxObserver
    from sw.runtime.executor import calibration_ranges, floor_ranges, params_from_ranges
    from sw.runtime.integer import plan_calibrated

    from hwsim.app.studies.detection import STUDIES, run_study

    result = run_study(STUDIES["blazeface"], eval_images=2, calibration_images=2, cache=tmp_path / "cache")
    row = result.row("int8 per-tensor min-max")
    make_dataset("faces", 2, 0, tmp_path / "eval", split="eval")
    make_dataset("faces", 2, 0, tmp_path / "cal", split="calib")
    det = load_detector(blazeface_path("short_range"))
    cal = load_coco(tmp_path / "cal")
    samples = [{det.input_name: det.family.preprocess(cal.load_image(r), det.input_hw)[0]} for r in cal.images]
    model = det.model.with_bits(BitPolicy(default=(8, 8)))
    ranges = calibration_ranges(det.model, samples, {"mm": lambda tensor: MinMaxObserver()})["mm"]
    floors = score_logit_floors(det, samples[0], -8.0)
    assert list(floors.values()) == [-8.0]  # BlazeFace: one score-logit output (classificators)
    ranges = floor_ranges(model, ranges, floors)
    plan = plan_calibrated(model, params_from_ranges(model, ranges), granularity="per_tensor")
    ref = evaluate(det, load_coco(tmp_path / "eval"), {"float": float_backend(det),
                                                       "q": planned_backend(det, model, plan)})
    assert (row.metrics.map, row.metrics.map50, row.metrics.map75) == \
        (ref.metrics["q"].map, ref.metrics["q"].map50, ref.metrics["q"].map75)
    assert row.agreement == ref.agreement["q"]


def test_quality_table_formatting():
    metrics = CocoMetrics(0.61234, 0.9, 0.55555, {}, 2, 7)
    rows = [RowResult("main", Setting("float", None), metrics, None, 396.4),
            RowResult("table2", Setting("int4 per-tensor min-max", BitPolicy(default=(4, 4)), "per_tensor", "minmax"),
                      metrics, Agreement(2, 0.81234, 0.1, 1, 3), 57.0),
            RowResult("partial", Setting("B32, H4", BitPolicy(parts={"backbone": (32, 32), "head": (4, 4)})),
                      metrics, Agreement(0, math.nan, math.nan, 3, 0), 352.0)]
    assert quality_rows(rows, agreement_first=False) == [
        ["float", "32", "-", "-", "0.612", "0.900", "0.556", "(reference)", "-", "-", "-", "396"],
        ["int4 per-tensor min-max", "4", "per-tensor", "minmax", "0.612", "0.900", "0.556", "2/3", "1", "3", "0.812",
         "57"],
        ["B32, H4", "backbone=32,head=4", "per-channel", "P0.999", "0.612", "0.900", "0.556", "0/3", "3", "0", "-",
         "352"]]
    assert quality_rows(rows[1:2], agreement_first=True)[0][4:11] == ["2/3", "1", "3", "0.812", "0.612", "0.900",
                                                                       "0.556"]
    assert quality_headers(True)[4] == "float dets matched" and quality_headers(False)[4] == "mAP50:95"


def test_settings_cover_the_required_rows():
    from hwsim.app.studies.setups import real_setup

    rows = settings(real_setup("blazeface", n_eval=1).model.graph)
    assert {t: [s.label for tt, s in rows if tt == t] for t in REQUIRED} == REQUIRED
    t2 = [s for t, s in rows if t == "table2"]
    assert {(s.bits.default, s.granularity, s.calibration) for s in t2} == {
        ((b, b), g, m) for b in (8, 4) for g in ("per_tensor", "per_channel") for m in ("minmax", "percentile")}
    first_last = next(s for _, s in rows if s.first_last is not None)
    assert (first_last.first_last, first_last.bits.default, first_last.bits_label) == (8, (4, 4), "4 + first/last 8")


def test_unknown_model_is_a_one_line_error(tmp_path, capsys):
    assert _run(["report", "--out", str(tmp_path), "--models", "nope", "--no-rtl"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and re.search(r"--models: unknown model 'nope' \(known: picodet_layout, yolox_tiny, "
                                         r"blazeface, ", err)


@pytest.mark.parametrize("argv, needle", [
    (["--eval-images", "0"], "--eval-images: expected an integer in [1, 5000], got 0"),
    (["--calibration-images", "-3"], "--calibration-images: expected an integer in [1, 5000], got -3"),
    (["--jobs", "0"], "--jobs: expected an integer in [1, 64], got 0"),
])
def test_report_bounds_its_options(tmp_path, capsys, argv, needle):
    assert _run(["report", "--out", str(tmp_path), "--models", "blazeface", "--no-rtl", *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and needle in err
