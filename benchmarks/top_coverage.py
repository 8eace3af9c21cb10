"""Which weighted layers of a model the RTL accelerator top runs at full size, on a config's schedule.

Usage: ``python benchmarks/top_coverage.py [--config C] [--bits 4 8] [MODEL ...]`` (MODEL: ``blazeface``,
``yolox_tiny`` or an ``.onnx`` / ``.tflite`` file; default both detectors, edge16_int4, 4 and 8).

For every conv / depthwise / fc layer: the compiler's schedule for the config
(:func:`hwsim.compiler.compile_layer`) turned into the top's program
(:func:`rtl.top.grouped.grouped_program`, as ``hwsim cosim layer`` does), without running it.
Prints per model and width the layers with a program (and how many split K, how many are grouped)
and every refusal reason with its count and the refused layers' messages. No data and no simulation: shapes only.
"""

from __future__ import annotations

import argparse
from collections import Counter

from hwsim.app.rtltop import top_arch
from hwsim.compiler import compile_layer
from hwsim.configfile import load_config
from rtl.top.grouped import grouped_program
from rtl.top.layer import layer_gemm
from sw.data.models import blazeface_path, yolox_tiny_path
from sw.graph import load_imported_model
from sw.graph.bits import BitPolicy
from sw.graph.ir import Op

MODELS = {"blazeface": lambda: blazeface_path("short_range"), "yolox_tiny": yolox_tiny_path}


def coverage(model_ref: str, config: str, bits: int) -> tuple[Counter, dict[str, list[str]]]:
    """``(counts of runnable layers by kind, refusal reason -> the refused layers' own messages)``."""
    path = MODELS[model_ref]() if model_ref in MODELS else model_ref
    model = load_imported_model(path).with_bits(BitPolicy(default=(bits, bits)))
    cfg = load_config(config)
    top = top_arch(cfg)
    ok, refused = Counter(), {}
    for layer in model.graph:
        if layer.op not in (Op.CONV, Op.DEPTHWISE, Op.FC):
            continue
        try:
            gemm, groups = layer_gemm(layer)
            t = compile_layer(layer, cfg).tiling
            grouped_program(top, gemm, groups, t["tile_out_pixels"], t["tile_out_channels"], t["loop_order"],
                            t.get("tile_in_channels"))
        except ValueError as exc:
            reason = str(exc).split(": ", 1)[-1]
            key = " ".join(w if not w[:1].isdigit() else "N" for w in reason.split())
            refused.setdefault(key, []).append(f"{layer.name}: {reason}")
            continue
        ok["layers"] += 1
        ok["grouped"] += groups > 1
        ok["K split"] += t.get("k_chunks", 1) > 1
    return ok, refused


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("models", nargs="*", default=list(MODELS))
    p.add_argument("--config", default="edge16_int4")
    p.add_argument("--bits", type=int, nargs="+", default=[4, 8])
    args = p.parse_args()
    for m in args.models:
        for b in args.bits:
            ok, refused = coverage(m, args.config, b)
            total = ok["layers"] + sum(len(v) for v in refused.values())
            print(f"{m} int{b} on {args.config}: {ok['layers']}/{total} layers have a program "
                  f"({ok['grouped']} grouped, {ok['K split']} with a K split)")
            for reason, layers in sorted(refused.items(), key=lambda kv: -len(kv[1])):
                print(f"  refused x{len(layers)}: {reason}")
                for line in layers:
                    print(f"    {line}")


if __name__ == "__main__":
    main()
