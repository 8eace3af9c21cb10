"""Depthwise convolution in JAX: the grouped XLA form and a fast shift-and-add form.

XLA on CPU runs ``conv_general_dilated`` with ``feature_group_count == C`` slowly,
especially its backward pass. :func:`depthwise_shift_add` instead sums
``kh * kw`` strided slices of the padded input, each multiplied by one tap's
per-channel weights: element-wise work that XLA fuses, with a cheap backward.
Both take NHWC inputs and OHWI weights ``[C * multiplier, kh, kw, 1]`` (output
channel ``o`` reads input channel ``o // multiplier``) and give identical sums
up to float reassociation (tests/train/test_depthwise.py).
"""

from __future__ import annotations

from sw.graph.ir import Padding
from sw.train.jaxdeps import jax_modules

__all__ = ["depthwise_grouped", "depthwise_shift_add"]

jax, jnp, lax = jax_modules("the fake-quant executor (sw.train)")


def depthwise_grouped(x, w, stride: tuple[int, int], dilation: tuple[int, int], padding: Padding):
    """Depthwise conv as an XLA grouped convolution (``feature_group_count = C``)."""
    return lax.conv_general_dilated(x, w, window_strides=stride, padding=padding, rhs_dilation=dilation,
                                    dimension_numbers=("NHWC", "OHWI", "NHWC"), feature_group_count=x.shape[-1])


def depthwise_shift_add(x, w, stride: tuple[int, int], dilation: tuple[int, int], padding: Padding):
    """Depthwise conv as a sum over kernel taps of strided input slices times per-channel weights."""
    cout, kh, kw, _ = w.shape
    mult = cout // x.shape[-1]
    if mult > 1:
        x = jnp.repeat(x, mult, axis=-1)
    (pt, pb), (pl, pr) = padding
    x = jnp.pad(x, ((0, 0), (pt, pb), (pl, pr), (0, 0)))
    (sh, sw), (dh, dw) = stride, dilation
    ho = (x.shape[1] - dh * (kh - 1) - 1) // sh + 1
    wo = (x.shape[2] - dw * (kw - 1) - 1) // sw + 1
    taps = jnp.transpose(w[..., 0], (1, 2, 0))  # [kh, kw, C]
    out = None
    for i in range(kh):
        for j in range(kw):
            window = lax.slice(x, (0, i * dh, j * dw, 0),
                               (x.shape[0], i * dh + sh * (ho - 1) + 1, j * dw + sw * (wo - 1) + 1, cout),
                               (1, sh, sw, 1))
            term = window * taps[i, j]
            out = term if out is None else out + term
    return out
