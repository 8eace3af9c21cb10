"""``hwsim models`` and ``hwsim inspect`` through the real dispatcher."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hwsim.app import cli

PEERS = str(Path(__file__).resolve().parents[1] / "fixtures" / "scalesim")


def test_models_lists_zoo(capsys, tmp_path):
    out_file = tmp_path / "zoo.json"
    assert cli.main(["models", "--json", str(out_file)]) == 0
    out = capsys.readouterr().out
    assert "yolov3_416" in out and "416x416" in out and "32.93" in out
    rows = {r["name"]: r for r in json.loads(out_file.read_text())["models"]}
    assert rows["faster_rcnn_r50_fpn"]["input"] == [800, 800]
    assert rows["yolov3_tiny_416"]["gmac"] == pytest.approx(2.78, rel=0.01)


def test_inspect_zoo_with_bits_and_json(capsys, tmp_path):
    out_file = tmp_path / "m.json"
    argv = ["inspect", "mobilenet_ssd_300", "--part-bits", "head=8", "--layer-bits", "backbone.Conv2d_0=32",
            "--json", str(out_file)]
    assert cli.main(argv) == 0
    out = capsys.readouterr().out
    assert "backbone.Conv2d_1_depthwise" in out and "depthwise" in out and "fp32" in out and "w8a8" in out
    data = json.loads(out_file.read_text())
    layers = {l["name"]: l for l in data["layers"]}
    assert layers["head.cls0"]["w_bits"] == 8 and layers["backbone.Conv2d_0"]["a_bits"] == 32
    assert layers["backbone.Conv2d_0"]["macs"] == 150 * 150 * 32 * 27
    assert data["totals"]["macs"] == sum(l["macs"] for l in data["layers"])


def test_inspect_csv(capsys):
    assert cli.main(["inspect", f"{PEERS}/yolo_tiny.csv"]) == 0
    assert "Conv9" in capsys.readouterr().out


@pytest.mark.parametrize("argv, message", [
    (["inspect", "nosuchmodel"], "'nosuchmodel' is neither a zoo model"),
    (["inspect", "/nonexistent/x.csv"], "/nonexistent/x.csv: no such file"),
    (["inspect", "yolov3_416", "--bits", "four"], "--bits: expected a width like 4, w4a8 or 4/8"),
    (["inspect", "yolov3_416", "--bits", "w4a9"], "--bits: unsupported bit width 9"),
    (["inspect", "yolov3_416", "--bits", "tail=8"], "--bits: unknown part 'tail'"),
    (["inspect", "yolov3_416", "--part-bits", "tail=8"], "'tail' is not a valid Part"),
])
def test_bad_input_exit_2(capsys, argv, message):
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err


def test_inspect_truncated_csv(capsys, tmp_path):
    path = tmp_path / "cut.csv"
    text = open(f"{PEERS}/Resnet18.csv").read()
    path.write_text(text[: text.index("Conv1,") + len("Conv1,224,224,7")])  # cut inside row 2
    assert cli.main(["inspect", str(path)]) == 2
    assert f"{path}: row 2 (layer 'Conv1')" in capsys.readouterr().err
