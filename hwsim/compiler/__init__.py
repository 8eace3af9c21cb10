"""Compiler (the mapper): (graph, hardware config) -> tiled schedule (tile sizes, loop order, tile operations).

``geometry`` (implicit-GEMM view, byte arithmetic) -> ``dma`` (what a tile's DMA moves: the RTL top's
whole array tiles and requantization parameters) -> ``conv`` (tiles of weighted layers),
``search`` (their mapping search) and ``vector`` (vector-unit and DMA layers) ->
``schedule`` (loop trees of tiles) ->
``compiler`` (one entry point per layer and graph). Cycles come from :mod:`hwsim.costs`.
"""

from hwsim.compiler.compiler import compile_graph, compile_layer
from hwsim.compiler.conv import ConvTiling
from hwsim.compiler.search import choose_conv_tiling
from hwsim.compiler.geometry import conv_geometry
from hwsim.compiler.schedule import LayerSchedule, Loop, Schedule, Tile, expand, tree_totals
from hwsim.compiler.vector import VectorTiling

__all__ = ["compile_graph", "compile_layer", "LayerSchedule", "Loop", "Schedule", "Tile", "expand",
           "tree_totals", "ConvTiling", "VectorTiling", "choose_conv_tiling", "conv_geometry"]
