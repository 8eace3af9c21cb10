"""Affine quantization parameters ``real = scale * (code - zero_point)`` (Jacob et al. 2018, eq. 1).

:class:`QuantParams` describes one tensor's k-bit integer codes, per tensor or
per channel along one axis. It is immutable: its arrays are read-only copies.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sw.quant.rounding import round_half_away

__all__ = ["QuantParams", "code_range", "check_bits"]

MIN_BITS = 2
MAX_BITS = 8


def check_bits(name: str, bits: int) -> int:
    """Return ``bits`` after checking it is an integer in [2, 8]."""
    if isinstance(bits, bool) or not isinstance(bits, (int, np.integer)):
        raise ValueError(f"{name}: expected an integer bit width in [{MIN_BITS}, {MAX_BITS}], got {bits!r}")
    if not MIN_BITS <= bits <= MAX_BITS:
        raise ValueError(f"{name}: expected a bit width in [{MIN_BITS}, {MAX_BITS}], got {bits}")
    return int(bits)


def code_range(bits: int, signed: bool) -> tuple[int, int]:
    """Smallest and largest integer code of a ``bits``-wide signed or unsigned code.

    Signed codes use two's complement: [-2**(k-1), 2**(k-1) - 1]; unsigned: [0, 2**k - 1].
    """
    bits = check_bits("bits", bits)
    if signed:
        return -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    return 0, (1 << bits) - 1


def _frozen(arr: np.ndarray) -> np.ndarray:
    arr = np.array(arr, copy=True)
    arr.setflags(write=False)
    return arr


@dataclass(frozen=True)
class QuantParams:
    """Quantization of one tensor: ``real = scale * (code - zero_point)``.

    Parameters
    ----------
    bits
        Code width k in [2, 8].
    signed
        Two's-complement codes if True, unsigned otherwise.
    scale
        Step Delta between adjacent codes (real units per code), a scalar or a
        1-D array with one entry per channel along ``axis``; finite and > 0.
    zero_point
        Code that represents real 0.0 exactly; same shape as ``scale``; inside
        the code range.
    axis
        Channel axis of the tensor for per-channel parameters, None for per-tensor.
    """

    bits: int
    signed: bool
    scale: np.ndarray
    zero_point: np.ndarray
    axis: int | None = None

    def __post_init__(self) -> None:
        check_bits("bits", self.bits)
        scale = np.asarray(self.scale, dtype=np.float64)
        zp = np.asarray(self.zero_point)
        if zp.dtype.kind == "f":
            if not np.all(np.isfinite(zp)) or np.any(zp != np.round(zp)):
                raise ValueError(f"zero_point: expected integers, got {zp}")
        elif zp.dtype.kind not in "iu":
            raise ValueError(f"zero_point: expected integers, got dtype {zp.dtype}")
        zp = zp.astype(np.int64)
        if scale.ndim > 1 or zp.ndim > 1:
            raise ValueError(f"scale/zero_point: expected scalars or 1-D arrays, got shapes {scale.shape}, {zp.shape}")
        if scale.shape != zp.shape:
            raise ValueError(f"scale/zero_point: shapes must match, got {scale.shape} and {zp.shape}")
        if self.axis is None and scale.ndim != 0:
            raise ValueError(f"axis: per-channel scale of shape {scale.shape} needs an axis")
        if self.axis is not None and scale.ndim != 1:
            raise ValueError("scale: per-channel parameters (axis set) need a 1-D scale")
        if not np.all(np.isfinite(scale)) or np.any(scale <= 0):
            raise ValueError(f"scale: expected finite values > 0, got {scale}")
        qmin, qmax = code_range(self.bits, self.signed)
        if zp.size and (zp.min() < qmin or zp.max() > qmax):
            raise ValueError(
                f"zero_point: expected values in the {self.bits}-bit "
                f"{'signed' if self.signed else 'unsigned'} code range [{qmin}, {qmax}], got {zp}"
            )
        object.__setattr__(self, "bits", int(self.bits))
        object.__setattr__(self, "signed", bool(self.signed))
        object.__setattr__(self, "scale", _frozen(scale))
        object.__setattr__(self, "zero_point", _frozen(zp))

    @property
    def qmin(self) -> int:
        """Smallest code."""
        return code_range(self.bits, self.signed)[0]

    @property
    def qmax(self) -> int:
        """Largest code."""
        return code_range(self.bits, self.signed)[1]

    @property
    def per_channel(self) -> bool:
        """True if the parameters differ per channel along ``axis``."""
        return self.axis is not None

    @property
    def channels(self) -> int:
        """Number of channels (1 for per-tensor parameters)."""
        return int(self.scale.size)

    def _broadcast(self, values: np.ndarray, ndim: int) -> np.ndarray:
        """Reshape per-channel ``values`` to broadcast along ``axis`` of an ndim-D tensor."""
        if self.axis is None:
            return values
        shape = [1] * ndim
        shape[self.axis] = values.size
        return values.reshape(shape)

    def check_tensor(self, name: str, shape: tuple[int, ...]) -> None:
        """Raise ValueError if these parameters cannot describe a tensor of ``shape``."""
        if self.axis is None:
            return
        if not -len(shape) <= self.axis < len(shape):
            raise ValueError(f"{name}: axis {self.axis} out of range for shape {shape}")
        if shape[self.axis] != self.channels:
            raise ValueError(
                f"{name}: {self.channels} per-channel parameters but axis {self.axis} "
                f"of shape {shape} has {shape[self.axis]} channels"
            )

    def quantize(self, x: np.ndarray) -> np.ndarray:
        """Codes of real values: ``clamp(round(x / scale) + zero_point, qmin, qmax)``.

        Rounding is to nearest, ties away from zero (``std::round``, as TFLite's
        QUANTIZE). Returns int64. Non-finite inputs raise ValueError.
        """
        x = np.asarray(x, dtype=np.float64)
        if not np.all(np.isfinite(x)):
            raise ValueError("quantize: input contains NaN or infinity")
        self.check_tensor("quantize", x.shape)
        scale = self._broadcast(self.scale, x.ndim)
        zp = self._broadcast(self.zero_point, x.ndim)
        codes = round_half_away(x / scale)
        return np.clip(codes + zp, self.qmin, self.qmax).astype(np.int64)

    def dequantize(self, codes: np.ndarray) -> np.ndarray:
        """Real values of codes: ``scale * (codes - zero_point)`` in float64."""
        codes = np.asarray(codes)
        self.check_tensor("dequantize", codes.shape)
        scale = self._broadcast(self.scale, codes.ndim)
        zp = self._broadcast(self.zero_point, codes.ndim)
        return scale * (codes.astype(np.float64) - zp)

    @property
    def real_min(self) -> np.ndarray:
        """Real value of the smallest code (the nudged lower bound lb)."""
        return self.scale * (self.qmin - self.zero_point)

    @property
    def real_max(self) -> np.ndarray:
        """Real value of the largest code (the nudged upper bound ub)."""
        return self.scale * (self.qmax - self.zero_point)
