"""``hwsim inspect --ops`` and ``--input-shape`` on small files (fast; the corpus tests cover real models)."""

from __future__ import annotations

import json

import onnx
from onnx import TensorProto, helper

from hwsim.app import cli
from tests.importers.onnx_models import Builder


def _dynamic_model(path) -> None:
    b = Builder((1, 3, 8, 8))
    y = b.node("Relu", [b.conv("x", 3, 4, 3)])
    z = b.node("Tanh", [y])
    w = b.node("Softplus", [b.conv(y, 4, 4, 1)])
    model = b.model([z, w])
    model.graph.input[0].CopyFrom(helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, "H", "W"]))
    onnx.save(model, path)


def test_ops_lists_every_operator_and_input_shape_pins_dynamic_dims(tmp_path, capsys):
    path = tmp_path / "dyn.onnx"
    _dynamic_model(path)
    assert cli.main(["inspect", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.endswith("dynamic dims N, H, W: pin them with --input-shape x=1x3xHxW") and "\n" not in err
    assert cli.main(["inspect", str(path), "--ops", "--input-shape", "x=1x3x16x24"]) == 0
    out = capsys.readouterr().out
    assert "Tanh" in out and "Softplus" in out and "unsupported" in out
    assert out.rstrip().endswith("5 operators of 4 types; unsupported: Softplus, Tanh")
    assert cli.main(["inspect", str(path), "--input-shape", "x=1x3x16x24"]) == 2
    assert "unsupported operators: node 'Softplus_" in capsys.readouterr().err


def test_input_shape_errors_are_one_line(tmp_path, capsys):
    b = Builder((1, 3, 8, 8))
    path = tmp_path / "m.onnx"
    onnx.save(b.model([b.conv("x", 3, 4, 3)]), path)
    for argv, message in (
        (["--input-shape", "x=1x3x9x8"], "input 'x': static dim 8 cannot be pinned to 9"),
        (["--input-shape", "y=1x3x8x8"], "--input-shape names 'y', not an input (inputs: x)"),
        (["--input-shape", "x=1x3xHx8"], "--input-shape: expected NAME=DxDx... with positive dims"),
    ):
        assert cli.main(["inspect", str(path), *argv]) == 2
        assert message in capsys.readouterr().err
    assert cli.main(["inspect", str(path), "--input-shape", "x=1x3x8x8", "--json", str(tmp_path / "g.json")]) == 0
    assert json.loads((tmp_path / "g.json").read_text())["totals"]["macs"] == 8 * 8 * 4 * 27
    capsys.readouterr()
    assert cli.main(["inspect", "yolov3_tiny_416", "--ops"]) == 2
    assert "operator coverage needs an .onnx or .tflite file" in capsys.readouterr().err
