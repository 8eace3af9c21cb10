"""Input, calibration and output arrays of ``hwsim run`` (.npy / .npz files).

One-input models take a ``.npy`` array; several inputs take a ``.npz`` keyed by
input name. Calibration files hold samples stacked on axis 0 (a single sample
of exactly the input's shape is also accepted). Outputs are encoded as ``.npy`` for
one output, ``.npz`` keyed by output name otherwise (the CLI writes them atomically).
"""

from __future__ import annotations

import io
import os
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

__all__ = ["load_arrays", "load_samples", "encode_outputs", "check_output_path"]


def _read(path: Path) -> dict[str, np.ndarray] | np.ndarray:
    if path.suffix.lower() not in (".npy", ".npz"):
        raise ValueError(f"{path}: expected a .npy or .npz file")
    try:
        data = np.load(path, allow_pickle=False)
        if isinstance(data, np.lib.npyio.NpzFile):
            with data:
                return {k: data[k] for k in data.files}
        return data
    except FileNotFoundError:
        raise ValueError(f"{path}: no such file") from None
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise ValueError(f"{path}: cannot read array file: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from None


def load_arrays(path: str | os.PathLike[str], names: Sequence[str],
                shapes: Mapping[str, tuple[int, ...]] | None = None) -> dict[str, np.ndarray]:
    """Arrays by input name from ``path`` (.npy for a single input, .npz keyed by name).

    Every array must be numeric (bool, integer or float); with ``shapes`` each must have
    exactly its input's shape. Errors name ``path`` and the input.
    """
    path = Path(path)
    data = _read(path)
    if isinstance(data, np.ndarray):
        if len(names) != 1:
            raise ValueError(f"{path}: the model has {len(names)} inputs ({', '.join(names)}); use a .npz keyed by name")
        data = {names[0]: data}
    missing = [n for n in names if n not in data]
    if missing:
        raise ValueError(f"{path}: missing input array(s) {', '.join(missing)} (found {', '.join(data) or 'none'})")
    for n in names:
        arr = data[n]
        if arr.dtype.kind not in "biuf":
            raise ValueError(f"{path}: input '{n}': expected a numeric array, got dtype {arr.dtype}")
        if shapes is not None and tuple(arr.shape) != tuple(shapes[n]):
            raise ValueError(f"{path}: input '{n}': expected shape {tuple(shapes[n])}, got {tuple(arr.shape)}")
    return {n: data[n] for n in names}


def load_samples(path: str | os.PathLike[str], shapes: Mapping[str, tuple[int, ...]]) -> list[dict[str, np.ndarray]]:
    """Calibration samples: each input's array stacked on axis 0, or one sample of the input's shape."""
    arrays = load_arrays(path, list(shapes))
    per_input = {}
    for name, arr in arrays.items():
        shape = tuple(shapes[name])
        if arr.shape == shape:
            arr = arr[None]
        elif arr.shape[1:] == shape[1:]:
            arr = arr[:, None]
        else:
            raise ValueError(f"{path}: '{name}' has shape {arr.shape}; expected {shape} or (N, *{shape[1:]})")
        per_input[name] = arr.reshape((arr.shape[0], *shape))
    counts = {a.shape[0] for a in per_input.values()}
    if len(counts) != 1:
        raise ValueError(f"{path}: inputs have different sample counts {sorted(counts)}")
    return [{n: a[i] for n, a in per_input.items()} for i in range(counts.pop())]


def check_output_path(path: str | os.PathLike[str]) -> Path:
    """``path`` if it names a .npy or .npz file; ValueError otherwise (before any work)."""
    path = Path(path)
    if path.suffix.lower() not in (".npy", ".npz"):
        raise ValueError(f"{path}: output must be .npy (one output) or .npz")
    return path


def encode_outputs(path: str | os.PathLike[str], outputs: Mapping[str, np.ndarray]) -> bytes:
    """The bytes of ``path``: one output as .npy, or several as .npz (keys = output names)."""
    path = check_output_path(path)
    if path.suffix.lower() == ".npy" and len(outputs) != 1:
        raise ValueError(f"{path}: the model has {len(outputs)} outputs ({', '.join(outputs)}); write a .npz")
    buf = io.BytesIO()
    if path.suffix.lower() == ".npy":
        np.save(buf, next(iter(outputs.values())), allow_pickle=False)
    else:
        np.savez(buf, **outputs)
    return buf.getvalue()
