"""Shared test configuration.

Hypothesis runs derandomized under CI (the environment sets ``CI``) so a CI run is
reproducible; locally it explores new examples on every run.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import settings

settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")


@pytest.fixture(autouse=True)
def _wide_console(monkeypatch):
    """Tables print at a fixed width in tests (160 columns) whatever terminal runs them."""
    monkeypatch.setenv("COLUMNS", "160")
