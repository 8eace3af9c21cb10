"""SCALE-Sim topology CSV importer.

Format (SCALE-Sim 2/3): a header row ``Layer name, IFMAP Height, IFMAP Width,
Filter Height, Filter Width, Channels, Num Filter, Strides,`` then one row per
layer, fields separated by commas, spaces allowed, trailing comma optional.

SCALE-Sim treats each row independently and knows no padding: output size is
``ceil((H - F + S) / S)`` with one stride for both axes. Each row therefore
becomes its own convolution fed by its own graph input ``<layer>.ifmap`` with
the row's shape; consecutive rows are not checked against each other. When
``(H - F)`` is not a multiple of ``S``, the ceiling counts a partial last
window; the IR encodes that as ``(-(H - F)) % S`` pixels of bottom/right
padding (the only padding ever added), so MACs equal SCALE-Sim's
``Ho * Wo * F * F * C * N``. Layers are dense, bias-free, tagged ``backbone``.
"""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path

from sw.graph.ir import Graph, Layer, Op

__all__ = ["load_scalesim_csv", "COLUMNS"]

COLUMNS = ("layer name", "ifmap height", "ifmap width", "filter height", "filter width",
           "channels", "num filter", "strides")


def _fields(row: list[str]) -> list[str]:
    fields = [f.strip() for f in row]
    while fields and not fields[-1]:
        fields.pop()
    return fields


def _row_layer(where: str, fields: list[str], w_bits: int, a_bits: int) -> tuple[tuple[str, tuple], Layer]:
    if len(fields) < len(COLUMNS):
        raise ValueError(f"{where}: expected {len(COLUMNS)} fields, got {len(fields)}")
    values = []
    for column, text in zip(COLUMNS[1:], fields[1:len(COLUMNS)]):
        if not (text.isascii() and text.isdigit()) or int(text) < 1:
            raise ValueError(f"{where}: {column} must be a positive integer, got {text!r}")
        values.append(int(text))
    h, w, fh, fw, c, n, s = values
    if fh > h or fw > w:
        raise ValueError(f"{where}: filter {fh}x{fw} larger than IFMAP {h}x{w}")
    name = fields[0]
    ifmap = f"{name}.ifmap"
    layer = Layer(
        name=name, op=Op.CONV, inputs=(ifmap,), in_shapes=((h, w, c),),
        out_shape=(-(-(h - fh + s) // s), -(-(w - fw + s) // s), n),
        kernel=(fh, fw), stride=(s, s),
        padding=((0, (-(h - fh)) % s), (0, (-(w - fw)) % s)),
        w_bits=w_bits, a_bits=a_bits,
    )
    return (ifmap, (h, w, c)), layer


def load_scalesim_csv(path: str | os.PathLike[str], *, w_bits: int = 4, a_bits: int = 4) -> Graph:
    """Read a SCALE-Sim topology CSV as a :class:`Graph` of independent convolutions.

    Parameters
    ----------
    path
        The ``.csv`` file.
    w_bits, a_bits
        Widths given to every layer (SCALE-Sim has none).

    Raises
    ------
    ValueError
        One line ``"<file>: row N (layer 'X'): ..."`` for a missing or
        unreadable file, a bad header, missing fields, non-integer or zero
        sizes, a filter larger than its input or a duplicate layer name.
    """
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
        raise ValueError(f"{path}: cannot read: {reason}") from None
    try:
        rows = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as exc:
        raise ValueError(f"{path}: not a CSV file: {exc}") from None
    rows = [(i, _fields(r)) for i, r in enumerate(rows, start=1) if _fields(r)]
    if not rows:
        raise ValueError(f"{path}: empty file, expected a SCALE-Sim topology header")
    header = tuple(f.lower() for f in rows[0][1])
    if header[: len(COLUMNS)] != COLUMNS:
        raise ValueError(f"{path}: row {rows[0][0]}: header must start with {', '.join(COLUMNS)}")
    inputs, layers, seen = [], [], set()
    for number, fields in rows[1:]:
        name = fields[0]
        where = f"{path}: row {number} (layer '{name}')"
        if not name or not name.isprintable():
            raise ValueError(f"{path}: row {number}: layer name must be non-empty printable text, got {name!r}")
        if name in seen:
            raise ValueError(f"{where}: duplicate layer name")
        seen.add(name)
        try:
            tensor, layer = _row_layer(where, fields, w_bits, a_bits)
        except ValueError as exc:
            message = str(exc)
            raise ValueError(message if message.startswith(where) else f"{where}: {message}") from None
        inputs.append(tensor)
        layers.append(layer)
    if not layers:
        raise ValueError(f"{path}: no layer rows after the header")
    try:
        return Graph(path.stem, tuple(inputs), tuple(layers), tuple(l.name for l in layers))
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from None
