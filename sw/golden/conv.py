"""Integer 2-D convolution (NHWC activations, OHWI weights): regular, grouped and depthwise.

Semantics (TFLite ``reference_integer_ops::ConvPerChannel`` / ``DepthwiseConvPerChannel``
generalised to weight zero points)::

    acc[n, y, x, o] = sum over non-padded taps (i, j) and group channels c of
                      (w[o, i, j, c] - zw[o]) * (x[n, y*sy + i*dy - pt, x*sx + j*dx - pl, g*Cg + c] - zx)
    out = clamp(MBQM(acc + bias[o], M[o], shift[o]) + z_out, act_min, act_max)

with double rounding by default (:mod:`sw.golden.fixedpoint`). Padding taps
contribute nothing (they hold the input zero point, i.e. real 0.0).

Accumulator bound: ``|acc| <= K * max|x - zx| * max|w - zw|`` with
``K = kh * kw * Cin / groups`` (the measured maxima of the operands). For k-bit
codes each factor is at most ``2**k - 1``, e.g. K * 225 for int4 x int4 and
K * 255 * 128 for uint8 x int8 (symmetric) weights. The sum is exact in float32
while the bound is <= 2**24 (int4: K <= 74,565), in float64 while <= 2**53,
else int64 (:mod:`sw.golden.exact`). ``acc + bias`` must fit int32 as in TFLite;
otherwise a ValueError is raised instead of wrapping.
"""

from __future__ import annotations

import numpy as np

from sw.golden.codes import centered, centered_bound
from sw.golden.depthwise import depthwise_conv
from sw.golden.exact import choose_dtype, exact_matmul
from sw.golden.requant import OutputStage
from sw.golden.window import (
    Padding2D,
    extract_patches,
    group_columns,
    group_weights,
    pad_input,
    pair,
    resolve_padding,
    tap,
)

__all__ = ["conv2d", "conv2d_accumulate", "depthwise_weights_to_ohwi"]


def depthwise_weights_to_ohwi(w: np.ndarray) -> np.ndarray:
    """TFLite depthwise filter ``[1, kh, kw, Cout]`` -> grouped OHWI ``[Cout, kh, kw, 1]``."""
    if w.ndim != 4 or w.shape[0] != 1:
        raise ValueError(f"depthwise weights: expected shape [1, kh, kw, Cout], got {w.shape}")
    return np.ascontiguousarray(np.transpose(w, (3, 1, 2, 0)))


def conv2d_accumulate(
    x: np.ndarray,
    w: np.ndarray,
    *,
    input_zero_point: int = 0,
    weight_zero_point: np.ndarray | int = 0,
    stride: int | tuple[int, int] = 1,
    dilation: int | tuple[int, int] = 1,
    padding: str | Padding2D = "VALID",
    groups: int = 1,
) -> np.ndarray:
    """Exact int64 accumulators of an integer convolution (no bias, no requantization).

    See :func:`_accumulate` for the parameters.
    """
    return _accumulate(x, w, input_zero_point, weight_zero_point, stride, dilation, padding, groups)


def _accumulate(
    x: np.ndarray,
    w: np.ndarray,
    input_zero_point: int,
    weight_zero_point: np.ndarray | int,
    stride: int | tuple[int, int],
    dilation: int | tuple[int, int],
    padding: str | Padding2D,
    groups: int,
    output: OutputStage | None = None,
    bias: np.ndarray | None = None,
) -> np.ndarray:
    """Exact accumulators of an integer convolution, or its output codes when ``output`` is given.

    Parameters
    ----------
    x
        Input codes ``[N, H, W, Cin]``.
    w
        Weight codes, OHWI ``[Cout, kh, kw, Cin / groups]``.
    input_zero_point
        Zero point of ``x`` (per tensor).
    weight_zero_point
        Zero point of ``w``, scalar or one per output channel (0 for symmetric weights).
    stride, dilation
        Pixels, an int or an (h, w) pair.
    padding
        ``"SAME"``, ``"VALID"`` or ``((top, bottom), (left, right))`` pixels.
    groups
        Channel groups; ``groups == Cin`` with one input channel per group is depthwise.

    Returns
    -------
    numpy.ndarray
        int64 ``[N, Ho, Wo, Cout]``: the accumulators, or the output codes
        ``output.finish(acc, bias)`` if ``output`` is given.
    """
    x = np.asarray(x)
    w = np.asarray(w)
    if x.ndim != 4:
        raise ValueError(f"conv2d: input: expected NHWC (4-D), got shape {x.shape}")
    if w.ndim != 4:
        raise ValueError(f"conv2d: weights: expected OHWI (4-D), got shape {w.shape}")
    n, h, wd, cin = x.shape
    cout, kh, kw, cg = w.shape
    if isinstance(groups, bool) or not isinstance(groups, (int, np.integer)) or groups < 1:
        raise ValueError(f"conv2d: groups: expected a positive int, got {groups!r}")
    if cin % groups or cout % groups:
        raise ValueError(f"conv2d: groups: {groups} must divide Cin {cin} and Cout {cout}")
    if cg != cin // groups:
        raise ValueError(
            f"conv2d: weights: expected {cin // groups} input channels per group "
            f"(Cin {cin} / groups {groups}), got weight shape {w.shape}"
        )
    stride, dilation = pair("stride", stride), pair("dilation", dilation)
    pads = resolve_padding(padding, (h, wd), (kh, kw), stride, dilation)
    max_x = centered_bound("conv2d: input", x, input_zero_point)
    wc, max_w = centered("conv2d: weights", w, weight_zero_point, axis=0)
    depth = kh * kw * cg
    path = choose_dtype(depth, max_x, max_w)

    def input_as(dtype: np.dtype) -> np.ndarray:
        # x - zx, exact in the accumulation dtype (|x - zx| <= 383).
        xc = x.astype(dtype)
        xc -= input_zero_point
        return xc

    if cg == 1 and groups == cin:
        # Depthwise: output channel o reads input channel o // multiplier; one
        # multiply-add per tap over strided views (the bound is the same).
        if path == "float32":  # cache-blocked, threaded, certified requantization
            wt = wc.reshape(cout, kh * kw).T
            return depthwise_conv(x, input_zero_point, wt, depth * max_x * max_w, (kh, kw), stride, dilation,
                                  pads, cout // cin, output, bias, "conv2d")
        dtype = np.dtype("float64" if path == "float32_chunked" else path)
        padded, out_hw = pad_input(input_as(dtype), (kh, kw), stride, dilation, pads)
        if cout > cin:
            padded = np.repeat(padded, cout // cin, axis=-1)
        wt = wc.reshape(cout, kh * kw).T.astype(dtype)  # [taps, Cout]
        acc = np.zeros((n, *out_hw, cout), dtype=dtype)
        for i in range(kh):
            for j in range(kw):
                acc += tap(padded, i, j, out_hw, stride, dilation) * wt[i * kw + j]
        return _finish(acc.astype(np.int64), output, bias)
    dtype = np.float32 if path.startswith("float32") else np.dtype(path)
    patches = extract_patches(input_as(dtype), (kh, kw), stride, dilation, pads, pad_value=0)
    _, ho, wo, taps, _ = patches.shape
    # Implicit GEMM per group: [G, N*Ho*Wo, taps*Cg] @ [G, taps*Cg, Og].
    acc = exact_matmul(group_columns(patches, groups), group_weights(wc, groups), max_x, max_w)
    return _finish(acc.transpose(1, 0, 2).reshape(n, ho, wo, cout), output, bias)


def _finish(acc: np.ndarray, output: OutputStage | None, bias: np.ndarray | None) -> np.ndarray:
    return acc if output is None else output.finish(acc, bias, "conv2d")


def conv2d(
    x: np.ndarray,
    w: np.ndarray,
    bias: np.ndarray | None,
    output: OutputStage,
    *,
    input_zero_point: int = 0,
    weight_zero_point: np.ndarray | int = 0,
    stride: int | tuple[int, int] = 1,
    dilation: int | tuple[int, int] = 1,
    padding: str | Padding2D = "VALID",
    groups: int = 1,
) -> np.ndarray:
    """Integer convolution with per-channel requantization; returns output codes (int64, NHWC).

    See :func:`conv2d_accumulate` for the arguments; ``bias`` is int32 ``[Cout]``
    at scale ``s_in * s_w[o]`` (or None) and ``output`` the requantization stage
    (per-channel multipliers must number ``Cout``).
    """
    return _accumulate(x, w, input_zero_point, weight_zero_point, stride, dilation, padding, groups, output, bias)
