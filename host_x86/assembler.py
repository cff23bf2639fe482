"""Code building for the x86 backend: the per-block assembler (labels, branch fixups), the shared
runtime (entry trampoline, epilogue, fault exit) and the bridge to Python helpers.

Stack frame of generated code (set up once by the entry trampoline, shared by every block):

    [rsp + 0 .. 64)                     outgoing stack arguments of helper calls (args 7-14)
    [rsp + 64 .. 64 + 8 * SPILL_SLOTS)   spill slots of locals
    [rsp + FRAME_SIZE - 8]               env's saved rsp of an outer run (restored on exit)
    (then the six saved callee-saved registers and the return address)

rsp stays 16-byte aligned in generated code, so helpers can be called directly. The entry
trampoline stores that rsp in env (ENV_SAVED_RSP): the fault exit restores it from there.
"""
from __future__ import annotations

import struct
from typing import Callable, Optional

from host_x86 import encoder as enc
from host_x86 import regs as R
from host_x86.codebuf import CodeBuffer
from host_x86.libc import ffi
from jit.env import ENV_FAULT_HOST_PC, ENV_FAULT_IS_WRITE, ENV_FAULT_REGS, ENV_SAVED_RSP
from jit.exits import ExitKind, encode_exit
from jit.ir import HelperInfo

OUTGOING_ARG_SLOTS = 8
SPILL_SLOTS = 512
# + 8: keeps rsp % 16 == 0 after the six pushes, and holds the env's previous saved rsp.
FRAME_SIZE = 8 * (OUTGOING_ARG_SLOTS + SPILL_SLOTS) + 8
OUTER_SAVED_RSP_OFFSET = FRAME_SIZE - 8
MAX_HELPER_ARGS = 6 + OUTGOING_ARG_SLOTS
MASK64 = (1 << 64) - 1

_PUSHED = ("rbp", "rbx", "r12", "r13", "r14", "r15")


def spill_slot_offset(slot: int) -> int:
    """Offset from rsp of a spill slot."""
    return 8 * (OUTGOING_ARG_SLOTS + slot)


def outgoing_arg_offset(stack_index: int) -> int:
    """Offset from rsp of the stack_index-th stack argument (the 7th argument is index 0)."""
    return 8 * stack_index


class AsmLabel:
    """A position in an Assembler's code: `offset` is None until bound. (No __init__: blocks
    make several labels each, and a bare instance is made at C speed.)"""

    offset: Optional[int] = None


# Recommended multi-byte NOPs (Intel SDM), for aligning patchable jumps.
_NOPS = (b"", b"\x90", b"\x66\x90", b"\x0f\x1f\x00", b"\x0f\x1f\x40\x00",
         b"\x0f\x1f\x44\x00\x00", b"\x66\x0f\x1f\x44\x00\x00", b"\x0f\x1f\x80\x00\x00\x00\x00")


class Assembler:
    """Machine code of one unit (a block, the runtime), position independent until `finish`."""

    def __init__(self, encoder: enc.Encoder):
        self.encoder = encoder
        self.code = bytearray()
        self._label_fixups: list[tuple[int, int, AsmLabel, int]] = []   # field, end, label, width
        self._absolute_fixups: list[tuple[int, int, int]] = []          # field, end, target
        # The encoder's exact-instruction cache, probed here first (one call less per hit).
        self._exact_get = encoder._exact.get
        self._encode = encoder.encode

    @property
    def offset(self) -> int:
        return len(self.code)

    def emit(self, template: str, *numbers: int) -> None:
        # Encoder.encode's cache probe, inlined.
        entry = self._exact_get(template)
        if entry is not None:
            if not numbers:
                if entry.__class__ is bytes:
                    self.code += entry
                    return
            elif entry.__class__ is dict:
                code = entry.get(numbers)
                if code is not None:
                    self.code += code
                    return
        self.code += self._encode(template, numbers)

    def raw(self, data: bytes) -> None:
        self.code += data

    def align(self, alignment: int, extra: int = 0) -> None:
        """Pad with NOPs until (offset + extra) is a multiple of alignment."""
        padding = -(len(self.code) + extra) % alignment
        while padding:
            chunk = min(padding, len(_NOPS) - 1)
            self.code += _NOPS[chunk]
            padding -= chunk

    # Labels -------------------------------------------------------------------------------

    @staticmethod
    def new_label() -> AsmLabel:
        return AsmLabel()

    def bind(self, label: AsmLabel) -> None:
        if label.offset is not None:
            raise enc.EncodingError("label bound twice")
        label.offset = len(self.code)

    def jmp(self, label: AsmLabel, short: bool = False) -> None:
        code = self.code
        if short:
            code += b"\xEB\x00"
            end = len(code)
            self._label_fixups.append((end - 1, end, label, 1))
        else:
            code += b"\xE9\x00\x00\x00\x00"
            end = len(code)
            self._label_fixups.append((end - 4, end, label, 4))

    def jcc(self, condition: str, label: AsmLabel, short: bool = False) -> None:
        code = self.code
        if short:
            code += _JCC_REL8_ZERO[condition]
            end = len(code)
            self._label_fixups.append((end - 1, end, label, 1))
        else:
            code += _JCC_REL32_ZERO[condition]
            end = len(code)
            self._label_fixups.append((end - 4, end, label, 4))

    def lea_rip(self, reg: int, label: AsmLabel) -> None:
        """reg = host address of label."""
        self.code += enc.lea_rip_rel32(reg, 0)
        self._label_fixups.append((len(self.code) - 4, len(self.code), label, 4))

    def jmp_absolute(self, target: int) -> None:
        code = self.code
        code += b"\xE9\x00\x00\x00\x00"
        end = len(code)
        self._absolute_fixups.append((end - 4, end, target))

    def call_absolute(self, target: int) -> None:
        """`call rel32` to an absolute address in the code cache (a shared routine)."""
        self.code += b"\xE8\x00\x00\x00\x00"
        self._absolute_fixups.append((len(self.code) - 4, len(self.code), target))

    def jcc_absolute(self, condition: str, target: int) -> None:
        code = self.code
        code += _JCC_REL32_ZERO[condition]
        end = len(code)
        self._absolute_fixups.append((end - 4, end, target))

    def finish(self, base_address: int) -> bytes:
        """The code with every branch resolved, for placement at base_address."""
        code = self.code
        try:
            for field, end, label, width in self._label_fixups:
                offset = label.offset
                if offset is None:
                    raise enc.EncodingError("branch to a label that was never bound")
                if width == 1:
                    code[field] = enc.check_rel8(offset - end) & 0xFF
                else:
                    _pack_rel32(code, field, offset - end)
            for field, end, target in self._absolute_fixups:
                _pack_rel32(code, field, target - (base_address + end))
        except struct.error:
            raise enc.EncodingError("branch displacement does not fit rel32") from None
        return bytes(code)


_JCC_REL32_ZERO = {condition: enc.jcc_rel32(condition, 0) for condition in enc.CONDITION_CODES}
_JCC_REL8_ZERO = {condition: enc.jcc_rel8(condition, 0) for condition in enc.CONDITION_CODES}
_pack_rel32 = struct.Struct("<i").pack_into


# --------------------------------------------------------------------------------------------
# The shared runtime


class Runtime:
    """Entry trampoline, epilogue and fault exit, placed once in the code cache.

    entry(env, code, guest_base): saves the callee-saved registers, sets up the frame, pins env
    in rbp and the guest base in r14, jumps to code. Every exit of generated code jumps to
    `epilogue_address` with the exit value in rax. `fault_exit_address` is where the host fault
    handler resumes a faulting access: it returns ExitKind.FAULT from any depth of the frame.
    `read_fault_tail_address` / `write_fault_tail_address` finish the exits of accesses that an
    explicit check found out of range (env.fault_addr stored, rax = host pc of the access).
    """

    def __init__(self, code_buffer: CodeBuffer, encoder: enc.Encoder):
        asm = Assembler(encoder)
        epilogue = asm.new_label()
        for name in _PUSHED:
            asm.emit(f"push {name}")
        asm.emit("sub rsp, %", FRAME_SIZE)
        asm.emit("mov rbp, rdi")
        asm.emit("mov r14, rdx")
        # An outer run on the same env (a helper that runs guest code) gets its saved rsp back
        # at the epilogue.
        asm.emit("mov rax, qword ptr [rbp + %]", ENV_SAVED_RSP)
        asm.emit("mov qword ptr [rsp + %], rax", OUTER_SAVED_RSP_OFFSET)
        asm.emit("mov qword ptr [rbp + %], rsp", ENV_SAVED_RSP)
        asm.emit("jmp rsi")
        asm.align(16)
        epilogue_offset = asm.offset
        asm.bind(epilogue)
        asm.emit("mov rcx, qword ptr [rsp + %]", OUTER_SAVED_RSP_OFFSET)
        asm.emit("mov qword ptr [rbp + %], rcx", ENV_SAVED_RSP)
        asm.emit("add rsp, %", FRAME_SIZE)
        for name in reversed(_PUSHED):
            asm.emit(f"pop {name}")
        asm.emit("ret")
        asm.align(16)
        fault_offset = asm.offset
        asm.emit("mov rsp, qword ptr [rbp + %]", ENV_SAVED_RSP)
        asm.emit("mov eax, %", encode_exit(ExitKind.FAULT))
        asm.jmp(epilogue)
        # Tails of the explicit out-of-range checks of guest accesses: the block's stub has
        # stored env.fault_addr and put the host pc of the access in rax.
        fault_common = asm.new_label()
        asm.align(16)
        write_tail_offset = asm.offset
        asm.emit("mov qword ptr [rbp + %], %", ENV_FAULT_IS_WRITE, 1)
        asm.jmp(fault_common, short=True)
        read_tail_offset = asm.offset
        asm.emit("mov qword ptr [rbp + %], %", ENV_FAULT_IS_WRITE, 0)
        asm.bind(fault_common)
        # Dirty globals may be in any register: keep them all for the dispatcher (the stub
        # saved rax before it needed it).
        for reg in range(16):
            if reg not in (R.RAX, R.RSP, R.RBP):
                asm.emit(f"mov qword ptr [rbp + %], {R.r64(reg)}", ENV_FAULT_REGS + 8 * reg)
        asm.emit("mov qword ptr [rbp + %], rax", ENV_FAULT_HOST_PC)
        asm.emit("mov eax, %", encode_exit(ExitKind.FAULT))
        asm.jmp(epilogue)
        # Where an empty jump-cache entry points: should a guest pc equal the empty marker,
        # the inline probe "hits" and lands here, which is just the miss path.
        asm.align(16)
        lookup_exit_offset = asm.offset
        asm.emit("mov eax, %", encode_exit(ExitKind.LOOKUP))
        asm.jmp(epilogue)
        address = code_buffer.allocate(asm.offset)
        code_buffer.write(address, asm.finish(address))
        self.entry_address = address
        self.lookup_exit_address = address + lookup_exit_offset
        self.epilogue_address = address + epilogue_offset
        self.fault_exit_address = address + fault_offset
        self.read_fault_tail_address = address + read_tail_offset
        self.write_fault_tail_address = address + write_tail_offset
        self.end_address = address + asm.offset
        self.entry = ffi.cast("uint64_t (*)(uint64_t, uint64_t, uint64_t)", address)


# --------------------------------------------------------------------------------------------
# Python helpers


class PythonHelperBridge:
    """Native entry points (cffi callbacks) for helpers that only have a Python function.

    One callback per helper, made on first use and kept alive as long as the bridge. A callback
    never lets an exception escape into generated code: it records it with `on_exception` (the
    backend stores it and raises env's exit_request) and returns 0.
    """

    def __init__(self, on_exception: Callable[[BaseException], None]):
        self._on_exception = on_exception
        self._callbacks: dict[int, tuple[HelperInfo, object]] = {}

    def address_of(self, helper: HelperInfo) -> int:
        entry = self._callbacks.get(id(helper))
        if entry is None:
            callback = self._make_callback(helper)
            entry = (helper, callback)     # the helper is kept too, so its id stays unique
            self._callbacks[id(helper)] = entry
        return int(ffi.cast("uintptr_t", entry[1]))

    def _make_callback(self, helper: HelperInfo):
        func = helper.py_func
        if func is None:
            raise ValueError(f"helper {helper.name} has neither a native address nor a Python "
                             f"function")
        on_exception = self._on_exception

        def trampoline(*args):
            try:
                result = func(*args)
                return 0 if result is None else result & MASK64
            except BaseException as exc:   # noqa: B036 - KeyboardInterrupt must stop the guest too
                on_exception(exc)
                return 0

        def on_error(exc_type, exc_value, traceback):
            # Only reached when cffi itself fails to convert the result.
            on_exception(exc_value if exc_value is not None else exc_type())
            return 0

        arg_types = ", ".join(["uint64_t"] * helper.n_args) or "void"
        return ffi.callback(f"uint64_t({arg_types})", trampoline, onerror=on_error)

