"""File I/O syscalls: read, write, readv, writev, pread64, pwrite64, lseek, close.

Guest fds are host fds (as in qemu-user), apart from the ones the process reserves for the JIT.
Data moves between the host fd and guest memory without copies (buffers over guest memory).
A buffer that becomes inaccessible part way gives a short transfer, one inaccessible from its
first byte gives -EFAULT, as Linux does when the copy faults.
"""
from __future__ import annotations

import os
from typing import TYPE_CHECKING, Callable

from guest.errno_riscv import EBADF, EFAULT, EINVAL
from guest.syscalls.guest_abi import SEEK_HOLE, SEEK_SET
from guest.syscalls.registry import ArgKind, SyscallTable, as_int32, as_int64

if TYPE_CHECKING:
    from guest.memory import GuestMemory
    from guest.process import GuestProcess

# Linux caps a single read/write at MAX_RW_COUNT (INT_MAX rounded down to a page).
MAX_RW_COUNT = 0x7FFFF000
UIO_MAXIOV = 1024
IOVEC_SIZE = 16


def _host_fd(process: GuestProcess, raw_fd: int) -> int | None:
    return process.host_fd(as_int32(raw_fd))


def _guest_buffers(memory: GuestMemory, pieces: list[tuple[int, int]], writable: bool):
    """Host buffers over the accessible leading part of the (address, length) pieces: stops at
    the first inaccessible byte. Returns (buffers, bytes covered)."""
    buffers = []
    covered = 0
    for address, length in pieces:
        if length == 0:
            continue
        if writable:
            accessible = memory.writable_prefix(address, length)
            buffer = memory.writable_buffer(address, accessible) if accessible else None
        else:
            accessible = memory.readable_prefix(address, length)
            buffer = memory.readable_buffer(address, accessible) if accessible else None
        if buffer is not None:
            buffers.append(buffer)
            covered += accessible
        if accessible < length:
            break
    return buffers, covered


def _read_iovec(process: GuestProcess, iov_address: int,
                raw_count: int) -> list[tuple[int, int]] | int:
    """The (base, len) pairs of a guest iovec array, or -errno."""
    count = as_int32(raw_count)
    if count < 0 or count > UIO_MAXIOV:
        return -EINVAL
    raw = process.memory.read(iov_address, count * IOVEC_SIZE)
    pieces = []
    total = 0
    for index in range(count):
        base = int.from_bytes(raw[index * IOVEC_SIZE:index * IOVEC_SIZE + 8], "little")
        length = as_int64(int.from_bytes(raw[index * IOVEC_SIZE + 8:(index + 1) * IOVEC_SIZE],
                                         "little"))
        if length < 0:
            return -EINVAL
        # Linux truncates the total to MAX_RW_COUNT rather than failing.
        length = min(length, MAX_RW_COUNT - total)
        total += length
        pieces.append((base, length))
    return pieces


def _transfer(process: GuestProcess, fd: int, pieces: list[tuple[int, int]],
              into_guest: bool, offset: int | None = None) -> int:
    """readv/writev (or preadv/pwritev at `offset`) between fd and the guest pieces."""
    requested = sum(length for _address, length in pieces)
    buffers, covered = _guest_buffers(process.memory, pieces, writable=into_guest)
    if requested and not covered:
        return -EFAULT
    if offset is not None:
        if offset < 0:
            return -EINVAL
        if not buffers:
            # A zero-byte transfer still reports a bad fd or an unseekable file.
            if into_guest:
                os.pread(fd, 0, offset)
                return 0
            return os.pwrite(fd, b"", offset)
        return os.preadv(fd, buffers, offset) if into_guest else os.pwritev(fd, buffers, offset)
    if into_guest:
        return os.readv(fd, buffers)
    if not buffers:
        return os.write(fd, b"")       # still reports a bad or unwritable fd
    return os.writev(fd, buffers)


def sys_read(process: GuestProcess, args: list[int]) -> int:
    fd = _host_fd(process, args[0])
    if fd is None:
        return -EBADF
    return _transfer(process, fd, [(args[1], min(args[2], MAX_RW_COUNT))], into_guest=True)


def sys_write(process: GuestProcess, args: list[int]) -> int:
    fd = _host_fd(process, args[0])
    if fd is None:
        return -EBADF
    return _transfer(process, fd, [(args[1], min(args[2], MAX_RW_COUNT))], into_guest=False)


def sys_readv(process: GuestProcess, args: list[int]) -> int:
    fd = _host_fd(process, args[0])
    if fd is None:
        return -EBADF
    pieces = _read_iovec(process, args[1], args[2])
    if isinstance(pieces, int):
        return pieces
    return _transfer(process, fd, pieces, into_guest=True)


def sys_writev(process: GuestProcess, args: list[int]) -> int:
    fd = _host_fd(process, args[0])
    if fd is None:
        return -EBADF
    pieces = _read_iovec(process, args[1], args[2])
    if isinstance(pieces, int):
        return pieces
    return _transfer(process, fd, pieces, into_guest=False)


def sys_pread64(process: GuestProcess, args: list[int]) -> int:
    fd = _host_fd(process, args[0])
    if fd is None:
        return -EBADF
    return _transfer(process, fd, [(args[1], min(args[2], MAX_RW_COUNT))], into_guest=True,
                     offset=as_int64(args[3]))


def sys_pwrite64(process: GuestProcess, args: list[int]) -> int:
    fd = _host_fd(process, args[0])
    if fd is None:
        return -EBADF
    return _transfer(process, fd, [(args[1], min(args[2], MAX_RW_COUNT))], into_guest=False,
                     offset=as_int64(args[3]))


def sys_lseek(process: GuestProcess, args: list[int]) -> int:
    fd = _host_fd(process, args[0])
    if fd is None:
        return -EBADF
    whence = as_int32(args[2])
    if not SEEK_SET <= whence <= SEEK_HOLE:
        return -EINVAL
    return os.lseek(fd, as_int64(args[1]), whence)


def sys_close(process: GuestProcess, args: list[int]) -> int:
    fd = _host_fd(process, args[0])
    if fd is None:
        return -EBADF
    os.close(fd)
    return 0


def sys_ftruncate(process: GuestProcess, args: list[int]) -> int:
    fd = _host_fd(process, args[0])
    if fd is None:
        return -EBADF
    length = as_int64(args[1])
    if length < 0:
        return -EINVAL
    os.ftruncate(fd, length)
    return 0


def _sync_with(sync: Callable[[int], None]):
    def handler(process: GuestProcess, args: list[int]) -> int:
        fd = _host_fd(process, args[0])
        if fd is None:
            return -EBADF
        sync(fd)
        return 0
    return handler


def register_fs_io(table: SyscallTable) -> None:
    table.register("ftruncate", sys_ftruncate, (ArgKind.FD, ArgKind.INT))
    table.register("fsync", _sync_with(os.fsync), (ArgKind.FD,))
    table.register("fdatasync", _sync_with(os.fdatasync), (ArgKind.FD,))
    table.register("read", sys_read, (ArgKind.FD, ArgKind.OUT_BUFFER, ArgKind.UINT))
    table.register("write", sys_write, (ArgKind.FD, ArgKind.IN_BUFFER, ArgKind.UINT))
    table.register("readv", sys_readv, (ArgKind.FD, ArgKind.IOVEC, ArgKind.INT))
    table.register("writev", sys_writev, (ArgKind.FD, ArgKind.IOVEC, ArgKind.INT))
    table.register("pread64", sys_pread64,
                   (ArgKind.FD, ArgKind.OUT_BUFFER, ArgKind.UINT, ArgKind.INT))
    table.register("pwrite64", sys_pwrite64,
                   (ArgKind.FD, ArgKind.IN_BUFFER, ArgKind.UINT, ArgKind.INT))
    table.register("lseek", sys_lseek, (ArgKind.FD, ArgKind.INT, ArgKind.WHENCE))
    table.register("close", sys_close, (ArgKind.FD,))
