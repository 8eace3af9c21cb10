"""Area estimate of a configuration from cell counts measured on the RTL.

Model (units: generic Yosys cells and SRAM bits; docs/sweep.md)::

    logic_cells = rows * cols * mac_cells[pe_bits] + requant_lanes * requant_cells[max(mac_modes) + 1]
                  + control_cells (on the RTL top only)
    sram_bits   = bits of the RAMs (below)
    area_cells  = logic_cells + SRAM_BIT_CELLS * sram_bits

``control_cells``: the RTL top's logic outside its PEs and requantization units (controller, DMA
engine, compute unit, the array's operand skew and drain), a least-squares fit
(:class:`ControlModel`) to the top synthesised with the PEs and requantization units as black boxes
at several array shapes (:func:`hwsim.app.area_measure.measure_control_point`).

RAMs: ``rams`` as the caller gives them, by default the three SRAMs, ``8 * (ifmap_sram_bytes +
weight_sram_bytes + ofmap_sram_bytes)``; the sweep passes the RTL top's own RAMs where the
configuration describes a top that can be built (:func:`hwsim.app.rtltop.ram_bits`: input, weight,
parameter, output and program memories, the sizes its generated Verilog declares). The top's
controller, DMA engine and compute unit are counted by ``control_cells`` when the caller says the
configuration builds the top (``top=True``).

``mac_cells`` and ``requant_cells`` are measured by generic gate synthesis (``synth -flatten``,
:func:`rtl.export.yosys_cell_counts`) of ``rtl/mac.py`` ``MacPE`` (with its shadow register; the
int4 PE with the int8 digit mode, as the presets use it) and ``rtl/requant.py`` and stored in
``hwsim/data/rtl_area.json``; regenerate with ``python -m hwsim.app.area_measure --regenerate``.
The MAC is measured at one accumulator depth (``max_depth``); a configuration with another
``array.max_depth`` has no area estimate (``None``) rather than a guessed one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from types import MappingProxyType
from typing import Mapping

import numpy as np

from hwsim.config import HwConfig

__all__ = ["AreaTable", "AreaEstimate", "ControlModel", "ControlPoint", "CONTROL_FEATURES", "SRAM_BIT_CELLS",
           "load_area_table", "estimate_area", "sram_bits", "control_features", "fit_control"]

#: Area of one SRAM bit in generic-cell equivalents [assumed]: a 45 nm 6T bit cell of 0.346 um^2
#: (Intel 45 nm, Mistry et al., IEDM 2007) at ~70 % array efficiency (decoders, sense amplifiers)
#: is ~0.5 um^2, against ~2 um^2 for an average generic cell (Nangate 45 nm open cell library:
#: NAND2_X1 0.80 um^2 ... DFF_X1 4.52 um^2; the measured MAC is about one third flip-flops).
SRAM_BIT_CELLS = 0.25

#: MAC modes the PE of each width is synthesised with: the presets' (int4 PEs with int8 digits).
MEASURED_MAC_MODES = MappingProxyType({4: (4, 8), 8: (8,)})

#: Features of the control-logic fit, ``cells ~ sum(coefficient * feature)``: a constant (controller,
#: DMA, program sequencing), one term per array row and per column (operand skew; the weight and 72-bit
#: parameter paths of a column) and one per PE (the array's drain path). The requantization lanes, the
#: bus width and the buffer capacities change the count by under 3 %, the PE width by 2-5 %
#: (docs/sweep.md), so they are not features.
CONTROL_FEATURES = ("1", "rows", "cols", "rows*cols")


def control_features(rows: int, cols: int) -> tuple[float, ...]:
    """The :data:`CONTROL_FEATURES` of an array of ``rows`` x ``cols`` PEs."""
    return (1.0, float(rows), float(cols), float(rows * cols))


@dataclass(frozen=True)
class ControlPoint:
    """One synthesis of the RTL top with its PEs and requantization units as black boxes.

    Attributes
    ----------
    rows, cols, pe_bits, requant_lanes, bus_bytes : int
        The array (PEs of ``pe_bits`` bits with :data:`MEASURED_MAC_MODES`), its lanes and the DRAM bus, bytes.
    cells : int
        Generic Yosys cells outside the black boxes and memories.
    """

    rows: int
    cols: int
    pe_bits: int
    requant_lanes: int
    bus_bytes: int
    cells: int


@dataclass(frozen=True)
class ControlModel:
    """Least-squares fit of the top's control cells to :data:`CONTROL_FEATURES` over measured points.

    Attributes
    ----------
    coefficients : tuple[float, ...]
        Cells per unit of each feature, in :data:`CONTROL_FEATURES` order.
    points : tuple[ControlPoint, ...]
        The measurements the coefficients are fitted to.
    """

    coefficients: tuple[float, ...]
    points: tuple[ControlPoint, ...]

    def cells(self, rows: int, cols: int) -> int:
        """Predicted control cells of the top of an array of ``rows`` x ``cols`` PEs, rounded."""
        return int(round(float(np.dot(self.coefficients, control_features(rows, cols)))))


def fit_control(points: tuple[ControlPoint, ...]) -> ControlModel:
    """Least-squares :class:`ControlModel` of ``points`` (at least as many as features, else ValueError)."""
    if len(points) < len(CONTROL_FEATURES):
        raise ValueError(f"control fit: expected at least {len(CONTROL_FEATURES)} points, got {len(points)}")
    a = np.array([control_features(p.rows, p.cols) for p in points])
    b = np.array([p.cells for p in points], dtype=float)
    coefficients = np.linalg.lstsq(a, b, rcond=None)[0]
    return ControlModel(coefficients=tuple(round(float(c), 3) for c in coefficients), points=tuple(points))


@dataclass(frozen=True)
class AreaTable:
    """Measured cell counts (generic Yosys cells after ``synth -flatten``).

    Attributes
    ----------
    max_depth : int
        Reduction depth the MAC PE was elaborated for (sets its accumulator width), operand beats.
    mac_cells : Mapping[int, int]
        PE operand width (bits) -> cells of one ``rtl.mac.MacPE``.
    requant_cells : Mapping[int, int]
        Output code width (bits) -> cells of one ``rtl.requant.RequantUnit``.
    control : ControlModel
        The RTL top's control logic (module docstring).
    tools : Mapping[str, str]
        Package -> version of the tools that produced the counts (provenance).
    """

    max_depth: int
    mac_cells: Mapping[int, int]
    requant_cells: Mapping[int, int]
    control: ControlModel
    tools: Mapping[str, str]

    def to_dict(self) -> dict:
        """JSON-ready form (integer keys as strings)."""
        return {"max_depth": self.max_depth,
                "mac_cells": {str(k): v for k, v in sorted(self.mac_cells.items())},
                "requant_cells": {str(k): v for k, v in sorted(self.requant_cells.items())},
                "control": {"features": list(CONTROL_FEATURES), "coefficients": list(self.control.coefficients),
                            "points": [vars(p) for p in self.control.points]},
                "tools": dict(sorted(self.tools.items())),
                "regenerate": "python -m hwsim.app.area_measure --regenerate"}

    @classmethod
    def from_dict(cls, data: dict) -> AreaTable:
        """Inverse of :meth:`to_dict`."""
        control = data["control"]
        if tuple(control["features"]) != CONTROL_FEATURES:
            raise ValueError(f"rtl_area.json control.features: expected {list(CONTROL_FEATURES)}, "
                             f"got {control['features']}")
        return cls(max_depth=int(data["max_depth"]),
                   mac_cells=MappingProxyType({int(k): int(v) for k, v in data["mac_cells"].items()}),
                   requant_cells=MappingProxyType({int(k): int(v) for k, v in data["requant_cells"].items()}),
                   control=ControlModel(coefficients=tuple(float(c) for c in control["coefficients"]),
                                        points=tuple(ControlPoint(**p) for p in control["points"])),
                   tools=MappingProxyType(dict(data["tools"])))


@dataclass(frozen=True)
class AreaEstimate:
    """Area of one configuration.

    Attributes
    ----------
    logic_cells : int
        PE array plus requantization units plus ``control_cells``, generic Yosys cells.
    sram_bits : int
        Capacity of the RAMs (module docstring), bits.
    memories : tuple[tuple[str, int], ...]
        ``(name, bits)`` of each RAM counted in ``sram_bits``.
    area_cells : float
        ``logic_cells + SRAM_BIT_CELLS * sram_bits``, generic-cell equivalents.
    control_cells : int
        The RTL top's control logic (:class:`ControlModel`) in ``logic_cells``; 0 when not counted.
    """

    logic_cells: int
    sram_bits: int
    area_cells: float
    memories: tuple[tuple[str, int], ...] = ()
    control_cells: int = 0


def load_area_table() -> AreaTable:
    """The curated measurements shipped in ``hwsim/data/rtl_area.json``."""
    text = resources.files("hwsim.data").joinpath("rtl_area.json").read_text(encoding="utf-8")
    return AreaTable.from_dict(json.loads(text))


def estimate_area(cfg: HwConfig, table: AreaTable, rams: tuple[tuple[str, int], ...] | None = None, *,
                  top: bool = False) -> AreaEstimate | None:
    """Area of ``cfg`` by the model in the module docstring (``rams``: ``(name, bits)`` of its RAMs, default
    :func:`sram_bits`; ``top``: ``cfg`` builds the RTL top, whose control logic is counted); ``None`` if a
    count is not measured.

    ``None`` when ``cfg.array.max_depth`` differs from ``table.max_depth`` (another accumulator
    width), its PE has other MAC modes than the measured one (:data:`MEASURED_MAC_MODES`) or a
    width has no measured count.
    """
    a = cfg.array
    out_width = max(a.mac_modes) + 1
    if a.max_depth != table.max_depth or a.pe_bits not in table.mac_cells or out_width not in table.requant_cells \
            or tuple(a.mac_modes) != MEASURED_MAC_MODES.get(a.pe_bits):
        return None
    control = table.control.cells(a.rows, a.cols) if top else 0
    logic = a.rows * a.cols * table.mac_cells[a.pe_bits] + cfg.requant_lanes * table.requant_cells[out_width] + control
    rams = sram_bits(cfg) if rams is None else rams
    bits = sum(b for _, b in rams)
    return AreaEstimate(logic_cells=logic, sram_bits=bits, area_cells=logic + SRAM_BIT_CELLS * bits, memories=rams,
                        control_cells=control)


def sram_bits(cfg: HwConfig) -> tuple[tuple[str, int], ...]:
    """``(name, bits)`` of ``cfg``'s three SRAMs."""
    m = cfg.memory
    return (("ifmap", 8 * m.ifmap_sram_bytes), ("weight", 8 * m.weight_sram_bytes), ("ofmap", 8 * m.ofmap_sram_bytes))
