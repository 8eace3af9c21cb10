"""Run a layer program on the accelerator top (Amaranth simulator or Verilator) and check it.

The stimulus (:mod:`rtl.backends`, open loop, one record per cycle) first writes the
program into the instruction memory and the DRAM image into the testbench DRAM (in
parallel, one word per cycle), then pulses ``start`` and idles for a cycle budget. The
write monitor gives the stored words; the first cycle with ``done`` high gives the
layer's cycles (``start`` to ``done``: the last store accepted and every unit idle).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from rtl.ports import unpack_field
from rtl.top.layer import LayerOperands, dram_image, read_outputs
from rtl.top.program import INSTR_BITS, TopArch, TopProgram, encode

__all__ = ["LayerRun", "cycle_budget", "bench_words", "stimulus", "run_layer"]


@dataclass(frozen=True)
class LayerRun:
    """A layer run on the top.

    Attributes
    ----------
    outputs, golden : np.ndarray
        ``(M, N)`` output codes read back from DRAM and the golden model's.
    cycles : int
        Cycles from ``start`` to ``done``.
    run_seconds : float
        Wall time of the backend run, seconds.
    beats, reads, writes : int
        Cycles in which the PE array accepted an operand beat / the DRAM a read / a write request.
    first_beat, last_beat : int
        Cycles (after ``start``) of the first and last operand beat.
    stimulus_cycles : int
        Cycles the backend simulated: preload, ``start`` and the whole cycle budget.
    read_runs : tuple[int, ...]
        Read requests between two write requests on the DRAM port, in order (a tile's loads are one
        transfer: no write comes between them).
    """

    outputs: np.ndarray
    golden: np.ndarray
    cycles: int
    run_seconds: float
    beats: int = 0
    reads: int = 0
    writes: int = 0
    first_beat: int = 0
    last_beat: int = 0
    stimulus_cycles: int = 0
    read_runs: tuple[int, ...] = ()

    def split(self) -> dict[str, int]:
        """Where the cycles went: ``total``, ``array_beats``, ``dram_reads``, ``dram_writes``,
        ``before_first_beat`` (first loads + latency) and ``after_last_beat`` (drain + last store)."""
        return {"total": self.cycles, "array_beats": self.beats, "dram_reads": self.reads,
                "dram_writes": self.writes, "before_first_beat": self.first_beat,
                "after_last_beat": self.cycles - self.last_beat}

    @property
    def mismatches(self) -> int:
        """Output codes that differ from the golden model's."""
        return int(np.count_nonzero(self.outputs != self.golden))

    def first_mismatch(self) -> tuple[int, int, int, int] | None:
        """``(pixel, channel, rtl, golden)`` of the first differing code, or None when bit-exact."""
        bad = np.argwhere(self.outputs != self.golden)
        if not len(bad):
            return None
        p, c = (int(v) for v in bad[0])
        return p, c, int(self.outputs[p, c]), int(self.golden[p, c])


def bench_words(arch: TopArch, program: TopProgram, minimum: int = 1) -> int:
    """DRAM depth for the bench: the next power of two holding the layout (at least ``minimum``)."""
    need = max(program.layout.words, minimum, 2)
    return 1 << (need - 1).bit_length()


def cycle_budget(arch: TopArch, program: TopProgram, latency: int) -> int:
    """An upper bound of the run's cycles: every transfer and beat in sequence plus per-instruction slack."""
    a = arch.array
    total = 0
    for instr in program.instructions:
        if instr.op in ("LOAD", "STORE"):
            total += instr.get("words") + latency + 8
        elif instr.op == "COMPUTE":
            passes = (1 + instr.get("x_digits")) * (1 + instr.get("w_digits"))
            tiles = instr.get("mb") * instr.get("nb")
            total += tiles * a.tile_interval(instr.get("k") * passes) + a.tile_cycles(instr.get("k") * passes) + 8
        else:
            total += 4
    return total + 100


def _words32(values: list[int] | np.ndarray, width: int) -> np.ndarray:
    """Integers (or ``(n, bytes)`` uint8 rows) as ``(n, ceil(width/32))`` uint32 rows."""
    nwords = max(1, (width + 31) // 32)
    if isinstance(values, np.ndarray) and values.dtype == np.uint8:
        rows = np.zeros((len(values), 4 * nwords), dtype=np.uint8)
        rows[:, :values.shape[1]] = values
        return rows.view(np.uint32).reshape(len(values), nwords)
    raw = b"".join(int(v).to_bytes(4 * nwords, "little") for v in values)
    return np.frombuffer(raw, dtype=np.uint32).reshape(len(values), nwords)


def stimulus(arch: TopArch, program: TopProgram, image: np.ndarray, budget: int) -> tuple[dict, int]:
    """``(stimulus, start cycle)``: preload the program and DRAM, pulse ``start``, idle ``budget`` cycles."""
    words = [encode(i) for i in program.instructions]
    preload = max(len(words), len(image))
    start = preload
    n = preload + 1 + budget
    def column(values: np.ndarray, width: int, count: int) -> np.ndarray:
        out = np.zeros((n, max(1, (width + 31) // 32)), dtype=np.uint32)
        out[:count] = values
        return out

    idx = np.arange(n)
    stim = {
        "prog_we": column(np.ones((len(words), 1), np.uint32), 1, len(words)),
        "prog_addr": column(np.arange(len(words), dtype=np.uint32)[:, None], 32, len(words)),
        "prog_data": column(_words32(words, INSTR_BITS), INSTR_BITS, len(words)),
        "host_we": column(np.ones((len(image), 1), np.uint32), 1, len(image)),
        "host_addr": column(np.arange(len(image), dtype=np.uint32)[:, None], 32, len(image)),
        "host_data": column(_words32(image, arch.bus_bits), arch.bus_bits, len(image)),
        "start": (idx == start).astype(np.uint32)[:, None],
    }
    return stim, start


def run_layer(model, arch: TopArch, program: TopProgram, ops: LayerOperands, latency: int) -> LayerRun:
    """Run ``program`` on ``model`` (a :class:`rtl.backends.AmaranthModel` / ``VerilatorModel`` of a
    :class:`rtl.top.dram.TopBench` with this ``latency``) and read the outputs back.

    Raises
    ------
    RuntimeError
        When the top does not reach ``done`` within :func:`cycle_budget`.
    """
    image = dram_image(arch, program, ops)
    budget = cycle_budget(arch, program, latency)
    stim, start = stimulus(arch, program, image, budget)
    t0 = time.perf_counter()
    out = model.run(stim)
    seconds = time.perf_counter() - t0
    done = np.flatnonzero(unpack_field(out["done"], 0, 1, False)[start + 1:])
    if not len(done):
        raise RuntimeError(f"layer '{program.layer.name}': the top did not finish within {budget} cycles")
    cycles = int(done[0]) + 1  # start pulse in cycle `start`; done seen in cycle start + cycles
    valid = np.flatnonzero(unpack_field(out["wr_valid"], 0, 1, False))
    final = image.copy()
    addrs = unpack_field(out["wr_addr"], 0, 32, False)[valid]
    data = out["wr_data"][valid].view(np.uint8).reshape(len(valid), -1)[:, :arch.bus_bytes]
    final[addrs] = data
    window = slice(start, start + cycles + 1)
    beats = np.flatnonzero(unpack_field(out["beat"], 0, 1, False)[window])
    read = unpack_field(out["rd_valid"], 0, 1, False)[window]
    written = unpack_field(out["wr_valid"], 0, 1, False)[window]
    return LayerRun(read_outputs(arch, program, final), ops.golden, cycles, seconds, beats=len(beats),
                    reads=int(read.sum()), writes=len(valid), first_beat=int(beats[0]) if len(beats) else 0,
                    last_beat=int(beats[-1]) if len(beats) else 0, stimulus_cycles=len(stim["start"]),
                    read_runs=_read_runs(read, written))


def _read_runs(read: np.ndarray, written: np.ndarray) -> tuple[int, ...]:
    """Lengths of the runs of read requests not separated by a write request (per-cycle 0/1 flags)."""
    cuts = np.cumsum(read)[np.flatnonzero(written)]
    bounds = np.concatenate(([0], cuts, [read.sum()]))
    return tuple(int(n) for n in np.diff(bounds) if n)
