"""Shared test configuration.

Hypothesis runs derandomized under CI (the environment sets ``CI``) so a CI run is
reproducible; locally it explores new examples on every run.
"""

from __future__ import annotations

import os

from hypothesis import settings

settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")
