"""Host (x86-64 Linux, glibc) calls that Python's os module does not offer as the syscalls need
them: raw openat (os.open adds O_CLOEXEC), statx, getdents64, renameat2, faccessat with flags
and errno, prlimit and getrusage with exact 64-bit values, sysinfo, clock_getres with
nanoseconds, clock_nanosleep with the remaining time, tgkill.

Every function raises OSError with the host errno on failure, like the os module; structs are
passed as bytes in the host's layout (HOST_* below) and converted by the callers.
"""
from __future__ import annotations

import os
import struct

# The declarations are in tools/build_ffi.py; host_calls_ffi.py is generated from them
# (pre-parsed, so that start-up does not parse C).
from guest.syscalls.host_calls_ffi import ffi as _ffi

_libc = _ffi.dlopen(None)

# x86-64 layouts of the structs these calls exchange.
HOST_TIMESPEC = struct.Struct("<qq")
HOST_RLIMIT = struct.Struct("<QQ")
HOST_RUSAGE = struct.Struct("<qqqq14q")
HOST_SYSINFO = struct.Struct("<q3Q6QHH4xQQI4x")
HOST_STATX_SIZE = 256
HOST_AT_FDCWD = -100


def _raise_errno(what: str):
    error = _ffi.errno
    raise OSError(error, f"{os.strerror(error)} ({what})")


def openat(dirfd: int, path: bytes, flags: int, mode: int) -> int:
    fd = _libc.openat(dirfd, path, flags, _ffi.cast("unsigned int", mode))
    if fd < 0:
        _raise_errno("openat")
    return fd


def statx(dirfd: int, path: bytes, flags: int, mask: int) -> bytes:
    buffer = _ffi.new("unsigned char[]", HOST_STATX_SIZE)
    if _libc.statx(dirfd, path, flags, mask, buffer) != 0:
        _raise_errno("statx")
    return bytes(_ffi.buffer(buffer))


def getdents64(fd: int, count: int) -> bytes:
    buffer = _ffi.new("unsigned char[]", count)
    result = _libc.getdents64(fd, buffer, count)
    if result < 0:
        _raise_errno("getdents64")
    return bytes(_ffi.buffer(buffer, result))


def renameat2(old_dirfd: int, old_path: bytes, new_dirfd: int, new_path: bytes,
              flags: int) -> None:
    if _libc.renameat2(old_dirfd, old_path, new_dirfd, new_path, flags) != 0:
        _raise_errno("renameat2")


def faccessat(dirfd: int, path: bytes, mode: int, flags: int) -> None:
    if _libc.faccessat(dirfd, path, mode, flags) != 0:
        _raise_errno("faccessat")


def prlimit(pid: int, resource: int, new_limit: tuple[int, int] | None) -> tuple[int, int]:
    """Set (if new_limit) and return the previous (soft, hard) limits as u64 values."""
    old = _ffi.new("unsigned char[]", HOST_RLIMIT.size)
    new = _ffi.NULL
    if new_limit is not None:
        new = _ffi.new("unsigned char[]", HOST_RLIMIT.pack(*new_limit))
    if _libc.prlimit(pid, resource, new, old) != 0:
        _raise_errno("prlimit")
    return HOST_RLIMIT.unpack(bytes(_ffi.buffer(old)))


def getrusage(who: int) -> tuple[int, ...]:
    buffer = _ffi.new("unsigned char[]", HOST_RUSAGE.size)
    if _libc.getrusage(who, buffer) != 0:
        _raise_errno("getrusage")
    return HOST_RUSAGE.unpack(bytes(_ffi.buffer(buffer)))


def sysinfo() -> tuple[int, ...]:
    buffer = _ffi.new("unsigned char[]", HOST_SYSINFO.size)
    if _libc.sysinfo(buffer) != 0:
        _raise_errno("sysinfo")
    return HOST_SYSINFO.unpack(bytes(_ffi.buffer(buffer)))


def clock_getres(clock_id: int) -> tuple[int, int]:
    buffer = _ffi.new("unsigned char[]", HOST_TIMESPEC.size)
    if _libc.clock_getres(clock_id, buffer) != 0:
        _raise_errno("clock_getres")
    return HOST_TIMESPEC.unpack(bytes(_ffi.buffer(buffer)))


def clock_nanosleep(clock_id: int, flags: int, seconds: int,
                    nanoseconds: int) -> tuple[int, tuple[int, int]]:
    """Sleep; returns (host errno or 0, remaining (seconds, nanoseconds)). EINTR comes back as
    a value rather than an exception because the caller reports the remaining time with it."""
    request = _ffi.new("unsigned char[]", HOST_TIMESPEC.pack(seconds, nanoseconds))
    remain = _ffi.new("unsigned char[]", HOST_TIMESPEC.size)
    error = _libc.clock_nanosleep(clock_id, flags, request, remain)
    return error, HOST_TIMESPEC.unpack(bytes(_ffi.buffer(remain)))


def tgkill(tgid: int, tid: int, signo: int) -> None:
    if _libc.tgkill(tgid, tid, signo) != 0:
        _raise_errno("tgkill")
