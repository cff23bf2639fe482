"""File descriptor control: fcntl, dup, dup3, pipe2, ioctl.

Guest fds are host fds. New fds are made with the raw host calls (fcntl F_DUPFD, dup2/dup3,
pipe2) rather than Python's os.dup/os.pipe, which would add FD_CLOEXEC behind the guest's back.
The fds the process reserves for the JIT cannot be targets of dup3 or duplicated.

ioctl is table driven: each supported request says whether its argument is a value, a struct
the kernel reads or a struct it writes, and how the struct converts between the guest layout
(guest_abi) and the host's. Other requests give -ENOTTY, what Linux answers for a request a
device does not know.
"""
from __future__ import annotations

import enum
import fcntl
import os
import struct
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

from guest.errno_riscv import EBADF, EINVAL, ENOTTY
from guest.syscalls.guest_abi import (
    C_INT, F_ADD_SEALS, F_DUPFD, F_DUPFD_CLOEXEC, F_GET_SEALS, F_GETFD, F_GETFL, F_GETLK,
    F_GETOWN, F_GETPIPE_SZ, F_GETSIG, F_OFD_GETLK, F_OFD_SETLK, F_OFD_SETLKW, F_SETFD, F_SETFL,
    F_SETLK, F_SETLKW, F_SETOWN, F_SETPIPE_SZ, F_SETSIG, FIOCLEX, FIONBIO, FIONCLEX, FIONREAD,
    FLOCK, O_CLOEXEC, O_DIRECT, O_NONBLOCK, TCFLSH, TCGETS, TCSBRK, TCSETS, TCSETSF, TCSETSW,
    TCXONC, TERMIOS, TIOCGPGRP, TIOCGWINSZ, TIOCSPGRP, TIOCSWINSZ, WINSIZE,
)
from guest.syscalls.registry import ArgKind, SyscallTable, as_int32

if TYPE_CHECKING:
    from guest.process import GuestProcess

# x86-64 layouts of the structs these calls exchange with the host.
HOST_TERMIOS = struct.Struct("<IIIIB19s")
HOST_WINSIZE = struct.Struct("<HHHH")
HOST_INT = struct.Struct("<i")
HOST_FLOCK = struct.Struct("<hh4xqqi4x")


def _convert(source: struct.Struct, target: struct.Struct) -> Callable[[bytes], bytes]:
    """Field-by-field conversion between two layouts of the same struct."""
    return lambda data: target.pack(*source.unpack(data))


# --- fcntl ----------------------------------------------------------------------------------------

# Commands whose argument and result are plain ints, passed to the host as they are.
_INT_FCNTL_COMMANDS = frozenset({F_GETFD, F_SETFD, F_GETFL, F_SETFL, F_SETOWN, F_GETOWN,
                                 F_SETSIG, F_GETSIG, F_SETPIPE_SZ, F_GETPIPE_SZ, F_ADD_SEALS,
                                 F_GET_SEALS})
# Record locks: the guest's struct flock goes in, and comes back for the GETLK forms.
_LOCK_FCNTL_COMMANDS = frozenset({F_GETLK, F_SETLK, F_SETLKW, F_OFD_GETLK, F_OFD_SETLK,
                                  F_OFD_SETLKW})
_GETLK_COMMANDS = frozenset({F_GETLK, F_OFD_GETLK})


def _dup_at_least(fd: int, minimum: int, cloexec: bool) -> int:
    if minimum < 0:
        return -EINVAL
    # The host picks the lowest free fd >= minimum; reserved fds are open, so never picked.
    return fcntl.fcntl(fd, F_DUPFD_CLOEXEC if cloexec else F_DUPFD, minimum)


def sys_fcntl(process: GuestProcess, args: list[int]) -> int:
    fd = process.host_fd(as_int32(args[0]))
    if fd is None:
        return -EBADF
    command = as_int32(args[1])
    if command in (F_DUPFD, F_DUPFD_CLOEXEC):
        return _dup_at_least(fd, as_int32(args[2]), command == F_DUPFD_CLOEXEC)
    if command in _INT_FCNTL_COMMANDS:
        return fcntl.fcntl(fd, command, as_int32(args[2]))
    if command in _LOCK_FCNTL_COMMANDS:
        guest_lock = process.memory.read(args[2], FLOCK.size)
        result = fcntl.fcntl(fd, command, _convert(FLOCK, HOST_FLOCK)(guest_lock))
        if command in _GETLK_COMMANDS:
            process.memory.write(args[2], _convert(HOST_FLOCK, FLOCK)(result))
        return 0
    return -EINVAL


def sys_dup(process: GuestProcess, args: list[int]) -> int:
    fd = process.host_fd(as_int32(args[0]))
    if fd is None:
        return -EBADF
    return _dup_at_least(fd, 0, cloexec=False)


def sys_dup3(process: GuestProcess, args: list[int]) -> int:
    old_fd = process.host_fd(as_int32(args[0]))
    new_fd = process.host_fd(as_int32(args[1]))
    flags = as_int32(args[2])
    if old_fd is None or new_fd is None:
        return -EBADF
    if flags & ~O_CLOEXEC or old_fd == new_fd:
        return -EINVAL
    return os.dup2(old_fd, new_fd, inheritable=not flags & O_CLOEXEC)


def sys_pipe2(process: GuestProcess, args: list[int]) -> int:
    flags = as_int32(args[1])
    if flags & ~(O_CLOEXEC | O_NONBLOCK | O_DIRECT):
        return -EINVAL
    process.memory.check_writable(args[0], 2 * C_INT.size)
    read_end, write_end = os.pipe2(flags)
    process.memory.write(args[0], C_INT.pack(read_end) + C_INT.pack(write_end))
    return 0


# --- ioctl ----------------------------------------------------------------------------------------

class IoctlArgument(enum.Enum):
    NONE = "none"            # no argument
    VALUE = "value"          # an int passed by value
    IN = "in"                # pointer to a struct the kernel reads
    OUT = "out"              # pointer to a struct the kernel fills


@dataclass(frozen=True)
class IoctlSpec:
    name: str
    request: int
    argument: IoctlArgument
    guest_layout: struct.Struct | None = None
    host_layout: struct.Struct | None = None


IOCTLS: dict[int, IoctlSpec] = {spec.request: spec for spec in (
    IoctlSpec("TCGETS", TCGETS, IoctlArgument.OUT, TERMIOS, HOST_TERMIOS),
    IoctlSpec("TCSETS", TCSETS, IoctlArgument.IN, TERMIOS, HOST_TERMIOS),
    IoctlSpec("TCSETSW", TCSETSW, IoctlArgument.IN, TERMIOS, HOST_TERMIOS),
    IoctlSpec("TCSETSF", TCSETSF, IoctlArgument.IN, TERMIOS, HOST_TERMIOS),
    IoctlSpec("TIOCGWINSZ", TIOCGWINSZ, IoctlArgument.OUT, WINSIZE, HOST_WINSIZE),
    IoctlSpec("TIOCSWINSZ", TIOCSWINSZ, IoctlArgument.IN, WINSIZE, HOST_WINSIZE),
    IoctlSpec("TIOCGPGRP", TIOCGPGRP, IoctlArgument.OUT, C_INT, HOST_INT),
    IoctlSpec("TIOCSPGRP", TIOCSPGRP, IoctlArgument.IN, C_INT, HOST_INT),
    IoctlSpec("FIONREAD", FIONREAD, IoctlArgument.OUT, C_INT, HOST_INT),
    IoctlSpec("FIONBIO", FIONBIO, IoctlArgument.IN, C_INT, HOST_INT),
    IoctlSpec("FIOCLEX", FIOCLEX, IoctlArgument.NONE),
    IoctlSpec("FIONCLEX", FIONCLEX, IoctlArgument.NONE),
    IoctlSpec("TCSBRK", TCSBRK, IoctlArgument.VALUE),
    IoctlSpec("TCXONC", TCXONC, IoctlArgument.VALUE),
    IoctlSpec("TCFLSH", TCFLSH, IoctlArgument.VALUE),
)}


def sys_ioctl(process: GuestProcess, args: list[int]) -> int:
    fd = process.host_fd(as_int32(args[0]))
    if fd is None:
        return -EBADF
    spec = IOCTLS.get(args[1] & 0xFFFFFFFF)
    if spec is None:
        return -ENOTTY
    if spec.argument is IoctlArgument.NONE:
        return fcntl.ioctl(fd, spec.request, 0)
    if spec.argument is IoctlArgument.VALUE:
        return fcntl.ioctl(fd, spec.request, as_int32(args[2]))
    guest_layout, host_layout = spec.guest_layout, spec.host_layout
    if spec.argument is IoctlArgument.IN:
        guest_bytes = process.memory.read(args[2], guest_layout.size)
        fcntl.ioctl(fd, spec.request, _convert(guest_layout, host_layout)(guest_bytes))
        return 0
    process.memory.check_writable(args[2], guest_layout.size)
    host_bytes = fcntl.ioctl(fd, spec.request, bytes(host_layout.size))
    process.memory.write(args[2], _convert(host_layout, guest_layout)(host_bytes))
    return 0


def register_fd_ctl(table: SyscallTable) -> None:
    table.register("fcntl", sys_fcntl, (ArgKind.FD, ArgKind.FCNTL_CMD, ArgKind.HEX))
    table.register("dup", sys_dup, (ArgKind.FD,))
    table.register("dup3", sys_dup3, (ArgKind.FD, ArgKind.FD, ArgKind.OPEN_FLAGS))
    table.register("pipe2", sys_pipe2, (ArgKind.PTR, ArgKind.OPEN_FLAGS))
    table.register("ioctl", sys_ioctl, (ArgKind.FD, ArgKind.HEX, ArgKind.HEX))
