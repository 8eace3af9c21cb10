"""Quantized-model files: an integer plan with its bit widths, model hash and provenance.

A file is a ``.npz`` (no pickles) with one entry ``__header__`` (UTF-8 JSON as
uint8) and arrays named by tensor and layer::

    __header__                      {"format": "hwsim-qmodel", "version": 1, "model": {"name", "sha256"},
                                     "provenance": {...}, "bits": {layer: [w_bits, a_bits]},
                                     "params": {tensor: {"bits", "signed", "axis"}},
                                     "layers": {layer: {"weights": bool, "bias": bool, "stage": {...},
                                                        "add": {...}, "table": {...}}}}
    param/<tensor>/scale            float64 activation scales (exact, not re-derived)
    param/<tensor>/zero_point       int64
    layer/<layer>/weights           int8 weight codes (OHWI conv, [units, K] fc)
    layer/<layer>/weight_zero_point int64 per output channel
    layer/<layer>/bias              int32 bias codes
    layer/<layer>/stage/<field>     multiplier (int32), shift, real_multiplier (float64)
    layer/<layer>/add/stage/<field> the ADD output stage (input multipliers / shifts in the header)
    layer/<layer>/table             int64 look-up table of an activation

Loading rebuilds :class:`sw.runtime.integer.IntegerPlan` from the stored numbers
(multipliers, shifts, zero points, clamp bounds, tables as written, nothing
recomputed), so :func:`sw.runtime.integer.run_integer` gives the same codes as
the in-memory plan that was saved. The model file must hash to the stored
SHA-256. Bad files raise a one-line ValueError naming the file and field.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from sw.golden.activation import ActivationTable
from sw.golden.elementwise import AddParams
from sw.golden.requant import OutputStage
from sw.graph.model import ImportedModel
from sw.quant.params import QuantParams
from sw.runtime.integer import IntegerPlan, LayerPlan

__all__ = ["QuantizedModel", "FORMAT", "VERSION", "encode_quantized", "load_quantized", "file_sha256"]

FORMAT = "hwsim-qmodel"
VERSION = 1
_STAGE_ARRAYS = ("multiplier", "shift", "real_multiplier")
_STAGE_SCALARS = ("zero_point", "act_min", "act_max", "rounding")
_ADD_SCALARS = ("a_zero_point", "b_zero_point", "a_multiplier", "a_shift", "b_multiplier", "b_shift")


def file_sha256(path: str | os.PathLike[str]) -> str:
    """Hex SHA-256 of a file's bytes."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


@dataclass(frozen=True)
class QuantizedModel:
    """An integer plan ready to run, with what it was made from.

    Parameters
    ----------
    plan
        Integer parameters of every layer and activation tensor.
    bits
        ``(w_bits, a_bits)`` of every layer (applied to the imported graph on load).
    model_name
        File name of the source model (informative).
    model_sha256
        SHA-256 of the source model file; loading checks it.
    provenance
        How the plan was made: method, data, seed, bit policy, tool version (JSON values).
    """

    plan: IntegerPlan
    bits: Mapping[str, tuple[int, int]]
    model_name: str
    model_sha256: str
    provenance: Mapping[str, object] = field(default_factory=dict)

    def apply_bits(self, model: ImportedModel) -> ImportedModel:
        """``model`` with this file's per-layer widths."""
        return replace(model, graph=model.graph.with_bits(layers=dict(self.bits)))


def _stage_header(stage: OutputStage) -> dict:
    return {k: getattr(stage, k) for k in _STAGE_SCALARS}


def _stage_arrays(prefix: str, stage: OutputStage, arrays: dict) -> None:
    for k in _STAGE_ARRAYS:
        value = getattr(stage, k)
        if value is not None:
            arrays[f"{prefix}/{k}"] = np.asarray(value)


def encode_quantized(qm: QuantizedModel) -> bytes:
    """The ``.npz`` bytes of ``qm`` (write them with :class:`sw.fileio.OutputPlan`)."""
    arrays: dict[str, np.ndarray] = {}
    params = {}
    for name, p in qm.plan.params.items():
        params[name] = {"bits": p.bits, "signed": p.signed, "axis": p.axis}
        arrays[f"param/{name}/scale"] = np.asarray(p.scale, dtype=np.float64)
        arrays[f"param/{name}/zero_point"] = np.asarray(p.zero_point, dtype=np.int64)
    layers = {}
    for name, lp in qm.plan.layers.items():
        meta: dict = {}
        prefix = f"layer/{name}"
        meta["weights"] = lp.weights is not None
        meta["bias"] = lp.bias is not None
        if lp.weights is not None:
            arrays[f"{prefix}/weights"] = np.asarray(lp.weights, dtype=np.int8)
            arrays[f"{prefix}/weight_zero_point"] = np.asarray(lp.weight_zero_point, dtype=np.int64)
        if lp.bias is not None:
            arrays[f"{prefix}/bias"] = np.asarray(lp.bias, dtype=np.int32)
        if lp.stage is not None:
            meta["stage"] = _stage_header(lp.stage)
            _stage_arrays(f"{prefix}/stage", lp.stage, arrays)
        if lp.add is not None:
            meta["add"] = {k: getattr(lp.add, k) for k in _ADD_SCALARS} | {"stage": _stage_header(lp.add.output)}
            _stage_arrays(f"{prefix}/add/stage", lp.add.output, arrays)
        if lp.table is not None:
            meta["table"] = {"function": lp.table.function, "qmin_in": lp.table.qmin_in}
            arrays[f"{prefix}/table"] = np.asarray(lp.table.table, dtype=np.int64)
        layers[name] = meta
    header = {"format": FORMAT, "version": VERSION,
              "model": {"name": qm.model_name, "sha256": qm.model_sha256},
              "provenance": dict(qm.provenance), "bits": {k: list(v) for k, v in qm.bits.items()},
              "params": params, "layers": layers}
    arrays["__header__"] = np.frombuffer(json.dumps(header, sort_keys=True).encode(), dtype=np.uint8)
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    return buf.getvalue()


class _Reader:
    """Array access that names the file and the missing entry."""

    def __init__(self, path: Path, data: Mapping[str, np.ndarray]) -> None:
        self.path, self.data = path, data

    def __call__(self, key: str) -> np.ndarray:
        if key not in self.data:
            raise ValueError(f"{self.path}: missing array '{key}'")
        return np.asarray(self.data[key])

    def get(self, key: str) -> np.ndarray | None:
        return np.asarray(self.data[key]) if key in self.data else None


def _stage(read: _Reader, prefix: str, meta: Mapping) -> OutputStage:
    return OutputStage(multiplier=read(f"{prefix}/multiplier"), shift=read(f"{prefix}/shift"),
                       real_multiplier=read.get(f"{prefix}/real_multiplier"),
                       **{k: meta[k] for k in _STAGE_SCALARS})


def _layer(read: _Reader, name: str, meta: Mapping) -> LayerPlan:
    prefix = f"layer/{name}"
    weights = read(f"{prefix}/weights").astype(np.int64) if meta.get("weights") else None
    bias = read(f"{prefix}/bias").astype(np.int64) if meta.get("bias") else None
    stage = _stage(read, f"{prefix}/stage", meta["stage"]) if "stage" in meta else None
    add = None
    if "add" in meta:
        add = AddParams(output=_stage(read, f"{prefix}/add/stage", meta["add"]["stage"]),
                        **{k: int(meta["add"][k]) for k in _ADD_SCALARS})
    table = None
    if "table" in meta:
        values = read(f"{prefix}/table").astype(np.int64)
        values.setflags(write=False)
        table = ActivationTable(meta["table"]["function"], values, int(meta["table"]["qmin_in"]))
    return LayerPlan(weights=weights, bias=bias, stage=stage, add=add, table=table,
                     weight_zero_point=read(f"{prefix}/weight_zero_point") if weights is not None else 0)


def load_quantized(path: str | os.PathLike[str], model: ImportedModel,
                   model_path: str | os.PathLike[str]) -> QuantizedModel:
    """Read a quantized-model file for ``model`` (imported from ``model_path``) and check it.

    Raises
    ------
    ValueError
        Not a quantized-model file, another format version, a model file whose
        SHA-256 differs from the stored one, a layer of ``model`` missing from the
        file (or unknown to it), or a missing array.
    """
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as npz:
            data = {k: npz[k] for k in npz.files}
    except (OSError, ValueError, EOFError) as exc:
        if isinstance(exc, FileNotFoundError):
            raise
        raise ValueError(f"{path}: not a quantized-model .npz file ({exc})") from None
    if "__header__" not in data:
        raise ValueError(f"{path}: not a quantized-model file (no __header__ entry)")
    try:
        header = json.loads(data["__header__"].tobytes().decode())
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ValueError(f"{path}: __header__ is not valid JSON") from None
    if header.get("format") != FORMAT:
        raise ValueError(f"{path}: format: expected '{FORMAT}', got {header.get('format')!r}")
    if header.get("version") != VERSION:
        raise ValueError(f"{path}: version: expected {VERSION}, got {header.get('version')!r}")
    digest = file_sha256(model_path)
    if header["model"]["sha256"] != digest:
        raise ValueError(f"{path}: made for model '{header['model']['name']}' with SHA-256 "
                         f"{header['model']['sha256'][:12]}..., but {model_path} hashes to {digest[:12]}...")
    names = [layer.name for layer in model.graph]
    for name in names:
        if name not in header["layers"] or name not in header["bits"]:
            raise ValueError(f"{path}: missing layer '{name}' of {model_path}")
    extra = sorted(set(header["layers"]) - set(names))
    if extra:
        raise ValueError(f"{path}: layer '{extra[0]}' is not in {model_path}")
    read = _Reader(path, data)
    params = {name: QuantParams(bits=int(p["bits"]), signed=bool(p["signed"]), axis=p["axis"],
                                scale=read(f"param/{name}/scale"), zero_point=read(f"param/{name}/zero_point"))
              for name, p in header["params"].items()}
    layers = {name: _layer(read, name, header["layers"][name]) for name in names}
    bits = {name: (int(w), int(a)) for name, (w, a) in header["bits"].items()}
    return QuantizedModel(IntegerPlan(layers, params), bits, header["model"]["name"], digest, header["provenance"])
