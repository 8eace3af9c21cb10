"""Shared sweep fixtures: a small sweep file over the cheapest zoo detector, and a CLI runner."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from hwsim.app.cli import main

#: 2 bit widths x 4 grid designs (+ 1 invalid: cols 24 is not a multiple of 16 requant lanes)
#: + 1 explicit point, on yolov3_tiny_416 (~30 ms per point).
SMALL_SWEEP = """\
[sweep]
base = "edge16_int4"
models = ["yolov3_tiny_416"]
bits = ["4", "backbone=4,neck=4,head=8"]

[grid]
array.rows = [8, 16]
"array.cols" = [16, 32, 24]
[grid.memory]
dram_bytes_per_cycle = [8.0]

[[points]]
"array.rows" = 32
"array.cols" = 32
requant_lanes = 32
"""


@pytest.fixture
def sweep_file(tmp_path: Path) -> Path:
    """The small sweep written to ``tmp_path/s.toml``."""
    path = tmp_path / "s.toml"
    path.write_text(SMALL_SWEEP)
    return path


@pytest.fixture
def run_cli() -> Callable[[list[str]], int]:
    """``run_cli(["sweep", ...]) -> exit status`` through :func:`hwsim.app.cli.main`."""
    return main


def counting(calls: list[str], crash_after: int | None = None) -> Callable[[], contextlib.AbstractContextManager]:
    """An in-process executor factory recording each task key; raises KeyboardInterrupt after N tasks."""

    @contextlib.contextmanager
    def factory() -> Iterator:
        def run(fn, tasks):
            for task in tasks:
                if crash_after is not None and len(calls) >= crash_after:
                    raise KeyboardInterrupt
                calls.append(task.key)
                yield fn(task)

        yield run

    return factory
