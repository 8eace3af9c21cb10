"""Study metrics against independent hand-computed expectations."""

from __future__ import annotations

import numpy as np
import pytest

from sw.detect.boxes import Agreement, Detections, match_detections
from sw.detect.evaluate import _pool as pool_agreements  # the pooling behind hwsim eval's agreement
from rtl.top.layer import im2col
from hwsim.app.studies.weights import channel_ranges, range_spread


def test_range_spread_of_a_hand_built_tensor():
    w = np.zeros((3, 1, 1, 4))
    w[0, 0, 0] = [-1.0, 1.0, 0.0, 0.5]    # range 2
    w[1, 0, 0] = [0.0, 0.02, 0.01, 0.0]   # range 0.02 -> ratio 100 -> 40 dB
    w[2, 0, 0] = [0.7, 0.7, 0.7, 0.7]     # range 0: dead
    np.testing.assert_allclose(channel_ranges(w), [2.0, 0.02, 0.0])
    lo, hi, db, dead = range_spread(w)
    assert (lo, hi, dead) == (pytest.approx(0.02), pytest.approx(2.0), 1)
    assert db == pytest.approx(40.0)


def test_identical_detections_agree_fully():
    det = Detections(np.array([[0, 0, 10, 10], [20, 20, 30, 40.0]]), np.array([0.9, 0.6]), np.array([0, 1]))
    a = match_detections(det, det)
    assert (a.matched, a.lost, a.gained, a.mean_iou, a.mean_abs_score_diff) == (2, 0, 0, 1.0, 0.0)


def test_pooled_agreement_weights_means_by_matches():
    pooled = pool_agreements([Agreement(1, 0.5, 0.2, 1, 0), Agreement(3, 0.9, 0.0, 0, 2),
                              Agreement(0, float("nan"), float("nan"), 2, 0)])
    assert (pooled.matched, pooled.lost, pooled.gained) == (4, 3, 2)
    assert pooled.mean_iou == pytest.approx((0.5 + 3 * 0.9) / 4)
    assert pooled.mean_abs_score_diff == pytest.approx(0.05)


def test_im2col_matches_a_direct_convolution():
    rng = np.random.default_rng(1)
    x = rng.integers(-8, 8, (1, 5, 6, 3))
    w = rng.integers(-8, 8, (4, 3, 3, 3))  # OHWI
    cols = im2col(x, (3, 3), (2, 2), (1, 1), ((1, 1), (0, 1)), pad_value=0)
    padded = np.pad(x[0], ((1, 1), (0, 1), (0, 0)))
    expected = [[np.sum(padded[2 * i:2 * i + 3, 2 * j:2 * j + 3] * w[o]) for o in range(4)]
                for i in range(3) for j in range(3)]
    np.testing.assert_array_equal(cols @ w.reshape(4, -1).T, expected)
