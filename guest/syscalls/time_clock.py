"""Time syscalls: clock_gettime, clock_getres, gettimeofday, nanosleep, clock_nanosleep.

Clock ids are the same on the guest and the host (asm-generic and x86-64 share them, including
the negative ids of per-process CPU clocks), so they are passed through; the host rejects the
ones it does not know with EINVAL. Times are read from the host clocks, so the guest sees real
time; its CPU-time clocks include the translator's own work.
"""
from __future__ import annotations

import time
from typing import TYPE_CHECKING

from guest.errno_riscv import EINTR, EINVAL, host_errno_to_guest
from guest.syscalls import host_calls
from guest.syscalls.guest_abi import (
    CLOCK_MONOTONIC, NSEC_PER_SEC, TIMER_ABSTIME, TIMESPEC, TIMEVAL, TIMEZONE,
)
from guest.syscalls.registry import ArgKind, SyscallTable, as_int32

if TYPE_CHECKING:
    from guest.process import GuestProcess

HOST_EINTR = 4


def sys_clock_gettime(process: GuestProcess, args: list[int]) -> int:
    process.memory.check_writable(args[1], TIMESPEC.size)
    seconds, nanoseconds = divmod(time.clock_gettime_ns(as_int32(args[0])), NSEC_PER_SEC)
    process.memory.write(args[1], TIMESPEC.pack(seconds, nanoseconds))
    return 0


def sys_clock_getres(process: GuestProcess, args: list[int]) -> int:
    resolution = host_calls.clock_getres(as_int32(args[0]))
    if args[1]:                               # NULL: only checks the clock id
        process.memory.write(args[1], TIMESPEC.pack(*resolution))
    return 0


def sys_gettimeofday(process: GuestProcess, args: list[int]) -> int:
    if args[0]:
        seconds, nanoseconds = divmod(time.time_ns(), NSEC_PER_SEC)
        process.memory.write(args[0], TIMEVAL.pack(seconds, nanoseconds // 1000))
    if args[1]:
        # The kernel's timezone is set by nobody nowadays: zero, what Linux reports.
        process.memory.write(args[1], TIMEZONE.pack(0, 0))
    return 0


def _sleep(process: GuestProcess, clock: int, flags: int, request_address: int,
           remaining_address: int) -> int:
    """Sleep as asked; returns 0, or the positive guest errno (clock_nanosleep's convention)."""
    seconds, nanoseconds = TIMESPEC.unpack(process.memory.read(request_address, TIMESPEC.size))
    if seconds < 0 or not 0 <= nanoseconds < NSEC_PER_SEC:
        return EINVAL
    if remaining_address and not flags & TIMER_ABSTIME:
        process.memory.check_writable(remaining_address, TIMESPEC.size)
    error, remaining = host_calls.clock_nanosleep(clock, flags, seconds, nanoseconds)
    if error == HOST_EINTR:
        # Interrupted by a host signal (e.g. Ctrl-C, which then stops the run).
        if remaining_address and not flags & TIMER_ABSTIME:
            process.memory.write(remaining_address, TIMESPEC.pack(*remaining))
        return EINTR
    return host_errno_to_guest(error) if error else 0


def sys_nanosleep(process: GuestProcess, args: list[int]) -> int:
    # Linux measures nanosleep against CLOCK_MONOTONIC.
    return -_sleep(process, CLOCK_MONOTONIC, 0, args[0], args[1])


def sys_clock_nanosleep(process: GuestProcess, args: list[int]) -> int:
    # Linux looks at TIMER_ABSTIME only and ignores the other flag bits.
    flags = as_int32(args[1]) & TIMER_ABSTIME
    return -_sleep(process, as_int32(args[0]), flags, args[2], args[3])


def register_time_clock(table: SyscallTable) -> None:
    table.register("clock_gettime", sys_clock_gettime, (ArgKind.CLOCK, ArgKind.PTR))
    table.register("clock_getres", sys_clock_getres, (ArgKind.CLOCK, ArgKind.PTR))
    table.register("gettimeofday", sys_gettimeofday, (ArgKind.PTR, ArgKind.PTR))
    table.register("nanosleep", sys_nanosleep, (ArgKind.PTR, ArgKind.PTR))
    table.register("clock_nanosleep", sys_clock_nanosleep,
                   (ArgKind.CLOCK, ArgKind.HEX, ArgKind.PTR, ArgKind.PTR))
