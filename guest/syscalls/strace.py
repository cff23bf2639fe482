"""-strace: qemu-style lines for syscalls, driven by the argument kinds of the syscall table.

    12345 openat(AT_FDCWD,"/etc/x",O_RDONLY|O_CLOEXEC) = -1 errno=2 (No such file or directory)
    12345 write(1,0x10000,13) = 13
    12345 mmap(NULL,8192,PROT_READ|PROT_WRITE,MAP_PRIVATE|MAP_ANONYMOUS,-1,0) = 0x0000003ff7ffe000
    12345 exit_group(0)

Like qemu, the call is printed before it runs and the result after, so output the syscall itself
produces (a write to the same terminal) appears in between. Each ArgKind has one formatter
below; the syscall modules only say which kind each argument is.
"""
from __future__ import annotations

import errno as host_errno_module
import os
from typing import TYPE_CHECKING, Callable

from guest.errno_riscv import GUEST_ERRNO_BY_NAME
from guest.memory import GuestMemoryError, GuestStringTooLong
from guest.syscalls import guest_abi as abi
from guest.syscalls.numbers import SYSCALL_NAMES
from guest.syscalls.registry import ArgKind, SyscallSpec, as_int32, as_int64

if TYPE_CHECKING:
    from guest.process import GuestProcess

# Results in [-4095, -1] are errors, as the kernel's IS_ERR_VALUE.
MAX_ERRNO = 4095
MAX_STRING_SHOWN = abi.PATH_MAX

Formatter = Callable[["GuestProcess", list[int], int], "str | None"]

# --- symbolic names -------------------------------------------------------------------------------

OPEN_FLAG_NAMES = (
    (abi.O_CREAT, "O_CREAT"), (abi.O_EXCL, "O_EXCL"), (abi.O_NOCTTY, "O_NOCTTY"),
    (abi.O_TRUNC, "O_TRUNC"), (abi.O_APPEND, "O_APPEND"), (abi.O_NONBLOCK, "O_NONBLOCK"),
    (abi.O_SYNC, "O_SYNC"), (abi.O_DSYNC, "O_DSYNC"), (abi.O_ASYNC, "O_ASYNC"),
    (abi.O_DIRECT, "O_DIRECT"), (abi.O_LARGEFILE, "O_LARGEFILE"), (abi.O_TMPFILE, "O_TMPFILE"),
    (abi.O_DIRECTORY, "O_DIRECTORY"), (abi.O_NOFOLLOW, "O_NOFOLLOW"),
    (abi.O_NOATIME, "O_NOATIME"), (abi.O_CLOEXEC, "O_CLOEXEC"), (abi.O_PATH, "O_PATH"),
)
ACCESS_MODE_NAMES = {abi.O_RDONLY: "O_RDONLY", abi.O_WRONLY: "O_WRONLY", abi.O_RDWR: "O_RDWR"}
AT_FLAG_NAMES = (
    (abi.AT_SYMLINK_NOFOLLOW, "AT_SYMLINK_NOFOLLOW"), (abi.AT_EACCESS, "AT_EACCESS"),
    (abi.AT_SYMLINK_FOLLOW, "AT_SYMLINK_FOLLOW"), (abi.AT_NO_AUTOMOUNT, "AT_NO_AUTOMOUNT"),
    (abi.AT_EMPTY_PATH, "AT_EMPTY_PATH"), (abi.AT_STATX_FORCE_SYNC, "AT_STATX_FORCE_SYNC"),
    (abi.AT_STATX_DONT_SYNC, "AT_STATX_DONT_SYNC"),
)
UNLINK_FLAG_NAMES = ((abi.AT_REMOVEDIR, "AT_REMOVEDIR"),)
FILE_ACCESS_NAMES = ((abi.R_OK, "R_OK"), (abi.W_OK, "W_OK"), (abi.X_OK, "X_OK"))
PROT_NAMES = (
    (abi.PROT_READ, "PROT_READ"), (abi.PROT_WRITE, "PROT_WRITE"), (abi.PROT_EXEC, "PROT_EXEC"),
    (abi.PROT_SEM, "PROT_SEM"), (abi.PROT_GROWSDOWN, "PROT_GROWSDOWN"),
    (abi.PROT_GROWSUP, "PROT_GROWSUP"),
)
MAP_TYPE_NAMES = {abi.MAP_SHARED: "MAP_SHARED", abi.MAP_PRIVATE: "MAP_PRIVATE",
                  abi.MAP_SHARED_VALIDATE: "MAP_SHARED_VALIDATE"}
MAP_FLAG_NAMES = (
    (abi.MAP_FIXED, "MAP_FIXED"), (abi.MAP_ANONYMOUS, "MAP_ANONYMOUS"),
    (abi.MAP_GROWSDOWN, "MAP_GROWSDOWN"), (abi.MAP_DENYWRITE, "MAP_DENYWRITE"),
    (abi.MAP_EXECUTABLE, "MAP_EXECUTABLE"), (abi.MAP_LOCKED, "MAP_LOCKED"),
    (abi.MAP_NORESERVE, "MAP_NORESERVE"), (abi.MAP_POPULATE, "MAP_POPULATE"),
    (abi.MAP_NONBLOCK, "MAP_NONBLOCK"), (abi.MAP_STACK, "MAP_STACK"),
    (abi.MAP_HUGETLB, "MAP_HUGETLB"), (abi.MAP_SYNC, "MAP_SYNC"),
    (abi.MAP_FIXED_NOREPLACE, "MAP_FIXED_NOREPLACE"), (abi.MAP_UNINITIALIZED, "MAP_UNINITIALIZED"),
)
SIGMASK_HOW_NAMES = {abi.SIG_BLOCK: "SIG_BLOCK", abi.SIG_UNBLOCK: "SIG_UNBLOCK",
                     abi.SIG_SETMASK: "SIG_SETMASK"}
CLOCK_NAMES = {
    abi.CLOCK_REALTIME: "CLOCK_REALTIME", abi.CLOCK_MONOTONIC: "CLOCK_MONOTONIC",
    abi.CLOCK_PROCESS_CPUTIME_ID: "CLOCK_PROCESS_CPUTIME_ID",
    abi.CLOCK_THREAD_CPUTIME_ID: "CLOCK_THREAD_CPUTIME_ID",
    abi.CLOCK_MONOTONIC_RAW: "CLOCK_MONOTONIC_RAW",
    abi.CLOCK_REALTIME_COARSE: "CLOCK_REALTIME_COARSE",
    abi.CLOCK_MONOTONIC_COARSE: "CLOCK_MONOTONIC_COARSE", abi.CLOCK_BOOTTIME: "CLOCK_BOOTTIME",
    abi.CLOCK_REALTIME_ALARM: "CLOCK_REALTIME_ALARM",
    abi.CLOCK_BOOTTIME_ALARM: "CLOCK_BOOTTIME_ALARM", abi.CLOCK_TAI: "CLOCK_TAI",
}
WHENCE_NAMES = {abi.SEEK_SET: "SEEK_SET", abi.SEEK_CUR: "SEEK_CUR", abi.SEEK_END: "SEEK_END",
                abi.SEEK_DATA: "SEEK_DATA", abi.SEEK_HOLE: "SEEK_HOLE"}
FCNTL_NAMES = {
    abi.F_DUPFD: "F_DUPFD", abi.F_GETFD: "F_GETFD", abi.F_SETFD: "F_SETFD",
    abi.F_GETFL: "F_GETFL", abi.F_SETFL: "F_SETFL", abi.F_GETLK: "F_GETLK",
    abi.F_SETLK: "F_SETLK", abi.F_SETLKW: "F_SETLKW", abi.F_SETOWN: "F_SETOWN",
    abi.F_GETOWN: "F_GETOWN", abi.F_SETSIG: "F_SETSIG", abi.F_GETSIG: "F_GETSIG",
    abi.F_OFD_GETLK: "F_OFD_GETLK", abi.F_OFD_SETLK: "F_OFD_SETLK",
    abi.F_OFD_SETLKW: "F_OFD_SETLKW", abi.F_DUPFD_CLOEXEC: "F_DUPFD_CLOEXEC",
    abi.F_SETPIPE_SZ: "F_SETPIPE_SZ", abi.F_GETPIPE_SZ: "F_GETPIPE_SZ",
    abi.F_ADD_SEALS: "F_ADD_SEALS", abi.F_GET_SEALS: "F_GET_SEALS",
}
FUTEX_COMMAND_NAMES = {
    abi.FUTEX_WAIT: "FUTEX_WAIT", abi.FUTEX_WAKE: "FUTEX_WAKE", abi.FUTEX_FD: "FUTEX_FD",
    abi.FUTEX_REQUEUE: "FUTEX_REQUEUE", abi.FUTEX_CMP_REQUEUE: "FUTEX_CMP_REQUEUE",
    abi.FUTEX_WAKE_OP: "FUTEX_WAKE_OP", abi.FUTEX_LOCK_PI: "FUTEX_LOCK_PI",
    abi.FUTEX_UNLOCK_PI: "FUTEX_UNLOCK_PI", abi.FUTEX_TRYLOCK_PI: "FUTEX_TRYLOCK_PI",
    abi.FUTEX_WAIT_BITSET: "FUTEX_WAIT_BITSET", abi.FUTEX_WAKE_BITSET: "FUTEX_WAKE_BITSET",
    abi.FUTEX_WAIT_REQUEUE_PI: "FUTEX_WAIT_REQUEUE_PI",
    abi.FUTEX_CMP_REQUEUE_PI: "FUTEX_CMP_REQUEUE_PI", abi.FUTEX_LOCK_PI2: "FUTEX_LOCK_PI2",
}
FUTEX_FLAG_NAMES = ((abi.FUTEX_PRIVATE_FLAG, "FUTEX_PRIVATE_FLAG"),
                    (abi.FUTEX_CLOCK_REALTIME, "FUTEX_CLOCK_REALTIME"))
MADVICE_NAMES = {
    abi.MADV_NORMAL: "MADV_NORMAL", abi.MADV_RANDOM: "MADV_RANDOM",
    abi.MADV_SEQUENTIAL: "MADV_SEQUENTIAL", abi.MADV_WILLNEED: "MADV_WILLNEED",
    abi.MADV_DONTNEED: "MADV_DONTNEED", abi.MADV_FREE: "MADV_FREE",
    abi.MADV_REMOVE: "MADV_REMOVE", abi.MADV_DONTFORK: "MADV_DONTFORK",
    abi.MADV_DOFORK: "MADV_DOFORK", abi.MADV_MERGEABLE: "MADV_MERGEABLE",
    abi.MADV_UNMERGEABLE: "MADV_UNMERGEABLE", abi.MADV_HUGEPAGE: "MADV_HUGEPAGE",
    abi.MADV_NOHUGEPAGE: "MADV_NOHUGEPAGE", abi.MADV_DONTDUMP: "MADV_DONTDUMP",
    abi.MADV_DODUMP: "MADV_DODUMP", abi.MADV_WIPEONFORK: "MADV_WIPEONFORK",
    abi.MADV_KEEPONFORK: "MADV_KEEPONFORK", abi.MADV_COLD: "MADV_COLD",
    abi.MADV_PAGEOUT: "MADV_PAGEOUT", abi.MADV_POPULATE_READ: "MADV_POPULATE_READ",
    abi.MADV_POPULATE_WRITE: "MADV_POPULATE_WRITE",
    abi.MADV_DONTNEED_LOCKED: "MADV_DONTNEED_LOCKED", abi.MADV_COLLAPSE: "MADV_COLLAPSE",
}
RESOURCE_NAMES = dict(enumerate(abi.RLIMIT_NAMES))


def flag_names(value: int, names: tuple[tuple[int, str], ...], zero: str = "0") -> str:
    """`A|B|0x40` for the flags in value (multi-bit flags only when all their bits are set);
    `zero` when value is 0."""
    parts = []
    remaining = value
    for flag, name in names:
        if flag and value & flag == flag and remaining & flag:
            parts.append(name)
            remaining &= ~flag
    if remaining:
        parts.append(c_hex(remaining))
    return "|".join(parts) if parts else zero


def _named(value: int, names: dict[int, str]) -> str:
    return names.get(value, str(value))


_HOST_ERRNO_BY_NAME = {name: value for value, name in host_errno_module.errorcode.items()}
_GUEST_ERRNO_NAMES = {value: name for name, value in reversed(GUEST_ERRNO_BY_NAME.items())}


def errno_text(guest_errno: int) -> str:
    """The message for a guest errno ("No such file or directory"), from the host's strerror
    of the errno with the same name."""
    host_value = _HOST_ERRNO_BY_NAME.get(_GUEST_ERRNO_NAMES.get(guest_errno, ""))
    return os.strerror(host_value) if host_value is not None else f"Unknown error {guest_errno}"


def signal_name(signo: int) -> str:
    if signo in abi.SIGNAL_NAMES:
        return abi.SIGNAL_NAMES[signo]
    if abi.SIGRTMIN <= signo <= abi.NSIG:
        return f"SIGRT_{signo - abi.SIGRTMIN}"
    return str(signo)


def _escape(raw: bytes) -> str:
    pieces = []
    for byte in raw:
        character = chr(byte)
        if character in '"\\':
            pieces.append("\\" + character)
        elif character == "\n":
            pieces.append("\\n")
        elif character == "\t":
            pieces.append("\\t")
        elif 0x20 <= byte < 0x7F:
            pieces.append(character)
        else:
            pieces.append(f"\\x{byte:02x}")
    return "".join(pieces)


# --- one formatter per kind -----------------------------------------------------------------------

def _pointer(value: int) -> str:
    return "NULL" if value == 0 else f"0x{value:016x}"


def c_hex(value: int) -> str:
    """C's %#x: 0x-prefixed hex, but a bare 0 for zero."""
    return f"{value:#x}" if value else "0"


def c_octal(value: int) -> str:
    """C's %#o: a leading 0 (0644), a bare 0 for zero."""
    return f"0{value:o}" if value else "0"


def _format_string(process: GuestProcess, args: list[int], index: int) -> str:
    address = args[index]
    if address == 0:
        return "NULL"
    try:
        return '"' + _escape(process.memory.read_cstring(address, MAX_STRING_SHOWN)) + '"'
    except (GuestMemoryError, GuestStringTooLong):
        return _pointer(address)


def _format_open_flags(process: GuestProcess, args: list[int], index: int) -> str:
    flags = as_int32(args[index])
    access = flags & abi.O_ACCMODE
    text = ACCESS_MODE_NAMES.get(access, str(access))
    rest = flag_names(flags & ~abi.O_ACCMODE & 0xFFFFFFFF, OPEN_FLAG_NAMES, zero="")
    return f"{text}|{rest}" if rest else text


def _format_open_mode(process: GuestProcess, args: list[int], index: int) -> str | None:
    flags = as_int32(args[index - 1]) if index else 0
    creates = flags & abi.O_CREAT or flags & abi.O_TMPFILE == abi.O_TMPFILE
    return c_octal(args[index] & 0o7777) if creates else None


def _format_map_flags(process: GuestProcess, args: list[int], index: int) -> str:
    flags = args[index] & 0xFFFFFFFF
    map_type = flags & abi.MAP_TYPE
    text = MAP_TYPE_NAMES.get(map_type, f"{map_type:#x}")
    rest = flag_names(flags & ~abi.MAP_TYPE, MAP_FLAG_NAMES, zero="")
    return f"{text}|{rest}" if rest else text


def _format_futex_op(process: GuestProcess, args: list[int], index: int) -> str:
    op = as_int32(args[index])
    command = op & abi.FUTEX_CMD_MASK
    text = FUTEX_COMMAND_NAMES.get(command, str(command))
    flags = flag_names(op & ~abi.FUTEX_CMD_MASK & 0xFFFFFFFF, FUTEX_FLAG_NAMES, zero="")
    return f"{text}|{flags}" if flags else text


def _format_access_mode(process: GuestProcess, args: list[int], index: int) -> str:
    return flag_names(as_int32(args[index]) & 0xFFFFFFFF, FILE_ACCESS_NAMES, zero="F_OK")


FORMATTERS: dict[ArgKind, Formatter] = {
    ArgKind.INT: lambda process, args, index: str(as_int64(args[index])),
    ArgKind.UINT: lambda process, args, index: str(args[index]),
    ArgKind.HEX: lambda process, args, index: c_hex(args[index]),
    ArgKind.OCTAL: lambda process, args, index: c_octal(args[index]),
    ArgKind.FD: lambda process, args, index: str(as_int32(args[index])),
    ArgKind.DIRFD: lambda process, args, index: (
        "AT_FDCWD" if as_int32(args[index]) == abi.AT_FDCWD else str(as_int32(args[index]))),
    ArgKind.PTR: lambda process, args, index: _pointer(args[index]),
    ArgKind.STRING: _format_string,
    ArgKind.IN_BUFFER: lambda process, args, index: c_hex(args[index]),
    ArgKind.OUT_BUFFER: lambda process, args, index: c_hex(args[index]),
    ArgKind.IOVEC: lambda process, args, index: _pointer(args[index]),
    ArgKind.OPEN_FLAGS: _format_open_flags,
    ArgKind.OPEN_MODE: _format_open_mode,
    ArgKind.AT_FLAGS: lambda process, args, index: flag_names(
        as_int32(args[index]) & 0xFFFFFFFF, AT_FLAG_NAMES),
    ArgKind.UNLINK_FLAGS: lambda process, args, index: flag_names(
        as_int32(args[index]) & 0xFFFFFFFF, UNLINK_FLAG_NAMES),
    ArgKind.ACCESS_MODE: _format_access_mode,
    ArgKind.PROT: lambda process, args, index: flag_names(args[index] & 0xFFFFFFFF, PROT_NAMES,
                                                           zero="PROT_NONE"),
    ArgKind.MAP_FLAGS: _format_map_flags,
    ArgKind.SIGNAL: lambda process, args, index: signal_name(as_int32(args[index])),
    ArgKind.SIGMASK_HOW: lambda process, args, index: _named(as_int32(args[index]),
                                                              SIGMASK_HOW_NAMES),
    ArgKind.CLOCK: lambda process, args, index: _named(as_int32(args[index]), CLOCK_NAMES),
    ArgKind.WHENCE: lambda process, args, index: _named(as_int32(args[index]), WHENCE_NAMES),
    ArgKind.FCNTL_CMD: lambda process, args, index: _named(as_int32(args[index]), FCNTL_NAMES),
    ArgKind.FUTEX_OP: _format_futex_op,
    ArgKind.MADVICE: lambda process, args, index: _named(as_int32(args[index]), MADVICE_NAMES),
    ArgKind.RESOURCE: lambda process, args, index: _named(as_int32(args[index]),
                                                           RESOURCE_NAMES),
}


# --- lines ----------------------------------------------------------------------------------------

def format_call(process: GuestProcess, spec: SyscallSpec | None, number: int,
                args: list[int]) -> str:
    """`name(arg,...)`. A syscall missing from the table shows its six raw registers."""
    if spec is None:
        name = SYSCALL_NAMES.get(number, f"syscall_{number}")
        return f"{name}({','.join(c_hex(value) for value in args[:6])})"
    shown = []
    for index, kind in enumerate(spec.arg_kinds):
        text = FORMATTERS[kind](process, args, index)
        if text is not None:
            shown.append(text)
    return f"{spec.name}({','.join(shown)})"


def format_result(spec: SyscallSpec | None, result: int) -> str:
    """What follows ` = `: the value in the result kind's notation, or `-1 errno=N (text)`."""
    if -MAX_ERRNO <= result < 0:
        return f"-1 errno={-result} ({errno_text(-result)})"
    kind = spec.result_kind if spec is not None else ArgKind.INT
    if kind is ArgKind.PTR:
        return f"0x{result:016x}"
    if kind is ArgKind.HEX:
        return c_hex(result)
    if kind is ArgKind.OCTAL:
        return c_octal(result)
    return str(result)


def format_signal(signo: int) -> str:
    """The line qemu prints when a signal is taken."""
    name = signal_name(signo)
    return f"--- {name} {{si_signo={name}}} ---\n"
