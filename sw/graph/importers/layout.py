"""Layout-op chains feeding compute, lowered by what they compute (shared by both importers).

Converters spell simple data movement as chains of pure layout ops: a Keras
``UpSampling2D`` becomes ``RESHAPE [1, H, 1, W, 1, C]`` -> ``TILE`` (or
``BROADCAST_TO``) -> ``RESHAPE [1, fH, fW, C]``; ONNX exporters use
``Reshape`` / ``Expand`` / ``Tile`` / ``Transpose`` the same way. Instead of
matching spellings, a :class:`LayoutView` replays the chain on an *index map*
(the flat NHWC index of the source element each result element copies) and
:meth:`LayoutView.lower` recognises the result: the identity (an alias) or a
nearest up-sampling by integer factors (an IR ``upsample``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from sw.golden.resize import upsample_nearest
from sw.graph.ir import Shape

__all__ = ["LayoutView", "MAX_INDEX_ELEMENTS"]

MAX_INDEX_ELEMENTS = 1 << 24  # index maps beyond 16 M elements are refused (memory), not lowered


@dataclass(frozen=True)
class LayoutView:
    """A pure layout chain applied to IR tensor ``source`` (``hwc``), in the file's ``layout``."""

    source: str
    hwc: Shape
    layout: Literal["nhwc", "nchw"]
    index: np.ndarray

    @classmethod
    def of(cls, source: str, hwc: Shape, layout: Literal["nhwc", "nchw"]) -> "LayoutView":
        """The identity view of a 4-D tensor in its external layout."""
        base = np.arange(int(np.prod(hwc)), dtype=np.int64).reshape(1, *hwc)
        return cls(source, tuple(hwc), layout, base.transpose(0, 3, 1, 2) if layout == "nchw" else base)

    def _with(self, index: np.ndarray) -> "LayoutView":
        if index.size > MAX_INDEX_ELEMENTS:
            raise ValueError(f"layout chain on '{self.source}' grows to {index.size} elements "
                             f"(limit {MAX_INDEX_ELEMENTS})")
        return LayoutView(self.source, self.hwc, self.layout, index)

    def reshape(self, shape) -> "LayoutView":
        """RESHAPE / Reshape / Squeeze / Unsqueeze to a fully known ``shape``."""
        return self._with(self.index.reshape(tuple(int(d) for d in shape)))

    def tile(self, multiples) -> "LayoutView":
        """TILE / Tile."""
        return self._with(np.tile(self.index, tuple(int(m) for m in multiples)))

    def broadcast(self, shape) -> "LayoutView":
        """BROADCAST_TO / Expand (numpy broadcasting of the two shapes)."""
        target = np.broadcast_shapes(self.index.shape, tuple(int(d) for d in shape))
        return self._with(np.ascontiguousarray(np.broadcast_to(self.index, target)))

    def transpose(self, perm) -> "LayoutView":
        """TRANSPOSE / Transpose."""
        return self._with(np.transpose(self.index, tuple(int(p) for p in perm)))

    def lower(self) -> tuple[str, tuple[int, int]] | None:
        """``("identity", (1, 1))``, ``("upsample", (fh, fw))`` or None if the chain is neither."""
        if self.index.ndim != 4 or self.index.shape[0] != 1:
            return None
        out = self.index.transpose(0, 2, 3, 1) if self.layout == "nchw" else self.index
        h, w, c = self.hwc
        ho, wo, co = out.shape[1:]
        if co != c or ho % h or wo % w:
            return None
        factors = (ho // h, wo // w)
        base = np.arange(h * w * c, dtype=np.int64).reshape(1, h, w, c)
        if not np.array_equal(out, upsample_nearest(base, factors)):
            return None
        return ("identity" if factors == (1, 1) else "upsample", factors)
