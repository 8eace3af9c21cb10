"""Cosimulation drivers: vectors -> stimulus -> (Amaranth or Verilator) -> results + golden check.

One driver per design. Each validates user vectors (one-line ``ValueError`` on bad
input), computes the golden model's answer independently of the RTL
(:mod:`sw.golden.fixedpoint` and exact int64 numpy), builds the open-loop stimulus,
and decodes the sampled outputs, also measuring latency.

Vector arrays
-------------
``requant``: 1-D integer arrays of equal length ``acc``, ``bias``, ``multiplier``,
``shift``, ``out_zp``, ``act_min``, ``act_max``. Result ``q``.
``mac``: 1-D integer arrays of equal length ``w``, ``x``, ``x_zp``, ``x_signed``
and optionally ``first`` (default all 1: every beat is its own product; 0 adds the
beat to the running sum). Result ``acc``: the accumulator after each beat.
``array``: for ``T`` tiles, ``x`` ``(T, rows, K)`` activation codes, ``w``
``(T, K, cols)`` weight codes, ``bias``/``multiplier``/``shift`` ``(T, cols)``,
``x_zp``/``x_signed``/``out_zp``/``act_min``/``act_max`` ``(T,)``. Result ``q``
``(T, rows, cols)``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from rtl.mac import min_acc_width
from rtl.ports import pack_fields, unpack_field
from rtl.requant import SHIFT_MAX, SHIFT_MIN, SHIFT_WIDTH
from rtl.timing import MAC_CYCLES, REQUANT_PIPELINE_CYCLES, array_tile_cycles, array_tile_interval
from sw.golden.fixedpoint import INT32_MAX, INT32_MIN, multiply_by_quantized_multiplier

__all__ = [
    "Model", "CosimResult", "ArrayShape", "REQUANT_ARRAYS", "MAC_ARRAYS", "ARRAY_ARRAYS",
    "check_requant_vectors", "golden_requant", "cosim_requant",
    "check_mac_vectors", "golden_mac", "cosim_mac",
    "check_array_vectors", "golden_array", "cosim_array",
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
    """``clip(MBQM(acc + bias, multiplier, shift) + out_zp, act_min, act_max)`` (double rounding)."""
    scaled = multiply_by_quantized_multiplier(v["acc"] + v["bias"], v["multiplier"], v["shift"])
    return np.clip(scaled + v["out_zp"], v["act_min"], v["act_max"])


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


def check_mac_vectors(vectors: Mapping[str, np.ndarray], bits: int, max_depth: int) -> dict[str, np.ndarray]:
    """Validated MAC arrays (``first`` filled with ones if absent); ``ValueError`` on bad input."""
    v = _arrays(vectors, MAC_ARRAYS, optional=("first",))
    n = _check_lengths(v, dict.fromkeys(v, 1))
    v.setdefault("first", np.ones(n, np.int64))
    _check_range("x_signed", v["x_signed"], 0, 1)
    _check_range("first", v["first"], 0, 1)
    _check_range("w", v["w"], *_signed_range(bits))
    lo, hi = _code_range(bits, v["x_signed"])
    _check_codes("x", v["x"], lo, hi)
    _check_codes("x_zp", v["x_zp"], lo, hi)
    if n and v["first"][0] != 1:
        raise ValueError("array 'first': the first beat must start a reduction (first[0] == 1)")
    starts = np.flatnonzero(v["first"])
    depth = int(np.diff(np.append(starts, n)).max()) if n else 0
    if depth > max_depth:
        raise ValueError(f"array 'first': a reduction of depth {depth} exceeds max_depth={max_depth}")
    return v


def golden_mac(v: Mapping[str, np.ndarray]) -> np.ndarray:
    """Running ``sum(w * (x - x_zp))`` restarted at every ``first`` beat (exact int64)."""
    products = v["w"] * (v["x"] - v["x_zp"])
    totals = np.cumsum(products)
    segment = np.cumsum(v["first"]) - 1
    starts = np.flatnonzero(v["first"])
    before = np.concatenate([[0], totals])[starts]
    return totals - before[segment]


def cosim_mac(model: Model, vectors: Mapping[str, np.ndarray], bits: int, max_depth: int) -> CosimResult:
    """Drive one beat per cycle into a :class:`rtl.mac.MacPE` model; read ``acc`` ``MAC_CYCLES`` later."""
    v = check_mac_vectors(vectors, bits, max_depth)
    n = len(v["w"])
    ncycles = n + MAC_CYCLES
    pad = {name: np.concatenate([arr, np.zeros(MAC_CYCLES, np.int64)]) for name, arr in v.items()}
    valid = (np.arange(ncycles) < n).astype(np.int64)
    out = model.run({
        "w": pack_fields(ncycles, [(pad["w"], bits)]),
        "x": pack_fields(ncycles, [(pad["x"], bits)]),
        "x_signed": pack_fields(ncycles, [(pad["x_signed"], 1)]),
        "x_zp": pack_fields(ncycles, [(pad["x_zp"], bits + 1)]),
        "valid": pack_fields(ncycles, [(valid, 1)]),
        "first": pack_fields(ncycles, [(pad["first"], 1)]),
    })
    width = min_acc_width(bits, max_depth)
    acc = unpack_field(out["acc"], 0, width, True)[MAC_CYCLES:]
    return CosimResult(rtl=acc, golden=golden_mac(v), latency=np.full(n, MAC_CYCLES))


@dataclass(frozen=True)
class ArrayShape:
    """Shape of the array a driver talks to.

    Attributes
    ----------
    rows, cols
        PEs.
    bits
        Operand width (4 or 8).
    lanes
        Requantization lanes (a divisor of ``cols``).
    max_depth
        Largest K per tile.
    """

    rows: int
    cols: int
    bits: int
    lanes: int
    max_depth: int


def check_array_vectors(vectors: Mapping[str, np.ndarray], shape: ArrayShape) -> dict[str, np.ndarray]:
    """Validated array tiles; ``ValueError`` (one line) on bad input."""
    v = _arrays(vectors, ARRAY_ARRAYS)
    ndim = {"x": 3, "w": 3, "bias": 2, "multiplier": 2, "shift": 2}
    _check_lengths(v, {name: ndim.get(name, 1) for name in ARRAY_ARRAYS})
    t, rows, k = v["x"].shape
    if (rows, v["w"].shape[2]) != (shape.rows, shape.cols):
        raise ValueError(f"arrays 'x'/'w': tiles of {rows} x {v['w'].shape[2]} outputs do not fit a "
                         f"{shape.rows} x {shape.cols} array")
    if v["w"].shape[1] != k or not 1 <= k <= shape.max_depth:
        raise ValueError(f"arrays 'x'/'w': expected a common K in [1, {shape.max_depth}], got "
                         f"x {v['x'].shape} and w {v['w'].shape}")
    for name in ("bias", "multiplier", "shift"):
        if v[name].shape[1] != shape.cols:
            raise ValueError(f"array {name!r}: expected shape (T, {shape.cols}), got {v[name].shape}")
    _check_range("x_signed", v["x_signed"], 0, 1)
    _check_range("w", v["w"], *_signed_range(shape.bits))
    lo, hi = _code_range(shape.bits, v["x_signed"])
    _check_codes("x", v["x"], lo[:, None, None], hi[:, None, None])
    _check_codes("x_zp", v["x_zp"], lo, hi)
    acc = _array_acc(v)
    flat = {
        "acc": acc.reshape(t, -1), "bias": np.repeat(v["bias"][:, None, :], rows, 1).reshape(t, -1),
        "multiplier": np.repeat(v["multiplier"][:, None, :], rows, 1).reshape(t, -1),
        "shift": np.repeat(v["shift"][:, None, :], rows, 1).reshape(t, -1),
    }
    flat.update({name: np.repeat(v[name][:, None], rows * shape.cols, 1)
                 for name in ("out_zp", "act_min", "act_max")})
    _check_requant_fields({name: arr.ravel() for name, arr in flat.items()}, shape.bits + 1)
    return v


def _array_acc(v: Mapping[str, np.ndarray]) -> np.ndarray:
    d = v["x"] - v["x_zp"][:, None, None]
    return np.einsum("trk,tkc->trc", d, v["w"])


def golden_array(v: Mapping[str, np.ndarray]) -> np.ndarray:
    """Exact int64 GEMM per tile, + bias, requantized per column with double rounding."""
    total = _array_acc(v) + v["bias"][:, None, :]
    scaled = multiply_by_quantized_multiplier(total, v["multiplier"][:, None, :], v["shift"][:, None, :])
    lo, hi = v["act_min"][:, None, None], v["act_max"][:, None, None]
    return np.clip(scaled + v["out_zp"][:, None, None], lo, hi)


def cosim_array(model: Model, vectors: Mapping[str, np.ndarray], shape: ArrayShape) -> CosimResult:
    """Run tiles back to back (each at :func:`rtl.timing.array_tile_interval`) through an array model."""
    v = check_array_vectors(vectors, shape)
    t, rows, k = v["x"].shape
    cols, lanes, bits = shape.cols, shape.lanes, shape.bits
    interval = array_tile_interval(rows, cols, k, requant_lanes=lanes)
    tile = array_tile_cycles(rows, cols, k, requant_lanes=lanes)
    ncycles = (t - 1) * interval + tile + 2
    starts = np.arange(t) * interval
    beat_tile = np.full(ncycles, -1)
    beat_k = np.zeros(ncycles, np.int64)
    for index, start in enumerate(starts):
        beat_tile[start:start + k] = index
        beat_k[start:start + k] = np.arange(k)
    # Layer parameters switch at each tile's first beat and hold until the next.
    cfg_tile = np.clip(np.searchsorted(starts, np.arange(ncycles), side="right") - 1, 0, t - 1)
    valid = beat_tile >= 0
    safe_tile = np.where(valid, beat_tile, 0)
    x_beats = v["x"][safe_tile, :, beat_k] * valid[:, None]
    w_beats = v["w"][safe_tile, beat_k, :] * valid[:, None]
    last = valid & (beat_k == k - 1)
    stimulus = {
        "i_payload": pack_fields(ncycles, [(x_beats[:, r], bits) for r in range(rows)]
                                 + [(w_beats[:, c], bits) for c in range(cols)] + [(last, 1)]),
        "i_valid": pack_fields(ncycles, [(valid, 1)]),
        "o_ready": pack_fields(ncycles, [(1, 1)]),
        "x_signed": pack_fields(ncycles, [(v["x_signed"][cfg_tile], 1)]),
        "x_zp": pack_fields(ncycles, [(v["x_zp"][cfg_tile], bits + 1)]),
        "bias": pack_fields(ncycles, [(v["bias"][cfg_tile, c], 32) for c in range(cols)]),
        "multiplier": pack_fields(ncycles, [(v["multiplier"][cfg_tile, c], 32) for c in range(cols)]),
        "shift": pack_fields(ncycles, [(v["shift"][cfg_tile, c], SHIFT_WIDTH) for c in range(cols)]),
        "out_zp": pack_fields(ncycles, [(v["out_zp"][cfg_tile], bits + 1)]),
        "act_min": pack_fields(ncycles, [(v["act_min"][cfg_tile], bits + 1)]),
        "act_max": pack_fields(ncycles, [(v["act_max"][cfg_tile], bits + 1)]),
    }
    out = model.run(stimulus)
    ready = unpack_field(out["i_ready"], 0, 1, False)
    if not np.all(ready[valid]):
        raise RuntimeError(f"array refused an operand beat at cycle {int(np.flatnonzero(valid & (ready == 0))[0])}")
    out_cycles = np.flatnonzero(unpack_field(out["o_valid"], 0, 1, False))
    groups = cols // lanes
    per_tile = rows * groups
    if len(out_cycles) != t * per_tile:
        raise RuntimeError(f"array produced {len(out_cycles)} output beats for {t} tiles of {per_tile}")
    width = bits + 1
    lanes_out = np.stack([unpack_field(out["o_payload"], lane * width, width, True)[out_cycles]
                          for lane in range(lanes)], axis=1)
    # Output beat n of a tile: row n % rows of column group n // rows.
    q = lanes_out.reshape(t, groups, rows, lanes).transpose(0, 2, 1, 3).reshape(t, rows, cols)
    last_out = out_cycles.reshape(t, per_tile)[:, -1]
    return CosimResult(rtl=q, golden=golden_array(v), latency=last_out - starts + 1)
