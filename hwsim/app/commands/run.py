"""``hwsim run MODEL --input FILE --output FILE``: execute a model file through the integer golden model.

MODEL is an ``.onnx`` or ``.tflite`` file (zoo models carry no weights and are
refused). Float models are calibrated (FQN percentile, see
:mod:`sw.runtime.executor`) and run at ``--bits``; int8 TFLite models run with
their own parameters, bit-exact with TFLite's reference kernels. Outputs are
integer codes unless ``--dequantize``; ``--float`` writes the float64
reference instead.
"""

from __future__ import annotations

import argparse

from hwsim.app.commands import HELP
from hwsim.app.options import add_input_shape_argument, input_shapes
from sw.graph import load_imported_model
from sw.fileio import OutputPlan
from sw.runtime.arrays import check_output_path, encode_outputs, load_arrays, load_samples
from sw.graph.bits import parse_bits
from sw.runtime.executor import execute
from sw.runtime.floatexec import run_float
from sw.runtime.qmodel import load_quantized

__all__ = ["register", "run"]


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``run`` sub-command."""
    parser = subparsers.add_parser("run", help=HELP["run"],
                                   description="Execute an .onnx / .tflite model end to end on the integer golden "
                                               "model and write its outputs (.npy, or .npz for several).")
    parser.add_argument("model", metavar="MODEL", help=".onnx or .tflite file")
    parser.add_argument("--input", required=True, metavar="FILE", help=".npy (one input) or .npz keyed by input name, "
                                                                      "in the model's layout (NCHW for ONNX)")
    parser.add_argument("--output", required=True, metavar="FILE", help=".npy (one output) or .npz keyed by output name")
    parser.add_argument("--bits", metavar="POLICY", help="float models: 4, w4a8 (or 4/8), per part e.g. "
                                                         "8,head=4 (parts: backbone, neck, head; 32 = float); default 8")
    parser.add_argument("--calibration", metavar="FILE", help="float models: samples stacked on axis 0 "
                                                              "(default: the input plus 3 seeded noisy copies)")
    parser.add_argument("--quantized", metavar="FILE", help="float models: a quantized-model file from hwsim quantize "
                                                            "(its widths and parameters; no calibration)")
    parser.add_argument("--dequantize", action="store_true", help="write real values instead of integer codes")
    parser.add_argument("--float", action="store_true", help="write the float64 reference outputs instead")
    add_input_shape_argument(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Execute the command; returns 0 (errors raise ValueError)."""
    plan = OutputPlan(inputs=[args.model, args.input, args.calibration, args.quantized])
    output = plan.file(check_output_path(args.output), "--output")
    model = load_imported_model(args.model, input_shapes(args))
    qm = load_quantized(args.quantized, model, args.model) if args.quantized else None
    inputs = load_arrays(args.input, model.input_names, {n: model.native_shapes[n] for n in model.input_names})
    if args.float:
        if args.bits or args.calibration or args.dequantize or args.quantized:
            raise ValueError("--float runs the float64 reference: --bits, --calibration, --quantized and --dequantize "
                             "do not apply")
        outputs = run_float(model, inputs)
        mode = "float64 reference"
    elif qm is not None:
        if args.bits or args.calibration:
            raise ValueError("--quantized fixes the widths and parameters: --bits and --calibration do not apply")
        outputs = execute(qm.apply_bits(model), inputs, plan=qm.plan, dequantize=args.dequantize).outputs
        mode = f"quantized file {args.quantized} ({qm.provenance.get('method', '?')})"
    else:
        bits = parse_bits(args.bits) if args.bits else None
        if bits is None and not model.prequantized:
            bits = parse_bits("8")
        shapes = {n: model.native_shapes[n] for n in model.input_names}
        samples = load_samples(args.calibration, shapes) if args.calibration else None
        outputs = execute(model, inputs, bits=bits, calibration=samples, dequantize=args.dequantize).outputs
        mode = "own int8 parameters" if model.prequantized else f"bits {args.bits or '8'}, calibrated"
    plan.stage(output, encode_outputs(output, outputs))
    plan.commit()
    shapes = ", ".join(f"{k} {tuple(v.shape)} {v.dtype}" for k, v in outputs.items())
    print(f"{args.model}: {mode}; wrote {args.output}: {shapes}")
    return 0
