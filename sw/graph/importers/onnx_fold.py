"""ONNX importer helpers: tensor records, constant folding, padding, space-to-depth (Focus).

Split from :mod:`sw.graph.importers.onnx_import`; the records are what the
importer stores per ONNX tensor name (an activation, a tail tensor, a pending
pattern) besides plain numpy constants.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from onnx import helper, numpy_helper

from sw.graph.importers.common import Fail
from sw.graph.ir import Activation
from sw.graph.model import TailOp

__all__ = ["Act", "Slices", "SpaceToDepth", "Tail", "Gate", "Flat", "Failed", "nhwc", "nchw", "as_text",
           "conv_pads", "space_to_depth", "fold_space_to_depth", "fold_constant", "prune_tail", "FOLDABLE"]


@dataclass
class Act:
    """An IR tensor: graph input or layer output, with its NCHW (or (1, N)) shape."""

    name: str
    shape: tuple[int, ...]


@dataclass
class Slices:
    """Strided slices of an activation (partial space-to-depth)."""

    source: Act
    starts: dict[int, int]


@dataclass
class SpaceToDepth:
    """Concatenated 2x2 phase slices of ``source``: block ``i`` holds phase ``phases[i]`` = (dy, dx)."""

    source: Act
    phases: list[tuple[int, int]]


@dataclass
class Tail:
    """A tail tensor in external (NCHW) layout."""

    name: str
    shape: tuple[int, ...]


@dataclass
class Gate:
    """``gate(x)`` awaiting the ``Mul`` that completes silu / hard-swish."""

    source: str
    activation: Activation


@dataclass
class Flat:
    """A flattened activation awaiting a Gemm / MatMul."""

    flat_of: Act


@dataclass
class Failed:
    """Output of a node that could not be imported (its consumers are skipped, not reported)."""

    node: str


def nhwc(shape: tuple[int, ...]) -> tuple[int, int, int]:
    """IR (H, W, C) of an NCHW (or (1, N)) shape."""
    if len(shape) == 4:
        return (shape[2], shape[3], shape[1])
    return (1, 1, int(np.prod(shape[1:])))


def nchw(hwc: tuple[int, int, int], batch: int = 1) -> tuple[int, int, int, int]:
    """NCHW shape of an IR (H, W, C) shape."""
    return (batch, hwc[2], hwc[0], hwc[1])


def as_text(value) -> str:
    """An attribute string (bytes or str) as str."""
    return value.decode() if isinstance(value, bytes) else str(value)


FOLDABLE = ("Shape", "Gather", "Unsqueeze", "Squeeze", "Concat", "Cast", "Add", "Sub", "Mul", "Div", "Reshape",
            "Identity", "Dropout", "Slice", "Range", "ConstantOfShape", "Transpose", "Sqrt", "Pow", "Floor",
            "Ceil", "Neg", "Expand", "Equal", "Where", "Min", "Max")


def conv_pads(a: dict, size, kernel, stride, dilation):
    """Explicit ((top, bottom), (left, right)) pads of a Conv / pool from ``pads`` or ``auto_pad``."""
    auto = as_text(a.get("auto_pad", "NOTSET"))
    if auto in ("NOTSET", ""):
        p = list(a.get("pads", (0, 0, 0, 0)))
        if len(p) != 4:
            raise Fail(f"pads must have 4 values, got {p}")
        return ((int(p[0]), int(p[2])), (int(p[1]), int(p[3])))
    if auto == "VALID":
        return ((0, 0), (0, 0))
    pads = []
    for n, k, s, d in zip(size, kernel, stride, dilation):
        out = -(-n // s)
        total = max((out - 1) * s + d * (k - 1) + 1 - n, 0)
        small, large = total // 2, total - total // 2
        pads.append((small, large) if auto == "SAME_UPPER" else (large, small))
    return tuple(pads)



def space_to_depth(values: list[Slices], axis: int) -> SpaceToDepth:
    """The 2x2 space-to-depth described by four concatenated strided slices."""
    source = values[0].source
    if axis % 4 != 1 or any(v.source is not source or set(v.starts) != {2, 3} for v in values):
        raise Fail("Concat of slices is supported only as the 2x2 space-to-depth (Focus) pattern on channels")
    phases = [(v.starts[2], v.starts[3]) for v in values]
    if sorted(phases) != [(0, 0), (0, 1), (1, 0), (1, 1)]:
        raise Fail(f"slice phases {phases} do not form a 2x2 space-to-depth")
    if source.shape[2] % 2 or source.shape[3] % 2:
        raise Fail(f"space-to-depth needs even H and W, got {source.shape}")
    return SpaceToDepth(source, phases)


def fold_space_to_depth(s2d: SpaceToDepth, w, stride, dilation, groups, a):
    """Conv(k, s, p) on space-to-depth(x) == Conv(2k, 2s, 2p) on x with rearranged weights."""
    if groups != 1 or tuple(dilation) != (1, 1):
        raise Fail("a convolution after space-to-depth must be dense and undilated")
    x = s2d.source
    cin = x.shape[1]
    cout, c4, kh, kw = w.shape
    if c4 != 4 * cin:
        raise Fail(f"weight shape {w.shape} does not match the {4 * cin} space-to-depth channels")
    pads = conv_pads(a, (x.shape[2] // 2, x.shape[3] // 2), (kh, kw), stride, (1, 1))
    big = np.zeros((cout, cin, 2 * kh, 2 * kw))
    for block, (dy, dx) in enumerate(s2d.phases):
        big[:, :, dy::2, dx::2] = w[:, block * cin:(block + 1) * cin]
    return x, big, (2 * stride[0], 2 * stride[1]), tuple((2 * p0, 2 * p1) for p0, p1 in pads)



def fold_constant(node, ins: list, a: dict) -> np.ndarray:
    """Evaluate a node whose inputs are all constants (shape-only subgraphs)."""
    op = node.op_type
    if op == "Shape":
        return np.asarray(ins[0].shape, dtype=np.int64)
    if op == "Gather":
        return np.take(ins[0], ins[1], axis=int(a.get("axis", 0)))
    if op == "Unsqueeze":
        axes = a.get("axes", ins[1] if len(ins) > 1 else None)
        out = ins[0]
        for ax in sorted(int(v) for v in np.ravel(axes)):
            out = np.expand_dims(out, ax)
        return out
    if op == "Squeeze":
        axes = a.get("axes", ins[1] if len(ins) > 1 else None)
        return np.squeeze(ins[0], axis=None if axes is None else tuple(int(v) for v in np.ravel(axes)))
    if op == "Concat":
        return np.concatenate(ins, axis=int(a["axis"]))
    if op == "Cast":
        return ins[0].astype(helper.tensor_dtype_to_np_dtype(int(a["to"])))
    if op in ("Add", "Sub", "Mul", "Div"):
        fn = {"Add": np.add, "Sub": np.subtract, "Mul": np.multiply, "Div": np.divide}[op]
        out = fn(ins[0], ins[1])
        return out.astype(ins[0].dtype) if ins[0].dtype.kind in "iu" and op == "Div" else out
    if op == "Reshape":
        return ins[0].reshape(tuple(int(v) if v != 0 else ins[0].shape[i] for i, v in enumerate(ins[1])))
    if op in ("Identity", "Dropout"):
        return ins[0]
    if op == "Slice":
        out = ins[0]
        axes = ins[3] if len(ins) > 3 and ins[3] is not None else range(len(ins[1]))
        steps = ins[4] if len(ins) > 4 and ins[4] is not None else [1] * len(ins[1])
        index = [slice(None)] * out.ndim
        for s, e, ax, st in zip(ins[1], ins[2], axes, steps):
            index[int(ax)] = slice(int(s), int(e), int(st))
        return out[tuple(index)]
    if op == "Range":
        return np.arange(ins[0], ins[1], ins[2])
    if op == "ConstantOfShape":
        value = numpy_helper.to_array(a["value"]) if "value" in a else np.zeros(1, np.float32)
        return np.full(tuple(int(v) for v in ins[0]), value.ravel()[0], dtype=value.dtype)
    if op == "Transpose":
        return np.transpose(ins[0], a.get("perm"))
    if op in ("Sqrt", "Floor", "Ceil", "Neg"):
        return {"Sqrt": np.sqrt, "Floor": np.floor, "Ceil": np.ceil, "Neg": np.negative}[op](ins[0])
    if op in ("Pow", "Equal", "Min", "Max"):
        fn = {"Pow": np.power, "Equal": np.equal, "Min": np.minimum, "Max": np.maximum}[op]
        out = ins[0]
        for other in ins[1:]:
            out = fn(out, other)
        return out.astype(ins[0].dtype) if op == "Pow" else out
    if op == "Expand":
        return ins[0] * np.ones(tuple(int(v) for v in ins[1]), dtype=ins[0].dtype)
    if op == "Where":
        return np.where(ins[0], ins[1], ins[2])
    raise Fail(f"cannot fold constant op '{op}' (foldable: {', '.join(FOLDABLE)})")



def prune_tail(tail: list[TailOp], outputs: list[str]) -> list[TailOp]:
    """The tail operations the outputs need, in order."""
    needed = set(outputs)
    kept = []
    for op in reversed(tail):
        if op.output in needed:
            kept.append(op)
            needed.update(op.inputs)
    return kept[::-1]
