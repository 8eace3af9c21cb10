"""Safe output files: validated before any work, written atomically, never over an input.

* :func:`atomic_open` / :func:`atomic_write_text` / :func:`atomic_write_bytes`: write to a
  temporary file beside the target, then rename. A crash or an error while writing never
  leaves a truncated file at the target path, and an existing file there stays intact until
  the new one is complete. Files get the user's umask (like ``open``), not ``mkstemp``'s 0600.
* :class:`OutputPlan`: a command declares its inputs and outputs up front
  (:meth:`OutputPlan.file`, :meth:`OutputPlan.directory`); every output path is checked
  before any work (not an input, not a directory, not named twice, its folder exists or can
  be created, writable), the contents are staged in memory, and :meth:`OutputPlan.commit`
  writes them all at the end (missing folders created): every temporary file first, then
  the renames. A run that fails
  before the commit leaves every earlier file byte-identical.

Errors name the user's path (never a temporary file) and what was expected.
"""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

__all__ = ["atomic_open", "atomic_write_text", "atomic_write_bytes", "OutputPlan", "describe_os_error",
           "file_mode"]


def file_mode() -> int:
    """Permission bits a new file gets from ``open``: ``0o666`` less the process umask."""
    with open("/proc/self/status", encoding="ascii") if os.path.exists("/proc/self/status") else \
            contextlib.nullcontext(None) as status:
        if status is not None:
            for line in status:
                if line.startswith("Umask:"):
                    return 0o666 & ~int(line.split()[1], 8)
    mask = os.umask(0o022)  # no /proc: read the umask the portable way and put it back
    os.umask(mask)
    return 0o666 & ~mask


def describe_os_error(path: str | os.PathLike[str], exc: OSError) -> str:
    """One line naming the user's ``path`` and the reason, e.g. ``out/r.json: permission denied``."""
    reason = (exc.strerror or type(exc).__name__).lower() if exc.errno else str(exc)
    return f"{os.fspath(path)}: {reason}"


def _temp_beside(target: Path, mode: str) -> tuple[IO, str]:
    directory = target.parent if str(target.parent) else Path(".")
    if not directory.is_dir():
        raise ValueError(f"{target}: directory {directory} does not exist")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=directory)
    except OSError as exc:
        raise OSError(exc.errno, describe_os_error(target, exc)) from None
    os.fchmod(fd, file_mode())
    return os.fdopen(fd, mode, **({"encoding": "utf-8"} if mode == "w" else {})), tmp


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike[str], mode: str = "w") -> Iterator[IO]:
    """Open a temporary file in ``path``'s directory; rename it onto ``path`` on success.

    Parameters
    ----------
    path
        Final destination. Its directory must exist.
    mode
        ``"w"`` (text, UTF-8) or ``"wb"`` (binary).
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"mode: expected 'w' or 'wb', got {mode!r}")
    target = Path(path)
    handle, tmp = _temp_beside(target, mode)
    try:
        with handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except OSError as exc:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise OSError(exc.errno, describe_os_error(target, exc)) from None
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    with atomic_open(path, "w") as handle:
        handle.write(text)


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    with atomic_open(path, "wb") as handle:
        handle.write(data)


def _same_file(a: Path, b: Path) -> bool:
    if a.resolve() == b.resolve():
        return True
    with contextlib.suppress(OSError):
        return a.exists() and b.exists() and os.path.samefile(a, b)
    return False


def _nearest_existing(path: Path) -> Path:
    probe = path.resolve()
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    return probe


@dataclass
class OutputPlan:
    """Outputs of one command: checked before the work, written together after it.

    Parameters
    ----------
    inputs
        Every file the command reads (model, config, vectors, samples); an output may not be one.
    """

    inputs: Iterable[str | os.PathLike[str]] = ()
    _inputs: list[Path] = field(init=False, default_factory=list)
    _files: dict[Path, tuple[str, bytes | None]] = field(init=False, default_factory=dict)
    _dirs: dict[Path, str] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        self._inputs = [Path(p) for p in self.inputs if p is not None]

    def _check_not_input(self, path: Path, flag: str) -> None:
        for source in self._inputs:
            if _same_file(path, source):
                raise ValueError(f"{flag} {path}: is an input of this command; choose another output path")

    def _check_writable_parent(self, path: Path, flag: str) -> None:
        existing = _nearest_existing(path.parent if str(path.parent) else Path("."))
        if not existing.is_dir():
            raise ValueError(f"{flag} {path}: {existing} is not a directory")
        if not os.access(existing, os.W_OK | os.X_OK):
            raise ValueError(f"{flag} {path}: directory {existing} is not writable")

    def file(self, path: str | os.PathLike[str] | None, flag: str) -> Path | None:
        """Declare output file ``path`` (given by option ``flag``); None passes through.

        Raises
        ------
        ValueError
            The path is an input, a directory, already declared, or cannot be written.
        """
        if path is None:
            return None
        p = Path(path)
        if str(path) == "" or p.name in ("", ".", ".."):
            raise ValueError(f"{flag}: expected a file path, got {str(path)!r}")
        if p.is_dir():
            raise ValueError(f"{flag} {p}: is a directory; expected a file path")
        if p.exists() and not os.access(p, os.W_OK):
            raise ValueError(f"{flag} {p}: exists and is not writable")
        for other, (other_flag, _) in self._files.items():
            if _same_file(p, other):
                raise ValueError(f"{flag} {p}: the same file is also given to {other_flag}")
        self._check_not_input(p, flag)
        self._check_writable_parent(p, flag)
        self._files[p] = (flag, None)
        return p

    def directory(self, path: str | os.PathLike[str] | None, flag: str) -> Path | None:
        """Declare an output directory (created at :meth:`commit` if missing); None passes through."""
        if path is None:
            return None
        p = Path(path)
        if p.exists() and not p.is_dir():
            raise ValueError(f"{flag} {p}: exists and is not a directory")
        for source in self._inputs:
            if _same_file(p, source):
                raise ValueError(f"{flag} {p}: is an input of this command; choose another output path")
        self._check_writable_parent(p / "x", flag)
        self._dirs[p] = flag
        return p

    def stage(self, path: str | os.PathLike[str], data: bytes | str, flag: str | None = None) -> None:
        """Stage the contents of a declared file, or of a new file inside a declared directory."""
        p = Path(path)
        if p not in self._files:
            parent_flag = self._dirs.get(p.parent)
            if parent_flag is None:
                raise ValueError(f"{p}: not a declared output (internal error: declare it first)")
            self._check_not_input(p, flag or parent_flag)
            if p.is_dir():
                raise ValueError(f"{flag or parent_flag} {p}: is a directory; expected a file path")
            self._files[p] = (flag or parent_flag, None)
        self._files[p] = (self._files[p][0], data.encode("utf-8") if isinstance(data, str) else bytes(data))

    def commit(self) -> list[Path]:
        """Write every staged file: all temporaries first, then the renames. Returns the paths written."""
        for d in self._dirs:
            try:
                d.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise OSError(exc.errno or errno.EIO, describe_os_error(d, exc)) from None
        staged = [(p, data) for p, (_, data) in self._files.items() if data is not None]
        temps: list[tuple[str, Path]] = []
        try:
            for target, _ in staged:
                target.parent.mkdir(parents=True, exist_ok=True)
            for target, data in staged:
                handle, tmp = _temp_beside(target, "wb")
                temps.append((tmp, target))
                with handle:
                    handle.write(data)
                    handle.flush()
                    os.fsync(handle.fileno())
            for tmp, target in temps:
                os.replace(tmp, target)
        except OSError as exc:
            for tmp, _ in temps:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(tmp)
            where = temps[-1][1] if temps else (staged[0][0] if staged else Path("."))
            raise OSError(exc.errno or errno.EIO, describe_os_error(where, exc)) from None
        except BaseException:
            for tmp, _ in temps:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(tmp)
            raise
        return [target for target, _ in staged]
