"""Run a layer program on the accelerator top (Amaranth simulator or Verilator) and check it.

A run first writes the program into the instruction memory and the DRAM image into the
testbench DRAM (in parallel, one word per cycle), then pulses ``start``. The write monitor
gives the stored words; the first cycle with ``done`` high gives the layer's cycles (``start``
to ``done``: the last store accepted and every unit idle). Two kinds of model:

* a per-cycle backend (:mod:`rtl.backends`: the Amaranth simulator, the generic Verilator
  harness) runs an open-loop stimulus (preload, ``start``, a cycle budget) and returns every
  output port in every cycle, scanned here;
* a closed-loop model (:class:`rtl.top.verilator.TopVerilatorModel`, a ``run_program`` method)
  does the same in C++, stops at ``done`` and returns only the :class:`BenchTrace`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from rtl.ports import unpack_field
from rtl.top.layer import LayerOperands, dram_image, read_outputs
from rtl.top.program import INSTR_BITS, TopArch, TopProgram, encode

__all__ = ["BenchTrace", "LayerRun", "cycle_budget", "bench_words", "program_words", "stimulus", "run_layer"]


@dataclass(frozen=True)
class BenchTrace:
    """What a run of the bench shows :func:`run_layer` (cycles counted from the ``start`` cycle, 0).

    Attributes
    ----------
    done : int | None
        First cycle after ``start`` with ``done`` high (the layer's cycles); None if not within the budget.
    write_addrs, write_data : np.ndarray
        The DRAM writes in order: word addresses ``(n,)`` and data ``(n, bus bytes)`` uint8.
    beats, reads : int
        Cycles ``0 .. done`` with an operand beat / a DRAM read request.
    first_beat, last_beat : int
        Cycles of the first and last operand beat (0 without beats).
    read_runs : tuple[int, ...]
        Read requests between two write requests, in order.
    simulated_cycles : int
        Cycles the model simulated (preload, ``start`` and what followed it).
    seconds : float
        Wall time of the whole backend run (process start, preload, the run), seconds.
    layer_seconds, preload_seconds : float | None
        Wall time of the cycles ``0 .. done`` / of the preload, measured inside the model (closed-loop
        harness only), seconds.
    """

    done: int | None
    write_addrs: np.ndarray
    write_data: np.ndarray
    beats: int
    reads: int
    first_beat: int
    last_beat: int
    read_runs: tuple[int, ...]
    simulated_cycles: int
    seconds: float
    layer_seconds: float | None = None
    preload_seconds: float | None = None


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
        Cycles the backend simulated: preload, ``start`` and the whole cycle budget (per-cycle
        backends) or up to ``done`` (closed loop).
    read_runs : tuple[int, ...]
        Read requests between two write requests on the DRAM port, in order (a tile's loads are one
        transfer: no write comes between them).
    layer_seconds, preload_seconds : float | None
        Wall time of the layer's cycles (``start`` to ``done``) / of the preload inside the model,
        without process start and I/O (closed-loop Verilator harness; None for per-cycle backends).
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
    layer_seconds: float | None = None
    preload_seconds: float | None = None

    def split(self) -> dict[str, int]:
        """Where the cycles went: ``total``, ``array_beats``, ``dram_reads``, ``dram_writes``,
        ``before_first_beat`` (cycles before the first beat: first loads + latency) and ``after_last_beat``
        (cycles after the last beat: drain + last store), as the simulator's ``before_first_compute`` and
        ``after_last_compute`` count them."""
        return {"total": self.cycles, "array_beats": self.beats, "dram_reads": self.reads,
                "dram_writes": self.writes, "before_first_beat": self.first_beat,
                "after_last_beat": self.cycles - self.last_beat - 1}

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


def program_words(program: TopProgram) -> np.ndarray:
    """The program's encoded instructions as ``(n, ceil(INSTR_BITS / 32))`` uint32 rows (LSB word first)."""
    return _words32([encode(i) for i in program.instructions], INSTR_BITS)


def stimulus(arch: TopArch, program: TopProgram, image: np.ndarray, budget: int) -> tuple[dict, int]:
    """``(stimulus, start cycle)``: preload the program and DRAM, pulse ``start``, idle ``budget`` cycles."""
    words = program_words(program)
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
        "prog_data": column(words, INSTR_BITS, len(words)),
        "host_we": column(np.ones((len(image), 1), np.uint32), 1, len(image)),
        "host_addr": column(np.arange(len(image), dtype=np.uint32)[:, None], 32, len(image)),
        "host_data": column(_words32(image, arch.bus_bits), arch.bus_bits, len(image)),
        "start": (idx == start).astype(np.uint32)[:, None],
    }
    return stim, start


def run_layer(model, arch: TopArch, program: TopProgram, ops: LayerOperands, latency: int,
              **run_options) -> LayerRun:
    """Run ``program`` on ``model`` (a :class:`rtl.backends.AmaranthModel` / ``VerilatorModel`` or a
    :class:`rtl.top.verilator.TopVerilatorModel` of a :class:`rtl.top.dram.TopBench` with this
    ``latency``) and read the outputs back. ``run_options`` go to a ``TopVerilatorModel``'s
    ``run_program`` (its ``vcd`` and ``window``).

    Raises
    ------
    RuntimeError
        When the top does not reach ``done`` within :func:`cycle_budget`.
    """
    image = dram_image(arch, program, ops)
    budget = cycle_budget(arch, program, latency)
    if hasattr(model, "run_program"):
        trace = model.run_program(program_words(program), image, budget, **run_options)
    elif run_options:
        raise ValueError(f"run options {sorted(run_options)}: only a closed-loop Verilator model takes them")
    else:
        trace = _per_cycle(model, arch, program, image, budget)
    if trace.done is None:
        raise RuntimeError(f"layer '{program.layer.name}': the top did not finish within {budget} cycles")
    final = image.copy()
    final[trace.write_addrs] = trace.write_data
    return LayerRun(read_outputs(arch, program, final), ops.golden, trace.done, trace.seconds, beats=trace.beats,
                    reads=trace.reads, writes=len(trace.write_addrs), first_beat=trace.first_beat,
                    last_beat=trace.last_beat, stimulus_cycles=trace.simulated_cycles, read_runs=trace.read_runs,
                    layer_seconds=trace.layer_seconds, preload_seconds=trace.preload_seconds)


def _per_cycle(model, arch: TopArch, program: TopProgram, image: np.ndarray, budget: int) -> BenchTrace:
    """Run the open-loop :func:`stimulus` on a per-cycle backend and scan its outputs."""
    stim, start = stimulus(arch, program, image, budget)
    t0 = time.perf_counter()
    out = model.run(stim)
    seconds = time.perf_counter() - t0
    done = np.flatnonzero(unpack_field(out["done"], 0, 1, False)[start + 1:])
    cycles = int(done[0]) + 1 if len(done) else None  # start pulse in cycle `start`; done in start + cycles
    valid = np.flatnonzero(unpack_field(out["wr_valid"], 0, 1, False))
    addrs = unpack_field(out["wr_addr"], 0, 32, False)[valid]
    data = out["wr_data"][valid].view(np.uint8).reshape(len(valid), -1)[:, :arch.bus_bytes]
    window = slice(start, start + (budget if cycles is None else cycles) + 1)
    beats = np.flatnonzero(unpack_field(out["beat"], 0, 1, False)[window])
    read = unpack_field(out["rd_valid"], 0, 1, False)[window]
    written = unpack_field(out["wr_valid"], 0, 1, False)[window]
    return BenchTrace(cycles, addrs, data, beats=len(beats), reads=int(read.sum()),
                      first_beat=int(beats[0]) if len(beats) else 0, last_beat=int(beats[-1]) if len(beats) else 0,
                      read_runs=_read_runs(read, written), simulated_cycles=len(stim["start"]), seconds=seconds)


def _read_runs(read: np.ndarray, written: np.ndarray) -> tuple[int, ...]:
    """Lengths of the runs of read requests not separated by a write request (per-cycle 0/1 flags)."""
    cuts = np.cumsum(read)[np.flatnonzero(written)]
    bounds = np.concatenate(([0], cuts, [read.sum()]))
    return tuple(int(n) for n in np.diff(bounds) if n)
