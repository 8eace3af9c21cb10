"""The accelerator top's description (:class:`TopArch`), its instruction set and layer programs.

The instruction set is :mod:`rtl.top.isa` (re-exported here).

Layer programs
--------------
:func:`layer_program` turns the compiler's tiling of a layer (run length ``tm``, channel
block ``tn``, K chunk of ``tc`` input channels, loop order) into a program and the DRAM
layout it reads and writes. The input is im2col'd on the host: each run of ``tm`` output
pixels is stored per K chunk as whole row blocks of ``rows`` pixels x the chunk's
``taps * tc`` elements (padding to whole array tiles); weights per channel block and chunk.
K chunks are innermost; every chunk loads its input and weights, the one that requantizes
also the block's requantization parameters (the first when the sums stay in the PEs, else
the last); a COMPUTE's LOADs form one DRAM transfer (:func:`tile_loads`). Over a tile of one
array tile the sums stay in the PE accumulators (``acc_keep``) and only the last chunk drains; over a larger tile every chunk
but the last drains its int32 sums into the tile's output half (``psum_raw``) and every
chunk but the first adds them back at its drain (``psum_add``), the last one requantizing.
Grouped and depthwise convolutions run one such program per group
(:func:`rtl.top.grouped.grouped_program`).
Pure Python (no Amaranth import): the simulator side may import it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rtl.arch import PARAM_FIELD_BITS, PROGRAM_FRAME_INSTRUCTIONS, PROGRAM_WORDS, ArrayArch
from rtl.top.isa import (ADDR_BITS, FIELDS, HEADER_BITS, INSTR_BITS, OP_BITS, OPS, SEM, SEMAPHORES, Instr, decode,
                         encode, field_offset, make, program_from_json, program_json)

__all__ = ["TopArch", "Instr", "FIELDS", "OPS", "OP_BITS", "ADDR_BITS", "HEADER_BITS", "INSTR_BITS", "SEMAPHORES",
           "SEM", "GemmLayer", "Layout", "TopProgram", "layer_program", "tile_loads", "make", "encode", "decode",
           "field_offset", "program_json", "program_from_json", "PARAM_FIELD_BITS"]


@dataclass(frozen=True)
class TopArch:
    """The accelerator top: the PE array, its SRAM buffers and the DRAM bus.

    Attributes
    ----------
    array : ArrayArch
        The PE array with its requantization lanes.
    ifmap_sram_bytes, weight_sram_bytes, ofmap_sram_bytes : int
        Input, weight and output buffer capacities, bytes (both halves of the double buffer).
    bus_bytes : int
        DRAM bus width, bytes; one word per cycle, i.e. the DRAM bandwidth in bytes/cycle.
    param_entries : int
        Requantization-parameter entries (one per column block, ``cols`` x 72 bits), both halves.
    program_words : int
        Instruction memory depth, instructions.
    """

    array: ArrayArch
    ifmap_sram_bytes: int
    weight_sram_bytes: int
    ofmap_sram_bytes: int
    bus_bytes: int
    param_entries: int = 128
    program_words: int = PROGRAM_WORDS

    def __post_init__(self) -> None:
        b = self.bus_bytes
        if isinstance(b, bool) or not isinstance(b, int) or b < 1 or b & (b - 1):
            raise ValueError(f"memory.dram_bytes_per_cycle: the RTL top needs a power of two >= 1 bytes/cycle "
                             f"(its bus width), got {b!r}")
        for name, bits in (("input word (rows * pe_bits)", self.x_bits), ("weight word (cols * pe_bits)", self.w_bits),
                           ("output word (requant_lanes * code_bits)", self.o_bits),
                           ("parameter entry (cols * 72)", self.p_bits)):
            if bits % self.bus_bits:
                raise ValueError(f"memory.dram_bytes_per_cycle: the {self.bus_bits}-bit bus must divide the "
                                 f"{bits}-bit {name}")
        for name in ("ifmap_sram_bytes", "weight_sram_bytes", "ofmap_sram_bytes", "param_entries", "program_words"):
            if self.depth(name) < 2 or self.depth(name) >= 1 << ADDR_BITS:
                raise ValueError(f"{name}: {getattr(self, name)} gives {self.depth(name)} words; the RTL top needs "
                                 f"2 .. {(1 << ADDR_BITS) - 1} (the output SRAM: whole {self.q_bits}-bit "
                                 "partial-sum words per half)")

    @property
    def bus_bits(self) -> int:
        """DRAM bus width, bits."""
        return 8 * self.bus_bytes

    @property
    def x_bits(self) -> int:
        """Input SRAM word: one operand beat's ``rows`` digits, bits."""
        return self.array.rows * self.array.pe_bits

    @property
    def w_bits(self) -> int:
        """Weight SRAM word: one operand beat's ``cols`` digits, bits."""
        return self.array.cols * self.array.pe_bits

    @property
    def o_bits(self) -> int:
        """Output SRAM word: one drain beat, ``requant_lanes`` codes of ``code_bits``, bits."""
        return self.array.requant_lanes * self.array.code_bits

    @property
    def psum_ratio(self) -> int:
        """Output words per partial-sum word (``32 // code_bits``: 8 or 4, a power of two)."""
        return 32 // self.array.code_bits

    @property
    def q_bits(self) -> int:
        """Partial-sum word (the output SRAM's word; an output word is one of its ``psum_ratio`` slots): one
        drain beat of ``requant_lanes`` int32 sums, bits."""
        return self.array.requant_lanes * 32

    @property
    def p_bits(self) -> int:
        """Parameter entry: bias, multiplier and shift of ``cols`` columns, bits."""
        return self.array.cols * sum(PARAM_FIELD_BITS)

    def word_bits(self, buf: str) -> int:
        """SRAM word width of buffer ``x``, ``w``, ``p`` or ``o``, bits."""
        return {"x": self.x_bits, "w": self.w_bits, "p": self.p_bits, "o": self.o_bits}[buf]

    def ratio(self, buf: str) -> int:
        """Bus words per SRAM word of buffer ``buf``."""
        return self.word_bits(buf) // self.bus_bits

    def depth(self, name: str) -> int:
        """Words of a buffer given by its field name (even: two halves)."""
        bits = {"ifmap_sram_bytes": self.x_bits, "weight_sram_bytes": self.w_bits,
                "ofmap_sram_bytes": self.o_bits}.get(name)
        if bits is None:
            return getattr(self, name)
        unit = 2 * (self.psum_ratio if name == "ofmap_sram_bytes" else 1)  # two halves of whole psum words
        return (getattr(self, name) * 8 // bits) // unit * unit

    def half(self, buf: str) -> int:
        """Words of one half of buffer ``x``, ``w``, ``p`` or ``o``."""
        name = {"x": "ifmap_sram_bytes", "w": "weight_sram_bytes", "p": "param_entries", "o": "ofmap_sram_bytes"}
        return self.depth(name[buf]) // 2

    def memories(self) -> tuple[tuple[str, int, int], ...]:
        """The top's RAMs as ``(name, words, width in bits)``: the input, weight and parameter buffers, the output
        buffer (whole partial-sum words) and the program memory; the units' 4-entry queues are not listed."""
        return (("input", 2 * self.half("x"), self.x_bits), ("weight", 2 * self.half("w"), self.w_bits),
                ("param", 2 * self.half("p"), self.p_bits),
                ("output", 2 * self.half("o") // self.psum_ratio, self.q_bits),
                ("program", self.program_words, INSTR_BITS))

    def describe(self) -> dict:
        """JSON-ready parameters with the derived word widths and depths."""
        return {"array": self.array.describe(), "ifmap_sram_bytes": self.ifmap_sram_bytes,
                "weight_sram_bytes": self.weight_sram_bytes, "ofmap_sram_bytes": self.ofmap_sram_bytes,
                "bus_bytes": self.bus_bytes, "param_entries": self.param_entries,
                "program_words": self.program_words, "instr_bits": INSTR_BITS,
                "word_bits": {b: self.word_bits(b) for b in ("x", "w", "p", "o")},
                "half_words": {b: self.half(b) for b in ("x", "w", "p", "o")}}




# -- layer programs ------------------------------------------------------------------------


@dataclass(frozen=True)
class GemmLayer:
    """A layer as the top runs it: ``M x K`` im2col'd input codes times ``K x N`` weight codes.

    Attributes
    ----------
    name : str
        Layer name (error messages).
    m, n, k : int
        Output pixels, output channels, reduction elements.
    w_bits, a_bits : int
        Weight and activation code widths, bits (signed codes).
    x_zp, out_zp, act_min, act_max : int
        Input zero point, output zero point and clamps (codes).
    taps : int
        Kernel positions ``kh * kw``: K is ``taps`` x input channels, im2col order (tap, channel).
    """

    name: str
    m: int
    n: int
    k: int
    w_bits: int
    a_bits: int
    x_zp: int
    out_zp: int
    act_min: int
    act_max: int
    taps: int = 1

    def __post_init__(self) -> None:
        if self.taps < 1 or self.k % self.taps:
            raise ValueError(f"layer '{self.name}': K = {self.k} is not a multiple of the {self.taps} kernel taps")

    @property
    def channels(self) -> int:
        """Input channels (``k // taps``)."""
        return self.k // self.taps

    def chunk_k(self, c0: int, c1: int) -> list[int]:
        """The im2col K indices of input channels ``[c0, c1)``, tap by tap."""
        return [t * self.channels + c for t in range(self.taps) for c in range(c0, c1)]


@dataclass(frozen=True)
class Layout:
    """Where a layer's operands and results live in DRAM (bus-word addresses) and per tile.

    Attributes
    ----------
    runs, blocks, chunks : tuple[tuple[int, int], ...]
        Output-pixel runs ``[p0, p1)``, output-channel blocks ``[c0, c1)`` and input-channel
        K chunks ``[c0, c1)`` of the tiling.
    x_digits, w_digits : int
        Digit words per input / weight element (2 for int8 operands on int4 PEs, else 1).
    o_half : int
        1 when two drain beats of 4-bit codes share an output word (4-bit layers on 8-bit arrays).
    x_base, w_base, p_base, o_base : tuple[int, ...]
        DRAM word address of each run's input (index ``run * len(chunks) + chunk``), each block's
        weights (``block * len(chunks) + chunk``) and parameters, and each tile's output (index
        ``run * len(blocks) + block``).
    words : int
        DRAM words of the whole image.
    groups : int
        Channel groups (:func:`rtl.top.grouped.grouped_program`): the addresses above are group 0's;
        group ``g``'s regions are the same shifted by ``g * group_words``.
    """

    runs: tuple[tuple[int, int], ...]
    blocks: tuple[tuple[int, int], ...]
    chunks: tuple[tuple[int, int], ...]
    x_digits: int
    w_digits: int
    o_half: int
    x_base: tuple[int, ...]
    w_base: tuple[int, ...]
    p_base: tuple[int, ...]
    o_base: tuple[int, ...]
    words: int
    groups: int = 1

    @property
    def group_words(self) -> int:
        """DRAM words of one group's input, weight, parameter and output regions."""
        return self.words // self.groups


@dataclass(frozen=True)
class TopProgram:
    """A layer's program, its DRAM layout and the tile order it executes.

    ``half_switches``: how often the program switches each double buffer's half, ``(buffer, count)``
    for the input (``x``), weight (``w``) and parameter (``p``) loads and the output tiles (``o``);
    a program that follows this one starts in the other half of every buffer switched an odd number
    of times (:func:`rtl.top.grouped.grouped_program`).
    """

    layer: GemmLayer
    layout: Layout
    instructions: tuple[Instr, ...]
    tiles: tuple[tuple[int, int], ...] = field(default=())
    half_switches: tuple[tuple[str, int], ...] = field(default=())


def _cdiv(a: int, b: int) -> int:
    return -(-a // b)


def _blocks(total: int, size: int) -> tuple[tuple[int, int], ...]:
    return tuple((lo, min(lo + size, total)) for lo in range(0, total, size))


def tile_loads(loads: list[Instr]) -> list[Instr]:
    """One COMPUTE's LOADs (a tile's, or a K chunk's: input, weights, parameters) as one DRAM transfer,
    as the simulator moves a tile's load (``hwsim.engine``; a K chunk is one tile there).

    Every LOAD but the last gets ``chain`` (the DMA keeps the port for the next LOAD: no waiting
    STORE goes between them); the first acquires the semaphores of all of them (the tile waits for
    its input and weight halves before it takes the port, the simulator's one input slot), so a
    chained LOAD never waits for a semaphore while the port is held.
    """
    if len(loads) < 2:
        return loads
    acquire = 0
    for instr in loads:
        acquire |= instr.acquire
    out = []
    for n, instr in enumerate(loads):
        args = dict(instr.args)
        if n < len(loads) - 1:
            args["chain"] = 1
        out.append(make("LOAD", acquire if n == 0 else 0, instr.release, **args))
    return out


def layer_program(arch: TopArch, layer: GemmLayer, tm: int, tn: int, order: str, tc: int | None = None
                  ) -> TopProgram:
    """The program of ``layer`` tiled in runs of ``tm`` pixels by blocks of ``tn`` channels by K chunks
    of ``tc`` input channels (default: all of them).

    ``order`` is the compiler's loop order: ``wo`` (channel blocks outer) or ``io`` (runs
    outer), K chunks innermost; an operand is loaded again only when the previous COMPUTE used
    another one. ValueError (one line, naming the layer) when a tile does not fit its SRAM half
    or the split needs partial sums the top cannot spill.
    """
    a = arch.array
    where = f"layer '{layer.name}'"
    if order not in ("wo", "io"):
        raise ValueError(f"{where}: loop order: expected 'wo' or 'io', got {order!r}")
    tc = layer.channels if tc is None else tc
    if tm < 1 or tn < 1 or tc < 1:
        raise ValueError(f"{where}: tile sizes must be >= 1, got tm={tm}, tn={tn}, tc={tc}")
    a.beat_parts(layer.w_bits, layer.a_bits)  # ValueError if the mode is unsupported
    runs, blocks, chunks = _blocks(layer.m, tm), _blocks(layer.n, tn), _blocks(layer.channels, tc)
    xd = 2 if layer.a_bits > a.pe_bits else 1
    wd = 2 if layer.w_bits > a.pe_bits else 1
    groups = a.cols // a.requant_lanes
    mbs = [_cdiv(p1 - p0, a.rows) for p0, p1 in runs]
    nbs = [_cdiv(c1 - c0, a.cols) for c0, c1 in blocks]
    tks = [layer.taps * (c1 - c0) for c0, c1 in chunks]
    spill = len(chunks) > 1 and max(mbs) * max(nbs) > 1  # some tile spills partial sums
    depth = max(tks) if spill else layer.k  # the longest reduction an accumulator holds
    if depth > a.max_depth:
        raise ValueError(f"{where}: {f'a K chunk of {depth} (K = {layer.k})' if spill else f'K = {layer.k}'} "
                         f"exceeds the accumulator depth {a.max_depth}; the RTL top has no split at that depth")
    # SRAM words per run / block (and chunk) / tile, and the fit checks.
    x_words = [mb * tk * xd for mb in mbs for tk in tks]
    w_words = [nb * tk * wd for nb in nbs for tk in tks]
    o_half = int(a.code_bits == 8 and layer.a_bits == 4 and -8 <= layer.act_min and layer.act_max <= 7)
    o_words = {(i, j): _cdiv(mbs[i] * nbs[j] * a.rows * groups, 1 + o_half)
               for i in range(len(runs)) for j in range(len(blocks))}
    q_words = max(mbs) * max(nbs) * a.rows * groups * arch.psum_ratio if spill else 0  # int32 partial sums
    for buf, need in (("x", max(x_words)), ("w", max(w_words)), ("p", max(nbs)),
                      ("o", max(max(o_words.values()), q_words))):
        if need > arch.half(buf):
            label = {"x": "input", "w": "weight", "p": "parameter", "o": "output"}[buf]
            raise ValueError(f"{where}: a tile needs {need} {label} SRAM words (whole array tiles, host im2col"
                             f"{', int32 partial sums' if buf == 'o' and spill else ''}); "
                             f"half the {label} buffer holds {arch.half(buf)}")
    # DRAM layout (bus words).
    address = 0

    def region(sizes: list[int], buf: str) -> tuple[int, ...]:
        nonlocal address
        bases = []
        for size in sizes:
            bases.append(address)
            address += size * arch.ratio(buf)
        return tuple(bases)

    x_base = region(x_words, "x")
    w_base = region(w_words, "w")
    p_base = region(nbs, "p")
    tiles = [(i, j) for j in range(len(blocks)) for i in range(len(runs))] if order == "wo" else \
        [(i, j) for i in range(len(runs)) for j in range(len(blocks))]
    o_base = region([o_words[(i, j)] for i in range(len(runs)) for j in range(len(blocks))], "o")
    layout = Layout(runs, blocks, chunks, xd, wd, o_half, x_base, w_base, p_base, o_base, address)

    s = {name: 1 << bit for name, bit in SEM.items()}
    free = s["x_free"] | s["w_free"] | s["o_free"]
    prog = [make("SYNC", release=free), make("SYNC", release=free)]
    nch = len(chunks)
    steps = [(i, j, c) for i, j in tiles for c in range(nch)]  # COMPUTEs in order: K chunks innermost
    x_keys = [(i, c) for i, _, c in steps]
    w_keys = [(j, c) for _, j, c in steps]
    releases_x, releases_w = _last_uses(x_keys), _last_uses(w_keys)
    hx = hw = ho = 1
    switches = dict.fromkeys("xwo", 0)
    for n, (i, j, c) in enumerate(steps):
        acquire = s["o_free"] if c == 0 else 0
        loads = []  # one chain: the DRAM transfer of this COMPUTE's operands (tile_loads)
        if n == 0 or x_keys[n] != x_keys[n - 1]:
            hx ^= 1
            switches["x"] += 1
            loads.append(make("LOAD", acquire=s["x_free"], release=s["x_full"], buf=0, sram=hx * arch.half("x"),
                              dram=x_base[i * nch + c], words=x_words[i * nch + c] * arch.ratio("x")))
            acquire |= s["x_full"]
        sums = mbs[i] * nbs[j] > 1  # several array tiles: partial sums spill to the output half
        if n == 0 or w_keys[n] != w_keys[n - 1]:
            hw ^= 1
            switches["w"] += 1
            # the block's requantization parameters come with the chunk whose array tiles sample them on their
            # first beats: the first (the only one, or the PE accumulators carry the sums) or the last (spill)
            params = c == (nch - 1 if sums else 0)
            loads.append(make("LOAD", acquire=s["w_free"], release=0 if params else s["w_full"], buf=1,
                              sram=hw * arch.half("w"), dram=w_base[j * nch + c],
                              words=w_words[j * nch + c] * arch.ratio("w")))
            if params:
                loads.append(make("LOAD", release=s["w_full"], buf=2, sram=hw * arch.half("p"), dram=p_base[j],
                                  words=nbs[j] * arch.ratio("p")))
            acquire |= s["w_full"]
        prog.extend(tile_loads(loads))
        last = c == nch - 1
        if c == 0:
            ho ^= 1
            switches["o"] += 1
        release = (s["x_free"] if n in releases_x else 0) | (s["w_free"] if n in releases_w else 0)
        prog.append(make("COMPUTE", acquire=acquire, release=release, x_base=hx * arch.half("x"),
                         w_base=hw * arch.half("w"), p_base=hw * arch.half("p"), o_base=ho * arch.half("o"),
                         mb=mbs[i], nb=nbs[j], k=tks[c], x_digits=xd - 1, w_digits=wd - 1, x_signed=1,
                         x_zp=layer.x_zp, out_zp=layer.out_zp, act_min=layer.act_min, act_max=layer.act_max,
                         o_half=o_half, drain_release=s["o_full"] if last else 0,
                         acc_keep=int(not last and not sums), psum_raw=int(not last and sums),
                         psum_add=int(c > 0 and sums)))
        if last:
            prog.append(make("STORE", acquire=s["o_full"], release=s["o_free"], sram=ho * arch.half("o"),
                             dram=o_base[i * len(blocks) + j], words=o_words[(i, j)] * arch.ratio("o")))
    prog.append(make("END"))
    if len(prog) > arch.program_words:
        raise ValueError(f"{where}: the program has {len(prog)} instructions; the instruction memory holds "
                         f"{arch.program_words}")
    half_switches = (("x", switches["x"]), ("w", switches["w"]), ("p", switches["w"]), ("o", switches["o"]))
    return TopProgram(layer, layout, tuple(prog), tuple(tiles), half_switches)


def _last_uses(keys: list) -> set[int]:
    """Indices of the last COMPUTE of each run of equal consecutive operand ``keys`` (it frees the half)."""
    return {n for n in range(len(keys)) if n == len(keys) - 1 or keys[n + 1] != keys[n]}
