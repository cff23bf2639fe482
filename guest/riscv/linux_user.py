"""The RISC-V Linux ABI between generated code and the guest process: syscall registers, code
fetch for the translator, descriptions of faulting instructions, and what plugins see of the
guest (`RiscvPluginHost`; syscall callbacks around each syscall)."""
from __future__ import annotations

import sys
from typing import Optional

from guest.errors import GuestFault
from guest.memory import GuestMemoryError
from guest.process import GuestProcess, ProcessExit
from guest.riscv.cpu import (FPR_NAMES, GPR_NAMES, OFF_FFLAGS, OFF_FRM, OFF_INSTRET, OFF_PC,
                             fpr_offset, gpr_offset)
from guest.riscv.disas import disassemble
from guest.syscalls.dispatch import do_syscall
from jit.env import ENV_CPU_INDEX
from jit.plugins import PluginApiError

REG_A0 = 10
REG_A7 = 17
ECALL_SIZE = 4


class RiscvLinuxRuntime:
    """What the dispatcher calls back into for a RISC-V Linux process."""

    pc_offset = OFF_PC
    retired_counter_offset = OFF_INSTRET

    def __init__(self, process: GuestProcess):
        self.process = process
        # The plugin core when plugins are loaded: told before and after each syscall
        # (on_syscall / on_syscall_return). A syscall that ends the process has no "after".
        self.plugins = None

    def on_syscall(self, env) -> Optional[int]:
        number = env.read_u64(gpr_offset(REG_A7))
        args = [env.read_u64(gpr_offset(REG_A0 + i)) for i in range(6)]
        plugins = self.plugins
        if plugins is not None:
            plugins.on_syscall(env.read_u64(ENV_CPU_INDEX), number, args, env.read_u64(OFF_PC))
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
        if plugins is not None:
            plugins.on_syscall_return(env.read_u64(ENV_CPU_INDEX), number, result,
                                      env.read_u64(OFF_PC))
        env.write_u64(OFF_PC, env.read_u64(OFF_PC) + ECALL_SIZE)
        return None

    def on_code_translated(self, start: int, end: int) -> None:
        self.process.memory.protect_code(start, end - start)

    def on_code_write_fault(self, addr: int) -> bool:
        return self.process.memory.unprotect_code_page(addr)

    @property
    def memory(self):
        return self.process.memory

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


# --------------------------------------------------------------------------------------------
# The guest as plugins see it

_FCSR = "fcsr"
# Register name -> env offset of the 64-bit field that holds it (fcsr is composed).
_REGISTER_OFFSETS = {
    **{name: gpr_offset(index) for index, name in enumerate(GPR_NAMES)},
    **{name: fpr_offset(index) for index, name in enumerate(FPR_NAMES)},
    "fflags": OFF_FFLAGS,
    "frm": OFF_FRM,
}
# Other names of the same registers: x0..x31, f0..f31, fp (= s0).
_REGISTER_ALIASES = {
    **{f"x{index}": name for index, name in enumerate(GPR_NAMES)},
    **{f"f{index}": name for index, name in enumerate(FPR_NAMES)},
    "fp": "s0",
}
_FFLAGS_BITS = 5
_READ_ONLY_REGISTERS = frozenset({"zero"})


class RiscvPluginHost:
    """What the plugin core (jit/plugins.py) needs to know about a RISC-V Linux guest."""

    target_name = "riscv64"
    pc_register = "pc"

    def __init__(self, process: GuestProcess):
        self.process = process

    def register_names(self) -> list[str]:
        return [*GPR_NAMES, self.pc_register, *FPR_NAMES, "fflags", "frm", _FCSR]

    @staticmethod
    def _offset(name: str) -> int:
        name = _REGISTER_ALIASES.get(name, name)
        offset = _REGISTER_OFFSETS.get(name)
        if offset is None:
            raise PluginApiError(f"no register {name!r}")
        return offset

    def read_register(self, env, name: str) -> int:
        if name == _FCSR:
            return env.read_u64(OFF_FFLAGS) | env.read_u64(OFF_FRM) << _FFLAGS_BITS
        return env.read_u64(self._offset(name))

    def write_register(self, env, name: str, value: int) -> None:
        if _REGISTER_ALIASES.get(name, name) in _READ_ONLY_REGISTERS:
            raise PluginApiError(f"register {name} cannot be written")
        if name == _FCSR:
            env.write_u64(OFF_FFLAGS, value & ((1 << _FFLAGS_BITS) - 1))
            env.write_u64(OFF_FRM, (value >> _FFLAGS_BITS) & 7)
            return
        env.write_u64(self._offset(name), value)

    def read_memory(self, vaddr: int, size: int) -> bytes:
        try:
            return self.process.memory.read(vaddr, size)
        except GuestMemoryError as error:
            raise PluginApiError(f"guest memory at {vaddr:#x} ({size} bytes) cannot be read: "
                                 f"{error}") from None

    def fetch_code(self, vaddr: int, size: int) -> bytes:
        return self.process.memory.read_executable(vaddr, size)

    def host_address(self, vaddr: int) -> int:
        return self.process.memory.host_address(vaddr)

    def disassemble(self, code: bytes, vaddr: int) -> str:
        _pc, _size, text = disassemble(code, vaddr)[0]
        return " ".join(text.split(None, 1))     # no column padding after the mnemonic

    def symbolize(self, vaddr: int) -> Optional[str]:
        """The name of the symbol containing vaddr (without offset, like QEMU's)."""
        for image in (self.process.image, self.process.interpreter):
            if image is not None:
                found = image.symbols.lookup(vaddr)
                if found is not None:
                    return found[0].name
        return None
