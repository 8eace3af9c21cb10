"""IR rules and costs of the kinds imported models added: prelu, resize_bilinear, depth_to_space,
batched fc, sparsity."""

from __future__ import annotations

import pytest

from sw.graph.ir import Layer, Op


def _layer(op, in_shape, out_shape, **kw):
    return Layer(name="l", op=op, inputs=("x",), in_shapes=(in_shape,), out_shape=out_shape, **kw)


def test_costs():
    assert _layer(Op.PRELU, (4, 5, 6), (4, 5, 6)).params == 6
    assert _layer(Op.PRELU, (4, 5, 6), (4, 5, 6)).macs == 0
    assert _layer(Op.RESIZE_BILINEAR, (4, 5, 6), (9, 11, 6), resize="half_pixel").macs == 0
    assert _layer(Op.DEPTH_TO_SPACE, (4, 5, 12), (8, 10, 3), stride=(2, 2)).macs == 0
    fc = _layer(Op.FC, (1, 4, 64), (1, 4, 10), w_bits=8)
    assert (fc.batched_rows, fc.weight_count, fc.macs) == (4, 640, 2560)
    flat = _layer(Op.FC, (2, 2, 16), (1, 1, 10))
    assert (flat.batched_rows, flat.weight_count, flat.macs) == (1, 640, 640)
    sparse = _layer(Op.CONV, (8, 8, 16), (8, 8, 32), sparsity=0.75, w_bits=8, bias=True)
    assert sparse.weight_bytes == 16 * 32 + 32 * 4 and sparse.sparse_weight_bytes == 16 * 32 // 4 + 32 * 4


@pytest.mark.parametrize("op, in_shape, out_shape, kw, message", [
    (Op.RESIZE_BILINEAR, (4, 5, 6), (8, 10, 6), {}, "resize must be one of"),
    (Op.RESIZE_BILINEAR, (4, 5, 6), (8, 10, 6), {"resize": "cubic"}, "resize must be one of"),
    (Op.UPSAMPLE, (4, 5, 6), (8, 10, 6), {"stride": (2, 2), "resize": "half_pixel"}, "None otherwise"),
    (Op.RESIZE_BILINEAR, (4, 5, 6), (8, 10, 7), {"resize": "asymmetric"}, "channels must be unchanged"),
    (Op.PRELU, (4, 5, 6), (4, 6, 6), {}, "prelu needs an unchanged shape"),
    (Op.DEPTH_TO_SPACE, (4, 5, 12), (8, 10, 6), {"stride": (2, 2)}, "depth_to_space by block"),
    (Op.FC, (1, 4, 64), (1, 3, 10), {}, "fc output must be (1, 1, units) or, batched"),
    (Op.ADD, (4, 5, 6), (4, 5, 6), {"sparsity": 0.5}, "sparsity must be in [0, 1) and only on weighted ops"),
])
def test_bad_layers_are_one_line_errors(op, in_shape, out_shape, kw, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")):
        _layer(op, in_shape, out_shape, **kw)
