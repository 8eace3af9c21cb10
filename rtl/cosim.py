"""Cosimulation drivers: vectors -> stimulus -> (Amaranth or Verilator) -> results + golden check.

One driver per design. Each validates user vectors (one-line ``ValueError`` on bad
input), computes the golden model's answer independently of the RTL
(:mod:`sw.golden.fixedpoint` and exact int64 numpy), builds the open-loop stimulus,
and decodes the sampled outputs, also measuring latency.

Vector arrays
-------------
``requant``: 1-D integer arrays of equal length ``acc``, ``bias``, ``multiplier``,
``shift``, ``out_zp``, ``act_min``, ``act_max``. Result ``q``.
``mac``: 1-D integer arrays of equal length ``w``, ``x``, ``x_zp``, ``x_signed`` (K
elements of ``w_bits`` x ``a_bits`` codes) and optionally ``last`` (default all 1:
every element is its own reduction; 1 ends a reduction). Each element is issued as
:meth:`rtl.arch.ArrayArch.beat_parts` digit beats. Result ``acc``: one sum per reduction.
``array``: for ``T`` tiles, ``x`` ``(T, rows, K)`` activation codes, ``w``
``(T, K, cols)`` weight codes, ``bias``/``multiplier``/``shift`` ``(T, cols)``,
``x_zp``/``x_signed``/``out_zp``/``act_min``/``act_max`` ``(T,)``. Result ``q``
``(T, rows, cols)`` and the measured cycles (:class:`ArrayCycles`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from rtl.arch import DIGIT_BITS, HI, LO, ArrayArch
from rtl.ports import pack_fields, unpack_field
from rtl.requant import SHIFT_MAX, SHIFT_MIN, SHIFT_WIDTH
from rtl.timing import MAC_CYCLES, REQUANT_PIPELINE_CYCLES
from sw.golden.fixedpoint import INT32_MAX, INT32_MIN, requantize

__all__ = [
    "Model", "CosimResult", "ArrayCycles", "REQUANT_ARRAYS", "MAC_ARRAYS", "ARRAY_ARRAYS",
    "check_requant_vectors", "golden_requant", "cosim_requant",
    "check_mac_vectors", "golden_mac", "cosim_mac",
    "check_array_vectors", "golden_array", "digit_beats", "array_schedule", "cosim_array",
]

REQUANT_ARRAYS = ("acc", "bias", "multiplier", "shift", "out_zp", "act_min", "act_max")
MAC_ARRAYS = ("w", "x", "x_zp", "x_signed")
ARRAY_ARRAYS = ("x", "w", "bias", "multiplier", "shift", "x_zp", "x_signed", "out_zp", "act_min",
                "act_max")


class Model(Protocol):
    """A backend: :class:`rtl.backends.AmaranthModel` or :class:`rtl.backends.VerilatorModel`."""

    def run(self, stimulus: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]: ...


@dataclass(frozen=True)
class CosimResult:
    """RTL results beside the golden model's.

    Attributes
    ----------
    rtl
        Results read from the RTL.
    golden
        The golden model's results, same shape.
    latency
        Measured cycles per item: requant: input accepted -> output valid (per vector);
        mac: beat -> accumulator (per beat); array: tile cycles (per tile).
    """

    rtl: np.ndarray
    golden: np.ndarray
    latency: np.ndarray
    cycles: ArrayCycles | None = None

    @property
    def matches(self) -> int:
        """Number of results equal to the golden model's (array: per output element)."""
        return int(np.count_nonzero(self.rtl == self.golden))


def _arrays(vectors: Mapping[str, np.ndarray], names: tuple[str, ...], optional: tuple[str, ...] = ()
            ) -> dict[str, np.ndarray]:
    out = {}
    for name in names + optional:
        if name not in vectors:
            if name in optional:
                continue
            raise ValueError(f"missing array {name!r} (expected {', '.join(names)})")
        arr = np.asarray(vectors[name])
        if arr.dtype.kind not in "iub":
            raise ValueError(f"array {name!r}: expected an integer dtype, got {arr.dtype}")
        out[name] = arr.astype(np.int64)
    return out


def _check_range(name: str, arr: np.ndarray, lo: int, hi: int) -> None:
    if arr.size and (arr.min() < lo or arr.max() > hi):
        bad = int(np.flatnonzero((arr.ravel() < lo) | (arr.ravel() > hi))[0])
        raise ValueError(f"array {name!r}: expected values in [{lo}, {hi}], got {arr.ravel()[bad]} at index {bad}")


def _check_lengths(arrays: Mapping[str, np.ndarray], ndim: Mapping[str, int]) -> int:
    for name, arr in arrays.items():
        if arr.ndim != ndim[name]:
            raise ValueError(f"array {name!r}: expected {ndim[name]} dimension(s), got shape {arr.shape}")
    lengths = {name: len(arr) for name, arr in arrays.items()}
    if len(set(lengths.values())) != 1:
        detail = ", ".join(f"{name} has {n}" for name, n in lengths.items())
        raise ValueError(f"arrays must have equal lengths: {detail}")
    return next(iter(lengths.values()))


def _signed_range(width: int) -> tuple[int, int]:
    return -(1 << (width - 1)), (1 << (width - 1)) - 1


def _check_requant_fields(v: Mapping[str, np.ndarray], out_width: int) -> None:
    for name in ("acc", "bias", "multiplier"):
        _check_range(name, v[name], INT32_MIN, INT32_MAX)
    _check_range("shift", v["shift"], SHIFT_MIN, SHIFT_MAX)
    for name in ("out_zp", "act_min", "act_max"):
        _check_range(name, v[name], *_signed_range(out_width))
    bad = np.flatnonzero(v["act_min"] > v["act_max"])
    if bad.size:
        raise ValueError(f"arrays 'act_min'/'act_max': expected act_min <= act_max, violated at index {bad[0]}")
    total = v["acc"] + v["bias"]
    shifted = total << np.maximum(v["shift"], 0)
    bad = np.flatnonzero((shifted < INT32_MIN) | (shifted > INT32_MAX))
    if bad.size:
        raise ValueError(
            f"arrays 'acc'/'bias'/'shift': (acc + bias) * 2**max(shift, 0) leaves int32 at index {bad[0]} "
            "(outside the golden model's domain)")


def check_requant_vectors(vectors: Mapping[str, np.ndarray], out_width: int) -> dict[str, np.ndarray]:
    """Validated int64 copies of the requant arrays; ``ValueError`` (one line) on bad input."""
    v = _arrays(vectors, REQUANT_ARRAYS)
    _check_lengths(v, dict.fromkeys(REQUANT_ARRAYS, 1))
    _check_requant_fields(v, out_width)
    return v


def golden_requant(v: Mapping[str, np.ndarray]) -> np.ndarray:
    """:func:`sw.golden.fixedpoint.requantize` (double rounding) of ``acc + bias``, per output parameter set."""
    out = np.empty(len(v["acc"]), np.int64)
    keys = np.stack([v["out_zp"], v["act_min"], v["act_max"]], axis=1)
    unique, inverse = np.unique(keys, axis=0, return_inverse=True)
    for index, (zp, lo, hi) in enumerate(unique):
        sel = inverse.ravel() == index
        out[sel] = requantize(v["acc"][sel] + v["bias"][sel], v["multiplier"][sel], v["shift"][sel],
                              int(zp), int(lo), int(hi))
    return out


def _requant_payload(v: Mapping[str, np.ndarray], count: int, out_width: int) -> np.ndarray:
    return pack_fields(count, [(v["acc"], 32), (v["bias"], 32), (v["multiplier"], 32),
                               (v["shift"], SHIFT_WIDTH), (v["out_zp"], out_width),
                               (v["act_min"], out_width), (v["act_max"], out_width)])


def cosim_requant(model: Model, vectors: Mapping[str, np.ndarray], out_width: int) -> CosimResult:
    """Stream ``vectors`` back to back through a :class:`rtl.requant.RequantUnit` model."""
    v = check_requant_vectors(vectors, out_width)
    n = len(v["acc"])
    ncycles = n + REQUANT_PIPELINE_CYCLES + 2
    padded = {name: np.concatenate([arr, np.zeros(ncycles - n, np.int64)]) for name, arr in v.items()}
    valid = (np.arange(ncycles) < n).astype(np.int64)
    out = model.run({
        "i_payload": _requant_payload(padded, ncycles, out_width),
        "i_valid": pack_fields(ncycles, [(valid, 1)]),
        "o_ready": pack_fields(ncycles, [(1, 1)]),
    })
    ready = unpack_field(out["i_ready"], 0, 1, False)
    if not np.all(ready[:n]):
        raise RuntimeError(f"requant unit stalled its input at cycle {int(np.flatnonzero(ready[:n] == 0)[0])}")
    out_cycles = np.flatnonzero(unpack_field(out["o_valid"], 0, 1, False))
    if len(out_cycles) != n:
        raise RuntimeError(f"requant unit produced {len(out_cycles)} results for {n} vectors")
    q = unpack_field(out["o_payload"], 0, out_width, True)[out_cycles]
    return CosimResult(rtl=q, golden=golden_requant(v), latency=out_cycles - np.arange(n))


def _code_range(bits: int, signed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    lo = np.where(signed == 1, -(1 << (bits - 1)), 0)
    hi = np.where(signed == 1, (1 << (bits - 1)) - 1, (1 << bits) - 1)
    return lo, hi


def _check_codes(name: str, arr: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> None:
    bad = np.flatnonzero(((arr < lo) | (arr > hi)).ravel())
    if bad.size:
        raise ValueError(f"array {name!r}: value {arr.ravel()[bad[0]]} at index {bad[0]} is outside the "
                         "code range its x_signed selects")


def _digits(codes: np.ndarray, part: int, pe_bits: int) -> np.ndarray:
    """Raw ``pe_bits``-bit fields of the ``part`` digits of ``codes`` (:func:`rtl.arch.split_digit`)."""
    if part == HI:
        return (codes >> DIGIT_BITS) & ((1 << pe_bits) - 1)  # numpy >> is arithmetic on int64
    if part == LO:
        return codes & ((1 << DIGIT_BITS) - 1)
    return codes & ((1 << pe_bits) - 1)


def _expand(codes: np.ndarray, parts: Sequence[int], axis: int, pe_bits: int) -> np.ndarray:
    """Digit beats of ``codes`` along ``axis``: element ``i`` becomes beats ``i*len(parts) ..``."""
    digits = np.stack([_digits(codes, part, pe_bits) for part in parts], axis=axis + 1)
    shape = list(codes.shape)
    shape[axis] *= len(parts)
    return digits.reshape(shape)


def check_mac_vectors(vectors: Mapping[str, np.ndarray], arch: ArrayArch, w_bits: int, a_bits: int
                      ) -> dict[str, np.ndarray]:
    """Validated MAC arrays (``last`` filled with ones if absent); ``ValueError`` on bad input."""
    arch.beat_parts(w_bits, a_bits)  # the mode must be supported
    v = _arrays(vectors, MAC_ARRAYS, optional=("last",))
    n = _check_lengths(v, dict.fromkeys(v, 1))
    v.setdefault("last", np.ones(n, np.int64))
    _check_range("x_signed", v["x_signed"], 0, 1)
    _check_range("last", v["last"], 0, 1)
    _check_range("w", v["w"], *_signed_range(w_bits))
    lo, hi = _code_range(a_bits, v["x_signed"])
    _check_codes("x", v["x"], lo, hi)
    _check_codes("x_zp", v["x_zp"], lo, hi)
    if n and v["last"][-1] != 1:
        raise ValueError("array 'last': the final element must end a reduction (last[-1] == 1)")
    ends = np.flatnonzero(v["last"])
    depth = int(np.diff(np.concatenate([[-1], ends])).max()) if n else 0
    if depth > arch.max_depth:
        raise ValueError(f"array 'last': a reduction of depth {depth} exceeds max_depth={arch.max_depth}")
    return v


def golden_mac(v: Mapping[str, np.ndarray]) -> np.ndarray:
    """``sum(w * (x - x_zp))`` of each reduction (ended by ``last``), exact int64."""
    products = v["w"] * (v["x"] - v["x_zp"])
    totals = np.cumsum(products)
    ends = np.flatnonzero(v["last"])
    return np.diff(np.concatenate([[0], totals[ends]]))


def digit_beats(v: Mapping[str, np.ndarray], arch: ArrayArch, w_bits: int, a_bits: int
                ) -> tuple[np.ndarray, np.ndarray, tuple[tuple[int, int], ...]]:
    """Operand beats of validated array tiles: ``x`` (T, rows, K*passes) and ``w`` (T, K*passes, cols)
    digit fields, and the ``(w_part, x_part)`` of each element's beats (:meth:`rtl.arch.ArrayArch.beat_parts`)."""
    parts = arch.beat_parts(w_bits, a_bits)
    return (_expand(v["x"], [xp for _, xp in parts], 2, arch.pe_bits),
            _expand(v["w"], [wp for wp, _ in parts], 1, arch.pe_bits), parts)


def cosim_mac(model: Model, vectors: Mapping[str, np.ndarray], arch: ArrayArch, w_bits: int, a_bits: int
              ) -> CosimResult:
    """Drive one digit beat per cycle into a :class:`rtl.mac.MacUnit` model; read ``result`` after each last beat."""
    v = check_mac_vectors(vectors, arch, w_bits, a_bits)
    n = len(v["w"])
    parts = arch.beat_parts(w_bits, a_bits)
    x = _expand(v["x"], [xp for _, xp in parts], 0, arch.pe_bits)
    w = _expand(v["w"], [wp for wp, _ in parts], 0, arch.pe_bits)
    passes = len(parts)
    beats = n * passes
    ncycles = beats + MAC_CYCLES
    last = np.zeros(ncycles, np.int64)
    last[np.flatnonzero(v["last"]) * passes + passes - 1] = 1

    def pad(arr):
        return np.concatenate([arr, np.zeros(ncycles - len(arr), np.int64)])

    stimulus = {
        "x": pack_fields(ncycles, [(pad(x), arch.pe_bits)]),
        "x_signed": pack_fields(ncycles, [(pad(np.repeat(v["x_signed"], passes)), 1)]),
        "x_zp": pack_fields(ncycles, [(pad(np.repeat(v["x_zp"], passes)), arch.code_bits + 1)]),
        "w": pack_fields(ncycles, [(pad(w), arch.pe_bits)]),
        "valid": pack_fields(ncycles, [((np.arange(ncycles) < beats).astype(np.int64), 1)]),
        "last": pack_fields(ncycles, [(last, 1)]),
    }
    if arch.splits:
        stimulus["x_part"] = pack_fields(ncycles, [(pad(np.tile([xp for _, xp in parts], n)), 2)])
        stimulus["w_part"] = pack_fields(ncycles, [(pad(np.tile([wp for wp, _ in parts], n)), 2)])
    out = model.run(stimulus)
    ends = np.flatnonzero(last)
    result = unpack_field(out["result"], 0, arch.acc_width, True)[ends + MAC_CYCLES]
    return CosimResult(rtl=result, golden=golden_mac(v), latency=np.full(len(ends), MAC_CYCLES))


def check_array_vectors(vectors: Mapping[str, np.ndarray], arch: ArrayArch, w_bits: int, a_bits: int
                        ) -> dict[str, np.ndarray]:
    """Validated array tiles of ``w_bits`` x ``a_bits`` codes; ``ValueError`` (one line) on bad input."""
    arch.beat_parts(w_bits, a_bits)
    v = _arrays(vectors, ARRAY_ARRAYS)
    ndim = {"x": 3, "w": 3, "bias": 2, "multiplier": 2, "shift": 2}
    _check_lengths(v, {name: ndim.get(name, 1) for name in ARRAY_ARRAYS})
    t, rows, k = v["x"].shape
    if (rows, v["w"].shape[2]) != (arch.rows, arch.cols):
        raise ValueError(f"arrays 'x'/'w': tiles of {rows} x {v['w'].shape[2]} outputs do not fit a "
                         f"{arch.rows} x {arch.cols} array")
    if v["w"].shape[1] != k or not 1 <= k <= arch.max_depth:
        raise ValueError(f"arrays 'x'/'w': expected a common K in [1, {arch.max_depth}], got "
                         f"x {v['x'].shape} and w {v['w'].shape}")
    for name in ("bias", "multiplier", "shift"):
        if v[name].shape[1] != arch.cols:
            raise ValueError(f"array {name!r}: expected shape (T, {arch.cols}), got {v[name].shape}")
    _check_range("x_signed", v["x_signed"], 0, 1)
    _check_range("w", v["w"], *_signed_range(w_bits))
    lo, hi = _code_range(a_bits, v["x_signed"])
    _check_codes("x", v["x"], lo[:, None, None], hi[:, None, None])
    _check_codes("x_zp", v["x_zp"], lo, hi)
    acc = _array_acc(v)
    flat = {
        "acc": acc.reshape(t, -1), "bias": np.repeat(v["bias"][:, None, :], rows, 1).reshape(t, -1),
        "multiplier": np.repeat(v["multiplier"][:, None, :], rows, 1).reshape(t, -1),
        "shift": np.repeat(v["shift"][:, None, :], rows, 1).reshape(t, -1),
    }
    flat.update({name: np.repeat(v[name][:, None], rows * arch.cols, 1)
                 for name in ("out_zp", "act_min", "act_max")})
    _check_requant_fields({name: arr.ravel() for name, arr in flat.items()}, arch.out_width)
    return v


def _array_acc(v: Mapping[str, np.ndarray]) -> np.ndarray:
    d = v["x"] - v["x_zp"][:, None, None]
    return np.einsum("trk,tkc->trc", d, v["w"])


def golden_array(v: Mapping[str, np.ndarray]) -> np.ndarray:
    """Exact int64 GEMM per tile, + bias, requantized per column by :func:`sw.golden.fixedpoint.requantize`."""
    total = _array_acc(v) + v["bias"][:, None, :]
    return np.stack([requantize(total[t], v["multiplier"][t], v["shift"][t], int(v["out_zp"][t]),
                                int(v["act_min"][t]), int(v["act_max"][t])) for t in range(len(total))])


@dataclass(frozen=True)
class ArrayCycles:
    """Cycles of a run of tiles (cycle 0 accepts the first operand beat).

    Attributes
    ----------
    first_beat, last_beat, last_result : np.ndarray
        Per tile: the cycle accepting its first and last operand beat, and the cycle
        presenting its last requantized result.
    """

    first_beat: np.ndarray
    last_beat: np.ndarray
    last_result: np.ndarray

    @property
    def total(self) -> int:
        """Cycles from the first operand beat to the last result, inclusive."""
        return int(self.last_result[-1] - self.first_beat[0] + 1)

    @property
    def per_tile(self) -> np.ndarray:
        """Cycles between consecutive tiles' last results (the first: its own first beat to last result)."""
        return np.diff(np.concatenate([[self.first_beat[0] - 1], self.last_result]))

    def as_arrays(self) -> dict[str, np.ndarray]:
        """Arrays for an ``.npz``: ``cycles_total``, ``tile_first_beat``, ``tile_last_beat``, ``tile_last_result``,
        ``tile_cycles`` (first beat to last result of each tile) and ``tile_interval`` (per_tile)."""
        return {"cycles_total": np.array(self.total), "tile_first_beat": self.first_beat,
                "tile_last_beat": self.last_beat, "tile_last_result": self.last_result,
                "tile_cycles": self.last_result - self.first_beat + 1, "tile_interval": self.per_tile}


def _beat_offers(arch: ArrayArch, beats: Sequence[int], gaps: Sequence[Sequence[int]] | None
                 ) -> tuple[list[np.ndarray], list[int]]:
    """Per tile: the cycle each beat is first offered, and the cycle its last beat is accepted."""
    offers, ends, previous = [], [], None
    for n, k in enumerate(beats):
        gap = np.zeros(k, np.int64) if gaps is None else np.asarray(gaps[n], np.int64)
        start = 0 if previous is None else previous + 1
        times = start + np.cumsum(gap) + np.arange(k)
        end = int(times[-1]) if previous is None else max(int(times[-1]), previous + arch.min_interval)
        offers.append(times)
        ends.append(end)
        previous = end
    return offers, ends


def array_schedule(arch: ArrayArch, beats: Sequence[int], gaps: Sequence[Sequence[int]] | None = None
                   ) -> ArrayCycles:
    """When tiles of ``beats`` operand beats are accepted and finish, by :mod:`rtl.timing`.

    Beat ``b`` of a tile is offered ``gaps[tile][b]`` idle cycles (default 0) after the previous
    beat was accepted; every beat but a tile's last is accepted when offered; the last beat
    waits until ``min_interval`` cycles after the previous tile's last beat; the last result
    leaves ``array_tile_cycles(k) - k`` cycles after the last beat.
    """
    offers, ends = _beat_offers(arch, beats, gaps)
    first = [end if k == 1 else int(times[0]) for k, times, end in zip(beats, offers, ends)]
    result = [end + arch.tile_cycles(k) - k for k, end in zip(beats, ends)]
    return ArrayCycles(np.array(first), np.array(ends), np.array(result))


def cosim_array(model: Model, vectors: Mapping[str, np.ndarray], arch: ArrayArch, w_bits: int | None = None,
                a_bits: int | None = None, gaps: np.ndarray | None = None) -> CosimResult:
    """Run tiles through an array model as fast as :func:`array_schedule` allows (after ``gaps``).

    ``gaps`` (T, beats): idle input cycles before each beat (default none: back to back).
    Every beat of a tile carries the tile's parameters only on its first beat; the others
    carry the next tile's (the array must ignore them). The run checks that the array
    accepts each beat exactly in the scheduled cycle, and measures the cycles.
    """
    w_bits = arch.pe_bits if w_bits is None else w_bits
    a_bits = arch.pe_bits if a_bits is None else a_bits
    v = check_array_vectors(vectors, arch, w_bits, a_bits)
    t, rows, k = v["x"].shape
    cols, lanes, pe = arch.cols, arch.requant_lanes, arch.pe_bits
    x, w, parts = digit_beats(v, arch, w_bits, a_bits)
    beats = k * len(parts)
    if gaps is not None and (np.shape(gaps) != (t, beats) or np.min(gaps) < 0):
        raise ValueError(f"gaps: expected non-negative integers of shape ({t}, {beats}), got {np.shape(gaps)}")
    offers, ends = _beat_offers(arch, [beats] * t, gaps)
    plan = array_schedule(arch, [beats] * t, gaps)
    ncycles = int(plan.last_result[-1]) + 3
    beat_tile = np.full(ncycles, -1)
    beat_k = np.zeros(ncycles, np.int64)
    for index, (times, end) in enumerate(zip(offers, ends)):
        beat_tile[times[:-1]] = index
        beat_k[times[:-1]] = np.arange(beats - 1)
        beat_tile[times[-1]:end + 1] = index  # the last beat is offered until accepted
        beat_k[times[-1]:end + 1] = beats - 1
    planned = np.sort(np.concatenate([times[:-1] for times in offers] + [np.array(ends)]))
    valid = beat_tile >= 0
    safe = np.where(valid, beat_tile, 0)
    first_beat = valid & (beat_k == 0)  # offered until accepted (a 1-beat tile's first beat is its last)
    # Parameters are those of the beat's tile on its first beat, of the next tile otherwise.
    ptile = np.where(first_beat, safe, (safe + 1) % t)
    x_beats = x[safe, :, beat_k] * valid[:, None]
    w_beats = w[safe, beat_k, :] * valid[:, None]
    last = valid & (beat_k == beats - 1)
    fields = [(x_beats[:, r], pe) for r in range(rows)] + [(w_beats[:, c], pe) for c in range(cols)]
    if arch.splits:
        fields += [(np.array([p[1] for p in parts])[beat_k % len(parts)], 2),
                   (np.array([p[0] for p in parts])[beat_k % len(parts)], 2)]
    fields += [(last, 1), (v["x_signed"][ptile], 1), (v["x_zp"][ptile], arch.code_bits + 1)]
    fields += [(v["bias"][ptile, c], 32) for c in range(cols)]
    fields += [(v["multiplier"][ptile, c], 32) for c in range(cols)]
    fields += [(v["shift"][ptile, c], SHIFT_WIDTH) for c in range(cols)]
    fields += [(v[name][ptile], arch.out_width) for name in ("out_zp", "act_min", "act_max")]
    out = model.run({"i_payload": pack_fields(ncycles, fields), "i_valid": pack_fields(ncycles, [(valid, 1)]),
                     "o_ready": pack_fields(ncycles, [(1, 1)])})
    ready = unpack_field(out["i_ready"], 0, 1, False).astype(bool)
    accepted = np.flatnonzero(valid & ready)
    if not np.array_equal(accepted, planned):
        bad = np.flatnonzero(np.isin(planned, accepted, invert=True))
        where = planned[bad[0]] if bad.size else accepted[np.isin(accepted, planned, invert=True)][0]
        raise RuntimeError(f"array accepted operand beats off the rtl.timing schedule (first difference at "
                           f"cycle {int(where)})")
    out_cycles = np.flatnonzero(unpack_field(out["o_valid"], 0, 1, False))
    groups = cols // lanes
    per_tile = rows * groups
    if len(out_cycles) != t * per_tile:
        raise RuntimeError(f"array produced {len(out_cycles)} output beats for {t} tiles of {per_tile}")
    width = arch.out_width
    lanes_out = np.stack([unpack_field(out["o_payload"], lane * width, width, True)[out_cycles]
                          for lane in range(lanes)], axis=1)
    # Output beat n of a tile: row n % rows of column group n // rows.
    q = lanes_out.reshape(t, groups, rows, lanes).transpose(0, 2, 1, 3).reshape(t, rows, cols)
    measured = ArrayCycles(accepted[::beats], accepted[beats - 1::beats], out_cycles.reshape(t, per_tile)[:, -1])
    return CosimResult(rtl=q, golden=golden_array(v), latency=measured.last_result - measured.first_beat + 1,
                       cycles=measured)
