"""Depth-to-space (TFLite ``DEPTH_TO_SPACE``, ONNX ``DepthToSpace`` mode DCR): pure data movement.

``out[h * b + dy, w * b + dx, c] = in[h, w, (dy * b + dx) * C + c]`` for block size ``b``;
codes pass through unchanged (input and output share quantization parameters).
"""

from __future__ import annotations

import numpy as np

__all__ = ["depth_to_space"]


def depth_to_space(x: np.ndarray, block: int) -> np.ndarray:
    """NHWC ``[N, H, W, C * b * b]`` -> ``[N, H * b, W * b, C]``."""
    x = np.asarray(x)
    n, h, w, cb = x.shape
    if block < 1 or cb % (block * block):
        raise ValueError(f"depth_to_space: {cb} channels are not a multiple of block {block} squared")
    c = cb // (block * block)
    return x.reshape(n, h, w, block, block, c).transpose(0, 1, 3, 2, 4, 5).reshape(n, h * block, w * block, c)
