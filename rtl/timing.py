"""Cycle counts of the RTL designs: the one source of timing truth.

Pure Python (no Amaranth import) so the simulator's cost functions can import it.
:mod:`rtl.requant` builds its pipeline from the stage constants below and
:mod:`rtl.array` sequences a tile so that it takes exactly
:func:`array_tile_cycles`; the tests in ``tests/rtl`` measure both in the
Amaranth simulator and in Verilator and compare them with this module.

Cycle conventions
-----------------
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
#: its accumulator (and forwarded to its neighbours) from cycle t + 1.
MAC_CYCLES = 1


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


def array_tile_interval(rows: int, cols: int, k: int, *, requant_lanes: int | None = None) -> int:
    """Cycles between the first input transfers of two back-to-back tiles.

    The array accepts the next tile's first operand beat once it has handed the
    previous tile's last accumulator to the requantization units, so the
    requantization latency overlaps the next tile:
    ``k - 1 + (rows - 1) + (cols - 1) + MAC_CYCLES + rows * (cols // requant_lanes)``
    (the drain start ``D`` plus the drain, see :func:`array_tile_cycles`).

    Parameters
    ----------
    rows, cols
        Array shape (PEs); ``rows`` output pixels by ``cols`` output channels.
    k
        Reduction depth of the tile (operand beats).
    requant_lanes
        Requantization units (default ``cols``); must divide ``cols``.

    Returns
    -------
    int
        Cycles, assuming the input stream never stalls and the output is always ready.
    """
    lanes = check_array_shape(rows, cols, requant_lanes)
    if not isinstance(k, int) or k < 1:
        raise ValueError(f"k: expected an integer >= 1, got {k!r}")
    return k - 1 + (rows - 1) + (cols - 1) + MAC_CYCLES + rows * (cols // lanes)


def array_tile_cycles(rows: int, cols: int, k: int, *, requant_lanes: int | None = None) -> int:
    """Cycles for one output-stationary ``rows x cols`` tile of reduction depth ``k``.

    Derivation (cycle 0 accepts operand beat 0; one beat per cycle, no stalls):

    * **feed**: beat ``t`` (``t = 0 .. k-1``) enters in cycle ``t``. Row ``i``'s
      activations are skewed by ``i`` registers and column ``j``'s weights by ``j``;
      each PE forwards its operands to its right/lower neighbour through one
      register, so PE ``(i, j)`` sees beat ``t`` in cycle ``t + i + j``.
    * **fill + compute**: the last PE ``(rows-1, cols-1)`` accumulates beat ``k-1``
      in cycle ``k - 1 + (rows-1) + (cols-1)``; after ``MAC_CYCLES`` every
      accumulator holds its final value, in cycle
      ``D = k - 1 + (rows - 1) + (cols - 1) + MAC_CYCLES``.
    * **drain**: from cycle ``D`` the array hands ``requant_lanes`` accumulators per
      cycle to the requantization units: ``cols // requant_lanes`` column groups, each
      row by row, ``rows * (cols // requant_lanes)`` cycles, the last in cycle
      ``D + rows * (cols // requant_lanes) - 1``.
    * **requantize**: that last accumulator leaves the pipeline
      ``REQUANT_PIPELINE_CYCLES`` later.

    Hence the last result is presented in cycle
    ``D + rows * (cols // requant_lanes) - 1 + REQUANT_PIPELINE_CYCLES`` and the tile
    takes one cycle more::

        T = k - 1 + (rows - 1) + (cols - 1) + MAC_CYCLES
              + rows * (cols // requant_lanes) + REQUANT_PIPELINE_CYCLES

    (with the current constants ``T = k + rows + cols + rows * cols // requant_lanes + 5``).
    The ``k + rows + cols - 2`` fill/compute part is SCALE-Sim's output-stationary
    fold without its drain.

    Parameters
    ----------
    rows, cols
        Array shape (PEs); ``rows`` output pixels by ``cols`` output channels.
    k
        Reduction depth of the tile (operand beats), at most the array's ``max_depth``.
    requant_lanes
        Requantization units (default ``cols``); must divide ``cols``.

    Returns
    -------
    int
        Cycles from the first operand beat to the last requantized result, inclusive.

    Raises
    ------
    ValueError
        If a dimension is not a positive integer or ``requant_lanes`` does not divide ``cols``.
    """
    interval = array_tile_interval(rows, cols, k, requant_lanes=requant_lanes)
    return interval + REQUANT_PIPELINE_CYCLES
