"""ONNX importer: shapes and hand-counted MACs, float64 execution vs onnxruntime, YOLOX-tiny, errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import helper

from sw.data.models import yolox_tiny_path
from sw.graph.importers.onnx_import import SUPPORTED_OPS, load_onnx
from sw.graph.ir import Activation, Op
from sw.runtime.floatexec import run_float
from tests.fuzzing import corrupted_variants
from tests.importers.onnx_models import MODELS, Builder

YOLOX_GMAC = 3.18  # published figure for ddddocr common_det.onnx, YOLOX-tiny-style, 1x3x416x416


def save(model: onnx.ModelProto, tmp_path: Path, name: str = "m") -> Path:
    path = tmp_path / f"{name}.onnx"
    onnx.save(model, path)
    return path


@pytest.mark.parametrize("name", sorted(MODELS))
def test_small_models_macs_and_float_match_onnxruntime(name, tmp_path):
    model, macs = MODELS[name]()
    path = save(model, tmp_path)
    imported = load_onnx(path)
    assert imported.graph.totals().macs == macs
    session = ort.InferenceSession(str(path))
    x = np.random.default_rng(0).normal(size=session.get_inputs()[0].shape).astype(np.float32)
    expected = session.run(None, {"x": x})
    got = run_float(imported, {"x": x})
    assert list(got) == [o.name for o in session.get_outputs()]
    for value, ref in zip(got.values(), expected):
        assert value.shape == ref.shape
        np.testing.assert_allclose(value, ref, atol=1e-5, rtol=1e-5)


def test_patterns_fuse_into_layers(tmp_path):
    layers = {n: load_onnx(save(MODELS[n]()[0], tmp_path, n)).graph.layers for n in MODELS}
    assert [(l.op, l.activation) for l in layers["conv_bn_relu"]] == [(Op.CONV, Activation.RELU)]
    assert layers["conv_bn_relu"][0].bias  # folded batch norm
    assert [(l.op, l.activation) for l in layers["depthwise_relu6"]] == [
        (Op.DEPTHWISE, Activation.RELU6), (Op.CONV, Activation.HARDSWISH)]
    acts = [l.activation for l in layers["silu_resize_concat"]]
    assert acts[:2] == [Activation.SILU, Activation.LEAKY_RELU]
    assert layers["silu_resize_concat"][2].op is Op.UPSAMPLE and layers["silu_resize_concat"][2].stride == (2, 2)
    assert [(l.op, l.activation) for l in layers["decomposed_activations"]] == [
        (Op.CONV, Activation.HARDSWISH), (Op.CONV, Activation.HARDSIGMOID), (Op.MUL, None),
        (Op.CONV, Activation.GELU), (Op.DEPTHWISE, None), (Op.CONV, Activation.HARDSIGMOID)]
    assert [l.op for l in layers["split_transpose_linear"]] == [
        Op.CONV, Op.CONV, Op.CONV_TRANSPOSE, Op.RESIZE_BILINEAR, Op.CONCAT, Op.GLOBAL_AVGPOOL]
    assert layers["split_transpose_linear"][3].resize == "half_pixel"
    assert [(l.op, l.stride) for l in layers["layout_upsample_prelu_d2s"] if l.op is not Op.CONV] == [
        (Op.UPSAMPLE, (2, 2)), (Op.PRELU, (1, 1)), (Op.UPSAMPLE, (2, 2)), (Op.DEPTH_TO_SPACE, (2, 2))]
    assert [l.out_shape[2] for l in layers["split_transpose_linear"][:2]] == [4, 6]  # per-branch convs
    first = layers["focus_tail"][0]  # Focus rewritten: 3x3 on 12 channels -> 6x6 stride 2 on the image
    assert (first.kernel, first.stride, first.padding, first.in_shapes) == ((6, 6), (2, 2), ((2, 2), (2, 2)), ((16, 16, 3),))


def test_pads_map_to_explicit_top_bottom_left_right(tmp_path):
    b = Builder((1, 2, 9, 9))
    y = b.conv("x", 2, 4, 3, stride=2, pads=[0, 1, 2, 1])  # ONNX order: top, left, bottom, right
    layer = load_onnx(save(b.model([y]), tmp_path)).graph.layers[0]
    assert layer.padding == ((0, 2), (1, 1))
    assert layer.out_shape == (5, 5, 4)  # (9 + 2 - 3) // 2 + 1 on both axes


def _conv_macs_from_shape_inference(path: Path) -> int:
    """Independent count: sum of Conv MACs from ONNX shape inference (N*Ho*Wo*Cout*kh*kw*Cin/g)."""
    model = onnx.shape_inference.infer_shapes(onnx.load(path))
    shapes = {vi.name: [d.dim_value for d in vi.type.tensor_type.shape.dim]
              for vi in list(model.graph.value_info) + list(model.graph.output)}
    weights = {i.name: list(i.dims) for i in model.graph.initializer}
    total = 0
    for node in model.graph.node:
        if node.op_type == "Conv":
            _, cout, ho, wo = shapes[node.output[0]]
            _, cg, kh, kw = weights[node.input[1]]
            total += cout * ho * wo * cg * kh * kw
    return total


def test_yolox_tiny_shapes_and_macs():
    path = yolox_tiny_path()
    model = load_onnx(path)
    graph = model.graph
    assert graph.inputs == (("images", (416, 416, 3)),)
    assert model.native_shapes["images"] == (1, 3, 416, 416)
    assert model.outputs == ("output",)
    heads = [graph.layer(n).out_shape for n in graph.outputs]
    assert heads == [(52, 52, 6), (26, 26, 6), (13, 13, 6)]
    assert sum(h * w for h, w, _ in heads) == 3549
    macs = graph.totals().macs
    assert macs == _conv_macs_from_shape_inference(path)
    assert abs(macs / 1e9 - YOLOX_GMAC) < 0.01
    assert sum(l.activation is Activation.SILU for l in graph) == 74


@pytest.mark.slow
def test_yolox_tiny_float_matches_onnxruntime():
    path = yolox_tiny_path()
    x = np.random.default_rng(0).uniform(0, 255, (1, 3, 416, 416)).astype(np.float32)
    expected = ort.InferenceSession(str(path)).run(None, {"images": x})[0]
    got = run_float(load_onnx(path), {"images": x})["output"]
    assert got.shape == (1, 3549, 6)
    np.testing.assert_allclose(got, expected, atol=1e-4)


def test_unsupported_op_names_node_type_and_supported_list(tmp_path):
    b = Builder((1, 2, 4, 4))
    y = b.node("Tanh", [b.conv("x", 2, 2, 1)])
    with pytest.raises(ValueError) as info:
        load_onnx(save(b.model([y]), tmp_path, "bad"))
    message = str(info.value)
    assert message.startswith(f"{tmp_path / 'bad.onnx'}: unsupported operators: node 'Tanh_") and "(Tanh)" in message
    assert "unsupported op type 'Tanh'" in message and ", ".join(SUPPORTED_OPS) in message
    assert "\n" not in message


def test_every_unsupported_op_is_named_at_once(tmp_path):
    b = Builder((1, 2, 4, 4))
    y = b.node("Tanh", [b.conv("x", 2, 2, 1)])
    z = b.node("Tanh", [b.conv("x", 2, 2, 1)])
    w = b.node("Softplus", [b.conv("x", 2, 2, 1)])
    with pytest.raises(ValueError) as info:
        load_onnx(save(b.model([y, z, w]), tmp_path, "bad"))
    message = str(info.value)
    assert "(Tanh): unsupported op type 'Tanh' (2 nodes)" in message
    assert "(Softplus): unsupported op type 'Softplus'" in message
    rows = {r.op: r for r in info.value.coverage.rows()}
    assert (rows["Conv"].count, rows["Conv"].status) == (3, "supported")
    assert (rows["Tanh"].count, rows["Tanh"].lowered, rows["Tanh"].status) == (2, 0, "unsupported")


def test_unsupported_clip_bounds(tmp_path):
    b = Builder((1, 2, 4, 4))
    y = b.node("Clip", [b.conv("x", 2, 2, 1), b.const(np.float32(-1)), b.const(np.float32(1))])
    with pytest.raises(ValueError, match=r"node 'Clip_\d+' \(Clip\): Clip to \[-1.0, 1.0\] is not supported"):
        load_onnx(save(b.model([y]), tmp_path))


def test_inconsistent_shapes_name_the_node(tmp_path):
    model, _ = MODELS["conv_bn_relu"]()
    model.graph.value_info.append(helper.make_tensor_value_info("conv2", onnx.TensorProto.FLOAT, [1, 8, 15, 15]))
    with pytest.raises(ValueError, match=r"node 'Conv_2' \(Conv\)"):
        load_onnx(save(model, tmp_path))


def test_missing_and_empty_files(tmp_path):
    with pytest.raises(ValueError, match="nope.onnx: cannot read"):
        load_onnx(tmp_path / "nope.onnx")
    (tmp_path / "empty.onnx").write_bytes(b"")
    with pytest.raises(ValueError, match="empty.onnx: not a valid ONNX model"):
        load_onnx(tmp_path / "empty.onnx")


def test_fuzz_truncated_and_mutated_files_raise_one_line_value_errors(tmp_path):
    data = MODELS["silu_resize_concat"]()[0].SerializeToString()
    path = tmp_path / "fuzz.onnx"
    outcomes = {"ok": 0, "error": 0}
    for blob in corrupted_variants(data, seed=1234):
        path.write_bytes(blob)
        try:
            load_onnx(path)
            outcomes["ok"] += 1
        except ValueError as exc:
            assert str(exc).startswith(str(path)) and "\n" not in str(exc)
            outcomes["error"] += 1
    assert outcomes["error"] >= 50


def test_batch_of_images_matches_onnxruntime(tmp_path):
    b = Builder((2, 3, 8, 8), seed=9)
    c = b.node("Relu", [b.bn(b.conv("x", 3, 6, 3, bias=False), 6)])
    d = b.conv(c, 6, 6, 3, group=6)
    gate = b.node("HardSigmoid", [b.conv(b.node("GlobalAveragePool", [d]), 6, 6, 1)], alpha=1 / 6, beta=0.5)
    se = b.node("Mul", [d, gate])
    up = b.node("Resize", [b.conv(se, 6, 4, 3, stride=2), "", b.const(np.array([1, 1, 2, 2], np.float32))],
                mode="nearest")
    cat = b.node("Concat", [se, up], axis=1)
    flat = b.node("Flatten", [b.node("GlobalAveragePool", [cat])], axis=1)
    g = b.node("Gemm", [flat, b.const(b.rng.normal(0, 0.3, (5, 10)).astype(np.float32))], transB=1)
    path = save(b.model([cat, g]), tmp_path, "batch")
    model = load_onnx(path)
    assert {l.repeat for l in model.graph} == {2}
    per_image = 64 * 6 * 27 + 64 * 6 * 9 + 6 * 6 + 64 * 6 + 16 * 4 * 54 + 10 * 5
    assert model.graph.totals().macs == 2 * per_image
    x = np.random.default_rng(1).normal(size=(2, 3, 8, 8)).astype(np.float32)
    expected = ort.InferenceSession(str(path)).run(None, {"x": x})
    got = run_float(model, {"x": x})
    for value, ref in zip(got.values(), expected):
        assert value.shape == ref.shape
        np.testing.assert_allclose(value, ref, atol=1e-5, rtol=1e-5)


def test_opset20_gelu_matches_onnxruntime(tmp_path):
    b = Builder((1, 3, 6, 6), seed=11)
    y = b.node("Gelu", [b.conv("x", 3, 4, 3)])
    model = b.model([y])
    model.opset_import[0].version = 20
    model.ir_version = 9
    path = save(model, tmp_path, "gelu")
    imported = load_onnx(path)
    assert [(l.op, l.activation) for l in imported.graph] == [(Op.CONV, Activation.GELU)]
    x = np.random.default_rng(0).normal(size=(1, 3, 6, 6)).astype(np.float32)
    expected = ort.InferenceSession(str(path)).run(None, {"x": x})[0]
    np.testing.assert_allclose(list(run_float(imported, {"x": x}).values())[0], expected, atol=1e-5, rtol=1e-5)
