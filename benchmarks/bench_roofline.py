"""Roofline report of the default presets: how close the mapping search gets to max(MACs/peak, DRAM/bandwidth).

Per model (``edge16_int4``): total cycles / max(sum MACs / peak, total DRAM bytes / bandwidth), where
peak is ``rows * cols / passes`` (int8 on int4 PEs: 4 passes) and the DRAM bytes are the schedule's.
Per compute-bound conv: cycles / its own bound and the cap its shape puts on utilisation (the product
of the array-tile fill ``M / (ceil(M/rows)*rows)`` and ``N / (ceil(N/cols)*cols)`` and, when the
reduction is shorter than the array's minimum tile interval ``Dmin``, ``K*passes / Dmin``); a layer is
within target when cycles <= 1.10 x max(MACs / (peak * cap), DRAM / bandwidth). Run:
``python benchmarks/bench_roofline.py``.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hwsim.compiler.geometry import MAC_OPS, conv_geometry  # noqa: E402
from hwsim.configfile import load_config  # noqa: E402
from hwsim.simulate import simulate_graph  # noqa: E402
from rtl.timing import min_tile_interval  # noqa: E402
from sw.graph import load_model  # noqa: E402

MODELS = ("retinanet_r50_fpn", "yolov3_416")


def shape_cap(layer, cfg) -> tuple[float, str]:
    """Utilisation cap of ``layer``'s shape on the OS array and the reasons."""
    g = conv_geometry(layer)
    a = cfg.array
    passes = cfg.mac_passes(layer.w_bits, layer.a_bits)
    m, n = g.ho * g.wo * (layer.repeat if layer.op.value == "fc" else 1), g.n_g
    m = g.ho * g.wo
    cap, why = 1.0, []
    fm, fn = m / (-(-m // a.rows) * a.rows), n / (-(-n // a.cols) * a.cols)
    dmin = min_tile_interval(a.rows, a.cols, cfg.requant_lanes)
    fk = min(1.0, g.k * passes / dmin)
    if n < a.cols:
        why.append("depthwise on an OS array" if g.groups > 1 and g.n_g == 1 else f"N={n} < cols")
    if m < a.rows:
        why.append(f"M={m} < rows")
    if fk < 1:
        why.append(f"Dmin={dmin} > K*passes={g.k * passes}")
    if (fm < 0.99 or fn < 0.99) and not why:
        why.append(f"fold fill M {fm:.2f} N {fn:.2f}")
    cap = fm * fn * fk
    return cap, ", ".join(why)


def main() -> int:
    cfg = load_config()
    peak, bw = cfg.peak_macs_per_cycle, cfg.memory.dram_bytes_per_cycle
    for model in MODELS:
        graph = load_model(model)
        res = simulate_graph(graph, cfg)
        mac_cycles = sum(l.macs * cfg.mac_passes(l.w_bits, l.a_bits) / peak for l in graph
                         if l.macs and not l.is_float)
        dram = res.total["dram_bytes"] / bw
        bound = max(mac_cycles, dram)
        print(f"{model} on {cfg.name}: {res.total['cycles']:,} cycles, bound max(MACs/peak {mac_cycles:,.0f}, "
              f"DRAM/bw {dram:,.0f}) -> ratio {res.total['cycles'] / bound:.3f} "
              f"({res.total['latency_ms']:.1f} ms, utilisation {100 * res.total['utilization']:.1f}%, "
              f"hidden by overlap {res.total['hidden_cycles']:,} cycles)")
        within = capped = missed = 0
        rows = []
        for layer, r in zip(graph, res.layers):
            if layer.op not in MAC_OPS or layer.is_float or r.bound != "compute":
                continue
            passes = cfg.mac_passes(layer.w_bits, layer.a_bits)
            own = max(layer.macs * passes / peak, (r.dram_read_bytes + r.dram_write_bytes) / bw)
            cap, why = shape_cap(layer, cfg)
            capped_bound = max(layer.macs * passes / (peak * cap), (r.dram_read_bytes + r.dram_write_bytes) / bw)
            ratio = (r.cycles + r.hidden_cycles) / own
            if ratio <= 1.10:
                within += 1
            elif (r.cycles + r.hidden_cycles) <= 1.10 * capped_bound:
                capped += 1
                rows.append((ratio, layer.name, f"cap {cap:.2f} ({why}); {(r.cycles + r.hidden_cycles) / capped_bound:.3f}"
                                                 " x the capped bound"))
            else:
                missed += 1
                rows.append((ratio, layer.name, f"MISSED: cap {cap:.2f} ({why or 'none'}); "
                                                 f"{(r.cycles + r.hidden_cycles) / capped_bound:.3f} x the capped bound"))
        print(f"  compute-bound convs: {within} within 10% of their bound, {capped} within 10% of the bound "
              f"their shape caps, {missed} missed")
        for ratio, name, note in sorted(rows, reverse=True):
            print(f"    {name:32s} {ratio:6.3f} x bound  {note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
