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

from sw.fileio import atomic_write_bytes  # noqa: E402
from hwsim.app.studies.weights import LayerSpread  # noqa: E402

__all__ = ["DPI", "save", "spread_figure"]

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
