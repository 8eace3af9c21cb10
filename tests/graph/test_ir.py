"""Layer IR: hand-derived costs of small layers, shape validation, bit policies, weight sharing."""

from __future__ import annotations

import dataclasses

import pytest

from sw.graph import Graph, GraphBuilder, Layer, Op, Part


def _conv(name="c", inp="x", in_shape=(8, 8, 16), out_shape=(8, 8, 32), **kw) -> Layer:
    kw.setdefault("kernel", (3, 3))
    kw.setdefault("padding", ((1, 1), (1, 1)))
    kw.setdefault("op", Op.CONV)
    return Layer(name=name, inputs=(inp,), in_shapes=(in_shape,), out_shape=out_shape, **kw)


def test_conv3x3_macs_params_bytes():
    layer = _conv(bias=True)
    assert layer.macs == 8 * 8 * 32 * 3 * 3 * 16
    assert layer.params == 3 * 3 * 16 * 32 + 32
    assert layer.weight_bytes == 3 * 3 * 16 * 32 // 2 + 32 * 4  # int4: two per byte; int32 bias


def test_weight_bytes_by_width():
    layer = _conv()  # 4608 weights, no bias
    assert dataclasses.replace(layer, w_bits=8).weight_bytes == 4608
    assert dataclasses.replace(layer, w_bits=32).weight_bytes == 4608 * 4
    odd = _conv(in_shape=(8, 8, 1), out_shape=(8, 8, 1))  # 9 int4 weights round up to 5 bytes
    assert odd.weight_bytes == 5


def test_grouped_depthwise_transpose_fc_mul_macs():
    grouped = _conv(groups=4)
    assert grouped.macs == 8 * 8 * 32 * 9 * 16 // 4 and grouped.params == 9 * 4 * 32
    dw = Layer("dw", Op.DEPTHWISE, ("x",), ((8, 8, 16),), (4, 4, 16), kernel=(3, 3), stride=(2, 2),
               padding=((0, 1), (0, 1)), groups=16)
    assert dw.macs == 4 * 4 * 16 * 9 and dw.params == 9 * 16
    tconv = Layer("t", Op.CONV_TRANSPOSE, ("x",), ((4, 4, 8),), (8, 8, 2), kernel=(2, 2), stride=(2, 2))
    assert tconv.macs == 4 * 4 * 8 * 2 * 2 * 2 and tconv.params == 2 * 2 * 8 * 2
    fc = Layer("f", Op.FC, ("x",), ((7, 7, 256),), (1, 1, 1024), bias=True, repeat=10)
    assert fc.macs == 10 * 7 * 7 * 256 * 1024 and fc.params == 7 * 7 * 256 * 1024 + 1024
    mul = Layer("m", Op.MUL, ("x", "s"), ((4, 4, 8), (1, 1, 8)), (4, 4, 8))
    assert mul.macs == 4 * 4 * 8 and mul.params == 0


def test_zero_cost_ops():
    pool = Layer("p", Op.MAXPOOL, ("x",), ((8, 8, 4),), (4, 4, 4), kernel=(2, 2), stride=(2, 2))
    add = Layer("a", Op.ADD, ("x", "y"), ((8, 8, 4), (8, 8, 4)), (8, 8, 4), activation="relu")
    assert pool.macs == add.macs == pool.params == add.params == 0


@pytest.mark.parametrize("kwargs, message", [
    (dict(out_shape=(7, 7, 32)), r"window arithmetic gives output H, W = \(8, 8\)"),
    (dict(groups=3), "divisible by groups"),
    (dict(w_bits=9), "w_bits must be one of"),
    (dict(stride=(0, 1)), "stride must be two positive integers"),
    (dict(op="softmax"), "'softmax' is not a valid Op"),
])
def test_layer_rules(kwargs, message):
    with pytest.raises(ValueError, match=message):
        _conv(**kwargs)


def test_error_names_layer_and_shapes():
    with pytest.raises(ValueError) as info:
        _conv(name="stem", out_shape=(4, 4, 32))
    assert "layer 'stem'" in str(info.value) and "(8, 8, 16)" in str(info.value) and "(4, 4, 32)" in str(info.value)


@pytest.mark.parametrize("op, ins, out, kw, message", [
    (Op.CONCAT, ((4, 4, 8), (4, 4, 8)), (4, 4, 15), {}, "sum of input channels"),
    (Op.CONCAT, ((4, 4, 8), (2, 2, 8)), (4, 4, 16), {}, "equal H, W"),
    (Op.ADD, ((4, 4, 8), (4, 4, 4)), (4, 4, 8), {}, "add needs every input shape equal"),
    (Op.UPSAMPLE, ((4, 4, 8),), (9, 8, 8), {"stride": (2, 2)}, "ceil"),
    (Op.MUL, ((4, 4, 8), (1, 2, 8)), (4, 4, 8), {}, r"\(1, 1, C\)"),
    (Op.FC, ((2, 2, 8),), (2, 1, 4), {}, r"\(1, 1, units\)"),
    (Op.ACTIVATION, ((4, 4, 8),), (4, 4, 8), {}, "needs an activation"),
])
def test_op_shape_rules(op, ins, out, kw, message):
    with pytest.raises(ValueError, match=message):
        Layer("bad", op, tuple(f"t{i}" for i in range(len(ins))), ins, out, **kw)


def test_upsample_crop_allowed():
    Layer("u", Op.UPSAMPLE, ("x",), ((38, 38, 8),), (75, 75, 8), stride=(2, 2))


def test_graph_checks_producer_shapes():
    good = _conv(name="c1", out_shape=(8, 8, 32))
    consumer = _conv(name="c2", inp="c1", in_shape=(8, 8, 16), out_shape=(8, 8, 8))
    with pytest.raises(ValueError, match=r"layer 'c2': input 'c1' has shape \(8, 8, 32\) but the layer expects \(8, 8, 16\)"):
        Graph("g", (("x", (8, 8, 16)),), (good, consumer), ("c2",))


@pytest.mark.parametrize("layers, message", [
    ((_conv(inp="nowhere"),), "input 'nowhere' is not a graph input or an earlier layer"),
    ((_conv(name="x"),), "duplicate tensor name 'x'"),
    ((_conv(name="a", inp="b"), _conv(name="b")), "input 'b' is not a graph input or an earlier layer"),
])
def test_graph_structure_errors(layers, message):
    with pytest.raises(ValueError, match=message):
        Graph("g", (("x", (8, 8, 16)),), layers, (layers[-1].name,))


def _two_level_graph() -> Graph:
    b = GraphBuilder("g")
    x = b.input("x", (8, 8, 16))
    p3 = b.conv(x, 16, 3, 1, name="p3")
    p4 = b.conv(p3, 16, 3, 2, name="p4")
    b.part = Part.HEAD
    h3 = b.conv(p3, 8, 3, 1, name="h3")
    h4 = b.conv(p4, 8, 3, 1, name="h4", shares="h3")
    return b.build([h3, h4])


def test_shared_weights_count_once():
    g = _two_level_graph()
    per = 9 * 16 * 8 + 8
    assert g.layer("h4").params == per
    assert g.totals(Part.HEAD).params == per
    assert g.totals(Part.HEAD).macs == (8 * 8 + 4 * 4) * 8 * 9 * 16
    assert g.totals().params == 2 * (9 * 16 * 16 + 16) + per


def test_with_bits_precedence_and_errors():
    g = _two_level_graph().with_bits(default=(4, 4), parts={"head": (8, 8)}, layers={"p4": (32, 32)})
    assert [(l.w_bits, l.a_bits) for l in g] == [(4, 4), (32, 32), (8, 8), (8, 8)]
    assert g.layer("p4").is_float
    with pytest.raises(ValueError, match="no layer 'nope'"):
        g.with_bits(layers={"nope": (8, 8)})
    with pytest.raises(ValueError, match="cannot share weights with 'h3'"):
        g.with_bits(layers={"h4": (4, 4)})
    with pytest.raises(ValueError, match="'tail' is not a valid Part"):
        g.with_bits(parts={"tail": (8, 8)})


def test_layers_are_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        _conv().w_bits = 8  # type: ignore[misc]
