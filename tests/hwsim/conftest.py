"""Shared helpers of the simulator tests."""

from __future__ import annotations

import pytest

import hwsim.cli as cli


@pytest.fixture
def run_cli():
    """``run_cli(argv) -> exit status`` through :func:`hwsim.cli.main`."""
    return cli.main
