"""Per-layer quantization sensitivity: the output error when one weighted layer alone is at its low width.

For each weighted layer ``L`` (conv / depthwise / fc, topological order) the model
runs with every layer in float except ``L``, which runs through the integer golden
model at its own widths (weights and activations as the policy set them; its
float input is quantized at ``L``'s activation width; pass-through layers such as
pools that feed ``L`` share its input's grid and run with it). The error is measured on
the graph outputs against the float model, as the signal-to-quantization-noise
ratio

``SQNR = 10 log10(sum(y^2) / sum((y_q - y)^2))``  (dB, summed over the samples),

per output; a layer's sensitivity is its worst (lowest) output SQNR. Outputs with
a range floor (score logits, :func:`sw.runtime.executor.floor_ranges`) are
compared with both ``y`` and ``y_q`` clipped at the floor, since the
quantized model does not resolve values below it. Activation ranges come from one
float calibration pass, exactly as :func:`sw.runtime.executor.calibrate` makes
them. Only ``L`` and the layers depending on it are re-run (the float run's other
tensors are kept: about 0.4 GB per PicoDet sample). numpy only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace

import json
import math

import numpy as np

from sw.graph.ir import FLOAT_BITS, Layer, Op
from sw.graph.model import ImportedModel
from sw.quant.calibration import DEFAULT_GAMMA
from sw.runtime.executor import calibration_ranges, floor_ranges, params_from_ranges, range_observers
from sw.runtime.floatexec import run_float
from sw.runtime.integer import PASS_THROUGH, IntegerPlan, integer_outputs, plan_calibrated, run_layer

__all__ = ["LayerSensitivity", "WEIGHTED", "weighted_layers", "sqnr_db", "layer_sensitivity", "sensitivity_json",
           "parse_sensitivity_json"]

WEIGHTED = (Op.CONV, Op.DEPTHWISE, Op.FC)
Progress = Callable[[Iterable], Iterator]


@dataclass(frozen=True)
class LayerSensitivity:
    """Output error with one layer at its low width.

    Attributes
    ----------
    layer
        Layer name.
    bits
        ``(w_bits, a_bits)`` the layer was measured at.
    output_sqnr_db
        SQNR (dB) of every graph output, by output name (``inf``: no error).
    """

    layer: str
    bits: tuple[int, int]
    output_sqnr_db: Mapping[str, float]

    @property
    def sqnr_db(self) -> float:
        """The worst output's SQNR (dB): lower means more sensitive."""
        return min(self.output_sqnr_db.values())


def weighted_layers(model: ImportedModel) -> list[str]:
    """Names of the integer conv / depthwise / fc layers in topological (graph) order."""
    return [l.name for l in model.graph if l.op in WEIGHTED and l.w_bits != FLOAT_BITS and l.a_bits != FLOAT_BITS]


def sqnr_db(reference: Sequence[np.ndarray], approx: Sequence[np.ndarray]) -> float:
    """``10 log10(sum ref^2 / sum (approx - ref)^2)`` over all arrays (dB); ``inf`` when equal."""
    signal = sum(float(np.sum(np.square(np.asarray(r, np.float64)))) for r in reference)
    noise = sum(float(np.sum(np.square(np.asarray(a, np.float64) - np.asarray(r, np.float64))))
                for r, a in zip(reference, approx, strict=True))
    if noise == 0.0:
        return float("inf")
    if signal == 0.0:
        return float("-inf")
    return 10.0 * np.log10(signal / noise)


def _identity(items: Iterable) -> Iterator:
    return iter(items)


def layer_sensitivity(model: ImportedModel, samples: Sequence[Mapping[str, np.ndarray]], *,
                      ranges: str = "percentile", weight_ranges: str = "minmax", symmetric_weights: bool = False,
                      floors: Mapping[str, float] | None = None, gamma: float = DEFAULT_GAMMA,
                      progress: Progress = _identity) -> tuple[LayerSensitivity, ...]:
    """Sensitivity of every weighted layer of ``model`` at its widths (see the module docstring).

    Parameters
    ----------
    model
        Float model whose graph carries the low widths to test (e.g. ``with_bits`` of w4a4).
    samples
        Inputs (dicts of graph inputs, external layout): calibration and measurement.
    ranges, weight_ranges
        Activation range rule (:data:`sw.runtime.executor.RANGES`) and weight range rule
        (:data:`sw.runtime.integer.WEIGHT_RANGES`); ``symmetric_weights``: zero-point-0 weight grids.
    floors
        Real lower bounds of model outputs (score logits), applied to calibration and comparison.

    Returns
    -------
    tuple of LayerSensitivity
        In topological order of the weighted layers.
    """
    if not samples:
        raise ValueError("sensitivity: no samples")
    names = weighted_layers(model)
    if not names:
        raise ValueError(f"model '{model.graph.name}': no integer conv / depthwise / fc layer to measure")
    floors = dict(floors or {})
    observers = range_observers(model, len(samples), ranges, gamma)
    found = floor_ranges(model, calibration_ranges(model, samples, {ranges: observers})[ranges], floors)

    def clipped(name: str, values: np.ndarray) -> np.ndarray:
        return np.maximum(values, floors[name]) if name in floors else values

    envs, reference = [], []
    for sample in samples:
        env: dict[str, np.ndarray] = {}
        outputs = run_float(model, sample, lambda key, value: env.__setitem__(key, value))
        envs.append(env)
        reference.append({n: clipped(n, v) for n, v in outputs.items()})
    order = list(model.graph)
    floating = model.graph.with_bits(default=(FLOAT_BITS, FLOAT_BITS))
    results = []
    for name in progress(names):
        layer = next(l for l in order if l.name == name)
        widths = {n: (layer.w_bits, layer.a_bits) for n in (name, *_pass_through_feed(order, name))}
        single = replace(model, graph=floating.with_bits(layers=widths))
        params = params_from_ranges(single, found)
        plan = plan_calibrated(single, params, weight_ranges=weight_ranges, symmetric_weights=symmetric_weights)
        outs: dict[str, list[np.ndarray]] = {n: [] for n in model.outputs}
        for ref_env in envs:
            for n, v in _rerun_from(single, plan, tuple(widths), ref_env).items():
                outs[n].append(clipped(n, params[n].dequantize(v) if v.dtype.kind in "iu" else v))
        per_output = {n: sqnr_db([r[n] for r in reference], outs[n]) for n in model.outputs}
        results.append(LayerSensitivity(layer=name, bits=(layer.w_bits, layer.a_bits), output_sqnr_db=per_output))
    return tuple(results)


def _pass_through_feed(order: Sequence[Layer], name: str) -> list[str]:
    """The pass-through layers (pools, pads, ...) feeding layer ``name`` directly or through each other:
    they share their input's quantization grid, so they run at the layer's widths with it."""
    by_name = {l.name: l for l in order}
    found, stack = [], list(by_name[name].inputs)
    while stack:
        producer = by_name.get(stack.pop())
        if producer is not None and producer.op in PASS_THROUGH and producer.name not in found:
            found.append(producer.name)
            stack.extend(producer.inputs)
    return found


def _rerun_from(model: ImportedModel, plan: IntegerPlan, starts: Sequence[str],
                reference: Mapping[str, np.ndarray]) -> dict:
    """Graph outputs of ``model``'s plan, re-running only ``starts`` and the layers that depend on them;
    every other tensor is taken from the float run ``reference`` (internal layout)."""
    env = dict(reference)
    dirty = set(starts)
    for layer in model.graph:
        if layer.name in dirty or dirty.intersection(layer.inputs):
            env[layer.name] = run_layer(model, plan, layer, [env[n] for n in layer.inputs])
            dirty.add(layer.name)
    return integer_outputs(model, plan, env)


def _db(value: float) -> float | None:
    return None if math.isinf(value) else round(float(value), 4)


def sensitivity_json(rows: Sequence[LayerSensitivity], model_name: str, bits: str, samples: int) -> str:
    """JSON text of a sensitivity study (layers in topological order; SQNR in dB, ``null``: no error)."""
    layers = [{"layer": r.layer, "bits": list(r.bits), "sqnr_db": _db(r.sqnr_db),
               "output_sqnr_db": {k: _db(v) for k, v in r.output_sqnr_db.items()}} for r in rows]
    return json.dumps({"model": model_name, "bits": bits, "samples": samples, "layers": layers}, indent=1) + "\n"


def parse_sensitivity_json(text: str, model: ImportedModel, where: str) -> tuple[LayerSensitivity, ...]:
    """The rows of :func:`sensitivity_json` text, checked against ``model``'s weighted layers and widths."""
    try:
        rows = tuple(LayerSensitivity(layer=str(r["layer"]), bits=(int(r["bits"][0]), int(r["bits"][1])),
                                      output_sqnr_db={k: math.inf if v is None else float(v)
                                                      for k, v in r["output_sqnr_db"].items()})
                     for r in json.loads(text)["layers"])
    except (ValueError, KeyError, TypeError, IndexError) as exc:
        raise ValueError(f"{where}: not a sensitivity file of hwsim quantize --sensitivity ({exc})") from None
    layers = {l.name: l for l in model.graph}
    expected = [(n, (layers[n].w_bits, layers[n].a_bits)) for n in weighted_layers(model)]
    if [(r.layer, r.bits) for r in rows] != expected:
        raise ValueError(f"{where}: its layers and widths differ from model '{model.graph.name}' at these --bits")
    return rows
