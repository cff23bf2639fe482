"""The dispatcher: block cache keyed by guest pc, translation on a miss, native execution, and
handling of every exit that comes back to Python (syscalls, faults, illegal instructions).

Cold blocks: most blocks a program translates run once or twice (glibc's start-up and exit code
is about half of a benchmark's translation). Compiling a block to host code costs about 3x its
frontend translation and 5x a run of its IR in the reference interpreter, so a new block is
translated to IR only and run by the interpreter (`jit/interp.py`, which writes every guest
register back to env as it goes, so the guest state stays exact at every exit and fault) for its
first `cold_runs` runs, and compiled when it is entered again. Blocks with a loop inside are
compiled at once, and there are no cold blocks while the translation dumps (`-d in_asm`...)
or `-d exec` are on, which show every block. Plugin instrumentation runs in the interpreter as
natively: callbacks are Python functions, inline ops update the scoreboards.
"""
from __future__ import annotations

import signal
import time
from typing import Callable, Optional, Protocol

from jit.code_cache import CodeCacheFull
from jit.cpustate import CpuEnv, RawHostMemory
from jit.env import ENV_EXIT_REQUEST, ENV_FAULT_ADDR, ENV_FAULT_HOST_PC, ENV_FAULT_IS_WRITE
from jit.exits import ExitKind, decode_exit
from jit.interp import run_block
from jit.pipeline import Pipeline

PAGE_SHIFT = 12

# Cold blocks kept as IR at most; beyond that they are all dropped (and translated again if
# they run again), so a program with a huge code footprint does not keep IR without bound.
MAX_COLD_BLOCKS = 8192


class ColdBlock:
    """A block translated to IR, not compiled yet (see the module docstring)."""

    __slots__ = ("block", "block_id", "frontend_seconds", "runs", "start", "end")

    def __init__(self, block, block_id: int, frontend_seconds: float, start: int):
        self.block = block
        self.block_id = block_id
        self.frontend_seconds = frontend_seconds
        self.runs = 0
        self.start = start
        self.end = start + max(block.guest_size, 1)


class OwnCodeWrite(Exception):
    """A cold block stored into its own guest code."""


class ColdBlockMemory:
    """Guest memory as the interpreter sees it while it runs a cold block. A store into the
    block's own code is refused (the interpreter reports it as a write fault; the dispatcher
    then runs that store alone and goes on with the rewritten code, as after a store into
    translated code), so that the rest of the block never runs stale."""

    def __init__(self, memory):
        self.memory = memory
        self.running: Optional[ColdBlock] = None
        self.refused_own_code_write = False

    def read(self, addr: int, size: int) -> bytes:
        return self.memory.read(addr, size)

    def write(self, addr: int, data: bytes) -> None:
        running = self.running
        if addr < running.end and addr + len(data) > running.start:
            self.refused_own_code_write = True
            raise OwnCodeWrite(addr)
        self.memory.write(addr, data)


class GuestSignal(Exception):
    """The guest got a fatal synchronous signal (no guest handler): the run ends."""

    def __init__(self, signo: int, pc: int, addr: Optional[int] = None, detail: str = ""):
        self.signo = signo
        self.pc = pc
        self.addr = addr
        self.detail = detail
        super().__init__(self.message())

    @property
    def exit_status(self) -> int:
        return 128 + self.signo   # what a shell reports for a process killed by the signal

    def message(self) -> str:
        name = signal.Signals(self.signo).name
        text = f"guest {name} at pc={self.pc:#x}"
        if self.addr is not None:
            text += f" addr={self.addr:#x}"
        if self.detail:
            text += f" ({self.detail})"
        return text


class HostInterrupt(KeyboardInterrupt):
    """The host got SIGINT or SIGTERM during the run (Ctrl-C, kill): the guest stops cleanly
    (plugins get their atexit callbacks), then the process dies of that signal, as qemu's
    does. A KeyboardInterrupt so that whatever it interrupts treats it as Ctrl-C."""

    def __init__(self, signo: int):
        super().__init__(signal.Signals(signo).name)
        self.signo = signo


def _raise_host_interrupt(signo: int, _frame) -> None:
    raise HostInterrupt(signo)


class GuestRuntime(Protocol):
    """What the dispatcher needs from the guest OS layer."""

    pc_offset: int

    def on_syscall(self, env: CpuEnv) -> Optional[int]:
        """Run the syscall the guest asked for and advance pc; an int ends the run (status)."""

    def describe_illegal(self, pc: int) -> str:
        """A short text naming the illegal instruction at pc (e.g. its encoding)."""

    def on_code_translated(self, start: int, end: int) -> None:
        """Guest code in [start, end) now has a translation: make guest stores into it fault."""

    def on_code_write_fault(self, addr: int) -> bool:
        """A guest store faulted at addr: True if only because translated code is there (the
        runtime has made the page writable again and dropped its translations)."""

    retired_counter_offset: Optional[int]   # env offset of the retired-instruction counter
    memory: object                          # guest memory for the interpreter (read/write)


class Dispatcher:
    def __init__(self, pipeline: Pipeline, backend, env: CpuEnv, runtime: GuestRuntime,
                 fetch_fault_types: tuple, cold_runs: int = 0):
        """fetch_fault_types: the exceptions (with an `addr`) the frontend raises when guest
        code cannot be fetched; they end the run with SIGSEGV. cold_runs: how many times a new
        block runs in the interpreter before it is compiled (see the module docstring)."""
        self.pipeline = pipeline
        self.backend = backend
        self.env = env
        self.runtime = runtime
        self.fetch_fault_types = fetch_fault_types
        self.blocks: dict[int, object] = {}     # guest pc -> native block
        self.natives: list[object] = []         # block id -> native block (None: still cold)
        self.cold_runs = cold_runs
        self.cold_blocks: dict[int, ColdBlock] = {}     # guest pc -> cold block
        self.cold_memory = ColdBlockMemory(runtime.memory)
        self.host_memory = RawHostMemory()     # (the interpreter's ld_host / st_host)
        self._cold_position = [0, 0]           # the interpreter's (guest pc, insns started)
        self.blocks_by_page: dict[int, list] = {}  # guest page -> [(native, guest end)]
        self.exec_log = pipeline.log.enabled("exec")
        if self.exec_log or any(pipeline.log.enabled(item)
                                for item in ("in_asm", "op", "op_opt", "out_asm")):
            self.cold_runs = 0
        # With -d exec every block entry must come back through the dispatcher to be logged.
        self.chaining = not self.exec_log
        # Run (in order) at the next safe point asked for with request_safe_point: the top of
        # the run loop, where no generated code is running (the plugin core uninstalls plugins
        # and flushes the code cache there).
        self.safe_point_hooks: list[Callable[[], None]] = []
        self._safe_point_requested = False
        # Run after each flush of the code cache (the plugin core: flush callbacks).
        self.flush_hooks: list[Callable[[], None]] = []
        # Run when a block left through a fault: hook(env, the block's guest pc, index of the
        # faulting instruction in the block); the plugin core takes back the inline counts
        # made ahead of it.
        self.fault_hooks: list[Callable[[CpuEnv, int, int], None]] = []
        # Counts flushes: a block found before a lookup is stale if this changed meanwhile.
        self.code_generation = 0
        backend.flush_listeners.append(self._code_cache_flushed)
        # The host signal (SIGINT, SIGTERM) that stopped the run, if one did.
        self.interrupted_by: Optional[int] = None

    def lookup_or_translate(self, pc: int):
        """The block at guest pc, compiled if needed. Translation happens only here and in
        `_cold_block`, called from the run loop, where no generated code is on the stack: the
        code cache may be flushed (and every other block dropped) to make room."""
        native = self.blocks.get(pc)
        if native is None:
            cold = self.cold_blocks.pop(pc, None)
            native = self._translate(pc) if cold is None else self._compile_cold(cold)
        return native

    def _translate(self, pc: int):
        try:
            try:
                block, native = self.pipeline.translate(pc, len(self.natives))
            except CodeCacheFull:
                # As qemu: flush everything, translate again (the translation callbacks of
                # plugins run again too). The cache always has room for one block.
                self.flush_code_cache()
                block, native = self.pipeline.translate(pc, len(self.natives))
        except self.fetch_fault_types as fault:
            raise GuestSignal(signal.SIGSEGV, pc, fault.addr) from None
        self.natives.append(native)
        self._install(pc, block, native)
        return native

    def _compile_cold(self, cold: ColdBlock):
        try:
            native = self.pipeline.compile(cold.block, cold.block_id, cold.frontend_seconds)
        except CodeCacheFull:
            self.flush_code_cache()        # (the cold blocks go too: their ids are gone)
            return self._translate(cold.start)
        self.natives[cold.block_id] = native
        self._install(cold.start, cold.block, native)
        return native

    def _install(self, pc: int, block, native) -> None:
        self.blocks[pc] = native
        end = pc + max(block.guest_size, 1)
        for page in range(pc >> PAGE_SHIFT, ((end - 1) >> PAGE_SHIFT) + 1):
            self.blocks_by_page.setdefault(page, []).append((native, end))
        self.runtime.on_code_translated(pc, end)

    def _cold_block(self, pc: int) -> Optional[ColdBlock]:
        """The cold block at pc, translated to IR if new; None when it is to be compiled now
        (it has had its cold runs, or it loops)."""
        cold = self.cold_blocks.get(pc)
        if cold is None:
            if len(self.cold_blocks) >= MAX_COLD_BLOCKS:
                self.cold_blocks.clear()
            block_id = len(self.natives)
            try:
                block, seconds = self.pipeline.translate_to_ir(pc, block_id)
            except self.fetch_fault_types as fault:
                raise GuestSignal(signal.SIGSEGV, pc, fault.addr) from None
            self.natives.append(None)
            cold = ColdBlock(block, block_id, seconds, pc)
            self.cold_blocks[pc] = cold
            # A guest store into this code must drop the IR, as it drops translations.
            self.runtime.on_code_translated(pc, cold.end)
            if block.loops_inside:
                return None
        return cold if cold.runs < self.cold_runs else None

    def invalidate_range(self, start: int, end: int) -> None:
        """Drop every translation of guest code in [start, end): it was rewritten, unmapped or
        made non-executable. Chained jumps into the dropped blocks are undone first."""
        if self.cold_blocks:
            for cold in [cold for cold in self.cold_blocks.values()
                         if cold.start < end and cold.end > start]:
                del self.cold_blocks[cold.start]
        first_page, last_page = start >> PAGE_SHIFT, (end - 1) >> PAGE_SHIFT
        if last_page - first_page >= len(self.blocks_by_page):
            pages = [page for page in self.blocks_by_page if first_page <= page <= last_page]
        else:
            pages = range(first_page, last_page + 1)
        for page in pages:
            for native, block_end in self.blocks_by_page.pop(page, ()):
                if native.guest_pc < end and block_end > start:
                    self._drop(native)
                else:
                    self.blocks_by_page.setdefault(page, []).append((native, block_end))

    def flush_code_cache(self) -> None:
        """Drop every translated block and reuse the code cache's space (the backend tells
        `_code_cache_flushed`, whichever backend flushed)."""
        self.backend.flush_code_cache()

    def _code_cache_flushed(self) -> None:
        """The backend discarded every block: forget them all (nothing to unchain: the code
        itself is gone; block ids start again at 0), then tell the flush hooks. Pages
        write-protected for translated code stay protected until the guest writes them (the
        write fault unprotects them and finds no block to drop), as in qemu."""
        self.blocks.clear()
        self.natives.clear()
        self.cold_blocks.clear()
        self.blocks_by_page.clear()
        self.code_generation += 1
        for hook in self.flush_hooks:
            hook()

    def invalidate_all(self) -> None:
        self.cold_blocks.clear()
        for native in list(self.blocks.values()):
            self._drop(native)
        self.blocks_by_page.clear()

    def _drop(self, native) -> None:
        if self.blocks.get(native.guest_pc) is not native:
            return
        del self.blocks[native.guest_pc]
        self.backend.unchain_incoming(native)
        for slot in list(native.chained):
            self.backend.unchain(native, slot)
        self.backend.jump_cache.remove(native.guest_pc)

    def request_exit(self) -> None:
        """Ask generated code to come back at the next block entry (safe from a signal handler)."""
        self.env.write_u64(ENV_EXIT_REQUEST, 1)

    def request_safe_point(self) -> None:
        """Have the safe point hooks run as soon as generated code is back in the dispatcher
        (callable from a helper or callback running inside generated code)."""
        self._safe_point_requested = True
        self.request_exit()

    def run(self) -> int:
        """Run the guest until it exits; return its exit status or raise GuestSignal.

        SIGINT / SIGTERM stop the guest at the next block entry (or end the system call it is
        in); the run then returns 128 + the signal number and `interrupted_by` names it."""
        stop_forwarding = self.backend.exit_on_host_signals(self.env.addr,
                                                            _raise_host_interrupt)
        try:
            try:
                return self._run_guest()
            finally:
                stop_forwarding()
        except KeyboardInterrupt as interrupt:
            signo = interrupt.signo if isinstance(interrupt, HostInterrupt) else signal.SIGINT
            self.interrupted_by = signo
            self.env.write_u64(ENV_EXIT_REQUEST, 0)
            return 128 + signo

    def _run_guest(self) -> int:
        env = self.env
        pc_offset = self.runtime.pc_offset
        backend = self.backend
        chain_from = None   # (native block, slot) whose direct exit brought us here
        while True:
            if self._safe_point_requested:
                self._safe_point_requested = False
                chain_from = None    # its block may be dropped by a hook
                for hook in self.safe_point_hooks:
                    hook()
            pc = env.read_u64(pc_offset)
            generation = self.code_generation
            native = self.blocks.get(pc)
            if native is None:
                cold = self._cold_block(pc) if self.cold_runs else None
                if cold is not None:
                    chain_from = None
                    status = self._run_cold(cold)
                    if status is not None:
                        return status
                    continue
                native = self.lookup_or_translate(pc)
            if chain_from is not None and self.chaining and generation == self.code_generation:
                # Patch the exit's goto_tb so that next time it jumps straight here (unless
                # the lookup flushed the code cache: the exit's block is gone).
                backend.chain(chain_from[0], chain_from[1], native)
            chain_from = None
            if self.exec_log:
                self.pipeline.log.write(f"Trace: [{native.host_addr:#x}/{pc:#x}]\n")
            value = backend.execute(native, env.addr)
            if backend.pending_exception is not None:
                exception, backend.pending_exception = backend.pending_exception, None
                raise exception
            kind, slot, block_id = decode_exit(value)
            if kind is ExitKind.CHAIN:
                chain_from = (self.natives[block_id], slot)
                continue
            if kind is ExitKind.LOOKUP:
                if self.chaining:
                    # Let generated code find the target of this indirect jump by itself
                    # (once it is compiled: a cold one runs from the loop first).
                    target = env.read_u64(pc_offset)
                    target_native = self.blocks.get(target)
                    if target_native is None and not self.cold_runs:
                        target_native = self.lookup_or_translate(target)
                    if target_native is not None:
                        backend.jump_cache.set(target, target_native.host_addr)
                continue
            if kind is ExitKind.FAULT:
                status = self._native_fault()
            else:
                status = self._guest_exit(kind)
            if status is not None:
                return status

    def _guest_exit(self, kind: ExitKind) -> Optional[int]:
        """The exits a native or a cold block may take other than chaining, lookups and
        faults; an int ends the run (status)."""
        env = self.env
        pc_offset = self.runtime.pc_offset
        if kind is ExitKind.SYSCALL:
            return self.runtime.on_syscall(env)
        if kind is ExitKind.SYNC_ICACHE:
            self.invalidate_all()
        elif kind is ExitKind.MISALIGNED:
            raise GuestSignal(signal.SIGBUS, env.read_u64(pc_offset),
                              env.read_u64(ENV_FAULT_ADDR))
        elif kind is ExitKind.ILLEGAL:
            pc = env.read_u64(pc_offset)
            raise GuestSignal(signal.SIGILL, pc, detail=self.runtime.describe_illegal(pc))
        elif kind is ExitKind.BREAK:
            raise GuestSignal(signal.SIGTRAP, env.read_u64(pc_offset))
        elif kind is ExitKind.STOP:
            env.write_u64(ENV_EXIT_REQUEST, 0)
            return self.on_stop()
        return None

    def _native_fault(self) -> Optional[int]:
        env = self.env
        host_pc = env.read_u64(ENV_FAULT_HOST_PC)
        native = self.backend.block_at(host_pc) if host_pc else None
        if native is not None:
            self._block_faulted(native.guest_pc, len(native.insn_map),
                                native.insn_index_at(host_pc - native.host_addr))
        fault = self._fault_signal()
        if not (env.read_u64(ENV_FAULT_IS_WRITE)
                and self.runtime.on_code_write_fault(fault.addr)):
            raise fault
        # The store hit a page holding translated code: run it again, once, in the interpreter
        # (its page is writable now; a native retranslation of its own page would protect it
        # again; the step counts the instruction).
        return self._step_in_interpreter()

    def _run_cold(self, cold: ColdBlock) -> Optional[int]:
        """Run a cold block in the interpreter and handle how it left; an int ends the run."""
        env = self.env
        if env.read_u64(ENV_EXIT_REQUEST) & 0xFFFF_FFFF:     # as a native block's entry check
            return self._guest_exit(ExitKind.STOP)
        memory = self.cold_memory
        memory.running = cold
        position = self._cold_position
        position[0], position[1] = cold.start, 0
        cold.runs += 1
        started = time.perf_counter()
        value = run_block(cold.block, env, memory, self.host_memory, position=position)
        stats = self.pipeline.stats
        stats.interpreted_runs += 1
        stats.interpreted_seconds += time.perf_counter() - started
        kind = decode_exit(value)[0]
        if kind is ExitKind.CHAIN or kind is ExitKind.LOOKUP:
            return None
        if kind is not ExitKind.FAULT:
            return self._guest_exit(kind)
        # The interpreter stopped at the faulting instruction with the guest state before it
        # in env; the block counted all its instructions when it started.
        pc, started_insns = position
        self._block_faulted(cold.start, cold.block.n_insns, started_insns - 1)
        env.write_u64(self.runtime.pc_offset, pc)
        if memory.refused_own_code_write:
            memory.refused_own_code_write = False
            return self._step_in_interpreter()
        raise GuestSignal(signal.SIGSEGV, pc, env.read_u64(ENV_FAULT_ADDR))

    def on_stop(self) -> Optional[int]:
        """An exit request reached generated code; subclasses / later issues decide what to do."""
        return None

    def _step_in_interpreter(self) -> Optional[int]:
        """Execute the one guest instruction at env.pc with the reference interpreter (after a
        store into translated code, or into the code of the cold block that ran it)."""
        env = self.env
        pc = env.read_u64(self.runtime.pc_offset)
        # Without plugin instrumentation: the instruction's start callbacks already ran in the
        # block that faulted (and a one-instruction step has no scoreboard for empty callbacks).
        frontend = self.pipeline.frontend
        instrumentation, frontend.instrumentation = frontend.instrumentation, None
        try:
            block = frontend.translate(pc, 0, 1)
        finally:
            frontend.instrumentation = instrumentation
        value = run_block(block, env, self.runtime.memory)
        kind = decode_exit(value)[0]
        if kind is ExitKind.FAULT:
            raise GuestSignal(signal.SIGSEGV, pc, env.read_u64(ENV_FAULT_ADDR))
        if kind is ExitKind.SYSCALL:
            return self.runtime.on_syscall(env)
        if kind not in (ExitKind.CHAIN, ExitKind.LOOKUP):
            raise GuestSignal(signal.SIGILL, pc, detail=self.runtime.describe_illegal(pc))
        return None

    def _block_faulted(self, block_pc: int, n_insns: int, index: int) -> None:
        """The block at block_pc (n_insns instructions, native or cold) left through a fault in
        its instruction `index`. It counted all its instructions when it started: the faulting
        one and those after it are taken back, from instret and (fault hooks) plugin counts."""
        env = self.env
        for hook in self.fault_hooks:
            hook(env, block_pc, index)
        counter = self.runtime.retired_counter_offset
        if counter is not None:
            env.write_u64(counter, env.read_u64(counter) - (n_insns - index))

    def _fault_signal(self) -> GuestSignal:
        env = self.env
        addr = env.read_u64(ENV_FAULT_ADDR)
        host_pc = env.read_u64(ENV_FAULT_HOST_PC)
        pc = self.backend.host_pc_to_guest_pc(host_pc) if host_pc else None
        if pc is None:
            pc = env.read_u64(self.runtime.pc_offset)
        else:
            env.write_u64(self.runtime.pc_offset, pc)
        return GuestSignal(signal.SIGSEGV, pc, addr)
