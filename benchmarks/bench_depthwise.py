"""Benchmark of the golden depthwise convolution (``sw.golden.conv.conv2d``, groups = Cin) against its old algorithm.

Prints, in one run and per layer and precision, the full layer (accumulation +
bias + requantization, SAME padding) of

* **baseline**: a faithful copy of the golden model's previous depthwise algorithm
  (:func:`old_depthwise`: ``x - zx`` in float32, one ``acc += tap * w`` per kernel
  tap over the whole output, int64 accumulators, the int64 output stage
  ``OutputStage.finish``), about 0.5 GMAC/s when issue 16 was filed;
* **new**: ``conv2d`` as it is now (``sw.golden.depthwise``),

as single-thread CPU time (``time.process_time``, best of N, the new path's thread
pool disabled; the least contention-sensitive figure on a shared machine) and as
wall time (best of N, the new path with its default two threads), in ms and GMAC/s,
with the speed-up ratios. The outputs of both paths are compared (exit status 1 on
any mismatch). The load average is printed before and after: other processes on
the machine slow both paths down.

Layers and cases are those of ``benchmarks/bench_golden.py`` (``make_case``).

Usage (from the repository root)::

    python benchmarks/bench_depthwise.py               # best of 15
    python benchmarks/bench_depthwise.py --repeats 5   # quicker
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
for path in (REPO_ROOT, Path(__file__).resolve().parent):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

import numpy as np  # noqa: E402

import sw.golden.depthwise as depthwise  # noqa: E402
from bench_golden import FULL_LAYERS, PRECISIONS, Case, Layer, make_case  # noqa: E402
from sw.golden.conv import conv2d  # noqa: E402
from sw.golden.window import pad_input, resolve_padding, tap  # noqa: E402

LAYERS = [layer for layer in FULL_LAYERS if layer.kind == "dw"]


def old_depthwise(case: Case, layer: Layer) -> np.ndarray:
    """The previous golden depthwise path (float32 tap loop, int64 output stage), output codes int64."""
    x, w = case.x, case.w_ohwi
    n, h, wd, cin = x.shape
    cout, kh, kw, _ = w.shape
    stride, dilation = (layer.stride, layer.stride), (1, 1)
    pads = resolve_padding("SAME", (h, wd), (kh, kw), stride, dilation)
    xc = x.astype(np.float32)
    xc -= case.x_zp
    padded, out_hw = pad_input(xc, (kh, kw), stride, dilation, pads)
    if cout > cin:
        padded = np.repeat(padded, cout // cin, axis=-1)
    wt = w.reshape(cout, kh * kw).T.astype(np.float32)  # symmetric weights: zero point 0
    acc = np.zeros((n, *out_hw, cout), dtype=np.float32)
    for i in range(kh):
        for j in range(kw):
            acc += tap(padded, i, j, out_hw, stride, dilation) * wt[i * kw + j]
    return case.stage.finish(acc.astype(np.int64), case.bias, "conv2d")


def new_depthwise(case: Case, layer: Layer) -> np.ndarray:
    """The current golden path (``conv2d`` with groups = Cin)."""
    return conv2d(case.x, case.w_ohwi, case.bias, case.stage, input_zero_point=case.x_zp, stride=layer.stride,
                  padding="SAME", groups=case.groups)


def best(fn, repeats: int, clock) -> float:
    """Best time (s) of ``repeats`` calls after one warm-up call, measured with ``clock``."""
    fn()
    times = []
    for _ in range(repeats):
        t0 = clock()
        fn()
        times.append(clock() - t0)
    return min(times)


def load() -> str:
    """The 1/5/15-minute load averages (2 cores on the reference machine)."""
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=15, help="timed calls per measurement (best is kept)")
    args = parser.parse_args(argv)
    print(f"load average before: {load()}  (cpus: {os.cpu_count()})")
    print("| layer | prec | base cpu ms | base GMAC/s | new cpu ms | new GMAC/s | cpu speed-up "
          "| base wall ms | new wall ms (2 thr) | wall speed-up |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    mismatches = 0
    threads = depthwise._THREADS
    for layer in LAYERS:
        for precision in PRECISIONS:
            case = make_case(layer, precision, seed=0)
            mismatches += int(np.count_nonzero(old_depthwise(case, layer) != new_depthwise(case, layer)))
            timings = {}
            for name, fn in (("base", old_depthwise), ("new", new_depthwise)):
                depthwise._THREADS = 1
                timings[name, "cpu"] = best(lambda: fn(case, layer), args.repeats, time.process_time)
                depthwise._THREADS = threads
                timings[name, "wall"] = best(lambda: fn(case, layer), args.repeats, time.perf_counter)
            gmacs = {key: layer.macs / t / 1e9 for key, t in timings.items()}
            print(f"| {layer.name} | {precision} | {timings['base', 'cpu'] * 1e3:.2f} | {gmacs['base', 'cpu']:.2f} "
                  f"| {timings['new', 'cpu'] * 1e3:.2f} | {gmacs['new', 'cpu']:.2f} "
                  f"| {timings['base', 'cpu'] / timings['new', 'cpu']:.1f}x "
                  f"| {timings['base', 'wall'] * 1e3:.2f} | {timings['new', 'wall'] * 1e3:.2f} "
                  f"| {timings['base', 'wall'] / timings['new', 'wall']:.1f}x |", flush=True)
    print(f"load average after: {load()}")
    print(f"output mismatches new vs baseline: {mismatches}")
    return 1 if mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
