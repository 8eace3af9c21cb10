"""End-to-end execution of an imported model: float64, calibrated integer, or pre-quantized integer.

Float models in integer mode (FQN flow):

1. bit widths from ``--bits`` (:func:`parse_bits`) through ``Graph.with_bits``;
2. calibration: the float64 model runs on every calibration sample and a
   percentile observer (gamma 0.999, FQN) per tensor gives ``[lb, ub]`` ->
   aligned signed ``a_bits`` parameters (:func:`sw.quant.ranges.params_from_range`);
   without calibration samples, the input itself plus
   :data:`DEFAULT_PERTURBATIONS` seeded copies with Gaussian noise of
   :data:`NOISE_FRACTION` times the input's standard deviation are used;
3. :func:`sw.runtime.integer.plan_calibrated`, then the golden model on the
   quantized input.

Pre-quantized models (int8 TFLite) use their own parameters; an integer input
array is taken as the input codes, a float one is quantized with the input's
parameters.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from sw.graph.ir import Graph, Part
from sw.quant.calibration import DEFAULT_GAMMA, PercentileObserver
from sw.quant.params import QuantParams
from sw.quant.ranges import params_from_range
from sw.runtime.floatexec import run_float
from sw.runtime.integer import PASS_THROUGH, plan_calibrated, plan_prequantized, run_integer, tail_params
from sw.runtime.model import ImportedModel

__all__ = ["BitPolicy", "parse_bits", "apply_bits", "calibrate", "default_calibration", "execute", "Result",
           "DEFAULT_PERTURBATIONS", "NOISE_FRACTION"]

DEFAULT_PERTURBATIONS = 3
NOISE_FRACTION = 0.05
OBSERVER_VALUES = 1_000_000  # values kept per tensor (seeded sub-sampling beyond)


@dataclass(frozen=True)
class BitPolicy:
    """``(w_bits, a_bits)`` for all layers and/or per part."""

    default: tuple[int, int] | None = None
    parts: Mapping[str, tuple[int, int]] | None = None


def _pair(text: str, spec: str) -> tuple[int, int]:
    w, _, a = text.strip().partition("/")
    if not w.isdigit() or not (a or w).isdigit():
        raise ValueError(f"--bits '{spec}': expected N, W/A or PART=N[,PART=W/A...], got '{text}'")
    return int(w), int(a or w)


def parse_bits(spec: str) -> BitPolicy:
    """Parse ``"8"``, ``"4/8"`` (weights/activations) or ``"backbone=4,neck=4,head=4/8"``."""
    if "=" not in spec:
        return BitPolicy(default=_pair(spec, spec))
    parts = {}
    for item in spec.split(","):
        part, _, value = item.partition("=")
        part = part.strip().lower()
        if part not in {p.value for p in Part}:
            raise ValueError(f"--bits '{spec}': unknown part '{part}' (known: {', '.join(p.value for p in Part)})")
        parts[part] = _pair(value, spec)
    return BitPolicy(parts=parts)


def apply_bits(graph: Graph, policy: BitPolicy) -> Graph:
    """``graph`` with the policy's widths (unnamed parts keep their widths)."""
    return graph.with_bits(default=policy.default, parts=policy.parts)


def default_calibration(model: ImportedModel, inputs: Mapping[str, np.ndarray], seed: int = 0) -> list[dict]:
    """The input itself plus seeded noisy copies (see the module docstring)."""
    rng = np.random.default_rng(seed)
    samples = [dict(inputs)]
    for _ in range(DEFAULT_PERTURBATIONS):
        samples.append({k: v + rng.normal(0.0, NOISE_FRACTION * (float(np.std(v)) or 1.0), v.shape)
                        for k, v in inputs.items()})
    return samples


def _bits_of(graph: Graph) -> dict[str, int]:
    """Activation width of every tensor: the producer's ``a_bits`` (inputs: first consumer's)."""
    bits: dict[str, int] = {}
    for layer in graph:
        bits[layer.name] = layer.a_bits
        bits[f"{layer.name}:pre"] = layer.a_bits
        for name in layer.inputs:
            bits.setdefault(name, layer.a_bits)
    return bits


def calibrate(model: ImportedModel, samples: Sequence[Mapping[str, np.ndarray]],
              gamma: float = DEFAULT_GAMMA) -> dict[str, QuantParams]:
    """Percentile-calibrated signed activation parameters of every tensor the integer plan needs.

    Pass-through layers (pools, upsample, pad) and reshape / transpose tail
    outputs take their input's parameters.
    """
    if not samples:
        raise ValueError("calibration: no samples")
    graph = model.graph
    observers: dict[str, PercentileObserver] = {}
    skip = {l.name for l in graph if l.op in PASS_THROUGH}

    def observe(key: str, values: np.ndarray) -> None:
        if key in skip:
            return
        if key not in observers:
            observers[key] = PercentileObserver(gamma=gamma, max_values=OBSERVER_VALUES, n_expected=len(samples))
        observers[key].observe(values)

    for sample in samples:
        run_float(model, sample, observe)
    bits = _bits_of(graph)
    out_bits = max(graph.layer(n).a_bits for n in graph.outputs)
    params = {}
    for key, obs in observers.items():
        lb, ub = obs.range()
        params[key] = params_from_range(lb, ub, bits.get(key, out_bits), True)
    for layer in graph:
        if layer.op in PASS_THROUGH:
            params[layer.name] = params[layer.inputs[0]]
    tail_params(model, params)
    return params


@dataclass(frozen=True)
class Result:
    """Outputs by name (codes, or reals when dequantized) and their quantization parameters."""

    outputs: Mapping[str, np.ndarray]
    params: Mapping[str, QuantParams]


def _codes_dtype(p: QuantParams) -> type:
    return np.int8 if p.signed else np.uint8


def execute(
    model: ImportedModel,
    inputs: Mapping[str, np.ndarray],
    *,
    bits: BitPolicy | None = None,
    calibration: Sequence[Mapping[str, np.ndarray]] | None = None,
    dequantize: bool = False,
) -> Result:
    """Run ``model`` through the integer golden model.

    Parameters
    ----------
    model
        Imported model (float or pre-quantized).
    inputs
        Graph inputs by name in the external layout: reals, or codes (integer
        arrays) for a pre-quantized model.
    bits
        Width policy for float models (default: the graph's own widths).
        Rejected for pre-quantized models, whose widths are fixed.
    calibration
        Samples (dicts like ``inputs``) for float models; default
        :func:`default_calibration`.
    dequantize
        Return real values ``scale * (code - zero_point)`` instead of codes.
    """
    if model.prequantized:
        if bits is not None or calibration is not None:
            raise ValueError(f"model '{model.graph.name}' is pre-quantized: --bits and --calibration do not apply")
        plan = plan_prequantized(model)
    else:
        if bits is not None:
            model = ImportedModel(apply_bits(model.graph, bits), model.tensors, model.layout, model.native_shapes,
                                  model.tail, model.outputs, model.leaky_alpha)
        floats = {k: np.asarray(v, dtype=np.float64) for k, v in inputs.items()}
        params = calibrate(model, calibration or default_calibration(model, floats))
        plan = plan_calibrated(model, params)
    codes = {}
    for name in model.input_names:
        if name not in inputs:
            raise ValueError(f"missing input '{name}' (model inputs: {', '.join(model.input_names)})")
        value = np.asarray(inputs[name])
        p = plan.params[name]
        if value.dtype.kind in "iu" and model.prequantized:
            if value.size and (value.min() < p.qmin or value.max() > p.qmax):
                raise ValueError(f"input '{name}': codes outside [{p.qmin}, {p.qmax}]")
            codes[name] = value
        elif value.dtype.kind in "iuf":
            codes[name] = p.quantize(value)
        else:
            raise ValueError(f"input '{name}': expected a numeric array, got dtype {value.dtype}")
    out = run_integer(model, plan, codes)
    params = {name: plan.params[name] for name in out}
    if dequantize:
        return Result({n: params[n].dequantize(v) for n, v in out.items()}, params)
    return Result({n: v.astype(_codes_dtype(params[n])) for n, v in out.items()}, params)
