"""Rewrite patterns shared by the ONNX and TFLite importers.

Framework graphs spell one IR layer in several ways. Each importer offers a
:class:`GraphView` of its file (canonical node kinds, constants, consumers) and
applies the patterns below before its per-operator handlers:

* :data:`ACTIVATION_PATTERNS`: element-wise chains that compute one activation
  of their input ``x``, e.g. ``x * clip(x + 3, 0, 6) / 6`` (hard-swish),
  ``clip(x + 3, 0, 6) / 6`` (hard-sigmoid), ``0.5 * x * (1 + erf(x / sqrt 2))``
  (GELU). The whole chain becomes one activation (fused into the producer of
  ``x`` when every consumer of ``x`` is in the chain).
* :func:`fold_affine`: a multiply and/or add by per-channel constants right
  after a conv / fc folds into its weights and bias (``w * s``, ``b * s + t``);
  elsewhere it is a 1x1 depthwise layer (one multiply per element, the vector
  op of a batch-norm): :func:`affine_weights`.
* :func:`split_weighted`: a channel split of a conv's output becomes one conv
  per branch with the matching output-channel slice of the weights.

:data:`PATTERN_TABLE` describes them for the supported-op tables of
``docs/importers.md`` (:func:`sw.graph.importers.optable.markdown`).
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from sw.graph.ir import Activation

__all__ = ["GraphView", "Step", "ActivationPattern", "Match", "ACTIVATION_PATTERNS", "match_activation",
           "fold_affine", "affine_weights", "per_channel", "split_weighted", "PATTERN_TABLE", "PatternRow"]

Node = Hashable


class GraphView(Protocol):
    """What a pattern needs to see of a framework graph."""

    def kind(self, node: Node) -> str:
        """Canonical kind: ``add``, ``sub``, ``mul``, ``div``, ``clip``, ``erf``, ... (else the op name)."""

    def data_inputs(self, node: Node) -> list[Hashable]:
        """Tensor keys read by the node (constants included)."""

    def output(self, node: Node) -> Hashable:
        """Tensor key of the node's (first) output."""

    def constant(self, key: Hashable) -> np.ndarray | None:
        """Value of a constant tensor, else None."""

    def consumers(self, key: Hashable) -> list[Node | None]:
        """Nodes reading ``key`` (None for a graph output)."""

    def clip_range(self, node: Node) -> tuple[float, float] | None:
        """``(lo, hi)`` of a clip-like node (clip, relu6, relu), else None."""


@dataclass(frozen=True)
class Step:
    """One node of a chain: ``kind`` in ``add_const``, ``scale`` (multiply by ``value`` or divide by
    ``1 / value``), ``clip`` (to ``value = (lo, hi)``), ``mul_x`` (times the chain's input) or ``erf``."""

    kind: str
    value: float | tuple[float, float] | None = None


@dataclass(frozen=True)
class ActivationPattern:
    """A chain of element-wise nodes equal to ``activation(x)``."""

    name: str
    activation: Activation
    steps: tuple[Step, ...]


@dataclass(frozen=True)
class Match:
    """A matched chain: its input ``x``, the nodes in order and the key of the final output."""

    pattern: ActivationPattern
    x: Hashable
    nodes: tuple[Node, ...]
    output: Hashable


_SQRT1_2 = float(np.sqrt(0.5))
_HS = (Step("add_const", 3.0), Step("clip", (0.0, 6.0)))
_ERF = (Step("scale", _SQRT1_2), Step("erf"), Step("add_const", 1.0))
ACTIVATION_PATTERNS: tuple[ActivationPattern, ...] = (
    ActivationPattern("x*clip(x+3,0,6)/6", Activation.HARDSWISH, _HS + (Step("mul_x"), Step("scale", 1 / 6))),
    ActivationPattern("x*(clip(x+3,0,6)/6)", Activation.HARDSWISH, _HS + (Step("scale", 1 / 6), Step("mul_x"))),
    ActivationPattern("clip(x+3,0,6)/6", Activation.HARDSIGMOID, _HS + (Step("scale", 1 / 6),)),
    ActivationPattern("x*(1+erf(x/sqrt2))*0.5", Activation.GELU,
                      _ERF + (Step("mul_x"), Step("scale", 0.5))),
    ActivationPattern("0.5*x*(1+erf(x/sqrt2))", Activation.GELU,
                      _ERF + (Step("scale", 0.5), Step("mul_x"))),
)


def _scalar(view: GraphView, key: Hashable) -> float | None:
    value = view.constant(key)
    if value is None or value.size != 1:
        return None
    return float(np.ravel(value)[0])


def _step_ok(view: GraphView, node: Node, step: Step, prev: Hashable, x: Hashable) -> bool:
    kind, ins = view.kind(node), view.data_inputs(node)
    if step.kind == "erf":
        return kind == "erf" and ins == [prev]
    if step.kind == "clip":
        return view.clip_range(node) is not None and ins[0] == prev and \
            np.allclose(view.clip_range(node), step.value)
    if len(ins) != 2 or prev not in ins:
        return False
    other = ins[1] if ins[0] == prev else ins[0]
    if step.kind == "mul_x":
        return kind == "mul" and other == x
    c = _scalar(view, other)
    if c is None:
        return False
    if step.kind == "add_const":
        return (kind == "add" and np.isclose(c, step.value)) or (kind == "sub" and ins[0] == prev
                                                                 and np.isclose(-c, step.value))
    return (kind == "mul" and np.isclose(c, step.value, rtol=1e-5)) or (
        kind == "div" and ins[0] == prev and c != 0 and np.isclose(1 / c, step.value, rtol=1e-5))


def match_activation(view: GraphView, node: Node) -> Match | None:
    """The first pattern of :data:`ACTIVATION_PATTERNS` whose chain starts at ``node``, or None.

    Every intermediate output must have exactly one consumer (the next node);
    ``x`` is the first node's non-constant input.
    """
    ins = view.data_inputs(node)
    candidates = [k for k in ins if view.constant(k) is None]
    if len(candidates) != 1:
        return None
    x = candidates[0]
    for pattern in ACTIVATION_PATTERNS:
        nodes, prev, cur = [], x, node
        for i, step in enumerate(pattern.steps):
            if i:
                users = view.consumers(prev)
                if len(users) != 1 or users[0] is None:
                    break
                cur = users[0]
            if not _step_ok(view, cur, step, prev, x):
                break
            nodes.append(cur)
            prev = view.output(cur)
        else:
            return Match(pattern, x, tuple(nodes), prev)
    return None


def fold_affine(weight: np.ndarray, bias: np.ndarray, scale: np.ndarray | None,
                shift: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Weights and bias of ``(conv(x) * scale + shift)`` with per-output-channel ``scale``, ``shift``.

    ``weight`` has the output channel first (OHWI conv or ``[units, N]`` fc).
    """
    cout = weight.shape[0]
    s = np.ones(cout) if scale is None else np.broadcast_to(np.asarray(scale, np.float64).ravel(), (cout,))
    t = np.zeros(cout) if shift is None else np.broadcast_to(np.asarray(shift, np.float64).ravel(), (cout,))
    w = weight * s.reshape((cout,) + (1,) * (weight.ndim - 1))
    return w, bias * s + t


def affine_weights(channels: int, scale: np.ndarray | None, shift: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """OHWI 1x1 depthwise weights ``[C, 1, 1, 1]`` and bias ``[C]`` computing ``x * scale + shift``."""
    return fold_affine(np.ones((channels, 1, 1, 1)), np.zeros(channels), scale, shift)


def per_channel(value: np.ndarray, channels: int, channel_axis: int) -> np.ndarray | None:
    """``value`` as one number per channel if it broadcasts that way onto a tensor whose channel axis is
    ``channel_axis`` (negative, counted from the end), else None."""
    v = np.asarray(value, dtype=np.float64)
    if v.size == 1:
        return np.full(channels, float(v.ravel()[0]))
    if v.ndim < -channel_axis or v.shape[channel_axis] != channels or v.size != channels:
        return None
    return v.ravel()


def split_weighted(weight: np.ndarray, bias: np.ndarray, sizes: Sequence[int]) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per-branch ``(weight, bias)`` of a conv / fc whose output channels are split into ``sizes``."""
    if sum(sizes) != weight.shape[0] or min(sizes) < 1:
        raise ValueError(f"split sizes {list(sizes)} do not partition {weight.shape[0]} output channels")
    edges = np.cumsum([0, *sizes])
    return [(weight[a:b], bias[a:b]) for a, b in zip(edges[:-1], edges[1:])]


@dataclass(frozen=True)
class PatternRow:
    """One line of the supported-op table: framework spelling(s) and what the IR gets."""

    onnx: str
    tflite: str
    ir: str
    note: str = ""


PATTERN_TABLE: tuple[PatternRow, ...] = tuple(
    PatternRow("Add/Sub, Clip/Relu, Mul, Div, Erf", "ADD/SUB, RELU6/RELU, MUL, DIV (float models)",
               f"`{p.name}` -> activation {p.activation.value}",
               "fused into the producer of x when every consumer of x is in the chain")
    for p in ACTIVATION_PATTERNS
) + (
    PatternRow("`Mul` / `Add` / `Sub` / `Div` by per-channel constants",
               "`MUL` / `ADD` / `SUB` / `DIV` by per-channel constants (float models)",
               "folded into the preceding conv / fc (w * s, b * s + t), else a 1x1 `depthwise` with bias",
               "the producer must have no activation and no other consumer"),
    PatternRow("`HardSigmoid` with alpha != 1/6 or beta != 1/2", "-",
               "the affine part 6 a x + 6 (b - 1/2) folded as above, then hardsigmoid", ""),
    PatternRow("`Split` (axis 1) of a dense `Conv` output", "-", "one `conv` per branch",
               "output-channel slices of the weights"),
    PatternRow("`Reshape` / `Expand` / `Tile` / `Transpose` chains feeding compute",
               "`RESHAPE` / `TILE` / `BROADCAST_TO` / `TRANSPOSE` chains feeding compute",
               "identity (alias) or nearest `upsample` by integer factors",
               "recognised by replaying the chain on an index map (sw.graph.importers.layout)"),
)
