"""Controller of the accelerator top: program memory, dispatcher, unit queues and semaphores.

The dispatcher fetches instructions in program order (synchronous program memory, one
per cycle) and pushes LOAD, COMPUTE and STORE words into the queue of their unit
(``QUEUE_DEPTH`` each); it executes SYNC itself (acquire, then release) and END (waits
until every queue is empty and every unit idle, then raises ``done``). A queue's head
goes to its unit when the unit is ready and every semaphore in its ``acquire`` mask is
non-zero or released by a unit in this cycle; the grant decrements them. Several heads asking for one semaphore in the same
cycle are served in the order SYNC, STORE, COMPUTE, LOAD. Counting semaphores
(``SEM_BITS`` bits each) start at 0: programs fill them with SYNC releases. Units
return ``release`` masks; a semaphore moves by releases minus grants each cycle.
"""

from __future__ import annotations

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.fifo import SyncFIFO
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from rtl.top.program import INSTR_BITS, OP_BITS, OPS, SEMAPHORES, TopArch

__all__ = ["Controller", "QUEUE_DEPTH", "SEM_BITS"]

QUEUE_DEPTH = 4
SEM_BITS = 4


def _acquire(word):
    return word[OP_BITS:OP_BITS + SEMAPHORES]


def _release(word):
    return word[OP_BITS + SEMAPHORES:OP_BITS + 2 * SEMAPHORES]


class Controller(wiring.Component):
    """Program memory, dispatcher, queues and semaphores (module docstring).

    Attributes
    ----------
    start : In(1)
        Pulse: run the program from instruction 0 (semaphores cleared).
    prog_we, prog_addr, prog_data : In
        Program memory write port (load the program before ``start``).
    load_cmd, compute_cmd, store_cmd : Out(stream of INSTR_BITS)
        Instructions whose semaphores were acquired, to the DMA and the compute unit.
    release : In(SEMAPHORES)
        Semaphores the units increment this cycle.
    units_busy : In(1)
        Some unit still works.
    done, running : Out(1)
        The program reached END with every unit idle / the program is running.
    """

    def __init__(self, arch: TopArch):
        self.arch = arch
        super().__init__({
            "start": In(1), "prog_we": In(1), "prog_addr": In(range(arch.program_words)),
            "prog_data": In(INSTR_BITS),
            "load_cmd": Out(stream.Signature(INSTR_BITS)), "compute_cmd": Out(stream.Signature(INSTR_BITS)),
            "store_cmd": Out(stream.Signature(INSTR_BITS)),
            "release": In(SEMAPHORES), "units_busy": In(1), "done": Out(1), "running": Out(1),
        })

    def elaborate(self, platform) -> Module:
        m = Module()
        m.submodules.program = program = Memory(shape=INSTR_BITS, depth=self.arch.program_words, init=[])
        wr = program.write_port()
        rd = program.read_port()
        m.d.comb += [wr.en.eq(self.prog_we), wr.addr.eq(self.prog_addr), wr.data.eq(self.prog_data)]

        sems = [Signal(SEM_BITS, name=f"sem{n}") for n in range(SEMAPHORES)]
        nonzero = Signal(SEMAPHORES)
        for n, sem in enumerate(sems):  # a release in this cycle may be acquired in this cycle
            m.d.comb += nonzero[n].eq((sem != 0) | self.release[n])

        # Fetch: the instruction register `cur` is the memory's read data.
        running = Signal()
        pc = Signal(range(self.arch.program_words + 1))
        cur_valid = Signal()
        cur = rd.data
        op = cur[:OP_BITS]
        consume = Signal()
        advance = ~cur_valid | consume
        m.d.comb += [rd.addr.eq(pc), rd.en.eq(advance), self.running.eq(running)]
        with m.If(advance & running):
            m.d.sync += [cur_valid.eq(1), pc.eq(pc + 1)]
        with m.Elif(consume):
            m.d.sync += cur_valid.eq(0)

        queues = {}
        for name in ("load", "compute", "store"):
            queues[name] = q = SyncFIFO(width=INSTR_BITS, depth=QUEUE_DEPTH)
            m.submodules[f"{name}_queue"] = q
            m.d.comb += [q.w_data.eq(cur), q.w_en.eq(cur_valid & (op == OPS[name.upper()]))]

        # Acquisition in priority order SYNC, STORE, COMPUTE, LOAD.
        taken = Signal(SEMAPHORES, name="taken_none")
        grants = {}
        sync_req = cur_valid & (op == OPS["SYNC"])
        outs = {"store": self.store_cmd, "compute": self.compute_cmd, "load": self.load_cmd}
        requesters = [("sync", sync_req, _acquire(cur), None)] + \
            [(name, queues[name].r_rdy, _acquire(queues[name].r_data), outs[name]) for name in ("store", "compute", "load")]
        acquired = Signal(SEMAPHORES)
        for name, valid, mask, out in requesters:
            ok = valid & ((mask & ~nonzero) == 0) & ((mask & taken) == 0)
            if out is not None:
                m.d.comb += [out.valid.eq(ok), out.payload.eq(queues[name].r_data), queues[name].r_en.eq(ok & out.ready)]
                grant = ok & out.ready
            else:
                grant = ok
            g = Signal(name=f"grant_{name}")
            m.d.comb += g.eq(grant)
            grants[name] = g
            new_taken = Signal(SEMAPHORES, name=f"taken_{name}")
            m.d.comb += new_taken.eq(taken | Mux(g, mask, 0))
            taken = new_taken
        m.d.comb += acquired.eq(taken)

        sync_release = Mux(grants["sync"], _release(cur), 0)
        release = self.release | sync_release
        with m.If(self.start):
            m.d.sync += [sem.eq(0) for sem in sems]
        with m.Else():
            for n, sem in enumerate(sems):
                m.d.sync += sem.eq(sem + release[n] - acquired[n])

        idle = ~self.units_busy & ~self.load_cmd.valid & ~self.compute_cmd.valid & ~self.store_cmd.valid
        for q in queues.values():
            idle = idle & ~q.r_rdy
        end = cur_valid & (op == OPS["END"]) & idle
        is_queued = ((op == OPS["LOAD"]) & queues["load"].w_rdy) | ((op == OPS["COMPUTE"]) & queues["compute"].w_rdy) \
            | ((op == OPS["STORE"]) & queues["store"].w_rdy)
        m.d.comb += consume.eq(cur_valid & (is_queued | grants["sync"] | end))
        with m.If(self.start):
            m.d.sync += [running.eq(1), pc.eq(0), cur_valid.eq(0), self.done.eq(0)]
        with m.Elif(end):
            m.d.sync += [running.eq(0), cur_valid.eq(0), self.done.eq(1)]
        return m
