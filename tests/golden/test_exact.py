"""Exact integer GEMM paths against int64 numpy matmul (an exact oracle), at their worst-case bounds."""

from __future__ import annotations

import numpy as np
import pytest

from sw.golden.exact import FLOAT32_EXACT, choose_dtype, exact_matmul


@pytest.mark.parametrize(
    "max_a, max_b, depth, path",
    [(15, 15, 70_000, "float32"), (255, 128, 2304, "float32_chunked"), (255, 255, 5000, "float32_chunked"), (383, 383, 600, "float64")],
)
def test_paths_are_exact_at_their_bounds(max_a, max_b, depth, path):
    assert choose_dtype(depth, max_a, max_b) == path
    rng = np.random.default_rng(depth)
    # Worst case: every product at its maximum magnitude with one sign (partial sums reach the bound),
    # plus a random row with mixed signs.
    a = np.full((3, depth), max_a, dtype=np.int64)
    b = np.full((depth, 2), max_b, dtype=np.int64)
    a[1] = -max_a
    a[2] = rng.integers(-max_a, max_a + 1, size=depth)
    b[:, 1] = rng.integers(-max_b, max_b + 1, size=depth)
    got = exact_matmul(a, b, max_a, max_b)
    np.testing.assert_array_equal(got, a @ b)
    assert abs(int(got[0, 0])) == depth * max_a * max_b


def test_float32_alone_would_not_be_exact_there():
    # The chunked path matters: a plain float32 GEMM of the worst case above 2**24 rounds.
    depth, max_a, max_b = 2304, 255, 127
    assert depth * max_a * max_b > FLOAT32_EXACT
    a = np.full((1, depth), max_a, dtype=np.float32)
    b = np.full((depth, 1), max_b, dtype=np.float32)
    b[::2] = max_b - 1
    exact = int((a.astype(np.int64) @ b.astype(np.int64))[0, 0])
    assert int(exact_matmul(a, b, max_a, max_b)[0, 0]) == exact
