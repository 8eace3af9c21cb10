"""``hwsim cosim {requant,mac,array}``: run user vectors through the RTL and compare with golden.

Input: an ``.npz`` with the arrays :mod:`rtl.cosim` documents per design. Output: an
``.npz`` with the RTL's results (``q`` for requant and array, ``acc`` for mac; for the
array also the measured cycles, :meth:`rtl.cosim.ArrayCycles.as_arrays`) and one line on
stdout: vectors run and how many match the golden model. The MAC and the array are
those of ``--config`` (PE width, MAC modes, accumulator depth); the array's shape is
taken from the vectors.
"""

from __future__ import annotations

import argparse
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from dataclasses import replace

from hwsim.app.commands import HELP
from hwsim.configfile import load_config
from rtl import cosim
from rtl.backends import AmaranthModel, VerilatorModel, find_verilator
from rtl.mac import MacUnit
from rtl.requant import RequantUnit
from sw.fileio import atomic_open

__all__ = ["register", "run"]


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``cosim`` sub-command with its three designs."""
    parser = subparsers.add_parser("cosim", help=HELP["cosim"])
    designs = parser.add_subparsers(dest="design", metavar="DESIGN", required=True)
    for name, help_text in (("requant", "requantization unit: acc, bias, multiplier, shift, out_zp, act_min, act_max -> q"),
                            ("mac", "MAC (edge + PE): w, x, x_zp, x_signed[, last] -> acc (one sum per reduction)"),
                            ("array", "PE array tiles: x (T,R,K), w (T,K,C), per-column and per-tile parameters -> q")):
        sub = designs.add_parser(name, help=help_text, description=help_text)
        sub.add_argument("--vectors", required=True, help="input .npz")
        sub.add_argument("--out", required=True, help="output .npz with the RTL results")
        sub.add_argument("--backend", choices=("verilator", "amaranth"), default="verilator",
                         help="compiled Verilator model (default) or the Amaranth simulator")
        if name == "requant":
            sub.add_argument("--out-width", type=int, default=32,
                             help="output code width in bits, 2..32 (default 32: any int32 bounds)")
        else:
            sub.add_argument("--config", default=None,
                             help="preset name or .toml file giving pe_bits, mac_modes, max_depth (default preset)")
            sub.add_argument("--w-bits", type=int, default=None, help="weight code width, 4 or 8 (default pe_bits)")
            sub.add_argument("--a-bits", type=int, default=None,
                             help="activation code width, 4 or 8 (default pe_bits)")
        if name == "array":
            sub.add_argument("--requant-lanes", type=int, default=None,
                             help="requantization units, a divisor of the tile's columns (default all)")
        sub.set_defaults(func=run)


def _load(path: str) -> dict[str, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as data:
            return {key: data[key] for key in data.files}
    except (zipfile.BadZipFile, ValueError) as exc:
        raise ValueError(f"{path}: not a readable .npz file ({exc})") from exc


def run(args: argparse.Namespace) -> int:
    """Check the vectors, run them, write the results, print ``N vectors, M match the golden model``."""
    vectors = _load(args.vectors)
    if args.backend == "verilator":
        find_verilator()  # fail before elaborating anything
    if args.design == "requant":
        if not 2 <= args.out_width <= 32:
            raise ValueError(f"--out-width: expected an integer in [2, 32], got {args.out_width}")
        cosim.check_requant_vectors(vectors, args.out_width)
        component = RequantUnit(args.out_width)
    else:
        arch = load_config(args.config).arch
        w_bits = arch.pe_bits if args.w_bits is None else args.w_bits
        a_bits = arch.pe_bits if args.a_bits is None else args.a_bits
        if args.design == "mac":
            cosim.check_mac_vectors(vectors, arch, w_bits, a_bits)
            component = MacUnit(arch)
        else:
            for name in ("x", "w"):
                if name not in vectors or np.ndim(vectors[name]) != 3:
                    raise ValueError(f"array {name!r}: expected a 3-D array (x: (T, rows, K), w: (T, K, cols))")
            cols = vectors["w"].shape[2]
            arch = replace(arch, rows=vectors["x"].shape[1], cols=cols,
                           requant_lanes=cols if args.requant_lanes is None else args.requant_lanes)
            cosim.check_array_vectors(vectors, arch, w_bits, a_bits)
            component = arch.create()
    with tempfile.TemporaryDirectory(prefix="hwsim-cosim-") as tmp:
        model = AmaranthModel(component) if args.backend == "amaranth" else VerilatorModel(component, Path(tmp))
        if args.design == "requant":
            result = cosim.cosim_requant(model, vectors, args.out_width)
        elif args.design == "mac":
            result = cosim.cosim_mac(model, vectors, arch, w_bits, a_bits)
        else:
            result = cosim.cosim_array(model, vectors, arch, w_bits, a_bits)
    key = "acc" if args.design == "mac" else "q"
    with atomic_open(args.out, "wb") as handle:
        extra = result.cycles.as_arrays() if result.cycles is not None else {}
        np.savez(handle, **{key: result.rtl}, **extra)
    print(f"{args.design}: {result.rtl.size} vectors, {result.matches} match the golden model ({args.backend})")
    return 0
