"""AdaRound weight rounding per layer (Nagel et al. 2020) on the golden model's per-channel grid (JAX).

For one layer with weights ``W`` ``[Cout, K]`` per group and inputs ``X`` (im2col
rows, as :mod:`sw.train.gptq` collects them), each weight rounds down or up:
``W~ = s (clamp(floor(W / s) + h(V) + z, qmin, qmax) - z)`` with the rectified
sigmoid ``h(V) = clip(1.2 sigmoid(V) - 0.1, 0, 1)``, ``V`` initialised so that
``h(V)`` equals the fractional part. Adam minimises
``||W X^T - W~ X^T||^2 / ||W X^T||^2 + lambda sum(1 - |2 h(V) - 1|^beta) / n``
with ``beta`` annealed from 20 to 2 after a 20 % warm-up without the regulariser;
then ``h(V) >= 1/2`` rounds up. Layer-wise reconstruction on float inputs; block
reconstruction with learned step sizes: :mod:`sw.train.brecq`.
"""

from __future__ import annotations

import numpy as np

from sw.extras import require
from sw.quant.params import QuantParams
from sw.train.jaxdeps import jax_modules

__all__ = ["adaround_codes", "rectified_sigmoid", "initial_logits", "rounding_regularizer", "ITERATIONS", "REG_WEIGHT",
           "LEARNING_RATE"]

jax, jnp, _ = jax_modules("hwsim quantize --method adaround")
optax = require("optax", "train", "hwsim quantize --method adaround")

ITERATIONS = 1000
REG_WEIGHT = 0.01
LEARNING_RATE = 3e-2
_ZETA, _GAMMA = 1.1, -0.1


def rectified_sigmoid(v):
    """AdaRound's ``h(V) = clip(1.2 sigmoid(V) - 0.1, 0, 1)``: the soft rounding-up amount."""
    return jnp.clip(jax.nn.sigmoid(v) * (_ZETA - _GAMMA) + _GAMMA, 0.0, 1.0)


def initial_logits(scaled: np.ndarray) -> np.ndarray:
    """``V`` with ``h(V)`` equal to the fractional part of ``scaled`` (weights in grid steps), kept in [0.01, 0.99]."""
    frac = np.clip(scaled - np.floor(scaled), 0.01, 0.99)
    return -np.log((_ZETA - _GAMMA) / (frac - _GAMMA) - 1.0)


def rounding_regularizer(v, beta):
    """``mean(1 - |2 h(V) - 1|^beta)``: 0 once every ``h(V)`` is 0 or 1."""
    return jnp.mean(1.0 - jnp.abs(2.0 * rectified_sigmoid(v) - 1.0) ** beta)


def adaround_codes(w: np.ndarray, wp: QuantParams, columns: np.ndarray, iterations: int = ITERATIONS,
                   losses: list[float] | None = None) -> np.ndarray:
    """Codes ``[G * Cg, K]`` of grouped weights ``w`` (rows of group g use ``columns[g]`` ``[rows, K]``).

    ``losses`` (optional) receives the reconstruction term per iteration.
    """
    groups = columns.shape[0]
    w = np.asarray(w, dtype=np.float64)
    shape = (groups, w.shape[0] // groups, w.shape[1])
    scale = np.asarray(wp.scale, np.float64).reshape(shape[:2] + (1,))
    zp = np.asarray(wp.zero_point, np.float64).reshape(shape[:2] + (1,))
    wg = w.reshape(shape)
    floor = np.floor(wg / scale)
    v0 = initial_logits(wg / scale)
    x = jnp.asarray(columns, jnp.float32)
    target = jnp.einsum("gok,grk->gor", jnp.asarray(wg, jnp.float32), x)
    norm = float(jnp.sum(target ** 2)) or 1.0
    base, s, z = (jnp.asarray(a, jnp.float32) for a in (floor, scale, zp))
    warmup = iterations // 5

    def loss_fn(v, beta, reg):
        q = jnp.clip(base + rectified_sigmoid(v) + z, wp.qmin, wp.qmax)
        rec = jnp.sum((target - jnp.einsum("gok,grk->gor", s * (q - z), x)) ** 2) / norm
        return rec + reg * REG_WEIGHT * rounding_regularizer(v, beta), rec

    optimizer = optax.adam(LEARNING_RATE)

    @jax.jit
    def step(v, state, beta, reg):
        (_, rec), grads = jax.value_and_grad(loss_fn, has_aux=True)(v, beta, reg)
        updates, state = optimizer.update(grads, state, v)
        return optax.apply_updates(v, updates), state, rec

    v = jnp.asarray(v0, jnp.float32)
    state = optimizer.init(v)
    for i in range(iterations):
        progress = max(0.0, (i - warmup) / max(1, iterations - warmup))
        beta = 20.0 - 18.0 * progress
        v, state, rec = step(v, state, beta, 0.0 if i < warmup else 1.0)
        if losses is not None:
            losses.append(float(rec))
    up = np.asarray(rectified_sigmoid(v)) >= 0.5
    codes = np.clip(floor + up + zp, wp.qmin, wp.qmax)
    return codes.reshape(w.shape).astype(np.int64)
