"""The real detectors in float through our preprocessing and decode (external runtimes as executors).

BlazeFace runs in TFLite (float model), YOLOX-tiny in onnxruntime; only our input
preprocessing and post-processing are under test here: a face must be found on the
Grace Hopper photo where the face is, and characters on rendered text.
"""

from __future__ import annotations

import numpy as np

from sw.data.images import blazeface_input, grace_hopper, render_text, yolox_input
from sw.data.models import blazeface_path, yolox_tiny_path
from sw.detect.blazeface import SHORT_RANGE, decode_blazeface
from sw.detect.yolox import decode_yolox


def test_blazeface_finds_the_face_on_grace_hopper():
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(blazeface_path("short_range")))
    interpreter.allocate_tensors()
    x, letterbox = blazeface_input(grace_hopper())
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], x)
    interpreter.invoke()
    out = {d["name"]: interpreter.get_tensor(d["index"]) for d in interpreter.get_output_details()}
    det = decode_blazeface(out["regressors"], out["classificators"], SHORT_RANGE)
    assert len(det) == 1 and det.scores[0] > 0.9
    x1, y1, x2, y2 = letterbox.to_image(det.boxes * SHORT_RANGE.input_size)[0]
    # The face occupies roughly the middle third of the 512-wide photo, in its upper half.
    assert 120 < x1 < 220 and 300 < x2 < 420 and 100 < y1 < 200 and 280 < y2 < 400


def test_yolox_tiny_finds_characters_in_rendered_text():
    import onnxruntime as ort

    session = ort.InferenceSession(str(yolox_tiny_path()), providers=["CPUExecutionProvider"])
    lines = ("hwsim 4-bit", "RetinaNet YOLOv3", "int8 MAC array")
    x, _ = yolox_input(render_text(lines))
    det = decode_yolox(session.run(None, {"images": x})[0])
    characters = sum(len(line.replace(" ", "")) for line in lines)
    assert characters * 0.6 <= len(det) <= characters * 1.2
    widths = det.boxes[:, 2] - det.boxes[:, 0]
    assert np.median(widths) < 60  # character-sized boxes, not whole lines
