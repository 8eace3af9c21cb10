"""PNG figures of the real-model studies (matplotlib Agg, dpi :data:`DPI`, written atomically)."""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from sw.detect.boxes import Detections  # noqa: E402
from sw.fileio import atomic_write_bytes  # noqa: E402
from hwsim.app.studies.quality import Evaluation  # noqa: E402
from hwsim.app.studies.setups import EvalInput, RealSetup  # noqa: E402
from hwsim.app.studies.weights import LayerSpread  # noqa: E402

__all__ = ["DPI", "save", "spread_figure", "sqnr_figure", "detections_figure"]

DPI = 90


def save(fig, path: Path, *, palette: bool = False) -> Path:
    """Write ``fig`` as PNG to ``path`` atomically and close it.

    ``palette`` re-encodes with a 256-colour adaptive palette (photos: ~3x smaller files).
    """
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    data = buf.getvalue()
    if palette:
        with Image.open(io.BytesIO(data)) as img:
            out = io.BytesIO()
            img.convert("RGB").quantize(256).save(out, format="PNG", optimize=True)
            data = out.getvalue()
    atomic_write_bytes(path, data)
    return path


def spread_figure(spreads: Sequence[LayerSpread], ratios_db: np.ndarray, title: str, path: Path) -> Path:
    """FQN Figure 2 style: histogram of per-channel range ratios (dB) and the per-layer spread."""
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 3.6))
    a.hist(ratios_db, bins=40, color="tab:blue")
    a.set_xlabel("channel range / smallest channel range in its layer (dB)")
    a.set_ylabel("channels")
    a.set_title("per-channel weight range ratios (FQN Fig. 2)")
    colours = {"conv": "tab:blue", "depthwise": "tab:orange", "fc": "tab:green"}
    b.bar(range(len(spreads)), [s.spread_db for s in spreads], color=[colours.get(s.op, "grey") for s in spreads])
    b.set_xlabel("weighted layer index")
    b.set_ylabel("max/min channel range (dB)")
    b.set_title("per-layer spread (orange: depthwise)")
    fig.suptitle(title)
    return save(fig, path)


def sqnr_figure(evaluations: Sequence[Evaluation], title: str, path: Path) -> Path:
    """Per-layer SQNR (dB) of several configurations against the float model."""
    fig, ax = plt.subplots(figsize=(10, 3.6))
    for e in evaluations:
        ax.plot([l.sqnr_db for l in e.layers], marker=".", label=e.config.label)
    ax.axhline(0.0, color="grey", lw=0.8)
    ax.set_xlabel("layer index (graph order)")
    ax.set_ylabel("SQNR vs float (dB)")
    ax.set_title(title)
    ax.legend()
    return save(fig, path)


def _draw(ax, image: np.ndarray, boxes: np.ndarray, det: Detections, colour: str, title: str) -> None:
    ax.imshow(image)
    for (x1, y1, x2, y2), score in zip(boxes, det.scores):
        ax.add_patch(plt.Rectangle((x1, y1), x2 - x1, y2 - y1, fill=False, color=colour, lw=1.5))
        if len(det) <= 5:
            ax.text(x1, y1 - 3, f"{score:.2f}", color=colour, fontsize=8)
    ax.set_title(title, fontsize=9)
    ax.axis("off")


def detections_figure(setup: RealSetup, item: EvalInput, panels: Sequence[tuple[str, Detections]], path: Path
                      ) -> Path:
    """Side-by-side detections (e.g. float, int8, int4) drawn on the evaluation image."""
    fig, axes = plt.subplots(1, len(panels), figsize=(3.6 * len(panels), 3.9))
    colours = ("lime", "deepskyblue", "red", "orange")
    for ax, (label, det), colour in zip(np.atleast_1d(axes), panels, colours):
        _draw(ax, item.image, setup.image_boxes(det, item), det, colour, f"{label}: {len(det)} detections")
    return save(fig, path, palette=True)
