"""Block reconstruction (BRECQ / QDrop) with AdaRound weights and LSQ-learned activation step sizes (JAX).

Blocks (:func:`partition`): each conv / depthwise / fc layer with the non-weighted layers after it,
up to the next weighted layer in the graph's (topological) order; layers before the first weighted
layer are run, not trained. A block's outputs are its tensors read by later blocks or graph outputs.
Blocks are reconstructed one after the other, each on the codes of the already-quantized blocks
before it (:meth:`sw.train.fakeexec.FakeQuantGraph.layer`, float32):

* weights: AdaRound rounding variables on the layer's fixed per-channel grid
  (:func:`sw.train.adaround.rectified_sigmoid`, its regulariser with ``beta`` annealed 20 -> 2
  after a 20 % warm-up), Adam at :data:`WEIGHT_LR`; at the end ``h(V) >= 1/2`` rounds up;
* activation step sizes (LSQ, Esser et al. 2020): every block output produced by a layer with its
  own quantizer (pass-through layers share it) learns ``log(scale)`` through the straight-through
  gradient ``round(x / s) - x / s`` of the quantizer, Adam at :data:`SCALE_LR`; the zero point stays
  from calibration;
* loss: the mean over the block outputs of ``mean((s (q - z) - y)^2 / var_c(y))``, ``y`` the float
  model's output, ``var_c`` its variance per channel over all calibration samples;
* QDrop (Wei et al. 2022): each element of the block's input codes is replaced, with probability
  ``drop_prob``, by the float model's value ``y / s + z`` (unrounded); mini-batches of
  :data:`BATCH` samples; masks and batches drawn with the seed.

Export: the learned scales replace the calibrated ones (pass-through layers and reshape / transpose
tails follow them) and :func:`sw.runtime.integer.plan_calibrated` recomputes every multiplier and
shift, with biases quantized at the new input scales; the integer plan is what the golden model runs.
Layers are compiled once per block (no cache across blocks of equal shape).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np

from sw.extras import require
from sw.graph.ir import Layer
from sw.graph.model import ImportedModel
from sw.quant.folding import quantize_bias
from sw.quant.params import QuantParams
from sw.runtime.executor import calibrate
from sw.runtime.floatexec import run_float
from sw.runtime.integer import PASS_THROUGH, IntegerPlan, is_float_layer, plan_calibrated
from sw.train.adaround import REG_WEIGHT, initial_logits, rectified_sigmoid, rounding_regularizer
from sw.train.fakeexec import WEIGHTED_OPS, FakeQuantGraph, alias_scales, with_scales
from sw.train.jaxdeps import jax_modules
from sw.train.qat import channel_variance

__all__ = ["Block", "partition", "qdrop_mix", "reconstruct", "DEFAULT_STEPS", "BATCH", "DROP_PROB",
           "WEIGHT_LR", "SCALE_LR"]

jax, jnp, _ = jax_modules("hwsim quantize --method brecq")
optax = require("optax", "train", "hwsim quantize --method brecq")

DEFAULT_STEPS = 200
BATCH = 8
DROP_PROB = 0.5
WEIGHT_LR = 3e-2
SCALE_LR = 4e-3


@dataclass(frozen=True)
class Block:
    """Layers reconstructed together: ``layers[0]`` is the weighted layer unless ``weighted`` is None."""

    layers: tuple[Layer, ...]
    weighted: str | None
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    learned: tuple[str, ...]


def partition(model: ImportedModel) -> list[Block]:
    """The blocks of ``model`` in graph order (see the module docstring)."""
    graph = model.graph
    groups: list[list[Layer]] = [[]]
    for layer in graph:
        if is_float_layer(layer):
            raise ValueError(f"layer '{layer.name}': float layers (32-bit widths) cannot be reconstructed")
        if layer.op in WEIGHTED_OPS and groups[-1]:
            groups.append([])
        groups[-1].append(layer)
    readers: dict[str, set[int]] = {}
    for i, group in enumerate(groups):
        for layer in group:
            for name in layer.inputs:
                readers.setdefault(name, set()).add(i)
    blocks = []
    for i, group in enumerate(groups):
        made = {l.name: l for l in group}
        inputs = tuple(dict.fromkeys(n for l in group for n in l.inputs if n not in made))
        outputs = tuple(n for n in made if readers.get(n, set()) - {i} or n in graph.outputs)
        roots = []
        for name in outputs:
            while name in made and made[name].op in PASS_THROUGH:
                name = made[name].inputs[0]
            if name in made and name not in roots:
                roots.append(name)
        weighted = group[0].name if group and group[0].op in WEIGHTED_OPS else None
        blocks.append(Block(layers=tuple(group), weighted=weighted, inputs=inputs, outputs=outputs,
                            learned=tuple(roots) if weighted else ()))
    return blocks


def qdrop_mix(quantized: np.ndarray, real_codes: np.ndarray, rng: np.random.Generator, drop_prob: float) -> np.ndarray:
    """QDrop's input: each element of ``quantized`` replaced by ``real_codes`` with probability ``drop_prob``."""
    return np.where(rng.random(quantized.shape) < drop_prob, real_codes, quantized).astype(np.float32)


def _float_env(model: ImportedModel, samples: Sequence[Mapping[str, np.ndarray]], keep: set[str]) -> dict:
    parts: dict[str, list[np.ndarray]] = {name: [] for name in keep}
    for sample in samples:
        run_float(model, sample, lambda k, v: parts[k].append(np.asarray(v, np.float32)) if k in parts else None)
    return {name: np.concatenate(p, axis=0) for name, p in parts.items()}


def _grid(w: np.ndarray, wp: QuantParams) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    shape = (-1,) + (1,) * (w.ndim - 1)
    scale = np.asarray(wp.scale, np.float64).reshape(shape)
    return np.floor(w / scale), np.asarray(wp.zero_point, np.float64).reshape(shape), w / scale


def _fit(fq: FakeQuantGraph, block: Block, floats: Mapping[str, np.ndarray], quant: Mapping[str, np.ndarray],
         steps: int, rng: np.random.Generator, drop_prob: float,
         losses: list[float]) -> tuple[np.ndarray, dict[str, float]]:
    """Weight codes ``[Cout, ...]`` (with zero point) of the block's layer and its learned output scales."""
    name = block.weighted
    wp = fq.weight_grids[name]
    w = np.asarray(fq.model.tensors[f"{name}.weight"], np.float64)
    b = fq.model.tensors.get(f"{name}.bias")
    bias = jnp.asarray(np.zeros(w.shape[0]) if b is None else b, jnp.float32)
    floor, zp, scaled = _grid(w, wp)
    base, z = jnp.asarray(floor, jnp.float32), jnp.asarray(zp, jnp.float32)
    real = {n: (floats[n] / float(fq.params[n].scale) + float(fq.params[n].zero_point)).astype(np.float32)
            for n in block.inputs}
    var = {o: channel_variance(floats[o]) for o in block.outputs}

    def loss_fn(train, xs, targets, beta, reg):
        scales = alias_scales(fq.model, {r: jnp.exp(train["log_s"][r]) for r in block.learned})
        codes = jnp.clip(base + rectified_sigmoid(train["v"]) + z, wp.qmin, wp.qmax) - z
        env = dict(xs)
        for layer in block.layers:
            wb = {"codes": codes, "b": bias} if layer.name == name else None
            env[layer.name] = fq.layer(layer, wb, [env[n] for n in layer.inputs], scales)
        rec = sum(jnp.mean((fq.dequantize(o, env[o], scales) - targets[o]) ** 2 / var[o]) for o in block.outputs)
        rec = rec / len(block.outputs)
        return rec + reg * REG_WEIGHT * rounding_regularizer(train["v"], beta), rec

    optimizer = optax.multi_transform({"v": optax.adam(WEIGHT_LR), "s": optax.adam(SCALE_LR)},
                                      lambda t: {"v": "v", "log_s": {k: "s" for k in t["log_s"]}})

    @jax.jit
    def step(train, state, xs, targets, beta, reg):
        (_, rec), grads = jax.value_and_grad(loss_fn, has_aux=True)(train, xs, targets, beta, reg)
        updates, state = optimizer.update(grads, state, train)
        return optax.apply_updates(train, updates), state, rec

    train = {"v": jnp.asarray(initial_logits(scaled), jnp.float32),
             "log_s": {r: jnp.asarray(np.log(float(fq.params[r].scale)), jnp.float32) for r in block.learned}}
    state = optimizer.init(train)
    total = len(next(iter(quant.values())))
    warmup = steps // 5
    for i in range(steps):
        idx = np.sort(rng.choice(total, min(BATCH, total), replace=False))
        xs = {n: qdrop_mix(quant[n][idx], real[n][idx], rng, drop_prob) for n in block.inputs}
        targets = {o: floats[o][idx] for o in block.outputs}
        anneal = max(0.0, (i - warmup) / max(1, steps - warmup))
        train, state, rec = step(train, state, xs, targets, 20.0 - 18.0 * anneal, 0.0 if i < warmup else 1.0)
        losses.append(float(rec))
    up = np.asarray(rectified_sigmoid(train["v"])) >= 0.5
    codes = np.clip(floor + up + zp, wp.qmin, wp.qmax).astype(np.int64)
    learned = {r: float(np.exp(np.float64(train["log_s"][r]))) for r in block.learned}
    bad = [r for r, v in learned.items() if not np.isfinite(v) or v <= 0.0]
    if bad or (losses and not np.isfinite(losses[-1])):
        raise ValueError(f"brecq: block '{name}': the reconstruction diverged (loss {losses[-1] if losses else '-'}, "
                         f"non-finite step size of {', '.join(bad) or 'none'})")
    return codes, learned


def _propagate(fq: FakeQuantGraph, block: Block, codes: np.ndarray | None,
               quant: dict[str, np.ndarray]) -> None:
    """Codes of the block's outputs (on the final grids) added to ``quant``, :data:`BATCH` samples at a time."""
    wb = None
    if block.weighted is not None:
        wp = fq.weight_grids[block.weighted]
        b = fq.model.tensors.get(f"{block.weighted}.bias")
        zp = np.asarray(wp.zero_point, np.float64).reshape((-1,) + (1,) * (codes.ndim - 1))
        wb = {"codes": jnp.asarray(codes - zp, jnp.float32),
              "b": jnp.asarray(np.zeros(codes.shape[0]) if b is None else b, jnp.float32)}
    total = len(next(iter(quant.values())))
    parts: dict[str, list[np.ndarray]] = {o: [] for o in block.outputs}
    for start in range(0, total, BATCH):
        env = {n: jnp.asarray(quant[n][start:start + BATCH]) for n in block.inputs}
        for layer in block.layers:
            env[layer.name] = fq.layer(layer, wb if layer.name == block.weighted else None,
                                       [env[n] for n in layer.inputs])
        for o in block.outputs:
            parts[o].append(np.asarray(env[o], np.float32))
    quant.update({o: np.concatenate(p, axis=0) for o, p in parts.items()})


def reconstruct(model: ImportedModel, samples: Sequence[Mapping[str, np.ndarray]], *, steps: int = DEFAULT_STEPS,
                seed: int = 0, drop_prob: float = DROP_PROB, progress: Callable[[Iterable], Iterator] = iter,
                losses: list[float] | None = None, act_ranges: str = "percentile", weight_ranges: str = "minmax",
                symmetric_weights: bool = False, floors: Mapping[str, float] | None = None) -> IntegerPlan:
    """Integer plan of ``model`` (at its widths) by block reconstruction on ``samples``; deterministic for ``seed``.

    ``steps``: Adam steps per block; ``drop_prob``: QDrop's probability of a float input element;
    ``losses`` (optional) receives every step's reconstruction loss, block after block. The grids
    start from ``act_ranges`` / ``weight_ranges`` calibration (as ``ptq``), with output ranges
    bounded below by ``floors`` (:func:`sw.runtime.executor.floor_ranges`).
    """
    if steps < 0:
        raise ValueError(f"steps: expected >= 0, got {steps}")
    if not 0.0 <= drop_prob <= 1.0:
        raise ValueError(f"drop_prob: expected a probability in [0, 1], got {drop_prob}")
    blocks = partition(model)
    params = calibrate(model, samples, ranges=act_ranges, floors=floors)
    fq = FakeQuantGraph.from_calibration(model, params, weight_ranges=weight_ranges,
                                         symmetric_weights=symmetric_weights)
    made = {layer.name: i for i, block in enumerate(blocks) for layer in block.layers}
    last_read = {n: i for i, block in enumerate(blocks) for n in block.inputs}
    floats = _float_env(model, samples, {n for block in blocks for n in (*block.inputs, *block.outputs)})
    quant = {n: np.concatenate([fq.input_codes(s)[n] for s in samples], axis=0) for n in model.input_names}
    rng = np.random.default_rng(seed)
    curve = [] if losses is None else losses
    codes: dict[str, np.ndarray] = {}
    for i, block in enumerate(progress(blocks)):
        if block.weighted is not None:
            codes[block.weighted], scales = _fit(fq, block, floats, quant, steps, rng, drop_prob, curve)
            fq = replace(fq, params=with_scales(model, fq.params, scales))
        _propagate(fq, block, codes.get(block.weighted), quant)
        for store in (floats, quant):
            for n in [n for n in store if made.get(n, -1) <= i and last_read.get(n, -1) <= i]:
                del store[n]
    weights = {}
    for name, q in codes.items():
        layer, wp = model.graph.layer(name), fq.weight_grids[name]
        b = model.tensors.get(f"{name}.bias")
        weights[name] = (q, wp, quantize_bias(np.zeros(q.shape[0]) if b is None else b, fq.params[layer.inputs[0]], wp))
    return plan_calibrated(model, fq.params, weights=weights)
