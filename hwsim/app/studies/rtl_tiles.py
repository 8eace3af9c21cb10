"""Real tiles of the real detectors through the Verilated systolic array, bit-exact; tile cycles.

A real tile: the layer's weights are quantized per output channel, **symmetric**
(zero point 0: the array has no weight zero point), the other activations keep the
FQN calibration, and the layer's input codes come from the integer golden model
executing the whole network on the first held-out input. The tile is ``rows`` output
pixels x ``cols`` output channels with the full reduction ``K = kh * kw * Cin`` as
operand beats (im2col in OHWI order, padding filled with the input zero point, which
is exact by zero-point alignment). Two golden answers are compared with the RTL:

* :func:`rtl.cosim.golden_array` (the tile's exact GEMM + double-rounding requantization);
* the layer's output codes from :func:`sw.golden.conv.conv2d` with the plan's stage
  (before the look-up table of a fused SiLU, which the vector unit applies).

Cycles: the driver streams tiles back to back at :func:`rtl.timing.array_tile_interval`
and fails if the array refuses a beat; each tile's latency is measured from its first
operand beat to its last requantized output. The simulator charges ``T`` tiles
:func:`hwsim.costs.os_compute_cycles` plus the requantization tail
(``array_tile_cycles - array_tile_interval``); both are compared with the measurement.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hwsim.costs import os_compute_cycles
from rtl.arch import ArrayArch
from rtl.cosim import cosim_array
from rtl.timing import array_tile_cycles, array_tile_interval
from rtl.top.layer import im2col
from sw.golden.conv import conv2d
from sw.graph.ir import Op
from sw.graph.bits import BitPolicy
from sw.runtime.executor import params_from_ranges
from sw.runtime.integer import plan_calibrated, run_integer
from hwsim.app.studies.quality import CalibratedRanges
from hwsim.app.studies.setups import RealSetup

__all__ = ["ARRAYS", "TILE_LAYERS", "TileCheck", "CycleRow", "ArrayModels", "build_arrays", "real_tile",
           "check_real_tile", "cycle_sweep"]

#: Arrays built with Verilator.
ARRAYS = (ArrayArch(rows=8, cols=8, pe_bits=4, mac_modes=(4,), max_depth=256, requant_lanes=8),
          ArrayArch(rows=8, cols=8, pe_bits=8, mac_modes=(8,), max_depth=256, requant_lanes=2))
#: The real layer of each model sent through the RTL (first conv with ReLU / a 3x3 stride-2 conv with SiLU).
TILE_LAYERS = {"blazeface": "conv2d", "yolox_tiny": "Conv_44"}
#: Reduction depths of the cycle sweep.
SWEEP_K = (1, 8, 27, 75, 128, 216, 256)


@dataclass(frozen=True)
class TileCheck:
    """A real layer's tiles through the RTL.

    Attributes
    ----------
    model, layer
        The real model and layer.
    array
        ``"RxC intB, L lanes"``.
    bits, k, tiles, outputs
        Operand width, reduction depth, tiles and output codes compared.
    matches_array_golden, matches_layer_golden
        RTL outputs equal to :func:`rtl.cosim.golden_array` / to the layer's golden output codes.
    measured_cycles, formula_cycles
        Per-tile latency (max over tiles) measured on the RTL and from :func:`rtl.timing.array_tile_cycles`.
    """

    model: str
    layer: str
    array: str
    bits: int
    k: int
    tiles: int
    outputs: int
    matches_array_golden: int
    matches_layer_golden: int
    measured_cycles: int
    formula_cycles: int


@dataclass(frozen=True)
class CycleRow:
    """Measured RTL cycles of ``tiles`` back-to-back tiles vs the simulator's cost function.

    Attributes
    ----------
    array
        ``"RxC intB, L lanes"``; ``k`` the reduction depth, ``tiles`` the tiles streamed.
    measured_tile
        Latency of each tile, first beat to last output (all tiles equal, else the max).
    formula_tile
        :func:`rtl.timing.array_tile_cycles`.
    measured_span
        First beat of the first tile to the last output of the last tile.
    simulator_span
        ``os_compute_cycles(tiles) + (array_tile_cycles - array_tile_interval)``.
    """

    array: str
    k: int
    tiles: int
    measured_tile: int
    formula_tile: int
    measured_span: int
    simulator_span: int


def _label(shape: ArrayArch) -> str:
    return f"{shape.rows}x{shape.cols} int{shape.code_bits}, {shape.requant_lanes} lanes"


@dataclass(frozen=True)
class ArrayModels:
    """Verilated arrays by shape (built once; reused across checks)."""

    models: tuple[tuple[ArrayArch, object], ...]


def build_arrays(workdir: str | Path, shapes: Sequence[ArrayArch] = ARRAYS) -> ArrayModels:
    """Build (or reuse from ``workdir``, keyed by the Verilog's hash) a Verilator model per shape."""
    from rtl.backends import VerilatorModel

    return ArrayModels(tuple((s, VerilatorModel(s.create(), workdir)) for s in shapes))


@dataclass(frozen=True)
class _RealLayer:
    x: np.ndarray          # (pixels, K) input codes
    w: np.ndarray          # (K, Cout) weight codes
    x_zp: int
    bias: np.ndarray
    multiplier: np.ndarray
    shift: np.ndarray
    out_zp: int
    act_min: int
    act_max: int
    golden: np.ndarray     # (pixels, Cout) layer output codes (pre look-up table)


def real_tile(setup: RealSetup, ranges: CalibratedRanges, bits: int, layer_name: str) -> _RealLayer:
    """The layer's quantized operands and golden output on the first held-out input (module docstring)."""
    model = setup.model.with_bits(BitPolicy(default=(bits, bits)))
    graph = model.graph
    layer = graph.layer(layer_name)
    if layer.op is not Op.CONV or layer.groups != 1:
        raise ValueError(f"layer '{layer_name}': a real tile needs an ungrouped conv, got {layer.op.value}")
    plan = plan_calibrated(model, params_from_ranges(model, ranges.ranges["percentile@0.999"]),
                           symmetric_weights=True)
    item = setup.evaluation[0]
    seen: dict[str, np.ndarray] = {}

    def keep(key: str, codes: np.ndarray) -> None:
        if key == layer.inputs[0]:
            seen[key] = codes

    codes = {n: plan.params[n].quantize(np.asarray(item.inputs[n], dtype=np.float64)) for n in model.input_names}
    run_integer(model, plan, codes, keep)
    x = seen[layer.inputs[0]]
    lp = plan.layers[layer_name]
    zin = int(plan.params[layer.inputs[0]].zero_point)
    golden = conv2d(x, lp.weights, lp.bias, lp.stage, input_zero_point=zin, weight_zero_point=lp.weight_zero_point,
                    stride=layer.stride, dilation=layer.dilation, padding=layer.padding, groups=1)
    cout = lp.weights.shape[0]
    stage = lp.stage
    return _RealLayer(
        x=im2col(x, layer.kernel, layer.stride, layer.dilation, layer.padding, zin),
        w=lp.weights.reshape(cout, -1).T.astype(np.int64), x_zp=zin, bias=np.asarray(lp.bias, dtype=np.int64),
        multiplier=np.broadcast_to(np.asarray(stage.multiplier, dtype=np.int64), (cout,)),
        shift=np.broadcast_to(np.asarray(stage.shift, dtype=np.int64), (cout,)),
        out_zp=int(stage.zero_point), act_min=int(stage.act_min), act_max=int(stage.act_max),
        golden=golden.reshape(-1, cout))


def _tile_vectors(layer: _RealLayer, rows: int, cols: int, tiles: int) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """``tiles`` tiles spread over the output map (pixel block i, channel block i) and their layer golden codes."""
    pixels, cout = layer.golden.shape
    step = (pixels - rows) // max(tiles - 1, 1)
    x, w, bias, mult, shift, gold = [], [], [], [], [], []
    for i in range(tiles):
        p0, c0 = i * step, min((i * cols) % cout, cout - cols)
        x.append(layer.x[p0:p0 + rows])
        w.append(layer.w[:, c0:c0 + cols])
        bias.append(layer.bias[c0:c0 + cols])
        mult.append(layer.multiplier[c0:c0 + cols])
        shift.append(layer.shift[c0:c0 + cols])
        gold.append(layer.golden[p0:p0 + rows, c0:c0 + cols])
    n = np.full(tiles, 1, dtype=np.int64)
    vectors = {"x": np.stack(x), "w": np.stack(w), "bias": np.stack(bias), "multiplier": np.stack(mult),
               "shift": np.stack(shift), "x_zp": n * layer.x_zp, "x_signed": n, "out_zp": n * layer.out_zp,
               "act_min": n * layer.act_min, "act_max": n * layer.act_max}
    return vectors, np.stack(gold)


def check_real_tile(setup: RealSetup, ranges: CalibratedRanges, arrays: ArrayModels, tiles: int = 8
                    ) -> list[TileCheck]:
    """The model's :data:`TILE_LAYERS` layer through every built array at the array's width."""
    checks = []
    name = TILE_LAYERS[setup.name]
    for shape, model in arrays.models:
        layer = real_tile(setup, ranges, shape.code_bits, name)
        if layer.x.shape[1] > shape.max_depth:
            raise ValueError(f"layer '{name}': K={layer.x.shape[1]} exceeds the array's max depth {shape.max_depth}")
        vectors, gold = _tile_vectors(layer, shape.rows, shape.cols, tiles)
        result = cosim_array(model, vectors, shape)
        k = layer.x.shape[1]
        checks.append(TileCheck(setup.name, name, _label(shape), shape.code_bits, k, tiles, int(result.rtl.size),
                                int(np.count_nonzero(result.rtl == result.golden)),
                                int(np.count_nonzero(result.rtl == gold)), int(result.latency.max()),
                                array_tile_cycles(shape.rows, shape.cols, k, requant_lanes=shape.requant_lanes)))
    return checks


def _random_tiles(shape: ArrayArch, tiles: int, k: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Seeded valid tiles (signed codes, Q0.31 multipliers in [0.5, 1), right shifts)."""
    bits = shape.code_bits
    lo, hi = -(1 << (bits - 1)), 1 << (bits - 1)
    return {
        "x": rng.integers(lo, hi, (tiles, shape.rows, k)), "w": rng.integers(lo, hi, (tiles, k, shape.cols)),
        "bias": rng.integers(-5000, 5000, (tiles, shape.cols)),
        "multiplier": rng.integers(2**30, 2**31, (tiles, shape.cols)),
        "shift": rng.integers(-12 if bits == 8 else -8, 1, (tiles, shape.cols)),
        "x_zp": rng.integers(lo, hi, tiles), "x_signed": np.ones(tiles, np.int64),
        "out_zp": rng.integers(-4, 4, tiles), "act_min": np.full(tiles, lo), "act_max": np.full(tiles, hi - 1),
    }


def cycle_sweep(arrays: ArrayModels, depths: Sequence[int] = SWEEP_K, tiles: int = 3, seed: int = 0
                ) -> list[CycleRow]:
    """Measured vs formula / simulator cycles for every array and reduction depth (seeded random codes)."""
    rng = np.random.default_rng(seed)
    rows = []
    for shape, model in arrays.models:
        for k in depths:
            if k > shape.max_depth:
                continue
            result = cosim_array(model, _random_tiles(shape, tiles, k, rng), shape)
            if not np.array_equal(result.rtl, result.golden):
                raise RuntimeError(f"{_label(shape)} k={k}: RTL differs from the golden model")
            interval = array_tile_interval(shape.rows, shape.cols, k, requant_lanes=shape.requant_lanes)
            formula = array_tile_cycles(shape.rows, shape.cols, k, requant_lanes=shape.requant_lanes)
            span = result.cycles.total
            simulated = os_compute_cycles(shape.rows, shape.cols, shape.requant_lanes, tiles, k, shape.max_depth) + formula - interval
            rows.append(CycleRow(_label(shape), k, tiles, int(result.latency.max()), formula, span, simulated))
    return rows
