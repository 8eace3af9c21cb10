"""Cycle counts of the RTL designs: the one source of timing truth.

Pure Python (no Amaranth import) so the simulator's cost functions can import it.
:mod:`rtl.requant` builds its pipeline from the stage constants below and
:mod:`rtl.array` sequences a tile so that it takes exactly
:func:`array_tile_cycles`; the tests in ``tests/rtl`` measure both in the
Amaranth simulator and in Verilator and compare them with this module.

Cycle conventions
-----------------
Cycles are *array cycles*: the PE array, its skew registers and its drain move as one
pipeline with one enable, which drops only while the drain waits for the requantization
lanes (output back-pressure); without back-pressure array cycles are clock cycles.
Cycle 0 is the clock cycle in which a unit accepts its first input transfer
(``valid & ready`` high before the rising edge that ends cycle 0). A latency of
``L`` means the corresponding output is presented (``valid`` high) in cycle ``L``.
A tile of ``T`` cycles presents its last result in cycle ``T - 1``.
Provenance: every constant is ``[rtl]``: it sets the number of registers of the
stage named in ``rtl/requant.py`` / ``rtl/mac.py``, so it is what the RTL does.
"""

from __future__ import annotations

__all__ = [
    "REQUANT_BIAS_CYCLES",
    "REQUANT_LSHIFT_CYCLES",
    "REQUANT_MULTIPLY_CYCLES",
    "REQUANT_SRDHM_CYCLES",
    "REQUANT_RDBPOT_CYCLES",
    "REQUANT_OUTPUT_CYCLES",
    "REQUANT_STAGES",
    "REQUANT_PIPELINE_CYCLES",
    "MAC_CYCLES",
    "check_array_shape",
    "array_tile_cycles",
    "array_tile_interval",
    "drain_start_offset",
    "min_tile_interval",
]

#: Stage 1 [rtl]: ``acc + bias`` (int32, wraps modulo 2**32 outside the golden model's domain).
REQUANT_BIAS_CYCLES = 1
#: Stage 2 [rtl]: left shift by ``max(shift, 0)``.
REQUANT_LSHIFT_CYCLES = 1
#: Stage 3 [rtl]: 32 x 32 -> 64-bit signed product (two registers: a DSP block's M and P registers).
REQUANT_MULTIPLY_CYCLES = 2
#: Stage 4 [rtl]: SaturatingRoundingDoublingHighMul: ``(p + 2**30) >> 31``, INT32_MIN**2 saturates.
REQUANT_SRDHM_CYCLES = 1
#: Stage 5 [rtl]: RoundingDivideByPOT by ``max(-shift, 0)``, ties away from zero.
REQUANT_RDBPOT_CYCLES = 1
#: Stage 6 [rtl]: ``+ output_zero_point`` and clamp to ``[act_min, act_max]``.
REQUANT_OUTPUT_CYCLES = 1

#: Stage names and register counts of the requantization pipeline, in order.
REQUANT_STAGES: tuple[tuple[str, int], ...] = (
    ("bias", REQUANT_BIAS_CYCLES),
    ("lshift", REQUANT_LSHIFT_CYCLES),
    ("multiply", REQUANT_MULTIPLY_CYCLES),
    ("srdhm", REQUANT_SRDHM_CYCLES),
    ("rdbpot", REQUANT_RDBPOT_CYCLES),
    ("output", REQUANT_OUTPUT_CYCLES),
)

#: Latency of the requantization unit in cycles: the sum of its stages (7).
REQUANT_PIPELINE_CYCLES = sum(cycles for _, cycles in REQUANT_STAGES)

#: Latency of one MAC processing element [rtl]: operands presented in cycle t are in
#: its accumulator from cycle t + 1 (and one register per hop delays them to the next PE).
MAC_CYCLES = 1

#: Cycles of the accelerator top's controller around one layer program [rtl] (``rtl/top``):
#: 6 from ``start`` to the first DRAM request (the program memory's synchronous read, the
#: program's two SYNCs, the first LOAD's queue write and read, the DMA's command accept) and
#: 1 from the last transfer to ``done`` (END waits for idle units; ``done`` is registered).
#: Measured on every 1x1 / FC / K-split layer (tests/rtl/test_top_small_sram.py).
PROGRAM_START_CYCLES = 6
PROGRAM_END_CYCLES = 1
PROGRAM_CYCLES = PROGRAM_START_CYCLES + PROGRAM_END_CYCLES


def check_array_shape(rows: int, cols: int, requant_lanes: int | None = None) -> int:
    """Validate an array shape; return the number of requantization lanes (default ``cols``).

    Raises
    ------
    ValueError
        If ``rows`` or ``cols`` is not an integer >= 1, or ``requant_lanes`` does not divide ``cols``.
    """
    for name, value in (("rows", rows), ("cols", cols)):
        if not isinstance(value, int) or value < 1:
            raise ValueError(f"{name}: expected an integer >= 1, got {value!r}")
    lanes = cols if requant_lanes is None else requant_lanes
    if not isinstance(lanes, int) or not 1 <= lanes <= cols or cols % lanes:
        raise ValueError(
            f"requant_lanes: expected a divisor of cols={cols} in [1, {cols}], got {lanes!r}"
        )
    return lanes


def _groups(rows: int, cols: int, requant_lanes: int | None) -> tuple[int, int]:
    lanes = check_array_shape(rows, cols, requant_lanes)
    return lanes, cols // lanes


def drain_start_offset(rows: int, cols: int, requant_lanes: int | None = None) -> int:
    """Cycles from a tile's last operand beat to the drain's first read, ``S0``.

    The drain reads the shadow registers of column group ``g`` row ``r`` in cycle
    ``t_last + S0 + g*rows + r``; PE ``(r, c)`` latches its sum in cycle
    ``t_last + r + c`` (visible one cycle later), so every read finds its value iff
    ``S0 >= L + g*(L - rows)`` for every group ``g``:
    ``S0 = L + max(0, (G-1)*(L - rows))`` with ``L`` lanes and ``G = cols // L`` groups.
    """
    lanes, groups = _groups(rows, cols, requant_lanes)
    return lanes + max(0, (groups - 1) * (lanes - rows))


def min_tile_interval(rows: int, cols: int, requant_lanes: int | None = None) -> int:
    """Fewest cycles between the last operand beats of two consecutive tiles, ``Dmin``.

    Two rules (both derived in :func:`array_tile_interval`): the next tile's last beat
    overwrites PE ``(r, c)``'s shadow register in cycle ``t_last' + r + c``, which must not
    precede the drain's read of it (``t_last + S0 + g*rows + r``, worst column ``c = g*L``):
    ``Dmin >= S0 + max(0, (G-1)*(rows - L))``; and drains do not overlap:
    ``Dmin >= G * rows = rows * cols / L``.
    """
    lanes, groups = _groups(rows, cols, requant_lanes)
    s0 = drain_start_offset(rows, cols, requant_lanes)
    return max(s0 + max(0, (groups - 1) * (rows - lanes)), groups * rows)


def array_tile_interval(rows: int, cols: int, k: int, *, requant_lanes: int | None = None) -> int:
    """Cycles between the first operand beats of two back-to-back tiles of ``k`` beats each.

    Each PE keeps a running accumulator and a shadow register: a tile's last beat moves
    the finished sum into the shadow register (and clears the accumulator), so the next
    tile's beats follow without a gap and without re-paying the skew while the drain reads
    the shadow registers. The array refuses a tile's *last* beat until ``Dmin`` cycles
    (:func:`min_tile_interval`) after the previous tile's last beat, so in steady state::

        interval = max(k, Dmin)        # Dmin = rows * cols / L when rows >= L

    Parameters
    ----------
    rows, cols
        Array shape (PEs); ``rows`` output pixels by ``cols`` output channels.
    k
        Operand beats of the tile (K elements times the precision mode's passes).
    requant_lanes
        Requantization units (default ``cols``); must divide ``cols``.

    Returns
    -------
    int
        Cycles, assuming the input stream never stalls and the output is always ready.
    """
    check_array_shape(rows, cols, requant_lanes)
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"k: expected an integer >= 1, got {k!r}")
    return max(k, min_tile_interval(rows, cols, requant_lanes))


def array_tile_cycles(rows: int, cols: int, k: int, *, requant_lanes: int | None = None) -> int:
    """Cycles of one isolated output-stationary tile of ``k`` beats, first beat to last result.

    Derivation (cycle 0 accepts operand beat 0; one beat per cycle, no stalls):

    * **feed**: beat ``t`` enters in cycle ``t``; row ``r``'s operand is skewed by ``r``
      registers and column ``c``'s weight by ``c``; each PE forwards through one register,
      so PE ``(r, c)`` sees beat ``t`` in cycle ``t + r + c`` and the last beat
      (``t_last = k - 1``) moves its sum into the shadow register at the end of that cycle.
    * **drain**: from cycle ``t_last + S0`` (:func:`drain_start_offset`) the ``L``
      requantization lanes read one row of one column group per cycle, ``G * rows``
      cycles (``G = cols // L``), the last in cycle ``t_last + S0 + G*rows - 1``.
    * **requantize**: that last value leaves the pipeline ``REQUANT_PIPELINE_CYCLES`` later.

    Hence::

        T = k - 1 + S0 + G * rows + REQUANT_PIPELINE_CYCLES

    (``S0 = L`` when ``rows >= L``; e.g. 16x16 with 16 lanes: ``T = k + 38``).

    Raises
    ------
    ValueError
        If a dimension is not a positive integer or ``requant_lanes`` does not divide ``cols``.
    """
    check_array_shape(rows, cols, requant_lanes)
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"k: expected an integer >= 1, got {k!r}")
    lanes, groups = _groups(rows, cols, requant_lanes)
    return k - 1 + drain_start_offset(rows, cols, lanes) + groups * rows + REQUANT_PIPELINE_CYCLES
