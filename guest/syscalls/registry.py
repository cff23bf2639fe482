"""The syscall table: number -> (name, handler, argument kinds).

Each family module has a `register_*(table)` function that registers its handlers by name,
explicitly; guest/syscalls/dispatch.py calls them in turn. The argument kinds say how -strace
prints each argument and the result (guest/syscalls/strace.py).

A handler is `handler(process, args) -> int`: `args` holds the six raw u64 argument registers
a0..a5; the result is the value for a0, a negative result meaning -errno. Handlers may raise
GuestMemoryError (-> -EFAULT), GuestStringTooLong (-> -ENAMETOOLONG) or OSError (-> -errno
translated from the host), and ProcessExit to end the process.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Iterator

from guest.syscalls.numbers import SYSCALL_NUMBERS

if TYPE_CHECKING:
    from guest.process import GuestProcess

SyscallHandler = Callable[["GuestProcess", list[int]], int]

U64_MASK = (1 << 64) - 1


class ArgKind(enum.Enum):
    """What an argument (or the result) means, for -strace (guest/syscalls/strace.py formats
    each kind; the table below says which kind each argument of each syscall has)."""
    INT = "int"                 # signed decimal (C int / long)
    UINT = "uint"               # unsigned decimal: sizes, counts
    HEX = "hex"                 # flags and masks without a symbolic table, addresses as numbers
    OCTAL = "octal"             # file modes (umask, mkdirat)
    FD = "fd"                   # file descriptor (C int)
    DIRFD = "dirfd"             # fd for *at() syscalls: AT_FDCWD or a number
    PTR = "ptr"                 # guest address of a struct, 0x%016x or NULL
    STRING = "string"           # guest address of a NUL-terminated string (paths)
    IN_BUFFER = "in_buffer"     # guest bytes the kernel reads (printed as a bare address)
    OUT_BUFFER = "out_buffer"   # guest bytes the kernel writes (printed as a bare address)
    IOVEC = "iovec"             # guest address of {u64 base, u64 len}[]; count in the next argument
    OPEN_FLAGS = "open_flags"   # O_RDONLY|O_CLOEXEC...
    OPEN_MODE = "open_mode"     # octal, shown only when the flags before it create a file
    AT_FLAGS = "at_flags"       # AT_EMPTY_PATH|AT_SYMLINK_NOFOLLOW|AT_EACCESS...
    UNLINK_FLAGS = "unlink_flags"  # AT_REMOVEDIR (the same bit as AT_EACCESS)
    ACCESS_MODE = "access_mode"  # F_OK or R_OK|W_OK|X_OK
    PROT = "prot"               # PROT_READ|PROT_WRITE...
    MAP_FLAGS = "map_flags"     # MAP_PRIVATE|MAP_ANONYMOUS...
    SIGNAL = "signal"           # SIGABRT...
    SIGMASK_HOW = "sigmask_how"  # SIG_BLOCK / SIG_UNBLOCK / SIG_SETMASK
    CLOCK = "clock"             # CLOCK_REALTIME...
    WHENCE = "whence"           # SEEK_SET...
    FCNTL_CMD = "fcntl_cmd"     # F_GETFL...
    FUTEX_OP = "futex_op"       # FUTEX_WAIT|FUTEX_PRIVATE_FLAG...
    MADVICE = "madvice"         # MADV_DONTNEED...
    RESOURCE = "resource"       # RLIMIT_STACK...
    NORETURN = "noreturn"       # result kind of exit/exit_group: the line ends before the call


@dataclass(frozen=True)
class SyscallSpec:
    number: int
    name: str
    handler: SyscallHandler
    arg_kinds: tuple[ArgKind, ...]
    result_kind: ArgKind = ArgKind.INT


class SyscallTable:
    def __init__(self) -> None:
        self._by_number: dict[int, SyscallSpec] = {}

    def register(self, name: str, handler: SyscallHandler, arg_kinds: tuple[ArgKind, ...],
                 result_kind: ArgKind = ArgKind.INT) -> None:
        """Register `handler` for the RISC-V 64 syscall called `name` (its number comes from
        the asm-generic table). Registering a name twice is a bug and raises ValueError."""
        number = SYSCALL_NUMBERS.get(name)
        if number is None:
            raise ValueError(f"no RISC-V 64 syscall named {name!r}")
        if number in self._by_number:
            raise ValueError(f"syscall {name} ({number}) is registered twice")
        if len(arg_kinds) > 6:
            raise ValueError(f"syscall {name}: more than 6 arguments")
        self._by_number[number] = SyscallSpec(number, name, handler, tuple(arg_kinds),
                                              result_kind)

    def lookup(self, number: int) -> SyscallSpec | None:
        return self._by_number.get(number)

    def __contains__(self, number: int) -> bool:
        return number in self._by_number

    def __len__(self) -> int:
        return len(self._by_number)

    def __iter__(self) -> Iterator[SyscallSpec]:
        return iter(sorted(self._by_number.values(), key=lambda spec: spec.number))


def as_int32(value: int) -> int:
    """A register value read as a C int (fds, counts declared int)."""
    value &= 0xFFFFFFFF
    return value - (1 << 32) if value & 0x80000000 else value


def as_int64(value: int) -> int:
    value &= U64_MASK
    return value - (1 << 64) if value & (1 << 63) else value
