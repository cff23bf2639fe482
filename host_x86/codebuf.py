"""Executable memory for generated code: one reserved region, filled sequentially.

The whole code cache is one reservation, so every rel32 jump between blocks, to the shared
epilogue and to the fault stubs reaches. No page is ever writable and executable at once. Two
ways to write code, measured on this machine for sequential 200-byte blocks:

- dual mapping (used when memfd_create works): the cache is a memfd mapped twice, read+execute
  where code runs and read+write elsewhere; code and chaining patches are written through the
  writable view. No system call per write: about 1.9 us per block written (mostly first-touch
  page faults), 1.1 us per 4-byte chaining patch.
- mprotect toggling (the fallback): the touched pages are made read+write, written, and made
  read+execute again. Changing the protection of part of a mapping splits and merges kernel
  VMAs and flushes TLBs: about 26 us per block written, 16 us per chaining patch.

The region is shared by every backend of the process (see `shared_code_buffer`): the host fault
handler then has a single address range to recognise generated code by.

A shared mapping would stay shared with a child after os.fork(): two processes writing blocks
into one cache. So, when dual-mapped, the buffer copies its code into a new memfd just before a
fork (hooks of os.register_at_fork), and the child remaps both views onto that copy.
"""
from __future__ import annotations

import os
from typing import Optional

from host_x86.libc import (MAP_FIXED, MAP_NORESERVE, PAGE_SIZE, PROT_EXEC, PROT_NONE,
                           PROT_READ, PROT_WRITE, ffi, lib, mmap_anonymous, mmap_shared_fd,
                           mprotect, munmap, read_bytes, write_bytes)

DEFAULT_RESERVE = 256 << 20
BLOCK_ALIGN = 16
MFD_CLOEXEC = 1


class CodeBufferFull(Exception):
    """The code cache has no room left for a block."""


class CodeBuffer:
    def __init__(self, reserve_size: int = DEFAULT_RESERVE, dual_mapping: bool = True):
        self.size = reserve_size
        self.used = 0
        self.mprotect_calls = 0
        self._write_delta: Optional[int] = None   # writable view address - executable address
        self._fork_copy: Optional[tuple[int, int]] = None   # (memfd, its writable view)
        if dual_mapping:
            self._map_twice(reserve_size)
        if self._write_delta is None:
            self.base = mmap_anonymous(reserve_size, PROT_NONE, MAP_NORESERVE)
        else:
            os.register_at_fork(before=self._before_fork,
                                after_in_parent=self._after_fork_in_parent,
                                after_in_child=self._after_fork_in_child)

    @staticmethod
    def _new_memfd(size: int) -> Optional[int]:
        fd = lib.memfd_create(b"tcgjit-code", MFD_CLOEXEC)
        if fd < 0:
            return None
        if lib.ftruncate(fd, size) != 0:
            lib.close(fd)
            return None
        return fd

    def _map_twice(self, size: int) -> None:
        fd = self._new_memfd(size)
        if fd is None:
            return
        try:
            executable = mmap_shared_fd(size, PROT_READ | PROT_EXEC, fd, MAP_NORESERVE)
            writable = mmap_shared_fd(size, PROT_READ | PROT_WRITE, fd, MAP_NORESERVE)
        except OSError:
            return
        finally:
            lib.close(fd)      # the mappings keep the memory alive
        self.base = executable
        self._write_delta = writable - executable

    def _before_fork(self) -> None:
        fd = self._new_memfd(self.size)
        if fd is None:
            raise OSError(ffi.errno, "memfd_create for the child's code cache failed")
        writable = mmap_shared_fd(self.size, PROT_READ | PROT_WRITE, fd, MAP_NORESERVE)
        ffi.memmove(ffi.cast("void *", writable), ffi.cast("void *", self.base), self.used)
        self._fork_copy = (fd, writable)

    def _after_fork_in_parent(self) -> None:
        fd, writable = self._fork_copy
        self._fork_copy = None
        munmap(writable, self.size)
        lib.close(fd)

    def _after_fork_in_child(self) -> None:
        fd, writable = self._fork_copy
        self._fork_copy = None
        mmap_shared_fd(self.size, PROT_READ | PROT_EXEC, fd, MAP_NORESERVE | MAP_FIXED,
                       addr=self.base)
        munmap(self.base + self._write_delta, self.size)
        self._write_delta = writable - self.base
        lib.close(fd)

    @property
    def dual_mapped(self) -> bool:
        return self._write_delta is not None

    @property
    def end(self) -> int:
        return self.base + self.size

    def contains(self, addr: int) -> bool:
        return self.base <= addr < self.base + self.size

    def allocate(self, size: int) -> int:
        """Reserve `size` bytes for code, aligned to BLOCK_ALIGN; returns their address."""
        start = _align_up(self.used, BLOCK_ALIGN)
        if start + size > self.size:
            raise CodeBufferFull(f"code cache of {self.size >> 20} MiB is full")
        self.used = start + size
        return self.base + start

    def write(self, addr: int, data: bytes) -> None:
        """Copy code into the cache (newly allocated space or a patch of existing code)."""
        if not (self.base <= addr and addr + len(data) <= self.base + self.size):
            raise ValueError(f"write of {len(data)} bytes at {addr:#x} is outside the code cache")
        if self._write_delta is not None:
            write_bytes(addr + self._write_delta, data)
            return
        first_page = addr & ~(PAGE_SIZE - 1)
        span = _align_up(addr + len(data), PAGE_SIZE) - first_page
        mprotect(first_page, span, PROT_READ | PROT_WRITE)
        write_bytes(addr, data)
        mprotect(first_page, span, PROT_READ | PROT_EXEC)
        self.mprotect_calls += 2

    def read(self, addr: int, size: int) -> bytes:
        return read_bytes(addr, size)


def _align_up(value: int, alignment: int) -> int:
    return (value + alignment - 1) & ~(alignment - 1)


_shared_buffer: Optional[CodeBuffer] = None


def shared_code_buffer() -> CodeBuffer:
    global _shared_buffer
    if _shared_buffer is None:
        _shared_buffer = CodeBuffer()
    return _shared_buffer
