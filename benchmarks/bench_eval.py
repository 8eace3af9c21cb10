"""Benchmark of detector evaluation (``hwsim eval``): images/s of generation, float and integer paths.

For each detector, on images of its synthetic evaluation split
(:mod:`sw.data.synth`), measures the wall time per image of

* preprocessing + the float64 reference executor + decoding (``float``),
* preprocessing + the integer golden model (w8a8, calibrated beforehand on the
  calibration split; calibration time reported separately) + decoding (``integer``),
* preprocessing + onnxruntime (1 thread) + decoding (``onnxruntime``, ONNX files),

plus the dataset generators' images/s. PicoDet runs on onnxruntime only until the
ONNX importer reads it (the row says so). Numbers are images per second of
wall time on this machine, one image at a time (``--jobs 1``).

Usage (from the repository root)::

    python benchmarks/bench_eval.py                  # ~3 min on an idle 2-core machine
    python benchmarks/bench_eval.py --quick          # fewer images
    python benchmarks/bench_eval.py --write-results  # also update benchmarks/RESULTS.md
"""

from __future__ import annotations

import argparse
import datetime
import os
import re
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from sw.data import models  # noqa: E402
from sw.data.synth import KINDS, make_dataset, render_images  # noqa: E402
from sw.data.synth.coco import load_coco  # noqa: E402
from sw.detect.evaluate import (  # noqa: E402
    Detector, evaluate, float_backend, integer_backend, load_detector, onnxruntime_backend)
from sw.detect.families import FAMILIES  # noqa: E402
from sw.graph.bits import parse_bits  # noqa: E402

RESULTS_MD = Path(__file__).resolve().parent / "RESULTS.md"
SECTION_TITLE = "## Detector evaluation (hwsim eval)"
CALIBRATION_IMAGES = 8


def _models() -> list[tuple[str, str, Path, str]]:
    """(label, family, path, dataset kind) of the detectors whose packages are installed."""
    found = []
    for label, family, locate, kind in (
        ("YOLOX-tiny (ddddocr)", "yolox", models.yolox_tiny_path, "chars"),
        ("BlazeFace short range", "blazeface", lambda: models.blazeface_path("short_range"), "faces"),
        ("BlazeFace back", "blazeface", lambda: models.blazeface_path("back"), "faces"),
        ("PicoDet-LCNet layout", "picodet", models.picodet_layout_path, "layout"),
    ):
        try:
            found.append((label, family, locate(), kind))
        except ValueError as exc:
            print(f"skipping {label}: {exc}", file=sys.stderr)
    return found


def _rate(detector: Detector, dataset, name: str, backend) -> tuple[float, dict]:
    result = evaluate(detector, dataset, {name: backend})
    m = result.metrics[name]
    return result.images / result.seconds, {"map": m.map, "map50": m.map50}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer images")
    parser.add_argument("--write-results", action="store_true",
                        help=f"replace the '{SECTION_TITLE}' section of {RESULTS_MD.relative_to(REPO_ROOT)}")
    args = parser.parse_args(argv)
    n = 4 if args.quick else 12
    load_before = os.getloadavg()[0]
    rows, gen_rows = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for kind in KINDS:
            made = make_dataset(kind, 2 * n if kind != "layout" else n, seed=0, out=Path(tmp) / kind, split="eval")
            gen_rows.append((kind, made.images_per_second))
            print(f"generate {kind}: {made.images_per_second:.1f} images/s", flush=True)
        for label, family, path, kind in _models():
            dataset = load_coco(Path(tmp) / kind).subset(n)
            row = {"model": label, "images": n}
            try:
                detector = load_detector(path, family)
            except ValueError as exc:
                detector = None
                row["note"] = f"our importer: {str(exc).split(': ', 1)[-1][:90]}"
            if path.suffix == ".onnx":
                fam = FAMILIES[family]
                stub = detector or Detector(path, None, fam, "image", (800, 608), fam.class_names)
                row["onnxruntime"], row["ort_metrics"] = _rate(stub, dataset, "onnxruntime", onnxruntime_backend(path))
            if detector is not None:
                row["float"], row["float_metrics"] = _rate(detector, dataset, "float", float_backend(detector))
                calib = [detector.family.preprocess(img, detector.input_hw)[0]
                         for img in render_images(kind, CALIBRATION_IMAGES, seed=0, split="calib")]
                t0 = time.perf_counter()
                backend = integer_backend(detector, parse_bits("8"), calib)
                row["calibration_s"] = time.perf_counter() - t0
                row["integer"], row["int_metrics"] = _rate(detector, dataset, "integer", backend)
            rows.append(row)
            print(f"{label}: " + ", ".join(f"{k} {row[k]:.2f} img/s" for k in ("float", "integer", "onnxruntime")
                                           if k in row), flush=True)
    table = render(rows, gen_rows)
    load = f"1-min load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after the run (of {os.cpu_count()} cores)"
    print()
    print(table)
    print(load)
    if args.write_results:
        command = "python benchmarks/bench_eval.py" + (" --quick" if args.quick else "")
        busy = max(load_before, os.getloadavg()[0]) > (os.cpu_count() or 1)
        write_results(command, table + "\n\n" + load + (" (above the core count: the figures are pessimistic)."
                                                           if busy else "."))
        print(f"\nwrote section '{SECTION_TITLE}' of {RESULTS_MD}")
    return 0


def _fmt(value, spec=".2f") -> str:
    return "-" if value is None else format(value, spec)


def render(rows: list[dict], gen_rows: list[tuple[str, float]]) -> str:
    lines = ["| model | images | float img/s | integer w8a8 img/s | calibration s | onnxruntime img/s | "
             "float mAP50 / mAP | integer mAP50 / mAP | onnxruntime mAP50 / mAP |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for r in rows:
        def pair(key):
            m = r.get(key)
            return "-" if m is None else f"{m['map50']:.3f} / {m['map']:.3f}"
        lines.append(f"| {r['model']} | {r['images']} | {_fmt(r.get('float'))} | {_fmt(r.get('integer'))} | "
                     f"{_fmt(r.get('calibration_s'), '.1f')} | {_fmt(r.get('onnxruntime'))} | {pair('float_metrics')} | "
                     f"{pair('int_metrics')} | {pair('ort_metrics')} |")
    notes = [f"- {r['model']}: {r['note']}" for r in rows if "note" in r]
    gen = "Generators (images/s, writing PNG/JPEG + annotations.json): " + ", ".join(
        f"{k} {v:.1f}" for k, v in gen_rows)
    return "\n".join(lines + [""] + notes + ([""] if notes else []) + [gen])


def write_results(command: str, table: str) -> None:
    """Replace (or append) this benchmark's section of RESULTS.md."""
    stamp = datetime.datetime.now().astimezone().isoformat(timespec="seconds")
    section = "\n".join([
        SECTION_TITLE, "",
        f"Command (from the repository root): `{command}` ({stamp}; {os.cpu_count()}-core machine, "
        f"one image at a time; the golden model uses numpy's multithreaded BLAS). Images of each detector's "
        f"synthetic evaluation split; mAP on so few images is indicative only.", "",
        table, ""])
    text = RESULTS_MD.read_text(encoding="utf-8") if RESULTS_MD.exists() else "# Benchmark results\n"
    pattern = re.compile(rf"^{re.escape(SECTION_TITLE)}\n.*?(?=^## |\Z)", re.S | re.M)
    text = pattern.sub(section + "\n", text) if pattern.search(text) else text.rstrip("\n") + "\n\n" + section
    RESULTS_MD.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main())
