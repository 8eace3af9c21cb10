"""Calibrated activation ranges of a real detector, for the RTL tiles of its report page.

:func:`calibrate_ranges` records min/max and percentile ranges of every tensor in one
float pass (:func:`sw.runtime.executor.calibration_ranges`); a consumer turns one
observer's ranges into parameters at its widths (:func:`sw.runtime.executor.params_from_ranges`).
The detection-quality study (:mod:`hwsim.app.studies.detection`) does the same on the
synthetic calibration split.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from sw.graph.model import ImportedModel
from sw.quant.calibration import MinMaxObserver
from sw.runtime.executor import calibration_ranges, range_observers

__all__ = ["CalibratedRanges", "calibrate_ranges"]


@dataclass(frozen=True)
class CalibratedRanges:
    """Activation ranges ``(lb, ub)`` per tensor, by observer key (``minmax``, ``percentile@<gamma>``)."""

    ranges: Mapping[str, Mapping[str, tuple[float, float]]]


def calibrate_ranges(model: ImportedModel, samples: Sequence[Mapping[str, np.ndarray]],
                     gammas: Sequence[float] = (0.999,)) -> CalibratedRanges:
    """Min/max and percentile ranges of every tensor in one float pass over ``samples`` (sigmoid outputs: min/max in both)."""
    factories = {"minmax": lambda key: MinMaxObserver(),
                 **{f"percentile@{g}": range_observers(model, len(samples), gamma=g) for g in gammas}}
    return CalibratedRanges(calibration_ranges(model, samples, factories))
