"""Fast exact depthwise convolution: cache-blocked accumulation and certified float requantization.

Depthwise layers do few multiply-adds per output (``kh * kw``), so their cost is
the number of passes numpy makes over the output, not the arithmetic. This
module processes blocks of output rows small enough to stay in the CPU cache,
accumulates *and* requantizes each block before moving on, splits the blocks
over two threads (numpy releases the GIL), and replaces the int64 output stage,
the dominant cost, by an exact float evaluation:

Accumulation
    ``acc = sum_taps (x - zx) * (w - zw)``, one ``numpy.einsum`` per block over a
    strided view of the padded input (no im2col copy), in int16 when the bound
    ``B = taps * max|x - zx| * max|w - zw|`` is <= 32767 (e.g. w4a4: 9 * 15 * 8 =
    1080, w4a8: 9 * 255 * 8 = 18360), else in float32 (w8a8: 9 * 255 * 128 =
    293760; 7x7 w8a8: 1.6e6). The caller only uses this module when ``B <= 2**24``:
    every partial sum is an integer of magnitude <= B, exact in float32 (and in
    int16 below 2**15) whatever the summation order, so ``acc`` is exact.

Requantization (double rounding), the first of these that applies
    1. :class:`sw.golden.stepstage.StepStage` for outputs with at most
       :data:`_F32_STEP_LEVELS` levels (4-bit codes, coarse ReLU6): seven float32
       passes, no per-element check; exactness is certified per channel at the
       thresholds of the step function (see that module).
    2. :class:`CertifiedStage` ``"certified"`` (large right shifts): float32
       ``y = (acc + bias) * M * 2**(s-31) + z_out``, accepted where it is farther
       than ``delta_c = 2**-(e_c+1) + err_c`` from a half-integer (then both
       roundings agree with ``round(y)``; float32 error bounded by
       :data:`_F32_REL`); the few remaining elements (about ``2 * delta_c``) are
       recomputed with the exact integer stage.
    3. :meth:`sw.golden.stepstage.StepStage.checked` (small or left shifts): the
       same float32 passes plus a per-element check against a proven float32 error
       bound (no channel may have shift -1 unless the clamp removes every code below
       the zero point); flagged elements are recomputed with the exact integer stage.
    4. :class:`CertifiedStage` ``"float64"``: the two roundings evaluated
       literally in float64 (exact while ``|acc + bias| < 2**21``).
    Otherwise (single/float rounding, ``acc + bias`` possibly outside int32) the
    exact int64 output stage. The result is bit-identical to
    :meth:`sw.golden.requant.OutputStage.finish` on the int64 accumulators
    (tests against direct integer arithmetic and TFLite's reference kernels).
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import as_strided

from sw.golden.fixedpoint import INT32_MAX
from sw.golden.requant import OutputStage
from sw.golden.stepstage import StepStage, exact_channels
from sw.golden.window import Padding2D, output_size

__all__ = ["BLOCK_ELEMENTS", "INT16_EXACT", "CertifiedStage", "depthwise_conv"]

#: Output elements per cache block (float32: 512 KiB per buffer).
BLOCK_ELEMENTS = 1 << 16
#: Accumulator bound up to which int16 accumulation is exact.
INT16_EXACT = 2**15 - 1
#: Largest length of the output stage's tiled per-channel vectors.
_TILE_ELEMENTS = 4096
#: Threads for layers of at least this many blocks (the machine-independent cap is 2).
_THREADS, _MIN_BLOCKS_PER_THREAD = 2, 4
#: Largest expected fraction of near-ties for the certified float32 mode.
_MAX_DOUBTFUL = 2.0**-6
#: Output levels up to which the float32 step stage is tried (it rarely certifies 8-bit outputs).
_F32_STEP_LEVELS = 63
#: Relative float32 error bound of ``y`` (4 roundings of 2**-24 at most; generous).
_F32_REL = 2.0**-20


@dataclass(frozen=True)
class CertifiedStage:
    """Per-channel parameters of the fast requantization, tiled over a few pixels.

    Built by :meth:`build`; arrays of length ``reps * Cout`` (``reps`` pixels,
    a divisor of the blocks' pixel count). Two exact evaluations (see the module docstring):

    ``mode == "certified"``
        float32 ``y`` with a certification window; near-ties go to :meth:`exact`.
    ``mode == "float64"``
        chosen when the window would flag more than :data:`_MAX_DOUBTFUL` of the
        elements (small right shifts) and ``|acc + bias| < 2**21``: TFLite's two
        roundings evaluated literally in float64, where every step is exact
        (``|(acc + bias) * M + 2**30| < 2**52``; scaling by powers of two is exact).
    """

    mode: str
    scale: np.ndarray
    offset: np.ndarray
    aux: np.ndarray
    bias: np.ndarray
    stage: OutputStage

    @classmethod
    def build(
        cls, stage: OutputStage, bias: np.ndarray | None, acc_bound: int, cout: int, reps: int
    ) -> "CertifiedStage | None":
        """The fast stage, or None when the exact int64 stage must be used.

        Parameters
        ----------
        stage
            The layer's output stage.
        bias
            int32 ``[Cout]`` or None (shape already checked by the caller).
        acc_bound
            Proven bound on ``|acc|``.
        cout, reps
            Output channels, and pixels the vectors are tiled over (blocks hold a multiple of them).
        """
        b = np.zeros(cout, dtype=np.int64) if bias is None else np.asarray(bias)
        if b.dtype.kind not in "iu" or stage.rounding != "double":
            return None
        b = b.astype(np.int64)
        shift = np.broadcast_to(stage.shift, (cout,)).astype(np.float64)
        a_bound = acc_bound + int(np.abs(b).max(initial=0))
        if shift.max(initial=0) > 0 or a_bound > INT32_MAX:
            return None
        mult = np.broadcast_to(stage.multiplier, (cout,)).astype(np.float64)
        real = mult * np.exp2(shift - 31.0)  # exact in float64
        offset = b * real + stage.zero_point  # y = acc * real + offset
        err = _F32_REL * (acc_bound * real + np.abs(offset) + 1.0)
        delta = np.exp2(shift - 1.0) + err  # 2**-(e+1) + err, e = -shift

        def tiled(values: np.ndarray, dtype: type) -> np.ndarray:
            return np.tile(values.astype(dtype), reps)

        if 2 * delta.max() > _MAX_DOUBTFUL and a_bound < 2**21:
            # u = (acc + b) * M * 2**-31 + 1/2 exactly; then p = floor(u), q = p * 2**-e.
            return cls(mode="float64", scale=tiled(mult * 2.0**-31, np.float64),
                       offset=tiled((b * mult + 2.0**30) * 2.0**-31, np.float64),
                       aux=tiled(np.exp2(shift), np.float64), bias=b, stage=stage)
        # Certain where |y - rint(y)| < 1/2 - delta (y farther than delta from a half-integer).
        return cls(mode="certified", scale=tiled(real, np.float32), offset=tiled(offset, np.float32),
                   aux=tiled(0.5 - delta, np.float32), bias=b, stage=stage)

    def apply(self, acc: np.ndarray, out: np.ndarray, y: np.ndarray, f: np.ndarray) -> np.ndarray | None:
        """Requantize a flat block ``acc`` (a multiple of the tiled vectors' length) into int64 ``out``.

        ``y`` and ``f`` are float64 scratch buffers of length >= ``k``. Returns the
        positions (within the block) left for :meth:`exact`, or None.
        """
        k, width = acc.size, self.scale.size
        lo, hi = self.stage.act_min, self.stage.act_max
        # Rows of ``width`` elements (a whole number of pixels): the short parameter vectors broadcast.
        acc, out = acc.reshape(-1, width), out.reshape(-1, width)
        if self.mode == "float64":
            y = y[:k].reshape(-1, width)
            np.multiply(acc, self.scale, out=y)
            y += self.offset
            np.floor(y, out=y)  # p = SRDHM(acc + bias, M)
            y *= self.aux  # q = p / 2**e
            f = np.copysign(0.5, y, out=f[:k].reshape(-1, width))
            y += f
            np.trunc(y, out=y)  # RDBPOT: half away from zero
            np.clip(y, lo - self.stage.zero_point, hi - self.stage.zero_point, out=y)
            np.copyto(out, y.astype(np.int32))
            out += self.stage.zero_point
            return None
        y, f = y.view(np.float32)[:k].reshape(-1, width), f.view(np.float32)[:k].reshape(-1, width)
        np.multiply(acc, self.scale, out=y)
        y += self.offset
        np.rint(y, out=f)  # the code before clamping (exact ties are flagged below)
        np.subtract(y, f, out=y)
        np.abs(y, out=y)  # distance to the nearest integer, in [0, 1/2]
        bad = np.flatnonzero(y >= self.aux)  # too close to a rounding tie to be certain
        np.clip(f, np.float32(lo), np.float32(hi), out=f)
        np.copyto(out, f, casting="unsafe")
        return bad if bad.size else None

    def exact(self, acc: np.ndarray, channels: np.ndarray) -> np.ndarray:
        """The exact int64 output stage on selected accumulators (their channel indices given)."""
        return exact_channels(self.stage, self.bias, acc, channels)


def _tile_pixels(wo: int, cout: int) -> int:
    """Pixels the output stage's per-channel vectors are tiled over.

    The largest divisor of ``Wo`` (every block of whole rows holds a multiple of it)
    with at most :data:`_TILE_ELEMENTS` elements, so the vectors stay in the L1
    cache; a whole row if that divisor is too short for efficient numpy loops
    (e.g. a prime ``Wo`` and few channels).
    """
    tile = max(d for d in range(1, wo + 1) if wo % d == 0 and (d * cout <= _TILE_ELEMENTS or d == 1))
    return tile if tile * cout >= _TILE_ELEMENTS // 8 else wo


def _output_stage(stage: OutputStage, bias: np.ndarray | None, acc_bound: int, cout: int, reps: int,
                  acc_dtype: np.dtype) -> "StepStage | CertifiedStage | None":
    """The fastest exact output stage that applies, in the order of the module docstring (None: the int64 stage)."""
    if stage.act_max - stage.act_min <= _F32_STEP_LEVELS:
        step = StepStage.build(stage, bias, acc_bound, cout, reps, acc_dtype)
        if step is not None:
            return step
    certified = CertifiedStage.build(stage, bias, acc_bound, cout, reps)
    if certified is not None and certified.mode == "certified":
        return certified
    return StepStage.checked(stage, bias, acc_bound, cout, reps) or certified


def _accumulator(padded: np.ndarray, wt: np.ndarray, kernel: tuple[int, int], stride: tuple[int, int],
                 dilation: tuple[int, int], wo: int) -> Callable[[int, int, int, np.ndarray], None]:
    """``accumulate(b, r0, r1, out)``: output rows ``r0:r1`` of image ``b`` into ``out`` ``[r1 - r0, Wo, C]``.

    One ``einsum`` per block over a strided view of the padded input (no copies):
    ``out[y, x, c] = sum_ij padded[b, y sy + i dy, x sx + j dx, c] * wt[i kw + j, c]``.
    At width stride 1 the (x, c) axes are one contiguous run of ``Wo * C`` elements,
    so the weights are repeated along it and the inner loop is long.
    """
    kh, kw = kernel
    _, hp, wp, c = padded.shape
    s_b, s_y, s_x, s_c = padded.strides
    if stride[1] == 1:
        wide = np.ascontiguousarray(np.broadcast_to(wt.reshape(kh, kw, 1, c), (kh, kw, wo, c)).reshape(kh, kw, wo * c))

        def accumulate(b: int, r0: int, r1: int, out: np.ndarray) -> None:
            view = as_strided(padded[b, r0 * stride[0] :], shape=(r1 - r0, kh, kw, wo * c),
                              strides=(stride[0] * s_y, dilation[0] * s_y, dilation[1] * s_x, s_c), writeable=False)
            np.einsum("yijk,ijk->yk", view, wide, out=out.reshape(r1 - r0, wo * c))
    else:
        w3 = np.ascontiguousarray(wt.reshape(kh, kw, c))

        def accumulate(b: int, r0: int, r1: int, out: np.ndarray) -> None:
            view = as_strided(padded[b, r0 * stride[0] :], shape=(r1 - r0, kh, kw, wo, c),
                              strides=(stride[0] * s_y, dilation[0] * s_y, dilation[1] * s_x, stride[1] * s_x, s_c),
                              writeable=False)
            np.einsum("yijxc,ijc->yxc", view, w3, out=out)

    return accumulate


def depthwise_conv(
    x: np.ndarray,
    input_zero_point: int,
    wt: np.ndarray,
    acc_bound: int,
    kernel: tuple[int, int],
    stride: tuple[int, int],
    dilation: tuple[int, int],
    pads: Padding2D,
    multiplier: int,
    stage: OutputStage | None = None,
    bias: np.ndarray | None = None,
    where: str = "depthwise",
) -> np.ndarray:
    """Depthwise accumulators (``stage`` None) or output codes, int64 NHWC ``[N, Ho, Wo, Cout]``.

    Parameters
    ----------
    x
        Input codes, NHWC ``[N, H, W, Cin]`` (validated 8-bit codes).
    input_zero_point
        Zero point of ``x``.
    wt
        Zero-point-corrected weights ``[kh * kw, Cout]`` (tap-major).
    acc_bound
        Proven bound on ``|acc|``; must be <= 2**24.
    kernel, stride, dilation
        (h, w) pairs in pixels.
    pads
        ``((top, bottom), (left, right))`` pixels.
    multiplier
        Channel multiplier ``Cout / Cin`` (output channel ``o`` reads input ``o // multiplier``).
    stage, bias
        Output stage and int32 bias ``[Cout]``; with a stage the result is
        ``stage.finish(acc, bias, where)``, bit for bit.
    """
    if acc_bound > 2**24:
        raise ValueError(f"{where}: accumulator bound {acc_bound} exceeds 2**24 (float32 exactness)")
    dtype = np.dtype(np.int16 if acc_bound <= INT16_EXACT else np.float32)
    kh, kw = kernel
    (top, bottom), (left, right) = pads
    n, h, w, cin = x.shape
    ho = output_size(h, kh, stride[0], dilation[0], (top, bottom))
    wo = output_size(w, kw, stride[1], dilation[1], (left, right))
    if ho < 1 or wo < 1:
        raise ValueError(f"{where}: input {h}x{w} with padding {pads} is smaller than the {kh}x{kw} kernel (dilation {dilation})")
    # x - zx written once into a zero-padded buffer (|x - zx| <= 383: exact in int16 and float32).
    padded = np.empty((n, h + top + bottom, w + left + right, cin), dtype=dtype)
    for border in (padded[:, :top], padded[:, top + h :], padded[:, :, :left], padded[:, :, left + w :]):
        border.fill(0)
    np.subtract(x, input_zero_point, out=padded[:, top : top + h, left : left + w], dtype=dtype, casting="unsafe")
    if multiplier > 1:
        padded = np.repeat(padded, multiplier, axis=-1)
    cout = padded.shape[-1]
    if stage is not None and bias is not None and np.shape(bias) != (cout,):
        raise ValueError(f"{where}: bias: expected shape ({cout},), got {np.shape(bias)}")
    rows = max(1, min(ho, BLOCK_ELEMENTS // (wo * cout)))
    blocks = [(b, r, min(r + rows, ho)) for b in range(n) for r in range(0, ho, rows)]
    certified = None if stage is None else _output_stage(stage, bias, acc_bound, cout, _tile_pixels(wo, cout), dtype)
    out = np.empty((n, ho, wo, cout), dtype=np.int64)
    accumulate = _accumulator(padded, wt.astype(dtype), (kh, kw), stride, dilation, wo)

    def run(part: list[tuple[int, int, int]]) -> list[np.ndarray]:
        acc = np.empty((rows, wo, cout), dtype=dtype)
        y, f = np.empty(acc.size, np.float64), np.empty(acc.size, np.float64)
        doubtful = []
        for b, r0, r1 in part:
            blk = acc[: r1 - r0]
            accumulate(b, r0, r1, blk)
            dest = out[b, r0:r1].reshape(-1)
            if certified is None:
                np.copyto(dest, blk.reshape(-1), casting="unsafe")
                continue
            bad = certified.apply(blk.reshape(-1), dest, y, f)
            if bad is not None:
                base = (b * ho + r0) * wo * cout
                doubtful.append(np.stack([bad + base, blk.reshape(-1)[bad].astype(np.int64)]))
        return doubtful

    threads = min(_THREADS, len(blocks) // _MIN_BLOCKS_PER_THREAD)
    if threads > 1:
        half = -(-len(blocks) // threads)
        with ThreadPoolExecutor(max_workers=threads) as pool:
            doubtful = [d for part in pool.map(run, [blocks[k : k + half] for k in range(0, len(blocks), half)]) for d in part]
    else:
        doubtful = run(blocks)
    if stage is not None and certified is None:
        return stage.finish(out, bias, where)
    if doubtful:
        idx, acc = np.concatenate(doubtful, axis=1)
        out.reshape(-1)[idx] = certified.exact(acc, idx % cout)
    return out
