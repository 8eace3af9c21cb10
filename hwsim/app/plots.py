"""PNG plots of a simulation: per-layer latency (compute/stall), energy breakdown, roofline."""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from hwsim.stats import SimResult  # noqa: E402

__all__ = ["render_plots", "PLOT_FILES"]

#: File names of the plots, in the order :func:`render_plots` returns them.
PLOT_FILES = ("latency.png", "energy.png", "roofline.png")
#: Layers named on the latency plot's x axis at most (every n-th name beyond that).
MAX_LAYER_LABELS = 60


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def render_plots(result: SimResult, bw_bytes_per_cycle: float) -> dict[str, bytes]:
    """PNG bytes of ``latency.png`` (per layer, named), ``energy.png``, ``energy_operands.png`` (memory
    energy per level and operand) and ``roofline.png``."""
    layers = result.layers
    what = f"{result.model} on {result.config['name']}" + (f", bits {result.bits}" if result.bits else "")
    x = range(len(layers))
    scale = 1e3 / (result.clock_mhz * 1e6)  # cycles -> ms
    fig, ax = plt.subplots(figsize=(max(8, len(layers) * 0.12), 4))
    comp = [l.compute_cycles * scale for l in layers]
    stall = [l.stall_cycles * scale for l in layers]
    ax.bar(x, comp, label="compute", color="tab:blue")
    ax.bar(x, stall, bottom=comp, label="stall", color="tab:red")
    step = max(1, -(-len(layers) // MAX_LAYER_LABELS))
    ax.set_xticks(list(x)[::step], [l.name for l in layers][::step], rotation=90, fontsize=6)
    ax.set_xlabel("layer" + (f" (every {step}th named)" if step > 1 else ""))
    ax.set_ylabel("latency (ms)")
    ax.set_title(f"{what}: per-layer latency")
    ax.legend()
    out = {"latency.png": _png(fig)}

    keys = [k for k in layers[0].energy_pj if k != "total"]
    totals = [sum(l.energy_pj[k] for l in layers) * 1e-9 for k in keys]
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.bar(keys, totals, color="tab:green")
    ax.set_ylabel("energy per frame (mJ)")
    ax.set_xlabel("energy component")
    ax.set_title(f"{what}: energy breakdown")
    out["energy.png"] = _png(fig)

    # energy per memory level, stacked by operand (ZigZag style), mJ per frame
    levels = list(layers[0].operand_energy_pj) if layers[0].operand_energy_pj else []
    if levels:
        fig, ax = plt.subplots(figsize=(6, 4))
        bottom = [0.0] * len(levels)
        for op, color in zip(("input", "weight", "output"), ("tab:blue", "tab:orange", "tab:purple")):
            vals = [sum(l.operand_energy_pj[lvl][op] for l in layers if l.operand_energy_pj) * 1e-9
                    for lvl in levels]
            ax.bar(levels, vals, bottom=bottom, label=op, color=color)
            bottom = [b + v for b, v in zip(bottom, vals)]
        ax.set_ylabel("energy per frame (mJ)")
        ax.set_xlabel("memory level")
        ax.set_title(f"{what}: memory energy by operand")
        ax.legend()
        out["energy_operands.png"] = _png(fig)

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
    ax.set_title(f"{what}: roofline")
    ax.legend()
    out["roofline.png"] = _png(fig)
    return out
