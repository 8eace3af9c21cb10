"""Where sweep tasks run: in this process, on local processes, or on a Dask cluster.

Each executor is a context manager yielding a function ``(fn, tasks) -> iterator of results``
in completion order. Leaving the context early (an error, Ctrl-C) cancels what has not started.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from typing import Any

from sw.extras import require

__all__ = ["serial", "local_processes", "dask_cluster", "check_scheduler_address"]

MapFn = Callable[[Callable[[Any], Any], Sequence[Any]], Iterator[Any]]

#: The one-line advice when ``distributed`` is missing.


@contextlib.contextmanager
def serial() -> Iterator[MapFn]:
    """Run tasks one by one in this process (``--jobs 1``; debugging, tests)."""
    yield lambda fn, tasks: map(fn, tasks)


@contextlib.contextmanager
def local_processes(max_workers: int | None = None) -> Iterator[MapFn]:
    """A ``ProcessPoolExecutor`` with ``max_workers`` processes (default ``os.cpu_count()``).

    At most ``2 * max_workers`` tasks are in flight, so an interruption leaves little queued work.
    """
    workers = max_workers or os.cpu_count() or 1
    pool = ProcessPoolExecutor(max_workers=workers)

    def run(fn: Callable[[Any], Any], tasks: Sequence[Any]) -> Iterator[Any]:
        queue = iter(tasks)
        pending = {pool.submit(fn, t) for t in _take(queue, 2 * workers)}
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            pending |= {pool.submit(fn, t) for t in _take(queue, len(done))}
            for future in done:
                yield future.result()

    try:
        yield run
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _take(it: Iterator[Any], n: int) -> list[Any]:
    return [t for _, t in zip(range(n), it)]


def check_scheduler_address(address: str) -> str:
    """``address`` if it reads ``tcp://HOST:PORT`` (or ``tls://``, ``inproc://``); ValueError otherwise."""
    scheme, sep, rest = address.partition("://")
    host, _, port = rest.rpartition(":")
    if not sep or scheme not in ("tcp", "tls", "inproc") or (scheme != "inproc" and (not host or not port.isdigit()
                                                                                       or not 0 < int(port) < 65536)):
        raise ValueError(f"--scheduler: expected an address like tcp://HOST:8786, got {address!r}")
    return address


@contextlib.contextmanager
def dask_cluster(address: str | None, n_workers: int | None = None, timeout_s: float = 10.0) -> Iterator[MapFn]:
    """Tasks on the Dask scheduler at ``address`` (``tcp://host:8786``), or on a new ``LocalCluster``.

    Parameters
    ----------
    address
        Scheduler address; ``None`` starts a ``LocalCluster`` of ``n_workers`` single-threaded
        worker processes (default ``os.cpu_count()``) for the duration of the sweep.
    timeout_s
        How long to try to reach the scheduler, s.

    Raises
    ------
    MissingExtra
        ``distributed`` is not installed (the ``sweep`` extra).
    ValueError
        The scheduler cannot be reached (one line).
    """
    distributed = require("distributed", "sweep", "hwsim sweep --scheduler/--dask")
    Client, LocalCluster, as_completed = distributed.Client, distributed.LocalCluster, distributed.as_completed
    with contextlib.ExitStack() as stack:
        if address is None:
            cluster = stack.enter_context(LocalCluster(n_workers=n_workers or os.cpu_count() or 1,
                                                       threads_per_worker=1, dashboard_address=":0"))
            address = cluster.scheduler_address
        try:
            client = stack.enter_context(Client(address, timeout=timeout_s))
        except (OSError, TimeoutError, ValueError) as exc:
            first = (str(exc).splitlines() or [type(exc).__name__])[0]
            raise ValueError(f"cannot reach the Dask scheduler at {address}: {first}") from None

        def run(fn: Callable[[Any], Any], tasks: Sequence[Any]) -> Iterator[Any]:
            futures = client.map(fn, list(tasks), pure=False)
            try:
                for future in as_completed(futures):
                    yield future.result()
            finally:
                client.cancel(futures)

        yield run
