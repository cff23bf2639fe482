"""Linux syscalls for the RISC-V 64 guest. Entry point: do_syscall(process, nr, args)."""
from guest.process import GuestDeadlock, GuestKilled, ProcessExit
from guest.syscalls.dispatch import SYSCALLS, build_syscall_table, do_syscall
from guest.syscalls.registry import ArgKind, SyscallSpec, SyscallTable

__all__ = ["ArgKind", "GuestDeadlock", "GuestKilled", "ProcessExit", "SYSCALLS", "SyscallSpec",
           "SyscallTable", "build_syscall_table", "do_syscall"]
