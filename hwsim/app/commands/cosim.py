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
import io
import os
import sys
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
from sw.fileio import OutputPlan

__all__ = ["register", "run", "verilator_cache", "MAX_COSIM_PES"]

#: Largest array tile (PEs) ``hwsim cosim array`` elaborates.
MAX_COSIM_PES = 64 * 64


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
    from hwsim.app import cosim_layer

    cosim_layer.register(designs)


def _load(path: str) -> dict[str, np.ndarray]:
    """The arrays of the vectors file; one-line errors naming it."""
    p = Path(path)
    if p.suffix.lower() != ".npz":
        raise ValueError(f"{p}: expected an .npz file of vector arrays")
    if not p.is_file():
        raise ValueError(f"{p}: no such file")
    if p.stat().st_size == 0:
        raise ValueError(f"{p}: empty file; expected an .npz of vector arrays")
    try:
        with np.load(p, allow_pickle=False) as data:
            if not isinstance(data, np.lib.npyio.NpzFile):
                raise ValueError("a single .npy array, not an archive of named arrays")
            return {key: data[key] for key in data.files}
    except (zipfile.BadZipFile, ValueError, EOFError, OSError) as exc:
        first = (str(exc).splitlines() or [type(exc).__name__])[0]
        raise ValueError(f"{p}: not a readable .npz file ({first})") from None


def verilator_cache() -> Path:
    """Where compiled Verilator models are kept between runs (keyed by a hash of the design)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "hwsim" / "verilator"


def run(args: argparse.Namespace) -> int:
    """Check the vectors, run them, write the results, print ``N vectors, M match the golden model``.

    Returns 0 when every vector matches the golden model, 1 otherwise.
    """
    plan = OutputPlan(inputs=[args.vectors, *([args.config] if getattr(args, "config", None) else [])])
    out = plan.file(args.out, "--out")
    if out.suffix.lower() != ".npz":
        raise ValueError(f"--out {out}: expected an .npz file name")
    vectors = _load(args.vectors)
    if args.backend == "verilator":
        find_verilator()  # fail before elaborating anything
    try:
        component, arch, w_bits, a_bits = _design(args, vectors)
    except ValueError as exc:
        raise ValueError(f"{args.vectors}: {exc}") from None
    first = next(iter(vectors.values()))
    if first.shape[0] == 0:
        raise ValueError(f"{args.vectors}: holds no vectors (the arrays are empty)")
    if args.backend == "amaranth":
        model = AmaranthModel(component)
    else:
        model = VerilatorModel(component, verilator_cache(), log=lambda m: print(f"hwsim cosim: {m}", file=sys.stderr))
    if args.design == "requant":
        result = cosim.cosim_requant(model, vectors, args.out_width)
    elif args.design == "mac":
        result = cosim.cosim_mac(model, vectors, arch, w_bits, a_bits)
    else:
        result = cosim.cosim_array(model, vectors, arch, w_bits, a_bits)
    key = "acc" if args.design == "mac" else "q"
    buf = io.BytesIO()
    extra = result.cycles.as_arrays() if result.cycles is not None else {}
    np.savez(buf, **{key: result.rtl}, **extra)
    plan.stage(out, buf.getvalue())
    plan.commit()
    print(f"{args.design}: {result.rtl.size} vectors, {result.matches} match the golden model ({args.backend})")
    return 0 if result.matches == result.rtl.size else 1


def _design(args: argparse.Namespace, vectors: dict[str, np.ndarray]):
    """``(component, arch, w_bits, a_bits)`` for the checked vectors (ValueError on bad ones)."""
    if args.design == "requant":
        if not 2 <= args.out_width <= 32:
            raise ValueError(f"--out-width: expected an integer in [2, 32], got {args.out_width}")
        cosim.check_requant_vectors(vectors, args.out_width)
        return RequantUnit(args.out_width), None, None, None
    arch = load_config(args.config).arch
    w_bits = arch.pe_bits if args.w_bits is None else args.w_bits
    a_bits = arch.pe_bits if args.a_bits is None else args.a_bits
    if args.design == "mac":
        cosim.check_mac_vectors(vectors, arch, w_bits, a_bits)
        return MacUnit(arch), arch, w_bits, a_bits
    for name in ("x", "w"):
        if name not in vectors or np.ndim(vectors[name]) != 3:
            raise ValueError(f"array {name!r}: expected a 3-D array (x: (T, rows, K), w: (T, K, cols))")
    cols = vectors["w"].shape[2]
    if vectors["x"].shape[1] * cols > MAX_COSIM_PES:
        raise ValueError(f"array tiles of {vectors['x'].shape[1]}x{cols} PEs exceed the {MAX_COSIM_PES:,} PEs "
                         f"'hwsim cosim array' builds")
    arch = replace(arch, rows=vectors["x"].shape[1], cols=cols,
                   requant_lanes=cols if args.requant_lanes is None else args.requant_lanes)
    cosim.check_array_vectors(vectors, arch, w_bits, a_bits)
    return arch.create(), arch, w_bits, a_bits
