"""The RISC-V Linux ABI between generated code and the guest process: syscall registers, code
fetch for the translator, and descriptions of faulting instructions."""
from __future__ import annotations

import sys
from typing import Optional

from guest.errors import GuestFault
from guest.memory import GuestMemoryError
from guest.process import GuestProcess, ProcessExit
from guest.riscv.cpu import OFF_PC, gpr_offset
from guest.syscalls.dispatch import do_syscall

REG_A0 = 10
REG_A7 = 17
ECALL_SIZE = 4


class RiscvLinuxRuntime:
    """What the dispatcher calls back into for a RISC-V Linux process."""

    pc_offset = OFF_PC

    def __init__(self, process: GuestProcess):
        self.process = process

    def on_syscall(self, env) -> Optional[int]:
        number = env.read_u64(gpr_offset(REG_A7))
        args = [env.read_u64(gpr_offset(REG_A0 + i)) for i in range(6)]
        try:
            result = do_syscall(self.process, number, args)
        except ProcessExit as exit_:
            if exit_.message:
                # Killed by a signal (abort), or a deadlock: say why, in one line.
                sys.stdout.flush()
                sys.stderr.write(f"tcgjit: {exit_.message}\n")
                sys.stderr.flush()
            return exit_.status
        env.write_u64(gpr_offset(REG_A0), result)
        env.write_u64(OFF_PC, env.read_u64(OFF_PC) + ECALL_SIZE)
        return None

    def fetch_code(self, pc: int, size: int) -> bytes:
        """Guest code bytes for the translator; GuestFault where they are not executable."""
        try:
            return self.process.memory.read_executable(pc, size)
        except GuestMemoryError as error:
            raise GuestFault(error.address) from None

    def describe_illegal(self, pc: int) -> str:
        memory = self.process.memory
        try:
            low = int.from_bytes(memory.read(pc, 2), "little")
            if low & 3 != 3:
                return f"insn {low:#06x}"
            return f"insn {int.from_bytes(memory.read(pc, 4), 'little'):#010x}"
        except GuestMemoryError:
            return "insn unreadable"
