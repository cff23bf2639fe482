"""x86-64 register numbers (hardware encoding), names per width, and the backend's register roles."""
from __future__ import annotations

RAX, RCX, RDX, RBX, RSP, RBP, RSI, RDI = range(8)
R8, R9, R10, R11, R12, R13, R14, R15 = range(8, 16)

NAMES_64 = ("rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
            "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15")
NAMES_32 = ("eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi",
            "r8d", "r9d", "r10d", "r11d", "r12d", "r13d", "r14d", "r15d")
NAMES_16 = ("ax", "cx", "dx", "bx", "sp", "bp", "si", "di",
            "r8w", "r9w", "r10w", "r11w", "r12w", "r13w", "r14w", "r15w")
NAMES_8 = ("al", "cl", "dl", "bl", "spl", "bpl", "sil", "dil",
           "r8b", "r9b", "r10b", "r11b", "r12b", "r13b", "r14b", "r15b")
NAMES_BY_BITS = {64: NAMES_64, 32: NAMES_32, 16: NAMES_16, 8: NAMES_8}
PTR_SIZE_BY_BITS = {64: "qword", 32: "dword", 16: "word", 8: "byte"}

# Pinned for the life of generated code (both callee-saved, so helper calls keep them).
ENV_REG = RBP          # the CPU state pointer
GUEST_BASE_REG = R14   # host address of guest address 0

# Allocation order in TCG's style: callee-saved registers first (they survive helper calls),
# then the caller-saved ones, with the registers that instructions use implicitly (rcx for
# shift counts, rdx/rax for mul/div, rdi/rsi for arguments) last.
ALLOCATION_ORDER = (RBX, R12, R13, R15, R10, R11, R9, R8, RSI, RDI, RCX, RDX, RAX)
CALLER_SAVED = (RAX, RCX, RDX, RSI, RDI, R8, R9, R10, R11)
CALLEE_SAVED_PRESERVED = (RBX, RBP, R12, R13, R14, R15)
ARGUMENT_REGS = (RDI, RSI, RDX, RCX, R8, R9)


def mask_of(*regs: int) -> int:
    mask = 0
    for reg in regs:
        mask |= 1 << reg
    return mask


ALLOCATABLE_MASK = mask_of(*ALLOCATION_ORDER)
CALLER_SAVED_MASK = mask_of(*CALLER_SAVED)


def r64(reg: int) -> str:
    return NAMES_64[reg]


def r32(reg: int) -> str:
    return NAMES_32[reg]


def r16(reg: int) -> str:
    return NAMES_16[reg]


def r8(reg: int) -> str:
    return NAMES_8[reg]


def reg_name(reg: int, bits: int) -> str:
    return NAMES_BY_BITS[bits][reg]
