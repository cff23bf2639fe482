"""The RISC-V CPU state layout inside env (offsets from the env pointer), and its IR globals."""
from __future__ import annotations

from jit.ir import GlobalSet

XLEN_BYTES = 8
GPR_NAMES = ("zero", "ra", "sp", "gp", "tp", "t0", "t1", "t2", "s0", "s1",
             "a0", "a1", "a2", "a3", "a4", "a5", "a6", "a7",
             "s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9", "s10", "s11",
             "t3", "t4", "t5", "t6")
FPR_NAMES = ("ft0", "ft1", "ft2", "ft3", "ft4", "ft5", "ft6", "ft7", "fs0", "fs1",
             "fa0", "fa1", "fa2", "fa3", "fa4", "fa5", "fa6", "fa7",
             "fs2", "fs3", "fs4", "fs5", "fs6", "fs7", "fs8", "fs9", "fs10", "fs11",
             "ft8", "ft9", "ft10", "ft11")

OFF_X = 0                      # x0..x31, 8 bytes each (x0 is always 0 and never written)
OFF_PC = 256
OFF_F = 264                    # f0..f31, 8 bytes each (single values NaN-boxed)
OFF_FFLAGS = 520               # u64: accrued exception flags (fcsr bits 0-4)
OFF_FRM = 528                  # u64: dynamic rounding mode (fcsr bits 5-7)
OFF_INSTRET = 536              # u64: retired instructions, where counted
OFF_RESERVATION = 544          # u64: LR/SC reservation address (all ones: none)
OFF_RESERVATION_VALUE = 552    # u64: value loaded by LR
ENV_ARCH_SIZE = 1024           # bytes of guest state (room to grow)

NO_RESERVATION = (1 << 64) - 1  # OFF_RESERVATION when no LR reservation is held
# Fields whose value at process start is not 0: whoever creates a RISC-V env writes these.
INITIAL_FIELD_VALUES = {OFF_RESERVATION: NO_RESERVATION}


def gpr_offset(index: int) -> int:
    return OFF_X + XLEN_BYTES * index


def fpr_offset(index: int) -> int:
    return OFF_F + 8 * index


def make_globals() -> GlobalSet:
    """The IR globals of the RISC-V guest: x1..x31 (x0 is not a global: it reads as 0), pc, and
    instret (the retired-instruction counter, which a loop inside a block counts in a host
    register, see jit/translator.py RetiredInsnCounter)."""
    globals_ = GlobalSet()
    for index in range(1, 32):
        globals_.add(GPR_NAMES[index], gpr_offset(index))
    globals_.add("pc", OFF_PC)
    globals_.add("instret", OFF_INSTRET)
    return globals_
