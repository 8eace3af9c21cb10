"""Pareto fronts of sweep rows: non-dominated designs per model, as tables and PNG scatter plots."""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from sw.fileio import atomic_write_bytes

__all__ = ["FRONTS", "non_dominated", "front_rows", "write_front_plots", "markdown_table"]

#: The fronts computed per model: (x metric, y metric), both minimised.
FRONTS: tuple[tuple[str, str], ...] = (("latency_ms", "energy_mj"), ("energy_mj", "area_cells"))


def non_dominated(x: Sequence[float], y: Sequence[float]) -> np.ndarray:
    """Mask of the points no other point dominates, minimising both ``x`` and ``y``.

    ``q`` dominates ``p`` when ``q.x <= p.x`` and ``q.y <= p.y`` with one strict; identical
    points do not dominate each other (all copies stay on the front). O(n log n).
    """
    xs, ys = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    order = np.lexsort((ys, xs))
    mask = np.zeros(len(xs), dtype=bool)
    best = np.inf  # lowest y among points with a strictly smaller x
    i = 0
    while i < len(order):
        j = i
        while j < len(order) and xs[order[j]] == xs[order[i]]:
            j += 1
        group_min = ys[order[i]]
        if group_min < best:
            for k in order[i:j]:
                mask[k] = ys[k] == group_min
        best = min(best, group_min)
        i = j
    return mask


def front_rows(rows: list[dict[str, Any]], models: Sequence[str]) -> list[dict[str, Any]]:
    """Non-dominated rows per model and front, each with a ``front`` column (``"x vs y"``).

    Rows missing a metric (e.g. no area estimate) take no part in that front. Order: model,
    front, then x ascending (key breaks ties).
    """
    out = []
    for _, xm, ym, usable in _fronts(rows, models):
        mask = non_dominated([r[xm] for r in usable], [r[ym] for r in usable])
        chosen = sorted((r for r, m in zip(usable, mask) if m), key=lambda r: (r[xm], r[ym], r["key"]))
        out.extend({"front": f"{xm} vs {ym}", **r} for r in chosen)
    return out


def _fronts(rows: list[dict[str, Any]], models: Sequence[str]):
    """``(model, x metric, y metric, rows having both metrics)`` per model and front, skipping empty ones."""
    for model in models:
        mine = [r for r in rows if r["model"] == model]
        for xm, ym in FRONTS:
            usable = [r for r in mine if r.get(xm) is not None and r.get(ym) is not None]
            if usable:
                yield model, xm, ym, usable


def markdown_table(fronts: list[dict[str, Any]], fields: Sequence[str]) -> str:
    """Markdown of the non-dominated designs: one table per model and front."""
    columns = ["bits", *fields, "latency_ms", "fps", "energy_mj", "area_cells", "key"]
    lines = ["# Pareto-optimal designs (non-dominated; both metrics minimised)"]
    current = None
    for r in fronts:
        if (r["model"], r["front"]) != current:
            current = (r["model"], r["front"])
            lines += ["", f"## {r['model']}: {r['front']}", "",
                      "| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
        lines.append("| " + " | ".join(_fmt(r.get(c)) for c in columns) + " |")
    return "\n".join(lines) + "\n"


def _fmt(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value) if value != "" else "(model)"


def _slug(model: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", Path(model).stem if "/" in model else model)


def write_front_plots(rows: list[dict[str, Any]], models: Sequence[str], out: Path) -> list[Path]:
    """``pareto_<model>_<x>_<y>.png`` per model and front: every design grey, the front red."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paths = []
    for model, xm, ym, usable in _fronts(rows, models):
        x = np.array([r[xm] for r in usable], dtype=float)
        y = np.array([r[ym] for r in usable], dtype=float)
        mask = non_dominated(x, y)
        order = np.argsort(x[mask], kind="stable")
        fig, ax = plt.subplots(figsize=(6, 4.5))
        ax.scatter(x[~mask], y[~mask], s=12, color="0.6", label=f"dominated ({int((~mask).sum())})")
        ax.step(x[mask][order], y[mask][order], where="post", color="tab:red", linewidth=1)
        ax.scatter(x[mask], y[mask], s=24, color="tab:red", label=f"Pareto front ({int(mask.sum())})")
        ax.set_xlabel(_LABELS[xm])
        ax.set_ylabel(_LABELS[ym])
        ax.set_title(f"{Path(model).name}: {xm} vs {ym}")
        ax.legend()
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
        plt.close(fig)
        paths.append(out / f"pareto_{_slug(model)}_{xm}_{ym}.png")
        atomic_write_bytes(paths[-1], buf.getvalue())
    return paths


_LABELS = {"latency_ms": "latency per frame (ms)", "energy_mj": "energy per frame (mJ)",
           "area_cells": "area (generic-cell equivalents, docs/sweep.md)"}
