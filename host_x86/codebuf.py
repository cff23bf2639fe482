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

Two areas, so that the cache is bounded and can be flushed:

    [base, blocks_start)              the runtime area (RUNTIME_AREA_SIZE): entry trampoline,
                                      epilogue, fault exits, FP runtime, Python call thunks;
                                      `allocate`; never flushed
    [blocks_start, + capacity)        translated blocks (`allocate_block`); when a block does not
                                      fit, CodeBufferFull: the owner flushes (`flush`, every
                                      client drops its blocks) and translates again

The capacity is qemu's tb-size (`-tb-size MIB`, default DEFAULT_CODE_CACHE_SIZE). The memory in
use never exceeds the runtime area's used part plus the capacity: a flush starts writing blocks
at blocks_start again, over the pages already touched.
"""
from __future__ import annotations

import os
import weakref
from typing import Optional, Protocol

from host_x86.libc import (MAP_FIXED, MAP_NORESERVE, PAGE_SIZE, PROT_EXEC, PROT_NONE,
                           PROT_READ, PROT_WRITE, ffi, lib, mmap_anonymous, mmap_shared_fd,
                           mprotect, munmap, read_bytes, write_bytes)
from jit.code_cache import (DEFAULT_CODE_CACHE_SIZE, MAX_CODE_CACHE_SIZE, MIB,
                            MIN_CODE_CACHE_SIZE, CodeCacheFull)

RUNTIME_AREA_SIZE = 2 * MIB
BLOCK_ALIGN = 16
MFD_CLOEXEC = 1


class CodeBufferFull(CodeCacheFull):
    """The code cache has no room left for a block."""


class CodeCacheClient(Protocol):
    """A user of the blocks area (a backend): told when the area is flushed."""

    @property
    def running_generated_code(self) -> bool: ...

    def code_cache_flushed(self) -> None: ...


class CodeBuffer:
    def __init__(self, capacity: int = DEFAULT_CODE_CACHE_SIZE, dual_mapping: bool = True,
                 runtime_size: int = RUNTIME_AREA_SIZE):
        """capacity: bytes for translated blocks (the most `set_capacity` may later ask for)."""
        if not MIN_CODE_CACHE_SIZE <= capacity <= MAX_CODE_CACHE_SIZE:
            raise ValueError(f"code cache size must be between {MIN_CODE_CACHE_SIZE >> 20} and "
                             f"{MAX_CODE_CACHE_SIZE >> 20} MiB")
        self.runtime_size = runtime_size
        self.reserved_capacity = capacity
        self.capacity = capacity
        self.size = runtime_size + capacity
        self.runtime_used = 0
        self.used = 0                 # bytes of the blocks area in use since the last flush
        self.peak_used = 0            # most bytes of the blocks area ever in use
        self.flushes = 0
        self.mprotect_calls = 0
        self._clients: list[weakref.ref] = []
        self._write_delta: Optional[int] = None   # writable view address - executable address
        # The writable view as a buffer indexed by offset from base (one slice assignment per
        # write, no pointer cast per call); set with _write_delta.
        self._writable = None
        self._fork_copy: Optional[tuple[int, int]] = None   # (memfd, its writable view)
        if dual_mapping:
            self._map_twice(self.size)
        if self._write_delta is None:
            self.base = mmap_anonymous(self.size, PROT_NONE, MAP_NORESERVE)
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
        self._set_writable(writable)

    def _set_writable(self, writable: int) -> None:
        self._write_delta = writable - self.base
        self._writable = ffi.buffer(ffi.cast("uint8_t *", writable), self.size)

    def _before_fork(self) -> None:
        fd = self._new_memfd(self.size)
        if fd is None:
            raise OSError(ffi.errno, "memfd_create for the child's code cache failed")
        writable = mmap_shared_fd(self.size, PROT_READ | PROT_WRITE, fd, MAP_NORESERVE)
        for start, length in ((0, self.runtime_used), (self.runtime_size, self.used)):
            ffi.memmove(ffi.cast("void *", writable + start),
                        ffi.cast("void *", self.base + start), length)
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
        self._set_writable(writable)
        lib.close(fd)

    @property
    def dual_mapped(self) -> bool:
        return self._write_delta is not None

    @property
    def end(self) -> int:
        return self.base + self.size

    @property
    def blocks_start(self) -> int:
        return self.base + self.runtime_size

    @property
    def memory_in_use(self) -> int:
        """Bytes of the cache that hold code now or held it before a flush (touched pages)."""
        return (_align_up(self.runtime_used, PAGE_SIZE)
                + _align_up(max(self.peak_used, self.used), PAGE_SIZE))

    def contains(self, addr: int) -> bool:
        return self.base <= addr < self.base + self.size

    def allocate(self, size: int) -> int:
        """Reserve `size` bytes in the runtime area (code that is never flushed: runtime stubs,
        thunks), aligned to BLOCK_ALIGN; returns their address."""
        start = _align_up(self.runtime_used, BLOCK_ALIGN)
        if start + size > self.runtime_size:
            raise MemoryError(f"the code cache's runtime area of {self.runtime_size >> 20} MiB "
                              f"is full")
        self.runtime_used = start + size
        return self.base + start

    def allocate_block(self, size: int) -> int:
        """Reserve `size` bytes for a translated block, aligned to BLOCK_ALIGN; returns their
        address, or raises CodeBufferFull (flush, then try again)."""
        start = _align_up(self.used, BLOCK_ALIGN)
        if start + size > self.capacity:
            raise CodeBufferFull(f"code cache of {self.capacity >> 20} MiB is full")
        self.used = start + size
        return self.blocks_start + start

    def set_capacity(self, capacity: int) -> None:
        """Bound the blocks area to `capacity` bytes (at most the size reserved at creation).
        Blocks beyond a lowered bound stay valid until the next flush."""
        if not MIN_CODE_CACHE_SIZE <= capacity <= self.reserved_capacity:
            raise ValueError(f"code cache size must be between {MIN_CODE_CACHE_SIZE >> 20} and "
                             f"{self.reserved_capacity >> 20} MiB here")
        self.capacity = capacity

    def add_client(self, client: CodeCacheClient) -> None:
        """Tell `client` about every flush (held weakly: a dead client is forgotten)."""
        self._clients.append(weakref.ref(client))

    def flush(self) -> None:
        """Empty the blocks area: every live client drops its blocks (their code is about to be
        overwritten). Only when no generated code is running: a return into a flushed block
        would run whatever is written there next."""
        clients = [client for client in (ref() for ref in self._clients) if client is not None]
        self._clients = [weakref.ref(client) for client in clients]
        if any(client.running_generated_code for client in clients):
            raise RuntimeError("the code cache cannot be flushed while generated code runs")
        self.peak_used = max(self.peak_used, self.used)
        self.used = 0
        self.flushes += 1
        for client in clients:
            client.code_cache_flushed()

    def write(self, addr: int, data: bytes) -> None:
        """Copy code into the cache (newly allocated space or a patch of existing code)."""
        if not (self.base <= addr and addr + len(data) <= self.base + self.size):
            raise ValueError(f"write of {len(data)} bytes at {addr:#x} is outside the code cache")
        writable = self._writable
        if writable is not None:
            start = addr - self.base
            writable[start:start + len(data)] = data
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
_configured_capacity = DEFAULT_CODE_CACHE_SIZE


def configure_code_cache(capacity: int) -> None:
    """Set the capacity of the process's code cache (before or after it exists; once it
    exists, at most what it reserved: DEFAULT_CODE_CACHE_SIZE or the capacity asked for
    before). ValueError if out of range."""
    global _configured_capacity
    if _shared_buffer is None:
        if not MIN_CODE_CACHE_SIZE <= capacity <= MAX_CODE_CACHE_SIZE:
            raise ValueError(f"code cache size must be between {MIN_CODE_CACHE_SIZE >> 20} and "
                             f"{MAX_CODE_CACHE_SIZE >> 20} MiB")
        _configured_capacity = capacity
    else:
        _shared_buffer.set_capacity(capacity)


def shared_code_buffer() -> CodeBuffer:
    """The process's code cache. Its address space is reserved for at least the default
    capacity (MAP_NORESERVE: untouched pages cost nothing), so that a smaller capacity can be
    set later; the configured capacity bounds it."""
    global _shared_buffer
    if _shared_buffer is None:
        buffer = CodeBuffer(max(_configured_capacity, DEFAULT_CODE_CACHE_SIZE))
        buffer.set_capacity(_configured_capacity)
        _shared_buffer = buffer
    return _shared_buffer
