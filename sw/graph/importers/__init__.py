"""Model-file importers: each turns one file format into a :class:`sw.graph.ir.Graph`."""

from sw.graph.importers.onnx_import import load_onnx_graph
from sw.graph.importers.scalesim_csv import load_scalesim_csv
from sw.graph.importers.tflite_import import load_tflite_graph

__all__ = ["load_onnx_graph", "load_scalesim_csv", "load_tflite_graph"]
