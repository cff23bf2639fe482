"""do_syscall: run one guest syscall and produce the value for a0.

The dispatcher calls it when generated code exits with ExitKind.SYSCALL (env.pc = the ecall):
    nr = env a7 (x17); args = [a0, a1, a2, a3, a4, a5] (x10..x15), raw u64 values
    result = do_syscall(process, nr, args)           # may raise ProcessExit (or a subclass)
    env a0 (x10) = result & (2**64 - 1); env.pc += 4  # ecall is always 4 bytes

With process.strace set to a text stream, every call is also printed there the way qemu's
-strace does (guest/syscalls/strace.py).
"""
from __future__ import annotations

import sys
from typing import TYPE_CHECKING, TextIO

from guest.errno_riscv import EFAULT, EIO, ENAMETOOLONG, ENOSYS, host_errno_to_guest
from guest.memory import GuestMemoryError, GuestStringTooLong
from guest.process import GuestKilled, ProcessExit
from guest.syscalls import strace
from guest.syscalls.fd_ctl import register_fd_ctl
from guest.syscalls.fs_io import register_fs_io
from guest.syscalls.fs_paths import register_fs_paths
from guest.syscalls.futex import register_futex
from guest.syscalls.memory_mgmt import register_memory_mgmt
from guest.syscalls.process_ctl import register_process_ctl
from guest.syscalls.registry import ArgKind, SyscallSpec, SyscallTable
from guest.syscalls.signals import register_signals
from guest.syscalls.system_info import register_system_info
from guest.syscalls.time_clock import register_time_clock

if TYPE_CHECKING:
    from guest.process import GuestProcess


def build_syscall_table() -> SyscallTable:
    """The table of every implemented syscall, family by family."""
    table = SyscallTable()
    register_fs_io(table)
    register_fs_paths(table)
    register_fd_ctl(table)
    register_memory_mgmt(table)
    register_process_ctl(table)
    register_futex(table)
    register_signals(table)
    register_time_clock(table)
    register_system_info(table)
    return table


SYSCALLS = build_syscall_table()


def _warn_unsupported(process: GuestProcess, number: int) -> None:
    if number in process.warned_syscalls:
        return
    process.warned_syscalls.add(number)
    try:
        print(f"tcgjit: unsupported syscall {number}", file=sys.stderr, flush=True)
    except (OSError, ValueError):      # the guest closed fd 2: the warning is best effort
        pass


def _run(process: GuestProcess, spec: SyscallSpec | None, number: int, args: list[int]) -> int:
    if spec is None:
        _warn_unsupported(process, number)
        return -ENOSYS
    try:
        return spec.handler(process, args)
    except GuestMemoryError:
        return -EFAULT
    except GuestStringTooLong:
        return -ENAMETOOLONG
    except OSError as error:
        return -(host_errno_to_guest(error.errno) if error.errno else EIO)


def _emit(stream: TextIO, text: str) -> None:
    try:
        stream.write(text)
        stream.flush()
    except (OSError, ValueError):      # a closed trace stream must not stop the guest
        pass


def _run_traced(process: GuestProcess, stream: TextIO, spec: SyscallSpec | None, number: int,
                args: list[int]) -> int:
    # The call is formatted before it runs: it may overwrite the strings it reads.
    call = f"{process.pid} {strace.format_call(process, spec, number, args)}"
    no_return = spec is not None and spec.result_kind is ArgKind.NORETURN
    _emit(stream, call + "\n" if no_return else call)
    try:
        result = _run(process, spec, number, args)
    except GuestKilled as killed:
        # The signal the call sent (kill, tgkill) or unblocked (rt_sigprocmask) is taken after
        # it returned successfully.
        _emit(stream, " = 0\n" + strace.format_signal(killed.signo))
        raise
    except ProcessExit:
        if not no_return:
            _emit(stream, " = ?\n")
        raise
    _emit(stream, f" = {strace.format_result(spec, result)}\n")
    return result


def do_syscall(process: GuestProcess, number: int, args: list[int],
               table: SyscallTable = SYSCALLS) -> int:
    """Run syscall `number` with the raw argument registers `args` (a0..a5).

    Returns the a0 value as a Python int: >= 0 on success, -errno (RISC-V/asm-generic numbers)
    on failure; mask it to 64 bits when storing. Unknown numbers give -ENOSYS and one
    "tcgjit: unsupported syscall N" line on stderr per number. exit/exit_group set
    process.exit_status and raise ProcessExit(status); a fatal signal the guest sends itself
    raises GuestKilled, a wait nothing can end GuestDeadlock (both ProcessExit subclasses with
    a message for the CLI).
    """
    spec = table.lookup(number)
    stream = process.strace
    if stream is not None:
        return _run_traced(process, stream, spec, number, args)
    return _run(process, spec, number, args)
