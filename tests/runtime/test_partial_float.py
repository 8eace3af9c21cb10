"""Partial quantization with float parts (bits 32): float layers execute in float64 on the float path."""

from __future__ import annotations

import numpy as np

from sw.graph.importers.onnx_import import load_onnx
from sw.graph.ir import Part
from sw.graph.bits import BitPolicy
from sw.runtime.executor import calibrate, default_calibration, execute
from sw.runtime.floatexec import float_layer_activated, run_float
from sw.runtime.integer import plan_calibrated, run_integer
from tests.importers.onnx_models import MODELS


def _model(tmp_path, name):
    proto, _ = MODELS[name]()
    path = tmp_path / f"{name}.onnx"
    path.write_bytes(proto.SerializeToString())
    return load_onnx(path)


def _inputs(model, seed=0):
    rng = np.random.default_rng(seed)
    return {name: rng.standard_normal(shape) for name, shape in model.native_shapes.items() if name in model.input_names}


def test_all_float_equals_the_float_reference(tmp_path):
    model = _model(tmp_path, "silu_resize_concat")
    x = _inputs(model)
    result = execute(model, x, bits=BitPolicy(default=(32, 32)))
    expected = run_float(model, x)
    assert result.params == {}
    for name, value in expected.items():
        np.testing.assert_array_equal(result.outputs[name], value.astype(np.float32))


def test_float_head_consumes_dequantized_integer_codes(tmp_path):
    model = _model(tmp_path, "silu_resize_concat")
    x = _inputs(model, seed=1)
    parts = {p.value: (4, 4) for p in Part}
    parts["head"] = (32, 32)
    result = execute(model, x, bits=BitPolicy(parts=parts), dequantize=True)
    heads = [layer for layer in model.graph if layer.part is Part.HEAD]
    assert heads, "the test model must have a head"
    assert all(v.dtype.kind == "f" for v in result.outputs.values())
    # Re-run layer by layer: every float head layer's output equals float64 execution of that
    # layer on the (dequantized) values the integer part produced.
    mixed = model.with_bits(BitPolicy(parts=parts))
    params = calibrate(mixed, default_calibration(mixed, x))
    plan = plan_calibrated(mixed, params)
    seen = {}
    codes = {n: params[n].quantize(v) for n, v in x.items()}
    run_integer(mixed, plan, codes, observe=lambda k, v: seen.__setitem__(k, v))
    for layer in mixed.graph:
        if layer.part is Part.HEAD:
            ins = [seen[n] if seen[n].dtype.kind == "f" else params[n].dequantize(seen[n]) for n in layer.inputs]
            np.testing.assert_array_equal(seen[layer.name], float_layer_activated(mixed, layer, ins))


def test_an_input_only_float_layers_read_stays_float(tmp_path):
    """Float backbone, integer head: no integer layer reads the graph input, so it gets no parameters and the
    float backbone sees the exact input (before the fix it was quantized at the head's width)."""
    model = _model(tmp_path, "silu_resize_concat")
    x = _inputs(model, seed=2)
    parts = {p.value: (4, 4) for p in Part}
    parts["backbone"] = (32, 32)
    mixed = model.with_bits(BitPolicy(parts=parts))
    first = [l for l in mixed.graph if any(n in model.input_names for n in l.inputs)]
    assert first and all(l.a_bits == 32 for l in first)
    params = calibrate(mixed, default_calibration(mixed, x))
    assert not set(model.input_names) & set(params)
    seen = {}
    run_integer(mixed, plan_calibrated(mixed, params), dict(x), observe=lambda k, v: seen.__setitem__(k, v))
    for layer in first:
        ref = float_layer_activated(mixed, layer, [model.from_native(n, x[n]) for n in layer.inputs])
        np.testing.assert_array_equal(seen[layer.name], ref)
