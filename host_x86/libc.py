"""The libc functions the backend calls through cffi (ABI mode, the running process's own libc)."""
from __future__ import annotations

# The declarations are in tools/build_ffi.py; host_x86/libc_ffi.py is generated from them
# (pre-parsed, so that start-up does not parse C).
from host_x86.libc_ffi import ffi

lib = ffi.dlopen(None)

PROT_NONE = 0
PROT_READ = 1
PROT_WRITE = 2
PROT_EXEC = 4
MAP_SHARED = 0x01
MAP_PRIVATE = 0x02
MAP_FIXED = 0x10
MAP_ANONYMOUS = 0x20
MAP_NORESERVE = 0x4000
MAP_FAILED = (1 << 64) - 1

SIGBUS = 7
SIGSEGV = 11
SA_SIGINFO = 0x4
SA_ONSTACK = 0x08000000
SS_DISABLE = 2
SIG_DFL = 0
SIG_IGN = 1

PAGE_SIZE = 4096


def address_of(pointer) -> int:
    return int(ffi.cast("uintptr_t", pointer))


def mmap_anonymous(size: int, prot: int, extra_flags: int = 0, addr: int = 0) -> int:
    """Map anonymous private memory; returns its address or raises OSError."""
    result = lib.mmap(ffi.cast("void *", addr), size, prot,
                      MAP_PRIVATE | MAP_ANONYMOUS | extra_flags, -1, 0)
    address = address_of(result)
    if address == MAP_FAILED:
        raise OSError(ffi.errno, f"mmap of {size:#x} bytes failed")
    return address


def mmap_shared_fd(size: int, prot: int, fd: int, extra_flags: int = 0, addr: int = 0) -> int:
    """Map `size` bytes of file descriptor fd (shared); returns the address or raises OSError."""
    result = lib.mmap(ffi.cast("void *", addr), size, prot, MAP_SHARED | extra_flags, fd, 0)
    address = address_of(result)
    if address == MAP_FAILED:
        raise OSError(ffi.errno, f"mmap of fd {fd} ({size:#x} bytes) failed")
    return address


def mprotect(addr: int, size: int, prot: int) -> None:
    if lib.mprotect(ffi.cast("void *", addr), size, prot) != 0:
        raise OSError(ffi.errno, f"mprotect({addr:#x}, {size:#x}, {prot}) failed")


def munmap(addr: int, size: int) -> None:
    if lib.munmap(ffi.cast("void *", addr), size) != 0:
        raise OSError(ffi.errno, f"munmap({addr:#x}, {size:#x}) failed")


def write_bytes(addr: int, data: bytes) -> None:
    ffi.memmove(ffi.cast("uint8_t *", addr), data, len(data))


def read_bytes(addr: int, size: int) -> bytes:
    return bytes(ffi.buffer(ffi.cast("uint8_t *", addr), size))
