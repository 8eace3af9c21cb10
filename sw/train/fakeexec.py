"""Differentiable fake-quantized execution of the IR, mirroring the integer golden model (JAX).

Every tensor is carried as integer codes in floats, with the parameters the
integer plan uses (:func:`sw.runtime.integer.plan_calibrated`), so that the
forward pass, read as codes, is the golden model's output up to the rounding of
near-ties:

* conv / depthwise / grouped / fc: centered weight codes
  ``clamp(round(W / s_w) + z_w) - z_w`` on the layer's per-channel grid, int32
  bias ``round(b / (s_in s_w))``, accumulator ``sum (q_in - z_in)(q_w - z_w) + bias``,
  output ``clamp(MBQM(acc, M) + z_out, act_min, act_max)`` with
  ``M = s_in s_w / s_out``, the golden model's double rounding
  (:func:`sw.train.fakequant.mbqm_ste`) and the fused ReLU / ReLU6 clamp bounds
  (:func:`sw.golden.requant.activation_range`).
* look-up-table activations (fused or stand-alone): requantize to ``"<layer>:pre"``,
  then ``clamp(round(f(s_pre (q - z_pre)) / s_out) + z_out)`` with the same float
  functions the tables are built from (:data:`sw.golden.activation.ACTIVATIONS`).
* add / concat / mul: the golden model's fixed-point forms (TFLite ADD with
  inputs pre-shifted by 2**20, concat rescaling likewise, MBQM of the product
  of centered codes), each MBQM by :func:`sw.train.fakequant.mbqm_ste`.
* max / average / global average pooling, nearest upsampling, pad: on codes as
  the golden model does (average: rounded half away from zero; pads hold the zero point).

Rounding is half away from zero with straight-through gradients
(:mod:`sw.train.fakequant`). Activation scales can be learned (``scales`` of
:meth:`FakeQuantGraph.forward`, :mod:`sw.train.brecq`): requantizations that
involve a learned scale use the golden model's double rounding with an
unquantized mantissa (:func:`sw.train.fakequant.mbqm_learned_ste`); the exported
plan recomputes ``(m, shift)``. Training runs in float32; inside
``jax.enable_x64(True)`` with float64 weights and codes, accumulators are exact
and the forward pass reproduces the golden model's codes (measured in
tests/train/test_fakeexec.py). Depthwise convolutions use the shift-and-add form
(:mod:`sw.train.depthwise`). Float layers (32-bit widths) are not supported.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from sw.golden.elementwise import LEFT_SHIFT
from sw.golden.requant import activation_range
from sw.graph.ir import Activation, Layer, Op
from sw.graph.model import ImportedModel
from sw.quant.params import QuantParams
from sw.quant.ranges import Granularity
from sw.runtime.floatexec import LUT_ACTIVATIONS
from sw.runtime.integer import (PASS_THROUGH, IntegerPlan, is_float_layer, layer_weight_params, plan_calibrated,
                                tail_params, widen_for_bias)
from sw.quant.folding import quantize_bias
from sw.train.depthwise import depthwise_grouped, depthwise_shift_add
from sw.train.fakequant import clamp_ste, exact_div, mbqm_learned_ste, mbqm_ste, quantize_ste, round_ste, weight_codes_ste
from sw.train.jaxdeps import jax_modules

__all__ = ["FakeQuantGraph", "WEIGHTED_OPS", "with_scales", "with_weight_scales", "learned_weight_codes",
           "learnable_tensors", "alias_scales"]

jax, jnp, lax = jax_modules("the fake-quant executor (sw.train)")

WEIGHTED_OPS = frozenset({Op.CONV, Op.DEPTHWISE, Op.FC})
_CLAMPS = {Activation.RELU: "relu", Activation.RELU6: "relu6"}


def _scalar(p: QuantParams) -> tuple[float, float]:
    return float(p.scale), float(p.zero_point)


@dataclass(frozen=True)
class FakeQuantGraph:
    """A float model with fixed activation and weight grids, executable as fake-quantized codes.

    Parameters
    ----------
    model
        Imported float model at its final bit widths (``model.with_bits(...)``).
    params
        Activation parameters of every tensor the integer plan needs
        (:func:`sw.runtime.executor.calibrate`).
    weight_grids
        Per-channel weight parameters of every conv / depthwise / fc layer; the
        grid stays fixed while the weights train.
    depthwise
        ``"shift_add"`` (fast on CPU) or ``"grouped"`` (XLA grouped convolution).
    """

    model: ImportedModel
    params: Mapping[str, QuantParams]
    weight_grids: Mapping[str, QuantParams]
    depthwise: str = "shift_add"

    def __post_init__(self) -> None:
        for layer in self.model.graph:
            if is_float_layer(layer):
                raise ValueError(f"layer '{layer.name}': float layers (32-bit widths) have no fake-quant form")
            if layer.op in WEIGHTED_OPS and layer.name not in self.weight_grids:
                raise ValueError(f"layer '{layer.name}': no weight grid")
        if self.depthwise not in ("shift_add", "grouped"):
            raise ValueError(f"depthwise: expected 'shift_add' or 'grouped', got {self.depthwise!r}")

    @classmethod
    def from_calibration(cls, model: ImportedModel, params: Mapping[str, QuantParams],
                         depthwise: str = "shift_add", weight_ranges: str = "minmax",
                         symmetric_weights: bool = False,
                         granularity: Granularity = "per_channel") -> "FakeQuantGraph":
        """Grids as :func:`sw.runtime.integer.plan_calibrated` makes them (``granularity``, ``weight_ranges``,
        zero point 0 if ``symmetric_weights``)."""
        grids = {l.name: layer_weight_params(model.tensors[f"{l.name}.weight"], model.tensors.get(f"{l.name}.bias"),
                                             params[l.inputs[0]], l.w_bits, ranges=weight_ranges,
                                             symmetric=symmetric_weights, granularity=granularity)
                 for l in model.graph if l.op in WEIGHTED_OPS}
        return cls(model, dict(params), grids, depthwise)

    def initial_weights(self, dtype: type = np.float32) -> dict[str, dict[str, np.ndarray]]:
        """Trainable float weights ``{layer: {"w": ..., "b": ...}}`` from the model's tensors."""
        out = {}
        for layer in self.model.graph:
            if layer.op in WEIGHTED_OPS:
                w = self.model.tensors[f"{layer.name}.weight"]
                b = self.model.tensors.get(f"{layer.name}.bias")
                out[layer.name] = {"w": np.asarray(w, dtype=dtype),
                                   "b": np.zeros(w.shape[0], dtype) if b is None else np.asarray(b, dtype=dtype)}
        return out

    def input_codes(self, inputs: Mapping[str, np.ndarray], dtype: type = np.float32) -> dict[str, np.ndarray]:
        """Graph-input codes (NHWC, ``dtype``) of one sample given in the external layout."""
        return {n: self.params[n].quantize(self.model.from_native(n, np.asarray(inputs[n], np.float64)))
                .astype(dtype) for n in self.model.input_names}

    def to_plan(self, weights: Mapping[str, Mapping[str, np.ndarray]]) -> IntegerPlan:
        """The integer plan of trained ``weights`` on the fixed grids (what the forward pass mirrors).

        A channel whose trained bias no longer fits int32 at its grid (a near-zero-weight channel whose
        bias moved, e.g. with live batch norm) gets the widened grid calibration would give it
        (:func:`sw.runtime.integer.widen_for_bias`; grids with zero point 0 throughout stay symmetric);
        the forward pass does not mirror such channels' weight codes.
        """
        quantized = {}
        for name, wb in weights.items():
            layer = self.model.graph.layer(name)
            b, w = np.asarray(wb["b"], dtype=np.float64), np.asarray(wb["w"], dtype=np.float64)
            grid = self.weight_grids[name]
            wp = grid if np.ndim(grid.scale) == 0 else widen_for_bias(
                grid, w, b, self.params[layer.inputs[0]], symmetric=not np.any(grid.zero_point))
            bias = quantize_bias(b, self.params[layer.inputs[0]], wp)
            quantized[name] = (wp.quantize(w), wp, bias)
        return plan_calibrated(self.model, self.params, weights=quantized)

    def forward(self, weights, codes, scales: Mapping | None = None) -> dict:
        """Codes of every graph input and layer output (NHWC float arrays, batch on axis 0).

        Parameters
        ----------
        weights
            ``{layer: {"w", "b"}}`` float weights (a JAX pytree; gradients flow to them); ``{"codes", "b"}``
        gives the centered weight codes ``q - z_w`` directly (e.g. soft AdaRound codes).
        codes
            Graph-input codes ``{name: [N, H, W, C]}`` (see :meth:`input_codes`).
        scales
            Optional learned activation scales ``{tensor: scalar}`` (JAX values, gradients flow to them)
            replacing ``params[tensor].scale``; zero points stay. Pass-through layers of such a tensor
            need their own entry (the same value). Requantizations touching a learned scale use
            :func:`sw.train.fakequant.mbqm_learned_ste`. A layer's ``{"w", "b", "log_s"}`` learns its
            per-channel weight step sizes (:func:`learned_weight_codes`).
        """
        env = dict(codes)
        for layer in self.model.graph:
            env[layer.name] = self.layer(layer, weights.get(layer.name), [env[n] for n in layer.inputs], scales)
        return env

    def layerwise(self, weights, env) -> dict:
        """Every layer's output codes from the given codes of its inputs (teacher forcing).

        ``env`` holds codes of every graph input and layer output (e.g. the golden
        model's, from :func:`sw.runtime.integer.run_integer`'s ``observe``); the
        result isolates each layer's agreement from errors of the layers before it.
        """
        return {layer.name: self.layer(layer, weights.get(layer.name), [env[n] for n in layer.inputs])
                for layer in self.model.graph}

    def dequantize(self, name: str, q, scales: Mapping | None = None):
        """Reals ``s (q - z)`` of a tensor's codes (``s`` from ``scales`` if learned there)."""
        s, z = self._sz(name, scales)
        return s * (q - z)

    def _sz(self, name: str, scales: Mapping | None):
        """``(scale, zero point)`` of a tensor: the learned scale if ``scales`` has one, else the fixed one."""
        s, z = _scalar(self.params[name])
        return (scales[name] if scales is not None and name in scales else s), z

    def _requantize(self, layer: Layer, x, multiplier, scales):
        """``clamp(MBQM(x, M) + z, lo, hi)`` into the stage target, then a LUT activation if any."""
        lut = layer.activation in LUT_ACTIVATIONS
        key = f"{layer.name}:pre" if lut else layer.name
        target = self.params[key]
        fused = "none" if lut else _CLAMPS.get(layer.activation, "none")
        s, z = self._sz(key, scales)
        if isinstance(s, float):
            lo, hi = activation_range(fused, target)
        else:  # learned scale: the ReLU6 bound moves with it
            lo = max(target.qmin, int(z)) if fused != "none" else target.qmin
            hi = (jnp.minimum(target.qmax, lax.stop_gradient(round_ste(exact_div(jnp.full_like(s, 6.0), s))) + z)
                  if fused == "relu6" else target.qmax)
        q = clamp_ste(_mbqm(x, multiplier) + z, lo, hi)
        return self._table(layer, q, key, scales) if lut else q

    def _table(self, layer: Layer, q, inp: str, scales):
        s_in, z_in = self._sz(inp, scales)
        real = s_in * (q - z_in)
        if layer.activation is Activation.LEAKY_RELU:
            alpha = self.model.leaky_alpha.get(layer.name, 0.1)
            y = jnp.where(real >= 0, real, alpha * real)
        elif layer.activation is Activation.SIGMOID:
            y = 0.5 * (1.0 + jnp.tanh(0.5 * real))
        elif layer.activation is Activation.SILU:
            y = real * 0.5 * (1.0 + jnp.tanh(0.5 * real))
        elif layer.activation.value in _JNP_ACTIVATIONS:
            y = _JNP_ACTIVATIONS[layer.activation.value](real)
        else:
            raise ValueError(f"layer '{layer.name}': activation {layer.activation.value} has no fake-quant form")
        out = self.params[layer.name]
        s_out, z_out = self._sz(layer.name, scales)
        return quantize_ste(y, s_out, z_out, out.qmin, out.qmax)

    def _weighted(self, layer: Layer, wb, x, scales):
        wp = self.weight_grids[layer.name]
        s_in, z_in = self._sz(layer.inputs[0], scales)
        if "log_s" in wb:  # learned per-channel weight step sizes
            w, s_w, unit = learned_weight_codes(wb["w"], wb["log_s"], wp)
            s_fixed = jax.lax.stop_gradient(s_w)
        else:
            w = wb["codes"] if "codes" in wb else weight_codes_ste(wb["w"], wp)  # centered codes given (AdaRound)
            s_w = s_fixed = wp.scale  # float64: the products below round once, as the golden model's
            unit = 1.0
        if isinstance(s_in, float):  # one division, as quantize_bias rounds it
            bias = round_ste(exact_div(wb["b"], s_fixed * s_in))
        else:  # learned input scale: divide by the weight scale first, so that the gradient
            # -b / (s_w s_in)^2 does not underflow to 0 / 0 where a dead channel's s_w is ~1e-27
            bias = round_ste(exact_div(exact_div(wb["b"], s_fixed), s_in))
        acc = self.conv(layer, x - z_in, w)
        lut = layer.activation in LUT_ACTIVATIONS
        s_t, _ = self._sz(f"{layer.name}:pre" if lut else layer.name, scales)
        multiplier = (s_in * s_w) / s_t
        return self._requantize(layer, acc + bias * unit, multiplier, scales)

    def conv(self, layer: Layer, x, w):
        """The conv / depthwise / fc product of ``x`` ``[N, H, W, C]`` and ``w`` (OHWI), no bias: on
        centered codes in the forward pass, on reals for batch statistics (:mod:`sw.train.livebn`)."""
        if layer.op is Op.FC:
            return (x.reshape(x.shape[0], -1) @ w.reshape(w.shape[0], -1).T).reshape(x.shape[0], 1, 1, -1)
        if layer.op is Op.DEPTHWISE and layer.groups == x.shape[-1]:
            conv = depthwise_shift_add if self.depthwise == "shift_add" else depthwise_grouped
            return conv(x, w, layer.stride, layer.dilation, layer.padding)
        return lax.conv_general_dilated(x, w, window_strides=layer.stride, padding=layer.padding,
                                        rhs_dilation=layer.dilation, dimension_numbers=("NHWC", "OHWI", "NHWC"),
                                        feature_group_count=layer.groups)

    def layer(self, layer: Layer, wb, xs: list, scales: Mapping | None = None):
        """Output codes of one layer from its inputs' codes ``xs`` (``wb``: its weights; ``scales``: see
        :meth:`forward`)."""
        op, x = layer.op, xs[0]
        if op in WEIGHTED_OPS:
            return self._weighted(layer, wb, x, scales)
        ins = [self.params[n] for n in layer.inputs]
        if op in PASS_THROUGH:
            return self._pass_through(layer, x, ins[0])
        lut = layer.activation in LUT_ACTIVATIONS
        s_t, _ = self._sz(f"{layer.name}:pre" if lut else layer.name, scales)
        sz = [self._sz(n, scales) for n in layer.inputs]
        if op is Op.ADD:
            if len(xs) != 2:
                raise ValueError(f"layer '{layer.name}': add takes 2 inputs, got {len(xs)}")
            # TFLite ADD (sw.golden.elementwise): both inputs rescaled to 2 max(s_a, s_b) / 2**20 units first.
            twice_max = 2.0 * _max(s for s, _ in sz)
            acc = sum(_mbqm((q - z) * float(1 << LEFT_SHIFT), s / twice_max) for q, (s, z) in zip(xs, sz))
            return self._requantize(layer, acc, twice_max / ((1 << LEFT_SHIFT) * s_t), scales)
        if op is Op.MUL:
            real = (xs[0] - sz[0][1]) * (xs[1] - sz[1][1])
            return self._requantize(layer, real, sz[0][0] * sz[1][0] / s_t, scales)
        if op is Op.CONCAT:
            out = self.params[layer.name]
            s_out, z_out = self._sz(layer.name, scales)
            parts = [q if isinstance(s_out, float) and isinstance(s, float) and _same(p, out) else
                     clamp_ste(_mbqm((q - z) * float(1 << LEFT_SHIFT), s / (s_out * (1 << LEFT_SHIFT))) + z_out,
                              out.qmin, out.qmax)
                     for q, p, (s, z) in zip(xs, ins, sz)]
            return jnp.concatenate(parts, axis=-1)
        if op is Op.ACTIVATION:
            return self._table(layer, x, layer.inputs[0], scales) if layer.activation is not None else x
        raise ValueError(f"layer '{layer.name}': op {op.value} has no fake-quant form")

    def _pass_through(self, layer: Layer, x, inp: QuantParams):
        op = layer.op
        if op is Op.MAXPOOL:
            (pt, pb), (pl, pr) = layer.padding
            return lax.reduce_window(x, -jnp.inf, lax.max, (1, *layer.kernel, 1), (1, *layer.stride, 1),
                                     ((0, 0), (pt, pb), (pl, pr), (0, 0)))
        if op in (Op.AVGPOOL, Op.GLOBAL_AVGPOOL):
            kernel = x.shape[1:3] if op is Op.GLOBAL_AVGPOOL else layer.kernel
            stride = (1, 1) if op is Op.GLOBAL_AVGPOOL else layer.stride
            pads = ((0, 0), (0, 0)) if op is Op.GLOBAL_AVGPOOL else layer.padding
            window = ((0, 0), *pads, (0, 0))
            total = lax.reduce_window(x, 0.0, lax.add, (1, *kernel, 1), (1, *stride, 1), window)
            count = lax.reduce_window(jnp.ones((1, *x.shape[1:3], 1), x.dtype), 0.0, lax.add,
                                      (1, *kernel, 1), (1, *stride, 1), window)
            return round_ste(exact_div(total, count))
        if op is Op.UPSAMPLE:
            ho, wo, _ = layer.out_shape
            up = jnp.repeat(jnp.repeat(x, layer.stride[0], axis=1), layer.stride[1], axis=2)
            return up[:, :ho, :wo]
        if op is Op.PAD:
            (t, b), (l, r) = layer.padding
            extra = layer.out_shape[2] - x.shape[3]
            return jnp.pad(x, ((0, 0), (t, b), (l, r), (0, extra)), constant_values=float(inp.zero_point))
        raise ValueError(f"layer '{layer.name}': op {op.value} has no fake-quant form")


def learned_weight_codes(w, log_s, wp: QuantParams):
    """Centered codes ``clamp(round(w / s) + z) - z`` on a grid with learned per-channel step sizes ``s = exp(log_s)``.

    Returns ``(codes, s, unit)``. The division uses ``s`` without its gradient and then multiplies by
    ``unit`` (exactly 1 forward, ``d unit / d log_s = -1``), so ``d (w / s) / d log_s = -w / s`` is formed
    without ``s**2`` (which underflows in float32 for a dead channel's ~1e-27 scale): the codes get LSQ's
    gradient (Esser et al. 2020). The caller multiplies the integer bias by ``unit`` too: the bias code
    ``b / (s_in s)`` and the multiplier's ``s`` then cancel in the gradient, as they do in the real value.
    Zero points stay.
    """
    shape = (-1,) + (1,) * (w.ndim - 1)
    s = jnp.exp(log_s)
    unit = 1.0 - (log_s - jax.lax.stop_gradient(log_s))
    zp = np.asarray(wp.zero_point, dtype=np.float64).reshape(shape)
    ratio = exact_div(w, jax.lax.stop_gradient(s).reshape(shape)) * unit.reshape(shape)
    return clamp_ste(round_ste(ratio) + zp, wp.qmin, wp.qmax) - zp, s, unit


def with_weight_scales(grids: Mapping[str, QuantParams],
                       log_scales: Mapping[str, np.ndarray]) -> dict[str, QuantParams]:
    """``grids`` with the per-channel step sizes ``exp(log_scales[layer])`` (float64) of the named layers, zero
    points kept."""
    out = dict(grids)
    for name, log_s in log_scales.items():
        g = out[name]
        scale = np.exp(np.asarray(log_s, dtype=np.float64))
        if scale.shape != np.shape(g.scale) or not np.all(np.isfinite(scale) & (scale > 0.0)):
            raise ValueError(f"layer '{name}': learned weight step sizes must be finite and > 0, one per channel")
        out[name] = QuantParams(bits=g.bits, signed=g.signed, scale=scale, zero_point=g.zero_point, axis=g.axis)
    return out


def with_scales(model: ImportedModel, params: Mapping[str, QuantParams],
                scales: Mapping[str, float]) -> dict[str, QuantParams]:
    """``params`` with new scales of the named tensors (zero points kept); pass-through layers and
    reshape / transpose tails take their input's parameters again."""
    out = dict(params)
    for name, scale in scales.items():
        p = out[name]
        out[name] = QuantParams(bits=p.bits, signed=p.signed, scale=np.float64(scale), zero_point=p.zero_point)
    out = alias_scales(model, out)
    tail_params(model, out)
    return out


def learnable_tensors(model: ImportedModel) -> tuple[str, ...]:
    """Tensors with a quantizer of their own, in graph order: every layer output except pass-through
    layers' (they share their input's), and the pre-activation stage ``NAME:pre`` of a layer followed
    by a table activation (:data:`sw.runtime.floatexec.LUT_ACTIVATIONS`). Graph inputs are not included."""
    out: list[str] = []
    for layer in model.graph:
        if layer.op in PASS_THROUGH:
            continue
        if layer.activation in LUT_ACTIVATIONS and layer.op is not Op.ACTIVATION:
            out.append(f"{layer.name}:pre")
        out.append(layer.name)
    return tuple(out)


def alias_scales(model: ImportedModel, scales: Mapping) -> dict:
    """``scales`` (or any per-tensor mapping) with an entry for every pass-through layer whose input
    has one (the same value), as :meth:`FakeQuantGraph.forward` needs."""
    out = dict(scales)
    for layer in model.graph:
        if layer.op in PASS_THROUGH and layer.inputs[0] in out:
            out[layer.name] = out[layer.inputs[0]]
    return out


def _max(values):
    """``max`` of Python floats, or ``jnp.maximum`` once a learned (JAX) scale is among them."""
    values = list(values)
    if all(isinstance(v, float) for v in values):
        return max(values)
    out = values[0]
    for v in values[1:]:
        out = jnp.maximum(out, v)
    return out


def _mbqm(x, multiplier):
    """:func:`mbqm_ste` for fixed multipliers, :func:`mbqm_learned_ste` for one depending on a learned scale."""
    if isinstance(multiplier, (float, np.floating, np.ndarray)):
        return mbqm_ste(x, multiplier)
    return mbqm_learned_ste(x, multiplier)


def _same(a: QuantParams, b: QuantParams) -> bool:
    return a.bits == b.bits and float(a.scale) == float(b.scale) and int(a.zero_point) == int(b.zero_point)


def _erf(x):
    from jax.scipy.special import erf  # a submodule ``import jax`` does not load

    return erf(x)


_JNP_ACTIVATIONS = {
    "relu": lambda x: jnp.maximum(x, 0.0),
    "relu6": lambda x: jnp.clip(x, 0.0, 6.0),
    "hardswish": lambda x: exact_div(x * jnp.clip(x + 3.0, 0.0, 6.0), 6.0),
    "hardsigmoid": lambda x: exact_div(jnp.clip(x + 3.0, 0.0, 6.0), 6.0),
    "gelu": lambda x: 0.5 * x * (1.0 + _erf(x * math.sqrt(0.5))),
    "tanh": jnp.tanh,
}
