"""The ``hwsim`` command line: one sub-command per module in :mod:`hwsim.app.commands`.

Each command module exposes ``register(subparsers)``, which adds its parser and
sets ``func`` to a callable ``(args) -> int``. Bad input raises ValueError (or
OSError for files); this entry point prints it as one line and exits with status 2.
"""

from __future__ import annotations

import argparse
import sys

from hwsim.app.commands import COMMANDS

__all__ = ["main", "build_parser"]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every registered sub-command."""
    parser = argparse.ArgumentParser(
        prog="hwsim",
        description="int4/int8 detector quantization, accelerator simulation and RTL cosimulation.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in COMMANDS:
        module.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the process exit status (0 ok, 2 bad input)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except (ValueError, OSError) as exc:
        print(f"hwsim {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
