"""Pareto fronts: a hand-made set, ties and duplicates, and a brute-force cross-check."""

from __future__ import annotations

import numpy as np

from hwsim.app.sweep.pareto import front_rows, markdown_table, non_dominated


def _brute(x, y):
    n = len(x)
    return np.array([not any(x[j] <= x[i] and y[j] <= y[i] and (x[j] < x[i] or y[j] < y[i]) for j in range(n))
                     for i in range(n)])


def test_hand_made_set():
    #        a  b  c  d  e  f
    x = [1, 2, 3, 2, 4, 1]
    y = [5, 3, 1, 4, 1, 6]
    # a (1,5) front; b (2,3) front; c (3,1) front; d (2,4) dominated by b; e (4,1) dominated by c;
    # f (1,6) dominated by a (same x, larger y)
    assert non_dominated(x, y).tolist() == [True, True, True, False, False, False]


def test_duplicates_stay_and_empty_is_empty():
    assert non_dominated([1, 1, 2], [2, 2, 1]).tolist() == [True, True, True]
    assert non_dominated([], []).tolist() == []


def test_matches_brute_force_on_random_sets():
    rng = np.random.default_rng(0)
    for _ in range(50):
        x, y = rng.integers(0, 8, size=(2, 30))
        assert (non_dominated(x, y) == _brute(x, y)).all()


def test_front_rows_per_model_and_missing_area():
    rows = [
        {"key": "k1", "model": "m", "bits": "4", "latency_ms": 1.0, "energy_mj": 2.0, "area_cells": 10.0},
        {"key": "k2", "model": "m", "bits": "4", "latency_ms": 2.0, "energy_mj": 1.0, "area_cells": None},
        {"key": "k3", "model": "m", "bits": "4", "latency_ms": 3.0, "energy_mj": 3.0, "area_cells": 1.0},
        {"key": "k4", "model": "n", "bits": "8", "latency_ms": 9.0, "energy_mj": 9.0, "area_cells": 9.0},
    ]
    fronts = front_rows(rows, ["m", "n"])
    assert [(r["front"], r["key"]) for r in fronts] == [
        ("latency_ms vs energy_mj", "k1"), ("latency_ms vs energy_mj", "k2"),
        ("energy_mj vs area_cells", "k1"), ("energy_mj vs area_cells", "k3"),
        ("latency_ms vs energy_mj", "k4"), ("energy_mj vs area_cells", "k4")]
    text = markdown_table(fronts, [])
    assert text.count("## ") == 4 and "| 4 | 1 |" in text
