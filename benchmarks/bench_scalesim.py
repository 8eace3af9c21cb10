"""SCALE-Sim itself on a few layers, next to ours (``scalesim_32x32``, SCALE-Sim array timing).

Creates a virtual environment in a temporary directory, pip-installs ``scalesim==3.0.0`` (it needs
``numpy<2.4``, so it cannot share the project's environment), writes a small topology and layout file
(layers from the SCALE-Sim topologies in ``tests/fixtures/scalesim``), runs SCALE-Sim with the
fixture's configuration (32x32, output stationary, 64 KiB SRAMs, 16 words/cycle) and prints, per
layer, SCALE-Sim's compute cycles (total - stall), its total cycles, SCALE-Sim's stall-free formula,
and our compute cycles (stall-free DRAM) and total cycles at 16 B/cycle. Needs network access to the
package registry; prints why and exits 0 when the install fails. Run:
``python benchmarks/bench_scalesim.py`` (a few minutes: SCALE-Sim simulates every cycle).
"""

from __future__ import annotations

import csv
import math
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hwsim.configfile import load_config  # noqa: E402
from hwsim.simulate import simulate_graph  # noqa: E402
from sw.graph import load_model  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures" / "scalesim"
#: (topology, layer) pairs: small enough for SCALE-Sim's cycle-by-cycle run.
LAYERS = (("yolo_tiny", "Conv9"), ("Resnet18", "Conv4_s"), ("Resnet18", "Conv5_s"), ("Resnet18", "FC"))
HEADER = "Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, Strides,"
LAYOUT_HEADER = ("Layer name, IFMAP Height Intraline Factor, IFMAP Width Intraline Factor, Filter Height Intraline "
                 "Factor, Filter Width Intraline Factor, Channel Intraline Factor, Num Filter Intraline Factor, "
                 "IFMAP Height Intraline Order, IFMAP Width Intraline Order, Channel Intraline Order, IFMAP Height "
                 "Interline Order, IFMAP Width Interline Order, Channel Interline Order, Num Filter Intraline Order, "
                 "Channel Intraline Order, Filter Height Intraline Order, Filter Width Intraline Order, Num Filter "
                 "Interline Order, Channel Interline Order, Filter Height Interline Order, Filter Width Interline "
                 "Order,")


def _rows() -> list[tuple[str, list[int]]]:
    out = []
    for topo, name in LAYERS:
        for line in (FIXTURES / f"{topo}.csv").read_text().splitlines()[1:]:
            f = [x.strip() for x in line.split(",") if x.strip()]
            if f and f[0] == name:
                out.append((f"{topo}_{name}", [int(v) for v in f[1:8]]))
    return out


def formula(h, w, fh, fw, c, n, s, rows=32, cols=32) -> int:
    """SCALE-Sim's stall-free OS cycles: folds * (K + rows + cols - 2) - 1."""
    e = math.ceil((h - fh + s) / s) * math.ceil((w - fw + s) / s)
    return math.ceil(e / rows) * math.ceil(n / cols) * (fh * fw * c + rows + cols - 2) - 1


def main() -> int:
    rows = _rows()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        venv = tmp / "venv"
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        py = venv / "bin" / "python"
        pip = subprocess.run([str(py), "-m", "pip", "install", "-q", "scalesim==3.0.0", "numpy<2.4"],
                             capture_output=True, text=True)
        if pip.returncode:
            print("scalesim==3.0.0 could not be installed (offline or no wheel); skipped:\n" + pip.stderr[-800:])
            return 0
        topo = tmp / "layers.csv"
        topo.write_text(HEADER + "\n" + "".join(f"{n}, {', '.join(map(str, v))},\n" for n, v in rows))
        layout = tmp / "layout.csv"
        layout.write_text(LAYOUT_HEADER + "\n" + "".join(
            f"{n}, 1, 1, 1, 1, 1, 1, 0, 1, 2, 3, 4, 5, 3, 2, 1, 0, 4, 5, 6, 7,\n" for n, _ in rows))
        t0 = time.perf_counter()
        subprocess.run([str(py), "-m", "scalesim.scale", "-c", str(FIXTURES / "scalesim_32x32_os.cfg"), "-t",
                        str(topo), "-l", str(layout), "-p", str(tmp / "out"), "-s", "N"],
                       check=True, capture_output=True, cwd=tmp)
        seconds = time.perf_counter() - t0
        report = next((tmp / "out").rglob("COMPUTE_REPORT.csv"))
        theirs = [[x.strip() for x in r] for r in csv.reader(report.read_text().splitlines()[1:]) if r]
    cfg = load_config("scalesim_32x32")
    ours_free = {r.name: r for r in simulate_graph(load_model(str(topo_copy(rows))), cfg.with_unlimited_bandwidth()).layers}
    ours_bw = {r.name: r for r in simulate_graph(load_model(str(topo_copy(rows))), cfg).layers}
    print(f"SCALE-Sim 3.0.0 ({seconds:.0f} s for {len(rows)} layers) vs hwsim scalesim_32x32 (array.timing = scalesim)")
    print(f"{'layer':20s} {'SCALE-Sim compute':>17s} {'formula':>9s} {'ours compute':>12s} {'diff':>7s}"
          f" {'SCALE-Sim total':>15s} {'ours total':>10s}")
    for (name, v), r in zip(rows, theirs):
        total, stall = int(r[2]), int(r[3])
        mine = ours_free[name].compute_cycles
        print(f"{name:20s} {total - stall:17,d} {formula(*v):9,d} {mine:12,d} {(mine - total + stall) / (total - stall):+7.2%}"
              f" {total:15,d} {ours_bw[name].cycles:10,d}")
    return 0


def topo_copy(rows) -> Path:
    """The benchmark's topology as a file hwsim can load (kept next to the system's temp files)."""
    path = Path(tempfile.gettempdir()) / "hwsim_bench_scalesim_layers.csv"
    path.write_text(HEADER + "\n" + "".join(f"{n}, {', '.join(map(str, v))},\n" for n, v in rows))
    return path


if __name__ == "__main__":
    sys.exit(main())
