"""The exit protocol: every way out of generated code returns one u64 to the dispatcher.

Bits 0-3: the ExitKind; bits 4-7: the goto_tb slot (CHAIN only); bits 8-63: the id of the block
that exited (CHAIN only), so that the dispatcher can patch that slot into a direct jump.
In every case env.pc holds the guest pc to continue at (or of the instruction concerned).
"""
from __future__ import annotations

import enum


class ExitKind(enum.IntEnum):
    CHAIN = 0      # direct jump out of goto_tb slot n; env.pc = next guest pc
    LOOKUP = 1     # indirect jump (jalr, return); env.pc = next guest pc
    SYSCALL = 2    # ecall; env.pc = the ecall's pc
    ILLEGAL = 3    # illegal instruction at env.pc
    FAULT = 4      # guest memory fault: env.fault_addr; env.fault_host_pc locates the guest pc
    BREAK = 5      # ebreak at env.pc
    STOP = 6       # exit_request seen, or a Python callback asked the guest to stop
    MISALIGNED = 7  # misaligned atomic access: env.fault_addr, env.pc = the instruction (SIGBUS)
    SYNC_ICACHE = 8  # fence.i: translated code may be stale; env.pc = the next instruction


# Direct exits (goto_tb slots) a block may have: the exit value has 4 bits for the slot.
MAX_EXIT_SLOTS = 16


def encode_exit(kind: ExitKind, slot: int = 0, block_id: int = 0) -> int:
    return int(kind) | (slot << 4) | (block_id << 8)


def decode_exit(value: int) -> tuple[ExitKind, int, int]:
    return ExitKind(value & 0xF), (value >> 4) & 0xF, value >> 8
