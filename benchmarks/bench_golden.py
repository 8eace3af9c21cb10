"""Benchmark of the integer golden model's convolutions (``sw.golden.conv``).

Times ``conv2d`` (accumulation + bias + requantization, the full layer) on
YOLOv3-sized 3x3 and 1x1 convolutions and MobileNet/YOLO-sized depthwise
layers at w4a4, w4a8 and w8a8, and prints, per layer, the MACs, best-of-N wall
time, GMAC/s, the accumulation path chosen by ``sw.golden.exact.choose_dtype``
and, where TFLite has a kernel (int8 activations: w8a8, and w4a8 via INT4
filters), the TFLite ``BUILTIN_REF`` interpreter's time on the same layer, the
speed ratio and the number of output mismatches (must be 0).

Baselines measured in the same run, on the GEMM of the reference layer
(52x52x256 -> 256, 3x3: M=2704, K=2304, N=256; smaller with ``--quick``):
float32 / float64 numpy GEMM and a numpy int64 matmul, in GMAC/s.

Usage (from the repository root)::

    python benchmarks/bench_golden.py            # full run (~1 min on an idle machine)
    python benchmarks/bench_golden.py --quick    # smaller layers, a few seconds
    python benchmarks/bench_golden.py --write-results   # also update benchmarks/RESULTS.md

This is a benchmark, not a test: it exits with status 1 only if the golden
model's outputs differ from TFLite's (or on errors), never on speed.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

import numpy as np  # noqa: E402

from sw.golden.conv import conv2d, conv2d_accumulate, depthwise_weights_to_ohwi  # noqa: E402
from sw.golden.exact import choose_dtype  # noqa: E402
from sw.golden.requant import OutputStage  # noqa: E402
from sw.quant.params import QuantParams  # noqa: E402

RESULTS_MD = Path(__file__).resolve().parent / "RESULTS.md"
SECTION_TITLE = "## Golden model (sw.golden)"

# Targets from the issue (3x3 convolutions, this 2-core machine).
TARGET_GMACS = {"w4a4": 20.0, "w8a8": 10.0}


# ---------------------------------------------------------------------------
# Layers and precisions
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Layer:
    name: str
    kind: str  # "conv" or "dw"
    h: int
    w: int
    cin: int
    cout: int
    k: int
    stride: int = 1

    @property
    def ho(self) -> int:  # SAME padding
        return -(-self.h // self.stride)

    @property
    def wo(self) -> int:
        return -(-self.w // self.stride)

    @property
    def depth(self) -> int:
        """Products per accumulator (K of the implicit GEMM)."""
        return self.k * self.k * (1 if self.kind == "dw" else self.cin)

    @property
    def macs(self) -> int:
        return self.ho * self.wo * self.cout * self.depth


FULL_LAYERS = [
    Layer("conv3x3 104x104x128->128", "conv", 104, 104, 128, 128, 3),
    Layer("conv3x3 52x52x256->256", "conv", 52, 52, 256, 256, 3),
    Layer("conv3x3 26x26x512->512", "conv", 26, 26, 512, 512, 3),
    Layer("conv1x1 52x52x256->128", "conv", 52, 52, 256, 128, 1),
    Layer("dw3x3 112x112x96", "dw", 112, 112, 96, 96, 3),
    Layer("dw3x3 52x52x256", "dw", 52, 52, 256, 256, 3),
]
QUICK_LAYERS = [
    Layer("conv3x3 52x52x64->64", "conv", 52, 52, 64, 64, 3),
    Layer("conv3x3 26x26x128->128", "conv", 26, 26, 128, 128, 3),
    Layer("conv1x1 26x26x128->64", "conv", 26, 26, 128, 64, 1),
    Layer("dw3x3 56x56x96", "dw", 56, 56, 96, 96, 3),
    Layer("dw3x3 26x26x128", "dw", 26, 26, 128, 128, 3),
]
# The layer whose GEMM size the baselines use.
FULL_BASELINE = FULL_LAYERS[1]
QUICK_BASELINE = QUICK_LAYERS[1]

# precision -> (weight bits, activation bits); activations and outputs share a width.
PRECISIONS = {"w4a4": (4, 4), "w4a8": (4, 8), "w8a8": (8, 8)}


def f32(values) -> np.ndarray:
    """Round to float32 (TFLite stores scales as float32) and return float64."""
    return np.asarray(values, dtype=np.float32).astype(np.float64)


@dataclass
class Case:
    """One layer at one precision, set up identically for the golden model and TFLite."""

    x: np.ndarray  # int8 codes NHWC
    w_tfl: np.ndarray  # OHWI (conv) or [1, kh, kw, Cout] (depthwise), int8 codes
    w_ohwi: np.ndarray  # OHWI golden weights
    bias: np.ndarray  # int32 [Cout]
    x_scale: float
    x_zp: int
    w_scales: np.ndarray
    out_scale: float
    out_zp: int
    stage: OutputStage
    groups: int
    path: str


def make_case(layer: Layer, precision: str, seed: int) -> Case:
    w_bits, a_bits = PRECISIONS[precision]
    rng = np.random.default_rng(seed)
    a_lo, a_hi = -(1 << (a_bits - 1)), (1 << (a_bits - 1)) - 1
    w_lo, w_hi = -(1 << (w_bits - 1)), (1 << (w_bits - 1)) - 1
    x = rng.integers(a_lo, a_hi + 1, size=(1, layer.h, layer.w, layer.cin), dtype=np.int8)
    x_zp = int(rng.integers(a_lo // 4, a_hi // 4 + 1))  # a small nonzero-ish zero point
    if layer.kind == "dw":
        w_tfl = rng.integers(w_lo, w_hi + 1, size=(1, layer.k, layer.k, layer.cout), dtype=np.int8)
        w_ohwi = depthwise_weights_to_ohwi(w_tfl)
        groups = layer.cin
    else:
        w_tfl = rng.integers(w_lo, w_hi + 1, size=(layer.cout, layer.k, layer.k, layer.cin), dtype=np.int8)
        w_ohwi = w_tfl
        groups = 1
    x_scale = float(f32(rng.uniform(0.01, 0.05)))
    w_scales = f32(rng.uniform(0.5, 1.5, size=layer.cout) * 0.1 / (w_hi + 1))
    # Accumulator spread (codes): sqrt(K) * std(x - zx) * std(w); bias within it.
    x_std = np.sqrt(((a_hi - a_lo + 1) ** 2 - 1) / 12 + (np.mean([a_lo, a_hi]) - x_zp) ** 2)
    w_std = np.sqrt(((w_hi - w_lo + 1) ** 2 - 1) / 12)
    acc_std = np.sqrt(layer.depth) * x_std * w_std
    bias = rng.integers(-int(acc_std / 2), int(acc_std / 2) + 1, size=layer.cout).astype(np.int32)
    # Output scale: the accumulator spread maps to ~1/4 of the output code range.
    out_scale = float(f32(x_scale * w_scales.mean() * acc_std / ((a_hi + 1) / 4)))
    out_zp = int(rng.integers(a_lo // 8, a_hi // 8 + 1))
    stage = OutputStage.for_layer(
        QuantParams(a_bits, True, x_scale, x_zp),
        QuantParams(w_bits, True, w_scales, np.zeros(layer.cout, dtype=np.int64), axis=0),
        QuantParams(a_bits, True, out_scale, out_zp),
        "none",
    )
    max_x = int(np.abs(x.astype(np.int64) - x_zp).max())
    max_w = int(np.abs(w_ohwi.astype(np.int64)).max())
    path = choose_dtype(layer.depth, max_x, max_w)
    return Case(x, w_tfl, w_ohwi, bias, x_scale, x_zp, w_scales, out_scale, out_zp, stage, groups, path)


# ---------------------------------------------------------------------------
# Timing
# ---------------------------------------------------------------------------


def best_of(fn, repeats: int, warmup: int = 1) -> tuple[float, object]:
    """Best wall time (s) of ``repeats`` calls after ``warmup`` calls; returns (time, last result)."""
    result = None
    for _ in range(warmup):
        result = fn()
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t0)
    return best, result


def golden_fns(layer: Layer, case: Case):
    kwargs = dict(input_zero_point=case.x_zp, stride=layer.stride, padding="SAME", groups=case.groups)

    def full():
        return conv2d(case.x, case.w_ohwi, case.bias, case.stage, **kwargs)

    def acc_only():
        return conv2d_accumulate(case.x, case.w_ohwi, **kwargs)

    return full, acc_only


def tflite_model(layer: Layer, case: Case, w_bits: int) -> bytes:
    from oracles import tflite_ref

    common = dict(stride=(layer.stride, layer.stride), padding="SAME", fused="NONE", weight_bits=w_bits)
    args = (case.x.shape, case.x_scale, case.x_zp, case.w_tfl, case.w_scales, case.bias, case.out_scale, case.out_zp)
    if layer.kind == "dw":
        return tflite_ref.build_depthwise_conv2d(*args, depth_multiplier=1, **common)
    return tflite_ref.build_conv2d(*args, **common)


def time_tflite(model: bytes, x: np.ndarray, repeats: int) -> tuple[float, float, np.ndarray]:
    """(best ``invoke()`` time, one full ``tflite_ref.run_model`` call time, outputs of ``run_model``).

    The outputs compared are those of the oracle's own ``run_model``; the
    timed interpreter is built the same way (BUILTIN_REF resolver).
    """
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    from oracles import tflite_ref

    t0 = time.perf_counter()
    (expected,) = tflite_ref.run_model(model, [x])
    t_run_model = time.perf_counter() - t0

    interp = Interpreter(model_content=model, experimental_op_resolver_type=OpResolverType.BUILTIN_REF)
    interp.allocate_tensors()
    interp.set_tensor(interp.get_input_details()[0]["index"], x.astype(np.int8))
    t_invoke, _ = best_of(interp.invoke, repeats, warmup=1)
    return t_invoke, t_run_model, expected.astype(np.int64)


def gemm_baselines(layer: Layer, repeats: int, kinds=("float32", "float64", "int64")) -> dict[str, tuple[float, float]]:
    """GMAC/s and seconds of numpy GEMMs of the layer's implicit-GEMM size (M x K @ K x N)."""
    m, k, n = layer.ho * layer.wo, layer.depth, layer.cout
    rng = np.random.default_rng(1)
    a = rng.integers(-128, 128, size=(m, k))
    b = rng.integers(-128, 128, size=(k, n))
    macs = m * k * n
    out = {}
    for name, dtype, reps in (("float32", np.float32, repeats), ("float64", np.float64, repeats), ("int64", np.int64, 1)):
        if name not in kinds:
            continue
        aa, bb = a.astype(dtype), b.astype(dtype)
        # int64 matmul has no BLAS kernel (~0.2 GMAC/s): one run, no warm-up.
        t, _ = best_of(lambda: aa @ bb, reps, warmup=0 if dtype is np.int64 else 1)
        out[name] = (macs / t / 1e9, t)
    return out


# ---------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------


def cpu_busy_seconds() -> float | None:
    """Machine-wide busy CPU seconds so far (all cores, from /proc/stat), or None if unavailable."""
    try:
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return None
    # user nice system idle iowait irq softirq steal ...: busy = all but idle and iowait.
    busy = sum(fields[:8]) - fields[3] - fields[4]
    return busy / os.sysconf("SC_CLK_TCK")


def background_cores(seconds: float = 1.0) -> float | None:
    """Average busy cores over ``seconds`` while this process sleeps (other processes' load)."""
    before = cpu_busy_seconds()
    time.sleep(seconds)
    after = cpu_busy_seconds()
    return None if before is None or after is None else (after - before) / seconds


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def own_cpu_seconds() -> float:
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def fmt_ms(t: float | None) -> str:
    return "-" if t is None else f"{t * 1e3:.1f}"


def render_table(rows: list[dict]) -> str:
    headers = ["layer", "prec", "MMAC", "path", "golden ms", "GMAC/s", "acc GMAC/s", "f32 GEMM", "vs f32",
               "TFLite ms", "speedup", "mismatch"]
    body = []
    for r in rows:
        body.append([
            r["layer"], r["prec"], f"{r['macs'] / 1e6:.0f}", r["path"], fmt_ms(r["t_golden"]),
            f"{r['gmacs']:.2f}", f"{r['gmacs_acc']:.2f}",
            "-" if r["f32"] is None else f"{r['f32']:.2f}",
            "-" if r["f32"] is None else f"{r['gmacs'] / r['f32']:.0%}",
            fmt_ms(r["t_tfl"]),
            "-" if r["t_tfl"] is None else f"{r['t_tfl'] / r['t_golden']:.2f}x",
            "-" if r["mismatch"] is None else str(r["mismatch"]),
        ])
    widths = [max(len(h), *(len(row[i]) for row in body)) for i, h in enumerate(headers)]
    left = {0, 1, 3}

    def line(cells):
        return "  ".join(c.ljust(wd) if i in left else c.rjust(wd) for i, (c, wd) in enumerate(zip(cells, widths)))

    out = [line(headers), "  ".join("-" * wd for wd in widths)]
    out += [line(row) for row in body]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller layers (a few seconds)")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per measurement after a warm-up (>= 1; default 5)")
    parser.add_argument("--no-tflite", action="store_true", help="skip the TFLite BUILTIN_REF comparison")
    parser.add_argument("--write-results", action="store_true",
                        help=f"replace the '{SECTION_TITLE}' section of {RESULTS_MD.relative_to(REPO_ROOT)}")
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error("--repeats must be >= 1")

    layers = QUICK_LAYERS if args.quick else FULL_LAYERS
    baseline_layer = QUICK_BASELINE if args.quick else FULL_BASELINE
    idle_before = background_cores()
    t_start = time.perf_counter()
    busy_before, own_before = cpu_busy_seconds(), own_cpu_seconds()
    header = [
        f"date: {datetime.datetime.now().astimezone().isoformat(timespec='seconds')}",
        f"machine: {cpu_model()}, {os.cpu_count()} logical cores; python {platform.python_version()}, "
        f"numpy {np.__version__}; busy cores before the run (1 s sample): "
        + ("n/a" if idle_before is None else f"{idle_before:.2f}"),
        f"timing: best of {args.repeats} after 1 warm-up, time.perf_counter; golden = sw.golden.conv.conv2d "
        f"(accumulate + bias + requantize); acc = conv2d_accumulate only",
    ]
    for line in header:
        print(line)

    base_before = gemm_baselines(baseline_layer, args.repeats)
    m, k, n = baseline_layer.ho * baseline_layer.wo, baseline_layer.depth, baseline_layer.cout

    rows = []
    for li, layer in enumerate(layers):
        # float32 BLAS GEMM of this layer's implicit-GEMM size, measured just before it (the
        # ceiling for the float32 path; a ratio that is robust to slow drifts in contention).
        f32 = None if layer.kind == "dw" else gemm_baselines(layer, args.repeats, ("float32",))["float32"][0]
        for pi, precision in enumerate(PRECISIONS):
            w_bits, a_bits = PRECISIONS[precision]
            case = make_case(layer, precision, seed=1000 * li + pi)
            full, acc_only = golden_fns(layer, case)
            t_golden, got = best_of(full, args.repeats)
            t_acc, _ = best_of(acc_only, args.repeats)
            row = dict(layer=layer.name, prec=precision, macs=layer.macs, path=case.path, f32=f32,
                       t_golden=t_golden, gmacs=layer.macs / t_golden / 1e9,
                       gmacs_acc=layer.macs / t_acc / 1e9, t_tfl=None, t_run_model=None, mismatch=None,
                       codes=None)
            if a_bits == 8 and not args.no_tflite:
                model = tflite_model(layer, case, w_bits)
                t_tfl, t_rm, expected = time_tflite(model, case.x, args.repeats)
                if got.shape != expected.shape:
                    raise SystemExit(f"{layer.name} {precision}: shape {got.shape} != TFLite {expected.shape}")
                row.update(t_tfl=t_tfl, t_run_model=t_rm, mismatch=int(np.count_nonzero(got != expected)),
                           codes=int(np.unique(expected).size))
            rows.append(row)
            print(f"  {layer.name:<26} {precision}: {row['gmacs']:6.2f} GMAC/s"
                  + ("" if row["mismatch"] is None else f", TFLite mismatches {row['mismatch']}"), flush=True)

    base_after = gemm_baselines(baseline_layer, args.repeats)
    elapsed = time.perf_counter() - t_start
    busy_after, own_after = cpu_busy_seconds(), own_cpu_seconds()
    # CPU time used by other processes while this script ran, in cores (average).
    others = None
    if busy_before is not None and busy_after is not None:
        others = max(0.0, (busy_after - busy_before) - (own_after - own_before)) / elapsed

    table = render_table(rows)
    base_lines = [
        f"baselines (numpy GEMM M={m} K={k} N={n}, the {baseline_layer.name} implicit GEMM; start / end of run):",
        *(f"  {name:<8} {base_before[name][0]:7.2f} / {base_after[name][0]:7.2f} GMAC/s"
          + ("   (single run, no warm-up)" if name == "int64" else "") for name in base_before),
    ]
    # Targets (3x3 convolutions) and a prose summary for RESULTS.md.
    verdicts, summary = [], []
    for precision, target in TARGET_GMACS.items():
        figs = [r["gmacs"] for r in rows if r["prec"] == precision and r["layer"].startswith("conv3x3")]
        if figs:
            met = sum(f >= target for f in figs)
            word = "MET" if met == len(figs) else "NOT MET"
            verdicts.append(f"target {precision} 3x3 conv >= {target:.0f} GMAC/s: {word} ({met}/{len(figs)} "
                            f"layers reach it; {min(figs):.2f}-{max(figs):.2f} GMAC/s)")
            summary.append(f"the {precision} target (>= {target:.0f} GMAC/s on 3x3 convolutions) is "
                           f"{'met' if met == len(figs) else 'not met'}: {met} of {len(figs)} layers reach it "
                           f"({min(figs):.2f}-{max(figs):.2f} GMAC/s for the full conv2d)")
    compared = [r for r in rows if r["mismatch"] is not None]
    f32_drift = abs(base_after["float32"][0] - base_before["float32"][0]) / max(base_before["float32"][0], 1e-9)
    total_mismatch = sum(r["mismatch"] for r in compared)
    if compared:
        parts = []
        for prefix, label in (("conv3x3", "3x3 conv"), ("conv1x1", "1x1 conv"), ("dw", "depthwise")):
            ratios = [r["t_tfl"] / r["t_golden"] for r in compared if r["layer"].startswith(prefix)]
            if ratios:
                parts.append(f"{min(ratios):.2f}-{max(ratios):.2f}x on {label}")
        summary.append("golden time vs TFLite BUILTIN_REF (TFLite time / golden time, > 1 = golden faster): "
                       + ", ".join(parts)
                       + (f"; outputs identical on all {len(compared)} compared layers" if total_mismatch == 0
                          else f"; {total_mismatch} output MISMATCHES"))
    notes = [
        f"TFLite: ai-edge-litert BUILTIN_REF (single-threaded reference kernels), best invoke() time; "
        f"one full tflite_ref.run_model call (build + allocate + invoke) took "
        f"{max((r['t_run_model'] / r['t_tfl'] for r in compared), default=float('nan')):.2f}x invoke at most. "
        f"speedup = TFLite time / golden time. w4a4 has no TFLite kernel (int4 activations): golden only."
        if compared else "TFLite comparison skipped.",
        f"output mismatches vs TFLite: {total_mismatch} over {len(compared)} layers "
        f"(distinct output codes per layer: {min((r['codes'] for r in compared), default=0)}..."
        f"{max((r['codes'] for r in compared), default=0)})" if compared else "",
        f"total {elapsed:.0f} s; other processes (incl. hypervisor steal) used "
        + ("n/a" if others is None else f"{others:.2f} cores on average")
        + f" during the run (of {os.cpu_count()}); float32 GEMM start/end drift {f32_drift:.0%}",
    ]
    contended = (f32_drift > 0.15 or (others is not None and others > 0.25)
                 or (idle_before is not None and idle_before > 0.25))
    if contended:
        notes.append("WARNING: the CPU looks contended (other processes busy or the float32 GEMM baseline "
                     "drifted > 15%): the figures are pessimistic; re-run on an idle machine.")
        summary.append("the CPU looked contended during this run (see the last lines of the block), so the "
                       "figures are pessimistic; re-run on an idle machine")
    else:
        summary.append("no significant CPU contention was detected during this run "
                       "(other processes " + ("n/a" if others is None else f"{others:.2f} cores")
                       + f", float32 GEMM drift {f32_drift:.0%})")
    print()
    print(table)
    print()
    for line in base_lines + verdicts + [n for n in notes if n]:
        print(line)

    if args.write_results:
        command = "python benchmarks/bench_golden.py" + (" --quick" if args.quick else "") + \
            (f" --repeats {args.repeats}" if args.repeats != 5 else "") + (" --no-tflite" if args.no_tflite else "")
        write_results(command, header, table, base_lines, verdicts, [n for n in notes if n], summary)
        print(f"\nwrote section '{SECTION_TITLE}' of {RESULTS_MD}")

    if total_mismatch:
        print(f"\nFAIL: {total_mismatch} golden outputs differ from TFLite BUILTIN_REF", file=sys.stderr)
        return 1
    return 0


def write_results(command, header, table, base_lines, verdicts, notes, summary) -> None:
    """Replace (or append) the golden-model section of RESULTS.md, leaving other sections alone."""
    section = "\n".join([
        SECTION_TITLE,
        "",
        f"Command (from the repository root): `{command}` ({header[0]}; {os.cpu_count()}-core machine, "
        f"golden model multithreaded through numpy's BLAS, TFLite reference kernels single-threaded).",
        "",
        "Summary: " + "; ".join(summary) + ".",
        "",
        "Columns: MMAC = millions of multiply-accumulates; path = accumulation dtype chosen by "
        "`sw.golden.exact.choose_dtype` (exact by the operand bound); golden ms / GMAC/s = best-of-N "
        "`conv2d` (accumulate + bias + requantize); acc GMAC/s = `conv2d_accumulate` only; f32 GEMM = "
        "numpy float32 GEMM of the layer's implicit-GEMM size (GMAC/s, measured just before the layer) and "
        "vs f32 = golden GMAC/s as a fraction of it; TFLite = "
        "BUILTIN_REF `invoke()` on the identical layer (same codes, float32 scales, bias); speedup = "
        "TFLite time / golden time; mismatch = differing output codes (must be 0).",
        "",
        "```",
        *header,
        "",
        table,
        "",
        *base_lines,
        *verdicts,
        *notes,
        "```",
        "",
    ])
    text = RESULTS_MD.read_text() if RESULTS_MD.exists() else "# Benchmark results\n\n"
    pattern = re.compile(rf"^{re.escape(SECTION_TITLE)}\s*$.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(text):
        text = pattern.sub(lambda _: section + "\n", text, count=1)
    else:
        text = text.rstrip("\n") + "\n\n" + section
    RESULTS_MD.write_text(text.rstrip("\n") + "\n")


if __name__ == "__main__":
    sys.exit(main())
