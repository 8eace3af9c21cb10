"""Implicit-GEMM geometry of weighted layers and the byte arithmetic the tilers share.

Convolutions (dense, grouped, depthwise), FC and transposed convolutions are mapped
as implicit GEMMs per group: ``M = Ho*Wo`` output pixels, ``N = Cout/groups`` output
channels, ``K = kh*kw*Cin/groups`` reduction. FC layers are 1x1 convolutions over
``(repeat, 1, H*W*C)`` (RoIs batch as pixels); transposed convolutions are 1x1 GEMMs
producing ``kh*kw*Cout`` columns per input pixel whose overlap-add (col2im) runs on
the vector unit [assumed].
"""

from __future__ import annotations

from dataclasses import dataclass

from sw.graph.ir import Layer, Op

__all__ = ["ConvGeometry", "conv_geometry", "nbytes", "blocks", "MAC_OPS", "BIAS_BYTES"]

#: Layer kinds mapped to the PE array (or, at 32 bits, to the vector unit's float MACs).
MAC_OPS = frozenset({Op.CONV, Op.DEPTHWISE, Op.FC, Op.CONV_TRANSPOSE})
#: Bytes of one int32 bias value.
BIAS_BYTES = 4


def nbytes(elements: int, bits: int) -> int:
    """Bytes of ``elements`` values at ``bits`` each, packed."""
    return -(-elements * bits // 8)


def blocks(total: int, size: int) -> list[tuple[int, int]]:
    """``[lo, hi)`` ranges of ``size`` (the last one shorter) covering ``range(total)``."""
    return [(lo, min(lo + size, total)) for lo in range(0, total, size)]


@dataclass(frozen=True)
class ConvGeometry:
    """Implicit-GEMM view of a weighted layer (one execution, per group).

    Attributes
    ----------
    h, w, cin_g
        Input rows, columns (pixels) and channels per group.
    groups
        Channel groups.
    ho, wo, n_g
        Output rows, columns (pixels) and channels per group (the GEMM's N).
    kh, kw, sh, sw, dh, dw
        Kernel size, stride and dilation (pixels).
    pad_top, pad_left
        Padding before the first row / column (pixels).
    a_bits, w_bits, out_bits
        Operand and output widths (bits).
    bias
        The layer adds an int32 bias per output channel.
    out_channels_total
        Output channels over all groups.
    col2im_ops
        Vector-unit overlap-add element operations (transposed convolution), else 0.
    sparsity
        Zero fraction of weights stored sparse: DRAM weight loads carry the non-zeros only
        (index overhead neglected [assumed]).
    """

    h: int
    w: int
    cin_g: int
    groups: int
    ho: int
    wo: int
    n_g: int
    kh: int
    kw: int
    sh: int
    sw: int
    dh: int
    dw: int
    pad_top: int
    pad_left: int
    a_bits: int
    w_bits: int
    out_bits: int
    bias: bool
    out_channels_total: int
    col2im_ops: int = 0
    sparsity: float = 0.0

    @property
    def k(self) -> int:
        """Reduction depth per output (operand beats at one pass per beat)."""
        return self.kh * self.kw * self.cin_g

    def in_range(self, lo: int, hi: int, axis: int) -> tuple[int, int, int, int]:
        """Input ``(start, stop, pad_before, pad_after)`` of output rows (axis 0) / cols (1) ``[lo, hi)``."""
        s, d, k, p, size = ((self.sh, self.dh, self.kh, self.pad_top, self.h) if axis == 0
                            else (self.sw, self.dw, self.kw, self.pad_left, self.w))
        start = lo * s - p
        stop = (hi - 1) * s - p + (k - 1) * d + 1
        return max(start, 0), min(stop, size), max(0, -start), max(0, stop - size)


def conv_geometry(layer: Layer) -> ConvGeometry:
    """The GEMM geometry of a conv / depthwise / fc / conv_transpose layer."""
    (h, w, c), (ho, wo, cout) = layer.in_shapes[0], layer.out_shape
    common = dict(a_bits=layer.a_bits, w_bits=layer.w_bits, bias=layer.bias, out_channels_total=cout,
                  sparsity=layer.sparsity)
    unit_window = dict(kh=1, kw=1, sh=1, sw=1, dh=1, dw=1, pad_top=0, pad_left=0)
    if layer.op is Op.FC:  # batched fc: one GEMM row per output pixel
        rows, depth = layer.repeat * layer.batched_rows, (c if layer.batched_rows > 1 else h * w * c)
        return ConvGeometry(h=rows, w=1, cin_g=depth, groups=1, ho=rows, wo=1, n_g=cout,
                            out_bits=layer.a_bits, **unit_window, **common)
    g = layer.groups
    if layer.op is Op.CONV_TRANSPOSE:
        cols = layer.kernel[0] * layer.kernel[1] * cout // g
        return ConvGeometry(h=h, w=w, cin_g=c // g, groups=g, ho=h, wo=w, n_g=cols, out_bits=32,
                            col2im_ops=h * w * cols * g, **unit_window, **common)
    return ConvGeometry(h=h, w=w, cin_g=c // g, groups=g, ho=ho, wo=wo, n_g=cout // g,
                        kh=layer.kernel[0], kw=layer.kernel[1], sh=layer.stride[0], sw=layer.stride[1],
                        dh=layer.dilation[0], dw=layer.dilation[1], pad_top=layer.padding[0][0],
                        pad_left=layer.padding[1][0], out_bits=layer.a_bits, **common)
