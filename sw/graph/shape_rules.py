"""Op-specific shape rules of IR layers (called by :class:`sw.graph.ir.Layer`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sw.graph.ops import SINGLE_INPUT, WINDOWED, Op

if TYPE_CHECKING:
    from sw.graph.ir import Layer

__all__ = ["check_op_shapes", "window_out"]


def window_out(size: int, pad: tuple[int, int], k: int, s: int, d: int) -> int:
    return (size + pad[0] + pad[1] - d * (k - 1) - 1) // s + 1



def check_op_shapes(layer: "Layer") -> None:
    """Op-specific shape rules; ValueError naming the layer and the shapes."""
    op, ins, out = layer.op, layer.in_shapes, layer.out_shape

    def fail(why: str) -> None:
        shown = ", ".join(str(s) for s in ins)
        raise ValueError(f"layer '{layer.name}' ({op.value}): {why}; input shapes {shown}, output shape {out}")

    if op in SINGLE_INPUT and len(ins) != 1:
        fail(f"expected 1 input, got {len(ins)}")
    if op in (Op.ADD, Op.MUL, Op.CONCAT) and len(ins) < 2:
        fail(f"expected at least 2 inputs, got {len(ins)}")
    first = ins[0]
    if op in WINDOWED:
        expect = tuple(
            window_out(first[a], layer.padding[a], layer.kernel[a], layer.stride[a], layer.dilation[a])
            for a in (0, 1)
        )
        if expect != out[:2]:
            fail(f"window arithmetic gives output H, W = {expect}")
    if op in (Op.CONV, Op.CONV_TRANSPOSE) and (first[2] % layer.groups or out[2] % layer.groups):
        fail(f"channels are not divisible by groups={layer.groups}")
    if op is Op.DEPTHWISE and (layer.groups != first[2] or out[2] % first[2]):
        fail(f"depthwise needs groups == Cin and Cout a multiple of Cin (groups={layer.groups})")
    if op in (Op.MAXPOOL, Op.AVGPOOL, Op.UPSAMPLE, Op.ACTIVATION, Op.GLOBAL_AVGPOOL, Op.PRELU,
              Op.RESIZE_BILINEAR) and out[2] != first[2]:
        fail("channels must be unchanged")
    if op is Op.CONV_TRANSPOSE:
        for a in (0, 1):
            base = (first[a] - 1) * layer.stride[a] - sum(layer.padding[a]) + layer.dilation[a] * (layer.kernel[a] - 1) + 1
            if not 0 <= out[a] - base < layer.stride[a]:
                fail(f"transposed-conv arithmetic gives output size {base} (+ output padding < stride) on axis {a}")
    elif op is Op.FC and out[:2] != (1, 1) and out[:2] != first[:2]:
        fail("fc output must be (1, 1, units) or, batched, (H, W, units) of an (H, W, C) input")
    elif op is Op.ADD and any(s != out for s in ins):
        fail("add needs every input shape equal to the output shape")
    elif op is Op.MUL and any(s != out and s != (1, 1, out[2]) for s in ins):
        fail("mul needs each input equal to the output shape or (1, 1, C)")
    elif op is Op.CONCAT and (any(s[:2] != out[:2] for s in ins) or sum(s[2] for s in ins) != out[2]):
        fail("concat needs equal H, W and output channels equal to the sum of input channels")
    elif op is Op.UPSAMPLE and any(-(-out[a] // layer.stride[a]) != first[a] for a in (0, 1)):
        fail(f"upsample by {layer.stride} needs ceil(output / factor) == input on both axes")
    elif op is Op.GLOBAL_AVGPOOL and out[:2] != (1, 1):
        fail("global_avgpool output must be (1, 1, C)")
    elif op is Op.PAD and (out[:2] != (first[0] + sum(layer.padding[0]), first[1] + sum(layer.padding[1])) or out[2] < first[2]):
        fail(f"pad {layer.padding} does not give the output size")
    elif op is Op.ACTIVATION and (out != first or layer.activation is None):
        fail("activation needs an activation function and an unchanged shape")
    elif op is Op.DEPTH_TO_SPACE and (layer.stride[0] != layer.stride[1] or out != (
            first[0] * layer.stride[0], first[1] * layer.stride[0], first[2] // (layer.stride[0] ** 2))
            or first[2] % (layer.stride[0] ** 2)):
        fail(f"depth_to_space by block {layer.stride} needs (H*b, W*b, C/b^2)")
    elif op is Op.PRELU and out != first:
        fail("prelu needs an unchanged shape")
    elif op is Op.ROI_ALIGN:
        if len(ins) < 2 or ins[-1][0] != 1 or ins[-1][2] != 4:
            fail("roi_align needs feature maps then a (1, N, 4) proposals input")
        if out != (layer.kernel[0], layer.kernel[1], first[2]) or any(s[2] != first[2] for s in ins[:-1]):
            fail("roi_align output must be (kernel h, kernel w, C) of equal-channel feature maps")
    elif op is Op.PROPOSALS and (out[0] != 1 or out[2] != 4):
        fail("proposals output must be (1, N, 4)")
