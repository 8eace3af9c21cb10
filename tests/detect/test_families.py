"""Family registry: recognition from model outputs, and PicoDet decoding against rapid-layout's own code."""

from __future__ import annotations

import numpy as np
import pytest

from sw.detect.families import FAMILIES, InputMap, detect_family, get_family, picodet_input


def test_detect_family_from_outputs():
    assert detect_family("m.tflite", ["regressors", "classificators"], [None, None]).name == "blazeface"
    assert detect_family("m.onnx", ["output"], [(1, 3549, 6)]).name == "yolox"
    levels = [(1, 7600, 10), (1, 1900, 10), (1, 475, 10), (1, 130, 10)]
    dists = [(1, n, 32) for _, n, _ in levels]
    assert detect_family("m.onnx", [f"o{i}" for i in range(8)], levels + dists).name == "picodet"
    with pytest.raises(ValueError, match=r"m.onnx: cannot tell the detector family .*--family"):
        detect_family("m.onnx", ["a", "b"], [(1, 10), (1, 4)])
    with pytest.raises(ValueError, match="unknown detector family 'ssd'"):
        get_family("ssd")


def test_input_map_round_trip():
    m = InputMap(scale_x=0.5, scale_y=2.0, offset_x=3.0, offset_y=-1.0)
    np.testing.assert_allclose(m.to_image(np.array([[3.0, -1.0, 53.0, 199.0]])), [[0.0, 0.0, 100.0, 100.0]])


@pytest.mark.slow
def test_picodet_decode_matches_rapid_layout_postprocess():
    """Our GFL decode + NMS reproduces rapid-layout 1.2.1's PPPostProcess on the real model's outputs."""
    import importlib.util

    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("paperang_p2_fonts_cjk")
    # rapid-layout's post-processing module needs only numpy; load it by path (the package's
    # __init__ imports its inference stack).
    spec = importlib.util.find_spec("rapid_layout")
    if spec is None:
        pytest.skip("rapid-layout is not installed")
    source = next(iter(spec.submodule_search_locations)) + "/model_handler/pp/post_process.py"
    module_spec = importlib.util.spec_from_file_location("rapid_layout_pp_post_process", source)
    pp = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(pp)
    from sw.data.models import picodet_layout_path
    from sw.data.synth import render_images

    try:
        model_path = picodet_layout_path()
    except ValueError as exc:
        pytest.skip(str(exc))
    session = ort.InferenceSession(str(model_path), providers=["CPUExecutionProvider"])
    labels = FAMILIES["picodet"].class_names
    image = render_images("layout", 1, seed=4, split="eval")[0]
    x, input_map = picodet_input(image)
    outputs = session.run(None, {"image": x})
    ours = FAMILIES["picodet"].detect(outputs, (800, 608), input_map, 0.5)
    boxes, scores, names = pp.PPPostProcess(list(labels), 0.5, 0.5)(image.shape[:2], x, outputs)
    assert len(ours) == len(boxes) >= 5
    theirs = sorted(zip(names, scores, [tuple(b) for b in boxes]), key=lambda t: (t[0], -t[1]))
    mine = sorted(zip([labels[c] for c in ours.classes], ours.scores, [tuple(b) for b in ours.boxes]),
                  key=lambda t: (t[0], -t[1]))
    for (n1, s1, b1), (n2, s2, b2) in zip(mine, theirs):
        assert n1 == n2 and s1 == pytest.approx(s2, abs=1e-6)
        np.testing.assert_allclose(b1, b2, atol=0.01)  # rapid-layout rounds boxes to float32
