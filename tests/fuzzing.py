"""Seeded corruptions of a valid model file for importer fuzz tests."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np


def corrupted_variants(data: bytes, seed: int, count: int = 100) -> Iterator[bytes]:
    """``count // 2`` truncations of ``data`` at random lengths, then byte-mutated copies (1 to 7 random bytes)."""
    rng = np.random.default_rng(seed)
    for i in range(count):
        if i < count // 2:
            yield bytes(data[: int(rng.integers(0, len(data)))])
        else:
            blob = bytearray(data)
            for pos in rng.integers(0, len(blob), size=int(rng.integers(1, 8))):
                blob[pos] = int(rng.integers(0, 256))
            yield bytes(blob)
