"""``hwsim quantize MODEL --method ptq|gptq --bits POLICY --calibration FILE --out FILE [--seed S]``.

Quantizes a float ``.onnx`` / ``.tflite`` model with calibration samples and
writes a quantized-model file (:mod:`sw.runtime.qmodel`) that
``hwsim run MODEL --quantized FILE`` executes. Methods: :mod:`sw.train.methods`.
Deterministic for a seed; progress on stderr.
"""

from __future__ import annotations

import argparse
import io
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from hwsim.app.commands import HELP
from hwsim.app.console import progress_wrapper
from sw.fileio import OutputPlan
from sw.graph import load_imported_model
from sw.graph.bits import parse_bits
from sw.runtime.arrays import load_samples
from sw.runtime.qmodel import QuantizedModel, encode_quantized, file_sha256
from sw.train.methods import METHODS, quantize_plan, with_first_last

__all__ = ["register", "quantize"]


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``quantize`` sub-command."""
    parser = subparsers.add_parser("quantize", help=HELP["quantize"],
                                   description="Quantize a float .onnx / .tflite model with calibration samples and "
                                               "write a quantized-model file (.npz) for hwsim run --quantized.")
    parser.add_argument("model", metavar="MODEL", help="float .onnx or .tflite file")
    parser.add_argument("--method", choices=METHODS, default="ptq",
                        help="ptq: FQN calibration, weights rounded to nearest; gptq: GPTQ weight rounding; "
                             "adaround: learned rounding per layer; fqn: QAT distilled from the float model "
                             "(adaround and fqn need the train extra)")
    parser.add_argument("--bits", default="8", metavar="POLICY",
                        help="4, w4a8 (or 4/8), per part e.g. 8,head=4 (parts: backbone, neck, head); default 8")
    parser.add_argument("--calibration", required=True, metavar="FILE",
                        help=".npy / .npz of calibration samples stacked on axis 0 (model layout)")
    parser.add_argument("--out", required=True, metavar="FILE", help="quantized-model file to write (.npz)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the method's sampling (default 0)")
    parser.add_argument("--steps", type=int, metavar="N", help="fqn: training steps (default 100)")
    parser.add_argument("--plot", metavar="FILE", help="fqn: the loss curve as a PNG")
    parser.add_argument("--first-last", type=int, metavar="BITS",
                        help="widths of the first and last weighted layers (w and a), e.g. 8")
    parser.set_defaults(func=quantize)


def _tool_version() -> str:
    try:
        return version("hwsim")
    except PackageNotFoundError:
        return "unknown"


def _loss_png(losses: list[float], title: str) -> bytes:
    """PNG of the distillation loss per training step."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(range(len(losses)), losses, marker=".")
    ax.set(xlabel="step", ylabel="distillation loss (relative MSE)", title=title)
    ax.grid(alpha=0.3)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def quantize(args: argparse.Namespace) -> int:
    """Execute the command; returns 0 (errors raise ValueError)."""
    plan = OutputPlan(inputs=[args.model, args.calibration])
    if Path(args.out).suffix.lower() != ".npz":
        raise ValueError(f"{args.out}: --out must be a .npz file")
    out = plan.file(args.out, "--out")
    if args.plot is not None and (args.method != "fqn" or Path(args.plot).suffix.lower() != ".png"):
        raise ValueError(f"{args.plot}: --plot writes the fqn loss curve as a .png (with --method fqn)")
    plot = plan.file(args.plot, "--plot")
    model = load_imported_model(args.model)
    if model.prequantized:
        raise ValueError(f"{args.model}: model is pre-quantized (int8); quantize takes float models")
    if args.steps is not None and args.method != "fqn":
        raise ValueError("--steps applies to --method fqn only")
    model = model.with_bits(parse_bits(args.bits))
    if args.first_last is not None:
        model = with_first_last(model, args.first_last)
    samples = load_samples(args.calibration, {n: model.native_shapes[n] for n in model.input_names})
    losses: list[float] = []
    integer = quantize_plan(model, samples, args.method, args.seed, progress_wrapper(f"{args.method} samples/layers/steps"),
                            steps=args.steps, losses=losses)
    provenance = {"method": args.method, "bits": args.bits, "first_last": args.first_last, "seed": args.seed,
                  "tool": f"hwsim {_tool_version()}", "losses": losses,
                  "calibration": {"name": Path(args.calibration).name, "sha256": file_sha256(args.calibration),
                                  "samples": len(samples)}}
    qm = QuantizedModel(integer, {l.name: (l.w_bits, l.a_bits) for l in model.graph}, Path(args.model).name,
                        file_sha256(args.model), provenance)
    plan.stage(out, encode_quantized(qm))
    if plot is not None:
        plan.stage(plot, _loss_png(losses, f"{Path(args.model).name}: fqn, bits {args.bits}"))
    plan.commit()
    curve = f"; loss {losses[0]:.4g} -> {losses[-1]:.4g} in {len(losses) - 1} steps" if losses else ""
    print(f"{args.model}: {args.method} at bits {args.bits} on {len(samples)} samples{curve}; wrote {args.out}")
    return 0
