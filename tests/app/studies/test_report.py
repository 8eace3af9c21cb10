"""``hwsim report --quick`` on a small zoo model and BlazeFace: pages, tables and plots exist."""

from __future__ import annotations

import json
import re

from hwsim.app.cli import main
from hwsim.app.studies.ablation import partial_configs, table2_configs, table4_configs
from hwsim.app.studies.setups import real_setup


_run = main


def _table_header(text: str, title: str) -> list[str]:
    section = text.split(title, 1)[1]
    header = next(line for line in section.splitlines() if line.startswith("| "))
    return [c.strip() for c in header.strip("|").split("|")]


def test_quick_report_on_a_small_zoo_model(tmp_path):
    assert _run(["report", "--out", str(tmp_path), "--models", "yolov3_tiny_416", "--quick", "--no-rtl"]) == 0
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


def test_quick_report_on_blazeface(tmp_path):
    assert _run(["report", "--out", str(tmp_path), "--models", "blazeface", "--quick", "--no-rtl"]) == 0
    page = (tmp_path / "blazeface.md").read_text()
    header = _table_header(page, "## Ablation (FQN Table 2 style)")
    assert header[:4] == ["configuration", "bits", "weights", "calibration"]
    assert {"output SQNR dB", "matched / float", "lost", "gained", "mean IoU"} <= set(header)
    rows = json.loads((tmp_path / "blazeface" / "ablation.json").read_text())
    assert [r["label"] for r in rows] == ["int8 per-channel min-max", "int8 per-channel P",
                                          "int4 per-channel min-max", "int4 per-channel P"]
    assert all(r["reference"] == 1 for r in rows)  # one face on the held-out photo
    assert "## Detection agreement" in page and "## Weight range spread" in page
    for png in ("detections.png", "sqnr.png", "weight_spread.png"):
        assert (tmp_path / "blazeface" / png).stat().st_size > 1000


def test_unknown_model_is_a_one_line_error(tmp_path, capsys):
    assert _run(["report", "--out", str(tmp_path), "--models", "nope", "--no-rtl"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and re.search(r"--models: unknown model 'nope' \(known: blazeface, yolox_tiny, ", err)


def test_ablation_grids_cover_fqn_tables_and_parts():
    t2 = [c for _, c in table2_configs()]
    assert {(c.bits.default, c.granularity, c.calibration) for c in t2} == {
        ((b, b), g, m) for b in (8, 4) for g in ("per_tensor", "per_channel") for m in ("minmax", "percentile")}
    assert sorted({c.gamma for _, c in table4_configs()}) == [0.9545, 0.9973, 0.999]
    graph = real_setup("blazeface", n_eval=1).model.graph
    labels = [c.label for _, c in partial_configs(graph)]
    # BlazeFace has no neck; seed 003's FP32/int4 combinations (all-FP32 is the reference), then int8/int4.
    assert labels == ["B32, H4", "B4, H32", "B4, H4", "B8, H8", "B8, H4", "B4, H8", "B4, H4", "w4a8 everywhere"]
