"""MAC processing element: int4 (or int8) weight x activation with an activation zero point.

Zero-point choice
-----------------
The zero point is subtracted *in the PE*: the activation code ``x`` (``bits`` wide,
signed or unsigned per the ``x_signed`` input) becomes the ``bits + 1``-bit signed
difference ``d = x - x_zp``, and the PE accumulates ``w * d``. Weights are signed
and symmetric (zero point 0, the TFLite per-channel convention), so no correction
terms (Jacob et al. eq. 7-9) are needed and the accumulator is directly TFLite's
``sum(w * (x - x_zp))``. ``x_zp`` must lie in the code range of ``x``
(``[0, 2**bits - 1]`` unsigned, ``[-2**(bits-1), 2**(bits-1) - 1]`` signed), so
``|d| <= 2**bits - 1``.

Accumulator rule
----------------
``|w * d| <= P = 2**(bits-1) * (2**bits - 1)`` (``w = -2**(bits-1)``, ``|d| = 2**bits - 1``):
120 for int4, 32,640 for int8. A reduction of depth ``K`` lies in ``[-P*K, P*K]``,
which a signed accumulator holds iff ``2**(width-1) - 1 >= P*K``, i.e.
``width >= (P*K).bit_length() + 1`` (:func:`min_acc_width`). The accumulator feeds
the int32 requantization input, so ``width <= 32``.

Stage (``MAC_CYCLES`` = 1): operands presented in cycle t are multiplied, added
(or loaded, if ``first``) and registered at the end of cycle t; the operands and
their ``valid``/``first`` flags are forwarded through registers in the same cycle.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Module, signed, unsigned
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from rtl.pipeline import sign_extend
from rtl.timing import MAC_CYCLES

__all__ = ["MacPE", "SUPPORTED_BITS", "ACC_WIDTH_MAX", "max_abs_product", "min_acc_width", "check_mac_params"]

#: Operand widths the PE supports.
SUPPORTED_BITS = (4, 8)
#: Widest accumulator: the requantization unit's int32 input.
ACC_WIDTH_MAX = 32


def max_abs_product(bits: int) -> int:
    """Largest ``|w * (x - x_zp)|`` for ``bits``-bit operands: ``2**(bits-1) * (2**bits - 1)``."""
    return 2 ** (bits - 1) * (2**bits - 1)


def min_acc_width(bits: int, depth: int) -> int:
    """Narrowest signed accumulator (bits) holding any reduction of ``depth`` products."""
    return (max_abs_product(bits) * depth).bit_length() + 1


def check_mac_params(bits: int, max_depth: int, acc_width: int | None) -> int:
    """Validate PE parameters; return the accumulator width (the minimum if ``acc_width`` is None).

    Raises
    ------
    ValueError
        With a message naming the parameter and its expected range.
    """
    if bits not in SUPPORTED_BITS:
        raise ValueError(f"bits: expected 4 or 8, got {bits!r}")
    if not isinstance(max_depth, int) or max_depth < 1:
        raise ValueError(f"max_depth: expected an integer >= 1, got {max_depth!r}")
    need = min_acc_width(bits, max_depth)
    if need > ACC_WIDTH_MAX:
        raise ValueError(
            f"max_depth: int{bits} reductions of depth {max_depth} need a {need}-bit accumulator, "
            f"more than the {ACC_WIDTH_MAX}-bit requantization input"
        )
    if acc_width is None:
        return need
    if not isinstance(acc_width, int) or not need <= acc_width <= ACC_WIDTH_MAX:
        raise ValueError(
            f"acc_width: expected an integer in [{need}, {ACC_WIDTH_MAX}] for max_depth={max_depth} "
            f"with int{bits} operands (|w*(x-x_zp)| <= {max_abs_product(bits)}), got {acc_width!r}"
        )
    return acc_width


class MacPE(wiring.Component):
    """One output-stationary processing element.

    Parameters
    ----------
    bits
        Operand width: 4 (int4) or 8 (int8 mode).
    max_depth
        Largest reduction depth the accumulator must hold without overflow.
    acc_width
        Accumulator width in bits; default the minimum of :func:`min_acc_width`.

    Attributes
    ----------
    w : In(signed(bits))
        Weight code.
    x : In(unsigned(bits))
        Activation code bits, read as signed when ``x_signed`` is high.
    x_signed : In(1)
        Activation codes are int``bits`` (1) or uint``bits`` (0); static per layer.
    x_zp : In(signed(bits + 1))
        Activation zero point, in the code range of ``x``; static per layer.
    valid : In(1)
        The operands are a real beat (otherwise the accumulator holds).
    first : In(1)
        First beat of a reduction: load ``w * d`` instead of adding it.
    w_out, x_out, valid_out, first_out : Out
        The inputs delayed by one register, to the lower (``w``) and right neighbours.
    acc : Out(signed(acc_width))
        The accumulator, ``MAC_CYCLES`` after the beat.
    """

    PIPELINE_CYCLES = MAC_CYCLES

    def __init__(self, bits: int = 4, *, max_depth: int = 4608, acc_width: int | None = None):
        self.acc_width = check_mac_params(bits, max_depth, acc_width)
        self.bits = bits
        self.max_depth = max_depth
        super().__init__({
            "w": In(signed(bits)),
            "x": In(unsigned(bits)),
            "x_signed": In(1),
            "x_zp": In(signed(bits + 1)),
            "valid": In(1),
            "first": In(1),
            "w_out": Out(signed(bits)),
            "x_out": Out(unsigned(bits)),
            "valid_out": Out(1),
            "first_out": Out(1),
            "acc": Out(signed(self.acc_width)),
        })

    def elaborate(self, platform) -> Module:
        m = Module()
        bits = self.bits
        # Cycle t, combinational: d = x - x_zp (bits + 1 signed), product w * d.
        # Operands are extended explicitly so that every operator has equal-width inputs.
        x_ext = Cat(self.x, self.x_signed & self.x[-1]).as_signed()
        d = (x_ext - self.x_zp)[:bits + 1].as_signed()
        product = sign_extend((self.w * d)[:2 * bits + 1].as_signed(), self.acc_width)
        # End of cycle t: accumulate (or load) and forward the operands.
        with m.If(self.valid):
            with m.If(self.first):
                m.d.sync += self.acc.eq(product)
            with m.Else():
                m.d.sync += self.acc.eq((self.acc + product)[:self.acc_width])
        m.d.sync += [
            self.w_out.eq(self.w),
            self.x_out.eq(self.x),
            self.valid_out.eq(self.valid),
            self.first_out.eq(self.first),
        ]
        return m
