"""The x86 side of the IR's FP environment: MXCSR management, the exact Python helpers, and the
host CPU features the FP instruction selection (host_x86/isel_fp.py) relies on.

The flag scheme. While generated code runs, MXCSR holds the guest's FP state:
- all exceptions masked, FTZ and DAZ off (IEEE results), rounding control = the guest's dynamic
  rounding mode when it is RNE/RTZ/RDN/RUP (frm 0-3); RNE otherwise (ops with rm=DYN check frm
  and go to the exact helper for RMM);
- the exception flags accumulate the guest's exceptions since the last fold. The accrued flags
  of the guest are  env.fflags | map(MXCSR flags)  with IE->NV, ZE->DZ, OE->OF, UE->UF, PE->NX
  (DE is ignored; DAZ is off so it never matters). Folding (OR-ing the mapped MXCSR flags into
  env.fflags) is idempotent, so MXCSR is not cleared by a fold.

`FpRuntime.entry` wraps the backend runtime's entry trampoline: it saves the host MXCSR, loads
the guest's (rounding control from env.frm, flags clear: Python code running between blocks may
have dirtied MXCSR), runs generated code and, whatever the exit, folds the flags into
env.fflags and restores the host MXCSR. Blocks fold at a guest read of fflags (`fold_address`
routine), clear MXCSR's flags at a guest write of fflags, and reload the rounding control after
a guest write of frm (`set_rm_address` routine). Exact helpers are called with the host's
default MXCSR and restore the guest's after, so Python code never runs with a guest rounding
mode and never leaks flags into the guest.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Optional

from host_x86.assembler import Assembler
from host_x86.codebuf import CodeBuffer
from host_x86.encoder import Encoder
from host_x86.libc import ffi
from jit.env import ENV_SCRATCH
from jit.ir import OPS, CallFlag, FpEnv, HelperInfo
from jit.softfloat import DZ, NV, NX, OF, UF, resolve_rm

MXCSR_DEFAULT = 0x1F80         # all exceptions masked, RNE, no FTZ/DAZ, no flags
# u64 in the backend's scratch area of env (jit/env.py): while generated code runs through an
# FpRuntime's entry, the address of its hooks table [leave, enter] (0 otherwise), for the
# thunks of Python helper calls (python_call_thunk).
ENV_FPU_HOOKS = ENV_SCRATCH + 8
MXCSR_FLAGS = 0x3F
MXCSR_RC_SHIFT = 13
MXCSR_RC_MASK = 3 << MXCSR_RC_SHIFT
# MXCSR.RC of frm 0..3 (RNE RTZ RDN RUP -> 00 11 01 10), 2 bits each.
RC_OF_FRM_PACKED = (0 << 0) | (3 << 2) | (1 << 4) | (2 << 6)
# x86 rounding-control encoding of each static mode (roundsd immediates, MXCSR.RC).
X86_RC = {0: 0, 1: 3, 2: 1, 3: 2}


def rc_of_frm(frm: int) -> int:
    return (RC_OF_FRM_PACKED >> (2 * frm)) & 3 if frm <= 3 else 0


def riscv_flags_of_mxcsr(mxcsr: int) -> int:
    """The fflags bits of MXCSR's exception flags."""
    flags = 0
    for bit, riscv in ((0, NV), (2, DZ), (3, OF), (4, UF), (5, NX)):
        if mxcsr >> bit & 1:
            flags |= riscv
    return flags


FLAG_TABLE = bytes(riscv_flags_of_mxcsr(index) for index in range(64))


# --------------------------------------------------------------------------------------------
# Host CPU features


@dataclass(frozen=True)
class Features:
    sse41: bool        # roundsd/roundss: unsigned conversions natively
    fma: bool          # FMA3 (VEX vfmadd...): fused multiply-adds natively


def detect_features() -> Features:
    """From /proc/cpuinfo; TCGJIT_FP_NATIVE=none / nofma / nosse41 turns features off (tests of
    the helper fallbacks, or a host that misreports)."""
    flags: set[str] = set()
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    break
    except OSError:
        pass
    setting = os.environ.get("TCGJIT_FP_NATIVE", "")
    sse41 = "sse4_1" in flags and setting not in ("none", "nosse41")
    fma = "fma" in flags and "avx" in flags and setting not in ("none", "nofma")
    return Features(sse41, fma)


# --------------------------------------------------------------------------------------------
# Exact helpers (jit/softfloat.py through the op table)

_helpers: dict[tuple[str, Optional[int], FpEnv], HelperInfo] = {}
_HELPER_FLAGS = CallFlag.NO_READ_GLOBALS | CallFlag.NO_WRITE_GLOBALS


def _read_u64(address: int) -> int:
    return ffi.cast("uint64_t *", address)[0]


def fp_helper(name: str, rm: Optional[int], fpenv: FpEnv) -> HelperInfo:
    """The exact helper of op `name` with rounding mode rm (None: the op has none; DYN: read
    frm from env): helper(env, inputs...) -> result; it ORs the exception flags into env's
    fflags itself. Pure FP value ops get a helper too (no flags)."""
    key = (name, rm, fpenv)
    helper = _helpers.get(key)
    if helper is not None:
        return helper
    opdef = OPS[name]
    if opdef.fp is None:
        fold = opdef.fold

        def run_pure(env: int, *inputs: int) -> int:
            return fold(*inputs)
        function = run_pure
    else:
        semantics = opdef.fp
        flags_offset, rm_offset = fpenv.flags_offset, fpenv.rm_offset

        def run(env: int, *inputs: int) -> int:
            mode = None if rm is None else resolve_rm(rm, _read_u64(env + rm_offset))
            value, flags = semantics(*inputs, mode)
            if flags:
                pointer = ffi.cast("uint64_t *", env + flags_offset)
                pointer[0] |= flags
            return value
        function = run
    helper = HelperInfo(f"fp_{name}" + ("" if rm is None else f"_rm{int(rm)}"),
                        1 + opdef.inputs, True, _HELPER_FLAGS, py_func=function)
    _helpers[key] = helper
    return helper


# --------------------------------------------------------------------------------------------
# The runtime: entry wrapper and the routines blocks call


class FpRuntime:
    """Native code of one FP environment layout, placed once in the code cache."""

    def __init__(self, code_buffer: CodeBuffer, encoder: Encoder, inner_entry: int,
                 fpenv: FpEnv):
        self.fpenv = fpenv
        asm = Assembler(encoder)
        table = asm.new_label()
        hooks = asm.new_label()
        flags_offset, rm_offset = fpenv.flags_offset, fpenv.rm_offset

        # entry(env, code, guest_base): rbx = env, [rsp] = host MXCSR, [rsp + 4] = scratch,
        # [rsp + 8] = the previous ENV_FPU_HOOKS.
        asm.emit("push rbx")
        asm.emit("push r12")
        asm.emit("sub rsp, %", 24)
        asm.emit("mov rbx, rdi")
        asm.emit("stmxcsr dword ptr [rsp]")
        self._emit_guest_mxcsr(asm, "rbx", rm_offset, "r8d")
        asm.emit("mov dword ptr [rsp + %], r8d", 4)
        asm.emit("ldmxcsr dword ptr [rsp + %]", 4)
        asm.emit("mov rax, qword ptr [rbx + %]", ENV_FPU_HOOKS)
        asm.emit("mov qword ptr [rsp + %], rax", 8)      # an outer run's (nested runs)
        asm.lea_rip(0, hooks)                            # rax
        asm.emit("mov qword ptr [rbx + %], rax", ENV_FPU_HOOKS)
        asm.emit("movabs rax, %", inner_entry)
        asm.emit("call rax")
        asm.emit("mov r12, rax")
        asm.emit("stmxcsr dword ptr [rsp + %]", 4)
        asm.emit("mov eax, dword ptr [rsp + %]", 4)
        self._emit_fold(asm, "rbx", flags_offset, table)
        asm.emit("mov rax, qword ptr [rsp + %]", 8)
        asm.emit("mov qword ptr [rbx + %], rax", ENV_FPU_HOOKS)
        asm.emit("ldmxcsr dword ptr [rsp]")
        asm.emit("mov rax, r12")
        asm.emit("add rsp, %", 24)
        asm.emit("pop r12")
        asm.emit("pop rbx")
        asm.emit("ret")

        # fold: env.fflags |= map(MXCSR flags); every register preserved (rbp = env).
        asm.align(16)
        fold_offset = asm.offset
        asm.emit("push rax")
        asm.emit("push rcx")
        asm.emit("sub rsp, %", 8)
        asm.emit("stmxcsr dword ptr [rsp]")
        asm.emit("mov eax, dword ptr [rsp]")
        self._emit_fold(asm, "rbp", flags_offset, table)
        asm.emit("add rsp, %", 8)
        asm.emit("pop rcx")
        asm.emit("pop rax")
        asm.emit("ret")

        # set_rm: MXCSR.RC = RC(env.frm), flags kept; every register preserved.
        asm.align(16)
        set_rm_offset = asm.offset
        for name in ("rax", "rcx", "r8", "r9"):
            asm.emit(f"push {name}")
        asm.emit("sub rsp, %", 8)
        asm.emit("stmxcsr dword ptr [rsp]")
        asm.emit("mov eax, dword ptr [rsp]")
        asm.emit("and eax, %", MXCSR_FLAGS)
        self._emit_guest_mxcsr(asm, "rbp", rm_offset, "r8d")
        asm.emit("or eax, r8d")
        asm.emit("mov dword ptr [rsp], eax")
        asm.emit("ldmxcsr dword ptr [rsp]")
        asm.emit("add rsp, %", 8)
        for name in ("r9", "r8", "rcx", "rax"):
            asm.emit(f"pop {name}")
        asm.emit("ret")

        # leave: before Python code runs from generated code (python_call_thunk): fold the
        # flags into env.fflags, MXCSR = the host default. Every register preserved.
        asm.align(16)
        leave_offset = asm.offset
        asm.emit("push rax")
        asm.emit("push rcx")
        asm.emit("sub rsp, %", 8)
        asm.emit("stmxcsr dword ptr [rsp]")
        asm.emit("mov eax, dword ptr [rsp]")
        self._emit_fold(asm, "rbp", flags_offset, table)
        asm.emit("mov dword ptr [rsp], %", MXCSR_DEFAULT)
        asm.emit("ldmxcsr dword ptr [rsp]")
        asm.emit("add rsp, %", 8)
        asm.emit("pop rcx")
        asm.emit("pop rax")
        asm.emit("ret")

        # enter: after it: MXCSR = the guest's from env (flags clear: env.fflags has them,
        # RC from frm: the Python code may have written fflags / frm). Registers preserved.
        asm.align(16)
        enter_offset = asm.offset
        for name in ("rcx", "r8", "r9"):
            asm.emit(f"push {name}")
        asm.emit("sub rsp, %", 8)
        self._emit_guest_mxcsr(asm, "rbp", rm_offset, "r8d")
        asm.emit("mov dword ptr [rsp], r8d")
        asm.emit("ldmxcsr dword ptr [rsp]")
        asm.emit("add rsp, %", 8)
        for name in ("r9", "r8", "rcx"):
            asm.emit(f"pop {name}")
        asm.emit("ret")

        asm.align(16)
        asm.bind(table)
        asm.raw(FLAG_TABLE)
        asm.align(8)
        hooks_offset = asm.offset
        asm.bind(hooks)
        asm.raw(bytes(16))                    # [leave, enter], filled in below
        address = code_buffer.allocate(asm.offset)
        code = bytearray(asm.finish(address))
        code[hooks_offset:hooks_offset + 16] = ((address + leave_offset).to_bytes(8, "little")
                                                + (address + enter_offset).to_bytes(8, "little"))
        code_buffer.write(address, bytes(code))
        self.address = address
        self.size = asm.offset
        self.fold_address = address + fold_offset
        self.set_rm_address = address + set_rm_offset
        self.entry = ffi.cast("uint64_t (*)(uint64_t, uint64_t, uint64_t)", address)

    @staticmethod
    def _emit_guest_mxcsr(asm: Assembler, env: str, rm_offset: int, out: str) -> None:
        """out (a 32-bit register other than eax/ecx/r9d) = MXCSR_DEFAULT | RC(frm) << 13;
        clobbers ecx and r9d."""
        done = asm.new_label()
        asm.emit(f"mov {out}, %", MXCSR_DEFAULT)
        asm.emit(f"mov ecx, dword ptr [{env} + %]", rm_offset)
        asm.emit("cmp ecx, %", 3)
        asm.jcc("a", done, short=True)
        asm.emit("add ecx, ecx")
        asm.emit("mov r9d, %", RC_OF_FRM_PACKED)
        asm.emit("shr r9d, cl")
        asm.emit("and r9d, %", 3)
        asm.emit("shl r9d, %", MXCSR_RC_SHIFT)
        asm.emit(f"or {out}, r9d")
        asm.bind(done)

    @staticmethod
    def _emit_fold(asm: Assembler, env: str, flags_offset: int, table) -> None:
        """eax = MXCSR: env.fflags |= the fflags bits of its exception flags. Clobbers eax,
        ecx."""
        done = asm.new_label()
        asm.emit("and eax, %", MXCSR_FLAGS)
        asm.jcc("e", done, short=True)
        asm.lea_rip(1, table)                     # rcx
        asm.emit("movzx eax, byte ptr [rcx + rax]")
        asm.emit(f"or qword ptr [{env} + %], rax", flags_offset)
        asm.bind(done)


_runtimes: dict[tuple[int, FpEnv], FpRuntime] = {}


def fp_runtime(code_buffer: CodeBuffer, encoder: Encoder, inner_entry: int,
               fpenv: FpEnv) -> FpRuntime:
    """The FP runtime of one layout for the runtime whose entry trampoline is at inner_entry
    (shared by every backend of the process, like that runtime)."""
    key = (inner_entry, fpenv)
    runtime = _runtimes.get(key)
    if runtime is None:
        runtime = FpRuntime(code_buffer, encoder, inner_entry, fpenv)
        _runtimes[key] = runtime
    return runtime


# --------------------------------------------------------------------------------------------
# Python helper calls from generated code

_thunks: dict[int, int] = {}
MAX_THUNK_ARGS = 6            # register arguments only: the thunk's frame would move stack ones


def python_call_thunk(code_buffer: CodeBuffer, encoder: Encoder, target: int) -> int:
    """The address of a function that calls `target` (a Python callback taking at most six
    arguments) with the host's MXCSR: Python code never runs with the guest's rounding mode, its
    own FP exceptions never reach the guest's flags, and - when generated code runs through an
    FpRuntime (ENV_FPU_HOOKS set) - the guest's accrued flags are in env.fflags while it runs
    (plugins read fflags/fcsr there) and MXCSR is reloaded from env after it (a callback may
    write fflags/frm). rbp is env, as everywhere in generated code."""
    address = _thunks.get(target)
    if address is not None:
        return address
    asm = Assembler(encoder)
    plain = asm.new_label()
    asm.emit("sub rsp, %", 24)                       # 16-byte aligned for the call
    asm.emit("mov rax, qword ptr [rbp + %]", ENV_FPU_HOOKS)
    asm.emit("test rax, rax")
    asm.jcc("e", plain)
    asm.emit("call qword ptr [rax]")                 # leave
    asm.emit("movabs rax, %", target)
    asm.emit("call rax")
    asm.emit("mov qword ptr [rsp], rax")
    asm.emit("mov rax, qword ptr [rbp + %]", ENV_FPU_HOOKS)
    asm.emit("call qword ptr [rax + %]", 8)          # enter
    asm.emit("mov rax, qword ptr [rsp]")
    asm.emit("add rsp, %", 24)
    asm.emit("ret")
    asm.bind(plain)
    asm.emit("stmxcsr dword ptr [rsp + %]", 8)
    asm.emit("mov dword ptr [rsp + %], %", 12, MXCSR_DEFAULT)
    asm.emit("ldmxcsr dword ptr [rsp + %]", 12)
    asm.emit("movabs rax, %", target)
    asm.emit("call rax")
    asm.emit("ldmxcsr dword ptr [rsp + %]", 8)
    asm.emit("add rsp, %", 24)
    asm.emit("ret")
    address = code_buffer.allocate(asm.offset)
    code_buffer.write(address, asm.finish(address))
    _thunks[target] = address
    return address
