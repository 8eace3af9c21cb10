"""Terminal output of the CLI: a console sized to the terminal, and progress for slow steps.

* :func:`make_console`: a rich console as wide as the terminal (``COLUMNS`` is honoured),
  120 columns when stdout is not a terminal, never narrower than 80.
* :func:`progress`: on a terminal a tqdm bar on stderr; otherwise (CI logs, pipes) one plain
  line on stderr every ``every_s`` seconds (``simulate: 40/120 layers, 12 s``) and a final
  line, so long runs are visibly alive without flooding a log.
"""

from __future__ import annotations

import shutil
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

from rich.console import Console

__all__ = ["make_console", "console_width", "progress", "progress_wrapper", "shorten_left",
           "NOT_A_TERMINAL_WIDTH", "PROGRESS_EVERY_S"]

T = TypeVar("T")

#: Console width (columns) when stdout is not a terminal and ``COLUMNS`` is not set.
NOT_A_TERMINAL_WIDTH = 120
#: Seconds between progress lines when stderr is not a terminal.
PROGRESS_EVERY_S = 10.0


def console_width() -> int:
    """Columns available for tables (>= 80)."""
    return max(80, shutil.get_terminal_size((NOT_A_TERMINAL_WIDTH, 24)).columns)


def shorten_left(name: str, width: int) -> str:
    """``name`` cut from the left to ``width`` characters (``…`` marks the cut): a layer name's end
    (``…conv2.P3``) is what tells sibling layers apart in a narrow table column."""
    return name if len(name) <= width else "…" + name[-(width - 1):]


def make_console() -> Console:
    """A rich console for the command's stdout, :func:`console_width` columns wide."""
    return Console(width=console_width(), highlight=False)


def _plain(items: Iterable[T], desc: str, unit: str, total: int | None, every_s: float) -> Iterator[T]:
    start = last = time.monotonic()
    done = 0
    for item in items:
        yield item
        done += 1
        now = time.monotonic()
        if now - last >= every_s:
            last = now
            of = f"/{total}" if total is not None else ""
            print(f"{desc}: {done}{of} {unit}s, {now - start:.0f} s", file=sys.stderr, flush=True)
    if time.monotonic() - start >= every_s:
        print(f"{desc}: {done} {unit}s done in {time.monotonic() - start:.0f} s", file=sys.stderr, flush=True)


def progress(items: Iterable[T], desc: str, *, unit: str = "item", total: int | None = None,
             every_s: float = PROGRESS_EVERY_S) -> Iterator[T]:
    """``items`` with progress on stderr (a bar on a terminal, periodic lines otherwise)."""
    if total is None and hasattr(items, "__len__"):
        total = len(items)  # type: ignore[arg-type]
    if sys.stderr.isatty():
        from tqdm import tqdm
        return iter(tqdm(items, desc=desc, unit=unit, total=total, file=sys.stderr, leave=False))
    return _plain(items, desc, unit, total, every_s)


def progress_wrapper(desc: str, unit: str = "item") -> Callable[[Iterable[T]], Iterator[T]]:
    """A one-argument wrapper (for library functions that take ``progress=``)."""
    return lambda items: progress(items, desc, unit=unit)
