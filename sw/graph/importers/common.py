"""Pieces shared by the ONNX and TFLite importers.

* :class:`PendingLayer`: a layer under construction (IR layers are immutable);
* :func:`tag_parts`: the backbone / neck / head tagger;
* :class:`Coverage`: per-operator counts of a model file and which ones were
  lowered, so that an unsupported model is reported whole (``hwsim inspect
  --ops``) and the import error names every unsupported operator at once;
* small helpers: :class:`Fail`, :func:`first_line`, :func:`same_padding`.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field

from sw.graph.ir import Activation, Layer, Op, Part, Shape

__all__ = ["Fail", "PendingLayer", "tag_parts", "Coverage", "OpCoverage", "first_line", "same_padding",
           "UnsupportedModel", "parse_input_shape", "InputShapes"]

InputShapes = Mapping[str, tuple[int, ...]]


class Fail(Exception):
    """Operator-level import error; the importer turns it into one line naming the file and operator."""


class UnsupportedModel(ValueError):
    """Import error of a model with unsupported operators; ``coverage`` holds the whole report."""

    def __init__(self, message: str, coverage: "Coverage") -> None:
        super().__init__(message)
        self.coverage = coverage


def first_line(exc: BaseException) -> str:
    """First line of an exception's message (its type name if empty)."""
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def parse_input_shape(text: str, where: str = "--input-shape") -> tuple[str, tuple[int, ...]]:
    """``"NAME=1x3x640x640"`` -> ``("NAME", (1, 3, 640, 640))``; ValueError naming ``where`` otherwise."""
    name, sep, dims = text.rpartition("=")
    try:
        shape = tuple(int(d) for d in dims.lower().split("x"))
    except ValueError:
        shape = ()
    if not sep or not name or not shape or min(shape) < 1:
        raise ValueError(f"{where}: expected NAME=DxDx... with positive dims (e.g. x=1x3x640x640), got {text!r}")
    return name, shape


def same_padding(size, kernel, stride, dilation, upper: bool = True) -> tuple[tuple[int, int], ...]:
    """SAME padding ``((top, bottom), (left, right))``; the odd pixel goes bottom/right when ``upper``."""
    pads = []
    for n, k, s, d in zip(size, kernel, stride, dilation):
        total = max((-(-n // s) - 1) * s + d * (k - 1) + 1 - n, 0)
        small, large = total // 2, total - total // 2
        pads.append((small, large) if upper else (large, small))
    return tuple(pads)


@dataclass
class PendingLayer:
    """A layer under construction: the fields of :class:`sw.graph.ir.Layer` an importer still edits."""

    name: str
    op: Op
    inputs: list[str]
    in_shapes: list[Shape]
    out_shape: Shape
    attrs: dict = field(default_factory=dict)
    activation: Activation | None = None

    def build(self, part: Part, w_bits: int, a_bits: int) -> Layer:
        """The immutable IR layer."""
        return Layer(name=self.name, op=self.op, inputs=tuple(self.inputs), in_shapes=tuple(self.in_shapes),
                     out_shape=self.out_shape, activation=self.activation, part=part, w_bits=w_bits,
                     a_bits=a_bits, **self.attrs)


def tag_parts(layers: Mapping[str, PendingLayer], order: list[str], outputs: list[str]) -> dict[str, Part]:
    """Part tags: head = single-consumer chains ending at the outputs (through an output concat);
    neck = the remaining layers from the first resampling layer on; backbone = the rest."""
    consumers: dict[str, int] = defaultdict(int)
    for p in layers.values():
        for name in p.inputs:
            consumers[name] += 1
    head: set[str] = set()
    stack = list(outputs)
    while stack:
        name = stack.pop()
        if name in head or name not in layers:
            continue
        head.add(name)
        p = layers[name]
        if p.op is Op.CONCAT and name in outputs:
            stack.extend(n for n in p.inputs if consumers[n] == 1)
        elif len(p.inputs) == 1 and consumers[p.inputs[0]] == 1:
            stack.append(p.inputs[0])
    resampling = (Op.UPSAMPLE, Op.RESIZE_BILINEAR, Op.DEPTH_TO_SPACE)
    first_up = next((i for i, n in enumerate(order) if layers[n].op in resampling), len(order))
    return {n: Part.HEAD if n in head else Part.NECK if i >= first_up else Part.BACKBONE
            for i, n in enumerate(order)}


@dataclass(frozen=True)
class OpCoverage:
    """One operator type of a model file: how many instances, how many lowered, why the others were not."""

    op: str
    count: int
    lowered: int
    skipped: int
    reasons: tuple[str, ...]

    @property
    def status(self) -> str:
        """``supported`` (all lowered), ``unsupported`` (none) or ``partial``; instances downstream of a
        failure are ``skipped`` and do not count either way."""
        failed = self.count - self.lowered - self.skipped
        if failed == 0:
            return "supported" if self.lowered or not self.skipped else "not reached"
        return "unsupported" if self.lowered == 0 else "partial"


class Coverage:
    """Per-operator bookkeeping of one import (mutable while the importer runs)."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.lowered: Counter[str] = Counter()
        self.skipped: Counter[str] = Counter()
        self.reasons: dict[str, list[str]] = defaultdict(list)
        self.first: dict[str, str] = {}

    def seen(self, op: str) -> None:
        """Count one instance of ``op``."""
        self.counts[op] += 1

    def ok(self, op: str) -> None:
        """Mark one instance of ``op`` lowered."""
        self.lowered[op] += 1

    def skip(self, op: str) -> None:
        """One instance of ``op`` was not tried: an input comes from a failed operator."""
        self.skipped[op] += 1

    def failed(self, op: str, reason: str, where: str) -> None:
        """Record why one instance of ``op`` failed (distinct reasons kept; ``where`` names the first one)."""
        self.first.setdefault(op, where)
        if reason not in self.reasons[op]:
            self.reasons[op].append(reason)

    @property
    def complete(self) -> bool:
        """True when every counted operator was lowered."""
        return all(self.lowered[op] == n for op, n in self.counts.items())

    def rows(self) -> list[OpCoverage]:
        """One row per operator type, most frequent first."""
        return [OpCoverage(op, n, self.lowered[op], self.skipped[op], tuple(self.reasons.get(op, ())))
                for op, n in sorted(self.counts.items(), key=lambda kv: (-kv[1], str(kv[0])))]

    def error(self, path: object, supported: tuple[str, ...], unit: str) -> UnsupportedModel:
        """The one-line error naming every failing operator type: its first instance, first reason and how
        many ``unit`` (nodes / operators) failed; then the supported list."""
        parts = []
        for r in self.rows():
            failed = r.count - r.lowered - r.skipped
            if failed:
                parts.append(f"{self.first[r.op]}: {r.reasons[0]}" + (f" ({failed} {unit})" if failed > 1 else ""))
        return UnsupportedModel(f"{path}: unsupported operators: {'; '.join(parts)}; supported: {', '.join(supported)}",
                                self)
