"""Wires the layers together for one guest program: guest process -> frontend -> pipeline ->
backend -> dispatcher, and turns the ways a run can end into statuses and one-line messages."""
from __future__ import annotations

import sys
from typing import Optional, TextIO

from guest.elf_loader import GuestLoadError
from guest.process import GuestProcess
from guest.riscv.cpu import ENV_ARCH_SIZE, INITIAL_FIELD_VALUES, OFF_PC, gpr_offset, make_globals
from guest.riscv.linux_user import RiscvLinuxRuntime
from guest.riscv.translate import GuestFault, RiscvFrontend
from host_x86.backend import X86Backend
from jit.cpustate import CpuEnv
from jit.dispatch import Dispatcher, GuestSignal
from jit.pipeline import DebugLog, Pipeline

SP = 2


class MachineError(Exception):
    """The program cannot be started (missing file, not a RISC-V ELF, ...): one-line message."""


class Machine:
    def __init__(self, process: GuestProcess, log: DebugLog):
        self.process = process
        self.env = CpuEnv(ENV_ARCH_SIZE)
        self.runtime = RiscvLinuxRuntime(process)
        self.frontend = RiscvFrontend(make_globals(), self.runtime.fetch_code)
        self.backend = X86Backend(guest_base=process.memory.base)
        self.pipeline = Pipeline(self.frontend, self.backend, log)
        self.dispatcher = Dispatcher(self.pipeline, self.backend, self.env, self.runtime,
                                     fetch_fault_types=(GuestFault,))
        for offset, value in INITIAL_FIELD_VALUES.items():
            self.env.write_u64(offset, value)
        self.env.write_u64(OFF_PC, process.entry)
        # Code the guest unmaps, re-protects or rewrites through a syscall must be retranslated.
        process.memory.add_change_listener(
            lambda addr, size, _kind: self.dispatcher.invalidate_range(addr, addr + size))
        self.env.write_u64(gpr_offset(SP), process.initial_sp)

    @classmethod
    def create(cls, path: str, argv: list[str], envp: list[str],
               log_stream: Optional[TextIO] = None, log_items=frozenset(), options=None):
        try:
            process = GuestProcess.load(path, argv, envp,
                                        sysroot=options.sysroot if options else None)
        except GuestLoadError as error:
            raise MachineError(f"cannot run {path}: {error}") from None
        if options is not None and options.strace:
            process.strace = sys.stderr
        if log_stream is not None and log_stream is not sys.stderr:
            # The guest must not write into (or close) the log file tcgjit writes its dumps to.
            process.reserved_host_fds.add(log_stream.fileno())
        return cls(process, DebugLog(log_stream, frozenset(log_items)))

    def run(self) -> int:
        """Run to the end; print the one-line reason of an abnormal end; return the status."""
        try:
            return self.dispatcher.run()
        except GuestSignal as guest_signal:
            sys.stdout.flush()
            sys.stderr.write(f"tcgjit: {guest_signal.message()}\n")
            return guest_signal.exit_status
        except KeyboardInterrupt:
            sys.stderr.write("tcgjit: interrupted\n")
            return 130
