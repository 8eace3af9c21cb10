"""Per-output-channel weight range spread of real weights (FQN §3.3, Figure 2).

For every conv / depthwise / FC layer with weights ``w`` (output channels on axis 0),
the range of channel ``c`` is ``r_c = max(w_c) - min(w_c)`` and the layer's spread is
``20 log10(max_c r_c / min_c r_c)`` dB. A channel with ``r_c == 0`` (all weights equal,
e.g. pruned) gives an infinite spread; it is counted in ``dead_channels`` and the spread
is taken over the other channels. FQN Figure 2 histograms, over all channels, the ratio
of the channel's magnitude to the smallest one's in dB; :func:`channel_ratios_db`
returns the same per-channel data (``20 log10(r_c / min r)`` within each layer).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sw.graph.ir import Op
from sw.graph.model import ImportedModel

__all__ = ["LayerSpread", "range_spread", "channel_ranges", "layer_spreads", "channel_ratios_db"]

_WEIGHTED = (Op.CONV, Op.DEPTHWISE, Op.FC)


@dataclass(frozen=True)
class LayerSpread:
    """Weight-range spread of one layer.

    Attributes
    ----------
    name, op, part
        The layer.
    channels
        Output channels.
    min_range, max_range
        Smallest non-zero and largest channel range (real weight units).
    spread_db
        ``20 log10(max_range / min_range)``.
    dead_channels
        Channels whose range is 0.
    """

    name: str
    op: str
    part: str
    channels: int
    min_range: float
    max_range: float
    spread_db: float
    dead_channels: int


def channel_ranges(w: np.ndarray) -> np.ndarray:
    """``max - min`` of every output channel (axis 0)."""
    flat = np.asarray(w, dtype=np.float64).reshape(np.shape(w)[0], -1)
    return flat.max(axis=1) - flat.min(axis=1)


def range_spread(w: np.ndarray) -> tuple[float, float, float, int]:
    """``(min non-zero range, max range, spread in dB, dead channels)`` of one weight tensor."""
    r = channel_ranges(w)
    live = r[r > 0]
    dead = int(r.size - live.size)
    if live.size == 0:
        return 0.0, 0.0, 0.0, dead
    lo, hi = float(live.min()), float(live.max())
    return lo, hi, float(20.0 * np.log10(hi / lo)), dead


def layer_spreads(model: ImportedModel) -> tuple[LayerSpread, ...]:
    """Spread of every weighted layer, in graph order."""
    rows = []
    for layer in model.graph:
        if layer.op in _WEIGHTED:
            w = model.tensors[f"{layer.name}.weight"]
            lo, hi, db, dead = range_spread(w)
            rows.append(LayerSpread(layer.name, layer.op.value, layer.part.value, int(w.shape[0]), lo, hi, db, dead))
    return tuple(rows)


def channel_ratios_db(model: ImportedModel) -> np.ndarray:
    """``20 log10(r_c / min r)`` of every live channel of every weighted layer (FQN Figure 2 data)."""
    out = []
    for layer in model.graph:
        if layer.op in _WEIGHTED:
            r = channel_ranges(model.tensors[f"{layer.name}.weight"])
            live = r[r > 0]
            if live.size:
                out.append(20.0 * np.log10(live / live.min()))
    return np.concatenate(out) if out else np.zeros(0)
