"""TFLite importer: BlazeFace (fp16) shapes and MACs against an independent flatbuffer count,
float64 execution vs TFLite, int8 models keeping their parameters, errors and fuzzing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from ai_edge_litert import schema_py_generated as schema
from ai_edge_litert.interpreter import Interpreter, OpResolverType

from sw.data.models import corpus_path
from sw.graph.importers.tflite_import import SUPPORTED_OPS, load_tflite, tflite_coverage
from sw.data.models import blazeface_path
from sw.graph.ir import Activation, Op
from sw.runtime.floatexec import run_float
from oracles.tflite_ref import _model, _tensor
from tests.fuzzing import corrupted_variants
from tests.runtime.tflite_models import chain_model


def _flatbuffer_macs(path: Path) -> int:
    """Independent count from the flatbuffer: output elements x filter taps per output of each conv."""
    model = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(path.read_bytes(), 0))
    sg = model.subgraphs[0]
    total = 0
    for op in sg.operators:
        code = model.operatorCodes[op.opcodeIndex]
        kind = max(code.builtinCode, code.deprecatedBuiltinCode)
        out = [int(d) for d in sg.tensors[op.outputs[0]].shape]
        w = [int(d) for d in sg.tensors[op.inputs[1]].shape] if len(op.inputs) > 1 else []
        if kind == schema.BuiltinOperator.CONV_2D:
            total += int(np.prod(out)) * w[1] * w[2] * w[3]
        elif kind == schema.BuiltinOperator.DEPTHWISE_CONV_2D:
            total += int(np.prod(out)) * w[1] * w[2]
        elif kind == schema.BuiltinOperator.FULLY_CONNECTED:
            total += int(np.prod(out)) * w[1]
    return total


@pytest.mark.parametrize("variant, size", [("short_range", 128), ("back", 256)])
def test_blazeface_shapes_macs_and_float_outputs(variant, size):
    path = blazeface_path(variant)
    model = load_tflite(path)
    graph = model.graph
    assert graph.inputs == (("input", (size, size, 3)),)
    assert model.outputs == ("regressors", "classificators")
    assert graph.totals().macs == _flatbuffer_macs(path)
    x = np.random.default_rng(0).uniform(-1, 1, (1, size, size, 3)).astype(np.float32)
    got = run_float(model, {"input": x})
    interp = Interpreter(model_path=str(path), experimental_op_resolver_type=OpResolverType.BUILTIN_REF)
    interp.allocate_tensors()
    interp.set_tensor(interp.get_input_details()[0]["index"], x)
    interp.invoke()
    for detail in interp.get_output_details():
        expected = interp.get_tensor(detail["index"])
        assert got[detail["name"]].shape == expected.shape == ((1, 896, 16) if detail["name"] == "regressors" else (1, 896, 1))
        np.testing.assert_allclose(got[detail["name"]], expected, atol=2e-4, rtol=1e-4)


def test_blazeface_short_range_independent_mac_count():
    assert _flatbuffer_macs(blazeface_path("short_range")) == 30_760_960


def test_int8_model_keeps_its_quantization(tmp_path):
    path = tmp_path / "chain.tflite"
    path.write_bytes(chain_model(int4=True))
    model = load_tflite(path)
    assert model.prequantized and model.layout == "nhwc"
    assert [l.op for l in model.graph] == [Op.CONV, Op.DEPTHWISE, Op.CONV, Op.ADD, Op.MAXPOOL, Op.FC]
    assert model.graph.layer("c2").w_bits == 4 and model.quant["c2.weight"].bits == 4
    assert float(model.quant["x"].scale) == float(np.float32(0.03)) and int(model.quant["x"].zero_point) == 3
    assert model.tensors["d1.weight"].shape == (8, 3, 3, 1)  # depthwise [1, kh, kw, C] -> OHWI
    assert model.graph.totals().macs == 10 * 10 * 8 * 36 + 5 * 5 * 8 * 9 + 5 * 5 * 8 * 8 + 32 * 10


def _unsupported_model() -> bytes:
    """x -> TANH (twice), GELU, and a supported MAX_POOL_2D; int8."""
    T, OP, OPT = schema.TensorType, schema.BuiltinOperator, schema.BuiltinOptions
    pool = schema.Pool2DOptionsT()
    pool.padding, pool.strideH, pool.strideW, pool.filterHeight, pool.filterWidth = schema.Padding.VALID, 2, 2, 2, 2
    tensors = [_tensor("x", [1, 4, 4, 2], T.INT8, 0.1, 0)] + [
        _tensor(n, [1, 4, 4, 2], T.INT8, 0.1, 0) for n in ("t1", "t2", "g")] + [_tensor("p", [1, 2, 2, 2], T.INT8, 0.1, 0)]
    ops = [(OP.TANH, OPT.NONE, None, [0], [1]), (OP.TANH, OPT.NONE, None, [0], [2]),
           (OP.GELU, OPT.NONE, None, [0], [3]), (OP.MAX_POOL_2D, OPT.Pool2DOptions, pool, [0], [4])]
    return _model(tensors, ops, inputs=[0], outputs=[1, 2, 3, 4])


def test_unsupported_operators_are_all_named_with_coverage(tmp_path):
    path = tmp_path / "bad.tflite"
    path.write_bytes(_unsupported_model())
    with pytest.raises(ValueError) as info:
        load_tflite(path)
    message = str(info.value)
    assert message.startswith(f"{path}: unsupported operators: operator ") and "(TANH) -> 't1'" in message
    assert "unsupported operator 'TANH' (2 operators)" in message and "(GELU) -> 'g'" in message
    assert ", ".join(SUPPORTED_OPS) in message and "\n" not in message
    rows = {r.op: r for r in tflite_coverage(path).rows()}
    assert (rows["TANH"].count, rows["TANH"].status) == (2, "unsupported")
    assert (rows["MAX_POOL_2D"].count, rows["MAX_POOL_2D"].status) == (1, "supported")


def test_missing_and_foreign_files(tmp_path):
    with pytest.raises(ValueError, match="none.tflite: cannot read"):
        load_tflite(tmp_path / "none.tflite")
    (tmp_path / "text.tflite").write_text("hello world, not a model")
    with pytest.raises(ValueError, match="text.tflite: not a TFLite model"):
        load_tflite(tmp_path / "text.tflite")


def test_fuzz_truncated_and_mutated_files_raise_one_line_value_errors(tmp_path):
    path = tmp_path / "fuzz.tflite"
    errors = 0
    for blob in corrupted_variants(chain_model(), seed=99):
        path.write_bytes(blob)
        try:
            load_tflite(path)
        except ValueError as exc:
            assert str(exc).startswith(str(path)) and "\n" not in str(exc)
            errors += 1
    assert errors >= 50


def test_sparse_weights_are_densified_with_their_sparsity_kept():
    path = corpus_path("pose_detection")
    model = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(path.read_bytes(), 0))
    sg = model.subgraphs[0]
    stored = {}  # independent: stored values / dense size of each sparse (fp16) constant
    for t in sg.tensors:
        if t.sparsity is not None:
            stored[t.name.decode()] = len(model.buffers[t.buffer].data) / 2 / int(np.prod(t.shape))
    graph = load_tflite(path).graph
    sparse_layers = [l for l in graph if l.sparsity]
    assert len(sparse_layers) == len(stored) == 38
    expected = sorted(round(1 - f, 9) for f in stored.values())
    assert sorted(round(l.sparsity, 9) for l in sparse_layers) == expected
    layer = sparse_layers[0]
    assert layer.sparse_weight_bytes < layer.weight_bytes
    assert [l.op for l in graph].count(Op.DEPTH_TO_SPACE) == 3


def _float_patterns_model() -> bytes:
    """Float: CONV_2D 1x1 -> x * relu6(x + 3) * (1/6) (decomposed hard-swish) -> MUL / ADD by per-channel
    constants (folded into a 1x1 depthwise, the producer has an activation) -> ADD of the input."""
    T, OP, OPT = schema.TensorType, schema.BuiltinOperator, schema.BuiltinOptions
    rng = np.random.default_rng(3)
    conv = schema.Conv2DOptionsT()
    conv.padding, conv.strideH, conv.strideW, conv.dilationHFactor, conv.dilationWFactor = schema.Padding.VALID, 1, 1, 1, 1
    shape = [1, 5, 6, 4]
    t = lambda name, data=None, s=shape: _tensor(name, s if data is None else data.shape, T.FLOAT32, data=data)
    tensors = [t("x"), t("w", rng.normal(0, 0.5, (4, 1, 1, 4)).astype(np.float32)),
               t("b", rng.normal(0, 0.1, 4).astype(np.float32)), t("c"),
               t("three", np.array([3.0], np.float32)), t("a"), t("r"), t("m"),
               t("sixth", np.array([1 / 6], np.float32)), t("hs"),
               t("scale", rng.uniform(0.5, 2, 4).astype(np.float32)), t("sc"),
               t("shift", rng.normal(0, 0.3, 4).astype(np.float32)), t("sh"), t("y")]
    ops = [(OP.CONV_2D, OPT.Conv2DOptions, conv, [0, 1, 2], [3]),
           (OP.ADD, OPT.NONE, None, [3, 4], [5]), (OP.RELU6, OPT.NONE, None, [5], [6]),
           (OP.MUL, OPT.NONE, None, [3, 6], [7]), (OP.MUL, OPT.NONE, None, [7, 8], [9]),
           (OP.MUL, OPT.NONE, None, [9, 10], [11]), (OP.ADD, OPT.NONE, None, [11, 12], [13]),
           (OP.ADD, OPT.NONE, None, [13, 0], [14])]
    return _model(tensors, ops, inputs=[0], outputs=[14])


def test_shared_patterns_in_float_tflite_match_the_interpreter(tmp_path):
    data = _float_patterns_model()
    path = tmp_path / "patterns.tflite"
    path.write_bytes(data)
    model = load_tflite(path)
    assert [(l.op, l.activation) for l in model.graph] == [
        (Op.CONV, Activation.HARDSWISH), (Op.DEPTHWISE, None), (Op.ADD, None)]
    x = np.random.default_rng(0).normal(size=(1, 5, 6, 4)).astype(np.float32)
    interp = Interpreter(model_content=data, experimental_op_resolver_type=OpResolverType.BUILTIN_REF)
    interp.allocate_tensors()
    interp.set_tensor(interp.get_input_details()[0]["index"], x)
    interp.invoke()
    expected = interp.get_tensor(interp.get_output_details()[0]["index"])
    np.testing.assert_allclose(run_float(model, {"x": x})["y"], expected, rtol=1e-5, atol=1e-5)


def test_outputs_keep_their_names_when_the_activation_is_fused(tmp_path):
    T, OP, OPT = schema.TensorType, schema.BuiltinOperator, schema.BuiltinOptions
    rng = np.random.default_rng(4)
    conv = schema.Conv2DOptionsT()
    conv.padding, conv.strideH, conv.strideW, conv.dilationHFactor, conv.dilationWFactor = schema.Padding.SAME, 1, 1, 1, 1
    tensors = [_tensor("x", [1, 4, 4, 3], T.FLOAT32),
               _tensor("w", [2, 3, 3, 3], T.FLOAT32, data=rng.normal(0, 0.5, (2, 3, 3, 3)).astype(np.float32)),
               _tensor("b", [2], T.FLOAT32, data=np.zeros(2, np.float32)), _tensor("c", [1, 4, 4, 2], T.FLOAT32),
               _tensor("prob", [1, 4, 4, 2], T.FLOAT32)]
    ops = [(OP.CONV_2D, OPT.Conv2DOptions, conv, [0, 1, 2], [3]), (OP.LOGISTIC, OPT.NONE, None, [3], [4])]
    data = _model(tensors, ops, inputs=[0], outputs=[4])
    path = tmp_path / "fused.tflite"
    path.write_bytes(data)
    model = load_tflite(path)
    assert [(l.name, l.activation) for l in model.graph] == [("c", Activation.SIGMOID)] and model.outputs == ("prob",)
    x = rng.normal(size=(1, 4, 4, 3)).astype(np.float32)
    interp = Interpreter(model_content=data, experimental_op_resolver_type=OpResolverType.BUILTIN_REF)
    interp.allocate_tensors()
    interp.set_tensor(interp.get_input_details()[0]["index"], x)
    interp.invoke()
    expected = interp.get_tensor(interp.get_output_details()[0]["index"])
    np.testing.assert_allclose(run_float(model, {"x": x})["prob"], expected, rtol=1e-5, atol=1e-6)
