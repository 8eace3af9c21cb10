"""The timing module: stage sums and the tile formula (the RTL tests measure them)."""

import re

import pytest

from rtl import timing


def test_requant_pipeline_is_sum_of_named_stages():
    stages = dict(timing.REQUANT_STAGES)
    assert list(stages) == ["bias", "lshift", "multiply", "srdhm", "rdbpot", "output"]
    assert timing.REQUANT_PIPELINE_CYCLES == sum(stages.values()) == 7


@pytest.mark.parametrize(("rows", "cols", "k", "lanes", "expected"), [
    (1, 1, 1, None, 1 + 1 + 1 + 1 + 5),
    (4, 4, 16, None, 16 + 4 + 4 + 4 + 5),
    (8, 8, 216, 2, 216 + 8 + 8 + 8 * 4 + 5),
    (16, 16, 4608, None, 4608 + 16 + 16 + 16 + 5),
])
def test_tile_cycles_closed_form(rows, cols, k, lanes, expected):
    assert timing.array_tile_cycles(rows, cols, k, requant_lanes=lanes) == expected
    assert (timing.array_tile_cycles(rows, cols, k, requant_lanes=lanes)
            - timing.array_tile_interval(rows, cols, k, requant_lanes=lanes)) == timing.REQUANT_PIPELINE_CYCLES


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
