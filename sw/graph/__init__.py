"""Layer IR, model zoo and importers.

:func:`load_model` is the one entry point: a zoo name, or a file dispatched by
suffix through ``IMPORTERS`` (add a format with one line there).
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from types import MappingProxyType

from sw.graph.builder import GraphBuilder
from sw.graph.importers.common import Coverage, InputShapes, parse_input_shape
from sw.graph.ir import Activation, Graph, Layer, Op, Part, Totals
from sw.graph.model import ImportedModel
from sw.graph.zoo import ZOO, ModelSpec, load_zoo_model

__all__ = ["Activation", "Graph", "GraphBuilder", "Layer", "ModelSpec", "Op", "Part", "Totals", "ZOO",
           "IMPORTERS", "RUNNABLE_IMPORTERS", "ImportedModel", "load_model", "load_imported_model",
           "load_zoo_model", "model_coverage", "parse_input_shape", "Coverage"]

def _lazy(module: str, function: str) -> Callable:
    """``module.function``, imported on first call (start-up does not pay for unused importers)."""
    def call(*args: object, **kwargs: object) -> object:
        return getattr(importlib.import_module(module), function)(*args, **kwargs)
    call.__name__ = call.__qualname__ = function
    return call


#: Model-file suffix -> importer returning the layer IR.
IMPORTERS: Mapping[str, Callable[[Path], Graph]] = MappingProxyType({
    ".csv": _lazy("sw.graph.importers.scalesim_csv", "load_scalesim_csv"),
    ".onnx": _lazy("sw.graph.importers.onnx_import", "load_onnx_graph"),
    ".tflite": _lazy("sw.graph.importers.tflite_import", "load_tflite_graph"),
})

#: Importers of model files that carry weights (executable through ``sw.runtime``).
RUNNABLE_IMPORTERS: Mapping[str, Callable[[Path], ImportedModel]] = MappingProxyType({
    ".onnx": _lazy("sw.graph.importers.onnx_import", "load_onnx"),
    ".tflite": _lazy("sw.graph.importers.tflite_import", "load_tflite"),
})


def load_model(name_or_path: str | os.PathLike[str], input_shapes: InputShapes | None = None,
               **zoo_kwargs: object) -> Graph:
    """A zoo model by name, or a model file by suffix (see ``IMPORTERS``).

    Parameters
    ----------
    name_or_path
        Zoo name (``ZOO``) or path to a file with a supported suffix.
    input_shapes
        ONNX / TFLite files: shapes pinning dynamic input dimensions, by input name.
    zoo_kwargs
        Builder arguments for zoo models (e.g. ``input_size``, ``proposals``).

    Raises
    ------
    ValueError
        Unknown name, unsupported suffix, missing file, or the importer's error
        (all one line, naming the file).
    """
    text = os.fspath(name_or_path)
    if text in ZOO:
        return load_zoo_model(text, **zoo_kwargs)
    path = Path(text)
    importer = IMPORTERS.get(path.suffix.lower())
    if importer is None:
        raise ValueError(
            f"'{text}' is neither a zoo model (known: {', '.join(ZOO)}) "
            f"nor a file with a supported suffix ({', '.join(IMPORTERS)})"
        )
    if zoo_kwargs:
        raise ValueError(f"{path}: builder arguments {sorted(zoo_kwargs)} apply to zoo models only")
    if not path.is_file():
        raise ValueError(f"{path}: no such file")
    if input_shapes:
        if path.suffix.lower() not in RUNNABLE_IMPORTERS:
            raise ValueError(f"{path}: input shapes apply to .onnx and .tflite files only")
        return importer(path, input_shapes)
    return importer(path)


def load_imported_model(name_or_path: str | os.PathLike[str], input_shapes: InputShapes | None = None) -> ImportedModel:
    """An executable model from an .onnx / .tflite file; ValueError for zoo names and other suffixes."""
    text = os.fspath(name_or_path)
    if text in ZOO:
        raise ValueError(f"'{text}' is a zoo model: it has shapes but no weights; run an .onnx or .tflite file")
    path = Path(text)
    loader = RUNNABLE_IMPORTERS.get(path.suffix.lower())
    if loader is None:
        raise ValueError(f"{path}: expected an .onnx or .tflite model file (or a zoo name for other commands)")
    if not path.is_file():
        raise ValueError(f"{path}: no such file")
    return loader(path, input_shapes)


def model_coverage(path: str | os.PathLike[str], input_shapes: InputShapes | None = None) -> Coverage:
    """Per-operator coverage of an .onnx / .tflite file (``hwsim inspect --ops``)."""
    path = Path(path)
    reader = {".onnx": _lazy("sw.graph.importers.onnx_import", "onnx_coverage"),
              ".tflite": _lazy("sw.graph.importers.tflite_import", "tflite_coverage")}.get(path.suffix.lower())
    if reader is None:
        raise ValueError(f"{path}: operator coverage needs an .onnx or .tflite file")
    if not path.is_file():
        raise ValueError(f"{path}: no such file")
    return reader(path, input_shapes)
