"""FQN fine-tuning, minimal form: QAT of the weights on the fake-quant executor, distilled from the float model.

* Batch norm is frozen: the importers fold it with the trained model's running
  statistics (:mod:`sw.quant.folding`), and the folded weights are what trains
  (``live_batch_norm``: FQN's ablation, batch statistics while training, :mod:`sw.train.livebn`).
* Activation ranges: FQN percentile calibration (gamma 0.999) on the training
  samples, then fixed (unless ``learn_scales``); weight grids: per-channel min/max of the float
  weights, then fixed (:class:`sw.train.fakeexec.FakeQuantGraph`). ``act_ranges="minmax"`` and
  ``granularity="per_tensor"`` are FQN's ablation baselines.
* Loss: distillation, the mean over the graph's IR outputs and their channels
  (last axis) of ``mean((dequantized fake-quant output - float output)^2) / var(float output)``,
  variance per channel over all training samples and positions, Adam (optax)
  on seeded mini-batches of ``batch`` samples (a fresh permutation every epoch;
  a remainder smaller than ``batch`` waits for the next epoch). Normalising per channel keeps rare,
  sparse channels (a detector's objectness scores, near 0 at most anchors) from
  being traded for the dense ones: with one variance per tensor, 30 steps on
  YOLOX-tiny drove the objectness channel to a constant 0 (mAP 0).
* Learned step sizes (``learn_scales``, LSQ as in Esser et al. 2020, an addition to FQN): the scale of
  every tensor with its own quantizer (:func:`sw.train.fakeexec.learnable_tensors`) trains as
  ``log(scale)`` from its percentile initialisation, Adam at ``scale_lr``; zero points stay. The export
  takes the learned scales (:func:`sw.train.fakeexec.with_scales`) and recomputes every multiplier,
  shift and bias from them. ``learn_weight_scales`` (LSQ's weight half) trains the per-channel weight
  step sizes as ``log(scale)`` from the min/max grid, same optimizer and rate, zero points kept
  (:func:`sw.train.fakeexec.learned_weight_codes`); exported as new weight grids
  (:func:`sw.train.fakeexec.with_weight_scales`), the codes rounded on them.

* Warm-up (``warmup``, an addition to FQN): both learning rates ramp linearly over the first
  ``warmup`` steps, step ``i`` at ``(i + 1) / (warmup + 1)`` of the rate, then stay. Adam's first
  steps move every weight by about the full rate whatever its gradient, enough to flip many
  4-bit codes at once: YOLOX-tiny w4a4's loss jumped from 2.2 to 8.8 in the first step and the
  run on 64 images ended at mAP 0.223; with 20 warm-up steps it ended at 0.517 (docs/train.md).

* Step-relative weight updates (``step_lr``, an addition to FQN): Adam moves every parameter by about
  its learning rate per step whatever the gradient's size, so one absolute rate (3e-4) moves a layer
  whose 4-bit weight step is 0.005 by 0.06 codes per step and a folded depthwise layer whose step is
  0.5 by 0.0006: PicoDet's per-layer median weight steps span 1e-7 .. 1.3 (median 0.046), and in 40 steps
  its depthwise layers' codes cannot move. With ``step_lr`` each weight's rate is ``step_lr`` times its
  channel's initial step size (:func:`weight_rates`): about ``step_lr`` codes per step in every layer.

* Floored targets (``floor_targets``, an addition to FQN): an output whose range is floored (a detector's
  score logits, :func:`sw.runtime.executor.floor_ranges`) cannot go below its floor, so the float targets
  are raised to it too. Otherwise the unreachable part (logits of -20 and below at most anchors against a
  floor of -8) dominates both the error and the channel variance that normalises it, and the loss hardly
  sees the logits near the detection threshold.

* Detection loss from labels (``labels``, :mod:`sw.train.labels`): where the samples carry boxes,
  ``label_weight`` times the family's own loss on the positive cells (DFL + score quality for
  PicoDet, L1 + objectness + score quality for YOLOX) is added to the distillation loss.

The result is exported with :meth:`FakeQuantGraph.to_plan`, which the forward
pass mirrors bit for bit in float64.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import replace

import numpy as np

from sw.graph.model import ImportedModel
from sw.quant.params import QuantParams
from sw.quant.ranges import Granularity
from sw.runtime.executor import calibrate, floored_tensors
from sw.runtime.floatexec import run_float
from sw.runtime.integer import IntegerPlan
from sw.train.fakeexec import FakeQuantGraph, alias_scales, learnable_tensors, with_scales, with_weight_scales
from sw.extras import require
from sw.train.jaxdeps import jax_modules
from sw.train.labels import LabelTargets
from sw.train.livebn import fold_batch, fold_running, running_stats, unfold, update_running

__all__ = ["finetune", "DEFAULT_STEPS", "DEFAULT_LR", "DEFAULT_SCALE_LR", "DEFAULT_BATCH", "channel_variance",
           "label_loss", "weight_rates", "make_optimizer"]

jax, jnp, _ = jax_modules("hwsim quantize --method fqn")
optax = require("optax", "train", "hwsim quantize --method fqn")

DEFAULT_STEPS = 100
DEFAULT_LR = 3e-4
DEFAULT_SCALE_LR = 1e-3
DEFAULT_BATCH = 4


def _stack(samples: Sequence[Mapping[str, np.ndarray]], fn: Callable[[Mapping], Mapping]) -> dict[str, np.ndarray]:
    per = [fn(s) for s in samples]
    return {k: np.concatenate([p[k] for p in per], axis=0) for k in per[0]}


#: Channels whose variance is below this fraction of the largest channel's count as constant.
CONSTANT_CHANNEL = 1e-12


def channel_variance(v: np.ndarray) -> np.ndarray:
    """Variance of each channel (last axis) over all other axes, float32; 1 where a channel is constant.

    A channel counts as constant when its variance is at most :data:`CONSTANT_CHANNEL` times the
    largest channel's (or zero): dividing by such a variance (which float32 may round to zero)
    would make the normalised loss infinite.
    """
    var = np.var(np.asarray(v, dtype=np.float64).reshape(-1, v.shape[-1]), axis=0)
    floor = CONSTANT_CHANNEL * float(var.max(initial=0.0))
    return np.where((var > floor) & (var > 0.0), var, 1.0).astype(np.float32)


def label_loss(outputs: Mapping, targets: Mapping, bins: Mapping[str, int], positives,
               teacher: Mapping | None = None, ld_weight: float = 0.0):
    """Sum of the label terms (:class:`sw.train.labels.DenseTarget`) over ``outputs`` (reals, IR layout)
    divided by ``max(positives, 1)``; ``targets``: name -> (target, l1, l2, dfl) weights.

    ``ld_weight`` > 0 adds localization distillation (LD, Zheng et al. 2022) on the same positive cells:
    ``ld_weight`` times the cross-entropy of each side's bin distribution against the float ``teacher``'s
    softmax (its KL divergence up to the teacher's entropy), weighted like the DFL term.
    """
    total = 0.0
    for k, (t, l1, l2, dfl) in targets.items():
        y = outputs[k]
        total = total + jnp.sum(l1 * jnp.abs(y - t)) + jnp.sum(l2 * (y - t) ** 2)
        if bins[k]:
            def groups(v):
                return v.reshape(*v.shape[:-1], v.shape[-1] // bins[k], bins[k])

            log_p = jax.nn.log_softmax(groups(y), axis=-1).reshape(y.shape)
            total = total - jnp.sum(dfl * t * log_p)
            if ld_weight:
                p_teacher = jax.nn.softmax(groups(teacher[k]), axis=-1).reshape(y.shape)
                total = total - ld_weight * jnp.sum(dfl * p_teacher * log_p)
    return total / jnp.maximum(positives, 1.0)


def weight_rates(grids: Mapping[str, QuantParams], weights: Mapping[str, Mapping[str, np.ndarray]],
                 step_lr: float, bias_lr: float) -> dict[str, dict[str, np.ndarray]]:
    """Per-element learning rates of the ``{layer: {"w", "b"}}`` weights for step-relative updates.

    A weight's rate is ``step_lr`` times its channel's step size in ``grids`` (real units per code, the
    initial grid), so Adam's unit-sized early updates move every layer's codes by about ``step_lr`` codes
    per step; a bias's rate is ``bias_lr`` (absolute). Float32 arrays broadcastable to the weights.
    """
    out = {}
    for name, wb in weights.items():
        grid, w = grids[name], np.asarray(wb["w"])
        shape = [1] * w.ndim
        if np.ndim(grid.scale):
            shape[grid.axis] = -1
        out[name] = {"w": (step_lr * np.asarray(grid.scale, np.float64).reshape(shape)).astype(np.float32),
                     "b": np.float32(bias_lr)}
    return out


def make_optimizer(*, lr: float, scale_lr: float, warmup: int = 0,
                   rates: Mapping[str, Mapping[str, np.ndarray]] | None = None):
    """The optax optimizer of the trained tree ``{"w": {layer: {...}}, "log_s": {...}, "log_sw": {...}}``.

    Adam on the weights at ``lr`` or, with ``rates`` (:func:`weight_rates`), Adam's direction times each
    element's rate; Adam at ``scale_lr`` on the log step sizes. Both rates warm up linearly: step i (from 0)
    at ``(i + 1) / (warmup + 1)`` of the rate for the first ``warmup`` steps.
    """
    def rate(value: float):
        return optax.linear_schedule(value / (warmup + 1), value, warmup)

    if rates is None:
        weight_rule = optax.adam(rate(lr))
    else:
        weight_rule = optax.chain(optax.scale_by_adam(),
                                  optax.stateless(lambda u, _: {**u, "w": jax.tree_util.tree_map(jnp.multiply, u["w"],
                                                                                                 rates)}),
                                  optax.scale_by_learning_rate(rate(1.0)))
    return optax.multi_transform({"w": weight_rule, "s": optax.adam(rate(scale_lr))},
                                 lambda t: {"w": jax.tree_util.tree_map(lambda _: "w", t["w"]),
                                            "log_s": {k: "s" for k in t["log_s"]},
                                            "log_sw": {k: "s" for k in t["log_sw"]}})


def _batches(n: int, batch: int, steps: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Sample indices of each step: consecutive slices of a fresh permutation per epoch."""
    out: list[np.ndarray] = []
    while len(out) < steps:
        order = rng.permutation(n)
        out.extend(order[i:i + batch] for i in range(0, n - batch + 1, batch))
    return out[:steps]


def finetune(model: ImportedModel, samples: Sequence[Mapping[str, np.ndarray]], *, steps: int = DEFAULT_STEPS,
             lr: float = DEFAULT_LR, batch: int = DEFAULT_BATCH, seed: int = 0,
             progress: Callable[[Iterable], Iterator] = iter,
             act_ranges: str = "percentile", weight_ranges: str = "minmax",
             symmetric_weights: bool = False,
             floors: Mapping[str, float] | None = None, learn_scales: bool = False,
             scale_lr: float = DEFAULT_SCALE_LR, learn_weight_scales: bool = False,
             granularity: Granularity = "per_channel",
             live_batch_norm: bool = False, labels: LabelTargets | None = None,
             label_weight: float = 1.0, warmup: int = 0,
             floor_targets: bool = False, ld_weight: float = 0.0,
             step_lr: float | None = None) -> tuple[IntegerPlan, list[float]]:
    """Fine-tune ``model`` (at its widths) on ``samples``; returns the exported plan and the loss curve.

    The curve has ``steps + 1`` entries: the loss of each step's mini-batch before
    its update, then the loss over all samples after the last update. The
    straight-through loss jumps as codes flip, so the exported weights are those
    with the lowest loss over all samples among the start, the end of every epoch
    and the last step (with ``batch >= len(samples)``: every step). Deterministic
    for a ``seed``. ``act_ranges`` (:data:`sw.runtime.executor.RANGES`) and
    ``weight_ranges`` (:data:`sw.runtime.integer.WEIGHT_RANGES`) set the fixed grids;
    ``symmetric_weights`` gives the weight grids zero point 0; ``floors`` bound
    outputs' ranges from below (:func:`sw.runtime.executor.floor_ranges`). ``learn_scales`` also
    trains the activation step sizes (module docstring) at learning rate ``scale_lr`` (Adam, on
    ``log(scale)``); ``lr`` is the weights' learning rate. ``learn_weight_scales`` trains every weight
    grid's per-channel step sizes likewise (module docstring). ``granularity="per_tensor"``: one weight
    grid per layer (FQN's ablation of per-channel weights). ``live_batch_norm``: the layers whose
    graph carried a batch norm train unfolded, folding with each mini-batch's statistics
    (:mod:`sw.train.livebn`, FQN's ablation of frozen batch norm); the loss over all samples and the
    export fold with the running statistics. ``labels`` (stacked like ``samples``): add
    ``label_weight`` times the detection loss from labels (:func:`label_loss`) to the distillation loss.
    ``warmup``: steps over which both learning rates ramp up linearly (module docstring).
    ``floor_targets``: distil towards the float outputs raised to their ``floors`` (module docstring).
    ``ld_weight`` (with ``labels``): localization distillation on the positive cells (:func:`label_loss`).
    ``step_lr`` (not with ``live_batch_norm``): the weights' learning rate in weight steps (module docstring,
    :func:`weight_rates`); ``lr`` then applies to the biases only.
    """
    if step_lr is not None and (not np.isfinite(step_lr) or step_lr <= 0.0 or live_batch_norm):
        raise ValueError(f"step_lr: expected a finite number > 0 (codes per step) without live batch norm, "
                         f"got {step_lr}{' with live batch norm' if live_batch_norm else ''}")
    if labels is not None and len(labels.positives) != len(samples):
        raise ValueError(f"labels: expected targets of {len(samples)} samples, got {len(labels.positives)}")
    if label_weight < 0.0 or not np.isfinite(label_weight):
        raise ValueError(f"label_weight: expected a finite number >= 0, got {label_weight}")
    if ld_weight < 0.0 or not np.isfinite(ld_weight) or (ld_weight and labels is None):
        raise ValueError(f"ld_weight: expected a finite number >= 0 with labels (their positive cells), "
                         f"got {ld_weight}{'' if labels is not None else ' without labels'}")
    if steps < 0:
        raise ValueError(f"steps: expected >= 0, got {steps}")
    if batch < 1:
        raise ValueError(f"batch: expected >= 1, got {batch}")
    if warmup < 0:
        raise ValueError(f"warmup: expected >= 0 steps, got {warmup}")
    if live_batch_norm and not model.batch_norms:
        raise ValueError(f"model '{model.graph.name}': no batch norm folded into a weighted layer "
                         "(live batch norm needs the graph's batch-norm nodes)")
    params = calibrate(model, samples, ranges=act_ranges, floors=floors)
    fq = FakeQuantGraph.from_calibration(model, params, weight_ranges=weight_ranges, symmetric_weights=symmetric_weights,
                                         granularity=granularity)
    outputs = model.graph.outputs

    def teacher(sample: Mapping) -> dict[str, np.ndarray]:
        env: dict[str, np.ndarray] = {}
        run_float(model, sample, lambda k, v: env.__setitem__(k, v) if k in outputs else None)
        return {k: env[k].astype(np.float32) for k in outputs}

    targets = _stack(samples, teacher)
    if floor_targets:
        lows = floored_tensors(model, floors or {})
        targets = {k: (np.maximum(v, np.float32(lows[k])) if k in lows else v) for k, v in targets.items()}
    codes = _stack(samples, fq.input_codes)
    scale = {k: channel_variance(v) for k, v in targets.items()}
    n = len(samples)
    batch = min(batch, n)

    lab = {} if labels is None else {"t": labels.outputs, "n": labels.positives}

    def take(index: np.ndarray | slice) -> tuple[dict, dict]:
        y = {"float": {k: v[index] for k, v in targets.items()},
             "labels": {"t": {k: tuple(a[index] for a in v) for k, v in lab["t"].items()},
                        "n": lab["n"][index].sum()} if lab else {}}
        return {k: v[index] for k, v in codes.items()}, y

    live = set(model.batch_norms) if live_batch_norm else set()
    eps = {k: model.batch_norms[k].eps for k in live}

    def loss_fn(train, running, x, y, batch_stats: bool):
        """The loss and, with ``batch_stats``, the batch statistics of the live batch norms."""
        scales = alias_scales(model, {k: jnp.exp(v) for k, v in train["log_s"].items()})
        env, stats = dict(x), {}
        for layer in model.graph:
            wb, xs = train["w"].get(layer.name), [env[n] for n in layer.inputs]
            if layer.name in live and batch_stats:
                wb, stats[layer.name] = fold_batch(fq, layer, wb, xs[0], eps[layer.name], scales)
            elif layer.name in live:
                wb = fold_running(wb, running[layer.name], eps[layer.name])
            if layer.name in train["log_sw"]:
                wb = {**wb, "log_s": train["log_sw"][layer.name]}
            env[layer.name] = fq.layer(layer, wb, xs, scales)
        real = {k: fq.dequantize(k, env[k], scales) for k in outputs}
        value = sum(jnp.mean((real[k] - y["float"][k]) ** 2 / scale[k]) for k in outputs) / len(outputs)
        if y["labels"]:
            value = value + label_weight * label_loss(real, y["labels"]["t"], labels.bins, y["labels"]["n"],
                                                      y["float"], ld_weight)
        return value, stats

    loss_jit = jax.jit(lambda t, r, x, y: loss_fn(t, r, x, y, False)[0])

    def full_loss(weights) -> float:
        """Loss over all samples, in chunks of ``batch`` (weighted by chunk size: the loss is a mean)."""
        return sum(float(loss_jit(*weights, *take(slice(i, i + batch)))) * min(batch, n - i)
                   for i in range(0, n, batch)) / n

    learned = [k for k in learnable_tensors(model) if k in fq.params] if learn_scales else []
    initial = {k: (unfold(model, k) if k in live else v) for k, v in fq.initial_weights().items()}
    train = {"w": jax.tree_util.tree_map(jnp.asarray, initial),
             "log_s": {k: jnp.asarray(np.log(float(fq.params[k].scale)), jnp.float32) for k in learned},
             "log_sw": {k: jnp.asarray(np.log(np.asarray(g.scale, np.float64)), jnp.float32)
                        for k, g in fq.weight_grids.items()} if learn_weight_scales else {}}
    weights = (train, jax.tree_util.tree_map(jnp.asarray, {k: v for k, v in running_stats(model).items() if k in live}))

    optimizer = make_optimizer(lr=lr, scale_lr=scale_lr, warmup=warmup,
                               rates=None if step_lr is None else weight_rates(fq.weight_grids, initial, step_lr, lr))
    state = optimizer.init(train)

    @jax.jit
    def step(weights, s, x, y):
        t, running = weights
        (value, stats), grads = jax.value_and_grad(lambda t: loss_fn(t, running, x, y, True), has_aux=True)(t)
        updates, s = optimizer.update(grads, s, t)
        return (optax.apply_updates(t, updates), update_running(running, stats)), s, value

    whole = batch == n and not live  # live batch norm: the step's loss is on batch statistics, not the export's
    per_epoch = n // batch
    losses: list[float] = []
    best = (float("inf") if whole else full_loss(weights), weights)
    for i, index in enumerate(progress(_batches(n, batch, steps, np.random.default_rng(seed)))):
        before = weights
        weights, state, value = step(weights, state, *take(np.sort(index)))
        losses.append(float(value))
        if whole:
            best = min(best, (losses[-1], before), key=lambda b: b[0])
        elif (i + 1) % per_epoch == 0 and i + 1 < steps:
            best = min(best, (full_loss(weights), weights), key=lambda b: b[0])
    losses.append(full_loss(weights))
    best = min(best, (losses[-1], weights), key=lambda b: b[0])
    final, running = jax.tree_util.tree_map(np.asarray, best[1])
    scales = {k: float(np.exp(np.float64(v))) for k, v in final["log_s"].items()}
    bad = [k for k, v in scales.items() if not np.isfinite(v) or v <= 0.0]
    if bad:
        raise ValueError(f"fqn: the fine-tuning diverged (non-positive or non-finite step size of {', '.join(bad)})")
    if scales:
        fq = replace(fq, params=with_scales(model, fq.params, scales))
    if final["log_sw"]:
        fq = replace(fq, weight_grids=with_weight_scales(fq.weight_grids, final["log_sw"]))
    folded = {k: (jax.tree_util.tree_map(np.asarray, fold_running(wb, running[k], eps[k])) if k in live else wb)
              for k, wb in final["w"].items()}
    return fq.to_plan(folded), losses
