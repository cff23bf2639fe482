"""File system syscalls that take paths: openat, newfstatat, fstat, statx, faccessat(2),
readlinkat, getdents64, getcwd, chdir, fchdir, unlinkat, mkdirat, renameat2, umask.

Paths the guest looks files up by (openat, the stat family, faccessat, readlinkat) go through
GuestProcess.host_path: an absolute path that exists under the sysroot (-L) is taken from there,
as qemu does, so that the guest's dynamic linker finds /lib/libc.so.6 in a RISC-V sysroot.
Paths that create, remove or rename files are used as given (also as qemu does).

A few /proc/self files describe the process, and the host's would describe the Python process
running the JIT instead: /proc/self/exe (and /proc/<our pid>/...) is the guest program, and
opening /proc/self/cmdline, /proc/self/auxv or /proc/self/maps gives the guest's own contents
(built into a memfd when opened).
"""
from __future__ import annotations

import os
from typing import TYPE_CHECKING

from guest.errno_riscv import EBADF, EINVAL, ENOENT, ERANGE
from guest.memory import PROT_EXEC, PROT_READ, PROT_WRITE
from guest.syscalls import host_calls
from guest.syscalls.guest_abi import (
    AT_EACCESS, AT_EMPTY_PATH, AT_FDCWD, AT_NO_AUTOMOUNT, AT_REMOVEDIR, AT_STATX_DONT_SYNC,
    AT_STATX_FORCE_SYNC, AT_SYMLINK_NOFOLLOW, O_CLOEXEC, PATH_MAX, RENAME_EXCHANGE,
    RENAME_NOREPLACE, RENAME_WHITEOUT, STAT, STATX_SIZE,
)
from guest.syscalls.registry import ArgKind, SyscallTable, as_int32

if TYPE_CHECKING:
    from guest.process import GuestProcess

# getdents64 asks the host for at most this much at a time; a shorter result is normal for
# getdents64 (the guest calls again).
MAX_DIRENTS_CHUNK = 1 << 20
NSEC_PER_SEC = 1_000_000_000


class _BadDirFd(Exception):
    """The guest passed a dirfd it may not use (-> -EBADF)."""


def read_path(process: GuestProcess, address: int) -> bytes:
    """A guest path argument (GuestMemoryError -> EFAULT, too long -> ENAMETOOLONG)."""
    return process.memory.read_cstring(address, PATH_MAX)


def _host_dirfd(process: GuestProcess, raw_dirfd: int, path: bytes) -> int:
    """The host dirfd for a *at() call: AT_FDCWD stays AT_FDCWD (the same value on the host),
    an absolute path ignores it, as Linux does; an empty path (AT_EMPTY_PATH) uses it."""
    dirfd = as_int32(raw_dirfd)
    if dirfd == AT_FDCWD or path.startswith(b"/"):
        return host_calls.HOST_AT_FDCWD
    host_fd = process.host_fd(dirfd)
    if host_fd is None:
        raise _BadDirFd()
    return host_fd


def _os_dir_fd(host_dirfd: int) -> int | None:
    """The dir_fd argument of Python's os functions for a host dirfd."""
    return None if host_dirfd == host_calls.HOST_AT_FDCWD else host_dirfd


def proc_self_entry(process: GuestProcess, path: bytes) -> bytes | None:
    """"exe", "maps", ... when path names a file of /proc/self (or /proc/<our pid>), else
    None."""
    for prefix in (b"/proc/self/", b"/proc/%d/" % process.pid):
        if path.startswith(prefix):
            return path[len(prefix):]
    return None


def lookup_path(process: GuestProcess, path: bytes) -> bytes:
    """Where the host looks up a guest path: /proc/self/exe is the guest program, absolute
    paths may come from the sysroot."""
    if proc_self_entry(process, path) == b"exe":
        return os.fsencode(process.executable_realpath)
    return process.host_path(path)


# --- openat ---------------------------------------------------------------------------------------

def _maps_text(process: GuestProcess) -> bytes:
    """/proc/self/maps for the guest: its mappings with its image, heap and stack names."""
    named: list[tuple[int, int, str]] = [
        (process.stack_bottom, process.stack_top, "[stack]"),
        (process.brk_start, max(process.brk, process.brk_start), "[heap]"),
    ]
    for image in (process.image, process.interpreter):
        if image is not None:
            named.append((image.start, image.end, os.path.realpath(image.path)))
    lines = []
    for start, end, prot in process.memory.mapped_ranges():
        name = next((label for low, high, label in named if low < end and start < high), "")
        permissions = ("r" if prot & (PROT_READ | PROT_WRITE) else "-") + \
            ("w" if prot & PROT_WRITE else "-") + ("x" if prot & PROT_EXEC else "-") + "p"
        line = f"{start:08x}-{end:08x} {permissions} 00000000 00:00 0"
        lines.append(f"{line:<73}{name}".rstrip() + "\n")
    return "".join(lines).encode()


def _auxv_bytes(process: GuestProcess) -> bytes:
    return b"".join(key.to_bytes(8, "little") + value.to_bytes(8, "little")
                    for key, value in process.auxv)


def _cmdline_bytes(process: GuestProcess) -> bytes:
    return b"".join(argument + b"\0" for argument in process.argv)


_SYNTHETIC_PROC_FILES = {b"maps": _maps_text, b"auxv": _auxv_bytes, b"cmdline": _cmdline_bytes}


def _open_synthetic(name: bytes, contents: bytes, flags: int) -> int:
    fd = os.memfd_create(os.fsdecode(b"guest-proc-self-" + name),
                         os.MFD_CLOEXEC if flags & O_CLOEXEC else 0)
    try:
        os.write(fd, contents)
        os.lseek(fd, 0, os.SEEK_SET)
    except OSError:
        os.close(fd)
        raise
    return fd


def sys_openat(process: GuestProcess, args: list[int]) -> int:
    path = read_path(process, args[1])
    flags = as_int32(args[2])
    entry = proc_self_entry(process, path)
    if entry in _SYNTHETIC_PROC_FILES:
        return _open_synthetic(entry, _SYNTHETIC_PROC_FILES[entry](process), flags)
    try:
        dirfd = _host_dirfd(process, args[0], path)
    except _BadDirFd:
        return -EBADF
    return host_calls.openat(dirfd, lookup_path(process, path), flags, args[3] & 0o7777)


# --- stat family ----------------------------------------------------------------------------------

def pack_stat(info: os.stat_result) -> bytes:
    """The guest's struct stat for a host stat result."""
    def seconds_and_nanoseconds(total_ns: int) -> tuple[int, int]:
        return divmod(total_ns, NSEC_PER_SEC)
    return STAT.pack(info.st_dev, info.st_ino, info.st_mode, min(info.st_nlink, 0xFFFFFFFF),
                     info.st_uid, info.st_gid, info.st_rdev, 0, info.st_size, info.st_blksize, 0,
                     info.st_blocks, *seconds_and_nanoseconds(info.st_atime_ns),
                     *seconds_and_nanoseconds(info.st_mtime_ns),
                     *seconds_and_nanoseconds(info.st_ctime_ns), 0, 0)


def sys_fstat(process: GuestProcess, args: list[int]) -> int:
    fd = process.host_fd(as_int32(args[0]))
    if fd is None:
        return -EBADF
    info = os.fstat(fd)
    process.memory.write(args[1], pack_stat(info))
    return 0


def sys_newfstatat(process: GuestProcess, args: list[int]) -> int:
    flags = as_int32(args[3])
    if flags & ~(AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT | AT_EMPTY_PATH):
        return -EINVAL
    path = read_path(process, args[1])
    process.memory.check_writable(args[2], STAT.size)
    if not path and not flags & AT_EMPTY_PATH:
        return -ENOENT
    try:
        dirfd = _host_dirfd(process, args[0], path)
    except _BadDirFd:
        return -EBADF
    if not path:                                  # AT_EMPTY_PATH: the dirfd itself
        info = os.stat(".") if dirfd == host_calls.HOST_AT_FDCWD else os.fstat(dirfd)
    else:
        info = os.stat(lookup_path(process, path), dir_fd=_os_dir_fd(dirfd),
                       follow_symlinks=not flags & AT_SYMLINK_NOFOLLOW)
    process.memory.write(args[2], pack_stat(info))
    return 0


def sys_statx(process: GuestProcess, args: list[int]) -> int:
    flags = as_int32(args[2])
    if flags & ~(AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT | AT_EMPTY_PATH | AT_STATX_FORCE_SYNC
                 | AT_STATX_DONT_SYNC):
        return -EINVAL
    # Linux 6.11 accepts a NULL path with AT_EMPTY_PATH.
    path = b"" if args[1] == 0 and flags & AT_EMPTY_PATH else read_path(process, args[1])
    process.memory.check_writable(args[4], STATX_SIZE)
    try:
        host_dirfd = _host_dirfd(process, args[0], path)
    except _BadDirFd:
        return -EBADF
    # struct statx is architecture independent: the host's bytes are the guest's.
    result = host_calls.statx(host_dirfd, lookup_path(process, path) if path else b"", flags,
                              args[3] & 0xFFFFFFFF)
    process.memory.write(args[4], result)
    return 0


def _faccess(process: GuestProcess, args: list[int], flags: int) -> int:
    mode = as_int32(args[2])
    if mode & ~0o7:
        return -EINVAL
    if flags & ~(AT_EACCESS | AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH):
        return -EINVAL
    path = read_path(process, args[1])
    try:
        host_dirfd = _host_dirfd(process, args[0], path)
    except _BadDirFd:
        return -EBADF
    host_calls.faccessat(host_dirfd, lookup_path(process, path) if path else b"", mode, flags)
    return 0


def sys_faccessat(process: GuestProcess, args: list[int]) -> int:
    return _faccess(process, args, 0)


def sys_faccessat2(process: GuestProcess, args: list[int]) -> int:
    return _faccess(process, args, as_int32(args[3]))


def sys_readlinkat(process: GuestProcess, args: list[int]) -> int:
    size = as_int32(args[3])
    if size <= 0:
        return -EINVAL
    path = read_path(process, args[1])
    if proc_self_entry(process, path) == b"exe":
        target = os.fsencode(process.executable_realpath)
    else:
        try:
            dirfd = _host_dirfd(process, args[0], path)
        except _BadDirFd:
            return -EBADF
        target = os.readlink(process.host_path(path), dir_fd=_os_dir_fd(dirfd))
    target = target[:size]                       # truncated, without a NUL, like readlink(2)
    process.memory.write(args[2], target)
    return len(target)


# --- directories ----------------------------------------------------------------------------------

def sys_getdents64(process: GuestProcess, args: list[int]) -> int:
    fd = process.host_fd(as_int32(args[0]))
    if fd is None:
        return -EBADF
    count = min(args[2] & 0xFFFFFFFF, MAX_DIRENTS_CHUNK)
    process.memory.check_writable(args[1], count)
    # struct linux_dirent64 is architecture independent: the host's records are the guest's.
    records = host_calls.getdents64(fd, count)
    process.memory.write(args[1], records)
    return len(records)


def sys_getcwd(process: GuestProcess, args: list[int]) -> int:
    cwd = os.getcwdb()
    if len(cwd) + 1 > args[1]:
        return -ERANGE
    process.memory.write(args[0], cwd + b"\0")
    return len(cwd) + 1                           # the raw syscall returns the length with NUL


def sys_chdir(process: GuestProcess, args: list[int]) -> int:
    os.chdir(read_path(process, args[0]))
    return 0


def sys_fchdir(process: GuestProcess, args: list[int]) -> int:
    fd = process.host_fd(as_int32(args[0]))
    if fd is None:
        return -EBADF
    os.fchdir(fd)
    return 0


def sys_unlinkat(process: GuestProcess, args: list[int]) -> int:
    flags = as_int32(args[2])
    if flags & ~AT_REMOVEDIR:
        return -EINVAL
    path = read_path(process, args[1])
    try:
        dir_fd = _os_dir_fd(_host_dirfd(process, args[0], path))
    except _BadDirFd:
        return -EBADF
    if flags & AT_REMOVEDIR:
        os.rmdir(path, dir_fd=dir_fd)
    else:
        os.unlink(path, dir_fd=dir_fd)
    return 0


def sys_mkdirat(process: GuestProcess, args: list[int]) -> int:
    path = read_path(process, args[1])
    try:
        dir_fd = _os_dir_fd(_host_dirfd(process, args[0], path))
    except _BadDirFd:
        return -EBADF
    os.mkdir(path, args[2] & 0o7777, dir_fd=dir_fd)
    return 0


AT_SYMLINK_FOLLOW = 0x400


def sys_linkat(process: GuestProcess, args: list[int]) -> int:
    flags = as_int32(args[4])
    if flags & ~(AT_SYMLINK_FOLLOW | AT_EMPTY_PATH):
        return -EINVAL
    old_path = read_path(process, args[1])
    new_path = read_path(process, args[3])
    try:
        old_dirfd = _os_dir_fd(_host_dirfd(process, args[0], old_path))
        new_dirfd = _os_dir_fd(_host_dirfd(process, args[2], new_path))
    except _BadDirFd:
        return -EBADF
    os.link(old_path, new_path, src_dir_fd=old_dirfd, dst_dir_fd=new_dirfd,
            follow_symlinks=bool(flags & AT_SYMLINK_FOLLOW))
    return 0


def sys_symlinkat(process: GuestProcess, args: list[int]) -> int:
    # The link's content is stored as given: it is not a path tcgjit resolves now.
    target = process.memory.read_cstring(args[0])
    link_path = read_path(process, args[2])
    try:
        dir_fd = _os_dir_fd(_host_dirfd(process, args[1], link_path))
    except _BadDirFd:
        return -EBADF
    os.symlink(target, link_path, dir_fd=dir_fd)
    return 0


def sys_renameat2(process: GuestProcess, args: list[int]) -> int:
    # riscv64 has no renameat (asm-generic leaves it out unless __ARCH_WANT_RENAMEAT): its
    # libcs call renameat2 with flags 0.
    flags = args[4] & 0xFFFFFFFF
    if flags & ~(RENAME_NOREPLACE | RENAME_EXCHANGE | RENAME_WHITEOUT):
        return -EINVAL
    old_path = read_path(process, args[1])
    new_path = read_path(process, args[3])
    try:
        old_dirfd = _host_dirfd(process, args[0], old_path)
        new_dirfd = _host_dirfd(process, args[2], new_path)
    except _BadDirFd:
        return -EBADF
    host_calls.renameat2(old_dirfd, old_path, new_dirfd, new_path, flags)
    return 0


def sys_umask(process: GuestProcess, args: list[int]) -> int:
    return os.umask(args[0] & 0o777)


def register_fs_paths(table: SyscallTable) -> None:
    table.register("openat", sys_openat,
                   (ArgKind.DIRFD, ArgKind.STRING, ArgKind.OPEN_FLAGS, ArgKind.OPEN_MODE))
    table.register("fstat", sys_fstat, (ArgKind.FD, ArgKind.PTR))
    table.register("newfstatat", sys_newfstatat,
                   (ArgKind.DIRFD, ArgKind.STRING, ArgKind.PTR, ArgKind.AT_FLAGS))
    table.register("statx", sys_statx,
                   (ArgKind.DIRFD, ArgKind.STRING, ArgKind.AT_FLAGS, ArgKind.HEX, ArgKind.PTR))
    table.register("faccessat", sys_faccessat,
                   (ArgKind.DIRFD, ArgKind.STRING, ArgKind.ACCESS_MODE))
    table.register("faccessat2", sys_faccessat2,
                   (ArgKind.DIRFD, ArgKind.STRING, ArgKind.ACCESS_MODE, ArgKind.AT_FLAGS))
    table.register("readlinkat", sys_readlinkat,
                   (ArgKind.DIRFD, ArgKind.STRING, ArgKind.OUT_BUFFER, ArgKind.INT))
    table.register("getdents64", sys_getdents64, (ArgKind.FD, ArgKind.OUT_BUFFER, ArgKind.UINT))
    table.register("getcwd", sys_getcwd, (ArgKind.OUT_BUFFER, ArgKind.UINT))
    table.register("chdir", sys_chdir, (ArgKind.STRING,))
    table.register("fchdir", sys_fchdir, (ArgKind.FD,))
    table.register("unlinkat", sys_unlinkat,
                   (ArgKind.DIRFD, ArgKind.STRING, ArgKind.UNLINK_FLAGS))
    table.register("mkdirat", sys_mkdirat, (ArgKind.DIRFD, ArgKind.STRING, ArgKind.OCTAL))
    table.register("renameat2", sys_renameat2,
                   (ArgKind.DIRFD, ArgKind.STRING, ArgKind.DIRFD, ArgKind.STRING, ArgKind.HEX))
    table.register("umask", sys_umask, (ArgKind.OCTAL,), ArgKind.OCTAL)
    table.register("linkat", sys_linkat,
                   (ArgKind.DIRFD, ArgKind.STRING, ArgKind.DIRFD, ArgKind.STRING, ArgKind.HEX))
    table.register("symlinkat", sys_symlinkat, (ArgKind.STRING, ArgKind.DIRFD, ArgKind.STRING))
