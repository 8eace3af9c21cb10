"""What the DMA moves for one SRAM tile of a weighted layer: whole array tiles [rtl].

On the output-stationary array with the RTL timing (``array.dataflow = "os"``,
``array.timing = "rtl"``), integer layers that requantize on the array follow the RTL
accelerator top (``rtl/top``: its programs, :func:`rtl.top.program.layer_program`, and its
DMA engine), provenance [rtl]. Grouped and depthwise convolutions too: the top runs each group
as its own GEMM (:func:`rtl.top.grouped.grouped_program`), so the rules below apply to every
group's tiles (a depthwise group's one output channel moves a whole column block of weights,
parameters and outputs):

* **input**: the run's im2col (host im2col: the top has no window unit): a run of ``pm``
  output pixels is padded up to whole row blocks (``ceil(pm / rows) * rows`` pixels) and every
  pixel, real or padding, loads one im2col row of ``kh * kw * tc`` codes (taps outside the map
  and padding pixels hold the zero point), so a ``kh x kw`` layer loads up to ``kh * kw`` times
  its input window;
* **weights**: dense weights are padded up to whole column blocks (``ceil(pn / cols) * cols``
  output channels; sparse weights carry their non-zeros only [assumed]);
* **requantization parameters**: :data:`rtl.arch.PARAM_BYTES` (bias, multiplier, shift: 9) per
  output column of every column block, fetched with the block's weights;
* **outputs**: whole array tiles, ``ceil(pm / rows) * rows`` x ``ceil(pn / cols) * cols`` codes;
* **codes** occupy whole PE digits in SRAM and DRAM (:meth:`rtl.arch.ArrayArch.stored_bits`).

Elsewhere (float layers on the vector unit, weight stationary, SCALE-Sim timing, transposed
convolutions) the DMA moves exactly the tile's elements and the 4-byte int32 bias, and a run
loads its input window (the input rows its output rows need, halo included, clipped to the
map), as a window (im2col) unit next to the SRAM would [assumed].
The host's expansion of a layer's input into im2col order in DRAM is not charged (it is
outside the accelerator).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from hwsim.compiler.geometry import BIAS_BYTES, ConvGeometry, nbytes
from hwsim.config import HwConfig
from rtl.arch import PARAM_BYTES
from rtl.timing import PROGRAM_CYCLES
from sw.graph.ir import Op

__all__ = ["DmaRules", "dma_rules", "on_top", "padded", "program_cycles"]


def padded(n: int, unit: int) -> int:
    """``n`` rounded up to a whole number of ``unit`` blocks."""
    return -(-n // unit) * unit


@dataclass(frozen=True)
class DmaRules:
    """Byte rules of one layer's tiles (module docstring).

    Attributes
    ----------
    row_block, col_block : int
        Output pixels / channels a tile is padded to a multiple of (1: no padding).
    a_bits, w_bits : int
        Bits an input / weight code occupies in SRAM and DRAM.
    column_bytes : int
        Parameter bytes per output column (requantization parameters, bias, or 0).
    dense_weights : bool
        Weights are stored dense (padding applies); else only the non-zeros move.
    im2col : bool
        A run loads its im2col rows (``kh * kw`` elements per pixel and channel, padding pixels
        included); else its input window plus ``kh * kw`` elements per padding pixel.
    """

    row_block: int
    col_block: int
    a_bits: int
    w_bits: int
    column_bytes: int
    dense_weights: bool
    im2col: bool = False

    def run_elements(self, g: ConvGeometry, pm: int, win: int) -> int:
        """Input elements per input channel of a run of ``pm`` pixels whose window has ``win`` pixels."""
        pad = padded(pm, self.row_block)
        if self.im2col:
            return pad * g.kh * g.kw
        return win + (pad - pm) * g.kh * g.kw

    def input_bytes(self, g: ConvGeometry, pm: int, win: int, tc: int) -> int:
        """Bytes of the input of a run of ``pm`` pixels (``win`` window pixels) and ``tc`` channels."""
        return nbytes(self.run_elements(g, pm, win) * tc, self.a_bits)

    def weight_bytes(self, g: ConvGeometry, pn: int, tk: int) -> int:
        """Bytes of the weights of ``pn`` output channels and ``tk`` reduction elements (no parameters)."""
        if self.dense_weights:
            return nbytes(padded(pn, self.col_block) * tk, self.w_bits)
        return nbytes(round(pn * tk * (1 - g.sparsity)), self.w_bits)

    def param_bytes(self, pn: int) -> int:
        """Bytes of the per-column parameters of ``pn`` output channels."""
        return padded(pn, self.col_block) * self.column_bytes

    def output_bytes(self, g: ConvGeometry, pm: int, pn: int) -> int:
        """Bytes of the outputs of a ``pm`` x ``pn`` tile."""
        return nbytes(padded(pm, self.row_block) * padded(pn, self.col_block), g.out_bits)


def on_top(cfg: HwConfig, g: ConvGeometry, passes: int) -> bool:
    """Layer ``g``'s tiles run as the RTL top's program (``passes``: operand beats per MAC, 0 for a float layer):
    an integer layer on the RTL-timed output-stationary array, not a transposed convolution."""
    return bool(passes) and cfg.on_rtl_top and not g.col2im_ops


@lru_cache(maxsize=1024)
def dma_rules(cfg: HwConfig, g: ConvGeometry, passes: int) -> DmaRules:
    """The rules of layer ``g`` on ``cfg`` (``passes``: operand beats per MAC, 0 for a float layer)."""
    a = cfg.array
    if on_top(cfg, g, passes):
        arch = cfg.arch
        return DmaRules(row_block=a.rows, col_block=a.cols, a_bits=arch.stored_bits(g.a_bits),
                        w_bits=arch.stored_bits(g.w_bits), column_bytes=PARAM_BYTES,
                        dense_weights=g.sparsity == 0, im2col=True)
    return DmaRules(row_block=1, col_block=1, a_bits=g.a_bits, w_bits=g.w_bits,
                    column_bytes=BIAS_BYTES if g.bias else 0, dense_weights=g.sparsity == 0)


def program_cycles(cfg: HwConfig, op: Op, unit: str) -> int:
    """Controller cycles around a layer's program on the RTL top [rtl], 0 where the top does not run it.

    A conv, depthwise or FC layer on the array (``unit == "array"``) of an output-stationary array
    with the RTL timing runs as one program of the top: :data:`rtl.timing.PROGRAM_CYCLES` (start to
    the first DRAM request, last transfer to ``done``) on top of its tiles' cycles.
    """
    runs = unit == "array" and cfg.on_rtl_top and op in (Op.CONV, Op.DEPTHWISE, Op.FC)
    return PROGRAM_CYCLES if runs else 0
