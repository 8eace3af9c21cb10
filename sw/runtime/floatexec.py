"""Float64 execution of an imported model (the reference for calibration and for importer tests).

Each IR layer runs on NHWC float64 arrays with :mod:`sw.golden.floatref` and
numpy; fused activations apply after the layer. ``observe(key, values)`` (if
given) sees every graph input, every layer output and, for layers with a fused
non-clamp activation, the pre-activation tensor under ``"<layer>:pre"``, plus
every tail output: the hook calibration uses.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np

from sw.golden.activation import ACTIVATIONS
from sw.golden.floatref import avg_pool2d_float, conv2d_float, fully_connected_float, max_pool2d_float
from sw.golden.depth_to_space import depth_to_space
from sw.golden.prelu import prelu_float
from sw.golden.resize import upsample_nearest
from sw.golden.resize_bilinear import resize_bilinear_float
from sw.golden.transpose_conv import transpose_conv_float
from sw.graph.ir import Activation, Layer, Op
from sw.graph.model import ImportedModel

__all__ = ["run_float", "activation_float", "LUT_ACTIVATIONS", "Observer"]

Observer = Callable[[str, np.ndarray], None]

# Activations that need a look-up table in the integer model (ReLU / ReLU6 are output-stage clamps).
LUT_ACTIVATIONS = frozenset({Activation.SIGMOID, Activation.SILU, Activation.HARDSWISH, Activation.LEAKY_RELU,
                             Activation.HARDSIGMOID, Activation.GELU})


def activation_float(activation: Activation, x: np.ndarray, alpha: float = 0.1) -> np.ndarray:
    """Real-valued activation (leaky ReLU with slope ``alpha``)."""
    if activation is Activation.LEAKY_RELU:
        return np.where(x >= 0, x, alpha * x)
    return ACTIVATIONS[activation.value](x)


def _pad(x: np.ndarray, layer: Layer, value: float | int = 0) -> np.ndarray:
    (t, b), (l, r) = layer.padding
    extra = layer.out_shape[2] - x.shape[3]
    return np.pad(x, ((0, 0), (t, b), (l, r), (0, extra)), constant_values=value)


def _upsample(x: np.ndarray, layer: Layer) -> np.ndarray:
    ho, wo, _ = layer.out_shape
    return upsample_nearest(x, layer.stride)[:, :ho, :wo]


def float_layer(model: ImportedModel, layer: Layer, xs: list[np.ndarray]) -> np.ndarray:
    """One layer before its fused activation (NHWC float64)."""
    op, x = layer.op, xs[0]
    if op in (Op.CONV, Op.DEPTHWISE):
        return conv2d_float(x, model.tensors[f"{layer.name}.weight"], model.tensors.get(f"{layer.name}.bias"),
                            stride=layer.stride, dilation=layer.dilation, padding=layer.padding, groups=layer.groups)
    if op is Op.CONV_TRANSPOSE:
        return transpose_conv_float(x, model.tensors[f"{layer.name}.weight"], model.tensors.get(f"{layer.name}.bias"),
                                    layer.out_shape[:2], layer.stride, layer.dilation, layer.padding)
    if op is Op.DEPTH_TO_SPACE:
        return depth_to_space(x, layer.stride[0])
    if op is Op.PRELU:
        return prelu_float(x, model.tensors[f"{layer.name}.alpha"])
    if op is Op.RESIZE_BILINEAR:
        return resize_bilinear_float(x, layer.out_shape[:2], layer.resize)
    if op is Op.FC:  # flattened input (per image), or one row per pixel when batched
        rows = x.reshape(-1, layer.weight_count // layer.out_shape[2])
        out = fully_connected_float(rows, model.tensors[f"{layer.name}.weight"], model.tensors.get(f"{layer.name}.bias"))
        return out.reshape(-1, *layer.out_shape)
    if op is Op.ADD:
        return sum(xs[1:], xs[0])
    if op is Op.MUL:
        return np.prod(np.broadcast_arrays(*xs), axis=0)
    if op is Op.CONCAT:
        return np.concatenate(xs, axis=-1)
    if op is Op.UPSAMPLE:
        return _upsample(x, layer)
    if op is Op.MAXPOOL:
        return max_pool2d_float(x, layer.kernel, layer.stride, layer.padding)
    if op is Op.AVGPOOL:
        return avg_pool2d_float(x, layer.kernel, layer.stride, layer.padding)
    if op is Op.GLOBAL_AVGPOOL:
        return x.mean(axis=(1, 2), keepdims=True)
    if op is Op.PAD:
        return _pad(x, layer)
    if op is Op.ACTIVATION:
        return x
    raise ValueError(f"layer '{layer.name}': op {op.value} cannot be executed")


def run_float(
    model: ImportedModel, inputs: Mapping[str, np.ndarray], observe: Observer | None = None
) -> dict[str, np.ndarray]:
    """Run ``model`` in float64.

    Parameters
    ----------
    model
        An imported model with float weights.
    inputs
        Graph inputs by name, in the model's external layout (e.g. NCHW for ONNX).
    observe
        Optional hook receiving ``(tensor key, float64 values)``.

    Returns
    -------
    dict
        Model outputs by name, in the external layout (float64).
    """
    if model.prequantized:
        raise ValueError(f"model '{model.graph.name}' is pre-quantized; run it with the integer executor")
    env: dict[str, np.ndarray] = {}
    for name in model.input_names:
        env[name] = model.from_native(name, np.asarray(inputs[name], dtype=np.float64))
        if observe:
            observe(name, env[name])
    for layer in model.graph:
        env[layer.name] = float_layer_activated(model, layer, [env[n] for n in layer.inputs], observe)
        if observe:
            observe(layer.name, env[layer.name])
    return run_tail(model, env, observe)


def float_layer_activated(
    model: ImportedModel, layer: Layer, xs: list[np.ndarray], observe: Observer | None = None
) -> np.ndarray:
    """One layer including its fused activation (NHWC float64); ``observe`` sees a LUT activation's input."""
    pre = float_layer(model, layer, xs)
    act = layer.activation
    if act is None:
        return pre
    if observe and act in LUT_ACTIVATIONS and layer.op is not Op.ACTIVATION:
        observe(f"{layer.name}:pre", pre)
    return activation_float(act, pre, model.leaky_alpha.get(layer.name, 0.1))


def run_tail(model: ImportedModel, env: dict[str, np.ndarray], observe: Observer | None = None) -> dict[str, np.ndarray]:
    """Convert IR outputs to the external layout and apply the tail (float values)."""
    native = {name: model.to_native(name, env[name]) for name in model.native_shapes if name in env
              and name not in model.input_names}
    for op in model.tail:
        native[op.output] = op.apply([native[n] for n in op.inputs])
        if observe and op.kind == "concat":
            observe(op.output, native[op.output])
    return {name: native[name] for name in model.outputs}
