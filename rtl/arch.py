"""The PE array as one description: what the RTL generator builds and the simulator charges for.

:class:`ArrayArch` holds the array's parameters (shape, PE operand width, supported
integer MAC modes, accumulator depth, requantization lanes). The simulator's
configuration (``hwsim.config.HwConfig.arch``) builds one from its ``[array]`` section,
the RTL generator elaborates one, and area estimates read one, so the three cannot
disagree about the machine. Pure Python (no Amaranth import): the simulator imports it.

Precision modes
---------------
A layer of ``w_bits`` x ``a_bits`` integer operands runs in the narrowest supported
mode ``m >= max(w_bits, a_bits)``. On PEs narrower than the mode it takes
``ceil(min(w_bits, m) / pe_bits) * ceil(min(a_bits, m) / pe_bits)`` passes (one
partial product per pass); on PEs at least as wide it takes one pass (operands are
sign-extended). 32-bit (float) layers never run on the integer array.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from rtl.timing import array_tile_cycles, array_tile_interval, check_array_shape

__all__ = ["ArrayArch", "DEFAULT_MAX_DEPTH", "PE_BITS", "FLOAT_BITS"]

#: Default accumulator depth (operand beats per reduction) of the generated PEs [rtl].
DEFAULT_MAX_DEPTH = 4608
#: PE operand widths the RTL implements.
PE_BITS = (4, 8)
#: The bit width that marks a float (non-integer) layer.
FLOAT_BITS = 32


@dataclass(frozen=True)
class ArrayArch:
    """A validated output-stationary PE array with its requantization lanes.

    Attributes
    ----------
    rows, cols : int
        Array shape, PEs (rows: output pixels of a tile; cols: output channels).
    pe_bits : int
        Native operand width of a PE, bits (4 or 8).
    mac_modes : tuple[int, ...]
        Supported integer MAC precision modes, bits (a non-empty subset of (4, 8),
        none narrower than ``pe_bits``).
    max_depth : int
        Longest reduction, operand beats, that the PE accumulator holds.
    requant_lanes : int
        Requantization units, outputs per cycle; divides ``cols``.
    """

    rows: int
    cols: int
    pe_bits: int
    mac_modes: tuple[int, ...]
    max_depth: int
    requant_lanes: int

    def __post_init__(self) -> None:
        check_array_shape(self.rows, self.cols, self.requant_lanes)
        if self.pe_bits not in PE_BITS:
            raise ValueError(f"array.pe_bits: expected 4 or 8, got {self.pe_bits!r}")
        modes = self.mac_modes
        if not modes or any(m not in PE_BITS for m in modes) or min(modes) < self.pe_bits:
            raise ValueError(f"array.mac_modes: expected a non-empty subset of [4, 8], "
                             f"none narrower than pe_bits={self.pe_bits}, got {list(modes)!r}")
        if isinstance(self.max_depth, bool) or not isinstance(self.max_depth, int) or self.max_depth < 1:
            raise ValueError(f"array.max_depth: expected an integer > 0, got {self.max_depth!r}")

    @property
    def peak_macs_per_cycle(self) -> int:
        """Native-precision MACs per cycle (``rows * cols``)."""
        return self.rows * self.cols

    def mac_mode(self, w_bits: int, a_bits: int) -> int | None:
        """The narrowest supported mode holding both operands, bits; None if there is none."""
        width = max(w_bits, a_bits)
        return min((m for m in self.mac_modes if m >= width), default=None)

    def mac_passes(self, w_bits: int, a_bits: int) -> int:
        """Array passes per MAC of a ``w_bits`` x ``a_bits`` integer layer (1 = native).

        Raises
        ------
        ValueError
            If no supported mode holds the operands (names the modes).
        """
        mode = self.mac_mode(w_bits, a_bits)
        if mode is None:
            raise ValueError(f"w{w_bits}a{a_bits} is not supported (MAC modes: "
                             f"{', '.join(f'int{m}' for m in self.mac_modes)})")
        pe = self.pe_bits
        return math.ceil(min(w_bits, mode) / pe) * math.ceil(min(a_bits, mode) / pe) if mode > pe else 1

    def tile_interval(self, k: int) -> int:
        """Cycles between back-to-back tiles of depth ``k`` beats (:func:`rtl.timing.array_tile_interval`)."""
        return array_tile_interval(self.rows, self.cols, k, requant_lanes=self.requant_lanes)

    def tile_cycles(self, k: int) -> int:
        """Cycles of one isolated tile of depth ``k`` beats (:func:`rtl.timing.array_tile_cycles`)."""
        return array_tile_cycles(self.rows, self.cols, k, requant_lanes=self.requant_lanes)
