"""The accelerator top's instruction set: fields, encoding, JSON form.

Instruction set
---------------
Every instruction is ``INSTR_BITS`` bits: ``op`` (3 bits), ``acquire`` and ``release``
(one bit per semaphore, ``SEMAPHORES`` of them), then the op's fields (:data:`FIELDS`,
LSB first). A unit executing an instruction first waits until every semaphore in
``acquire`` is non-zero and decrements them (atomically), executes, then increments
the semaphores in ``release``:

* ``LOAD buf sram dram words chain``: DMA-in of ``words`` bus words from DRAM word ``dram``
  into buffer ``buf`` (0 input, 1 weight, 2 requantization parameters) from SRAM word
  ``sram``; ``release`` when the last word has landed. ``chain``: the next LOAD continues
  this transfer on the DRAM port (no waiting STORE goes between them); a COMPUTE's loads are
  one chain, the first acquiring every semaphore of the chain
  (:func:`rtl.top.program.tile_loads`).
* ``COMPUTE``: ``mb`` x ``nb`` array tiles (row blocks inner) of ``k`` reduction elements
  (``x_digits`` / ``w_digits``: int8 operands as two digit words per element); operands
  from SRAM words ``x_base`` / ``w_base`` / parameter entry ``p_base``; drained outputs to
  output SRAM word ``o_base`` on (``o_half``: 4-bit output codes of an 8-bit array, two
  drain beats per output word, low half first). ``release`` when the last operand beat has entered the
  array, ``drain_release`` when the last result is in the output SRAM. ``acc_keep``: the
  reduction goes on in the next COMPUTE (a K chunk of one array tile): no beat ends it, the
  PE accumulators keep their sums and nothing drains (no ``drain_release``). ``psum_raw``:
  the drain writes the int32 sums to partial-sum word ``o_base / (32 // code_bits) + n``
  instead of requantizing; ``psum_add``: the drain adds the partial sums stored there first.
* ``STORE sram dram words``: DMA-out; ``release`` once the last word was accepted.
* ``SYNC``: acquire, then release (in the dispatcher; a program starts with SYNCs that
  put the free double-buffer halves into the semaphores).
* ``END``: done once every unit is idle and every result is written.

The JSON form of a program is a list of ``{"op": ..., field: value}`` objects.
Pure Python (no Amaranth import).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

__all__ = ["SEMAPHORES", "SEM", "OPS", "OP_BITS", "ADDR_BITS", "FIELDS", "HEADER_BITS", "INSTR_BITS", "Instr",
           "make", "encode", "decode", "field_offset", "program_json", "program_from_json"]

#: Counting semaphores of the controller.
SEMAPHORES = 8
#: Semaphore ids used by layer programs: input / weight / output halves free and full.
SEM = {"x_free": 0, "x_full": 1, "w_free": 2, "w_full": 3, "o_free": 4, "o_full": 5}
#: Opcodes.
OPS = {"LOAD": 1, "COMPUTE": 2, "STORE": 3, "SYNC": 4, "END": 5}
OP_BITS = 3
ADDR_BITS = 20
#: Per-op fields after the header: (name, bits, signed).
FIELDS = {
    "LOAD": (("buf", 2, False), ("sram", ADDR_BITS, False), ("dram", 32, False), ("words", ADDR_BITS, False),
             ("chain", 1, False)),
    "STORE": (("sram", ADDR_BITS, False), ("dram", 32, False), ("words", ADDR_BITS, False)),
    "COMPUTE": (("x_base", ADDR_BITS, False), ("w_base", ADDR_BITS, False), ("p_base", 16, False),
                ("o_base", ADDR_BITS, False), ("mb", 12, False), ("nb", 12, False), ("k", 16, False),
                ("x_digits", 1, False), ("w_digits", 1, False), ("x_signed", 1, False), ("x_zp", 9, True),
                ("out_zp", 9, True), ("act_min", 9, True), ("act_max", 9, True),
                ("o_half", 1, False), ("drain_release", SEMAPHORES, False), ("acc_keep", 1, False),
                ("psum_add", 1, False), ("psum_raw", 1, False)),
    "SYNC": (),
    "END": (),
}
HEADER_BITS = OP_BITS + 2 * SEMAPHORES
INSTR_BITS = HEADER_BITS + max(sum(w for _, w, _ in f) for f in FIELDS.values())


@dataclass(frozen=True)
class Instr:
    """One instruction; only the fields of its ``op`` (:data:`FIELDS`) are encoded."""

    op: str
    acquire: int = 0
    release: int = 0
    args: tuple[tuple[str, int], ...] = ()

    def __post_init__(self) -> None:
        if self.op not in OPS:
            raise ValueError(f"instruction op: expected one of {', '.join(OPS)}, got {self.op!r}")
        known = {name: (bits, signed) for name, bits, signed in FIELDS[self.op]}
        for name, value in self.args:
            if name not in known:
                raise ValueError(f"{self.op}: unknown field {name!r} (fields: {', '.join(known) or 'none'})")
            bits, signed = known[name]
            lo, hi = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
            if not lo <= value <= hi:
                raise ValueError(f"{self.op}.{name}: {value} does not fit {bits} {'signed ' if signed else ''}bits")
        for name in ("acquire", "release"):
            if not 0 <= getattr(self, name) < 1 << SEMAPHORES:
                raise ValueError(f"{self.op}.{name}: expected a {SEMAPHORES}-bit semaphore mask")

    def get(self, name: str) -> int:
        """Value of field ``name`` (0 when not given)."""
        return dict(self.args).get(name, 0)


def make(op: str, acquire: int = 0, release: int = 0, **args: int) -> Instr:
    """An :class:`Instr` from keyword fields."""
    return Instr(op, acquire, release, tuple(sorted(args.items())))


def encode(instr: Instr) -> int:
    """The instruction's ``INSTR_BITS``-bit encoding as an integer."""
    word = OPS[instr.op] | instr.acquire << OP_BITS | instr.release << (OP_BITS + SEMAPHORES)
    offset = HEADER_BITS
    for name, bits, _ in FIELDS[instr.op]:
        word |= (instr.get(name) & ((1 << bits) - 1)) << offset
        offset += bits
    return word


def decode(word: int) -> Instr:
    """Inverse of :func:`encode` (ValueError on an unknown opcode)."""
    code = word & ((1 << OP_BITS) - 1)
    ops = {v: k for k, v in OPS.items()}
    if code not in ops:
        raise ValueError(f"instruction word: unknown opcode {code}")
    op = ops[code]
    acquire = (word >> OP_BITS) & ((1 << SEMAPHORES) - 1)
    release = (word >> (OP_BITS + SEMAPHORES)) & ((1 << SEMAPHORES) - 1)
    offset, args = HEADER_BITS, []
    for name, bits, signed in FIELDS[op]:
        value = (word >> offset) & ((1 << bits) - 1)
        if signed and value >> (bits - 1):
            value -= 1 << bits
        args.append((name, value))
        offset += bits
    return Instr(op, acquire, release, tuple(sorted((n, v) for n, v in args if v)))


def field_offset(op: str, name: str) -> tuple[int, int, bool]:
    """``(bit offset, bits, signed)`` of field ``name`` of ``op`` in the encoding."""
    offset = HEADER_BITS
    for fname, bits, signed in FIELDS[op]:
        if fname == name:
            return offset, bits, signed
        offset += bits
    raise KeyError(f"{op} has no field {name!r}")


def program_json(program: list[Instr]) -> str:
    """The JSON form: a list of ``{"op": ..., "acquire": ..., "release": ..., field: value}``."""
    return json.dumps([{"op": i.op, "acquire": i.acquire, "release": i.release, **dict(i.args)} for i in program])


def program_from_json(text: str) -> list[Instr]:
    """Inverse of :func:`program_json` (ValueError on a bad instruction)."""
    out = []
    for n, item in enumerate(json.loads(text)):
        if not isinstance(item, dict) or "op" not in item:
            raise ValueError(f"program instruction {n}: expected an object with an 'op'")
        rest = {k: int(v) for k, v in item.items() if k not in ("op", "acquire", "release")}
        out.append(make(item["op"], int(item.get("acquire", 0)), int(item.get("release", 0)), **rest))
    return out
