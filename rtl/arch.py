"""The PE array as one description: what the RTL generator builds and the simulator charges for.

:class:`ArrayArch` holds the array's parameters (shape, PE operand width, supported
integer MAC modes, accumulator depth, requantization lanes) and every rule derived
from them: the beat schedule of each precision, the accumulator width, the tile
timing. The simulator's configuration (``hwsim.config.HwConfig.arch``) builds one
from its ``[array]`` section, :meth:`ArrayArch.create` elaborates the RTL from it and
:meth:`ArrayArch.compute` is its golden model, so the three cannot disagree about the
machine. Pure Python (no Amaranth import at module level): the simulator imports it.

Precision modes and digits
--------------------------
A layer of ``w_bits`` x ``a_bits`` integer operands runs in the narrowest supported
mode ``m >= max(w_bits, a_bits)``. On PEs at least as wide as the mode each K element
is one operand beat (codes sign- or zero-extended). On int4 PEs with the int8 mode
(BitFusion style) an 8-bit operand is split into two 4-bit *digits*: the high digit
(``code >> 4``, arithmetic: signed for int8, unsigned for uint8; weight: signed) and
the low digit (``code & 15``, always unsigned), so ``code = 16*hi + lo``. A K element
then takes one beat per digit pair (:meth:`ArrayArch.beat_parts`): 4 for w8a8
(hi*hi << 8, hi*lo << 4, lo*hi << 4, lo*lo), 2 for w4a8 / w8a4, i.e.
``ceil(w_bits / 4) * ceil(a_bits / 4)`` beats, which is what :meth:`mac_passes` charges.

Zero point: the array subtracts the activation zero point digit by digit at its edge,
``d = x_digit - zp_digit`` with ``zp = 16*zp_hi + zp_lo`` split like the codes.
Both digits of ``x`` and ``zp`` lie in the same range ([-8, 7] or [0, 15]), so
``|d| <= 15`` fits the PE's 5-bit signed operand, and by linearity
``x - zp = 16*(x_hi - zp_hi) + (x_lo - zp_lo)`` exactly: the four partial products sum
to ``w * (x - zp)`` with no correction term.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from rtl.timing import (
    array_tile_cycles,
    array_tile_interval,
    check_array_shape,
    drain_start_offset,
    min_tile_interval,
)

__all__ = ["ArrayArch", "DEFAULT_MAX_DEPTH", "PE_BITS", "FLOAT_BITS", "ACC_WIDTH_MAX", "NATIVE", "LO", "HI",
           "DIGIT_BITS", "split_digit", "PARAM_FIELD_BITS", "PARAM_BYTES"]

#: Default accumulator depth (K elements per reduction) of the generated PEs [rtl].
DEFAULT_MAX_DEPTH = 4608
#: PE operand widths the RTL implements.
PE_BITS = (4, 8)
#: The bit width that marks a float (non-integer) layer.
FLOAT_BITS = 32
#: Widest accumulator: the requantization unit's int32 input.
ACC_WIDTH_MAX = 32
#: Operand part codes of a beat: the whole code, its low digit, its high digit.
NATIVE, LO, HI = 0, 1, 2
#: Width of a digit of an 8-bit code on int4 PEs.
DIGIT_BITS = 4
#: Bits of one output column's requantization parameters [rtl]: bias 32, multiplier 32, shift 8 (the
#: accelerator top's parameter entry, ``rtl/top``; the simulator's DMA charges the same bytes).
PARAM_FIELD_BITS = (32, 32, 8)
#: Bytes of one output column's requantization parameters (9).
PARAM_BYTES = sum(PARAM_FIELD_BITS) // 8
#: Instruction memory depth of the accelerator top (``rtl/top``), instructions: a layer's program must fit
#: (the simulator's mapping search keeps to it on the top's array).
PROGRAM_WORDS = 4096
#: Instructions of a layer program around its tiles' own: two SYNCs and END (``rtl.top.program``).
PROGRAM_FRAME_INSTRUCTIONS = 3


def split_digit(code: int, part: int, signed: bool) -> int:
    """Value of the ``part`` digit of ``code`` (NATIVE: the code itself; HI: ``code >> 4``; LO: ``code & 15``)."""
    if part == HI:
        return code >> DIGIT_BITS  # arithmetic: keeps the sign of a signed code
    if part == LO:
        return code & ((1 << DIGIT_BITS) - 1)
    return code


def _digit_max_abs(part: int, bits: int, signed: bool) -> int:
    """Largest ``|digit|`` of a ``bits``-bit code (signed or unsigned) for ``part``."""
    if part == LO:
        return (1 << DIGIT_BITS) - 1
    width = DIGIT_BITS if part == HI else bits
    return 1 << (width - 1) if signed else (1 << width) - 1


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
        Longest reduction, K elements, that the PE accumulator holds in every mode
        (the accumulator must fit the 32-bit requantization input).
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
        if not isinstance(modes, tuple) or not modes or any(m not in PE_BITS for m in modes) \
                or min(modes) < self.pe_bits:
            raise ValueError(f"array.mac_modes: expected a non-empty subset of [4, 8], "
                             f"none narrower than pe_bits={self.pe_bits}, got {list(modes)!r}")
        if isinstance(self.max_depth, bool) or not isinstance(self.max_depth, int) or self.max_depth < 1:
            raise ValueError(f"array.max_depth: expected an integer > 0, got {self.max_depth!r}")
        need = self._acc_width(self.max_depth)
        if need > ACC_WIDTH_MAX:
            raise ValueError(
                f"array.max_depth: {self.max_depth} needs a {need}-bit accumulator "
                f"(|partial sum| <= {self.element_bound} per K element), more than the {ACC_WIDTH_MAX}-bit "
                f"requantization input; the RTL holds at most {self.depth_limit} (longer K is split)")

    # -- precision -----------------------------------------------------------------

    @property
    def splits(self) -> bool:
        """True when int8 operands run as 4-bit digits (int4 PEs with the int8 mode)."""
        return self.pe_bits == DIGIT_BITS and max(self.mac_modes) > self.pe_bits

    @property
    def code_bits(self) -> int:
        """Width of the activation/weight codes the array computes on, bits (the widest mode)."""
        return max(self.mac_modes)

    @property
    def out_width(self) -> int:
        """Output code width, bits: ``code_bits + 1`` holds both int and uint codes."""
        return self.code_bits + 1

    @property
    def peak_macs_per_cycle(self) -> int:
        """Native-precision MACs per cycle (``rows * cols``)."""
        return self.rows * self.cols

    def mac_mode(self, w_bits: int, a_bits: int) -> int | None:
        """The narrowest supported mode holding both operands, bits; None if there is none."""
        width = max(w_bits, a_bits)
        return min((m for m in self.mac_modes if m >= width), default=None)

    def beat_parts(self, w_bits: int, a_bits: int) -> tuple[tuple[int, int], ...]:
        """Operand beats of one K element: ``(w_part, x_part)`` pairs in issue order.

        Raises
        ------
        ValueError
            If no supported mode holds the operands (names the modes).
        """
        mode = self.mac_mode(w_bits, a_bits)
        if mode is None:
            raise ValueError(f"w{w_bits}a{a_bits} is not supported (MAC modes: "
                             f"{', '.join(f'int{m}' for m in self.mac_modes)})")
        if mode <= self.pe_bits:
            return ((NATIVE, NATIVE),)
        w_parts = (HI, LO) if w_bits > self.pe_bits else (NATIVE,)
        x_parts = (HI, LO) if a_bits > self.pe_bits else (NATIVE,)
        return tuple((wp, xp) for wp in w_parts for xp in x_parts)

    def mac_passes(self, w_bits: int, a_bits: int) -> int:
        """Operand beats per K element of a ``w_bits`` x ``a_bits`` layer (1 = native).

        Equals ``ceil(w_bits / pe_bits) * ceil(a_bits / pe_bits)`` on int4 PEs running
        int8 digits, and 1 otherwise. ValueError if no mode holds the operands.
        """
        return len(self.beat_parts(w_bits, a_bits))

    def supported(self) -> tuple[tuple[int, int], ...]:
        """Every ``(w_bits, a_bits)`` in {4, 8}^2 the array executes."""
        return tuple((w, a) for w in PE_BITS for a in PE_BITS if self.mac_mode(w, a) is not None)

    def stored_bits(self, bits: int) -> int:
        """Bits an operand code of ``bits`` occupies in the SRAM words (whole PE digits):
        ``pe_bits * ceil(bits / pe_bits)``, e.g. 8 for an int4 code on int8 PEs."""
        return self.pe_bits * -(-bits // self.pe_bits)

    # -- accumulator ---------------------------------------------------------------

    def _beat_bound(self, w_part: int, x_part: int) -> int:
        """Largest ``|partial product|`` of one beat on this PE, shift included.

        Weight digit: ``|w| <= 2**(pe_bits-1)`` (signed code or high digit), ``<= 15`` (low
        digit). Activation: ``d = x - zp`` with both in one code/digit range, so
        ``|d| <= 2**pe_bits - 1``. Each high digit shifts the product left by 4.
        """
        w_max = (1 << DIGIT_BITS) - 1 if w_part == LO else 1 << (self.pe_bits - 1)
        d_max = (1 << self.pe_bits) - 1
        return (w_max * d_max) << (DIGIT_BITS * ((w_part == HI) + (x_part == HI)))

    @property
    def element_bound(self) -> int:
        """Largest sum of ``|partial product|`` over the beats of one K element, any supported mode.

        Every prefix of a reduction of ``K`` elements lies in ``[-K*B, K*B]`` with this ``B``
        (the running accumulator also holds the partial sums between digit beats):
        120 for int4 PEs, 32,640 for int8 PEs, 36,465 for int4 PEs running int8 digits.
        """
        return max(sum(self._beat_bound(wp, xp) for wp, xp in self.beat_parts(w, a))
                   for w, a in self.supported())

    def _acc_width(self, depth: int) -> int:
        return (self.element_bound * depth).bit_length() + 1

    @property
    def acc_width(self) -> int:
        """Accumulator width, bits: the narrowest signed register holding ``max_depth * element_bound``."""
        return self._acc_width(self.max_depth)

    @property
    def depth_limit(self) -> int:
        """Largest ``max_depth`` whose accumulator fits ``ACC_WIDTH_MAX`` bits."""
        return ((1 << (ACC_WIDTH_MAX - 1)) - 1) // self.element_bound

    # -- timing --------------------------------------------------------------------

    @property
    def drain_start(self) -> int:
        """Cycles from a tile's last beat to its drain's first read (:func:`rtl.timing.drain_start_offset`)."""
        return drain_start_offset(self.rows, self.cols, self.requant_lanes)

    @property
    def min_interval(self) -> int:
        """Fewest cycles between two tiles' last beats (:func:`rtl.timing.min_tile_interval`)."""
        return min_tile_interval(self.rows, self.cols, self.requant_lanes)

    @property
    def param_slots(self) -> int:
        """Tiles whose requantization parameters the array holds at once (computing + waiting + draining)."""
        return math.ceil((self.drain_start + self.rows * self.cols // self.requant_lanes)
                         / self.min_interval) + 1

    def tile_interval(self, k: int) -> int:
        """Cycles between back-to-back tiles of ``k`` beats (:func:`rtl.timing.array_tile_interval`)."""
        return array_tile_interval(self.rows, self.cols, k, requant_lanes=self.requant_lanes)

    def tile_cycles(self, k: int) -> int:
        """Cycles of one isolated tile of ``k`` beats (:func:`rtl.timing.array_tile_cycles`)."""
        return array_tile_cycles(self.rows, self.cols, k, requant_lanes=self.requant_lanes)

    # -- hardware and golden model -------------------------------------------------

    def create(self):
        """The Amaranth PE array of this description (:class:`rtl.array.SystolicArray`)."""
        from rtl.array import SystolicArray  # Amaranth: imported only when hardware is built

        return SystolicArray(self)

    def compute(self, vectors):
        """Golden requantized tiles for cosim vectors (:func:`rtl.cosim.golden_array`)."""
        from rtl.cosim import golden_array

        return golden_array(vectors)

    def describe(self) -> dict:
        """JSON-ready parameters, the derived ones included."""
        return {"rows": self.rows, "cols": self.cols, "pe_bits": self.pe_bits, "mac_modes": list(self.mac_modes),
                "max_depth": self.max_depth, "requant_lanes": self.requant_lanes, "splits_int8": self.splits,
                "code_bits": self.code_bits, "out_width": self.out_width, "element_bound": self.element_bound,
                "acc_width": self.acc_width, "depth_limit": self.depth_limit, "drain_start": self.drain_start,
                "min_interval": self.min_interval, "param_slots": self.param_slots,
                "beats_per_element": {f"w{w}a{a}": self.mac_passes(w, a) for w, a in self.supported()}}
