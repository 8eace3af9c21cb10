"""Shift-and-add depthwise convolution equals XLA's grouped form (values and gradients)."""

from __future__ import annotations

import numpy as np
import pytest

jax = pytest.importorskip("jax")

from sw.train.depthwise import depthwise_grouped, depthwise_shift_add  # noqa: E402


@pytest.mark.parametrize("k, stride, dilation, padding, mult", [
    (3, (1, 1), (1, 1), ((1, 1), (1, 1)), 1),
    (5, (2, 2), (1, 1), ((1, 2), (1, 2)), 1),
    (3, (2, 1), (2, 2), ((2, 1), (0, 2)), 2),
])
def test_shift_add_matches_grouped(k, stride, dilation, padding, mult):
    rng = np.random.default_rng(k)
    x = rng.integers(-8, 8, (2, 11, 13, 3)).astype(np.float32)
    w = rng.integers(-8, 8, (3 * mult, k, k, 1)).astype(np.float32)
    args = (stride, dilation, padding)
    fast = np.asarray(depthwise_shift_add(x, w, *args))
    ref = np.asarray(depthwise_grouped(x, w, *args))
    np.testing.assert_array_equal(fast, ref)  # small integers: exact in float32

    def loss(fn):
        return lambda w_: (fn(x, w_, *args) ** 2).sum()

    np.testing.assert_allclose(jax.grad(loss(depthwise_shift_add))(w), jax.grad(loss(depthwise_grouped))(w),
                               rtol=1e-5)
