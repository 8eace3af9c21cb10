"""An imported model: the layer IR plus everything needed to execute it.

The IR (:class:`sw.graph.ir.Graph`) carries shapes and costs only. An importer
also returns the weights, the model's external tensor layout and a *tail* of
shape-only operations (reshape / transpose / concatenation along a
non-channel axis) that turn IR layer outputs into the model's declared
outputs. The tail is pure data movement: it costs no MACs and is executed by
numpy on the IR outputs (converted to the external layout first).

Tensor keys in :attr:`ImportedModel.tensors`:

``"<layer>.weight"``
    conv / depthwise: OHWI ``[Cout, kh, kw, Cin/groups]``; fc: ``[units, H*W*C]``
    with the input flattened in NHWC (H, W, C) order.
``"<layer>.bias"``
    ``[Cout]`` (float; int32 codes in a pre-quantized model).

Float models hold float64 weights with batch norm folded. Pre-quantized models
(int8 TFLite) hold integer weight codes and int32 bias codes, and
:attr:`ImportedModel.quant` holds the file's own quantization parameters of
every activation tensor (graph inputs, layer outputs, tail outputs) and of every
``"<layer>.weight"``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Literal

import numpy as np

from sw.graph.bits import BitPolicy
from sw.graph.ir import Graph
from sw.quant.folding import BatchNorm
from sw.quant.params import QuantParams

__all__ = ["TailOp", "ImportedModel", "Layout"]

Layout = Literal["nchw", "nhwc"]


@dataclass(frozen=True)
class TailOp:
    """One shape-only operation after the IR layers, in the model's external layout.

    Parameters
    ----------
    kind
        ``"reshape"`` (to ``shape``), ``"transpose"`` (by ``perm``) or
        ``"concat"`` (along ``axis``).
    inputs
        Names of IR layers or earlier tail outputs.
    output
        Name of the produced tensor.
    """

    kind: Literal["reshape", "transpose", "concat"]
    inputs: tuple[str, ...]
    output: str
    shape: tuple[int, ...] = ()
    perm: tuple[int, ...] = ()
    axis: int = 0

    def apply(self, arrays: list[np.ndarray]) -> np.ndarray:
        """Run on numpy arrays (codes or reals alike; concat here does no requantization)."""
        if self.kind == "reshape":
            return arrays[0].reshape(self.shape)
        if self.kind == "transpose":
            return np.transpose(arrays[0], self.perm)
        return np.concatenate(arrays, axis=self.axis)


def _frozen_map(mapping: Mapping) -> Mapping:
    return MappingProxyType(dict(mapping))


@dataclass(frozen=True)
class ImportedModel:
    """IR graph, weights and I/O description of an imported model file.

    Parameters
    ----------
    graph
        The layer IR (NHWC shapes, batch 1).
    tensors
        Weights and biases by key (see the module docstring); arrays are read-only.
    layout
        External layout of inputs and 4-D outputs: ``"nchw"`` (ONNX) or ``"nhwc"`` (TFLite).
    native_shapes
        External shape of every graph input and of every IR layer that feeds the
        tail or is a model output (e.g. ``(1, C, H, W)``, or ``(1, units)`` for an
        ONNX Gemm).
    tail
        Shape-only operations producing the outputs, in execution order.
    outputs
        Model output names (IR layers or tail outputs), in file order.
    leaky_alpha
        Slope of each layer whose activation is leaky ReLU.
    quant
        Pre-quantized models only: quantization parameters by tensor name, else None.
    batch_norms
        The batch norm folded into each weighted layer's weights and bias (``tensors`` holds the
        folded ones), for training with live batch statistics (:mod:`sw.train.qat`); only layers
        whose tensors are exactly the fold's result.
    """

    graph: Graph
    tensors: Mapping[str, np.ndarray]
    layout: Layout
    native_shapes: Mapping[str, tuple[int, ...]]
    tail: tuple[TailOp, ...] = ()
    outputs: tuple[str, ...] = ()
    leaky_alpha: Mapping[str, float] = field(default_factory=dict)
    quant: Mapping[str, QuantParams] | None = None
    batch_norms: Mapping[str, BatchNorm] = field(default_factory=dict)

    def __post_init__(self) -> None:
        frozen = {}
        for key, value in self.tensors.items():
            arr = np.array(value, copy=True)
            arr.setflags(write=False)
            frozen[key] = arr
        object.__setattr__(self, "tensors", _frozen_map(frozen))
        object.__setattr__(self, "native_shapes", _frozen_map({k: tuple(v) for k, v in self.native_shapes.items()}))
        object.__setattr__(self, "tail", tuple(self.tail))
        object.__setattr__(self, "outputs", tuple(self.outputs) or self.graph.outputs)
        object.__setattr__(self, "leaky_alpha", _frozen_map(self.leaky_alpha))
        if self.quant is not None:
            object.__setattr__(self, "quant", _frozen_map(self.quant))
        object.__setattr__(self, "batch_norms", _frozen_map(self.batch_norms))

    @property
    def input_names(self) -> tuple[str, ...]:
        """Graph input names, in file order."""
        return tuple(name for name, _ in self.graph.inputs)

    @property
    def prequantized(self) -> bool:
        """True for a model that carries its own integer quantization (int8 TFLite)."""
        return self.quant is not None

    def with_bits(self, policy: BitPolicy) -> "ImportedModel":
        """This model with ``policy``'s widths applied to its graph (weights and tensors unchanged)."""
        return replace(self, graph=policy.apply(self.graph))

    def to_native(self, name: str, nhwc: np.ndarray) -> np.ndarray:
        """An IR tensor ``[1, H, W, C]`` in its external layout and shape."""
        shape = self.native_shapes[name]
        if self.layout == "nchw" and len(shape) == 4:
            return np.transpose(nhwc, (0, 3, 1, 2)).reshape(shape)
        return nhwc.reshape(shape)

    def from_native(self, name: str, array: np.ndarray) -> np.ndarray:
        """A graph input given in its external layout, as NHWC ``[N, H, W, C]`` (N = the batch, usually 1)."""
        shape = self.native_shapes[name]
        if tuple(array.shape) != shape:
            raise ValueError(f"input '{name}': expected shape {shape}, got {tuple(array.shape)}")
        if self.layout == "nchw" and len(shape) == 4:
            array = np.transpose(array, (0, 2, 3, 1))
        return np.ascontiguousarray(array).reshape((-1, *dict(self.graph.inputs)[name]))
