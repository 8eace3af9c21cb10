"""Densify TFLite sparse constants (``SparsityParameters``, consumed by ``DENSIFY``).

A sparse tensor stores its non-zero values in traversal order; the metadata
gives, per traversed dimension, either ``DENSE`` (``dense_size`` positions) or
``SPARSE_CSR`` (``array_segments`` / ``array_indices``: for each position of the
previous level, the range of stored indices). ``block_map`` names the original
dimensions split into blocks; their block dimensions come after the original
ones in ``traversal_order`` (TFLite's ``FormatConverter``). The IR keeps the
weights dense and records the zero fraction (:attr:`sw.graph.ir.Layer.sparsity`).
"""

from __future__ import annotations

import numpy as np

__all__ = ["densify"]

_DENSE, _SPARSE_CSR = 0, 1


def densify(values: np.ndarray, shape: tuple[int, ...], sparsity) -> np.ndarray:
    """The dense array of a sparse constant.

    Parameters
    ----------
    values
        The stored values (the tensor's buffer), in traversal order.
    shape
        The dense shape.
    sparsity
        The tensor's ``SparsityParameters`` (``traversalOrder``, ``blockMap``, ``dimMetadata``).

    Raises
    ------
    ValueError
        Inconsistent metadata (index out of range, value count mismatch).
    """
    order = [int(v) for v in sparsity.traversalOrder]
    block_map = [int(v) for v in (sparsity.blockMap if sparsity.blockMap is not None else [])]
    meta = sparsity.dimMetadata
    rank = len(shape)
    if len(order) != rank + len(block_map) or len(meta) != len(order):
        raise ValueError(f"sparsity: {len(order)} traversal dims and {len(meta)} metadata for shape {list(shape)}")
    block_size = {block_map[j]: int(meta[order.index(rank + j)].denseSize) for j in range(len(block_map))}
    dense = np.zeros(shape, dtype=values.dtype)
    coords = [0] * len(order)
    flat_values = np.ravel(values)
    cursor = 0

    def place() -> None:
        nonlocal cursor
        index = [0] * rank
        for level, dim in enumerate(order):
            if dim < rank:
                index[dim] += coords[level] * block_size.get(dim, 1)
            else:
                index[block_map[dim - rank]] += coords[level]
        if cursor >= flat_values.size:
            raise ValueError(f"sparsity: more positions than the {flat_values.size} stored values")
        dense[tuple(index)] = flat_values[cursor]
        cursor += 1

    def visit(level: int, parent: int) -> None:
        if level == len(order):
            place()
            return
        m = meta[level]
        if int(m.format) == _DENSE:
            size = int(m.denseSize)
            for i in range(size):
                coords[level] = i
                visit(level + 1, parent * size + i)
            return
        segments = np.asarray(m.arraySegments.values, dtype=np.int64)
        indices = np.asarray(m.arrayIndices.values, dtype=np.int64)
        for k in range(int(segments[parent]), int(segments[parent + 1])):
            coords[level] = int(indices[k])
            visit(level + 1, k)

    visit(0, 0)
    if cursor != flat_values.size:
        raise ValueError(f"sparsity: {cursor} positions for {flat_values.size} stored values")
    return dense
