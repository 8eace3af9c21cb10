"""FQN fine-tuning, minimal form: QAT of the weights on the fake-quant executor, distilled from the float model.

* Batch norm is frozen: the importers fold it with the trained model's running
  statistics (:mod:`sw.quant.folding`), and the folded weights are what trains.
* Activation ranges: FQN percentile calibration (gamma 0.999) on the training
  samples, then fixed; weight grids: per-channel min/max of the float weights,
  then fixed (:class:`sw.train.fakeexec.FakeQuantGraph`).
* Loss: distillation, the mean over the graph's IR outputs and their channels
  (last axis) of ``mean((dequantized fake-quant output - float output)^2) / var(float output)``,
  mean and variance per channel over all training samples and positions (one
  full batch per step), Adam (optax). Normalising per channel keeps rare,
  sparse channels (a detector's objectness scores, near 0 at most anchors) from
  being traded for the dense ones: with one variance per tensor, 30 steps on
  YOLOX-tiny drove the objectness channel to a constant 0 (mAP 0).

Not yet: learned ranges (LSQ), the detection loss from labels, mini-batches.
The result is exported with :meth:`FakeQuantGraph.to_plan`, which the forward
pass mirrors bit for bit in float64.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence

import numpy as np

from sw.graph.model import ImportedModel
from sw.runtime.executor import calibrate
from sw.runtime.floatexec import run_float
from sw.runtime.integer import IntegerPlan
from sw.train.fakeexec import FakeQuantGraph
from sw.extras import require
from sw.train.jaxdeps import jax_modules

__all__ = ["finetune", "channel_variance", "DEFAULT_STEPS", "DEFAULT_LR"]

jax, jnp, _ = jax_modules("hwsim quantize --method fqn")
optax = require("optax", "train", "hwsim quantize --method fqn")

DEFAULT_STEPS = 100
DEFAULT_LR = 3e-4


def _stack(samples: Sequence[Mapping[str, np.ndarray]], fn: Callable[[Mapping], Mapping]) -> dict[str, np.ndarray]:
    per = [fn(s) for s in samples]
    return {k: np.concatenate([p[k] for p in per], axis=0) for k in per[0]}


def channel_variance(v: np.ndarray) -> np.ndarray:
    """Variance of each channel (last axis) over all other axes, float32; 1 where a channel is constant."""
    var = np.var(np.asarray(v, dtype=np.float64).reshape(-1, v.shape[-1]), axis=0)
    return np.where(var > 0.0, var, 1.0).astype(np.float32)


def finetune(model: ImportedModel, samples: Sequence[Mapping[str, np.ndarray]], *, steps: int = DEFAULT_STEPS,
             lr: float = DEFAULT_LR, progress: Callable[[Iterable], Iterator] = iter,
             act_ranges: str = "percentile", weight_ranges: str = "minmax",
             symmetric_weights: bool = False) -> tuple[IntegerPlan, list[float]]:
    """Fine-tune ``model`` (at its widths) on ``samples``; returns the exported plan and the loss per step.

    The loss list has ``steps + 1`` entries: before each update and after the last.
    The straight-through loss jumps as codes flip, so the exported weights are
    those with the lowest loss seen (``min(losses)``). Deterministic (full-batch
    Adam, no sampling). ``act_ranges`` (:data:`sw.runtime.executor.RANGES`) and
    ``weight_ranges`` (:data:`sw.runtime.integer.WEIGHT_RANGES`) set the fixed grids;
    ``symmetric_weights`` gives the weight grids zero point 0.
    """
    if steps < 0:
        raise ValueError(f"steps: expected >= 0, got {steps}")
    params = calibrate(model, samples, ranges=act_ranges)
    fq = FakeQuantGraph.from_calibration(model, params, weight_ranges=weight_ranges, symmetric_weights=symmetric_weights)
    outputs = model.graph.outputs

    def teacher(sample: Mapping) -> dict[str, np.ndarray]:
        env: dict[str, np.ndarray] = {}
        run_float(model, sample, lambda k, v: env.__setitem__(k, v) if k in outputs else None)
        return {k: env[k].astype(np.float32) for k in outputs}

    targets = _stack(samples, teacher)
    codes = _stack(samples, fq.input_codes)
    scale = {k: channel_variance(v) for k, v in targets.items()}

    def loss_fn(weights):
        env = fq.forward(weights, codes)
        return sum(jnp.mean((fq.dequantize(k, env[k]) - targets[k]) ** 2 / scale[k]) for k in outputs) / len(outputs)

    weights = jax.tree_util.tree_map(jnp.asarray, fq.initial_weights())
    optimizer = optax.adam(lr)
    state = optimizer.init(weights)

    @jax.jit
    def step(w, s):
        value, grads = jax.value_and_grad(loss_fn)(w)
        updates, s = optimizer.update(grads, s, w)
        return optax.apply_updates(w, updates), s, value

    losses: list[float] = []
    best = (float("inf"), weights)
    for _ in progress(range(steps)):
        before = weights
        weights, state, value = step(weights, state)
        losses.append(float(value))
        best = min(best, (losses[-1], before), key=lambda b: b[0])
    losses.append(float(jax.jit(loss_fn)(weights)))
    best = min(best, (losses[-1], weights), key=lambda b: b[0])
    return fq.to_plan(jax.tree_util.tree_map(np.asarray, best[1])), losses
