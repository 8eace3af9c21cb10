"""A layer for the accelerator top: operands, golden output, DRAM image and result read-back.

:class:`LayerOperands` holds a weighted layer as a GEMM of integer codes: the input
im2col'd **on the host** (``M x K``, OHWI order ``(ky, kx, c)``, padding filled with
the input zero point, exact by zero-point alignment), symmetric weight codes ``K x N``
(the array has no weight zero point), per-channel int32 bias, multiplier and shift,
and the golden output codes from :func:`sw.golden.conv.conv2d` /
:func:`sw.golden.fully_connected.fully_connected` (TFLite double rounding), computed
independently of the im2col and of the RTL. :func:`model_layer` takes them from a real
model's integer golden model (FQN calibration). :func:`dram_image` lays the operands
out as :class:`rtl.top.program.Layout` says; :func:`read_outputs` decodes the words the
top wrote back.

Grouped and depthwise convolutions are ``groups`` GEMMs (:mod:`rtl.top.grouped`): each group
im2col's its own ``Cin / groups`` input channels and multiplies them by its ``Cout / groups``
output channels' weights; the golden output is :func:`sw.golden.conv.conv2d` with ``groups``
(all output channels), independent of the split.

DRAM words (per run and K chunk, per channel block and K chunk: the chunk's im2col K
indices, :meth:`rtl.top.program.GemmLayer.chunk_k`): an input SRAM word is one operand beat (``rows`` digits of ``pe_bits``, row
0 lowest); int8 codes on int4 PEs are two words per element, high digit (``code >> 4``,
4 bits) then low digit (``code & 15``). Weight words likewise with ``cols`` digits.
A parameter entry holds per column bias (32), multiplier (32), shift (8). An output
word is a drain beat of ``requant_lanes`` codes of ``code_bits`` (4-bit layers on 8-bit arrays: two
beats of 4-bit codes, low half first). SRAM words are split
into bus words, lowest bits first.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np

from rtl.top.program import PARAM_FIELD_BITS, GemmLayer, TopArch, TopProgram
from sw.golden.conv import conv2d
from sw.golden.fully_connected import fully_connected
from sw.golden.requant import OutputStage
from sw.graph.ir import Layer, Op
from sw.graph.model import ImportedModel
from sw.runtime.integer import IntegerPlan

__all__ = ["LayerOperands", "im2col", "conv_operands", "fc_operands", "layer_gemm", "model_layer", "planned_layer", "crop_layer", "dram_image",
           "read_outputs"]


@dataclass(frozen=True)
class LayerOperands:
    """A layer's integer operands and golden output (module docstring).

    Attributes
    ----------
    layer : GemmLayer
        One group's GEMM: shape, widths, zero points and clamps (the whole layer when ``groups == 1``).
    x : np.ndarray
        ``(M, groups * K)`` im2col'd input codes, group ``g`` in columns ``[g * K, (g + 1) * K)``.
    w : np.ndarray
        ``(K, groups * N)`` weight codes, group ``g`` in columns ``[g * N, (g + 1) * N)``.
    bias, multiplier, shift : np.ndarray
        ``(groups * N,)`` int32 bias, requantization multiplier and shift per output channel.
    golden : np.ndarray
        ``(M, groups * N)`` output codes of the golden model.
    groups : int
        Channel groups (1: an ungrouped conv or an FC layer).
    """

    layer: GemmLayer
    x: np.ndarray
    w: np.ndarray
    bias: np.ndarray
    multiplier: np.ndarray
    shift: np.ndarray
    golden: np.ndarray
    groups: int = 1

    def group(self, g: int) -> LayerOperands:
        """The operands of group ``g`` alone (one GEMM)."""
        k, n = self.layer.k, self.layer.n
        cols = slice(g * n, (g + 1) * n)
        return LayerOperands(self.layer, self.x[:, g * k:(g + 1) * k], self.w[:, cols], self.bias[cols],
                             self.multiplier[cols], self.shift[cols], self.golden[:, cols])


def im2col(x: np.ndarray, kernel: tuple[int, int], stride: tuple[int, int], dilation: tuple[int, int],
           padding: tuple[tuple[int, int], tuple[int, int]], pad_value: int) -> np.ndarray:
    """``[oh * ow, kh * kw * C]`` patches of NHWC ``x[0]`` in OHWI order; pads hold ``pad_value``."""
    (top, bottom), (left, right) = padding
    padded = np.pad(x[0], ((top, bottom), (left, right), (0, 0)), constant_values=pad_value)
    kh, kw = kernel
    (sh, sw), (dh, dw) = stride, dilation
    oh = (padded.shape[0] - dh * (kh - 1) - 1) // sh + 1
    ow = (padded.shape[1] - dw * (kw - 1) - 1) // sw + 1
    cols = [padded[ky * dh: ky * dh + sh * (oh - 1) + 1: sh, kx * dw: kx * dw + sw * (ow - 1) + 1: sw]
            for ky in range(kh) for kx in range(kw)]
    return np.stack(cols, axis=2).reshape(oh * ow, -1)


def conv_operands(name: str, x: np.ndarray, weights: np.ndarray, bias: np.ndarray, stage: OutputStage, *,
                  x_zp: int, w_bits: int, a_bits: int, stride: tuple[int, int] = (1, 1),
                  dilation: tuple[int, int] = (1, 1),
                  padding: tuple[tuple[int, int], tuple[int, int]] = ((0, 0), (0, 0)),
                  groups: int = 1) -> LayerOperands:
    """Operands of a convolution of ``groups`` channel groups (an FC layer is a 1x1 convolution of a 1x1 map).

    Parameters
    ----------
    x : np.ndarray
        NHWC input codes, batch 1.
    weights : np.ndarray
        OHWI weight codes ``(Cout, kh, kw, Cin / groups)`` (symmetric: zero point 0).
    bias : np.ndarray
        int32 bias per output channel.
    stage : OutputStage
        Requantization (per-channel multiplier and shift, output zero point, clamps).
    """
    cout, kh, kw, cg = weights.shape
    golden = conv2d(x, weights, bias, stage, input_zero_point=x_zp, stride=stride, dilation=dilation,
                    padding=padding, groups=groups)
    cols = np.concatenate([im2col(x[..., g * cg:(g + 1) * cg], (kh, kw), stride, dilation, padding, x_zp)
                           for g in range(groups)], axis=1)
    mult = np.broadcast_to(np.asarray(stage.multiplier, dtype=np.int64), (cout,))
    shift = np.broadcast_to(np.asarray(stage.shift, dtype=np.int64), (cout,))
    gemm = GemmLayer(name=name, m=cols.shape[0], n=cout // groups, k=kh * kw * cg, w_bits=w_bits, a_bits=a_bits,
                     x_zp=x_zp, out_zp=int(stage.zero_point), act_min=int(stage.act_min),
                     act_max=int(stage.act_max), taps=kh * kw)
    return LayerOperands(gemm, cols.astype(np.int64), weights.reshape(cout, -1).T.astype(np.int64),
                         np.asarray(bias, dtype=np.int64), mult.copy(), shift.copy(),
                         golden.reshape(-1, cout).astype(np.int64), groups)


def fc_operands(name: str, x: np.ndarray, weights: np.ndarray, bias: np.ndarray, stage: OutputStage, *,
                x_zp: int, w_bits: int, a_bits: int) -> LayerOperands:
    """Operands of a fully connected layer: ``x`` ``(Cin,)`` codes, ``weights`` ``(Cout, Cin)`` codes (M = 1)."""
    x = np.asarray(x, dtype=np.int64).reshape(1, -1)
    weights = np.asarray(weights, dtype=np.int64)
    cout = weights.shape[0]
    golden = fully_connected(x, weights, bias, stage, input_zero_point=x_zp)
    gemm = GemmLayer(name=name, m=1, n=cout, k=x.shape[1], w_bits=w_bits, a_bits=a_bits, x_zp=x_zp,
                     out_zp=int(stage.zero_point), act_min=int(stage.act_min), act_max=int(stage.act_max))
    return LayerOperands(gemm, x, weights.T.copy(), np.asarray(bias, dtype=np.int64),
                         np.broadcast_to(np.asarray(stage.multiplier, dtype=np.int64), (cout,)).copy(),
                         np.broadcast_to(np.asarray(stage.shift, dtype=np.int64), (cout,)).copy(),
                         golden.reshape(1, cout).astype(np.int64))


def crop_layer(layer: Layer, size: tuple[int, int] | None) -> Layer:
    """``layer`` on the top-left ``size = (H, W)`` crop of its input (same kernel, stride, padding)."""
    if size is None or layer.op is Op.FC:
        return layer
    h, w, c = layer.in_shapes[0]
    ch, cw = min(size[0], h), min(size[1], w)
    (pt, pb), (pl, pr) = layer.padding
    oh = (ch + pt + pb - layer.dilation[0] * (layer.kernel[0] - 1) - 1) // layer.stride[0] + 1
    ow = (cw + pl + pr - layer.dilation[1] * (layer.kernel[1] - 1) - 1) // layer.stride[1] + 1
    if oh < 1 or ow < 1:
        raise ValueError(f"layer '{layer.name}': --size {size[0]}x{size[1]} leaves no output pixel")
    return replace(layer, in_shapes=((ch, cw, c),) + tuple(layer.in_shapes[1:]), out_shape=(oh, ow, layer.out_shape[-1]))


def _layer_of(model: ImportedModel, name: str) -> Layer:
    try:
        layer = model.graph.layer(name)
    except (KeyError, ValueError):
        names = [l.name for l in model.graph]
        raise ValueError(f"layer '{name}': not in the model (it has {len(names)} layers: "
                         f"{', '.join(names[:6])}, ...)") from None
    if layer.op not in (Op.CONV, Op.DEPTHWISE, Op.FC):
        raise ValueError(f"layer '{name}': the RTL top runs conv, depthwise and fc layers only, got "
                         f"{layer.op.value}")
    return layer


def layer_gemm(layer: Layer) -> tuple[GemmLayer, int]:
    """``(per-group GEMM, groups)`` of an IR conv / depthwise / FC ``layer`` from its shapes alone (no data):
    the shape :func:`conv_operands` / :func:`fc_operands` give its operands (zero points 0, the signed
    ``a_bits`` code range as clamps)."""
    lo, hi = -(1 << (layer.a_bits - 1)), (1 << (layer.a_bits - 1)) - 1
    common = dict(name=layer.name, w_bits=layer.w_bits, a_bits=layer.a_bits, x_zp=0, out_zp=0, act_min=lo, act_max=hi)
    if layer.op is Op.FC:
        return GemmLayer(m=1, n=layer.out_shape[-1], k=int(np.prod(layer.in_shapes[0])), **common), 1
    ho, wo, cout = layer.out_shape
    kh, kw = layer.kernel
    g = layer.groups
    return GemmLayer(m=ho * wo, n=cout // g, k=kh * kw * layer.in_shapes[0][-1] // g, taps=kh * kw, **common), g


def model_layer(model: ImportedModel, name: str, calibration: Sequence[Mapping[str, np.ndarray]],
                sample: Mapping[str, np.ndarray], bits: int, size: tuple[int, int] | None = None
                ) -> tuple[LayerOperands, Layer]:
    """A real model layer's operands at ``bits`` (weights and activations) and the layer as run.

    The float model is FQN-calibrated (percentile observers) on ``calibration`` with
    symmetric per-channel weights, then :func:`planned_layer`. ValueError (one line)
    for layers the top cannot run.
    """
    from sw.graph.bits import BitPolicy
    from sw.runtime.executor import calibrate
    from sw.runtime.integer import plan_calibrated

    model = model.with_bits(BitPolicy(default=(bits, bits)))
    _layer_of(model, name)
    plan = plan_calibrated(model, calibrate(model, calibration), symmetric_weights=True)
    return planned_layer(model, plan, name, sample, size)


def planned_layer(model: ImportedModel, plan: IntegerPlan, name: str, sample: Mapping[str, np.ndarray],
                  size: tuple[int, int] | None = None) -> tuple[LayerOperands, Layer]:
    """A layer's operands from a ready integer plan of ``model`` (at its widths), and the layer as run.

    The integer golden model runs on ``sample`` to give the layer's input codes; ``size``
    crops that input to its top-left ``(H, W)``. The golden output is the layer's
    requantized output before any look-up-table activation (which runs on the vector
    unit). ValueError (one line) for layers the top cannot run: not a conv, depthwise or
    fc, weight and activation widths that differ or are not 4 or 8, or weights with a
    zero point (the array multiplies symmetric weight codes).
    """
    from sw.runtime.integer import run_integer

    layer = _layer_of(model, name)
    if layer.w_bits != layer.a_bits or layer.w_bits not in (4, 8):
        raise ValueError(f"layer '{name}': the RTL top runs w4a4 or w8a8 layers, got w{layer.w_bits}a{layer.a_bits}")
    bits = layer.w_bits
    lp = plan.layers[name]
    if name in plan.asymmetric_weight_layers():
        raise ValueError(f"layer '{name}': weights with nonzero zero points; the RTL array multiplies symmetric "
                         "weight codes (hwsim quantize --symmetric-weights)")
    seen: dict[str, np.ndarray] = {}

    def keep(key: str, codes: np.ndarray) -> None:
        if key == layer.inputs[0]:
            seen[key] = codes

    codes = {n: plan.params[n].quantize(np.asarray(sample[n], dtype=np.float64)) for n in model.input_names}
    run_integer(model, plan, codes, keep)
    x = np.asarray(seen[layer.inputs[0]], dtype=np.int64)
    zin = int(plan.params[layer.inputs[0]].zero_point)
    if layer.op is Op.FC:
        w = np.asarray(lp.weights, dtype=np.int64)
        return fc_operands(name, x.reshape(-1), w.reshape(w.shape[0], -1), lp.bias, lp.stage, x_zp=zin,
                           w_bits=bits, a_bits=bits), layer
    run = crop_layer(layer, size)
    x = x[:, :run.in_shapes[0][0], :run.in_shapes[0][1], :]
    ops = conv_operands(name, x, np.asarray(lp.weights, dtype=np.int64), lp.bias, lp.stage, x_zp=zin, w_bits=bits,
                        a_bits=bits, stride=layer.stride, dilation=layer.dilation, padding=layer.padding,
                        groups=layer.groups)
    return ops, run


def _pack(values: np.ndarray, width: int) -> np.ndarray:
    """Fields ``(..., count)`` of ``width`` bits (two's complement) -> little-endian bytes ``(..., count*width/8)``."""
    v = np.asarray(values, dtype=np.int64) & ((1 << width) - 1)
    bits = (v[..., None] >> np.arange(width)) & 1
    bits = bits.reshape(*v.shape[:-1], v.shape[-1] * width).astype(np.uint8)
    return np.packbits(bits, axis=-1, bitorder="little")


def _digits(codes: np.ndarray, digits: int, pe_bits: int) -> np.ndarray:
    """Digit planes ``(..., digits)`` of codes: ``[hi, lo]`` 4-bit digits, or the code itself."""
    if digits == 2:
        return np.stack([(codes >> 4) & 15, codes & 15], axis=-1)
    return (codes & ((1 << pe_bits) - 1))[..., None]


def dram_image(arch: TopArch, program: TopProgram, ops: LayerOperands) -> np.ndarray:
    """The DRAM contents before the run: ``(words, bus_bytes)`` uint8, output regions zero."""
    lay = program.layout
    if ops.groups != lay.groups:
        raise ValueError(f"layer '{ops.layer.name}': the operands have {ops.groups} group(s), the program "
                         f"{lay.groups}")
    image = np.zeros((lay.words, arch.bus_bytes), dtype=np.uint8)
    for g in range(lay.groups):
        data = _operand_bytes(arch, program, ops.group(g))
        words = lay.o_base[0] if lay.o_base else len(data) // arch.bus_bytes
        if len(data) != words * arch.bus_bytes:
            raise AssertionError(f"DRAM image has {len(data)} bytes; the layout expects {words} words")
        base = g * lay.group_words
        image[base:base + words] = data.reshape(words, arch.bus_bytes)
    return image


def _operand_bytes(arch: TopArch, program: TopProgram, ops: LayerOperands) -> np.ndarray:
    """One group's input, weight and parameter regions as bytes (group 0's layout)."""
    a, lay = arch.array, program.layout
    ks = [ops.layer.chunk_k(*chunk) for chunk in lay.chunks]  # im2col K indices of each chunk
    parts = []
    for p0, p1 in lay.runs:
        mb = -(-(p1 - p0) // a.rows)
        for kc in ks:
            k = len(kc)
            x = np.full((mb * a.rows, k), ops.layer.x_zp, dtype=np.int64)
            x[:p1 - p0] = ops.x[p0:p1, kc]
            d = _digits(x.reshape(mb, a.rows, k).transpose(0, 2, 1), lay.x_digits, a.pe_bits)  # (mb, k, rows, dig.)
            parts.append(_pack(d.transpose(0, 1, 3, 2), a.pe_bits).reshape(-1))
    for c0, c1 in lay.blocks:
        nb = -(-(c1 - c0) // a.cols)
        for kc in ks:
            k = len(kc)
            w = np.zeros((k, nb * a.cols), dtype=np.int64)
            w[:, :c1 - c0] = ops.w[kc, c0:c1]
            d = _digits(w.reshape(k, nb, a.cols).transpose(1, 0, 2), lay.w_digits, a.pe_bits)  # (nb, k, cols, dig.)
            parts.append(_pack(d.transpose(0, 1, 3, 2), a.pe_bits).reshape(-1))
    for c0, c1 in lay.blocks:
        nb = -(-(c1 - c0) // a.cols)
        fields = []
        for values, width in zip((ops.bias, ops.multiplier, ops.shift), PARAM_FIELD_BITS):
            padded = np.zeros(nb * a.cols, dtype=np.int64)
            padded[:c1 - c0] = values[c0:c1]
            bits = (padded[:, None] & ((1 << width) - 1)) >> np.arange(width) & 1
            fields.append(bits)
        bits = np.concatenate(fields, axis=1).reshape(nb, -1).astype(np.uint8)
        parts.append(np.packbits(bits, axis=-1, bitorder="little").reshape(-1))
    return np.concatenate(parts)


def read_outputs(arch: TopArch, program: TopProgram, written: Mapping[int, bytes] | np.ndarray) -> np.ndarray:
    """The ``(M, groups * N)`` output codes from the DRAM after the run (``(words, bus_bytes)`` uint8)."""
    lay = program.layout
    image = np.asarray(written)
    n = program.layer.n
    out = np.zeros((program.layer.m, lay.groups * n), dtype=np.int64)
    for g in range(lay.groups):
        base = g * lay.group_words
        out[:, g * n:(g + 1) * n] = _group_outputs(arch, program, image[base:base + lay.group_words])
    return out


def _group_outputs(arch: TopArch, program: TopProgram, image: np.ndarray) -> np.ndarray:
    """One group's ``(M, N)`` output codes from its DRAM regions (group 0's layout)."""
    a, lay = arch.array, program.layout
    lane_groups = a.cols // a.requant_lanes  # drain beats per array row
    out = np.zeros((program.layer.m, program.layer.n), dtype=np.int64)
    width = a.code_bits // (1 + lay.o_half)
    for i, (p0, p1) in enumerate(lay.runs):
        mb = -(-(p1 - p0) // a.rows)
        for j, (c0, c1) in enumerate(lay.blocks):
            nb = -(-(c1 - c0) // a.cols)
            base = lay.o_base[i * len(lay.blocks) + j]
            beats = mb * nb * a.rows * lane_groups
            nwords = -(-beats // (1 + lay.o_half)) * arch.ratio("o")
            raw = image[base:base + nwords].reshape(-1)
            bits = np.unpackbits(raw, bitorder="little").reshape(-1, width).astype(np.int64)
            codes = (bits << np.arange(width)).sum(axis=1)[:beats * a.requant_lanes]
            codes = np.where(codes >= 1 << (width - 1), codes - (1 << width), codes)
            tiles = codes.reshape(nb, mb, lane_groups, a.rows, a.requant_lanes).transpose(1, 3, 0, 2, 4)
            out[p0:p1, c0:c1] = tiles.reshape(mb * a.rows, nb * a.cols)[:p1 - p0, :c1 - c0]
    return out
