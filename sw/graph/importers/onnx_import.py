"""ONNX importer: float NCHW models -> layer IR (NHWC) plus float64 weights.

Mapping (see ``docs/importers.md``; the handlers are in
:mod:`sw.graph.importers.onnx_ops`, the shared rewrite patterns in
:mod:`sw.graph.importers.patterns`):

* ``Conv`` -> ``conv`` / ``depthwise`` / grouped ``conv`` (OIHW -> OHWI, explicit
  pads, ``auto_pad`` resolved with the extra pixel bottom/right);
  ``ConvTranspose`` -> ``conv_transpose``; ``BatchNormalization`` folded into the
  preceding conv (FQN eq. 13-14), else a 1x1 ``depthwise``.
* Activations (``Relu``, ``Clip`` [0, 6] / [0, inf), ``Sigmoid``, ``HardSigmoid``,
  ``HardSwish``, ``LeakyRelu``, ``x * Sigmoid(x)``, ``x * HardSigmoid(x)`` and the
  decomposed chains of :data:`~sw.graph.importers.patterns.ACTIVATION_PATTERNS`)
  fuse into the producing conv / fc / add when it has no other consumer.
* ``Add`` / ``Mul`` of two activations -> ``add`` / ``mul``; by per-channel
  constants (also ``Sub`` / ``Div``) folded into the producer or a 1x1
  ``depthwise``; ``Concat`` on channels; ``Split`` of a conv -> per-branch convs;
  nearest ``Resize`` by integer factors -> ``upsample``, linear -> ``resize_bilinear``;
  pools, ``GlobalAveragePool`` / ``ReduceMean`` over H, W; ``Gemm`` / ``MatMul``
  with a constant matrix -> ``fc``; YOLOX *Focus* slices -> one conv.
* Constant subgraphs are folded; layout ops after the last compute layers form
  the zero-cost tail.

Every node is tried: an unsupported model raises one
:class:`~sw.graph.importers.common.UnsupportedModel` naming every failing
operator type (``coverage`` holds the per-operator report of
``hwsim inspect --ops``). Dynamic input dimensions are pinned with
``input_shapes``; shapes come from ``onnx.shape_inference`` and every IR layer
is checked against them.
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import onnx
from onnx import numpy_helper, shape_inference

from sw.graph.importers.common import Coverage, Fail, PendingLayer, UnsupportedModel, first_line, tag_parts
from sw.graph.importers.onnx_fold import (FOLDABLE, Act, Failed, Flat, Tail, fold_constant, nchw, nhwc,
                                          prune_tail)
from sw.graph.importers.layout import LayoutView
from sw.graph.importers.onnx_ops import LAYOUT_OPS, OnnxOps
from sw.graph.importers.patterns import Match, match_activation
from sw.graph.ir import Activation, Graph, Op
from sw.graph.model import ImportedModel, TailOp

__all__ = ["load_onnx", "load_onnx_graph", "onnx_coverage", "SUPPORTED_OPS", "OnnxImporter"]

SUPPORTED_OPS = tuple(sorted({n[3:] for n in dir(OnnxOps) if n.startswith("op_")} | set(FOLDABLE) | {"Constant"}))
_FUSABLE = (Op.CONV, Op.DEPTHWISE, Op.FC, Op.ADD, Op.CONV_TRANSPOSE)
_DEFAULT_BITS = 8
_KINDS = {"Add": "add", "Sub": "sub", "Mul": "mul", "Div": "div", "Clip": "clip", "Relu": "relu", "Erf": "erf"}


class _View:
    """The :class:`~sw.graph.importers.patterns.GraphView` of an ONNX import in progress."""

    def __init__(self, imp: "OnnxImporter") -> None:
        self.imp = imp

    def kind(self, node) -> str:
        return _KINDS.get(node.op_type, node.op_type)

    def data_inputs(self, node) -> list[str]:
        return [n for n in node.input if n]

    def output(self, node) -> str:
        return node.output[0]

    def constant(self, key: str) -> np.ndarray | None:
        value = self.imp.values.get(key)
        return value if isinstance(value, np.ndarray) else None

    def consumers(self, key: str) -> list:
        return self.imp.consumers[key]

    def clip_range(self, node) -> tuple[float, float] | None:
        if node.op_type == "Relu":
            return (0.0, np.inf)
        if node.op_type != "Clip":
            return None
        try:
            return self.imp.clip_range(node)
        except Fail:
            return None


def _pin_inputs(model, path: Path, input_shapes: Mapping[str, tuple[int, ...]]) -> None:
    """Replace the input dims of ``model`` by ``input_shapes`` (checked against static dims); in place."""
    known = {vi.name: vi for vi in model.graph.input}
    for name, shape in input_shapes.items():
        if name not in known:
            raise ValueError(f"{path}: --input-shape names '{name}', not an input (inputs: {', '.join(known)})")
        dims = known[name].type.tensor_type.shape.dim
        if len(dims) != len(shape):
            raise ValueError(f"{path}: input '{name}' has {len(dims)} dims, --input-shape gives {len(shape)}")
        for d, v in zip(dims, shape):
            if d.HasField("dim_value") and d.dim_value != v:
                raise ValueError(f"{path}: input '{name}': static dim {d.dim_value} cannot be pinned to {v}")
            d.Clear()
            d.dim_value = int(v)


class OnnxImporter(OnnxOps):
    """One import: ONNX tensor records, pending layers, weights, tail and coverage."""

    def __init__(self, path: Path, model, input_shapes: Mapping[str, tuple[int, ...]] | None = None) -> None:
        self.path = path
        if input_shapes:
            _pin_inputs(model, path, input_shapes)
        try:
            inferred = shape_inference.infer_shapes(model)
        except Exception as exc:  # onnx raises its own error types
            raise ValueError(f"{path}: shape inference failed: {first_line(exc)}") from None
        self.graph_proto = inferred.graph
        self.inferred: dict[str, tuple[int, ...]] = {}
        for vi in list(inferred.graph.value_info) + list(inferred.graph.output) + list(inferred.graph.input):
            dims = vi.type.tensor_type.shape.dim
            if vi.type.tensor_type.HasField("shape") and all(d.HasField("dim_value") for d in dims):
                self.inferred[vi.name] = tuple(int(d.dim_value) for d in dims)
        self.values: dict[str, object] = {i.name: numpy_helper.to_array(i) for i in inferred.graph.initializer}
        for node in inferred.graph.node:  # constants up front: patterns look ahead at later nodes' operands
            if node.op_type == "Constant" and node.domain in ("", "ai.onnx") and len(node.output) == 1:
                try:
                    self.values[node.output[0]] = numpy_helper.to_array(self.attrs(node)["value"])
                except Exception:  # noqa: BLE001 - a malformed constant is reported when its node is imported
                    continue
        self.consumers: dict[str, list] = defaultdict(list)
        for node in inferred.graph.node:
            for name in node.input:
                if name:
                    self.consumers[name].append(node)
        for out in inferred.graph.output:
            self.consumers[out.name].append(None)
        self.layers: dict[str, PendingLayer] = {}
        self.order: list[str] = []
        self.tensors: dict[str, np.ndarray] = {}
        self.alphas: dict[str, float] = {}
        self.folded: dict[str, tuple] = {}  # layer -> (batch norm, folded weight, folded bias)
        self.tail: list[TailOp] = []
        self.native: dict[str, tuple[int, ...]] = {}
        self.used_names: set[str] = set()
        self.act_shapes: dict[str, tuple[int, ...]] = {}
        self.coverage = Coverage()
        self.absorbed: set[int] = set()
        self.batch = 1
        self.view = _View(self)

    # -- helpers used by the handlers ------------------------------------------------------------

    def attrs(self, node) -> dict:
        return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}

    def const(self, name: str, what: str) -> np.ndarray:
        value = self.values.get(name)
        if not isinstance(value, np.ndarray):
            raise Fail(f"{what} must be a constant")
        return value

    def act(self, name: str, what: str = "input") -> Act:
        value = self.values.get(name)
        if isinstance(value, LayoutView):
            value = self.materialize(name, value)
        if not isinstance(value, Act):
            raise Fail(f"{what} '{name}' must be an activation tensor, got {type(value).__name__}")
        return value

    def only_consumer(self, tensor: str, node) -> bool:
        return self.consumers[tensor] == [node]

    def clip_range(self, node) -> tuple[float, float]:
        a = self.attrs(node)
        lo, hi = a.get("min", -np.inf), a.get("max", np.inf)
        if len(node.input) > 1 and node.input[1]:
            lo = float(self.const(node.input[1], "Clip min"))
        if len(node.input) > 2 and node.input[2]:
            hi = float(self.const(node.input[2], "Clip max"))
        return float(lo), float(hi)

    def unique(self, base: str) -> str:
        name, i = base, 1
        while name in self.used_names:
            name, i = f"{base}_{i}", i + 1
        self.used_names.add(name)
        return name

    def emit(self, node, op: Op, inputs: list[Act], out_hwc: tuple[int, int, int], **attrs) -> Act:
        return self.emit_named(node.name or node.output[0], node.output[0], op, inputs, out_hwc, **attrs)

    def emit_named(self, base: str, output: str, op: Op, inputs: list[Act], out_hwc, **attrs) -> Act:
        name = self.unique(base)
        if self.batch > 1:  # a batch of images: every layer runs once per image
            attrs["repeat"] = self.batch
        self.layers[name] = PendingLayer(name, op, [a.name for a in inputs], [nhwc(a.shape) for a in inputs],
                                         out_hwc, attrs)
        self.order.append(name)
        out = Act(name, (self.batch, out_hwc[2]) if op is Op.FC else nchw(out_hwc, self.batch))
        self.act_shapes[name] = out.shape
        want = self.inferred.get(output)
        if want is not None and tuple(want) != tuple(out.shape):
            raise Fail(f"computed output shape {out.shape} disagrees with ONNX shape inference {want}")
        self.values[output] = out
        return out

    def emit_like(self, layer: PendingLayer, output: str, channels: int) -> str:
        """A copy of ``layer`` with ``channels`` outputs producing ONNX tensor ``output`` (split branches)."""
        inputs = [self.values_by_layer(n) for n in layer.inputs]
        h, w, _ = layer.out_shape
        return self.emit_named(output, output, layer.op, inputs, (h, w, channels), **layer.attrs).name

    def values_by_layer(self, name: str) -> Act:
        shape = self.act_shapes.get(name) or self.native[name]
        return Act(name, shape)

    def drop(self, name: str) -> None:
        """Remove a pending layer that a rewrite replaced."""
        del self.layers[name]
        self.order.remove(name)

    def check_inferred(self, node, shape: tuple[int, ...]) -> None:
        want = self.inferred.get(node.output[0])
        if want is not None and tuple(want) != tuple(shape):
            raise Fail(f"computed output shape {shape} disagrees with ONNX shape inference {want}")

    def activate(self, node, source: str, activation: Activation, alpha: float | None = None,
                 chain: tuple = (), output: str | None = None) -> None:
        """Fuse ``activation`` into the producer of ``source`` or emit an activation layer.

        ``chain`` lists the nodes of a matched pattern (all may read ``source``);
        ``output`` is the ONNX tensor the activation produces (default: ``node``'s).
        """
        output = output or node.output[0]
        x = self.act(source)
        producer = self.layers.get(x.name)
        users = self.consumers[source]
        allowed = {id(n) for n in chain} | {id(node)}
        for c in users:
            if c is not None and c.op_type in ("Sigmoid", "HardSigmoid") and self.consumers[c.output[0]] == [node]:
                allowed.add(id(c))
        fusable = producer is not None and producer.op in _FUSABLE and producer.activation is None \
            and all(c is not None and id(c) in allowed for c in users)
        if fusable:
            producer.activation = activation
            want = self.inferred.get(output)
            if want is not None and tuple(want) != tuple(x.shape):
                raise Fail(f"computed output shape {x.shape} disagrees with ONNX shape inference {want}")
            self.values[output] = x
            name = x.name
        else:
            name = self.emit_named(node.name or output, output, Op.ACTIVATION, [x], nhwc(x.shape)).name
            self.layers[name].activation = activation
        if alpha is not None:
            self.alphas[name] = alpha

    def feeds_compute(self, node) -> bool:
        """True when a layout node's input is a layout chain or its output is read by a compute node."""
        if isinstance(self.values.get(node.input[0]), LayoutView):
            return True
        return any(c is not None and c.op_type not in LAYOUT_OPS + ("Concat", "Gemm", "MatMul")
                   for c in self.consumers[node.output[0]])

    def extend_view(self, node, step) -> None:
        """Record a layout node of an activation (lowered when a compute node reads it)."""
        value = self.values.get(node.input[0])
        if isinstance(value, Act):
            if len(value.shape) != 4:
                raise Fail(f"layout op on the {len(value.shape)}-D tensor '{node.input[0]}' feeding compute")
            value = LayoutView.of(value.name, nhwc(value.shape), "nchw")
        elif not isinstance(value, LayoutView):
            raise Fail(f"input '{node.input[0]}' is not an activation")
        view = step(value)
        want = self.inferred.get(node.output[0])
        if want is not None and tuple(want) != tuple(view.index.shape):
            raise Fail(f"layout result {view.index.shape} disagrees with ONNX shape inference {want}")
        self.values[node.output[0]] = view

    def materialize(self, name: str, view: LayoutView) -> Act:
        """The IR tensor of a layout chain read by a compute node: its source, or an ``upsample`` layer."""
        lowered = view.lower()
        if lowered is None:
            raise Fail(f"layout ops from '{view.source}' to '{name}' {view.index.shape} are neither an identity "
                       f"nor an integer nearest up-sampling")
        kind, factors = lowered
        h, w, c = view.hwc
        if kind == "identity":
            act = Act(view.source, self.act_shapes.get(view.source) or self.native[view.source])
        else:
            act = self.emit_named(name, name, Op.UPSAMPLE, [self.values_by_layer(view.source)],
                                  (h * factors[0], w * factors[1], c), stride=factors)
        self.values[name] = act
        return act

    def layout_op(self, node, kind: str, **kwargs) -> None:
        names = []
        for n in node.input[: (len(node.input) if kind == "concat" else 1)]:
            value = self.values.get(n)
            if isinstance(value, Flat):
                value = value.flat_of
            if isinstance(value, Act):
                if value.name not in self.layers:
                    raise Fail("layout ops on a graph input are not supported")
                names.append(value.name)
            elif isinstance(value, Tail):
                names.append(value.name)
            else:
                raise Fail(f"input '{n}' is not an activation or tail tensor")
        shape = self.inferred.get(node.output[0])
        if shape is None:
            raise Fail("output shape unknown after shape inference")
        for c in self.consumers[node.output[0]]:
            if c is not None and c.op_type not in LAYOUT_OPS + ("Concat",):
                raise Fail(f"layout op feeds compute node '{c.name}' ({c.op_type}); only output tails are supported")
        name = node.output[0] if node.output[0] not in self.used_names else self.unique(node.name or node.output[0])
        self.used_names.add(name)
        self.tail.append(TailOp(kind, tuple(names), name, **kwargs))
        self.values[node.output[0]] = Tail(name, shape)

    # -- driver ----------------------------------------------------------------------------------

    def run(self) -> ImportedModel:
        g = self.graph_proto
        inputs = [vi for vi in g.input if vi.name not in self.values]
        if not inputs:
            raise ValueError(f"{self.path}: the graph has no non-constant input")
        graph_inputs = []
        for vi in inputs:
            shape = self.inferred.get(vi.name)
            if shape is None or len(shape) != 4 or graph_inputs and shape[0] != self.batch:
                dims = [d.dim_param or d.dim_value for d in vi.type.tensor_type.shape.dim]
                dynamic = [str(d) for d in dims if isinstance(d, str) or d == 0]
                hint = f"; dynamic dims {', '.join(dynamic)}: pin them with --input-shape {vi.name}=1x3xHxW" \
                    if dynamic else ""
                raise ValueError(f"{self.path}: input '{vi.name}': expected a static (N, C, H, W) shape, "
                                 f"got {dims}{hint}")
            self.batch = shape[0]
            self.values[vi.name] = Act(vi.name, shape)
            self.native[vi.name] = shape
            self.used_names.add(vi.name)
            graph_inputs.append((vi.name, nhwc(shape)))
        for node in g.node:
            self.step(node)
        if not self.coverage.complete:
            raise self.coverage.error(self.path, SUPPORTED_OPS, "nodes")
        return self.finish(graph_inputs)

    def step(self, node) -> None:
        """Import one node, recording coverage; a failure poisons its outputs instead of stopping."""
        op = node.op_type
        self.coverage.seen(op)
        if id(node) in self.absorbed:
            self.coverage.ok(op)
            return
        if any(isinstance(self.values.get(n), Failed) for n in node.input if n):
            self.coverage.skip(op)
            self.fail_outputs(node)
            return
        try:
            self.node(node)
            self.coverage.ok(op)
        except Fail as exc:
            self.record_failure(node, str(exc))
        except (ValueError, TypeError, IndexError, KeyError, ArithmeticError) as exc:
            self.record_failure(node, first_line(exc))

    def record_failure(self, node, reason: str) -> None:
        self.coverage.failed(node.op_type, reason, f"node '{node.name or node.output[0]}' ({node.op_type})")
        self.fail_outputs(node)

    def fail_outputs(self, node) -> None:
        for out in node.output:
            self.values[out] = Failed(node.name)

    def node(self, node) -> None:
        op = node.op_type
        if node.domain not in ("", "ai.onnx"):
            raise Fail(f"custom domain '{node.domain}' is not supported")
        if op == "Constant":
            self.values[node.output[0]] = numpy_helper.to_array(self.attrs(node)["value"])
            return
        data_inputs = [n for n in node.input if n]
        if data_inputs and all(isinstance(self.values.get(n), np.ndarray) for n in data_inputs):
            self.values[node.output[0]] = fold_constant(node, [self.values[n] if n else None for n in node.input],
                                                        self.attrs(node))
            return
        match = match_activation(self.view, node)
        if match is not None and isinstance(self.values.get(match.x), Act):
            self.apply_match(node, match)
            return
        handler = getattr(self, f"op_{op}", None)
        if handler is None:
            raise Fail(f"unsupported op type '{op}'")
        handler(node)

    def apply_match(self, node, match: Match) -> None:
        self.absorbed.update(id(n) for n in match.nodes[1:])
        self.activate(node, match.x, match.pattern.activation, chain=match.nodes, output=match.output)

    def finish(self, graph_inputs) -> ImportedModel:
        outputs = []
        for vi in self.graph_proto.output:
            value = self.values.get(vi.name)
            if isinstance(value, Act):
                if value.name not in self.layers:
                    raise ValueError(f"{self.path}: output '{vi.name}' is a graph input, not computed")
                label = vi.name if vi.name not in self.used_names else f"{vi.name}.out"
                self.tail.append(TailOp("reshape", (value.name,), label, shape=value.shape))
                outputs.append(label)
            elif isinstance(value, Tail):
                outputs.append(value.name)
            else:
                raise ValueError(f"{self.path}: output '{vi.name}' is not computed by supported nodes")
        tail = prune_tail(self.tail, outputs)
        for op in tail:
            for name in op.inputs:
                if name in self.layers:
                    self.native[name] = self.act_shapes[name]
        ir_outputs = [n for n in self.order if n in self.native]
        parts = tag_parts(self.layers, self.order, ir_outputs)
        try:
            layers = [self.layers[n].build(parts[n], _DEFAULT_BITS, _DEFAULT_BITS) for n in self.order]
            graph = Graph(self.path.stem, tuple(graph_inputs), tuple(layers), tuple(ir_outputs))
        except ValueError as exc:
            raise ValueError(f"{self.path}: {exc}") from None
        names = {layer.name for layer in layers}
        batch_norms = {k: bn for k, (bn, w, b) in self.folded.items()
                       if k in names and np.array_equal(self.tensors.get(f"{k}.weight"), w)
                       and np.array_equal(self.tensors.get(f"{k}.bias"), b)}
        return ImportedModel(graph, self.tensors, "nchw", dict(self.native), tuple(tail), tuple(outputs), self.alphas,
                             batch_norms=batch_norms)


def _read(path: Path):
    from google.protobuf.message import DecodeError

    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ValueError(f"{path}: cannot read: {exc.strerror or type(exc).__name__}") from None
    try:
        model = onnx.load_from_string(data)
    except (DecodeError, ValueError, RuntimeError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: not a valid ONNX model: {first_line(exc)}") from None
    if not model.graph.node:
        raise ValueError(f"{path}: not a valid ONNX model: the graph has no nodes")
    return model


def load_onnx(path: str | os.PathLike[str], input_shapes: Mapping[str, tuple[int, ...]] | None = None) -> ImportedModel:
    """Import an ONNX float model as IR plus float64 weights (batch norm folded).

    Parameters
    ----------
    path
        The ``.onnx`` file.
    input_shapes
        Shapes (NCHW) pinning the dynamic dimensions of named inputs.

    Raises
    ------
    ValueError
        One line naming the file (and the nodes): missing, truncated or corrupt
        file, unsupported operators (all of them, :class:`UnsupportedModel`),
        dynamic input dimensions, or shapes that disagree with ONNX shape inference.
    """
    path = Path(path)
    return OnnxImporter(path, _read(path), input_shapes).run()


def onnx_coverage(path: str | os.PathLike[str], input_shapes: Mapping[str, tuple[int, ...]] | None = None) -> Coverage:
    """Per-operator coverage of an ONNX file (the import is attempted; failures are recorded, not raised)."""
    path = Path(path)
    importer = OnnxImporter(path, _read(path), input_shapes)
    try:
        importer.run()
    except UnsupportedModel as exc:
        return exc.coverage
    return importer.coverage


def load_onnx_graph(path: str | os.PathLike[str], input_shapes: Mapping[str, tuple[int, ...]] | None = None) -> Graph:
    """The IR graph of an ONNX model (the ``load_model`` entry for ``.onnx``)."""
    return load_onnx(path, input_shapes).graph
