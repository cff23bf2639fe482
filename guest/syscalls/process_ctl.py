"""Process and thread control: exit, exit_group, set_tid_address, set/get_robust_list, rseq,
process ids and groups, sessions, resource limits and usage."""
from __future__ import annotations

import os
from typing import TYPE_CHECKING

from guest.errno_riscv import EINVAL, ENOSYS, EPERM, ESRCH
from guest.process import ProcessExit
from guest.syscalls import host_calls
from guest.syscalls.guest_abi import (
    RLIM_NLIMITS, RLIMIT, RLIMIT_AS, RLIMIT_DATA, RLIMIT_STACK, RUSAGE,
    RUSAGE_CHILDREN, RUSAGE_SELF, RUSAGE_THREAD,
)
from guest.syscalls.registry import ArgKind, SyscallTable, as_int32

if TYPE_CHECKING:
    from guest.process import GuestProcess

# Limits that describe the address space or stack of the process: the host's apply to the
# Python process running the JIT (whose reservation alone is 256 GiB), so the guest's values are
# only recorded and reported back, as qemu does.
GUEST_ONLY_RLIMITS = frozenset({RLIMIT_AS, RLIMIT_DATA, RLIMIT_STACK})


def _end_process(process: GuestProcess, raw_status: int) -> int:
    # Only the low 8 bits of the status reach the parent (WEXITSTATUS).
    status = raw_status & 0xFF
    process.exit_status = status
    raise ProcessExit(status)


def sys_exit(process: GuestProcess, args: list[int]) -> int:
    # Ends the calling thread; the process has a single thread, so it ends the process. With
    # threads (clone), this must end only the thread and clear/wake clear_child_tid.
    return _end_process(process, args[0])


def sys_exit_group(process: GuestProcess, args: list[int]) -> int:
    return _end_process(process, args[0])


def sys_set_tid_address(process: GuestProcess, args: list[int]) -> int:
    process.clear_child_tid = args[0]
    return process.tid


def sys_set_robust_list(process: GuestProcess, args: list[int]) -> int:
    # qemu-riscv64 answers ENOSYS (it cannot let the host kernel walk guest robust lists), and
    # glibc then takes another path at start-up: answering the same keeps the two runs
    # instruction for instruction identical (instruction counts are compared with qemu's).
    # Quietly, as for rseq: glibc always asks.
    return -ENOSYS


def sys_get_robust_list(process: GuestProcess, args: list[int]) -> int:
    pid = as_int32(args[0])
    if pid not in (0, process.tid):
        return -ESRCH
    process.memory.write_u64(args[1], process.robust_list_head)
    process.memory.write_u64(args[2], process.robust_list_length)
    return 0


def sys_rseq(process: GuestProcess, args: list[int]) -> int:
    # Restartable sequences need the kernel to rewrite the guest pc on preemption; like qemu,
    # answer ENOSYS, which glibc takes as "rseq unavailable" (quietly: glibc always asks).
    return -ENOSYS


def sys_getpid(process: GuestProcess, args: list[int]) -> int:
    return process.pid


def sys_gettid(process: GuestProcess, args: list[int]) -> int:
    return process.tid


def sys_getppid(process: GuestProcess, args: list[int]) -> int:
    return os.getppid()


def sys_getpgid(process: GuestProcess, args: list[int]) -> int:
    return os.getpgid(as_int32(args[0]))


def sys_setpgid(process: GuestProcess, args: list[int]) -> int:
    os.setpgid(as_int32(args[0]), as_int32(args[1]))
    return 0


def sys_getsid(process: GuestProcess, args: list[int]) -> int:
    return os.getsid(as_int32(args[0]))


def sys_setsid(process: GuestProcess, args: list[int]) -> int:
    os.setsid()
    return os.getsid(0)                      # the new session's id


# --- resource limits ------------------------------------------------------------------------------

def _limits(process: GuestProcess, pid: int, resource: int,
            new_limit: tuple[int, int] | None) -> tuple[int, int] | int:
    """Set (if new_limit) and return the old (soft, hard) limit, or -errno. Rlimit values are
    u64 on both sides, RLIM_INFINITY being all ones on both."""
    if not 0 <= resource < RLIM_NLIMITS:
        return -EINVAL
    if new_limit is not None and new_limit[0] > new_limit[1]:
        return -EINVAL
    own = pid in (0, process.pid)
    if own and resource in GUEST_ONLY_RLIMITS:
        old = process.guest_only_rlimits.get(resource)
        if old is None:
            old = host_calls.prlimit(0, resource, None)
        if new_limit is not None:
            if new_limit[1] > old[1] and os.geteuid() != 0:
                return -EPERM                # raising the hard limit needs privilege
            process.guest_only_rlimits[resource] = new_limit
        return old
    return host_calls.prlimit(0 if own else pid, resource, new_limit)


def _read_rlimit(process: GuestProcess, address: int) -> tuple[int, int] | None:
    if address == 0:
        return None
    return RLIMIT.unpack(process.memory.read(address, RLIMIT.size))


def sys_prlimit64(process: GuestProcess, args: list[int]) -> int:
    new_limit = _read_rlimit(process, args[2])
    if args[3]:
        process.memory.check_writable(args[3], RLIMIT.size)
    old = _limits(process, as_int32(args[0]), as_int32(args[1]), new_limit)
    if isinstance(old, int):
        return old
    if args[3]:
        process.memory.write(args[3], RLIMIT.pack(*old))
    return 0


def sys_getrlimit(process: GuestProcess, args: list[int]) -> int:
    process.memory.check_writable(args[1], RLIMIT.size)
    old = _limits(process, 0, as_int32(args[0]), None)
    if isinstance(old, int):
        return old
    process.memory.write(args[1], RLIMIT.pack(*old))
    return 0


def sys_setrlimit(process: GuestProcess, args: list[int]) -> int:
    new_limit = RLIMIT.unpack(process.memory.read(args[1], RLIMIT.size))
    old = _limits(process, 0, as_int32(args[0]), new_limit)
    return old if isinstance(old, int) else 0


def sys_getrusage(process: GuestProcess, args: list[int]) -> int:
    who = as_int32(args[0])
    if who not in (RUSAGE_SELF, RUSAGE_CHILDREN, RUSAGE_THREAD):
        return -EINVAL
    process.memory.check_writable(args[1], RUSAGE.size)
    # The host's numbers include the JIT's own work: the guest runs inside it.
    process.memory.write(args[1], RUSAGE.pack(*host_calls.getrusage(who)))
    return 0


def register_process_ctl(table: SyscallTable) -> None:
    table.register("exit", sys_exit, (ArgKind.INT,), ArgKind.NORETURN)
    table.register("exit_group", sys_exit_group, (ArgKind.INT,), ArgKind.NORETURN)
    table.register("set_tid_address", sys_set_tid_address, (ArgKind.PTR,))
    table.register("set_robust_list", sys_set_robust_list, (ArgKind.PTR, ArgKind.UINT))
    table.register("get_robust_list", sys_get_robust_list,
                   (ArgKind.INT, ArgKind.PTR, ArgKind.PTR))
    table.register("rseq", sys_rseq, (ArgKind.PTR, ArgKind.UINT, ArgKind.HEX, ArgKind.HEX))
    table.register("getpid", sys_getpid, ())
    table.register("gettid", sys_gettid, ())
    table.register("getppid", sys_getppid, ())
    table.register("getpgid", sys_getpgid, (ArgKind.INT,))
    table.register("setpgid", sys_setpgid, (ArgKind.INT, ArgKind.INT))
    table.register("getsid", sys_getsid, (ArgKind.INT,))
    table.register("setsid", sys_setsid, ())
    table.register("prlimit64", sys_prlimit64,
                   (ArgKind.INT, ArgKind.RESOURCE, ArgKind.PTR, ArgKind.PTR))
    table.register("getrlimit", sys_getrlimit, (ArgKind.RESOURCE, ArgKind.PTR))
    table.register("setrlimit", sys_setrlimit, (ArgKind.RESOURCE, ArgKind.PTR))
    table.register("getrusage", sys_getrusage, (ArgKind.INT, ArgKind.PTR))
