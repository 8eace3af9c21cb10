"""Stall-able register stages shared by the pipelined units.

A pipeline advances as a whole when its ``enable`` is high (the usual
``enable = ~out_valid | out_ready`` of a valid/ready stream); each stage is
combinational logic followed by as many registers as its cycle constant in
:mod:`rtl.timing` says, so the latency is exactly the sum of those constants.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Module, Mux, Signal, Value, ValueLike

__all__ = ["delay", "delay_line", "select", "sign_extend", "fit_signed"]


def delay_line(
    m: Module, enable: ValueLike, value: ValueLike, stages: int, name: str, *, reset_less: bool = True
) -> list[Value]:
    """Taps ``0..stages`` of ``value`` delayed by ``stages`` registers that load when ``enable``.

    Tap ``n`` is ``value`` ``n`` cycles (enabled loads) ago; tap 0 is ``value`` itself. One register
    per stage (``{name}_d{n}``): as separate words, simulators copy them cheaply, where one wide
    shifted register costs Verilator a multi-word shift and a masked slice per tap.

    Parameters
    ----------
    m
        Module the registers are added to.
    enable
        Load enable of every register (1 bit).
    value
        Value to delay; every tap keeps its shape.
    stages
        Number of registers, ``>= 0``.
    name
        Base name of the registers, visible in waveforms and Verilog.
    reset_less
        Data registers need no reset; pass ``False`` for ``valid`` flags.
    """
    if stages < 0:
        raise ValueError(f"stages: expected an integer >= 0, got {stages}")
    taps = [Value.cast(value)]
    for n in range(stages):
        reg = Signal(taps[0].shape(), name=f"{name}_d{n}", reset_less=reset_less)
        with m.If(enable):
            m.d.sync += reg.eq(taps[-1])
        taps.append(reg)
    return taps


def delay(
    m: Module, enable: ValueLike, value: ValueLike, cycles: int, name: str, *, reset_less: bool = True
) -> Value:
    """``value`` delayed by ``cycles`` registers of the ``sync`` domain that load when ``enable``.

    The last tap of :func:`delay_line` (its parameters); ``cycles = 0`` returns ``value`` itself.
    """
    return delay_line(m, enable, value, cycles, name, reset_less=reset_less)[-1]


def select(index: Value, values: list[ValueLike]) -> Value:
    """``values[index]`` as a tree of 2:1 multiplexers on ``index``'s bits (an index past the end: the last).

    The same hardware as a case statement, but simulators evaluate it as a few conditional moves:
    Yosys writes a case over many values as a function of all of them concatenated, which Verilator
    packs into one wide word every cycle.
    """
    values = [Value.cast(v) for v in values]
    if not values:
        raise ValueError("select: expected at least one value")
    bit = 0
    while len(values) > 1:
        values = [Mux(index[bit], values[i + 1], values[i]) if i + 1 < len(values) else values[i]
                  for i in range(0, len(values), 2)]
        bit += 1
    return values[0]


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
