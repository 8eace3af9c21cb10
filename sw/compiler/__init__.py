"""Compiler: (graph, hardware config) -> tiled schedule (tiling, loop order, tile operations)."""

from sw.compiler.compiler import compile_graph, compile_layer
from sw.compiler.schedule import LayerSchedule, Loop, Schedule, Tile, expand, tree_totals
from sw.compiler.tiling import ConvTiling, VectorTiling, choose_conv_tiling, conv_geometry

__all__ = ["compile_graph", "compile_layer", "LayerSchedule", "Loop", "Schedule", "Tile", "expand",
           "tree_totals", "ConvTiling", "VectorTiling", "choose_conv_tiling", "conv_geometry"]
