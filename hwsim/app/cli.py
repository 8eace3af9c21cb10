"""The ``hwsim`` command line: one sub-command per module in :mod:`hwsim.app.commands`.

Each command module exposes ``register(subparsers)``, which adds its parser and sets
``func`` to a callable ``(args) -> int``. Only the module of the command being run is
imported (the others appear in ``hwsim --help`` from the table in
:mod:`hwsim.app.commands`), so start-up does not pay for matplotlib, Amaranth or the
report pages. Failures are one line on stderr: bad input (``ValueError``, ``OSError``)
and a missing optional extra exit with status 2, Ctrl-C with 130, an internal error (a bug)
with 3; never a traceback unless ``HWSIM_DEBUG=1``.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from hwsim.app.commands import COMMANDS, module_name
from sw.extras import MissingExtra
from sw.fileio import describe_os_error

__all__ = ["main", "build_parser", "version"]

#: Exit status of a run interrupted by Ctrl-C (128 + SIGINT), as shells report it.
EXIT_INTERRUPTED = 130
#: Exit status of bad input, a failed check or a missing extra.
EXIT_ERROR = 2
#: Exit status of an internal error (a bug): one line, the traceback only with ``HWSIM_DEBUG=1``.
EXIT_INTERNAL = 3


def version() -> str:
    """The installed ``hwsim`` version (``unknown`` when run from a source tree without metadata)."""
    from importlib import metadata

    try:
        return metadata.version("hwsim")
    except metadata.PackageNotFoundError:
        return "unknown"


class _VersionAction(argparse.Action):
    """``--version``: print ``hwsim X.Y.Z`` and exit (the package metadata is read only when asked)."""

    def __init__(self, option_strings: list[str], dest: str, **kwargs: object) -> None:
        super().__init__(option_strings, dest, nargs=0, help="show the hwsim version and exit")

    def __call__(self, parser: argparse.ArgumentParser, *args: object) -> None:
        print(f"hwsim {version()}")
        parser.exit()


def _chosen_command(argv: list[str]) -> str | None:
    """The sub-command named in ``argv`` (the first word that is not an option), if any."""
    names = {name for name, _, _ in COMMANDS}
    for word in argv:
        if not word.startswith("-"):
            return word if word in names else None
    return None


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The argument parser; only ``command``'s module is imported (every one when None is given
    and ``command`` is ``"*"``)."""
    parser = argparse.ArgumentParser(
        prog="hwsim",
        description="int4/int8 detector quantization, accelerator simulation and RTL cosimulation.",
    )
    parser.add_argument("--version", action=_VersionAction)
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, _, help_text in COMMANDS:
        if command in (name, "*"):
            importlib.import_module(module_name(name)).register(subparsers)
        else:
            subparsers.add_parser(name, help=help_text, add_help=False)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the process exit status (0 ok, 2 bad input, 130 interrupted)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    command = _chosen_command(argv)
    try:
        parser = build_parser(command)
        args = parser.parse_args(argv)
        if not getattr(args, "func", None):
            parser.print_help()
            return EXIT_ERROR
        return int(args.func(args) or 0)
    except BrokenPipeError:  # the reader went away (``hwsim ... | head``): stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        print(f"hwsim {command or ''}: interrupted".replace("  ", " "), file=sys.stderr)
        return EXIT_INTERRUPTED
    except MissingExtra as exc:
        print(f"hwsim {command}: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except OSError as exc:
        message = describe_os_error(exc.filename, exc) if exc.filename else (exc.strerror or str(exc))
        print(f"hwsim {command}: error: {message}", file=sys.stderr)
        return EXIT_ERROR
    except ValueError as exc:
        print(f"hwsim {command}: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except Exception as exc:  # a bug, not bad input: one line unless HWSIM_DEBUG asks for the traceback
        if os.environ.get("HWSIM_DEBUG"):
            raise
        first = (str(exc).splitlines() or [""])[0]
        print(f"hwsim {command}: internal error: {type(exc).__name__}: {first} (please report it; "
              f"HWSIM_DEBUG=1 shows the traceback)", file=sys.stderr)
        return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
