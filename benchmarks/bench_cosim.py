"""Requantization cosimulation throughput: compiled Verilator model vs the Amaranth simulator.

Run: ``python benchmarks/bench_cosim.py [--vectors N] [--amaranth-vectors M]``. Prints vectors
per second of a whole :func:`rtl.cosim.cosim_requant` call (input validation, stimulus packing,
the RTL run, output decoding and the golden-model comparison; the one-off Verilator build is
timed separately) for both backends, and their ratio. Target: >= 1 M vectors/s on Verilator.
"""

from __future__ import annotations

import argparse
import tempfile
import time

import numpy as np

from rtl.backends import AmaranthModel, VerilatorModel
from rtl.cosim import cosim_requant
from rtl.requant import RequantUnit


def _vectors(n: int, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {"acc": rng.integers(-(2**24), 2**24, n), "bias": rng.integers(-(2**12), 2**12, n),
            "multiplier": rng.integers(2**30, 2**31, n), "shift": rng.integers(-20, 1, n),
            "out_zp": rng.integers(-128, 128, n), "act_min": np.full(n, -128), "act_max": np.full(n, 127)}


def _rate(model, n: int, out_width: int) -> float:
    vectors = _vectors(n, seed=n)
    start = time.perf_counter()
    result = cosim_requant(model, vectors, out_width)
    elapsed = time.perf_counter() - start
    if result.matches != n:
        raise SystemExit(f"mismatch: {n - result.matches} of {n} vectors differ from the golden model")
    return n / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vectors", type=int, default=2_000_000, help="Verilator vectors (default 2M)")
    parser.add_argument("--amaranth-vectors", type=int, default=5_000, help="Amaranth vectors (default 5k)")
    args = parser.parse_args()
    out_width = 9
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        verilator = VerilatorModel(RequantUnit(out_width), tmp)
        build = time.perf_counter() - start
        _rate(verilator, 1000, out_width)  # warm-up
        v_rate = _rate(verilator, args.vectors, out_width)
    a_rate = _rate(AmaranthModel(RequantUnit(out_width)), args.amaranth_vectors, out_width)
    print(f"verilator build: {build:.1f} s")
    print(f"requant verilator: {v_rate:,.0f} vectors/s ({args.vectors:,} vectors, all exact)")
    print(f"requant amaranth:  {a_rate:,.0f} vectors/s ({args.amaranth_vectors:,} vectors, all exact)")
    print(f"ratio verilator/amaranth: {v_rate / a_rate:,.0f}x")


if __name__ == "__main__":
    main()
