"""GraphBuilder: padding conventions and computed shapes."""

from __future__ import annotations

import pytest

from sw.graph import GraphBuilder
from sw.graph.builder import resolve_padding


@pytest.mark.parametrize("size, k, s, expected", [
    (300, 3, 2, (0, 1)),   # TF SAME: odd total, extra pixel at the bottom
    (75, 3, 2, (1, 1)),
    (10, 1, 2, (0, 0)),
    (7, 3, 1, (1, 1)),
])
def test_same_padding_matches_tensorflow(size, k, s, expected):
    pads = resolve_padding("same", (size, size), (k, k), (s, s), (1, 1))
    assert pads == (expected, expected)
    assert (size + sum(expected) - k) // s + 1 == -(-size // s)


def test_builder_shapes():
    b = GraphBuilder("t")
    x = b.input("x", (13, 13, 8))
    y = b.conv(x, 16, 3, 2, padding=1, name="down")
    assert b.shape(y) == (7, 7, 16)
    u = b.upsample(y, 2, size=(13, 13), name="up")
    c = b.concat(u, x, name="cat")
    assert b.shape(c) == (13, 13, 24)
    p = b.maxpool(c, 2, 1, padding=((0, 1), (0, 1)), name="pool")
    assert b.shape(p) == (13, 13, 24)
    t = b.conv_transpose(p, 4, 4, 2, padding=1, name="tconv")
    assert b.shape(t) == (26, 26, 4)
    g = b.build([t])
    assert [l.name for l in g] == ["down", "up", "cat", "pool", "tconv"]


def test_unknown_padding_mode():
    b = GraphBuilder("t")
    x = b.input("x", (8, 8, 3))
    with pytest.raises(ValueError, match="padding"):
        b.conv(x, 4, 3, name="c", padding="full")
