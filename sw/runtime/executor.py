"""End-to-end execution of an imported model: float64, calibrated integer, or pre-quantized integer.

Float models in integer mode (FQN flow):

1. bit widths from ``--bits`` (:func:`sw.graph.bits.parse_bits`) through ``Graph.with_bits``;
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

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from sw.graph.bits import BitPolicy
from sw.graph.ir import FLOAT_BITS, Graph
from sw.graph.ops import Activation
from sw.quant.calibration import DEFAULT_GAMMA, EmaObserver, MinMaxObserver, MseObserver, PercentileObserver
from sw.quant.params import QuantParams
from sw.quant.ranges import params_from_range
from sw.runtime.floatexec import run_float
from sw.runtime.integer import PASS_THROUGH, IntegerPlan, is_float_layer, plan_calibrated, plan_prequantized, run_integer, tail_params
from sw.graph.model import ImportedModel

__all__ = ["calibrate", "calibration_ranges", "bounded_outputs", "BOUNDED_ACTIVATIONS", "floor_ranges",
           "floored_tensors", "params_from_ranges",
           "range_observers", "RANGES", "tensor_bits",
           "default_calibration", "execute", "Result", "DEFAULT_PERTURBATIONS", "NOISE_FRACTION", "OBSERVER_VALUES"]

DEFAULT_PERTURBATIONS = 3
NOISE_FRACTION = 0.05
OBSERVER_VALUES = 1_000_000  # values kept per tensor (seeded sub-sampling beyond)
Observer = PercentileObserver | MseObserver | MinMaxObserver | EmaObserver
#: Activation range rules of :func:`calibrate`: FQN's percentile, or least quantization MSE.
RANGES = ("percentile", "mse", "minmax")
#: Activations with a bounded output range (``[0, 1]``): calibrated with min / max, never clipped.
BOUNDED_ACTIVATIONS = frozenset({Activation.SIGMOID, Activation.HARDSIGMOID})


def bounded_outputs(graph: Graph) -> frozenset[str]:
    """Names of the layers whose output is a bounded activation (:data:`BOUNDED_ACTIVATIONS`).

    Their outputs are scores or gates in ``[0, 1]``: a percentile or MSE range would
    clip the largest values, which are the ones that matter (detection scores), so
    :func:`calibrate` gives them the observed min / max instead.
    """
    return frozenset(layer.name for layer in graph if layer.activation in BOUNDED_ACTIVATIONS)


def default_calibration(model: ImportedModel, inputs: Mapping[str, np.ndarray], seed: int = 0) -> list[dict]:
    """The input itself plus seeded noisy copies (see the module docstring)."""
    rng = np.random.default_rng(seed)
    samples = [dict(inputs)]
    for _ in range(DEFAULT_PERTURBATIONS):
        samples.append({k: v + rng.normal(0.0, NOISE_FRACTION * (float(np.std(v)) or 1.0), v.shape)
                        for k, v in inputs.items()})
    return samples


def _bits_of(graph: Graph) -> dict[str, int]:
    """Activation width of every tensor that holds integer codes.

    A tensor takes its producer's ``a_bits`` (graph inputs: the first integer
    consumer's). A float tensor (``a_bits`` 32) consumed by an integer layer is
    quantized at that consumer's input with the first integer consumer's ``a_bits``;
    tensors only floats produce and consume are absent.
    """
    bits: dict[str, int] = {}
    for layer in graph:
        if layer.a_bits != FLOAT_BITS:
            bits[layer.name] = layer.a_bits
            bits[f"{layer.name}:pre"] = layer.a_bits
        if not is_float_layer(layer):
            for name in layer.inputs:
                bits.setdefault(name, layer.a_bits)
    return bits


def tensor_bits(model: ImportedModel) -> Callable[[str], int]:
    """The activation width of a calibrated tensor key (see :func:`params_from_ranges`); 32 marks float tensors.

    Graph inputs that only float layers consume are float; other keys absent from the
    graph's layers (tail outputs) take the widest integer graph output's width.
    """
    graph = model.graph
    bits = _bits_of(graph)
    int_outputs = [graph.layer(n).a_bits for n in graph.outputs if graph.layer(n).a_bits != FLOAT_BITS]
    default = max(int_outputs, default=FLOAT_BITS)
    float_inputs = {n for n in model.input_names if n not in bits}
    return lambda key: bits.get(key, FLOAT_BITS if key in float_inputs else default)


def calibration_ranges(model: ImportedModel, samples: Sequence[Mapping[str, np.ndarray]],
                       observers: Mapping[str, Callable[[str], Observer]]) -> dict[str, dict[str, tuple[float, float]]]:
    """Real ranges ``(lb, ub)`` of every calibrated tensor, for several observers in one float pass.

    Parameters
    ----------
    samples
        Calibration inputs (dicts of graph inputs, external layout).
    observers
        Observer factories by name (e.g. ``{"minmax": lambda key: MinMaxObserver()}``);
        each tensor gets a fresh observer from every factory, called with the tensor's key.

    Returns
    -------
    dict
        ``{observer name: {tensor key: (lb, ub)}}``; pass-through layers are skipped
        (:func:`params_from_ranges` gives them their input's parameters).
    """
    if not samples:
        raise ValueError("calibration: no samples")
    skip = {l.name for l in model.graph if l.op in PASS_THROUGH}
    state: dict[str, dict[str, Observer]] = {name: {} for name in observers}

    def observe(key: str, values: np.ndarray) -> None:
        if key in skip:
            return
        for name, factory in observers.items():
            if key not in state[name]:
                state[name][key] = factory(key)
            state[name][key].observe(values)

    for sample in samples:
        run_float(model, sample, observe)
    return {name: {key: obs.range() for key, obs in per_key.items()} for name, per_key in state.items()}


def floored_tensors(model: ImportedModel, floors: Mapping[str, float]) -> dict[str, float]:
    """The real lower bound of every tensor a floored model output is reshaped or concatenated from
    (tail operations and the producing layers; the largest floor where several meet), the output included."""
    producers = {op.output: op.inputs for op in model.tail}
    floored: dict[str, float] = {}
    stack = []
    for name, floor in floors.items():
        if name not in model.outputs:
            raise ValueError(f"range floor: '{name}' is not an output of model '{model.graph.name}' "
                             f"(outputs: {', '.join(model.outputs)})")
        stack.append((name, float(floor)))
    while stack:
        key, floor = stack.pop()
        floored[key] = max(floor, floored.get(key, floor))
        stack.extend((k, floor) for k in producers.get(key, ()))
    return floored


def floor_ranges(model: ImportedModel, ranges: Mapping[str, tuple[float, float]],
                 floors: Mapping[str, float]) -> dict[str, tuple[float, float]]:
    """``ranges`` with the lower bound of every floored output raised to its floor.

    ``floors`` maps model output names (e.g. score logits, whose small values a
    detector never resolves) to a real lower bound; the floor also applies to every
    tensor the output is reshaped or concatenated from (tail operations and the
    producing layers), so that no tensor on the way spends codes below it. The
    upper bound is raised to the floor if it lies below.
    """
    out = dict(ranges)
    for key, floor in floored_tensors(model, floors).items():
        if key in out:
            lb, ub = out[key]
            out[key] = (max(lb, floor), max(ub, floor))
    return out


def params_from_ranges(model: ImportedModel, ranges: Mapping[str, tuple[float, float]]) -> dict[str, QuantParams]:
    """Signed activation parameters at the graph's widths from calibrated ranges.

    A tensor takes its producer's ``a_bits`` (graph inputs: the first consumer's;
    tail outputs: the widest output's); pass-through layers and reshape / transpose
    tail outputs take their input's parameters.
    """
    graph = model.graph
    bits = tensor_bits(model)
    params = {key: params_from_range(lb, ub, bits(key), True) for key, (lb, ub) in ranges.items()
              if bits(key) != FLOAT_BITS}
    for layer in graph:
        if layer.op in PASS_THROUGH and layer.inputs[0] in params and not is_float_layer(layer):
            params[layer.name] = params[layer.inputs[0]]
    tail_params(model, params)
    return params


def calibrate(model: ImportedModel, samples: Sequence[Mapping[str, np.ndarray]],
              gamma: float = DEFAULT_GAMMA, ranges: str = "percentile",
              floors: Mapping[str, float] | None = None) -> dict[str, QuantParams]:
    """Calibrated signed activation parameters of every tensor the integer plan needs.

    ``ranges`` (one of :data:`RANGES`): ``"percentile"`` (FQN, ``gamma``),
    ``"mse"`` (least quantization MSE at each tensor's width, :mod:`sw.quant.mse`) or
    ``"minmax"`` (the observed extremes; FQN's ablation baseline);
    outputs of sigmoid / hard-sigmoid layers take min / max under both rules
    (:func:`bounded_outputs`). ``floors``: real lower bounds of model outputs
    (:func:`floor_ranges`), e.g. score logits of a detector family. Pass-through
    layers (pools, upsample, pad) and reshape / transpose tail outputs take their
    input's parameters.
    """
    found = calibration_ranges(model, samples, {ranges: range_observers(model, len(samples), ranges, gamma)})[ranges]
    return params_from_ranges(model, floor_ranges(model, found, floors or {}))


def range_observers(model: ImportedModel, n_samples: int, ranges: str = "percentile",
                    gamma: float = DEFAULT_GAMMA) -> Callable[[str], Observer]:
    """The observer factory of :func:`calibrate`'s range rule ``ranges`` for ``n_samples`` samples."""
    if ranges not in RANGES:
        raise ValueError(f"ranges: expected one of {', '.join(RANGES)}, got {ranges!r}")
    bits = tensor_bits(model)
    bounded = bounded_outputs(model.graph)

    def factory(key: str) -> Observer:
        if key in bounded or ranges == "minmax":
            return MinMaxObserver()
        if ranges == "mse" and bits(key) != FLOAT_BITS:
            return MseObserver(bits=bits(key), max_values=OBSERVER_VALUES, n_expected=n_samples)
        return PercentileObserver(gamma=gamma, max_values=OBSERVER_VALUES, n_expected=n_samples)

    return factory


@dataclass(frozen=True)
class Result:
    """Outputs by name (codes, or reals when dequantized) and their quantization parameters."""

    outputs: Mapping[str, np.ndarray]
    params: Mapping[str, QuantParams]


def _tflite_quantize(p: QuantParams, x: np.ndarray) -> np.ndarray:
    """TFLite's QUANTIZE of float32 reals: ``round(x / scale)`` computed in float32 (ties away from zero),
    plus the zero point, clamped: a float-I/O int8 model's input stage, bit for bit."""
    ratio = (np.asarray(x, dtype=np.float32) / np.float32(p.scale)).astype(np.float64)
    if not np.all(np.isfinite(ratio)):
        raise ValueError("quantize: input contains NaN or infinity")
    codes = np.sign(ratio) * np.floor(np.abs(ratio) + 0.5)
    return np.clip(codes + int(p.zero_point), p.qmin, p.qmax).astype(np.int64)


def _codes_dtype(p: QuantParams) -> type:
    return np.int8 if p.signed else np.uint8


def execute(
    model: ImportedModel,
    inputs: Mapping[str, np.ndarray],
    *,
    bits: BitPolicy | None = None,
    calibration: Sequence[Mapping[str, np.ndarray]] | None = None,
    dequantize: bool = False,
    plan: IntegerPlan | None = None,
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
    plan
        A ready integer plan (a quantized-model file, :mod:`sw.runtime.qmodel`) for
        ``model`` at the plan's widths: no calibration; ``bits`` and
        ``calibration`` must be None.
    """
    if plan is not None:
        if bits is not None or calibration is not None:
            raise ValueError("a quantized-model plan fixes the widths and parameters: --bits and --calibration do not apply")
    elif model.prequantized:
        if bits is not None or calibration is not None:
            raise ValueError(f"model '{model.graph.name}' is pre-quantized: --bits and --calibration do not apply")
        plan = plan_prequantized(model)
    else:
        if bits is not None:
            model = model.with_bits(bits)
        floats = {k: np.asarray(v, dtype=np.float64) for k, v in inputs.items()}
        params = calibrate(model, calibration or default_calibration(model, floats))
        plan = plan_calibrated(model, params)
    codes = {}
    for name in model.input_names:
        if name not in inputs:
            raise ValueError(f"missing input '{name}' (model inputs: {', '.join(model.input_names)})")
        value = np.asarray(inputs[name])
        if value.dtype.kind not in "iuf":
            raise ValueError(f"input '{name}': expected a numeric array, got dtype {value.dtype}")
        p = plan.params.get(name)
        if p is None:  # consumed only by float layers (a_bits 32): stays real
            codes[name] = value.astype(np.float64)
        elif value.dtype.kind in "iu" and model.prequantized:
            if value.size and (value.min() < p.qmin or value.max() > p.qmax):
                raise ValueError(f"input '{name}': codes outside [{p.qmin}, {p.qmax}]")
            codes[name] = value
        elif model.prequantized:
            codes[name] = _tflite_quantize(p, value)
        else:
            codes[name] = p.quantize(value)
    out = run_integer(model, plan, codes)
    # Outputs of float layers (a_bits 32) are reals already and have no parameters.
    params = {name: plan.params[name] for name, v in out.items() if v.dtype.kind in "iu"}
    if dequantize:
        return Result({n: params[n].dequantize(v) if n in params else v for n, v in out.items()}, params)
    return Result({n: v.astype(_codes_dtype(params[n])) if n in params else v.astype(np.float32)
                   for n, v in out.items()}, params)
