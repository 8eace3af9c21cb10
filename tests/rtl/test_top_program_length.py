"""The simulator's count of a layer's program instructions (``Tile.instructions``, the mapping search's
``_program_words``) equals the program the RTL top's generator emits, on real detector layers at full size."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from hwsim.app.rtltop import top_arch
from hwsim.compiler import compile_layer, search, tree_totals
from hwsim.compiler.conv import conv_tree
from hwsim.compiler.geometry import conv_geometry
from hwsim.configfile import load_config
from rtl.arch import PROGRAM_FRAME_INSTRUCTIONS
from rtl.top.grouped import grouped_program
from rtl.top.layer import layer_gemm
from sw.data.models import blazeface_path
from sw.graph import load_imported_model
from sw.graph.bits import BitPolicy
from sw.graph.ir import Op

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("config, bits", [("edge16_int4", 4), ("edge16_int4", 8), ("examples/top_edge8.toml", 8)])
def test_instruction_count_equals_the_generated_program(config, bits):
    cfg = load_config(config if not config.startswith("examples") else str(ROOT / config))
    top = replace(top_arch(cfg), program_words=(1 << 20) - 1)  # compare lengths beyond the real memory too
    model = load_imported_model(blazeface_path("short_range")).with_bits(BitPolicy(default=(bits, bits)))
    checked = 0
    for layer in model.graph:
        if layer.op not in (Op.CONV, Op.DEPTHWISE, Op.FC):
            continue
        sched = compile_layer(layer, cfg)
        t = sched.tiling
        gemm, groups = layer_gemm(layer)
        program = grouped_program(top, gemm, groups, t["tile_out_pixels"], t["tile_out_channels"], t["loop_order"],
                                  t["tile_in_channels"])
        count = PROGRAM_FRAME_INSTRUCTIONS + tree_totals(sched.root)["instructions"]
        assert count == len(program.instructions), layer.name
        # the search's count from the loop nest, on this and on every other legal mapping's tree
        g = conv_geometry(layer)
        passes = cfg.mac_passes(layer.w_bits, layer.a_bits)
        for other in search.legal_tilings(layer, cfg)[::7]:
            assert search._program_words(cfg, g, passes, other) == \
                PROGRAM_FRAME_INSTRUCTIONS + tree_totals(conv_tree(cfg, other))["instructions"], (layer.name, other)
        checked += 1
    assert checked == 37
