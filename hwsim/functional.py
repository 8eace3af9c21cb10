"""Functional check: run a layer tile by tile through the golden model, following its schedule.

Each tile of :meth:`hwsim.compiler.conv.ConvTiling.coords` takes exactly the input
window the schedule loads (halo included, clipped to the feature map) with the
tile's own share of the padding, and the weights of its channel block, and computes
its accumulators with :func:`sw.golden.conv.conv2d_accumulate`. The assembled output
must equal the whole-layer accumulators bit for bit and every output must be written
exactly once: this proves the tiler's coverage, halos and padding.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hwsim.config import HwConfig
from hwsim.compiler.conv import ConvTiling, choose_conv_tiling
from sw.golden.conv import conv2d_accumulate
from sw.golden.fully_connected import fully_connected_accumulate
from sw.graph.ir import Layer, Op

__all__ = ["FunctionalResult", "check_layer", "FUNCTIONAL_OPS"]

FUNCTIONAL_OPS = frozenset({Op.CONV, Op.DEPTHWISE, Op.FC})


@dataclass(frozen=True)
class FunctionalResult:
    """Outcome for one layer: tiles executed, outputs, whether tiled == whole and coverage is exact."""

    name: str
    tiles: int
    outputs: int
    identical: bool
    covered_once: bool

    @property
    def ok(self) -> bool:
        return self.identical and self.covered_once


def _codes(rng: np.random.Generator, shape, bits: int, signed: bool) -> np.ndarray:
    bits = min(bits, 8)
    lo, hi = (-(2 ** (bits - 1)), 2 ** (bits - 1)) if signed else (0, 2**bits)
    return rng.integers(lo, hi, size=shape, dtype=np.int64).astype(np.int32)


def check_layer(layer: Layer, cfg: HwConfig, *, seed: int = 0, tiling: ConvTiling | None = None) -> FunctionalResult:
    """Execute ``layer`` tile by tile and whole with random codes; compare bit for bit.

    Raises
    ------
    ValueError
        For ops other than conv, depthwise and fc, or float (32-bit) layers.
    """
    if layer.op not in FUNCTIONAL_OPS or layer.is_float:
        raise ValueError(f"layer '{layer.name}': functional tiling check covers integer conv/depthwise/fc only")
    t = tiling or choose_conv_tiling(layer, cfg)
    g = t.geom
    rng = np.random.default_rng(seed)
    zx = int(rng.integers(0, 2 ** min(layer.a_bits, 8)))
    cout = g.n_g * g.groups
    if layer.op is Op.FC:
        x = _codes(rng, (g.h, g.cin_g), layer.a_bits, False)
        w = _codes(rng, (cout, g.cin_g), layer.w_bits, True)
        whole = fully_connected_accumulate(x, w, input_zero_point=zx)[:, None, :]
        out = np.zeros_like(whole)
        hits = np.zeros(whole.shape, dtype=np.int32)
        tiles = 0
        for _g, (y0, y1), _rx, (n0, n1), _li, _lw in t.coords():
            out[y0:y1, :, n0:n1] = fully_connected_accumulate(x[y0:y1], w[n0:n1], input_zero_point=zx)[:, None, :]
            hits[y0:y1, :, n0:n1] += 1
            tiles += 1
    else:
        x = _codes(rng, (1, g.h, g.w, g.cin_g * g.groups), layer.a_bits, False)
        w = _codes(rng, (cout, g.kh, g.kw, g.cin_g), layer.w_bits, True)
        common = dict(input_zero_point=zx, stride=(g.sh, g.sw), dilation=(g.dh, g.dw))
        whole = conv2d_accumulate(x, w, padding=layer.padding, groups=g.groups, **common)[0]
        out = np.zeros_like(whole)
        hits = np.zeros(whole.shape, dtype=np.int32)
        tiles = 0
        for grp, ry, rx, (n0, n1), _li, _lw in t.coords():
            y0, y1, pt, pb = g.in_range(*ry, 0)
            x0, x1, pl, pr = g.in_range(*rx, 1)
            xs = x[:, y0:y1, x0:x1, grp * g.cin_g:(grp + 1) * g.cin_g]
            o0, o1 = grp * g.n_g + n0, grp * g.n_g + n1
            acc = conv2d_accumulate(xs, w[o0:o1], padding=((pt, pb), (pl, pr)), groups=1, **common)[0]
            if acc.shape != (ry[1] - ry[0], rx[1] - rx[0], o1 - o0):
                raise AssertionError(f"layer '{layer.name}': tile {ry}x{rx} produced shape {acc.shape}")
            out[ry[0]:ry[1], rx[0]:rx[1], o0:o1] = acc
            hits[ry[0]:ry[1], rx[0]:rx[1], o0:o1] += 1
            tiles += 1
    return FunctionalResult(layer.name, tiles, int(whole.size), bool(np.array_equal(out, whole)),
                            bool((hits == 1).all()))
