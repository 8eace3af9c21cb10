"""Stall-able register stages shared by the pipelined units.

A pipeline advances as a whole when its ``enable`` is high (the usual
``enable = ~out_valid | out_ready`` of a valid/ready stream); each stage is
combinational logic followed by as many registers as its cycle constant in
:mod:`rtl.timing` says, so the latency is exactly the sum of those constants.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Module, Signal, Value, ValueLike

__all__ = ["delay", "sign_extend", "fit_signed"]


def delay(
    m: Module, enable: ValueLike, value: ValueLike, cycles: int, name: str, *, reset_less: bool = True
) -> Value:
    """``value`` delayed by ``cycles`` registers of the ``sync`` domain that load when ``enable``.

    Parameters
    ----------
    m
        Module the registers are added to.
    enable
        Load enable of every register (1 bit).
    value
        Value to delay; its shape is kept.
    cycles
        Number of registers, ``>= 0`` (0 returns ``value`` itself).
    name
        Base name of the registers (``{name}_d{n}``), visible in waveforms and Verilog.
    reset_less
        Data registers need no reset; pass ``False`` for ``valid`` flags.
    """
    if cycles < 0:
        raise ValueError(f"cycles: expected an integer >= 0, got {cycles}")
    value = Value.cast(value)
    for n in range(cycles):
        reg = Signal(value.shape(), name=f"{name}_d{n}", reset_less=reset_less)
        with m.If(enable):
            m.d.sync += reg.eq(value)
        value = reg
    return value


def sign_extend(value: Value, width: int) -> Value:
    """Signed ``value`` sign-extended to ``width`` bits by an explicit concatenation.

    Operators on equal-width operands keep the generated Verilog free of
    Verilator width warnings (Verilog would otherwise extend by context).
    """
    return Cat(value, value[-1].replicate(width - len(value))).as_signed()


def fit_signed(value: Value, width: int) -> Value:
    """Signed ``value`` as exactly ``width`` bits: sign-extended, or its low bits when wider.

    Truncation is for values whose range is known to fit ``width`` bits (the caller's proof).
    """
    value = Value.cast(value)
    if len(value) >= width:
        return value[:width].as_signed()
    return sign_extend(value, width)
