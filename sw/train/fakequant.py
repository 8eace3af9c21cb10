"""Fake-quantization primitives with straight-through gradients (JAX), mirroring :mod:`sw.quant`.

Values are integer *codes* held in floats. Rounding is to nearest with ties away
from zero (:func:`sw.quant.rounding.round_half_away`, TFLite's ``std::round``);
its gradient is the identity (straight-through estimator, Bengio et al. 2013).
Clamps (:func:`clamp_ste`) pass gradients inside the code range, bounds included (LSQ's
convention), and block them outside.
"""

from __future__ import annotations

import numpy as np

from sw.quant.multiplier import quantize_multiplier
from sw.quant.params import QuantParams
from sw.train.jaxdeps import jax_modules

__all__ = ["round_ste", "clamp_ste", "quantize_ste", "weight_codes_ste", "mbqm_ste", "mbqm_learned_ste", "exact_div"]

jax, jnp, _ = jax_modules("the fake-quant executor (sw.train)")


def round_ste(x):
    """``sign(x) * floor(|x| + 0.5)`` forward, identity gradient."""
    rounded = jnp.sign(x) * jnp.floor(jnp.abs(x) + 0.5)
    return _ste(x, rounded)


def _ste(x, forward):
    """``forward`` exactly in the forward pass, the gradient of ``x`` in the backward pass."""
    return x - jax.lax.stop_gradient(x) + jax.lax.stop_gradient(forward)


def exact_div(x, divisor):
    """``x / divisor`` correctly rounded, as numpy divides.

    XLA rewrites a division by a constant or broadcast divisor into a
    multiplication by its reciprocal, which differs in the last bit and flips
    round-half-away ties (e.g. ``-2.5`` becomes ``-2.4999999999999996``). The
    optimization barrier keeps the division.
    """
    full = jnp.broadcast_to(jnp.asarray(divisor, dtype=x.dtype), x.shape)
    return x / jax.lax.optimization_barrier(full)


def clamp_ste(x, lo, hi):
    """``clamp(x, lo, hi)`` with gradient 1 for ``lo <= x <= hi`` (``jnp.clip`` halves it at a bound) and 0 outside."""
    return jnp.where((x >= lo) & (x <= hi), x, jax.lax.stop_gradient(jnp.clip(x, lo, hi)))


def quantize_ste(x, scale, zero_point, qmin: int, qmax: int):
    """Codes ``clamp(round(x / scale) + zero_point, qmin, qmax)`` with straight-through rounding."""
    return clamp_ste(round_ste(exact_div(x, scale)) + zero_point, qmin, qmax)


def weight_codes_ste(w, wp: QuantParams):
    """Centered weight codes ``q - z_w`` of float weights ``w`` (output channels on axis 0)."""
    shape = (-1,) + (1,) * (w.ndim - 1)
    scale = np.asarray(wp.scale, dtype=np.float64).reshape(shape)
    zp = np.asarray(wp.zero_point, dtype=np.float64).reshape(shape)
    return quantize_ste(w, scale, zp, wp.qmin, wp.qmax) - zp


def mbqm_ste(x, real_multiplier: np.ndarray | float):
    """TFLite's double-rounding ``MultiplyByQuantizedMultiplier`` on integer-valued floats, STE gradients.

    ``real_multiplier`` (per channel on the last axis, or a scalar) is quantized
    to ``(m, shift)`` as the golden model does; then
    ``high = floor(x 2**max(shift, 0) m / 2**31 + 1/2)`` (SRDHM: ties up) and
    ``round_half_away(high / 2**max(-shift, 0))`` (RDBPOT). Exact for integer
    ``x`` up to float rounding of the product (float32: relative 2**-24; run under
    ``jax.enable_x64(True)`` with float64 values for the golden model's codes).
    The gradient is ``d/dx = m 2**(shift - 31)``, the effective scale.
    """
    m, shift = quantize_multiplier(np.asarray(real_multiplier, dtype=np.float64))
    up = m * 2.0 ** (np.maximum(shift, 0) - 31)
    down = 2.0 ** -np.maximum(-shift, 0).astype(np.float64)
    y = x * up
    high = _ste(y, jnp.floor(y + 0.5))
    return round_ste(high * down)


def mbqm_learned_ste(x, real_multiplier):
    """:func:`mbqm_ste` for a multiplier that depends on learned (JAX) scales, with gradients to it.

    The same double rounding on ``M = mant 2**shift`` (``frexp``, ``mant`` in [0.5, 1)):
    ``high = floor(x mant 2**max(shift, 0) + 1/2)``, then ``round_half_away(high / 2**max(-shift, 0))``,
    with ``mant`` unquantized (the golden model rounds it to 31 bits: equal up to near-ties).
    Gradients: ``d/dx = M`` and ``d/dM = x`` (straight through both roundings).
    """
    _, shift = jnp.frexp(jax.lax.stop_gradient(real_multiplier))
    down = jnp.exp2(jnp.minimum(shift, 0).astype(x.dtype))
    y = x * real_multiplier / down
    high = _ste(y, jnp.floor(y + 0.5))
    return round_ste(high * down)
