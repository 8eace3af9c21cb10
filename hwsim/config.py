"""Accelerator configuration: frozen, validated, with a unit and a provenance tag per field.

A configuration is read from a named preset (``hwsim/presets/<name>.toml``, shipped
inside the package) or from a user TOML file. A user file may start from a preset
(``preset = "edge16_int4"``) and override single fields; every field it sets gets the
provenance ``[user: <file>]`` unless its ``[provenance]`` table says otherwise.

Provenance tags (libgemmini habit): ``[assumed]``, ``[measured]``, ``[rtl: file]``,
``[paper: ...]``, ``[peer: ...]`` and ``[derived: rule]``.

int8 on int4 PEs
----------------
A PE array with ``pe_bits = 4`` runs an int8 x int8 MAC as four int4 x int4 partial
products (hi*hi << 8, hi*lo << 4, lo*hi << 4, lo*lo) accumulated in the same
accumulator over four operand beats, so int8 layers run at 1/4 of the int4 throughput
and cost four int4 MACs of energy. Mixed w4a8/w8a4 needs two passes. In general a
layer needs ``ceil(w_bits / pe_bits) * ceil(a_bits / pe_bits)`` passes
(:meth:`HwConfig.mac_passes`). An int8 PE (``pe_bits = 8``) runs int4 operands
sign-extended at int8 speed and int8 energy. Widths above 8 bits are not supported
on the integer array; 32-bit (float) layers run on the vector unit's float MACs.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass, field, fields, replace
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any, Mapping

from rtl.arch import FLOAT_BITS, ArrayArch
from rtl.timing import MAC_CYCLES, REQUANT_PIPELINE_CYCLES

__all__ = ["ArrayConfig", "MemoryConfig", "VectorConfig", "EnergyConfig", "HwConfig",
           "PRESETS", "DEFAULT_PRESET", "load_config", "load_preset", "preset_names", "config_from_dict",
           "sram_pj_per_byte"]

DEFAULT_PRESET = "edge16_int4"
DATAFLOWS = ("os", "ws")


def _f(unit: str, doc: str, prov: str, **kw: Any) -> Any:
    return field(metadata={"unit": unit, "doc": doc, "prov": prov}, **kw)


@dataclass(frozen=True)
class ArrayConfig:
    """PE array geometry, precision and dataflow."""

    rows: int = _f("PEs", "array rows; OS: output pixels of a tile, WS: reduction depth", "[assumed]")
    cols: int = _f("PEs", "array columns; output channels of a tile", "[assumed]")
    pe_bits: int = _f("bits", "native operand width of a PE (4 or 8)", "[rtl: rtl/mac.py MacPE bits]")
    mac_modes: tuple[int, ...] = _f("bits", "supported integer MAC precision modes (int4, int8); "
                                    "wider modes on narrower PEs take multiple passes", "[assumed]")
    max_depth: int = _f("operand beats", "longest reduction the PE accumulator holds; longer K is split "
                        "and partial sums spill to the accumulator buffer", "[rtl: rtl/mac.py MacPE max_depth]")
    dataflow: str = _f("-", "'os' output stationary (the RTL) or 'ws' weight stationary", "[rtl: rtl/timing.py]")


@dataclass(frozen=True)
class MemoryConfig:
    """On-chip buffers (each double buffered: a tile may use half) and the DRAM port."""

    ifmap_sram_bytes: int = _f("bytes", "input activation buffer, both halves", "[assumed]")
    weight_sram_bytes: int = _f("bytes", "weight buffer, both halves", "[assumed]")
    ofmap_sram_bytes: int = _f("bytes", "output/accumulator buffer, both halves", "[assumed]")
    sram_word_bytes: int = _f("bytes", "SRAM word width; accesses round up to whole words", "[assumed]")
    dram_bytes_per_cycle: float = _f("bytes/cycle", "DRAM port bandwidth (shared by loads and stores)",
                                     "[assumed]")
    dram_latency_cycles: int = _f("cycles", "DRAM read latency (first byte after the request); "
                                  "writes are posted", "[assumed]")


@dataclass(frozen=True)
class VectorConfig:
    """Vector unit for add, pooling, upsample, LUT activations and the float path."""

    lanes: int = _f("elements/cycle", "element operations per cycle", "[assumed]")
    latency_cycles: int = _f("cycles", "pipeline latency of one vector tile", "[assumed]")
    float_macs_per_cycle: int = _f("MACs/cycle", "fp32 MACs per cycle for float (32-bit) layers; "
                                   "0 = float layers unsupported", "[assumed]")


@dataclass(frozen=True)
class EnergyConfig:
    """Energy table (pJ). Defaults: Horowitz ISSCC 2014, 45 nm, 0.9 V (docs/simulator.md)."""

    mac_int8_pj: float = _f("pJ/MAC", "int8 multiply (0.2) + 32-bit accumulate (0.1)",
                            "[paper: Horowitz ISSCC'14, 8b mult 0.2 + 32b add 0.1]")
    mac_int4_pj: float = _f("pJ/MAC", "int4 multiply 0.2*(4/8)^2 = 0.05 + 32-bit accumulate 0.1",
                            "[derived: Horowitz ISSCC'14, multiplier ~ width^2]")
    mac_float_pj: float = _f("pJ/MAC", "fp32 multiply 3.7 + fp32 add 0.9",
                             "[paper: Horowitz ISSCC'14]")
    ifmap_sram_pj_per_byte: float = _f("pJ/byte", "input buffer access; 0 = from its size",
                                       "[derived: Horowitz ISSCC'14 SRAM 8KB 10pJ, 32KB 20pJ, 1MB 100pJ "
                                       "per 64b, log-log interpolation]")
    weight_sram_pj_per_byte: float = _f("pJ/byte", "weight buffer access; 0 = from its size",
                                        "[derived: Horowitz ISSCC'14 SRAM size interpolation]")
    ofmap_sram_pj_per_byte: float = _f("pJ/byte", "output buffer access; 0 = from its size",
                                       "[derived: Horowitz ISSCC'14 SRAM size interpolation]")
    sram_write_factor: float = _f("x", "write energy / read energy", "[assumed]")
    dram_pj_per_byte: float = _f("pJ/byte", "DRAM access, 1.3 nJ per 64 bits (low end of 1.3-2.6)",
                                 "[paper: Horowitz ISSCC'14]")
    requant_op_pj: float = _f("pJ/output", "32x32 multiply 3.1 + bias/offset adds 2*0.1 + shifts 0.1",
                              "[derived: Horowitz ISSCC'14]")
    vector_op_pj: float = _f("pJ/element op", "16-bit add/compare/LUT read", "[paper: Horowitz ISSCC'14 16b add 0.05]")
    static_mw: float = _f("mW", "leakage + clock tree, charged for the whole runtime", "[assumed]")


_SECTIONS: Mapping[str, type] = MappingProxyType({
    "array": ArrayConfig, "memory": MemoryConfig, "vector": VectorConfig, "energy": EnergyConfig,
})
_TOP = {"name": ("-", "configuration name", "[assumed]"),
        "clock_mhz": ("MHz", "core clock", "[assumed]"),
        "requant_lanes": ("outputs/cycle", "requantization units; must divide cols", "[rtl: rtl/timing.py]")}


def sram_pj_per_byte(size_bytes: int) -> float:
    """Read energy per byte of an SRAM of ``size_bytes`` (Horowitz ISSCC'14, 45 nm).

    Log-log interpolation (and extrapolation) through 8 KB -> 10 pJ, 32 KB -> 20 pJ,
    1 MB -> 100 pJ per 64-bit read, divided by 8 bytes.
    """
    points = ((8 * 1024, 10.0), (32 * 1024, 20.0), (1024 * 1024, 100.0))
    x = math.log(max(size_bytes, 1))
    (x0, y0), (x1, y1) = (points[0], points[1]) if size_bytes <= points[1][0] else (points[1], points[2])
    lx0, lx1 = math.log(x0), math.log(x1)
    ly = math.log(y0) + (math.log(y1) - math.log(y0)) * (x - lx0) / (lx1 - lx0)
    return math.exp(ly) / 8.0


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
    def mac_cycles(self) -> int:
        """PE latency, cycles [rtl: rtl/timing.py MAC_CYCLES]."""
        return MAC_CYCLES

    @property
    def peak_macs_per_cycle(self) -> int:
        """Native-precision MACs per cycle (``rows * cols``)."""
        return self.array.rows * self.array.cols

    @property
    def arch(self) -> ArrayArch:
        """The PE array as the RTL describes it (:class:`rtl.arch.ArrayArch`)."""
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

    def mac_pj(self, w_bits: int, a_bits: int) -> float:
        """Energy of one layer MAC at this precision, pJ (passes x native PE MAC energy)."""
        if 32 in (w_bits, a_bits):
            return self.energy.mac_float_pj
        native = self.energy.mac_int4_pj if self.array.pe_bits == 4 else self.energy.mac_int8_pj
        return native * self.mac_passes(w_bits, a_bits)

    def sram_pj(self, buffer: str) -> float:
        """Read energy per byte of ``buffer`` ('ifmap', 'weight', 'ofmap'), pJ."""
        value = getattr(self.energy, f"{buffer}_sram_pj_per_byte")
        return value if value > 0 else sram_pj_per_byte(getattr(self.memory, f"{buffer}_sram_bytes"))

    def describe(self) -> list[tuple[str, str, str, str]]:
        """``(field, value, unit, provenance)`` rows of every field, incl. derived ones."""
        rows = []
        for key, (unit, _doc, _prov) in _TOP.items():
            rows.append((key, str(getattr(self, key)), unit, self.provenance.get(key, _prov)))
        for section, cls in _SECTIONS.items():
            obj = getattr(self, section)
            for f in fields(cls):
                value = getattr(obj, f.name)
                prov = self.provenance.get(f"{section}.{f.name}", f.metadata["prov"])
                shown = value
                if section == "energy" and f.name.endswith("_sram_pj_per_byte") and value <= 0:
                    shown = f"{self.sram_pj(f.name.split('_')[0]):.3f} (from size)"
                rows.append((f"{section}.{f.name}", str(shown), f.metadata["unit"], prov))
        rows.append(("requant_pipeline_cycles", str(self.requant_pipeline_cycles), "cycles",
                     "[rtl: rtl/timing.py REQUANT_PIPELINE_CYCLES]"))
        rows.append(("mac_cycles", str(self.mac_cycles), "cycles", "[rtl: rtl/timing.py MAC_CYCLES]"))
        return rows

    def to_dict(self) -> dict:
        """JSON-ready: every field with value, unit and provenance."""
        return {"name": self.name,
                "fields": {k: {"value": v, "unit": u, "provenance": p} for k, v, u, p in self.describe()}}

    def with_dataflow(self, dataflow: str) -> HwConfig:
        """A copy with another dataflow (validated)."""
        prov = dict(self.provenance)
        prov["array.dataflow"] = "[user: --dataflow]"
        return replace(self, array=replace(self.array, dataflow=dataflow), provenance=prov)

    def with_unlimited_sram(self) -> HwConfig:
        """A copy whose SRAMs hold any layer in one tile (for SCALE-Sim's capacity-free formula)."""
        prov = dict(self.provenance)
        big = 2**40
        for n in ("ifmap", "weight", "ofmap"):
            prov[f"memory.{n}_sram_bytes"] = "[user: unlimited]"
        mem = replace(self.memory, ifmap_sram_bytes=big, weight_sram_bytes=big, ofmap_sram_bytes=big)
        # keep the energy per byte of the configured sizes
        energy = replace(self.energy, **{f"{n}_sram_pj_per_byte": self.sram_pj(n) for n in ("ifmap", "weight", "ofmap")})
        return replace(self, memory=mem, energy=energy, provenance=prov)

    def with_unlimited_bandwidth(self) -> HwConfig:
        """A copy whose DRAM never stalls (huge bandwidth, zero latency); for stall-free comparisons."""
        prov = dict(self.provenance)
        prov["memory.dram_bytes_per_cycle"] = prov["memory.dram_latency_cycles"] = "[user: unlimited]"
        mem = replace(self.memory, dram_bytes_per_cycle=float(2**40), dram_latency_cycles=0)
        return replace(self, memory=mem, provenance=prov)


def _positive(name: str, value: Any, *, integer: bool = True, zero_ok: bool = False) -> None:
    ok_type = isinstance(value, int) if integer else isinstance(value, (int, float))
    if isinstance(value, bool) or not ok_type or value < 0 or (value == 0 and not zero_ok) \
            or (not integer and not math.isfinite(value)):
        kind = "an integer" if integer else "a number"
        raise ValueError(f"{name}: expected {kind} {'>= 0' if zero_ok else '> 0'}, got {value!r}")


def _validate(c: HwConfig) -> None:
    where = f"config '{c.name}': "
    a, m, v, e = c.array, c.memory, c.vector, c.energy
    for n in ("rows", "cols", "max_depth"):
        _positive(f"{where}array.{n}", getattr(a, n))
    if a.pe_bits not in (4, 8):
        raise ValueError(f"{where}array.pe_bits: expected 4 or 8, got {a.pe_bits!r}")
    if not a.mac_modes or any(mm not in (4, 8) for mm in a.mac_modes) or min(a.mac_modes) < a.pe_bits:
        raise ValueError(f"{where}array.mac_modes: expected a non-empty subset of [4, 8], "
                         f"none narrower than pe_bits={a.pe_bits}, got {list(a.mac_modes)!r}")
    if a.dataflow not in DATAFLOWS:
        raise ValueError(f"{where}array.dataflow: expected one of {', '.join(DATAFLOWS)}, got {a.dataflow!r}")
    for n in ("ifmap_sram_bytes", "weight_sram_bytes", "ofmap_sram_bytes", "sram_word_bytes"):
        _positive(f"{where}memory.{n}", getattr(m, n))
    _positive(f"{where}memory.dram_bytes_per_cycle", m.dram_bytes_per_cycle, integer=False)
    _positive(f"{where}memory.dram_latency_cycles", m.dram_latency_cycles, zero_ok=True)
    _positive(f"{where}clock_mhz", c.clock_mhz, integer=False)
    _positive(f"{where}requant_lanes", c.requant_lanes)
    if a.cols % c.requant_lanes or c.requant_lanes > a.cols:
        raise ValueError(f"{where}requant_lanes: expected a divisor of array.cols={a.cols}, got {c.requant_lanes}")
    try:
        c.arch  # what the generated RTL executes (rtl.arch.ArrayArch): shape, modes, accumulator depth
    except ValueError as exc:
        raise ValueError(f"{where}{exc}") from None
    _positive(f"{where}vector.lanes", v.lanes)
    _positive(f"{where}vector.latency_cycles", v.latency_cycles, zero_ok=True)
    _positive(f"{where}vector.float_macs_per_cycle", v.float_macs_per_cycle, zero_ok=True)
    for f in fields(EnergyConfig):
        _positive(f"{where}energy.{f.name}", getattr(e, f.name), integer=False, zero_ok=True)


# -- loading ----------------------------------------------------------------------------

def preset_names() -> list[str]:
    """Names of the presets shipped in ``hwsim/presets``."""
    root = resources.files("hwsim.presets")
    return sorted(p.name[:-5] for p in root.iterdir() if p.name.endswith(".toml"))


PRESETS = tuple(preset_names())


def _read_toml(text: str, where: str) -> dict:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{where}: not valid TOML: {exc}") from None


def config_from_dict(data: dict, where: str, base: HwConfig | None, user_prov: str | None) -> HwConfig:
    """A validated :class:`HwConfig` from TOML-shaped ``data`` over ``base`` (None: a full preset).

    Parameters
    ----------
    data
        Tables and fields as in a config TOML file.
    where
        Source named in error messages (file, preset or sweep point).
    base
        Config whose values and provenance ``data`` overrides.
    user_prov
        Provenance recorded for every overridden field (None for presets).
    """
    data = dict(data)
    data.pop("preset", None)
    prov_table = data.pop("provenance", {})
    if not isinstance(prov_table, dict) or any(not isinstance(v, str) for v in prov_table.values()):
        raise ValueError(f"{where}: [provenance] must map 'section.field' to strings")
    prov: dict[str, str] = dict(base.provenance) if base else {}
    values: dict[str, Any] = {}
    sections: dict[str, dict] = {}
    for key, value in data.items():
        if key in _SECTIONS:
            if not isinstance(value, dict):
                raise ValueError(f"{where}: '{key}' must be a table [{key}]")
            known = {f.name: f for f in fields(_SECTIONS[key])}
            for sub, subval in value.items():
                if sub not in known:
                    raise ValueError(f"{where}: unknown field '{key}.{sub}' (known: {', '.join(known)})")
                if sub == "mac_modes":
                    if not isinstance(subval, list):
                        raise ValueError(f"{where}: array.mac_modes must be a list of bit widths")
                    subval = tuple(subval)
                if known[sub].type in ("float",) and isinstance(subval, int) and not isinstance(subval, bool):
                    subval = float(subval)
                sections.setdefault(key, {})[sub] = subval
                if user_prov:
                    prov[f"{key}.{sub}"] = user_prov
        elif key in _TOP:
            values[key] = float(value) if key == "clock_mhz" and isinstance(value, int) else value
            if user_prov and key != "name":
                prov[key] = user_prov
        elif key == "requant_pipeline_cycles":
            raise ValueError(f"{where}: requant_pipeline_cycles is not configurable: it is the RTL's "
                             f"REQUANT_PIPELINE_CYCLES = {REQUANT_PIPELINE_CYCLES} (rtl/timing.py)")
        else:
            raise ValueError(f"{where}: unknown field '{key}' (known: "
                             f"{', '.join([*_TOP, *(f'[{s}]' for s in _SECTIONS)])})")
    for k, v in prov_table.items():
        prov[k] = v
    kwargs: dict[str, Any] = {}
    for section, cls in _SECTIONS.items():
        given = sections.get(section, {})
        if base is not None:
            kwargs[section] = replace(getattr(base, section), **given)
        else:
            missing = [f.name for f in fields(cls) if f.name not in given]
            if missing:
                raise ValueError(f"{where}: missing field(s) {', '.join(f'{section}.{n}' for n in missing)}")
            kwargs[section] = cls(**given)
    for key in _TOP:
        if key in values:
            kwargs[key] = values[key]
        elif base is not None:
            kwargs[key] = getattr(base, key)
        else:
            raise ValueError(f"{where}: missing field '{key}'")
    try:
        return HwConfig(provenance=prov, **kwargs)
    except TypeError as exc:
        raise ValueError(f"{where}: {exc}") from None


def load_preset(name: str) -> HwConfig:
    """The shipped preset ``name``; ValueError listing the known presets otherwise."""
    if name not in PRESETS:
        raise ValueError(f"unknown preset '{name}'; known: {', '.join(PRESETS)}")
    text = resources.files("hwsim.presets").joinpath(f"{name}.toml").read_text(encoding="utf-8")
    return config_from_dict(_read_toml(text, f"preset {name}"), f"preset {name}", None, None)


def load_config(spec: str | None = None) -> HwConfig:
    """A preset name, or a TOML file path (optionally ``preset = "..."`` + overrides).

    Raises
    ------
    ValueError
        Unknown preset, unreadable file, unknown field (named), invalid value (named).
    """
    if spec is None:
        return load_preset(DEFAULT_PRESET)
    if spec in PRESETS:
        return load_preset(spec)
    path = Path(spec)
    if path.suffix.lower() != ".toml":
        raise ValueError(f"unknown preset '{spec}'; known: {', '.join(PRESETS)} (or a .toml file)")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: cannot read: {getattr(exc, 'strerror', None) or type(exc).__name__}") from None
    data = _read_toml(text, str(path))
    base_name = data.get("preset")
    base = None
    if base_name is not None:
        if not isinstance(base_name, str):
            raise ValueError(f"{path}: preset must be a preset name string")
        base = load_preset(base_name)
        data.setdefault("name", f"{base_name}+{path.stem}")
    return config_from_dict(data, str(path), base, f"[user: {path.name}]")
