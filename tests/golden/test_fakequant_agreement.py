"""Each integer op against its float (fake-quant) reference: |integer - quantize(float op)| <= 1 LSB.

The float reference runs in float64 on dequantized inputs and weights; its result
is quantized with the output parameters (round half away from zero, clamp). The
rate of exact agreement is printed (run pytest with -s) and recorded as a test
property; benchmarks/RESULTS.md quotes it with the command that printed it.
"""

from __future__ import annotations

import numpy as np
import pytest

from sw.golden.activation import ActivationTable, apply_table
from sw.golden.concat import concat
from sw.golden.elementwise import AddParams, add
from sw.golden.floatref import avg_pool2d_float, conv2d_float, fully_connected_float, max_pool2d_float
from sw.golden.fully_connected import fully_connected
from sw.golden.pooling import avg_pool2d, max_pool2d
from sw.golden.resize import upsample_nearest
from sw.runtime.layer import quantize_conv
from sw.quant.params import QuantParams
from sw.quant.ranges import params_from_range, weight_params
from sw.golden.requant import OutputStage
from sw.quant.folding import quantize_bias


def compare(record_property, name: str, got: np.ndarray, expected: np.ndarray) -> float:
    diff = np.abs(got.astype(np.int64) - expected.astype(np.int64))
    exact = float(np.mean(diff == 0))
    record_property(f"{name}_exact_rate", exact)
    print(f"{name}: exact agreement {exact:.4%} of {diff.size} outputs, max |diff| {diff.max()} LSB")
    assert diff.max() <= 1
    return exact


def activation_params(x: np.ndarray, bits: int, signed: bool) -> QuantParams:
    return params_from_range(float(x.min()), float(x.max()), bits, signed)


@pytest.mark.parametrize("bits", [4, 8])
@pytest.mark.parametrize("groups", [1, 2, "depthwise"])
def test_conv_within_one_lsb(record_property, bits, groups):
    rng = np.random.default_rng(bits * 10 + (3 if groups == "depthwise" else groups))
    cin = 8
    g = cin if groups == "depthwise" else groups
    x = rng.standard_normal((2, 12, 11, cin))
    w = rng.standard_normal((16, 3, 3, cin // g)) * rng.uniform(0.05, 1.0, size=(16, 1, 1, 1))
    b = rng.standard_normal(16) * 0.1
    xp = activation_params(x, bits, signed=False)
    xq = xp.quantize(x)
    y_float_ideal = conv2d_float(xp.dequantize(xq), w, b, stride=2, padding="SAME", groups=g)
    op = activation_params(y_float_ideal, bits, signed=False)
    layer = quantize_conv(w, b, xp, op, w_bits=bits, stride=(2, 2), padding="SAME", groups=g)
    got = layer(xq)
    # Fake quant: dequantized codes, dequantized weights, dequantized int32 bias.
    wq = layer.weight_params.dequantize(layer.weights)
    bq = layer.bias * float(xp.scale) * layer.weight_params.scale
    ref = op.quantize(conv2d_float(xp.dequantize(xq), wq, bq, stride=2, padding="SAME", groups=g))
    compare(record_property, f"conv_w{bits}a{bits}_groups{groups}", got, ref)


@pytest.mark.parametrize("bits", [4, 8])
def test_fully_connected_within_one_lsb(record_property, bits):
    rng = np.random.default_rng(bits)
    x = rng.standard_normal((16, 64))
    w = rng.standard_normal((32, 64))
    b = rng.standard_normal(32)
    xp = activation_params(x, bits, signed=True)
    xq = xp.quantize(x)
    wp = weight_params(w, bits)
    wq = wp.quantize(w)
    bias = quantize_bias(b, xp, wp)
    bq = bias * float(xp.scale) * wp.scale
    ideal = fully_connected_float(xp.dequantize(xq), wp.dequantize(wq), bq)
    op = activation_params(ideal, bits, signed=True)
    got = fully_connected(xq, wq, bias, OutputStage.for_layer(xp, wp, op), input_zero_point=int(xp.zero_point), weight_zero_point=wp.zero_point)
    compare(record_property, f"fc_w{bits}a{bits}", got, op.quantize(ideal))


@pytest.mark.parametrize("bits", [4, 8])
def test_add_within_one_lsb(record_property, bits):
    rng = np.random.default_rng(20 + bits)
    a = rng.standard_normal((1, 16, 16, 8)) * 2
    b = rng.standard_normal((1, 16, 16, 8)) * 0.7
    pa, pb = activation_params(a, bits, True), activation_params(b, bits, True)
    aq, bq = pa.quantize(a), pb.quantize(b)
    ideal = pa.dequantize(aq) + pb.dequantize(bq)
    po = activation_params(ideal, bits, True)
    got = add(aq, bq, AddParams.from_params(pa, pb, po))
    compare(record_property, f"add_a{bits}", got, po.quantize(ideal))


@pytest.mark.parametrize("bits", [4, 8])
def test_pooling_within_one_lsb(record_property, bits):
    rng = np.random.default_rng(30 + bits)
    x = rng.standard_normal((1, 13, 13, 4))
    p = activation_params(x, bits, signed=False)
    xq = p.quantize(x)
    real = p.dequantize(xq)
    compare(record_property, f"avgpool_a{bits}", avg_pool2d(xq, 3, 2, "SAME"), p.quantize(avg_pool2d_float(real, 3, 2, "SAME")))
    compare(record_property, f"maxpool_a{bits}", max_pool2d(xq, 5, 1, "SAME"), p.quantize(max_pool2d_float(real, 5, 1, "SAME")))


@pytest.mark.parametrize("bits", [4, 8])
def test_concat_with_requantization_within_one_lsb(record_property, bits):
    rng = np.random.default_rng(40 + bits)
    a = rng.standard_normal((1, 4, 4, 3))
    b = rng.standard_normal((1, 4, 4, 5)) * 3
    pa, pb = activation_params(a, bits, False), activation_params(b, bits, False)
    aq, bq = pa.quantize(a), pb.quantize(b)
    ideal = np.concatenate([pa.dequantize(aq), upsample_nearest(pb.dequantize(bq)[:, ::2, ::2], 2)], axis=-1)
    po = activation_params(ideal, bits, False)
    got = concat([aq, upsample_nearest(bq[:, ::2, ::2], 2)], [pa, pb], po)
    compare(record_property, f"concat_a{bits}", got, po.quantize(ideal))


@pytest.mark.parametrize("function", ["sigmoid", "silu", "hardswish", "leaky_relu", "relu6"])
@pytest.mark.parametrize("bits", [4, 8])
def test_lut_activation_equals_float(record_property, function, bits):
    rng = np.random.default_rng(50 + bits)
    x = rng.standard_normal(1000) * 3
    pin = activation_params(x, bits, True)
    xq = pin.quantize(x)
    real = pin.dequantize(xq)
    from sw.golden.activation import ACTIVATIONS

    ideal = ACTIVATIONS[function](real)
    pout = activation_params(ideal, bits, False)
    got = apply_table(xq, ActivationTable.build(function, pin, pout))
    exact = compare(record_property, f"{function}_a{bits}", got, pout.quantize(ideal))
    assert exact == 1.0  # a table is the float reference sampled at every code
