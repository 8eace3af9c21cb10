"""The timing module: stage sums and the tile formula (the RTL tests measure them)."""

import re

import pytest

from rtl import timing


def test_requant_pipeline_is_sum_of_named_stages():
    stages = dict(timing.REQUANT_STAGES)
    assert list(stages) == ["bias", "lshift", "multiply", "srdhm", "rdbpot", "output"]
    assert timing.REQUANT_PIPELINE_CYCLES == sum(stages.values()) == 7


@pytest.mark.parametrize(("rows", "cols", "k", "lanes", "cycles", "interval"), [
    # T = k - 1 + S0 + G*rows + 7; interval = max(k, Dmin) (hand-derived from the docstrings' rules)
    (1, 1, 1, None, 1 - 1 + 1 + 1 + 7, 1),
    (4, 4, 16, None, 16 - 1 + 4 + 4 + 7, 16),
    (4, 4, 2, None, 2 - 1 + 4 + 4 + 7, 4),
    (8, 8, 216, 2, 216 - 1 + 2 + 32 + 7, 216),  # S0 = L = 2, Dmin = G*rows = 32
    (8, 8, 27, 2, 27 - 1 + 2 + 32 + 7, 32),
    (2, 8, 3, 4, 3 - 1 + 6 + 4 + 7, 6),  # rows < L: S0 = 4 + (2-1)*(4-2) = 6, Dmin = max(6, 4)
    (16, 16, 4608, None, 4608 - 1 + 16 + 16 + 7, 4608),
    (32, 32, 27, None, 27 - 1 + 32 + 32 + 7, 32),
])
def test_tile_cycles_and_interval_closed_form(rows, cols, k, lanes, cycles, interval):
    assert timing.array_tile_cycles(rows, cols, k, requant_lanes=lanes) == cycles
    assert timing.array_tile_interval(rows, cols, k, requant_lanes=lanes) == interval


@pytest.mark.parametrize(("rows", "cols", "lanes"), [(r, c, l) for r in (1, 2, 3, 5, 8) for c in (1, 2, 4, 6, 8)
                                                      for l in range(1, c + 1) if c % l == 0])
def test_drain_offsets_are_the_least_that_satisfy_the_register_rules(rows, cols, lanes):
    """Enumerate every (group, row, lane): the drain read of PE (r, g*L + l) must come after the PE's
    last-beat write (cycle r + c, visible one later) and no later than the next tile's write
    (Dmin + r + c); drains must not overlap. S0 and Dmin are the smallest values that work."""
    groups = cols // lanes
    reads = [(g * rows + r, r + g * lanes + l) for g in range(groups) for r in range(rows) for l in range(lanes)]
    s0 = min(s for s in range(0, 4 * (rows + cols)) if all(s + i >= pe + 1 for i, pe in reads))
    dmin = min(d for d in range(1, 8 * (rows + cols)) if d >= groups * rows
               and all(s0 + i <= d + pe for i, pe in reads))
    assert timing.drain_start_offset(rows, cols, lanes) == s0
    assert timing.min_tile_interval(rows, cols, lanes) == dmin


@pytest.mark.parametrize(("args", "kwargs", "message"), [
    ((0, 4, 4), {}, "rows: expected an integer >= 1, got 0"),
    ((4, 0, 4), {}, "cols: expected an integer >= 1, got 0"),
    ((4, 4, 0), {}, "k: expected an integer >= 1, got 0"),
    ((4, 6, 4), {"requant_lanes": 4}, "requant_lanes: expected a divisor of cols=6 in [1, 6], got 4"),
])
def test_tile_cycles_rejects_bad_shapes(args, kwargs, message):
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        timing.array_tile_cycles(*args, **kwargs)


def test_timing_module_is_pure_python():
    import ast
    import inspect

    tree = ast.parse(inspect.getsource(timing))
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, (ast.Import, ast.ImportFrom))
                for alias in node.names} | {node.module for node in ast.walk(tree)
                                            if isinstance(node, ast.ImportFrom)}
    assert not any(name and name.startswith("amaranth") for name in imported)
