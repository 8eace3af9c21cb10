"""Round to nearest, ties away from zero (C++ ``std::round``, TFLite's ``TfLiteRound``).

The one rounding rule of every real -> code conversion here: quantization of
tensors, biases and activation-range bounds, and the float requantization mode.
"""

from __future__ import annotations

import numpy as np

__all__ = ["round_half_away"]


def round_half_away(x: np.ndarray | float) -> np.ndarray:
    """Nearest integer of each value (as float64), halves rounded away from zero."""
    x = np.asarray(x, dtype=np.float64)
    return np.sign(x) * np.floor(np.abs(x) + 0.5)
