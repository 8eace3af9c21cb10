"""Shared helpers of the simulator tests."""

from __future__ import annotations

import pytest

import hwsim.app.cli as cli


@pytest.fixture
def run_cli():
    """``run_cli(argv) -> exit status`` through :func:`hwsim.app.cli.main`."""
    return cli.main
