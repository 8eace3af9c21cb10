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

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np

from sw.graph.model import ImportedModel
from sw.train.sensitivity import LayerSensitivity, layer_sensitivity, weighted_layers

__all__ = ["KEEP_BITS", "DEFAULT_SENSITIVITY_SAMPLES", "KeepPolicy", "parse_keep", "kept_layers", "with_kept",
           "mixed_width"]

KEEP_BITS = (8, 8)
#: Calibration samples the per-layer sensitivity runs on by default (the first ones).
DEFAULT_SENSITIVITY_SAMPLES = 4
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


def mixed_width(model: ImportedModel, policy: KeepPolicy, samples: Sequence[Mapping[str, np.ndarray]], *,
                sensitivity: Sequence[LayerSensitivity] | None = None,
                sensitivity_samples: int = DEFAULT_SENSITIVITY_SAMPLES, ranges: str = "percentile",
                weight_ranges: str = "minmax", symmetric_weights: bool = False,
                floors: Mapping[str, float] | None = None,
                progress: Callable[[Iterable], Iterable] | None = None,
                ) -> tuple[ImportedModel, tuple[str, ...], tuple[LayerSensitivity, ...] | None]:
    """``model`` with the layers ``policy`` keeps at 8 bits, the kept names and the sensitivity used.

    The sensitivity is measured on the first ``sensitivity_samples`` samples
    (:func:`sw.train.sensitivity.layer_sensitivity` with the range rules, weight grids and
    score floors of the quantization that follows) when the policy ranks layers
    (``sensitive:N``) and no ``sensitivity`` is given; otherwise it is ``sensitivity`` as given.
    """
    if policy.sensitive and sensitivity is None:
        extra = {} if progress is None else {"progress": progress}
        sensitivity = layer_sensitivity(model, samples[:sensitivity_samples], ranges=ranges,
                                        weight_ranges=weight_ranges, symmetric_weights=symmetric_weights,
                                        floors=floors, **extra)
    kept = kept_layers(model, policy, sensitivity)
    return with_kept(model, kept), kept, None if sensitivity is None else tuple(sensitivity)
