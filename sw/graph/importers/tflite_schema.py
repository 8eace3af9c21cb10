"""Read-only object view of a TFLite flatbuffer through the ``tflite`` schema package.

The ``tflite`` package (the generated flatbuffer readers of the TFLite schema,
about 150 kB, depends on ``flatbuffers`` only) has accessor methods
(``tensor.ShapeAsNumpy()``, ``op.BuiltinOptions()`` returning an untyped table).
:func:`parse_model` wraps them in :class:`Table`, which exposes the schema's
field names in the camelCase of the flatbuffer object API
(``model.subgraphs[0].tensors[i].shape``, ``op.builtinOptions.strideH``),
read lazily and cached. Numeric vectors are numpy arrays; absent vectors and
tables are None.
"""

from __future__ import annotations

import importlib
from functools import cache

import numpy as np
import tflite

__all__ = ["parse_model", "Table", "enum_names", "BuiltinOperator", "TensorType", "Padding",
           "ActivationFunctionType"]

BuiltinOperator = tflite.BuiltinOperator
TensorType = tflite.TensorType
Padding = tflite.Padding
ActivationFunctionType = tflite.ActivationFunctionType


@cache
def enum_names(enum: type) -> dict[int, str]:
    """``{value: name}`` of a schema enum class."""
    return {v: k for k, v in vars(enum).items() if not k.startswith("_") and isinstance(v, int)}


# union fields and the schema enum naming their member tables
_UNIONS = {"builtinOptions": "BuiltinOptions", "arraySegments": "SparseIndexVector",
           "arrayIndices": "SparseIndexVector"}


@cache
def _union_class(union: str, type_code: int) -> type | None:
    name = enum_names(getattr(tflite, union)).get(type_code)
    if name is None or name == "NONE":
        return None
    return getattr(importlib.import_module(f"tflite.{name}"), name)


class Table:
    """Lazy camelCase view of one flatbuffer table (see the module docstring)."""

    __slots__ = ("_obj", "_cache")

    def __init__(self, obj) -> None:
        self._obj = obj
        self._cache: dict[str, object] = {}

    def __getattr__(self, name: str):
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return self._cache[name]
        except KeyError:
            pass
        value = self._read(name)
        self._cache[name] = value
        return value

    def _read(self, name: str):
        obj = self._obj
        cap = name[0].upper() + name[1:]
        if name in _UNIONS:
            cls = _union_class(_UNIONS[name], getattr(obj, cap + "Type")())
            table = getattr(obj, cap)()
            if cls is None or table is None:
                return None
            options = cls()
            options.Init(table.Bytes, table.Pos)
            return Table(options)
        if hasattr(obj, cap + "Length"):
            if getattr(obj, cap + "IsNone")():
                return None
            count = getattr(obj, cap + "Length")()
            if hasattr(obj, cap + "AsNumpy"):
                return np.asarray(getattr(obj, cap + "AsNumpy")()) if count else np.zeros(0, np.int64)
            get = getattr(obj, cap)
            return [_wrap(get(i)) for i in range(count)]
        if not hasattr(obj, cap):
            raise AttributeError(f"TFLite table {type(obj).__name__} has no field '{name}'")
        return _wrap(getattr(obj, cap)())


def _wrap(value):
    if value is None or isinstance(value, (int, float, bool, bytes, str, np.generic)):
        return value
    return Table(value)


def parse_model(data: bytes) -> Table:
    """The root ``Model`` table of a TFLite flatbuffer (no validation beyond the reader's)."""
    return Table(tflite.Model.GetRootAsModel(data, 0))
