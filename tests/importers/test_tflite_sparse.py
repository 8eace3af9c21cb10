"""Densifying TFLite sparse constants: CSR with and without blocks, inconsistent metadata refused."""

from __future__ import annotations

from types import SimpleNamespace as NS

import numpy as np
import pytest

from sw.graph.importers.tflite_sparse import densify

DENSE, CSR = 0, 1


def _dim(fmt, size=0, segments=None, indices=None):
    return NS(format=fmt, denseSize=size, arraySegments=NS(values=segments), arrayIndices=NS(values=indices))


def test_csr_rows():
    # [[0, 7, 0], [0, 0, 0], [5, 0, 6]]: rows dense, columns CSR
    sp = NS(traversalOrder=[0, 1], blockMap=None,
            dimMetadata=[_dim(DENSE, 3), _dim(CSR, segments=[0, 1, 1, 3], indices=[1, 0, 2])])
    out = densify(np.array([7.0, 5.0, 6.0]), (3, 3), sp)
    assert out.tolist() == [[0, 7, 0], [0, 0, 0], [5, 0, 6]]


def test_block_sparse_2x2():
    # 4x4 in 2x2 blocks: block (0, 1) = [[1, 2], [3, 4]], block (1, 0) = [[5, 6], [7, 8]]
    sp = NS(traversalOrder=[0, 1, 2, 3], blockMap=[0, 1],
            dimMetadata=[_dim(DENSE, 2), _dim(CSR, segments=[0, 1, 2], indices=[1, 0]), _dim(DENSE, 2),
                         _dim(DENSE, 2)])
    out = densify(np.arange(1, 9, dtype=np.float32), (4, 4), sp)
    assert out.tolist() == [[0, 0, 1, 2], [0, 0, 3, 4], [5, 6, 0, 0], [7, 8, 0, 0]]


def test_value_count_must_match():
    sp = NS(traversalOrder=[0, 1], blockMap=None,
            dimMetadata=[_dim(DENSE, 3), _dim(CSR, segments=[0, 1, 1, 3], indices=[1, 0, 2])])
    with pytest.raises(ValueError, match="sparsity: 3 positions for 4 stored values"):
        densify(np.ones(4), (3, 3), sp)
