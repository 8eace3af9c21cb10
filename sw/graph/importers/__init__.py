"""Model-file importers: each turns one file format into a :class:`sw.graph.ir.Graph`."""

from sw.graph.importers.scalesim_csv import load_scalesim_csv

__all__ = ["load_scalesim_csv"]
