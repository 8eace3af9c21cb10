"""The append-only results log (``results.jsonl``) and the CSV tables written from it.

One JSON object per line, appended, flushed and fsynced as each point completes, so a crash
loses at most the point being written. On reopening, a torn last line (no newline: the crash
hit mid-write) is truncated away; a complete line that is not JSON is corruption and an error.
An exclusive ``flock`` keeps two sweeps from appending to the same log at once.
"""

from __future__ import annotations

import csv
import fcntl
import io
import json
import os
from pathlib import Path
from typing import Any, BinaryIO, Iterable

from sw.fileio import atomic_write_text

__all__ = ["ResultLog", "write_csv"]


class ResultLog:
    """Exclusive handle on ``results.jsonl``: the records it already holds, and appending.

    Use as a context manager. ``records`` maps key -> the last record with that key;
    ``dropped_torn_line`` tells whether a torn last line was truncated on opening.

    Raises
    ------
    ValueError
        The log is locked by another sweep, or a complete line is not a JSON object with a key.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._handle: BinaryIO = open(self.path, "a+b")  # noqa: SIM115 (closed in close())
        try:
            fcntl.flock(self._handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._handle.close()
            raise ValueError(f"{self.path} is in use by another running sweep") from None
        self.records: dict[str, dict[str, Any]] = {}
        self.dropped_torn_line = False
        self._load()

    def _load(self) -> None:
        self._handle.seek(0)
        data = self._handle.read()
        end = data.rfind(b"\n") + 1
        if end < len(data):
            self._handle.truncate(end)
            os.fsync(self._handle.fileno())
            self.dropped_torn_line = True
        for number, line in enumerate(data[:end].splitlines(), 1):
            try:
                record = json.loads(line)
                key = record["key"]
            except (ValueError, TypeError, KeyError):
                raise ValueError(f"{self.path}: line {number} is not a result record; "
                                 f"delete that line (or the file) and rerun") from None
            self.records[key] = record

    def append(self, record: dict[str, Any]) -> None:
        """Write ``record`` as one line and make it durable (flush + fsync) before returning."""
        self._handle.write(json.dumps(record, separators=(",", ":")).encode() + b"\n")
        self._handle.flush()
        os.fsync(self._handle.fileno())
        self.records[record["key"]] = record

    def close(self) -> None:
        """Release the lock and close the file."""
        self._handle.close()

    def __enter__(self) -> ResultLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def write_csv(path: str | os.PathLike[str], rows: Iterable[dict[str, Any]], columns: list[str]) -> None:
    """Write ``rows`` (missing or ``None`` values as empty cells) as CSV, atomically."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow(["" if row.get(c) is None else _cell(row[c]) for c in columns])
    atomic_write_text(path, buf.getvalue())


def _cell(value: Any) -> str:
    return json.dumps(value) if isinstance(value, (list, dict, bool)) else str(value)
