"""The x86-64 backend: IR block -> native code in the code cache, and running it.

    backend = X86Backend(guest_base, guest_limit=1 << 38)
    native = backend.compile(block, block_id)
    exit_value = backend.execute(native, env_addr)

Every backend of a process shares one code cache, one runtime (entry trampoline, epilogue,
fault exit), one encoder cache and one host fault handler; a backend owns its blocks, its guest
base and limit and its Python helper callbacks.
"""
from __future__ import annotations

import bisect
import time
from dataclasses import dataclass, field
from typing import Callable, Optional

from host_x86 import encoder as enc
from host_x86.assembler import PythonHelperBridge, Runtime
from host_x86.codebuf import CodeBuffer, shared_code_buffer
from host_x86.fpu import MAX_THUNK_ARGS, python_call_thunk
from host_x86.encoder import Encoder, shared_encoder
from host_x86.interrupt import signal_forwarder
from host_x86.isel import JumpCache, X86Target
from host_x86.libc import ffi
from host_x86.signals import FaultHandler, fault_handler
from jit.env import ENV_EXIT_REQUEST, ENV_FAULT_HOST_PC, ENV_FAULT_REGS
from jit.exits import ExitKind
from jit.ir import HelperInfo, IRBlock
from jit.liveness import analyze
from jit.regalloc import allocate_block

JMP_REL32_OPCODE = 0xE9
_FAULT = int(ExitKind.FAULT)


@dataclass(eq=False)
class NativeBlock:
    host_addr: int
    host_size: int
    guest_pc: int
    block_id: int
    insn_map: list[tuple[int, int]]     # (host offset, guest pc) per guest instruction, sorted
    slot_jumps: dict[int, int]          # goto_tb slot -> offset of its `jmp rel32`
    # Host offset of a guest access -> where the dirty globals were when it ran (the allocator's
    # entries: (env offset, register or None, constant or None)); accesses with none are absent.
    fault_states: dict[int, tuple] = field(default_factory=dict)
    chained: dict[int, "NativeBlock"] = field(default_factory=dict)    # slot -> target block
    incoming: list[tuple["NativeBlock", int]] = field(default_factory=list)  # (from, slot)

    def guest_pc_at(self, host_offset: int) -> Optional[int]:
        """Guest pc of the instruction whose code contains host_offset."""
        index = self.insn_index_at(host_offset)
        return self.insn_map[index][1] if index >= 0 else None

    def insn_index_at(self, host_offset: int) -> int:
        """Index (in the block) of the guest instruction whose code contains host_offset;
        -1 before the first instruction."""
        return bisect.bisect_right(self.insn_map, (host_offset, float("inf"))) - 1


@dataclass
class CompileStats:
    blocks: int = 0
    ir_ops: int = 0
    code_bytes: int = 0
    seconds: float = 0.0
    keystone_calls: int = 0
    flushes: int = 0                  # code cache flushes (the cache was full, or asked for)
    code_cache_capacity: int = 0      # bytes for blocks (-tb-size)
    code_cache_peak: int = 0          # most bytes of blocks in the cache at once


_shared_runtime: Optional[Runtime] = None


def shared_runtime(code_buffer: CodeBuffer, encoder: Encoder) -> Runtime:
    global _shared_runtime
    if _shared_runtime is None:
        _shared_runtime = Runtime(code_buffer, encoder)
    return _shared_runtime


class X86Backend:
    def __init__(self, guest_base: int, guest_limit: int = 1 << 38, guest_guarded: bool = False):
        """guest_guarded: the reservation holding [guest_base, guest_base + guest_limit) has
        GUEST_GUARD_SIZE bytes of inaccessible guard on each side (host_x86/guest_access.py)."""
        self.guest_base = guest_base
        self.guest_limit = guest_limit
        self.guest_guarded = guest_guarded
        self.encoder = shared_encoder()
        self.code_buffer = shared_code_buffer()
        self.runtime = shared_runtime(self.code_buffer, self.encoder)
        # Faults are the guest's only in blocks, which follow the runtime in the code cache.
        blocks_start = self.runtime.end_address
        self.fault_handler: FaultHandler = fault_handler(
            blocks_start, self.code_buffer.end - blocks_start, self.runtime.fault_exit_address,
            self.encoder)
        # An exception raised by a Python helper, for the dispatcher to re-raise (and clear).
        self.pending_exception: Optional[BaseException] = None
        self._current_env: Optional[int] = None
        self._entry = self.runtime.entry
        self._bridge = PythonHelperBridge(self._record_exception)
        self.jump_cache = JumpCache(ffi, self.runtime.lookup_exit_address)
        self._target = X86Target(self.encoder, self.runtime, guest_limit,
                                 self._helper_address, self.jump_cache.address,
                                 guest_guarded)
        self._block_starts: list[int] = []
        self._blocks: list[NativeBlock] = []
        self.stats = CompileStats(code_cache_capacity=self.code_buffer.capacity)
        self._disassembler = None     # capstone, imported on the first disassemble()
        # Called after every flush of the code cache (whichever backend asked for it): the
        # owner of the blocks (the dispatcher) drops its references to them.
        self.flush_listeners: list[Callable[[], None]] = []
        self.code_buffer.add_client(self)

    # ----------------------------------------------------------------------------------------

    def compile(self, block: IRBlock, block_id: int) -> NativeBlock:
        started = time.perf_counter()
        keystone_before = self.encoder.keystone_calls
        target = self._target
        target.begin_block(block, block_id)
        allocate_block(block, target, analyze(block))
        if getattr(target, "fpu", None) is not None:
            self._entry = target.fpu.entry    # FP ops: entry through the MXCSR wrapper
        asm = target.finish_block()
        code_buffer = self.code_buffer
        host_addr = code_buffer.allocate_block(asm.offset)     # CodeBufferFull: flush, retry
        if code_buffer.used > self.stats.code_cache_peak:
            self.stats.code_cache_peak = code_buffer.used
        code = asm.finish(host_addr)
        self.code_buffer.write(host_addr, code)
        native = NativeBlock(host_addr, len(code), block.guest_pc, block_id,
                             target.insn_map, target.slot_jumps, target.fault_states)
        self._block_starts.append(host_addr)
        self._blocks.append(native)
        stats = self.stats
        stats.blocks += 1
        stats.ir_ops += len(block.ops)
        stats.code_bytes += len(code)
        stats.keystone_calls += self.encoder.keystone_calls - keystone_before
        stats.seconds += time.perf_counter() - started
        return native

    def execute(self, native: NativeBlock, env_addr: int) -> int:
        """Run generated code from `native` until it exits; returns the exit value.

        An exception raised by a Python helper meanwhile is in `pending_exception` (the
        generated code stopped at the next block entry or right after a MAY_STOP call)."""
        outer_env = self._current_env     # a helper may run guest code on its own
        self._current_env = env_addr
        value = self._entry(env_addr, native.host_addr, self.guest_base)
        self._current_env = outer_env
        if value & 0xF == _FAULT:
            self.restore_fault_state(env_addr)
        return value

    def restore_fault_state(self, env_addr: int) -> None:
        """After ExitKind.FAULT: write the guest globals that were dirty in host registers at
        the faulting access back into env (from the registers saved at ENV_FAULT_REGS), so
        that the guest state in env is exactly the state before the access."""
        def word(offset: int):
            return ffi.cast("uint64_t *", env_addr + offset)

        host_pc = word(ENV_FAULT_HOST_PC)[0]
        native = self.block_at(host_pc) if host_pc else None
        if native is None:
            return
        for offset, reg, value in native.fault_states.get(host_pc - native.host_addr, ()):
            word(offset)[0] = value if reg is None else word(ENV_FAULT_REGS + 8 * reg)[0]

    # ----------------------------------------------------------------------------------------
    # The bounded code cache

    def flush_code_cache(self) -> None:
        """Drop every translated block of every backend and reuse the space (the runtime stubs
        stay). Only while no generated code runs (RuntimeError otherwise)."""
        self.code_buffer.flush()

    @property
    def running_generated_code(self) -> bool:
        return self._current_env is not None

    def code_cache_flushed(self) -> None:
        """The code cache was flushed: the blocks, their chains and jump-cache entries are
        gone (nothing is unpatched: the code itself is discarded)."""
        self._block_starts.clear()
        self._blocks.clear()
        self.jump_cache.clear()
        self.stats.flushes += 1
        self.stats.code_cache_capacity = self.code_buffer.capacity
        for listener in self.flush_listeners:
            listener()

    def exit_on_host_signals(self, env_addr: int,
                             python_handler: Callable[[int, object], None]) -> Callable[[], None]:
        """Until the returned function is called: SIGINT and SIGTERM raise env's exit_request
        (generated code returns ExitKind.STOP at the next block entry), then run
        python_handler (installed as their Python-level handler) at Python's next chance."""
        return signal_forwarder(self.encoder).activate(env_addr + ENV_EXIT_REQUEST,
                                                       python_handler)

    def host_pc_to_guest_pc(self, host_pc: int) -> Optional[int]:
        native = self.block_at(host_pc)
        if native is None:
            return None
        return native.guest_pc_at(host_pc - native.host_addr)

    def block_at(self, host_pc: int) -> Optional[NativeBlock]:
        index = bisect.bisect_right(self._block_starts, host_pc) - 1
        if index < 0:
            return None
        native = self._blocks[index]
        if host_pc >= native.host_addr + native.host_size:
            return None
        return native

    def disassemble(self, native: NativeBlock, annotate: bool = False) -> str:
        """One line per host instruction: `0xaddr:  mnemonic operands`. With annotate, a line
        `  -- guest pc 0x...` precedes the code of each guest instruction."""
        code = self.code_buffer.read(native.host_addr, native.host_size)
        starts: dict[int, list[int]] = {}
        if annotate:
            for offset, pc in native.insn_map:
                starts.setdefault(native.host_addr + offset, []).append(pc)
        if self._disassembler is None:
            # Imported here: only -d out_asm disassembles, and importing capstone is a
            # noticeable part of start-up.
            from capstone import CS_ARCH_X86, CS_MODE_64, Cs
            self._disassembler = Cs(CS_ARCH_X86, CS_MODE_64)
        lines = []
        for insn in self._disassembler.disasm(code, native.host_addr):
            for pc in starts.get(insn.address, ()):
                lines.append(f"  -- guest pc {pc:#x}")
            lines.append(f"{insn.address:#x}:  {insn.mnemonic} {insn.op_str}".rstrip())
        return "\n".join(lines)

    # ----------------------------------------------------------------------------------------
    # Chaining: goto_tb slots are `jmp rel32` to the next instruction until patched.

    def chain(self, from_native: NativeBlock, slot: int, to_native: NativeBlock) -> None:
        """Make goto_tb `slot` of from_native jump straight to to_native's entry."""
        self._patch_slot(from_native, slot, to_native.host_addr)
        previous = from_native.chained.get(slot)
        if previous is not None:
            previous.incoming.remove((from_native, slot))
        from_native.chained[slot] = to_native
        to_native.incoming.append((from_native, slot))

    def unchain(self, from_native: NativeBlock, slot: int) -> None:
        """Restore goto_tb `slot` of from_native to fall through to its exit."""
        jump = from_native.host_addr + from_native.slot_jumps[slot]
        self._patch_slot(from_native, slot, jump + enc.JMP_REL32_SIZE)
        previous = from_native.chained.pop(slot, None)
        if previous is not None:
            previous.incoming.remove((from_native, slot))

    def unchain_incoming(self, native: NativeBlock) -> None:
        """Unchain every jump into `native` (before it is invalidated)."""
        for from_native, slot in list(native.incoming):
            self.unchain(from_native, slot)

    def _patch_slot(self, from_native: NativeBlock, slot: int, target_address: int) -> None:
        jump = from_native.host_addr + from_native.slot_jumps[slot]
        self.code_buffer.write(jump + 1,
                               enc.rel32_bytes(target_address - (jump + enc.JMP_REL32_SIZE)))

    # ----------------------------------------------------------------------------------------
    # Helpers

    def _helper_address(self, helper: HelperInfo) -> int:
        if helper.native_address is not None:
            return helper.native_address
        address = self._bridge.address_of(helper)
        if helper.n_args <= MAX_THUNK_ARGS:
            # Python runs with the host's MXCSR and sees the guest's FP flags in env.
            address = python_call_thunk(self.code_buffer, self.encoder, address)
        return address

    def _record_exception(self, exc: BaseException) -> None:
        if self.pending_exception is None:
            self.pending_exception = exc
        if self._current_env is not None:
            ffi.cast("uint32_t *", self._current_env + ENV_EXIT_REQUEST)[0] = 1
