"""Exact requantization of bounded accumulators in seven float32 passes, certified per channel or checked per element.

The double-rounding output stage of a channel (:mod:`sw.golden.fixedpoint`)::

    q(acc) = clamp(RDBPOT(SRDHM((acc + b) * 2**sl, M), e) + z, lo, hi),   sl = max(s, 0), e = max(-s, 0)

is a nondecreasing step function of the integer accumulator (``M >= 0``; both
roundings and the clamp are monotone). This module evaluates it with a few
vectorised float operations and *proves*, per channel and per layer call, that
the float evaluation equals ``q`` on every integer of the accumulator domain
``[-B, B]`` (``B`` the proven accumulator bound).

Closed form
    With ``a = acc + b``, ``M' = M * 2**sl``, ``y = a * M' / 2**(31+e)`` and
    ``eps = 2**-(e+1)`` (0 when ``e == 0``)::

        q = clamp(floor(y + 1/2 + sign * eps) + z, lo, hi),   sign = +1 if y + eps >= 0 else -1

    (``y + eps >= 0`` is ``SRDHM >= 0``; the sign term is RDBPOT's ties away from
    zero). Thresholds: ``q >= v`` iff ``p = SRDHM(a) >= P`` with ``w = v - z``,
    ``P = w * 2**e - 2**(e-1) + [w <= 0]`` (``P = w`` if ``e == 0``), iff
    ``a >= T = ceil((P * 2**31 - 2**30) / M')`` (exact int64 arithmetic in
    :func:`thresholds`).

Float32 evaluation (:func:`evaluate`)
    ``t = acc * r + k1`` (``r = M' / 2**(31+e)``, ``k1 = b * r + 2**-(e+1)``: ``t >= 0`` iff
    ``SRDHM >= 0``), ``t += copysign(eps, t)``, ``t += 1/2 - 2**-(e+1) + z``, clip
    to ``[lo, hi]``, floor into the int64 output: seven passes. Each step is
    monotone in ``acc``, so the whole is a nondecreasing function ``f(acc)``; it
    is the closed form above up to float32 rounding, which can only matter for
    accumulators next to a threshold.

Certificate (:meth:`StepStage.build`)
    Two nondecreasing functions with values in ``[lo, hi]`` agree on the integers
    of ``[-B, B]`` iff for every level ``v`` in ``(lo, hi]`` with threshold ``T_v``
    (of ``q``): ``f(T_v) >= v`` when ``T_v <= B`` and ``f(T_v - 1) < v`` when
    ``T_v - 1 >= -B`` (then ``{f >= v} = {acc >= T_v} = {q >= v}`` for every ``v``).
    So ``f`` is evaluated, with the very same operations as on the layer, at
    ``2 * (hi - lo) * Cout`` points; :meth:`StepStage.build` returns None when a
    point fails (a float32 near tie: likely with many output levels or large
    ``|codes|``), when the stage is not a double-rounding stage, or when
    ``acc + b`` could leave int32. The caller then uses another exact stage.

Checked variant (:meth:`StepStage.checked`)
    When the certificate would fail (8-bit outputs), the same evaluation with
    ``rint`` instead of ``floor`` (``k2`` lowered by 1/2) and a per-element check:
    elements whose float32 value is within the proven error bound of a rounding
    boundary are returned to the caller, who recomputes them with the exact integer
    stage (:func:`exact_channels`); about ``2 * err`` of them (``err ~ 2**-21`` of
    the magnitudes involved), against ``2**-e`` for the real-valued window of
    :class:`sw.golden.depthwise.CertifiedStage`, so it suits small right shifts.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sw.golden.fixedpoint import INT32_MAX, requantize_unchecked
from sw.golden.requant import OutputStage

__all__ = ["MAX_CHECKED", "MAX_LEVELS", "StepStage", "evaluate", "exact_channels", "thresholds"]

#: float32's sign bit as an int32 mask.
_SIGN = np.int32(-(2**31))
#: Largest expected fraction of elements left to the exact stage by :meth:`StepStage.checked`.
MAX_CHECKED = 2.0**-6
#: Largest clamp range ``hi - lo`` certified (the certificate costs 2 evaluations per level and channel).
MAX_LEVELS = 4096


def thresholds(stage: OutputStage, cout: int) -> np.ndarray:
    """Thresholds ``T[v, c]`` of the exact stage in ``a = acc + b`` units, int64 ``[hi - lo, Cout]``.

    ``q(a) >= lo + 1 + v`` iff ``a >= T[v, c]`` (see the module docstring). Values
    are clipped to ``[-2**40, 2**40]`` (far outside any int32 accumulator).
    """
    mult = np.broadcast_to(stage.multiplier, (cout,)).astype(np.int64)
    shift = np.broadcast_to(stage.shift, (cout,)).astype(np.int64)
    e = np.maximum(-shift, 0)
    m_eff = mult << np.maximum(shift, 0)
    w = np.arange(stage.act_min + 1, stage.act_max + 1, dtype=np.int64)[:, None] - stage.zero_point
    half = np.where(e > 0, np.int64(1) << np.maximum(e - 1, 0), 0)
    p = np.where(e > 0, (w << e) - half + (w <= 0), w)
    # |p| beyond 2**31 is unreachable by SRDHM of an int32 (|p| <= 2**31): clip before scaling by 2**31.
    p = np.clip(p, -(2**31) - 1, 2**31 + 1)
    num = (p << 31) - (1 << 30)
    safe = np.maximum(m_eff, 1)
    t = -((-num) // safe)  # ceil(num / M')
    big = np.int64(2**40)
    t = np.where(m_eff > 0, np.clip(t, -big, big), np.where(p <= 0, -big, big))
    return t


def evaluate(acc: np.ndarray, params: tuple[np.ndarray, ...], lo: int, hi: int, out: np.ndarray,
             t: np.ndarray, s: np.ndarray, aux: np.ndarray | None = None, signed: bool = True) -> np.ndarray | None:
    """``out[:] = f(acc)`` for a flat block (the float32 evaluation of the module docstring).

    ``params = (r, k1, eps, k2)`` are float32 per-channel values tiled over a few pixels;
    ``acc.size`` must be a multiple of their length. ``t`` and ``s`` are float32 scratch,
    length >= ``acc.size``.
    With ``aux`` (the checked stage, ``k2`` lowered by 1/2), ``out`` receives
    ``rint(t)`` and the positions where ``|t - rint(t)| >= aux`` are returned (or None).
    ``signed=False`` skips the sign term (see :func:`_needs_sign`).
    """
    k, width = acc.size, params[0].size
    r, k1, eps, k2 = params
    # Rows of ``width`` elements (a whole number of pixels): the short parameter vectors broadcast.
    acc, out = acc.reshape(-1, width), out.reshape(-1, width)
    t, s = t[:k].reshape(-1, width), s[:k].reshape(-1, width)
    np.multiply(acc, r, out=t)
    t += k1
    if signed:
        # s = copysign(eps, t) with two integer passes on the bit patterns (np.copysign is not vectorised).
        bits = s.view(np.int32)
        np.bitwise_and(t.view(np.int32), _SIGN, out=bits)
        np.bitwise_or(bits, eps.view(np.int32), out=bits)
        t += s
    t += k2
    if aux is None:
        np.clip(t, lo, hi, out=t)
        np.floor(t, out=out, casting="unsafe")
        return None
    np.rint(t, out=s)
    np.subtract(t, s, out=t)
    np.abs(t, out=t)  # distance to the nearest integer, exact
    bad = np.flatnonzero(t >= aux)
    np.clip(s, lo, hi, out=s)
    np.copyto(out, s, casting="unsafe")
    return bad if bad.size else None


def exact_channels(stage: OutputStage, bias: np.ndarray, acc: np.ndarray, channels: np.ndarray) -> np.ndarray:
    """The exact int64 output stage on selected accumulators, ``channels`` their channel indices."""
    mult = np.broadcast_to(stage.multiplier, bias.shape)[channels]
    shift = np.broadcast_to(stage.shift, bias.shape)[channels]
    return requantize_unchecked(acc.astype(np.int64) + bias[channels], mult, shift, stage.zero_point,
                                stage.act_min, stage.act_max)


@dataclass(frozen=True)
class StepStage:
    """Certified float32 evaluation of one layer's output stage (see the module docstring).

    Parameters
    ----------
    params
        ``(r, k1, eps, k2)``, float32 per-channel vectors tiled to ``reps * Cout`` elements.
    stage, bias
        The layer's output stage and int64 bias ``[Cout]`` (for :meth:`exact`).
    aux
        None (certified: no per-element check), or ``1/2 - err`` tiled (checked, see :meth:`checked`).
    signed
        Whether the evaluation includes the sign term (:func:`_needs_sign`).
    """

    params: tuple[np.ndarray, ...]
    stage: OutputStage
    bias: np.ndarray
    aux: np.ndarray | None = None
    signed: bool = True

    @classmethod
    def build(cls, stage: OutputStage, bias: np.ndarray | None, acc_bound: int, cout: int, reps: int,
              acc_dtype: np.dtype) -> "StepStage | None":
        """The certified stage for accumulators ``|acc| <= acc_bound`` of dtype ``acc_dtype``, or None.

        Parameters
        ----------
        stage
            The layer's output stage.
        bias
            int32 ``[Cout]`` or None (shape already checked by the caller).
        acc_bound
            Proven bound ``B`` on ``|acc|``; every integer of ``[-B, B]`` must be exact in ``acc_dtype``.
        cout, reps
            Output channels, and pixels the vectors are tiled over (blocks hold a multiple of them).
        acc_dtype
            dtype of the accumulators passed to :meth:`apply` (int16 or float32).
        """
        b = np.zeros(cout, dtype=np.int64) if bias is None else np.asarray(bias)
        if b.dtype.kind not in "iu" or stage.rounding != "double" or stage.act_max - stage.act_min > MAX_LEVELS:
            return None
        b = b.astype(np.int64)
        shift = np.broadcast_to(stage.shift, (cout,)).astype(np.int64)
        if (acc_bound + int(np.abs(b).max(initial=0))) << int(max(shift.max(initial=0), 0)) > INT32_MAX:
            return None  # (acc + b) * 2**sl could leave int32: the exact stage decides (and refuses)
        signed = _needs_sign(stage)
        params = _params(stage, b, cout, signed)
        if not _certify(stage, b, acc_bound, cout, acc_dtype, params, signed):
            return None
        return cls(params=tuple(np.tile(p, reps) for p in params), stage=stage, bias=b, signed=signed)

    @classmethod
    def checked(cls, stage: OutputStage, bias: np.ndarray | None, acc_bound: int, cout: int,
                reps: int) -> "StepStage | None":
        """The same evaluation with a per-element check instead of the certificate, or None.

        ``v = t + s + k2 - 1/2`` (float32) is within ``err`` of the exact ``u - 1/2``,
        ``err = (B r + |k1| + |k2| + 2) * 2**-21`` per channel: the four float32 roundings
        and the three rounded parameters each add at most ``2**-24`` of a magnitude bounded
        by ``B r + |k1| + |k2| + 1``, five such terms in all once the magnitudes are
        summed, against eight allowed (headroom also for rounding ``1/2 - err`` to float32). Where
        ``|v - rint(v)| < 1/2 - err``, ``u`` lies strictly between the same two integers as
        ``v + 1/2``, so ``floor(u) = rint(v)``; the other elements go to :meth:`exact`. A
        wrong sign of ``t`` (possible only when ``|t| <= err``) is harmless when no
        channel has ``e == 1``: both branches then floor ``t + 1/2 + z`` and
        ``t + 1/2 - 2**-e + z`` to ``z``. None when a channel has ``e == 1``, when
        ``err`` would flag more than :data:`MAX_CHECKED` of the elements, or under
        the conditions of :meth:`build`. Without the sign term (:func:`_needs_sign`)
        every element below the branch point clamps to ``lo`` either way, and
        ``e == 1`` is allowed.
        """
        b = np.zeros(cout, dtype=np.int64) if bias is None else np.asarray(bias)
        if b.dtype.kind not in "iu" or stage.rounding != "double":
            return None
        b = b.astype(np.int64)
        shift = np.broadcast_to(stage.shift, (cout,)).astype(np.int64)
        left, signed = int(max(shift.max(initial=0), 0)), _needs_sign(stage)
        if (signed and np.any(shift == -1)) or (acc_bound + int(np.abs(b).max(initial=0))) << left > INT32_MAX:
            return None
        r, k1, eps, k2 = _exact_params(stage, b, cout, signed)
        err = (acc_bound * r + np.abs(k1) + np.abs(k2) + 2.0) * 2.0**-21
        if 2 * err.max(initial=0.0) > MAX_CHECKED:
            return None
        params = tuple(np.asarray(v, dtype=np.float32) for v in (r, k1, eps, k2 - 0.5))
        return cls(params=tuple(np.tile(p, reps) for p in params), stage=stage, bias=b,
                   aux=np.tile((0.5 - err).astype(np.float32), reps), signed=signed)

    def apply(self, acc: np.ndarray, out: np.ndarray, y: np.ndarray, f: np.ndarray) -> np.ndarray | None:
        """Requantize a flat block ``acc`` (a whole number of pixels) into int64 ``out``.

        ``y`` and ``f`` are float64 scratch buffers of length >= ``acc.size`` (used as
        float32). Returns the positions left for :meth:`exact` (checked stage) or None.
        """
        k = acc.size
        return evaluate(acc, self.params, self.stage.act_min, self.stage.act_max, out, y.view(np.float32)[:k],
                        f.view(np.float32)[:k], self.aux, self.signed)

    def exact(self, acc: np.ndarray, channels: np.ndarray) -> np.ndarray:
        """The exact int64 output stage on selected accumulators (their channel indices given)."""
        return exact_channels(self.stage, self.bias, acc, channels)


def _exact_params(stage: OutputStage, b: np.ndarray, cout: int, signed: bool) -> tuple[np.ndarray, ...]:
    """Per-channel float64 ``(r, k1, eps, k2)`` of the evaluation (exact: powers of two times integers).

    Without the sign term, ``k2`` includes the positive branch's ``+eps``.
    """
    mult = np.broadcast_to(stage.multiplier, (cout,)).astype(np.int64)
    shift = np.broadcast_to(stage.shift, (cout,)).astype(np.int64)
    e = np.maximum(-shift, 0)
    m_eff = mult << np.maximum(shift, 0)  # < 2**62 (the left shift keeps (acc + b) * 2**sl in int32)
    scale = np.exp2(-(31.0 + e))
    r = m_eff.astype(np.float64) * scale
    eps = np.where(e > 0, np.exp2(-(e + 1.0)), 0.0)
    # t = y + 2**-(e+1) = (a*M' + 2**30) / 2**(31+e), whose sign is SRDHM's; b*M' + 2**30 fits int64.
    k1 = (b * m_eff + (1 << 30)).astype(np.float64) * scale
    k2 = 0.5 - np.exp2(-(e + 1.0)) + stage.zero_point + (0.0 if signed else eps)
    return r, k1, eps, k2


def _params(stage: OutputStage, b: np.ndarray, cout: int, signed: bool) -> tuple[np.ndarray, ...]:
    """Per-channel float32 ``(r, k1, eps, k2)``, each rounded once from its exact float64 value."""
    return tuple(np.asarray(v, dtype=np.float32) for v in _exact_params(stage, b, cout, signed))


def _needs_sign(stage: OutputStage) -> bool:
    """Whether the sign term can matter: not when the clamp removes every code below ``z``.

    The negative branch (``SRDHM < 0``) gives codes ``<= z`` and the positive formula
    gives ``floor(y + 1/2 + eps) + z <= z`` there too (``y < -eps``); with
    ``lo >= z`` both clamp to ``lo`` (fused ReLU / ReLU6), so the positive formula
    alone is exact. The certificate checks it like any evaluation.
    """
    return stage.act_min < stage.zero_point


def _certify(stage: OutputStage, b: np.ndarray, acc_bound: int, cout: int, acc_dtype: np.dtype,
             params: tuple[np.ndarray, ...], signed: bool) -> bool:
    """The certificate of the module docstring: ``f`` meets every threshold of ``q`` on ``[-B, B]``."""
    lo, hi = stage.act_min, stage.act_max
    if lo == hi:
        return True  # both are the constant lo
    t = thresholds(stage, cout) - b  # in accumulator units
    v = np.arange(lo + 1, hi + 1, dtype=np.int64)[:, None]
    # Points T and T - 1 inside the domain, and whether each must be checked.
    upper = np.clip(t, -acc_bound, acc_bound)
    lower = np.clip(t - 1, -acc_bound, acc_bound)
    check_upper, check_lower = t <= acc_bound, t - 1 >= -acc_bound
    points = np.stack([upper, lower]).astype(acc_dtype).reshape(-1)
    got = np.empty(points.size, dtype=np.int64)
    evaluate(points, tuple(np.tile(p, points.size // cout) for p in params), lo, hi, got,
             np.empty(points.size, dtype=np.float32), np.empty(points.size, dtype=np.float32), signed=signed)
    got = got.reshape(2, *t.shape)
    return bool(np.all((got[0] >= v) | ~check_upper) and np.all((got[1] < v) | ~check_lower))
