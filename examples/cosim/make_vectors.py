"""Write the example vector files of ``hwsim cosim`` (seeded, so the files are reproducible).

    python examples/cosim/make_vectors.py            # writes requant.npz, mac.npz, array.npz here
    hwsim cosim requant --vectors examples/cosim/requant.npz --out q.npz
    hwsim cosim mac     --vectors examples/cosim/mac.npz     --out acc.npz --config edge16_int4 --w-bits 8 --a-bits 8
    hwsim cosim array   --vectors examples/cosim/array.npz   --out q.npz   --config edge16_int4

Each file holds the arrays ``rtl/cosim.py`` documents for its design; ``tests/app/test_examples.py``
checks that the shipped files equal what this script writes and that the RTL matches the golden
model on every vector.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
SEED = 2026


def requant_vectors(rng: np.random.Generator, n: int = 256) -> dict[str, np.ndarray]:
    """int32 accumulators through per-vector requantization to int8 codes."""
    return {"acc": rng.integers(-(2**20), 2**20, n), "bias": rng.integers(-500, 500, n),
            "multiplier": rng.integers(2**30, 2**31, n), "shift": rng.integers(-12, 2, n),
            "out_zp": rng.integers(-10, 10, n), "act_min": np.full(n, -128), "act_max": np.full(n, 127)}


def mac_vectors(rng: np.random.Generator, k: int = 64) -> dict[str, np.ndarray]:
    """int8 weights x uint8 activations with a zero point, reductions of 16 elements (int8 digits on int4 PEs)."""
    last = np.zeros(k, dtype=np.int64)
    last[15::16] = 1
    return {"w": rng.integers(-128, 128, k), "x": rng.integers(0, 256, k), "x_zp": np.full(k, 128),
            "x_signed": np.zeros(k, dtype=np.int64), "last": last}


def array_vectors(rng: np.random.Generator, tiles: int = 3, rows: int = 4, cols: int = 4,
                  k: int = 24) -> dict[str, np.ndarray]:
    """Three back-to-back 4x4 int4 tiles of depth 24 with per-tile requantization parameters."""
    return {"x": rng.integers(0, 16, (tiles, rows, k)), "w": rng.integers(-8, 8, (tiles, k, cols)),
            "bias": rng.integers(-200, 200, (tiles, cols)), "multiplier": rng.integers(2**30, 2**31, (tiles, cols)),
            "shift": rng.integers(-10, -4, (tiles, cols)), "x_zp": rng.integers(0, 16, tiles),
            "x_signed": np.zeros(tiles, dtype=np.int64), "out_zp": rng.integers(-3, 3, tiles),
            "act_min": np.full(tiles, -16), "act_max": np.full(tiles, 15)}


def encode(vectors: dict[str, np.ndarray]) -> bytes:
    """The ``.npz`` bytes of ``vectors`` (int64 arrays)."""
    buf = io.BytesIO()
    np.savez(buf, **{k: np.asarray(v, dtype=np.int64) for k, v in vectors.items()})
    return buf.getvalue()


def files() -> dict[str, bytes]:
    """File name -> bytes of the three example files."""
    rng = np.random.default_rng(SEED)
    return {"requant.npz": encode(requant_vectors(rng)), "mac.npz": encode(mac_vectors(rng)),
            "array.npz": encode(array_vectors(rng))}


if __name__ == "__main__":
    for name, data in files().items():
        (HERE / name).write_bytes(data)
        print(HERE / name)
