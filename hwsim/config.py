"""Accelerator configuration: frozen, validated, with a unit and a provenance tag per field.

Loading (presets, TOML files) is :mod:`hwsim.configfile`; the table of every field with its
provenance is :mod:`hwsim.describe`; energy pricing is :mod:`hwsim.energy`.

Provenance tags (libgemmini habit): ``[assumed]``, ``[measured]``, ``[rtl: file]``,
``[paper: ...]``, ``[peer: ...]`` and ``[derived: rule]``.

Precision modes
---------------
The PE array is :class:`rtl.arch.ArrayArch` (:attr:`HwConfig.arch`): its ``mac_passes`` rule says
how many array passes a ``w_bits`` x ``a_bits`` layer takes (int8 on int4 PEs: four nibble
passes). Widths above 8 bits are not supported on the integer array; 32-bit (float) layers run
on the vector unit's float MACs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields, replace
from functools import cached_property
from types import MappingProxyType
from typing import Any, Mapping

from rtl.arch import FLOAT_BITS, PROGRAM_WORDS, ArrayArch
from rtl.timing import REQUANT_PIPELINE_CYCLES

__all__ = ["ArrayConfig", "MemoryConfig", "VectorConfig", "EnergyConfig", "HwConfig", "CONFIG_SECTIONS",
           "TOP_FIELDS", "DATAFLOWS", "TIMINGS", "format_limit"]
DATAFLOWS = ("os", "ws")
TIMINGS = ("rtl", "scalesim")


#: Upper bounds of the numeric fields, in their units: a value above is a typo or an impossible
#: machine (and would only produce meaningless numbers), so it is rejected with the limit named.
MAX_ARRAY_DIM = 4096
MAX_DEPTH = 2**30
MAX_SRAM_BYTES = 2**40
MAX_BYTES_PER_CYCLE = float(2**40)
MAX_CYCLES = 10**6
MAX_LANES = 2**16
MAX_CLOCK_MHZ = 1e5
MAX_PJ = 1e6


def _f(unit: str, doc: str, prov: str, *, hi: float | None = None, zero_ok: bool = False) -> Any:
    return field(metadata={"unit": unit, "doc": doc, "prov": prov, "hi": hi, "zero_ok": zero_ok})


@dataclass(frozen=True)
class ArrayConfig:
    """PE array geometry, precision and dataflow."""

    rows: int = _f("PEs", "array rows; OS: output pixels of a tile, WS: reduction depth", "[assumed]",
                   hi=MAX_ARRAY_DIM)
    cols: int = _f("PEs", "array columns; output channels of a tile", "[assumed]", hi=MAX_ARRAY_DIM)
    pe_bits: int = _f("bits", "native operand width of a PE (4 or 8)", "[rtl: rtl/mac.py MacPE bits]")
    mac_modes: tuple[int, ...] = _f("bits", "supported integer MAC precision modes (int4, int8); int8 on int4 PEs "
                                    "runs as 4-bit digits, ceil(w/4)*ceil(a/4) beats per MAC", "[assumed]")
    max_depth: int = _f("K elements", "longest reduction the accumulator holds in every mode; longer K is split "
                        "and partial sums spill; must fit the 32-bit requantization input "
                        "(rtl.arch.ArrayArch rejects more)", "[rtl: rtl/arch.py]", hi=MAX_DEPTH)
    dataflow: str = _f("-", "'os' output stationary (the RTL) or 'ws' weight stationary", "[rtl: rtl/timing.py]")
    timing: str = field(default="rtl", metadata={
        "unit": "-", "doc": "OS array timing model: 'rtl' (rtl/timing.py: tiles every max(K, Dmin) cycles, drain + "
        "requantization tail) or 'scalesim' (SCALE-Sim's stall-free fold K + rows + cols - 2, folds back to back, "
        "no drain tail)", "prov": "[rtl: rtl/timing.py]", "hi": None, "zero_ok": False})


@dataclass(frozen=True)
class MemoryConfig:
    """On-chip buffers (each double buffered: a tile may use half) and the DRAM port."""

    ifmap_sram_bytes: int = _f("bytes", "input activation buffer, both halves", "[assumed]", hi=MAX_SRAM_BYTES)
    weight_sram_bytes: int = _f("bytes", "weight buffer, both halves", "[assumed]", hi=MAX_SRAM_BYTES)
    ofmap_sram_bytes: int = _f("bytes", "output/accumulator buffer, both halves", "[assumed]", hi=MAX_SRAM_BYTES)
    dram_bytes_per_cycle: float = _f("bytes/cycle", "DRAM port bandwidth (shared by loads and stores)",
                                     "[assumed]", hi=MAX_BYTES_PER_CYCLE)
    dram_latency_cycles: int = _f("cycles", "DRAM read latency (first byte after the request); "
                                  "writes are posted", "[assumed]", hi=MAX_CYCLES, zero_ok=True)
    prefetch_next_layer: bool = field(default=False, metadata={
        "unit": "-", "doc": "the next layer's first weight loads (and inputs produced before the current layer) "
        "start while the current layer drains; false = layers run in isolation, as the RTL top runs them (one "
        "program per layer), so true is refused on the RTL-timed output-stationary array", "prov": "[assumed]",
        "hi": None, "zero_ok": False})
    program_words: int = field(default=PROGRAM_WORDS, metadata={
        "unit": "instructions", "doc": "instruction memory of the RTL top (a layer's program must fit: the mapping "
        "search keeps to it on the RTL-timed output-stationary array; counted in the sweep's area)",
        "prov": "[rtl: rtl/arch.py PROGRAM_WORDS]", "hi": MAX_CYCLES, "zero_ok": False})


@dataclass(frozen=True)
class VectorConfig:
    """Vector unit for add, pooling, upsample, LUT activations and the float path."""

    lanes: int = _f("elements/cycle", "element operations per cycle", "[assumed]", hi=MAX_LANES)
    latency_cycles: int = _f("cycles", "pipeline latency of one vector tile", "[assumed]", hi=MAX_CYCLES, zero_ok=True)
    float_macs_per_cycle: int = _f("MACs/cycle", "fp32 MACs per cycle for float (32-bit) layers; "
                                   "0 = float layers unsupported", "[assumed]", hi=MAX_LANES, zero_ok=True)


@dataclass(frozen=True)
class EnergyConfig:
    """Energy table (pJ). Defaults: Horowitz ISSCC 2014, 45 nm, 0.9 V (docs/simulator.md)."""

    mac_int8_pj: float = _f("pJ/MAC", "int8 multiply (0.2) + 32-bit accumulate (0.1)",
                            "[paper: Horowitz ISSCC'14, 8b mult 0.2 + 32b add 0.1]", hi=MAX_PJ, zero_ok=True)
    mac_int4_pj: float = _f("pJ/MAC", "int4 multiply 0.2*(4/8)^2 = 0.05 + 32-bit accumulate 0.1",
                            "[derived: Horowitz ISSCC'14, multiplier ~ width^2]", hi=MAX_PJ, zero_ok=True)
    mac_float_pj: float = _f("pJ/MAC", "fp32 multiply 3.7 + fp32 add 0.9",
                             "[paper: Horowitz ISSCC'14]", hi=MAX_PJ, zero_ok=True)
    ifmap_sram_pj_per_byte: float = _f("pJ/byte", "input buffer access; 0 = from its size",
                                       "[derived: Horowitz ISSCC'14 SRAM 8KB 10pJ, 32KB 20pJ, 1MB 100pJ "
                                       "per 64b, log-log interpolation]", hi=MAX_PJ, zero_ok=True)
    weight_sram_pj_per_byte: float = _f("pJ/byte", "weight buffer access; 0 = from its size",
                                        "[derived: Horowitz ISSCC'14 SRAM size interpolation]", hi=MAX_PJ, zero_ok=True)
    ofmap_sram_pj_per_byte: float = _f("pJ/byte", "output buffer access; 0 = from its size",
                                       "[derived: Horowitz ISSCC'14 SRAM size interpolation]", hi=MAX_PJ, zero_ok=True)
    sram_write_factor: float = _f("x", "write energy / read energy", "[assumed]", hi=MAX_PJ, zero_ok=True)
    dram_pj_per_byte: float = _f("pJ/byte", "DRAM access, 1.3 nJ per 64 bits (low end of 1.3-2.6)",
                                 "[paper: Horowitz ISSCC'14]", hi=MAX_PJ, zero_ok=True)
    requant_op_pj: float = _f("pJ/output", "32x32 multiply 3.1 + bias/offset adds 2*0.1 + shifts 0.1",
                              "[derived: Horowitz ISSCC'14]", hi=MAX_PJ, zero_ok=True)
    vector_op_pj: float = _f("pJ/element op", "16-bit add/compare/LUT read", "[paper: Horowitz ISSCC'14 16b add 0.05]", hi=MAX_PJ, zero_ok=True)
    static_mw: float = _f("mW", "leakage + clock tree, charged for the whole runtime", "[assumed]", hi=MAX_PJ, zero_ok=True)


CONFIG_SECTIONS: Mapping[str, type] = MappingProxyType({
    "array": ArrayConfig, "memory": MemoryConfig, "vector": VectorConfig, "energy": EnergyConfig,
})
TOP_FIELDS = {"name": ("-", "configuration name", "[assumed]"),
              "clock_mhz": ("MHz", "core clock", "[assumed]"),
              "requant_lanes": ("outputs/cycle", "requantization units; must divide cols", "[rtl: rtl/timing.py]")}


@dataclass(frozen=True)
class HwConfig:
    """A validated accelerator configuration.

    Attributes
    ----------
    name : str
    clock_mhz : float
        Core clock, MHz.
    requant_lanes : int
        Requantization units (outputs per cycle); divides ``array.cols``.
    array, memory, vector, energy
        Sections; see their field metadata for unit and default provenance.
    provenance : Mapping[str, str]
        ``"section.field"`` -> provenance tag of the value in use.
    """

    name: str
    clock_mhz: float
    requant_lanes: int
    array: ArrayConfig
    memory: MemoryConfig
    vector: VectorConfig
    energy: EnergyConfig
    provenance: Mapping[str, str] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        _validate(self)
        object.__setattr__(self, "provenance", MappingProxyType(dict(self.provenance)))

    # -- derived, read-only ---------------------------------------------------------------
    @property
    def requant_pipeline_cycles(self) -> int:
        """Requantization pipeline depth, cycles [rtl: rtl/timing.py REQUANT_PIPELINE_CYCLES]."""
        return REQUANT_PIPELINE_CYCLES

    @property
    def peak_macs_per_cycle(self) -> int:
        """Native-precision MACs per cycle (``rows * cols``)."""
        return self.array.rows * self.array.cols

    @property
    def on_rtl_top(self) -> bool:
        """The array is the one the RTL accelerator top (``rtl/top``) builds and times: output stationary with
        the RTL timing."""
        return self.array.dataflow == "os" and self.array.timing == "rtl"

    @cached_property
    def arch(self) -> ArrayArch:
        """The PE array as the RTL describes it (:class:`rtl.arch.ArrayArch`; built once per configuration)."""
        a = self.array
        return ArrayArch(rows=a.rows, cols=a.cols, pe_bits=a.pe_bits, mac_modes=a.mac_modes,
                         max_depth=a.max_depth, requant_lanes=self.requant_lanes)

    def mac_passes(self, w_bits: int, a_bits: int, where: str = "") -> int:
        """Array passes per MAC at this precision (1 = native); ValueError if unsupported.

        32-bit (float) layers are not run on the integer array: returns 0.
        """
        if FLOAT_BITS in (w_bits, a_bits):
            if self.vector.float_macs_per_cycle <= 0:
                raise ValueError(f"{where}float layers (32-bit) need vector.float_macs_per_cycle > 0 "
                                 f"in config '{self.name}'")
            return 0
        try:
            return self.arch.mac_passes(w_bits, a_bits)
        except ValueError as exc:
            raise ValueError(f"{where}{exc} in config '{self.name}' (float 32 runs on the vector unit)") from None

    def with_dataflow(self, dataflow: str) -> HwConfig:
        """A copy with another dataflow (validated)."""
        prov = dict(self.provenance)
        prov["array.dataflow"] = "[user: --dataflow]"
        return replace(self, array=replace(self.array, dataflow=dataflow), provenance=prov)

    def with_unlimited_bandwidth(self) -> HwConfig:
        """A copy whose DRAM never stalls (huge bandwidth, zero latency); for stall-free comparisons."""
        prov = dict(self.provenance)
        prov["memory.dram_bytes_per_cycle"] = prov["memory.dram_latency_cycles"] = "[user: unlimited]"
        mem = replace(self.memory, dram_bytes_per_cycle=float(2**40), dram_latency_cycles=0)
        return replace(self, memory=mem, provenance=prov)


def format_limit(value: float) -> str:
    """A limit as people write it: ``2^40`` for large powers of two, else ``1,000,000``-style."""
    v = int(value)
    if v == value and v >= 2**20 and v & (v - 1) == 0:
        return f"2^{v.bit_length() - 1}"
    return f"{v:,}" if v == value else f"{value:g}"


def _check_number(name: str, value: Any, *, integer: bool, zero_ok: bool, hi: float | None) -> None:
    ok_type = isinstance(value, int) if integer else isinstance(value, (int, float))
    kind = "an integer" if integer else "a number"
    lo = ">= 0" if zero_ok else "> 0"
    expect = f"{kind} {lo}" + (f" and <= {format_limit(hi)}" if hi is not None else "")
    if isinstance(value, bool) or not ok_type or (not integer and not math.isfinite(value)) \
            or value < 0 or (value == 0 and not zero_ok) or (hi is not None and value > hi):
        raise ValueError(f"{name}: expected {expect}, got {value!r}")


def _validate(c: HwConfig) -> None:
    where = f"config '{c.name}': "
    if not isinstance(c.name, str) or not c.name.strip():
        raise ValueError(f"{where}name: expected a non-empty string, got {c.name!r}")
    a = c.array
    if a.pe_bits not in (4, 8):
        raise ValueError(f"{where}array.pe_bits: expected 4 or 8, got {a.pe_bits!r}")
    if not isinstance(a.mac_modes, tuple) or not a.mac_modes or any(mm not in (4, 8) for mm in a.mac_modes) \
            or min(a.mac_modes) < a.pe_bits:
        raise ValueError(f"{where}array.mac_modes: expected a non-empty subset of [4, 8], "
                         f"none narrower than pe_bits={a.pe_bits}, got {a.mac_modes!r}")
    if a.dataflow not in DATAFLOWS:
        raise ValueError(f"{where}array.dataflow: expected one of {', '.join(DATAFLOWS)}, got {a.dataflow!r}")
    if not isinstance(c.memory.prefetch_next_layer, bool):
        raise ValueError(f"{where}memory.prefetch_next_layer: expected true or false, "
                         f"got {c.memory.prefetch_next_layer!r}")
    if a.timing not in TIMINGS:
        raise ValueError(f"{where}array.timing: expected one of {', '.join(TIMINGS)}, got {a.timing!r}")
    if c.memory.prefetch_next_layer and c.on_rtl_top:
        raise ValueError(f"{where}memory.prefetch_next_layer: the RTL top (array.dataflow = 'os', array.timing = "
                         "'rtl') runs one program per layer and cannot start a layer's loads during the previous "
                         "layer's drain; set it to false")
    for section, cls in CONFIG_SECTIONS.items():
        obj = getattr(c, section)
        for f in fields(cls):
            if f.type not in ("int", "float") or f.name == "pe_bits":
                continue
            _check_number(f"{where}{section}.{f.name}", getattr(obj, f.name), integer=f.type == "int",
                          zero_ok=f.metadata["zero_ok"], hi=f.metadata["hi"])
    _check_number(f"{where}clock_mhz", c.clock_mhz, integer=False, zero_ok=False, hi=MAX_CLOCK_MHZ)
    _check_number(f"{where}requant_lanes", c.requant_lanes, integer=True, zero_ok=False, hi=a.cols)
    if a.cols % c.requant_lanes:
        raise ValueError(f"{where}requant_lanes: expected a divisor of array.cols={a.cols}, got {c.requant_lanes}")
    try:
        c.arch  # what the generated RTL executes (rtl.arch.ArrayArch): shape, modes, accumulator depth
    except ValueError as exc:
        raise ValueError(f"{where}{exc}") from None
