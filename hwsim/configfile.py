"""Loading configurations: the presets shipped in ``hwsim/presets`` and user TOML files.

A configuration is read from a named preset (``hwsim/presets/<name>.toml``, shipped
inside the package) or from a user TOML file. A user file may start from a preset
(``preset = "edge16_int4"``) and override single fields; every field it sets gets the
provenance ``[user: <file>]`` unless its ``[provenance]`` table says otherwise.
"""

from __future__ import annotations

import tomllib
from dataclasses import fields, replace
from importlib import resources
from pathlib import Path
from typing import Any

from hwsim.config import CONFIG_SECTIONS, TOP_FIELDS, HwConfig
from rtl.timing import REQUANT_PIPELINE_CYCLES

__all__ = ["PRESETS", "DEFAULT_PRESET", "load_config", "load_preset", "preset_names", "config_from_dict"]

DEFAULT_PRESET = "edge16_int4"


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
        if key in CONFIG_SECTIONS:
            if not isinstance(value, dict):
                raise ValueError(f"{where}: '{key}' must be a table [{key}]")
            known = {f.name: f for f in fields(CONFIG_SECTIONS[key])}
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
        elif key in TOP_FIELDS:
            values[key] = float(value) if key == "clock_mhz" and isinstance(value, int) else value
            if user_prov and key != "name":
                prov[key] = user_prov
        elif key == "requant_pipeline_cycles":
            raise ValueError(f"{where}: requant_pipeline_cycles is not configurable: it is the RTL's "
                             f"REQUANT_PIPELINE_CYCLES = {REQUANT_PIPELINE_CYCLES} (rtl/timing.py)")
        else:
            raise ValueError(f"{where}: unknown field '{key}' (known: "
                             f"{', '.join([*TOP_FIELDS, *(f'[{s}]' for s in CONFIG_SECTIONS)])})")
    for k, v in prov_table.items():
        prov[k] = v
    kwargs: dict[str, Any] = {}
    for section, cls in CONFIG_SECTIONS.items():
        given = sections.get(section, {})
        if base is not None:
            kwargs[section] = replace(getattr(base, section), **given)
        else:
            missing = [f.name for f in fields(cls) if f.name not in given]
            if missing:
                raise ValueError(f"{where}: missing field(s) {', '.join(f'{section}.{n}' for n in missing)}")
            kwargs[section] = cls(**given)
    for key in TOP_FIELDS:
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
        try:
            base = load_preset(base_name)
        except ValueError as exc:
            raise ValueError(f"{path}: {exc}") from None
        data.setdefault("name", f"{base_name}+{path.stem}")
    return config_from_dict(data, str(path), base, f"[user: {path.name}]")
