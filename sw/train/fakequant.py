"""Fake-quantization primitives with straight-through gradients (JAX), mirroring :mod:`sw.quant`.

Values are integer *codes* held in floats. Rounding is to nearest with ties away
from zero (:func:`sw.quant.rounding.round_half_away`, TFLite's ``std::round``);
its gradient is the identity (straight-through estimator, Bengio et al. 2013).
Clamps pass gradients inside the code range and block them outside.
"""

from __future__ import annotations

import numpy as np

from sw.quant.multiplier import quantize_multiplier
from sw.quant.params import QuantParams
from sw.train.jaxdeps import jax_modules

__all__ = ["round_ste", "quantize_ste", "weight_codes_ste", "mbqm_ste"]

jax, jnp, _ = jax_modules("the fake-quant executor (sw.train)")


def round_ste(x):
    """``sign(x) * floor(|x| + 0.5)`` forward, identity gradient."""
    rounded = jnp.sign(x) * jnp.floor(jnp.abs(x) + 0.5)
    return x + jax.lax.stop_gradient(rounded - x)


def quantize_ste(x, scale, zero_point, qmin: int, qmax: int):
    """Codes ``clamp(round(x / scale) + zero_point, qmin, qmax)`` with straight-through rounding."""
    return jnp.clip(round_ste(x / scale) + zero_point, qmin, qmax)


def weight_codes_ste(w, wp: QuantParams):
    """Centered weight codes ``q - z_w`` of float weights ``w`` (output channels on axis 0)."""
    shape = (-1,) + (1,) * (w.ndim - 1)
    scale = jnp.asarray(np.asarray(wp.scale, dtype=np.float64).reshape(shape), dtype=w.dtype)
    zp = jnp.asarray(np.asarray(wp.zero_point).reshape(shape), dtype=w.dtype)
    return quantize_ste(w, scale, zp, wp.qmin, wp.qmax) - zp


def mbqm_ste(x, real_multiplier: np.ndarray | float):
    """TFLite's double-rounding ``MultiplyByQuantizedMultiplier`` on integer-valued floats, STE gradients.

    ``real_multiplier`` (per channel on the last axis, or a scalar) is quantized
    to ``(m, shift)`` as the golden model does; then
    ``high = floor(x 2**max(shift, 0) m / 2**31 + 1/2)`` (SRDHM: ties up) and
    ``round_half_away(high / 2**max(-shift, 0))`` (RDBPOT). Exact for integer
    ``x`` up to float rounding of the product (float32: relative 2**-24).
    The gradient is ``d/dx = m 2**(shift - 31)``, the effective scale.
    """
    m, shift = quantize_multiplier(np.asarray(real_multiplier, dtype=np.float64))
    up = np.asarray(m * 2.0 ** (np.maximum(shift, 0) - 31), dtype=np.float32)
    down = np.asarray(2.0 ** -np.maximum(-shift, 0), dtype=np.float32)
    y = x * up
    high = y + jax.lax.stop_gradient(jnp.floor(y + 0.5) - y)
    return round_ste(high * down)
