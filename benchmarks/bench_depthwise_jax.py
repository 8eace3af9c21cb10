"""Depthwise convolution in JAX on CPU: grouped XLA form vs shift-and-add, forward and backward.

Prints GFLOP/s (2 flops per MAC) of the forward pass and of the gradient with
respect to input and weights, for BlazeFace- and YOLOX-like depthwise shapes at
batch 8. Run: ``python benchmarks/bench_depthwise_jax.py``.
"""

from __future__ import annotations

import time

import numpy as np

from sw.train.depthwise import depthwise_grouped, depthwise_shift_add
from sw.train.jaxdeps import jax_modules

jax, jnp, _ = jax_modules("benchmarks/bench_depthwise_jax.py")

SHAPES = [  # (batch, H, W, C, k, stride)
    (8, 64, 64, 24, 5, 1),
    (8, 32, 32, 48, 5, 2),
    (8, 52, 52, 128, 3, 1),
]


def _time(fn, *args, repeats: int = 3) -> float:
    jax.block_until_ready(fn(*args))
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        jax.block_until_ready(fn(*args))
        best = min(best, time.perf_counter() - t)
    return best


def main() -> None:
    rng = np.random.default_rng(0)
    for n, h, w, c, k, s in SHAPES:
        x = jnp.asarray(rng.normal(size=(n, h, w, c)), jnp.float32)
        wt = jnp.asarray(rng.normal(size=(c, k, k, 1)), jnp.float32)
        pad = ((k // 2, k // 2), (k // 2, k // 2))
        macs = n * ((h + s - 1) // s) * ((w + s - 1) // s) * c * k * k
        line = [f"N{n} {h}x{w}x{c} k{k} s{s}"]
        for name, conv in (("grouped", depthwise_grouped), ("shift_add", depthwise_shift_add)):
            fwd = jax.jit(lambda a, b, f=conv: f(a, b, (s, s), (1, 1), pad))
            bwd = jax.jit(jax.grad(lambda a, b, f=conv: (f(a, b, (s, s), (1, 1), pad) ** 2).sum(), argnums=(0, 1)))
            tf, tb = _time(fwd, x, wt), _time(bwd, x, wt)
            line.append(f"{name}: fwd {2 * macs / tf / 1e9:.2f} GFLOP/s ({tf * 1e3:.1f} ms), "
                        f"fwd+bwd {tb * 1e3:.1f} ms ({6 * macs / tb / 1e9:.2f} GFLOP/s)")
        print(" | ".join(line), flush=True)


if __name__ == "__main__":
    main()
