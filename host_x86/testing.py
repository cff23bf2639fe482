"""Test support for the backend: a guest address space of its own and a memory view of it that
the reference interpreter (jit/interp.py) can use, so that native runs and interpreted runs of
the same block can be compared byte for byte.

Like guest/memory.py, one region of `size` bytes is reserved (PROT_NONE, MAP_NORESERVE) and
pages are made accessible inside it; host address = base + guest address.
"""
from __future__ import annotations

from keystone import KS_ARCH_X86, KS_MODE_64, Ks

from host_x86.libc import (MAP_NORESERVE, PAGE_SIZE, PROT_EXEC, PROT_NONE, PROT_READ,
                           PROT_WRITE, mmap_anonymous, mprotect, munmap, read_bytes, write_bytes)


class GuestSpace:
    def __init__(self, size: int = 1 << 38, guard: int = 0):
        """guard: PROT_NONE bytes reserved on each side too (see host_x86/guest_access.py)."""
        self.size = size
        self.guard = guard
        self.base = mmap_anonymous(size + 2 * guard, PROT_NONE, MAP_NORESERVE) + guard
        self._protections: dict[int, int] = {}   # page number -> PROT_* bits

    def map(self, addr: int, size: int, prot: int = PROT_READ | PROT_WRITE) -> None:
        """Make [addr, addr+size) accessible with `prot` (page granular)."""
        first = addr // PAGE_SIZE
        last = (addr + size + PAGE_SIZE - 1) // PAGE_SIZE
        mprotect(self.base + first * PAGE_SIZE, (last - first) * PAGE_SIZE, prot)
        for page in range(first, last):
            if prot == PROT_NONE:
                self._protections.pop(page, None)
            else:
                self._protections[page] = prot

    def _check(self, addr: int, size: int, needed: int) -> None:
        if addr < 0 or addr + size > self.size:
            raise MemoryError(f"guest address {addr:#x} is outside the guest space")
        for page in range(addr // PAGE_SIZE, (addr + size - 1) // PAGE_SIZE + 1):
            if not self._protections.get(page, 0) & needed:
                raise MemoryError(f"guest address {addr:#x} is not accessible")

    # The interpreter's MemoryAccess protocol.
    def read(self, addr: int, size: int) -> bytes:
        self._check(addr, size, PROT_READ)
        return read_bytes(self.base + addr, size)

    def write(self, addr: int, data: bytes) -> None:
        self._check(addr, len(data), PROT_WRITE)
        write_bytes(self.base + addr, data)

    # Direct access for test set-up, bypassing protections (the page must be readable).
    def poke(self, addr: int, data: bytes) -> None:
        prot = self._protections.get(addr // PAGE_SIZE, 0)
        if not prot & PROT_WRITE:
            raise MemoryError(f"poke at {addr:#x}: page not writable")
        write_bytes(self.base + addr, data)

    def peek(self, addr: int, size: int) -> bytes:
        return read_bytes(self.base + addr, size)

    def close(self) -> None:
        munmap(self.base - self.guard, self.size + 2 * self.guard)


class HostMemory:
    """The interpreter's view of absolute host memory (for ld_host/st_host)."""

    @staticmethod
    def read(addr: int, size: int) -> bytes:
        return read_bytes(addr, size)

    @staticmethod
    def write(addr: int, data: bytes) -> None:
        write_bytes(addr, data)


class NativeCode:
    """Small native functions for tests (helpers, probes), assembled by keystone into pages of
    their own (written, then made read+execute)."""

    def __init__(self, size: int = 1 << 16):
        self.size = size
        self.base = mmap_anonymous(size, PROT_READ | PROT_WRITE)
        self.used = 0

    def add(self, assembly: str) -> int:
        """Assemble `assembly` (Intel syntax, `;` or newlines between instructions) and return
        the address of its first byte. Keystone is fine here: these are not jumps to far
        targets."""
        address = self.base + self.used
        encoding, _ = Ks(KS_ARCH_X86, KS_MODE_64).asm(assembly, address)
        code = bytes(encoding)
        mprotect(self.base, self.size, PROT_READ | PROT_WRITE)
        write_bytes(address, code)
        mprotect(self.base, self.size, PROT_READ | PROT_EXEC)
        self.used += (len(code) + 15) & ~15
        return address
