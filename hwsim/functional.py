"""Functional check: run a layer tile by tile through the golden model, following its schedule.

Each tile of :meth:`hwsim.compiler.conv.ConvTiling.coords` (a run of output pixels x a
channel block x a K chunk of input channels) takes exactly the input window the schedule
loads (:func:`hwsim.compiler.conv.run_window`: halo included, clipped to the feature
map, whole rows when the run spans several) with the window's own share of the padding,
the chunk's channels of it and of the weights, and computes its accumulators with
:func:`sw.golden.conv.conv2d_accumulate` (FC: ``fully_connected_accumulate``). The
chunks of one run and channel block are summed as int32 partial sums (as they spill to
the output SRAM); after the last chunk the sums are the tile's output. The assembled
output must equal the whole-layer accumulators bit for bit and every output must be
written exactly once: this proves the tiler's coverage, halos, padding and K split.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hwsim.config import HwConfig
from hwsim.compiler.conv import ConvTiling, run_window
from hwsim.compiler.search import choose_conv_tiling
from sw.golden.conv import conv2d_accumulate
from sw.golden.fully_connected import fully_connected_accumulate
from sw.graph.ir import Layer, Op

__all__ = ["FunctionalResult", "check_layer", "FUNCTIONAL_OPS"]

FUNCTIONAL_OPS = frozenset({Op.CONV, Op.DEPTHWISE, Op.FC})
INT32_MAX = 2**31 - 1


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
    fc = layer.op is Op.FC
    if fc:
        x = _codes(rng, (g.h, g.cin_g), layer.a_bits, False)
        w = _codes(rng, (cout, g.cin_g), layer.w_bits, True)
        whole = fully_connected_accumulate(x, w, input_zero_point=zx).astype(np.int64)
    else:
        x = _codes(rng, (1, g.h, g.w, g.cin_g * g.groups), layer.a_bits, False)
        w = _codes(rng, (cout, g.kh, g.kw, g.cin_g), layer.w_bits, True)
        common = dict(input_zero_point=zx, stride=(g.sh, g.sw), dilation=(g.dh, g.dw))
        whole = conv2d_accumulate(x, w, padding=layer.padding, groups=g.groups, **common)[0]
        whole = whole.reshape(g.ho * g.wo, cout).astype(np.int64)
    out = np.zeros_like(whole)
    hits = np.zeros(whole.shape, dtype=np.int32)
    psum = None  # int32 partial sums of the current (run, channel block)
    tiles = 0
    for grp, (p0, p1), (n0, n1), (c0, c1), _li, _lw in t.coords():
        o0, o1 = grp * g.n_g + n0, grp * g.n_g + n1
        ch = slice(grp * g.cin_g + c0, grp * g.cin_g + c1)
        if fc:
            acc = fully_connected_accumulate(x[p0:p1, c0:c1], w[o0:o1, c0:c1], input_zero_point=zx)
        else:
            win = run_window(g, p0, p1)
            xs = x[:, win.y0:win.y1, win.x0:win.x1, ch]
            acc = conv2d_accumulate(xs, w[o0:o1, :, :, c0:c1], padding=win.pads, groups=1, **common)[0]
            if acc.shape[:2] != (win.oy1 - win.oy0, win.ox1 - win.ox0):
                raise AssertionError(f"layer '{layer.name}': run [{p0}, {p1}) produced shape {acc.shape}")
            # the window computes whole output rows when the run spans several; keep the run's pixels
            acc = acc.reshape(-1, o1 - o0)
            first = p0 - win.oy0 * g.wo if win.oy1 - win.oy0 > 1 else 0
            acc = acc[first:first + (p1 - p0)]
        part = np.asarray(acc, dtype=np.int64)
        if np.abs(part).max(initial=0) > INT32_MAX:
            raise AssertionError(f"layer '{layer.name}': a partial sum exceeds int32")
        psum = part.astype(np.int32) if c0 == 0 else (psum.astype(np.int64) + part).astype(np.int32)
        if c1 == g.cin_g:  # last K chunk: the accumulated sums are the tile's output
            out[p0:p1, o0:o1] = psum
            hits[p0:p1, o0:o1] += 1
        tiles += 1
    return FunctionalResult(layer.name, tiles, int(whole.size), bool(np.array_equal(out, whole)),
                            bool((hits == 1).all()))
