"""Programs of grouped and depthwise convolutions on the accelerator top: one GEMM per group.

A convolution of ``groups`` channel groups is ``groups`` independent GEMMs (per group
``M = Ho*Wo`` pixels, ``N = Cout/groups`` channels, ``K = kh*kw*Cin/groups``). Every column
of the output-stationary array sees the same input stream, so two groups cannot share a
COMPUTE: the top runs the groups one after the other, each as the program
:func:`rtl.top.program.layer_program` gives for that GEMM (host im2col of the group's input
channels, its weights padded to whole column blocks, requantization parameters per padded
column). A depthwise layer (``N = 1``) thus uses one column of the array, as the simulator's
conv tiler charges it (:mod:`hwsim.compiler.conv`: group outermost, then the ``wo`` / ``io``
order within the group).

DRAM: group ``g``'s input, weight, parameter and output regions are group 0's layout shifted
by ``g * group_words`` (:attr:`rtl.top.program.Layout.group_words`). SRAM: the double-buffer
halves keep alternating across groups (a group's first load goes into the half the previous
group's last load did not use), so the semaphores of :func:`layer_program` stay valid when the
groups' instruction streams are concatenated; a new group always reloads input and weights.
Pure Python (no Amaranth import).
"""

from __future__ import annotations

from dataclasses import replace

from rtl.top.program import GemmLayer, Instr, TopArch, TopProgram, layer_program, make

__all__ = ["grouped_program"]

#: SRAM-address fields of each op and the buffer whose halves they select (LOAD: by its ``buf``).
_HALF_FIELDS = {"COMPUTE": (("x_base", "x"), ("w_base", "w"), ("p_base", "p"), ("o_base", "o")),
                "STORE": (("sram", "o"),)}
_LOAD_BUFFERS = ("x", "w", "p")


def _shifted(instr: Instr, arch: TopArch, dram: int, flip: dict[str, bool]) -> Instr:
    """``instr`` with its DRAM address moved by ``dram`` words and the SRAM halves of ``flip`` swapped."""
    args = dict(instr.args)
    fields = _HALF_FIELDS.get(instr.op, ())
    if instr.op == "LOAD":
        fields = (("sram", _LOAD_BUFFERS[instr.get("buf")]),)
    for name, buf in fields:
        if flip[buf]:
            args[name] = (instr.get(name) + arch.half(buf)) % (2 * arch.half(buf))
    if instr.op in ("LOAD", "STORE"):
        args["dram"] = instr.get("dram") + dram
    return make(instr.op, instr.acquire, instr.release, **args)


def grouped_program(arch: TopArch, layer: GemmLayer, groups: int, tm: int, tn: int, order: str,
                    tc: int | None = None) -> TopProgram:
    """The program of ``groups`` GEMMs ``layer`` (one group's shape) tiled as :func:`layer_program`.

    Tiles in the compiler's order: group outermost, then runs of ``tm`` pixels and blocks of
    ``tn`` of the group's channels in loop order ``order``, K chunks of ``tc`` of the group's
    input channels innermost (default: one chunk). ``groups == 1`` is
    :func:`layer_program` itself. ValueError (one line, naming the layer) as
    :func:`layer_program`, or when the program exceeds the instruction memory.
    """
    if isinstance(groups, bool) or not isinstance(groups, int) or groups < 1:
        raise ValueError(f"layer '{layer.name}': groups: expected a positive int, got {groups!r}")
    one = layer_program(arch, layer, tm, tn, order, tc)
    if groups == 1:
        return one
    head, body, end = one.instructions[:2], one.instructions[2:-1], one.instructions[-1]
    switches = dict(one.half_switches)
    prog = list(head)
    for g in range(groups):
        flip = {buf: bool(g * n % 2) for buf, n in switches.items()}
        prog.extend(_shifted(i, arch, g * one.layout.words, flip) for i in body)
    prog.append(end)
    if len(prog) > arch.program_words:
        raise ValueError(f"layer '{layer.name}': the program of {groups} groups has {len(prog)} instructions; "
                         f"the instruction memory holds {arch.program_words}")
    layout = replace(one.layout, words=groups * one.layout.words, groups=groups)
    return TopProgram(layer, layout, tuple(prog), one.tiles * groups,
                      tuple((buf, groups * n) for buf, n in one.half_switches))
