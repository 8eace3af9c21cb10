"""Integer execution of an imported model through the golden model, layer by layer.

:func:`plan_prequantized` takes a model's own parameters (int8 TFLite);
:func:`plan_calibrated` derives them from float weights and calibrated
activation parameters (FQN: per-channel min/max weights at ``w_bits``,
int32 bias at ``s_in * s_w``, activations at ``a_bits`` signed codes).
:func:`run_integer` then executes the plan on input codes:

* conv / depthwise / fc: :func:`sw.golden.conv.conv2d` /
  :func:`sw.golden.fully_connected.fully_connected`; fused ReLU / ReLU6 are
  output-stage clamps; other fused activations requantize to the
  pre-activation parameters ``"<layer>:pre"`` then use an integer look-up table.
* add: :class:`sw.golden.elementwise.AddParams` (TFLite int8 ADD); mul: TFLite
  int8 MUL, ``MBQM((a - za) * (b - zb), s_a s_b / s_out) + z_out``.
* concat (also a tail concat): :func:`sw.golden.concat.concat`.
* maxpool, avgpool, global average pool, upsample, pad: on codes with the
  input's parameters (pads hold the zero point).
* float layers (``w_bits`` or ``a_bits`` 32, partial quantization as in seed 003):
  float64 on dequantized inputs (:mod:`sw.runtime.floatexec`); their output stays
  real when ``a_bits`` is 32, else it is quantized with its calibrated parameters.
  An integer layer fed by a real tensor quantizes it with that tensor's parameters.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from sw.golden.activation import ActivationTable, apply_table
from sw.golden.concat import concat
from sw.golden.conv import conv2d
from sw.golden.elementwise import AddParams, add
from sw.golden.fully_connected import fully_connected
from sw.golden.pooling import avg_pool2d, max_pool2d
from sw.golden.depth_to_space import depth_to_space
from sw.golden.prelu import prelu_int
from sw.golden.resize_bilinear import resize_bilinear_int
from sw.golden.transpose_conv import transpose_conv_int
from sw.golden.requant import OutputStage
from sw.graph.ir import FLOAT_BITS, Activation, Layer, Op
from sw.quant.folding import quantize_bias
from sw.quant.ints import INT32_MAX
from sw.quant.params import QuantParams
from sw.quant.mse import mse_weight_params
from sw.quant.ranges import Granularity, params_from_range, weight_params
from sw.runtime.floatexec import LUT_ACTIVATIONS, _pad, _upsample, float_layer_activated
from sw.graph.model import ImportedModel

__all__ = ["LayerPlan", "IntegerPlan", "plan_prequantized", "plan_calibrated", "layer_weight_params", "widen_for_bias", "WEIGHT_RANGES",
           "run_integer", "run_layer", "integer_outputs", "tail_params", "PASS_THROUGH", "is_float_layer"]

# Ops whose output codes share the input's quantization parameters.
PASS_THROUGH = frozenset({Op.MAXPOOL, Op.AVGPOOL, Op.GLOBAL_AVGPOOL, Op.UPSAMPLE, Op.PAD, Op.RESIZE_BILINEAR,
                          Op.DEPTH_TO_SPACE})
_WEIGHTED = (Op.CONV, Op.DEPTHWISE, Op.FC, Op.CONV_TRANSPOSE)
PRELU_SLOPE_BITS = 8  # calibrated models: PReLU slopes as one per-tensor 8-bit code set (TFLite's layout)
_CLAMPS = {None: "none", Activation.RELU: "relu", Activation.RELU6: "relu6"}


@dataclass(frozen=True)
class LayerPlan:
    """Integer parameters of one layer (fields unused by the op are None)."""

    weights: np.ndarray | None = None
    weight_zero_point: np.ndarray | int = 0
    bias: np.ndarray | None = None
    stage: OutputStage | None = None
    add: AddParams | None = None
    table: ActivationTable | None = None
    slope: QuantParams | None = None


@dataclass(frozen=True)
class IntegerPlan:
    """Per-layer plans plus the quantization parameters of every activation tensor."""

    layers: Mapping[str, LayerPlan]
    params: Mapping[str, QuantParams]

    def asymmetric_weight_layers(self) -> tuple[str, ...]:
        """Layers whose weight codes have a nonzero zero point (the accelerator's array multiplies
        symmetric weight codes only), in plan order."""
        return tuple(name for name, lp in self.layers.items()
                     if lp.weights is not None and np.any(np.asarray(lp.weight_zero_point) != 0))


def is_float_layer(layer: Layer) -> bool:
    """True for a layer executed in float (weights or activations at 32 bits)."""
    return FLOAT_BITS in (layer.w_bits, layer.a_bits)


def _fused(layer: Layer) -> str:
    return _CLAMPS.get(layer.activation, "none")


def _table(model: ImportedModel, layer: Layer, inp: QuantParams, out: QuantParams) -> ActivationTable:
    alpha = model.leaky_alpha.get(layer.name, 0.1)
    return ActivationTable.build(layer.activation.value, inp, out, alpha=alpha)


def _stage_target(layer: Layer, params: Mapping[str, QuantParams]) -> QuantParams:
    if layer.activation in LUT_ACTIVATIONS:
        return params[f"{layer.name}:pre"]
    return params[layer.name]


def _plan_layer(model: ImportedModel, layer: Layer, params: Mapping[str, QuantParams],
                weights: tuple[np.ndarray, QuantParams, np.ndarray] | None, fc_rounding: str = "double") -> LayerPlan:
    ins = [params[n] for n in layer.inputs]
    out = params[layer.name]
    lut = layer.activation in LUT_ACTIVATIONS
    target = _stage_target(layer, params)
    fused = "none" if lut else _fused(layer)
    table = _table(model, layer, target, out) if lut else None
    if layer.op is Op.PRELU:
        codes, wp, _ = weights
        return LayerPlan(codes, slope=wp)
    if layer.op in _WEIGHTED:
        codes, wp, bias = weights
        rounding = fc_rounding if layer.op is Op.FC else "double"
        stage = OutputStage.for_layer(ins[0], wp, target, fused, rounding)
        return LayerPlan(codes, wp.zero_point, bias, stage, table=table)
    if layer.op is Op.ADD:
        if len(ins) != 2:
            raise ValueError(f"layer '{layer.name}': integer add takes 2 inputs, got {len(ins)}")
        return LayerPlan(add=AddParams.from_params(ins[0], ins[1], target, fused), table=table)
    if layer.op is Op.MUL:
        real = float(ins[0].scale) * float(ins[1].scale) / float(target.scale)
        return LayerPlan(stage=OutputStage.from_real(real, target, fused), table=table)
    if layer.op is Op.ACTIVATION:
        if layer.activation in LUT_ACTIVATIONS or layer.activation in (Activation.RELU, Activation.RELU6):
            return LayerPlan(table=_table(model, layer, ins[0], out))
    return LayerPlan()


def plan_prequantized(model: ImportedModel) -> IntegerPlan:
    """Integer plan from a pre-quantized model's own codes and parameters.

    FULLY_CONNECTED requantizes with ``rounding="float"``: the reference FC kernel
    of ai-edge-litert 2.3.0 computes ``round_half_away(acc * M)`` in float64 (an
    upstream change; see :mod:`sw.golden.requant`), verified on adversarial near-tie
    accumulators in tests/golden/test_tflite_oracle.py. Conv, depthwise and add use
    TFLite's integer double rounding.
    """
    if model.quant is None:
        raise ValueError(f"model '{model.graph.name}' carries no quantization parameters")
    layers = {}
    for layer in model.graph:
        if layer.activation in LUT_ACTIVATIONS:
            raise ValueError(f"layer '{layer.name}': fused {layer.activation.value} has no bit-exact int8 kernel here")
        weights = None
        if layer.op in _WEIGHTED:
            key = f"{layer.name}.weight"
            weights = (model.tensors[key], model.quant[key], model.tensors.get(f"{layer.name}.bias"))
        elif layer.op is Op.PRELU:
            key = f"{layer.name}.alpha"
            weights = (model.tensors[key], model.quant[key], None)
        layers[layer.name] = _plan_layer(model, layer, model.quant, weights, fc_rounding="float")
    return IntegerPlan(layers, model.quant)


#: Weight range rules of :func:`plan_calibrated`: FQN's per-channel min/max, or least quantization MSE.
WEIGHT_RANGES = ("minmax", "mse")


def layer_weight_params(w: np.ndarray, b: np.ndarray | None, inp: QuantParams, bits: int, *,
                        granularity: Granularity = "per_channel", symmetric: bool = False,
                        ranges: str = "minmax") -> QuantParams:
    """Weight parameters of one layer, with each channel's range widened where needed so that its int32 bias
    ``b / (s_in * s_w)`` fits: a channel of (near-)zero weights with a real bias (a dead channel after
    batch-norm folding) would otherwise get a scale of ~1e-27.

    ``ranges``: ``"minmax"`` (FQN eq. 9-10) or ``"mse"`` (per channel, least quantization
    MSE: :func:`sw.quant.mse.mse_weight_params`; per-channel asymmetric grids only).
    """
    if ranges not in WEIGHT_RANGES:
        raise ValueError(f"weight ranges: expected one of {', '.join(WEIGHT_RANGES)}, got {ranges!r}")
    if ranges == "mse":
        if granularity != "per_channel" or symmetric:
            raise ValueError("weight ranges 'mse': per-channel asymmetric weights only")
        wp = mse_weight_params(w, bits)
    else:
        wp = weight_params(w, bits, granularity=granularity, symmetric=symmetric)
    if b is None or granularity != "per_channel":
        return wp
    return widen_for_bias(wp, w, b, inp, symmetric=symmetric)


def widen_for_bias(wp: QuantParams, w: np.ndarray, b: np.ndarray, inp: QuantParams, *,
                   symmetric: bool = False) -> QuantParams:
    """Per-channel weight parameters ``wp`` with every channel whose int32 bias ``b / (s_in * s_w)``
    would overflow given the range of its weights ``w`` widened to at least twice the smallest span
    that keeps the bias in int32 (zero-centred); the other channels keep ``wp``'s grid."""
    need = np.abs(np.asarray(b, dtype=np.float64)) / (float(inp.scale) * INT32_MAX)
    widen = np.asarray(wp.scale) < need
    if not np.any(widen):
        return wp
    flat = np.asarray(w, dtype=np.float64).reshape(w.shape[0], -1)
    span = 2.0 * need * (2**wp.bits - 1)  # twice the smallest range whose scale keeps the bias in int32
    wide = params_from_range(np.minimum(flat.min(axis=1), -span / 2), np.maximum(flat.max(axis=1), span / 2),
                             wp.bits, wp.signed, symmetric=symmetric, axis=0)
    return QuantParams(wp.bits, wp.signed, np.where(widen, wide.scale, wp.scale),
                       np.where(widen, wide.zero_point, wp.zero_point).astype(np.int64), axis=0)


def plan_calibrated(model: ImportedModel, params: Mapping[str, QuantParams], *,
                    granularity: Granularity = "per_channel", symmetric_weights: bool = False,
                    weight_ranges: str = "minmax",
                    weights: Mapping[str, tuple[np.ndarray, QuantParams, np.ndarray]] | None = None) -> IntegerPlan:
    """Integer plan of a float model from calibrated activation parameters.

    Weights are quantized per output channel with min/max ranges at the layer's
    ``w_bits`` (FQN eq. 9-10); biases to int32 at ``s_in * s_w[o]``.
    ``params`` must hold every graph input, every layer output, every
    ``"<layer>:pre"`` of a fused look-up-table activation and every tail output
    (as :func:`sw.runtime.executor.calibrate` returns).
    ``granularity="per_tensor"`` (one min/max range per layer) and
    ``symmetric_weights=True`` (zero point 0, the TFLite weight convention) are
    options for ablations and for weight codes without a zero point (the RTL array);
    ``weight_ranges="mse"`` clips each channel's range where its quantization MSE is least.
    ``weights`` optionally gives layers' ``(weight codes, weight parameters, int32
    bias)`` directly (rounding optimised by :mod:`sw.train`); other layers are
    quantized from ``model.tensors``.
    """
    layers = {}
    for layer in model.graph:
        if is_float_layer(layer):
            layers[layer.name] = LayerPlan()
            continue
        for bits in (layer.w_bits, layer.a_bits):
            if not 2 <= bits <= 8:
                raise ValueError(f"layer '{layer.name}': integer execution needs 2..8-bit widths "
                                 f"(or 32 for float), got w_bits={layer.w_bits}, a_bits={layer.a_bits}")
        quantized = None
        if weights is not None and layer.name in weights:
            quantized = weights[layer.name]
        elif layer.op is Op.PRELU:
            alpha = model.tensors[f"{layer.name}.alpha"]
            lo, hi = min(float(alpha.min()), 0.0), max(float(alpha.max()), 0.0)
            sp = params_from_range(lo, hi, PRELU_SLOPE_BITS, True)
            quantized = (sp.quantize(alpha), sp, None)
        elif layer.op in _WEIGHTED:
            w = model.tensors[f"{layer.name}.weight"]
            b = model.tensors.get(f"{layer.name}.bias")
            wp = layer_weight_params(w, b, params[layer.inputs[0]], layer.w_bits, granularity=granularity,
                                     symmetric=symmetric_weights, ranges=weight_ranges)
            bias = quantize_bias(np.zeros(w.shape[0]) if b is None else b, params[layer.inputs[0]], wp)
            quantized = (wp.quantize(w), wp, bias)
        layers[layer.name] = _plan_layer(model, layer, params, quantized)
    return IntegerPlan(layers, params)


def _int_layer(layer: Layer, plan: LayerPlan, xs: list[np.ndarray], params: Mapping[str, QuantParams]) -> np.ndarray:
    op, x = layer.op, xs[0]
    zin = [int(params[n].zero_point) for n in layer.inputs]
    if op in (Op.CONV, Op.DEPTHWISE):
        out = conv2d(x, plan.weights, plan.bias, plan.stage, input_zero_point=zin[0],
                     weight_zero_point=plan.weight_zero_point, stride=layer.stride, dilation=layer.dilation,
                     padding=layer.padding, groups=layer.groups)
    elif op is Op.CONV_TRANSPOSE:
        out = transpose_conv_int(x, plan.weights, plan.bias, plan.stage, input_zero_point=zin[0],
                                 weight_zero_point=plan.weight_zero_point, out_hw=layer.out_shape[:2],
                                 stride=layer.stride, dilation=layer.dilation, padding=layer.padding)
    elif op is Op.DEPTH_TO_SPACE:
        out = depth_to_space(x, layer.stride[0])
    elif op is Op.PRELU:
        out = prelu_int(x, plan.weights, params[layer.inputs[0]], plan.slope, params[layer.name])
    elif op is Op.RESIZE_BILINEAR:
        out = resize_bilinear_int(x, layer.out_shape[:2], layer.resize)
    elif op is Op.FC:
        out = fully_connected(x.reshape(-1, layer.weight_count // layer.out_shape[2]), plan.weights, plan.bias,
                              plan.stage, input_zero_point=zin[0], weight_zero_point=plan.weight_zero_point)
        out = out.reshape(-1, *layer.out_shape)
    elif op is Op.ADD:
        out = add(xs[0], xs[1], plan.add)
    elif op is Op.MUL:
        a, b = np.broadcast_arrays(xs[0].astype(np.int64) - zin[0], xs[1].astype(np.int64) - zin[1])
        out = plan.stage.apply(a * b)
    elif op is Op.CONCAT:
        out = concat(xs, [params[n] for n in layer.inputs], params[layer.name])
    elif op is Op.UPSAMPLE:
        out = _upsample(x, layer)
    elif op is Op.MAXPOOL:
        out = max_pool2d(x, layer.kernel, layer.stride, layer.padding)
    elif op is Op.AVGPOOL:
        out = avg_pool2d(x, layer.kernel, layer.stride, layer.padding)
    elif op is Op.GLOBAL_AVGPOOL:
        out = avg_pool2d(x, x.shape[1:3], 1)
    elif op is Op.PAD:
        out = _pad(x, layer, zin[0])
    elif op is Op.ACTIVATION:
        out = x
    else:
        raise ValueError(f"layer '{layer.name}': op {op.value} has no integer kernel")
    if plan.table is not None:
        out = apply_table(out, plan.table)
    return out


def run_integer(model: ImportedModel, plan: IntegerPlan, codes: Mapping[str, np.ndarray],
                observe: Callable[[str, np.ndarray], None] | None = None) -> dict[str, np.ndarray]:
    """Run the integer plan on graph-input codes (external layout); returns output codes by name (int64).

    Inputs consumed only by float layers, and outputs of float layers with
    ``a_bits`` 32, are reals (float64) instead of codes.

    Output tensors keep their own parameters (``plan.params[name]``); a tail
    concatenation requantizes its inputs to its output's parameters.
    ``observe`` optionally receives ``(tensor name, int64 codes)`` of every graph
    input and layer output in the internal (NHWC) layout, as
    :func:`sw.runtime.floatexec.run_float`'s hook does for reals.
    """
    env: dict[str, np.ndarray] = {}
    for name in model.input_names:
        x = np.asarray(codes[name])
        env[name] = model.from_native(name, x if x.dtype.kind == "f" else x.astype(np.int64))
        if observe:
            observe(name, env[name])
    for layer in model.graph:
        env[layer.name] = run_layer(model, plan, layer, [env[n] for n in layer.inputs])
        if observe:
            observe(layer.name, env[layer.name])
    return integer_outputs(model, plan, env)


def run_layer(model: ImportedModel, plan: IntegerPlan, layer: Layer, xs: list[np.ndarray]) -> np.ndarray:
    """One layer of :func:`run_integer` (internal layout): codes in, codes out; a float layer
    (``a_bits`` 32) takes reals or codes and returns reals."""
    if is_float_layer(layer):
        xs = [_as_real(n, x, plan.params) for n, x in zip(layer.inputs, xs)]
        out = float_layer_activated(model, layer, xs)
        return out if layer.a_bits == FLOAT_BITS else plan.params[layer.name].quantize(out)
    xs = [plan.params[n].quantize(x) if x.dtype.kind == "f" else x for n, x in zip(layer.inputs, xs)]
    return _int_layer(layer, plan.layers[layer.name], xs, plan.params)


def integer_outputs(model: ImportedModel, plan: IntegerPlan, env: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The graph outputs of :func:`run_integer` (external layout, tail applied) from every layer's tensor ``env``."""
    native = {name: model.to_native(name, env[name]) for name in model.native_shapes
              if name in env and name not in model.input_names}
    for op in model.tail:
        arrays = [native[n] for n in op.inputs]
        if op.kind == "concat" and any(a.dtype.kind == "f" for a in arrays):
            native[op.output] = np.concatenate([_as_real(n, a, plan.params) for n, a in zip(op.inputs, arrays)], op.axis)
        elif op.kind == "concat":
            native[op.output] = concat(arrays, [plan.params[n] for n in op.inputs], plan.params[op.output], op.axis)
        else:
            native[op.output] = op.apply(arrays)
    return {name: native[name] for name in model.outputs}


def _as_real(name: str, x: np.ndarray, params: Mapping[str, QuantParams]) -> np.ndarray:
    """Reals of a tensor that holds either reals (float layers' outputs) or codes."""
    return x if x.dtype.kind == "f" else params[name].dequantize(x)


def tail_params(model: ImportedModel, params: dict[str, QuantParams]) -> None:
    """Give reshape / transpose tail outputs their input's parameters (in place); real inputs have none."""
    for op in model.tail:
        if op.kind != "concat" and op.inputs[0] in params:
            params[op.output] = params[op.inputs[0]]
