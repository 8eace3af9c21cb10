"""Weights stored sparse in the file reach the simulator: DRAM weight loads carry the non-zeros only."""

from __future__ import annotations

from dataclasses import replace

from hwsim.configfile import load_preset
from hwsim.compiler.compiler import compile_layer
from hwsim.compiler.conv import conv_tree
from hwsim.compiler.search import choose_conv_tiling
from hwsim.compiler.schedule import tree_totals
from hwsim.fastpath import simulate_tree
from rtl.arch import PARAM_BYTES
from sw.graph.ir import Layer, Op


def test_sparse_layer_loads_a_quarter_of_the_weights():
    """The non-zero weights move; the requantization parameters (9 bytes per output column [rtl]) do not shrink."""
    dense = Layer(name="c", op=Op.CONV, inputs=("x",), in_shapes=((16, 16, 64),), out_shape=(16, 16, 64),
                  w_bits=8, a_bits=8)
    cfg = load_preset("edge16_int4")
    tiling = choose_conv_tiling(dense, cfg)  # the same mapping for both, so only the bytes per load differ
    full = tree_totals(conv_tree(cfg, tiling))["load_weight_bytes"]
    sparse = tree_totals(conv_tree(cfg, replace(tiling, geom=replace(tiling.geom, sparsity=0.75))))["load_weight_bytes"]
    # 64 x 64 int8 weights of a 1x1 conv, loaded once per run when runs are outer over several channel blocks
    assert tiling.tn % 16 == 0 and 64 % tiling.tn == 0  # whole column blocks of the 16x16 array: no padding
    loads = -(-16 * 16 // tiling.tm) if tiling.order == "io" and tiling.tn < 64 else 1
    params = PARAM_BYTES * 64 * loads
    assert full == 64 * 64 * loads + params and sparse == 64 * 64 // 4 * loads + params
    # and the mapper (fewest cycles first) maps the sparse layer at least as fast as the dense layer's
    # mapping runs it, with fewer weight bytes than the dense layer loads
    sparse_layer = replace(dense, sparsity=0.75)
    chosen = compile_layer(sparse_layer, cfg)
    bw, lat = cfg.memory.dram_bytes_per_cycle, cfg.memory.dram_latency_cycles
    as_dense = conv_tree(cfg, replace(tiling, geom=replace(tiling.geom, sparsity=0.75)))
    assert simulate_tree(chosen.root, bw, lat) <= simulate_tree(as_dense, bw, lat)
    assert tree_totals(chosen.root)["load_weight_bytes"] < full
