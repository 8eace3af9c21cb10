"""Batch norm with live batch statistics during fine-tuning: FQN's ablation of frozen batch norm.

FQN fine-tunes with the batch-norm statistics frozen (the importers fold them into the weights, and
those folded weights train). Switched off, each layer whose graph carried a batch norm
(:attr:`sw.graph.model.ImportedModel.batch_norms`) trains its unfolded weights ``w``, bias ``b`` and the
affine ``gamma``, ``beta``; every forward pass folds with the statistics of the current mini-batch, as
batch-norm training does (Jacob et al. 2018, section 3.2, without their correction):

* ``y = conv(real input, w)`` (float, no bias) gives the batch mean ``mu_B`` and variance ``var_B``
  per channel over the batch and positions;
* ``w_f = w gamma / sqrt(var_B + eps)``, ``b_f = beta - gamma mu_B / sqrt(var_B + eps)`` are the
  weights the fake-quant layer quantizes on its fixed grid (clamped where they leave it);
* the running statistics follow ``mean <- (1 - m) mean + m (mu_B + b)``, ``var <- (1 - m) var + m var_B``
  with momentum ``m`` = :data:`MOMENTUM`, starting from the trained model's.

Evaluation and export fold with the running statistics (:func:`fold_running`), FQN eq. 13-14.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from sw.graph.ir import Layer
from sw.graph.model import ImportedModel
from sw.train.fakeexec import FakeQuantGraph
from sw.train.jaxdeps import jax_modules

__all__ = ["MOMENTUM", "unfold", "running_stats", "fold_batch", "fold_running", "update_running"]

jax, jnp, _ = jax_modules("hwsim quantize --method fqn --live-batch-norm")

MOMENTUM = 0.1


def _channels(v, ndim: int):
    return v.reshape((-1,) + (1,) * (ndim - 1))


def unfold(model: ImportedModel, name: str) -> dict[str, np.ndarray]:
    """Trainable ``{"w", "b", "gamma", "beta"}`` (float32) of layer ``name`` before its batch norm.

    Inverts the fold of the model's tensors: ``w = w_f / f``, ``b = (b_f - beta) / f + mean`` with
    ``f = gamma / sqrt(var + eps)``; a channel with ``f = 0`` (gamma 0) gets ``w = 0``, ``b = mean``
    (its folded weights are 0 whatever ``w`` is).
    """
    bn = model.batch_norms[name]
    w_f = np.asarray(model.tensors[f"{name}.weight"], np.float64)
    b_f = np.asarray(model.tensors[f"{name}.bias"], np.float64)
    factor = bn.gamma / np.sqrt(bn.var + bn.eps)
    safe = np.where(factor != 0.0, factor, 1.0)
    w = np.where(_channels(factor, w_f.ndim) != 0.0, w_f / _channels(safe, w_f.ndim), 0.0)
    b = np.where(factor != 0.0, (b_f - bn.beta) / safe + bn.mean, bn.mean)
    return {k: np.asarray(v, np.float32) for k, v in (("w", w), ("b", b), ("gamma", bn.gamma), ("beta", bn.beta))}


def running_stats(model: ImportedModel) -> dict[str, dict[str, np.ndarray]]:
    """The trained model's running ``{"mean", "var"}`` (float32) of every folded batch norm."""
    return {name: {"mean": np.asarray(bn.mean, np.float32), "var": np.asarray(bn.var, np.float32)}
            for name, bn in model.batch_norms.items()}


def fold_batch(fq: FakeQuantGraph, layer: Layer, raw: Mapping, x, eps: float, scales: Mapping | None = None):
    """Folded ``{"w", "b"}`` of ``layer`` with the statistics of the batch ``x`` (its input codes), and
    those statistics ``{"mean", "var"}`` (the mean including the bias ``b``)."""
    y = fq.conv(layer, fq.dequantize(layer.inputs[0], x, scales), raw["w"])
    mean, var = jnp.mean(y, axis=(0, 1, 2)), jnp.var(y, axis=(0, 1, 2))
    factor = raw["gamma"] / jnp.sqrt(var + eps)
    return ({"w": raw["w"] * _channels(factor, raw["w"].ndim), "b": raw["beta"] - factor * mean},
            {"mean": mean + raw["b"], "var": var})


def fold_running(raw: Mapping, stats: Mapping, eps: float) -> dict:
    """Folded ``{"w", "b"}`` with the running statistics (FQN eq. 13-14)."""
    factor = raw["gamma"] / jnp.sqrt(stats["var"] + eps)
    return {"w": raw["w"] * _channels(factor, raw["w"].ndim), "b": raw["beta"] + factor * (raw["b"] - stats["mean"])}


def update_running(stats: Mapping, batch: Mapping) -> dict:
    """Running statistics after one batch (momentum :data:`MOMENTUM`)."""
    return jax.tree_util.tree_map(lambda r, b: (1.0 - MOMENTUM) * r + MOMENTUM * b, dict(stats), dict(batch))
