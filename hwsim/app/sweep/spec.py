"""Sweep files: models x bit widths x designs over a base configuration.

A sweep file is TOML::

    [sweep]
    base = "edge16_int4"                      # preset name or config TOML file
    models = ["yolov3_tiny_416", "mobilenet_ssd_300"]
    bits = ["4", "8", "backbone=4,neck=4,head=8"]   # optional; default: the models' own widths

    [grid]                                    # Cartesian product of these lists
    "array.rows" = [8, 16, 32]                # dotted HwConfig field paths
    memory.weight_sram_bytes = [65536, 131072]  # unquoted dotted keys work too

    [[points]]                                # optional explicit designs, added to the grid
    "array.rows" = 64
    "array.cols" = 64

Each design is validated by the same code that loads config files (:mod:`hwsim.config`);
a design it rejects is an :class:`InvalidDesign`, not an exception, so the sweep can go on.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import tomllib
from dataclasses import dataclass, fields, is_dataclass
from pathlib import Path
from typing import Any

from sw.graph.bits import parse_bits
from hwsim.config import HwConfig
from hwsim.configfile import config_from_dict, load_config
from sw.graph import ZOO, load_model, parse_input_shape

__all__ = ["Design", "InvalidDesign", "SweepSpec", "load_sweep", "parse_sweep", "field_paths", "build_config",
           "config_values", "point_key"]

_SWEEP_KEYS = ("base", "models", "bits", "input_shapes")
_TABLES = ("sweep", "grid", "points")


@dataclass(frozen=True)
class Design:
    """One hardware design: field overrides of the base config.

    Attributes
    ----------
    overrides : tuple[tuple[str, Any], ...]
        ``(dotted field path, value)`` pairs, sorted by path.
    """

    overrides: tuple[tuple[str, Any], ...]

    def label(self) -> str:
        """``array.rows=8 memory.weight_sram_bytes=65536`` (``base`` if no override)."""
        return " ".join(f"{k}={v}" for k, v in self.overrides) or "base"


@dataclass(frozen=True)
class InvalidDesign:
    """A design the config validation rejected, with its one-line reason."""

    design: Design
    reason: str


@dataclass(frozen=True)
class SweepSpec:
    """A parsed, validated sweep file.

    Attributes
    ----------
    source : str
        The sweep file (for messages).
    base : str
        Preset name or config TOML path (absolute) the designs override.
    models : tuple[str, ...]
        Zoo names or model file paths (absolute), in file order.
    bits : tuple[str, ...]
        Bit-width specs in ``hwsim simulate --bits`` syntax; ``""`` = the model's own widths.
    fields : tuple[str, ...]
        Swept field paths, in first-mention order (grid, then points); reported as columns.
    designs : tuple[Design, ...]
        Valid designs: the grid product in row-major order, then new explicit points.
    invalid : tuple[InvalidDesign, ...]
        Designs the config validation rejected.
    input_shapes : tuple[str, ...]
        ``NAME=1x3xHxW`` pins of dynamic model inputs (``hwsim simulate --input-shape`` syntax).
    """

    source: str
    base: str
    models: tuple[str, ...]
    bits: tuple[str, ...]
    fields: tuple[str, ...]
    designs: tuple[Design, ...]
    invalid: tuple[InvalidDesign, ...]
    input_shapes: tuple[str, ...] = ()


def field_paths(cfg: HwConfig) -> tuple[str, ...]:
    """Every sweepable dotted field path of ``cfg`` (``clock_mhz``, ``array.rows``, ...)."""
    paths = []
    for f in fields(cfg):
        value = getattr(cfg, f.name)
        if is_dataclass(value):
            paths.extend(f"{f.name}.{sub.name}" for sub in fields(value))
        elif f.name not in ("name", "provenance"):
            paths.append(f.name)
    return tuple(paths)


def config_values(cfg: HwConfig, paths: tuple[str, ...] | None = None) -> dict[str, Any]:
    """``path -> value`` of ``cfg`` for ``paths`` (default: every sweepable path); tuples as lists."""
    out = {}
    for path in paths if paths is not None else field_paths(cfg):
        value: Any = cfg
        for part in path.split("."):
            value = getattr(value, part)
        out[path] = list(value) if isinstance(value, tuple) else value
    return out


def build_config(base: HwConfig, design: Design, source: str) -> HwConfig:
    """``base`` with ``design``'s overrides, validated by :mod:`hwsim.config` (ValueError naming the field)."""
    data: dict[str, Any] = {"name": f"{base.name}+sweep"}
    for path, value in design.overrides:
        section, _, name = path.rpartition(".")
        (data.setdefault(section, {}) if section else data)[name] = value
    return config_from_dict(data, f"sweep {source} [{design.label()}]", base, f"[sweep: {Path(source).name}]")


def point_key(model: str, bits: str, cfg: HwConfig) -> str:
    """Stable 16-hex-digit key of a point: model, bits and every effective config value.

    Hashing the effective values (not the overrides) makes the key change when the base
    preset or file changes, so a resumed sweep never reuses rows of another configuration.
    """
    canonical = json.dumps({"model": model, "bits": bits, "config": config_values(cfg)},
                           sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def _flatten(table: dict, prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in table.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(_flatten(value, f"{path}."))
        else:
            out[path] = value
    return out


def _check_paths(paths: list[str], valid: tuple[str, ...], where: str) -> None:
    for path in paths:
        if path not in valid:
            raise ValueError(f"{where}: unknown field '{path}' (valid: {', '.join(valid)})")


def _strings(value: Any, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not value or any(not isinstance(v, str) for v in value):
        raise ValueError(f"{where}: expected a non-empty list of strings, got {value!r}")
    return tuple(value)


def _model(name: str, folder: Path, source: str, shapes: dict[str, tuple[int, ...]] | None) -> str:
    if name in ZOO:
        return name
    path = (folder / name).resolve()
    if not path.is_file():
        raise ValueError(f"{source}: sweep.models: '{name}' is neither a zoo model (known: {', '.join(ZOO)}) "
                         f"nor a model file")
    try:
        load_model(path, shapes)  # an unreadable or unsupported file fails here, before any point runs
    except ValueError as exc:
        raise ValueError(f"{source}: sweep.models: {exc}") from None
    return str(path)


def parse_sweep(data: dict, source: str, folder: Path) -> SweepSpec:
    """Validate a parsed sweep file (``folder``: where relative paths in it are resolved).

    Raises
    ------
    ValueError
        One line: unknown table, key or field (listing the valid ones), empty list or grid,
        bad bit-width spec, unknown model, unknown base.
    """
    for table in data:
        if table not in _TABLES:
            raise ValueError(f"{source}: unknown table [{table}] (valid: {', '.join(_TABLES)})")
    sweep = data.get("sweep")
    if not isinstance(sweep, dict):
        raise ValueError(f"{source}: missing [sweep] table with base and models")
    for key in sweep:
        if key not in _SWEEP_KEYS:
            raise ValueError(f"{source}: unknown key 'sweep.{key}' (valid: {', '.join(_SWEEP_KEYS)})")
    base_spec = sweep.get("base")
    if not isinstance(base_spec, str):
        raise ValueError(f"{source}: sweep.base must be a preset name or a config .toml file")
    if base_spec.lower().endswith(".toml"):
        base_spec = str((folder / base_spec).resolve())
    try:
        base = load_config(base_spec)
    except ValueError as exc:
        raise ValueError(f"{source}: sweep.base: {exc}") from None
    bits = _strings(sweep.get("bits", [""]), f"{source}: sweep.bits")
    input_shapes = _strings(sweep.get("input_shapes", []), f"{source}: sweep.input_shapes") \
        if "input_shapes" in sweep else ()
    shapes = dict(parse_input_shape(text, f"{source}: sweep.input_shapes") for text in input_shapes) or None
    models = tuple(_model(m, folder, source, shapes) for m in _strings(sweep.get("models"), f"{source}: sweep.models"))
    for b in bits:
        if b:
            try:
                parse_bits(b, where=f"{source}: sweep.bits {b!r}")
            except ValueError as exc:
                raise ValueError(str(exc)) from None
    valid = field_paths(base)

    grid_table = data.get("grid")
    grid: dict[str, list] = {}
    if grid_table is not None:
        grid = _flatten(grid_table)
        if not grid:
            raise ValueError(f"{source}: [grid] is empty")
        _check_paths(list(grid), valid, f"{source}: [grid]")
        for path, values in grid.items():
            if not isinstance(values, list) or not values:
                raise ValueError(f"{source}: [grid] '{path}' must be a non-empty list of values, got {values!r}")
    points = data.get("points", [])
    if not isinstance(points, list) or any(not isinstance(p, dict) for p in points):
        raise ValueError(f"{source}: points must be [[points]] tables")
    explicit = [_flatten(p) for p in points]
    for i, point in enumerate(explicit):
        _check_paths(list(point), valid, f"{source}: [[points]] #{i + 1}")

    paths = list(grid)
    for point in explicit:
        paths.extend(p for p in point if p not in paths)
    candidates = [dict(zip(grid, combo)) for combo in itertools.product(*grid.values())] if grid else []
    candidates += explicit
    if not candidates:
        candidates = [{}]
    designs, invalid, seen = [], [], set()
    for overrides in candidates:
        design = Design(tuple(sorted(overrides.items())))
        marker = json.dumps(design.overrides)
        if marker in seen:
            continue
        seen.add(marker)
        try:
            build_config(base, design, source)
        except ValueError as exc:
            invalid.append(InvalidDesign(design, str(exc)))
            continue
        designs.append(design)
    return SweepSpec(source=source, base=base_spec, models=models, bits=bits, fields=tuple(paths),
                     designs=tuple(designs), invalid=tuple(invalid), input_shapes=input_shapes)


def load_sweep(path: str | Path) -> SweepSpec:
    """Read and validate a sweep TOML file (see :func:`parse_sweep`)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"{p}: cannot read: {getattr(exc, 'strerror', None) or type(exc).__name__}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{p}: not valid TOML: {exc}") from None
    return parse_sweep(data, str(p), p.parent)
