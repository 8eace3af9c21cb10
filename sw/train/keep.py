"""Mixed-width policy: which weighted layers stay at 8 bits around a low-width body (``--keep8``).

A policy is a comma-separated list of rules, e.g. ``first:2,last:4,sensitive:6``:

``first:K``
    the first ``K`` weighted layers (conv / depthwise / fc) in topological order;
``last:K``
    the last ``K`` weighted layers in topological order;
``sensitive:N``
    the ``N`` most sensitive of the remaining weighted layers: lowest output SQNR
    when each layer alone is at the low width (:func:`sw.train.sensitivity.layer_sensitivity`).

Kept layers take 8-bit weights and activations (:data:`KEEP_BITS`); every method of
``hwsim quantize`` then quantizes the mixed-width model as usual.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from sw.graph.model import ImportedModel
from sw.train.sensitivity import LayerSensitivity, weighted_layers

__all__ = ["KEEP_BITS", "KeepPolicy", "parse_keep", "kept_layers", "with_kept"]

KEEP_BITS = (8, 8)
_RULES = ("first", "last", "sensitive")


@dataclass(frozen=True)
class KeepPolicy:
    """Numbers of weighted layers kept at 8 bits by each rule (see the module docstring)."""

    first: int = 0
    last: int = 0
    sensitive: int = 0


def parse_keep(spec: str, where: str = "--keep8") -> KeepPolicy:
    """``first:K,last:K,sensitive:N`` (any subset, each rule at most once) -> :class:`KeepPolicy`."""
    counts: dict[str, int] = {}
    for item in spec.split(","):
        rule, sep, number = item.strip().partition(":")
        if not sep or rule not in _RULES:
            raise ValueError(f"{where}: expected rules first:K, last:K, sensitive:N separated by commas, got {item!r}")
        if rule in counts:
            raise ValueError(f"{where}: rule '{rule}' given twice")
        try:
            counts[rule] = int(number)
        except ValueError:
            raise ValueError(f"{where}: {rule}: expected a whole number, got {number!r}") from None
        if counts[rule] < 0:
            raise ValueError(f"{where}: {rule}: expected a number >= 0, got {counts[rule]}")
    return KeepPolicy(**counts)


def kept_layers(model: ImportedModel, policy: KeepPolicy,
                sensitivity: Sequence[LayerSensitivity] | None = None) -> tuple[str, ...]:
    """Names of the weighted layers ``policy`` keeps at 8 bits, in topological order.

    ``sensitivity`` (required when ``policy.sensitive > 0``) ranks the layers; ties
    keep the earlier layer.
    """
    names = weighted_layers(model)
    for rule in _RULES:
        if getattr(policy, rule) > len(names):
            raise ValueError(f"--keep8: {rule}:{getattr(policy, rule)}: model '{model.graph.name}' has only "
                             f"{len(names)} weighted layers")
    kept = set(names[:policy.first]) | set(names[len(names) - policy.last:])
    if policy.sensitive:
        if sensitivity is None:
            raise ValueError("--keep8: sensitive:N needs the per-layer sensitivity")
        ranked = sorted((s for s in sensitivity if s.layer not in kept), key=lambda s: s.sqnr_db)
        kept |= {s.layer for s in ranked[:policy.sensitive]}
    return tuple(n for n in names if n in kept)


def with_kept(model: ImportedModel, names: Sequence[str]) -> ImportedModel:
    """``model`` with layers ``names`` at :data:`KEEP_BITS` (weights and activations)."""
    return replace(model, graph=model.graph.with_bits(layers={n: KEEP_BITS for n in names}))
