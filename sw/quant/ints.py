"""Integer ranges shared by quantization, the golden model, the RTL and the simulator.

Defined once here, at the bottom floor, and imported everywhere else:

* ``INT32_MIN``/``INT32_MAX``: the accumulator + bias domain of every integer layer and the
  requantization input (TFLite's int32).
* ``SHIFT_MIN``/``SHIFT_MAX``: the power-of-two exponent of a quantized multiplier,
  ``M = m * 2**shift`` with ``m`` Q0.31 (``QuantizeMultiplier``; a left shift of 31 would
  leave int32, a right shift of 32 or more flushes everything to zero).
* ``PSUM_BYTES``: bytes of one spilled 32-bit partial sum.
"""

from __future__ import annotations

__all__ = ["INT32_MIN", "INT32_MAX", "SHIFT_MIN", "SHIFT_MAX", "PSUM_BYTES"]

#: Smallest int32 value.
INT32_MIN = -(2**31)
#: Largest int32 value.
INT32_MAX = 2**31 - 1
#: Smallest requantization shift (a right shift by 31).
SHIFT_MIN = -31
#: Largest requantization shift (a left shift by 30).
SHIFT_MAX = 30
#: Bytes of one 32-bit partial sum (accumulator spill/reload).
PSUM_BYTES = 4
