"""Sliding-window geometry shared by convolution and pooling (NHWC).

Padding is given as explicit pixels ``((top, bottom), (left, right))`` or the
TFLite strings ``"SAME"`` (output = ceil(in / stride); the odd extra pixel goes
bottom/right) and ``"VALID"`` (no padding).
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "Padding2D",
    "resolve_padding",
    "output_size",
    "pad_input",
    "tap",
    "extract_patches",
    "group_columns",
    "group_weights",
    "pair",
]

Padding2D = tuple[tuple[int, int], tuple[int, int]]


def pair(name: str, value: int | tuple[int, int]) -> tuple[int, int]:
    """``value`` as a (height, width) pair of positive ints."""
    if isinstance(value, (int, np.integer)):
        value = (int(value), int(value))
    if len(value) != 2 or any(int(v) < 1 for v in value):
        raise ValueError(f"{name}: expected a positive int or (h, w) pair, got {value!r}")
    return int(value[0]), int(value[1])


def _same_padding(size: int, kernel: int, stride: int, dilation: int) -> tuple[int, int]:
    effective = (kernel - 1) * dilation + 1
    out = -(-size // stride)
    total = max((out - 1) * stride + effective - size, 0)
    return total // 2, total - total // 2


def resolve_padding(
    padding: str | Padding2D,
    in_hw: tuple[int, int],
    kernel: tuple[int, int],
    stride: tuple[int, int],
    dilation: tuple[int, int],
) -> Padding2D:
    """Explicit ``((top, bottom), (left, right))`` pixels for a padding spec."""
    if isinstance(padding, str):
        mode = padding.upper()
        if mode == "VALID":
            return (0, 0), (0, 0)
        if mode == "SAME":
            return (
                _same_padding(in_hw[0], kernel[0], stride[0], dilation[0]),
                _same_padding(in_hw[1], kernel[1], stride[1], dilation[1]),
            )
        raise ValueError(f"padding: expected 'SAME', 'VALID' or ((top, bottom), (left, right)), got {padding!r}")
    try:
        (top, bottom), (left, right) = padding
    except (TypeError, ValueError):
        raise ValueError(f"padding: expected ((top, bottom), (left, right)), got {padding!r}") from None
    values = (int(top), int(bottom)), (int(left), int(right))
    if min(top, bottom, left, right) < 0:
        raise ValueError(f"padding: expected non-negative pixels, got {padding!r}")
    return values


def output_size(size: int, kernel: int, stride: int, dilation: int, pad: tuple[int, int]) -> int:
    """Output length along one axis: ``floor((size + pads - dilated kernel) / stride) + 1``."""
    effective = (kernel - 1) * dilation + 1
    return (size + pad[0] + pad[1] - effective) // stride + 1


def pad_input(
    x: np.ndarray,
    kernel: tuple[int, int],
    stride: tuple[int, int],
    dilation: tuple[int, int],
    padding: Padding2D,
    pad_value: float | int = 0,
) -> tuple[np.ndarray, tuple[int, int]]:
    """Padded NHWC input and the output size ``(Ho, Wo)`` of a window operation.

    Raises
    ------
    ValueError
        If the padded input is smaller than the dilated kernel.
    """
    _, h, w, _ = x.shape
    (top, bottom), (left, right) = padding
    ho = output_size(h, kernel[0], stride[0], dilation[0], (top, bottom))
    wo = output_size(w, kernel[1], stride[1], dilation[1], (left, right))
    if ho < 1 or wo < 1:
        raise ValueError(
            f"input {h}x{w} with padding {padding} is smaller than the {kernel[0]}x{kernel[1]} "
            f"kernel (dilation {dilation})"
        )
    if top or bottom or left or right:
        x = np.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0)), constant_values=pad_value)
    return x, (ho, wo)


def tap(
    padded: np.ndarray, i: int, j: int, out_hw: tuple[int, int], stride: tuple[int, int], dilation: tuple[int, int]
) -> np.ndarray:
    """View of the padded input seen by kernel tap ``(i, j)`` at every output pixel: ``(N, Ho, Wo, C)``."""
    r0, c0 = i * dilation[0], j * dilation[1]
    return padded[
        :, r0 : r0 + (out_hw[0] - 1) * stride[0] + 1 : stride[0], c0 : c0 + (out_hw[1] - 1) * stride[1] + 1 : stride[1], :
    ]


def extract_patches(
    x: np.ndarray,
    kernel: tuple[int, int],
    stride: tuple[int, int],
    dilation: tuple[int, int],
    padding: Padding2D,
    pad_value: float | int = 0,
) -> np.ndarray:
    """Windows of an NHWC tensor: shape ``(N, Ho, Wo, kh*kw, C)``, taps in row-major (kh, kw) order.

    Padded positions hold ``pad_value``. The taps order matches OHWI weights
    flattened as ``(O, kh*kw*I)``.
    """
    padded, (ho, wo) = pad_input(x, kernel, stride, dilation, padding, pad_value)
    out = np.empty((x.shape[0], ho, wo, kernel[0] * kernel[1], x.shape[3]), dtype=x.dtype)
    for i in range(kernel[0]):
        for j in range(kernel[1]):
            out[:, :, :, i * kernel[1] + j, :] = tap(padded, i, j, (ho, wo), stride, dilation)
    return out


def group_columns(patches: np.ndarray, groups: int) -> np.ndarray:
    """Implicit-GEMM operand of grouped convolution: ``(N, Ho, Wo, T, C)`` -> ``(G, N*Ho*Wo, T*C/G)``.

    Columns are ordered (tap, channel within group), matching :func:`group_weights`.
    """
    n, ho, wo, taps, c = patches.shape
    cg = c // groups
    return patches.reshape(n * ho * wo, taps, groups, cg).transpose(2, 0, 1, 3).reshape(groups, n * ho * wo, taps * cg)


def group_weights(w: np.ndarray, groups: int) -> np.ndarray:
    """OHWI weights ``(O, kh, kw, C/G)`` as per-group GEMM operands ``(G, kh*kw*C/G, O/G)``."""
    o = w.shape[0]
    return w.reshape(groups, o // groups, -1).transpose(0, 2, 1)
