"""PNG plots of a simulation: per-layer latency (compute/stall), energy breakdown, roofline."""

from __future__ import annotations

import io
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from sw.fileio import atomic_write_bytes  # noqa: E402
from hwsim.stats import SimResult  # noqa: E402

__all__ = ["write_plots"]


def _save(fig, path: Path) -> None:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())


def write_plots(result: SimResult, directory: str, bw_bytes_per_cycle: float) -> list[Path]:
    """Write ``latency.png``, ``energy.png`` and ``roofline.png`` into ``directory``; return the paths."""
    out = Path(directory)
    if not out.is_dir():
        raise ValueError(f"--plot: directory {out} does not exist")
    layers = result.layers
    x = range(len(layers))
    scale = 1e3 / (result.clock_mhz * 1e6)  # cycles -> ms
    fig, ax = plt.subplots(figsize=(max(8, len(layers) * 0.12), 4))
    comp = [l.compute_cycles * scale for l in layers]
    stall = [l.stall_cycles * scale for l in layers]
    ax.bar(x, comp, label="compute", color="tab:blue")
    ax.bar(x, stall, bottom=comp, label="stall", color="tab:red")
    ax.set_xlabel("layer index")
    ax.set_ylabel("latency (ms)")
    ax.set_title(f"{result.model} on {result.config['name']}: per-layer latency")
    ax.legend()
    paths = [out / "latency.png"]
    _save(fig, paths[-1])

    keys = [k for k in layers[0].energy_pj if k != "total"]
    totals = [sum(l.energy_pj[k] for l in layers) * 1e-9 for k in keys]
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.bar(keys, totals, color="tab:green")
    ax.set_ylabel("energy per frame (mJ)")
    ax.set_title("energy breakdown")
    paths.append(out / "energy.png")
    _save(fig, paths[-1])

    fig, ax = plt.subplots(figsize=(6, 4.5))
    peak = result.peak_macs_per_cycle
    pts = [(l.macs / max(l.dram_read_bytes + l.dram_write_bytes, 1), l.macs / l.cycles)
           for l in layers if l.macs and l.cycles]
    if pts:
        ax.scatter([p[0] for p in pts], [p[1] for p in pts], s=12, label="layers")
        lo, hi = min(p[0] for p in pts) / 2, max(p[0] for p in pts) * 2
        xs = [lo * (hi / lo) ** (i / 100) for i in range(101)]
        ax.plot(xs, [min(peak, v * bw_bytes_per_cycle) for v in xs], "k--", label="roofline")
        ax.set_xscale("log")
        ax.set_yscale("log")
    ax.set_xlabel("operational intensity (MAC / DRAM byte)")
    ax.set_ylabel("MACs per cycle")
    ax.set_title("roofline")
    ax.legend()
    paths.append(out / "roofline.png")
    _save(fig, paths[-1])
    return paths
