"""Edge-value generators shared by the fixed-point, requantization and RTL tests."""

from __future__ import annotations

INT32_MIN = -(2**31)
INT32_MAX = 2**31 - 1


def int32_edges() -> list[int]:
    """+-2**i +- {0, 1, 2} for i in 0..31, clipped to int32, plus 0, INT32_MIN and INT32_MAX (sorted, unique)."""
    values = {0, INT32_MIN, INT32_MAX, INT32_MIN + 1, INT32_MAX - 1}
    for i in range(32):
        for d in (-2, -1, 0, 1, 2):
            for sign in (1, -1):
                v = sign * (1 << i) + d
                if INT32_MIN <= v <= INT32_MAX:
                    values.add(v)
    return sorted(values)
