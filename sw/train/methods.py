"""Quantization methods behind ``hwsim quantize``: a float model + calibration samples -> a quantized model.

``ptq``
    FQN post-training quantization, as ``hwsim run`` does it: percentile
    activation ranges (gamma 0.999), per-channel min/max weights rounded to
    nearest (:func:`sw.runtime.integer.plan_calibrated`).
``gptq``
    The same grids; the weight codes of every conv / depthwise / fc layer come
    from :func:`sw.train.gptq.gptq_codes` with ``H = X^T X`` of the layer's float
    inputs over the calibration samples (at most :data:`ROWS_PER_SAMPLE` im2col
    rows per sample and layer, drawn with the seed).
``adaround``
    The same grids; each layer's rounding direction learned by AdaRound
    (:func:`sw.train.adaround.adaround_codes`, needs the ``train`` extra) on the
    same im2col rows.
``brecq``
    Block reconstruction (BRECQ / QDrop) from the same calibration, AdaRound
    weights and LSQ-learned activation scales (:func:`sw.train.brecq.reconstruct`,
    needs the ``train`` extra).
``fqn``
    FQN fine-tuning, minimal form (:func:`sw.train.qat.finetune`, needs the
    ``train`` extra): QAT of the folded weights distilled from the float model.

Range rules (``ranges``, any method): ``"fqn"`` (FQN: percentile activation
ranges, gamma 0.999; per-channel min/max weights), ``"mse"`` (activation and
per-channel weight ranges clipped where their quantization MSE is least,
:mod:`sw.quant.mse`) or ``"minmax"`` (activation ranges at the observed extremes,
min/max weights: FQN's ablation of the percentile).

``ptq`` and ``gptq`` are numpy only; all are deterministic for a seed.
The rows of ``adaround`` are all kept in memory (float32).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import replace

import numpy as np

from sw.graph.ir import Layer, Op
from sw.graph.model import ImportedModel
from sw.quant.folding import quantize_bias
from sw.quant.params import QuantParams
from sw.quant.ranges import Granularity
from sw.runtime.executor import calibrate
from sw.runtime.floatexec import run_float
from sw.runtime.integer import IntegerPlan, is_float_layer, layer_weight_params, plan_calibrated
from sw.train.gptq import gptq_codes, layer_columns, second_moments
from sw.train.labels import LabelTargets

__all__ = ["METHODS", "STEPPED", "RANGE_RULES", "ROWS_PER_SAMPLE", "quantize_plan", "layer_inputs", "layer_hessians", "layer_rows",
           "with_first_last"]

METHODS = ("ptq", "gptq", "adaround", "brecq", "fqn")
#: Methods that train for a number of steps (``--steps``).
STEPPED = frozenset({"fqn", "brecq"})
#: Range rules: name -> (activation ranges of :func:`calibrate`, weight ranges of :func:`plan_calibrated`).
RANGE_RULES = {"fqn": ("percentile", "minmax"), "mse": ("mse", "mse"), "minmax": ("minmax", "minmax")}
ROWS_PER_SAMPLE = 1024
Progress = Callable[[Iterable], Iterator]
_WEIGHTED = (Op.CONV, Op.DEPTHWISE, Op.FC)


def _identity(items: Iterable) -> Iterator:
    return iter(items)


def with_first_last(model: ImportedModel, bits: int) -> ImportedModel:
    """``model`` with the first weighted layer and every weighted layer producing a graph output at ``bits``.

    Both weights and activations take ``bits`` (a mixed policy, e.g. 8 around a 4-bit body).
    """
    weighted = [layer for layer in model.graph if layer.op in _WEIGHTED]
    if not weighted:
        raise ValueError(f"model '{model.graph.name}': no conv / depthwise / fc layer for --first-last")
    names = {weighted[0].name} | {n for n in model.graph.outputs if model.graph.layer(n).op in _WEIGHTED}
    return replace(model, graph=model.graph.with_bits(layers={n: (bits, bits) for n in names}))


def _weighted(model: ImportedModel) -> list[Layer]:
    return [layer for layer in model.graph if layer.op in _WEIGHTED and not is_float_layer(layer)]


def layer_inputs(model: ImportedModel, samples: Sequence[Mapping[str, np.ndarray]], seed: int,
                 reduce: Callable[[np.ndarray], np.ndarray],
                 progress: Progress = _identity) -> dict[str, list[np.ndarray]]:
    """``reduce(columns)`` of every weighted layer's float input, one list entry per sample.

    ``columns`` are the layer's im2col rows ``[G, rows, K]`` of one sample, at most
    :data:`ROWS_PER_SAMPLE` drawn with ``seed`` (see :func:`layer_hessians`,
    :func:`layer_rows`).
    """
    rng = np.random.default_rng(seed)
    weighted = _weighted(model)
    out: dict[str, list[np.ndarray]] = {layer.name: [] for layer in weighted}
    for sample in progress(samples):
        env: dict[str, np.ndarray] = {}
        run_float(model, sample, lambda key, value: env.__setitem__(key, value))
        for layer in weighted:
            cols = layer_columns(layer, env[layer.inputs[0]])
            if cols.shape[1] > ROWS_PER_SAMPLE:
                cols = cols[:, np.sort(rng.choice(cols.shape[1], ROWS_PER_SAMPLE, replace=False))]
            out[layer.name].append(reduce(cols))
    return out


def layer_hessians(model: ImportedModel, samples: Sequence[Mapping[str, np.ndarray]], seed: int,
                   progress: Progress = _identity) -> dict[str, np.ndarray]:
    """``X^T X`` ``[G, K, K]`` of every weighted layer's float input over ``samples`` (seeded row subsets)."""
    parts = layer_inputs(model, samples, seed, second_moments, progress)
    return {name: np.sum(p, axis=0) for name, p in parts.items()}


def layer_rows(model: ImportedModel, samples: Sequence[Mapping[str, np.ndarray]], seed: int,
               progress: Progress = _identity) -> dict[str, np.ndarray]:
    """Im2col rows ``[G, rows, K]`` (float32) of every weighted layer's float input over ``samples``."""
    parts = layer_inputs(model, samples, seed, lambda c: np.asarray(c, np.float32), progress)
    return {name: np.concatenate(p, axis=1) for name, p in parts.items()}


def _gptq_layer(layer: Layer, w: np.ndarray, wp: QuantParams, hessian: np.ndarray) -> np.ndarray:
    groups = hessian.shape[0]
    flat = w.reshape(w.shape[0], -1)
    per_group = w.shape[0] // groups
    codes = np.empty(flat.shape, dtype=np.int64)
    for g in range(groups):
        rows = slice(g * per_group, (g + 1) * per_group)
        sub = QuantParams(wp.bits, wp.signed, wp.scale[rows], wp.zero_point[rows], axis=0)
        codes[rows] = gptq_codes(flat[rows], sub, hessian[g])
    return codes.reshape(w.shape)


def quantize_plan(model: ImportedModel, samples: Sequence[Mapping[str, np.ndarray]], method: str, seed: int = 0,
                  progress: Progress = _identity, steps: int | None = None,
                  losses: list[float] | None = None, ranges: str = "fqn",
                  symmetric_weights: bool = False, floors: Mapping[str, float] | None = None,
                  learn_scales: bool = False, learn_weight_scales: bool = False,
                  granularity: Granularity = "per_channel",
                  live_batch_norm: bool = False, labels: LabelTargets | None = None,
                  label_weight: float = 1.0, warmup: int = 0, floor_targets: bool = False,
                  ld_weight: float = 0.0, step_lr: float | None = None) -> IntegerPlan:
    """Integer plan of ``model`` (at its widths) by ``method`` (one of :data:`METHODS`).

    ``steps`` (``fqn``: training steps; ``brecq``: steps per block) overrides the
    default; the loss curve is appended to ``losses`` if given. ``ranges``: a key of :data:`RANGE_RULES`.
    ``symmetric_weights``: per-channel weight grids with zero point 0 (what the RTL
    array multiplies; min/max ranges only). ``floors``: real lower bounds of model
    outputs' activation ranges (score logits, :func:`sw.runtime.executor.floor_ranges`).
    ``learn_scales`` (``fqn`` only): also learn the activation step sizes (LSQ); ``learn_weight_scales``
    (``fqn`` only): the per-channel weight step sizes. ``granularity``:
    ``"per_tensor"`` gives every layer one weight range (``ptq`` and ``fqn`` only; FQN's ablation).
    ``live_batch_norm`` (``fqn`` only): batch statistics while training (FQN's ablation of frozen batch norm).
    ``labels`` (``fqn`` only): the detection loss from labels, weighted by ``label_weight``
    (:func:`sw.train.labels.label_targets`). ``warmup`` (``fqn`` only): steps of linear learning-rate
    warm-up (:func:`sw.train.qat.finetune`). ``floor_targets`` (``fqn`` only): distil towards the float
    outputs raised to ``floors``. ``ld_weight`` (``fqn`` with ``labels``): localization distillation
    (:func:`sw.train.qat.label_loss`). ``step_lr`` (``fqn`` only): the weights' learning rate in weight steps
    (:func:`sw.train.qat.weight_rates`).
    """
    if method not in METHODS:
        raise ValueError(f"method: expected one of {', '.join(METHODS)}, got {method!r}")
    if ranges not in RANGE_RULES:
        raise ValueError(f"ranges: expected one of {', '.join(RANGE_RULES)}, got {ranges!r}")
    if granularity != "per_channel" and method not in ("ptq", "fqn"):
        raise ValueError(f"granularity {granularity!r}: methods 'ptq' and 'fqn' only, got {method!r}")
    for flag, value in (("learn_scales", learn_scales), ("learn_weight_scales", learn_weight_scales),
                        ("floor_targets", floor_targets), ("ld_weight", ld_weight != 0.0),
                        ("live_batch_norm", live_batch_norm),
                        ("labels", labels is not None), ("warmup", warmup != 0), ("step_lr", step_lr is not None)):
        if value and method != "fqn":
            raise ValueError(f"{flag}: applies to method 'fqn' only, got {method!r}")
    act_ranges, weight_ranges = RANGE_RULES[ranges]
    if method == "fqn":
        from sw.train.qat import DEFAULT_STEPS, finetune  # JAX only when training (extra "train")
        plan, curve = finetune(model, samples, steps=DEFAULT_STEPS if steps is None else steps, seed=seed,
                               progress=progress,
                               act_ranges=act_ranges, weight_ranges=weight_ranges,
                               symmetric_weights=symmetric_weights, floors=floors, learn_scales=learn_scales,
                               learn_weight_scales=learn_weight_scales, granularity=granularity,
                               live_batch_norm=live_batch_norm, labels=labels,
                               label_weight=label_weight, warmup=warmup, floor_targets=floor_targets,
                               ld_weight=ld_weight, step_lr=step_lr)
        if losses is not None:
            losses.extend(curve)
        return plan
    if method == "brecq":
        from sw.train.brecq import DEFAULT_STEPS, reconstruct  # JAX only when training (extra "train")
        return reconstruct(model, samples, steps=DEFAULT_STEPS if steps is None else steps, seed=seed,
                           progress=progress, losses=losses, act_ranges=act_ranges, weight_ranges=weight_ranges,
                           symmetric_weights=symmetric_weights, floors=floors)
    params = calibrate(model, samples, ranges=act_ranges, floors=floors)
    if method == "ptq":
        return plan_calibrated(model, params, weight_ranges=weight_ranges, symmetric_weights=symmetric_weights,
                               granularity=granularity)
    if method == "gptq":
        stats = layer_hessians(model, samples, seed, progress)
        rounding = _gptq_layer
    else:
        from sw.train.adaround import adaround_codes  # JAX only here (extra "train")
        stats = layer_rows(model, samples, seed, progress)

        def rounding(layer: Layer, w: np.ndarray, wp: QuantParams, rows: np.ndarray) -> np.ndarray:
            return adaround_codes(w.reshape(w.shape[0], -1), wp, rows).reshape(w.shape)
    weights = {}
    for layer in progress(_weighted(model)):
        w = np.asarray(model.tensors[f"{layer.name}.weight"], dtype=np.float64)
        b = model.tensors.get(f"{layer.name}.bias")
        wp = layer_weight_params(w, b, params[layer.inputs[0]], layer.w_bits, ranges=weight_ranges,
                                 symmetric=symmetric_weights)
        bias = quantize_bias(np.zeros(w.shape[0]) if b is None else b, params[layer.inputs[0]], wp)
        weights[layer.name] = (rounding(layer, w, wp, stats[layer.name]), wp, bias)
    return plan_calibrated(model, params, weights=weights)

