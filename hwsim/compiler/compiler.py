"""(graph, hardware config) -> :class:`~hwsim.compiler.schedule.Schedule`; no simulation here."""

from __future__ import annotations

from hwsim.config import HwConfig
from hwsim.compiler.schedule import LayerSchedule, Loop, Schedule
from hwsim.compiler.conv import conv_tree
from hwsim.compiler.search import choose_conv_tiling
from hwsim.compiler.geometry import MAC_OPS
from hwsim.compiler.vector import vector_tree
from sw.graph.ir import Graph, Layer, Op

__all__ = ["compile_layer", "compile_graph"]


def compile_layer(layer: Layer, cfg: HwConfig) -> LayerSchedule:
    """Tile one layer (ValueError naming the layer if it cannot be mapped)."""
    if layer.op in MAC_OPS:
        tiling = choose_conv_tiling(layer, cfg)
        root = conv_tree(cfg, tiling)
        info = tiling.to_dict()
        unit = "float" if layer.is_float else "array"
        if layer.op is Op.CONV_TRANSPOSE:
            info["note"] = "1x1 GEMM to kh*kw*Cout columns + col2im overlap-add on the vector unit [assumed]"
    else:
        tiling, root = vector_tree(layer, cfg)
        info = tiling.to_dict()
        unit = tiling.unit
    if layer.repeat > 1 and layer.op is not Op.FC:
        root = Loop((root,), layer.repeat)
    info["repeat"] = layer.repeat
    return LayerSchedule(name=layer.name, op=layer.op.value, unit=unit, tiling=info, root=root)


def compile_graph(graph: Graph, cfg: HwConfig) -> Schedule:
    """Schedules of every layer of ``graph`` in order."""
    return Schedule(model=graph.name, config=cfg.name, layers=tuple(compile_layer(layer, cfg) for layer in graph))
