"""Independent references for the public detector corpus: MAC counts and reference outputs.

MACs are counted from the files themselves (ONNX shape inference / TFLite tensor
shapes) with our own arithmetic, not the importer's: per output element, the
filter taps of every Conv / ConvTranspose / Gemm / MatMul (CONV_2D,
DEPTHWISE_CONV_2D, TRANSPOSE_CONV, FULLY_CONNECTED), plus one multiply per
element of an element-wise Mul of two activations unless it is *self-gated*
(``x * f(x)`` where ``f`` is a chain of element-wise ops of ``x`` and constants:
hard-swish, SiLU, GELU are activations, not multiplies).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import numpy_helper, shape_inference

_ELEMENTWISE = {"Add", "Sub", "Mul", "Div", "Clip", "Sigmoid", "HardSigmoid", "Erf", "Relu", "HardSwish"}


def _pinned(path: Path, input_shapes: dict | None) -> onnx.ModelProto:
    model = onnx.load(str(path))
    for vi in model.graph.input:
        if input_shapes and vi.name in input_shapes:
            for d, v in zip(vi.type.tensor_type.shape.dim, input_shapes[vi.name]):
                d.Clear()
                d.dim_value = int(v)
    return shape_inference.infer_shapes(model)


def onnx_macs(path: Path, input_shapes: dict | None = None) -> int:
    """Independent MAC count of an ONNX file (see the module docstring)."""
    model = _pinned(path, input_shapes)
    g = model.graph
    shapes = {vi.name: [d.dim_value for d in vi.type.tensor_type.shape.dim]
              for vi in list(g.value_info) + list(g.input) + list(g.output)}
    consts = {i.name for i in g.initializer} | {o for n in g.node if n.op_type == "Constant" for o in n.output}
    weights = {i.name: numpy_helper.to_array(i).shape for i in g.initializer}
    weights.update({n.output[0]: numpy_helper.to_array(n.attribute[0].t).shape for n in g.node
                    if n.op_type == "Constant" and n.attribute[0].type == onnx.AttributeProto.TENSOR})
    producer = {o: n for n in g.node for o in n.output}

    def gated(x: str, y: str) -> bool:  # y = f(x) through element-wise ops with constant operands
        seen = 0
        while y in producer and seen < 8:
            node = producer[y]
            if node.op_type not in _ELEMENTWISE:
                return False
            live = [i for i in node.input if i and i not in consts]
            if x in live:
                return True
            if len(live) != 1:
                return False
            y, seen = live[0], seen + 1
        return False

    total = 0
    for n in g.node:
        out = shapes.get(n.output[0])
        if n.op_type == "Conv":
            w = weights[n.input[1]]
            total += int(np.prod(out)) * w[1] * w[2] * w[3]
        elif n.op_type == "ConvTranspose":
            w = weights[n.input[1]]  # [Cin, Cout/g, kh, kw]
            total += int(np.prod(shapes[n.input[0]])) * w[1] * w[2] * w[3]
        elif n.op_type in ("Gemm", "MatMul"):
            w = weights[n.input[1]]
            trans = any(a.name == "transB" and a.i for a in n.attribute)
            total += int(np.prod(out)) * (w[1] if trans else w[0])
        elif n.op_type == "Mul":
            a, b = n.input
            if a not in consts and b not in consts and not gated(a, b) and not gated(b, a):
                total += int(np.prod(out))
    return total


def tflite_macs(path: Path) -> int:
    """Independent MAC count of a TFLite file (shapes read with the LiteRT schema, not the importer's)."""
    from ai_edge_litert import schema_py_generated as schema

    model = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(path.read_bytes(), 0))
    sg = model.subgraphs[0]
    ops = schema.BuiltinOperator
    consts = {i for i, t in enumerate(sg.tensors) if model.buffers[t.buffer].data is not None
              and len(model.buffers[t.buffer].data)}
    consts |= {int(op.outputs[0]) for op in sg.operators
               if max(model.operatorCodes[op.opcodeIndex].builtinCode,
                      model.operatorCodes[op.opcodeIndex].deprecatedBuiltinCode) in (ops.DEQUANTIZE, ops.DENSIFY)}
    total = 0
    for op in sg.operators:
        code = model.operatorCodes[op.opcodeIndex]
        kind = max(code.builtinCode, code.deprecatedBuiltinCode)
        out = [int(d) for d in sg.tensors[op.outputs[0]].shape]
        if kind == ops.CONV_2D:
            w = [int(d) for d in sg.tensors[op.inputs[1]].shape]
            total += int(np.prod(out)) * w[1] * w[2] * w[3]
        elif kind == ops.DEPTHWISE_CONV_2D:
            w = [int(d) for d in sg.tensors[op.inputs[1]].shape]
            total += int(np.prod(out)) * w[1] * w[2]
        elif kind == ops.FULLY_CONNECTED:
            w = [int(d) for d in sg.tensors[op.inputs[1]].shape]
            total += int(np.prod(out)) * w[1]
        elif kind == ops.TRANSPOSE_CONV:
            w = [int(d) for d in sg.tensors[op.inputs[1]].shape]  # [Cout, kh, kw, Cin]
            total += int(np.prod([int(d) for d in sg.tensors[op.inputs[2]].shape])) * w[0] * w[1] * w[2]
        elif kind == ops.MUL and not set(int(i) for i in op.inputs) & consts:
            total += int(np.prod(out))
    return total


def reference_outputs(path: Path, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Outputs by name from onnxruntime (.onnx) or the LiteRT interpreter with BUILTIN_REF kernels (.tflite)."""
    if path.suffix == ".onnx":
        import onnxruntime as ort

        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        names = [o.name for o in session.get_outputs()]
        return dict(zip(names, session.run(None, inputs)))
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    interp = Interpreter(model_path=str(path), experimental_op_resolver_type=OpResolverType.BUILTIN_REF)
    interp.allocate_tensors()
    for detail in interp.get_input_details():
        interp.set_tensor(detail["index"], inputs[detail["name"]])
    interp.invoke()
    return {d["name"]: interp.get_tensor(d["index"]) for d in interp.get_output_details()}
