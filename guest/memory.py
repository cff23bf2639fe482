"""The guest address space: one reserved host region in which guest address A lives at `base + A`.

The whole RISC-V Sv39 user space (2**38 bytes) is reserved once with PROT_NONE and MAP_NORESERVE,
so that generated code can turn a guest address into a host address with a single add, and an
access to a guest page that is not mapped (or not writable) faults in hardware inside the region;
the backend's signal handler turns that into a guest fault.

Guest pages are then mapped inside the region with mmap(MAP_FIXED). A Python-side map of the guest
page protections lets the syscall layer check every access it makes on the guest's behalf and raise
`GuestMemoryError` (turned into -EFAULT) instead of crashing the host.

Protection semantics (the guest's PROT_* values are Linux's, identical to the host's):
- a page is readable by syscalls if it has PROT_READ or PROT_WRITE (RISC-V Linux maps write-only
  as read-write, since W without R is a reserved PTE encoding);
- the host mapping of any accessible guest page is readable, because the frontend fetches code
  through it even from execute-only pages; so generated code can load from execute-only pages
  where real hardware would fault. Host pages are never executable: guest code is translated, not
  run.

Change listeners (`add_change_listener`) let the JIT drop translated blocks whose guest code went
away or changed: they are called after pages are unmapped, re-protected, mapped over (a new
mapping replacing pages that were mapped), moved (mremap), and after contents of pages with
PROT_EXEC are rewritten through this class (syscall reads into guest memory, the loader, a
debugger, madvise(MADV_DONTNEED)). Stores by generated code do not come through here; catching
those (a guest JIT writing code it runs) is the dispatcher's job, e.g. by write-protecting host
pages that hold translated code.
"""
from __future__ import annotations

import bisect
import enum
import os
import weakref
from typing import Callable, Iterator

# The declarations are in tools/build_ffi.py; guest/memory_ffi.py is generated from them
# (pre-parsed, so that start-up does not parse C).
from guest.memory_ffi import ffi as _ffi

PAGE_SHIFT = 12
PAGE_SIZE = 1 << PAGE_SHIFT
PAGE_MASK = PAGE_SIZE - 1
# PROT_NONE bytes reserved below and above the guest region (any 32-bit displacement from an
# address inside the region stays in the reservation).
GUARD_SIZE = 1 << 33
GUEST_ADDRESS_BITS = 38
GUEST_ADDRESS_SPACE_SIZE = 1 << GUEST_ADDRESS_BITS

# Linux mmap protection bits: the guest's values, and the host's (x86-64 Linux uses the same).
PROT_NONE = 0
PROT_READ = 1
PROT_WRITE = 2
PROT_EXEC = 4
PROT_ALL = PROT_READ | PROT_WRITE | PROT_EXEC

# Lowest address handed out by find_free, like Linux's vm.mmap_min_addr: keeps NULL-ish pointers
# faulting.
MMAP_MIN_ADDR = 0x10000

# Host (x86-64 Linux) mmap flags; Python's mmap module does not export MAP_FIXED or MAP_NORESERVE.
_HOST_MAP_SHARED = 0x01
_HOST_MAP_PRIVATE = 0x02
_HOST_MAP_FIXED = 0x10
_HOST_MAP_ANONYMOUS = 0x20
_HOST_MAP_NORESERVE = 0x4000
_HOST_MREMAP_MAYMOVE = 1
_HOST_MREMAP_FIXED = 2
_HOST_MREMAP_DONTUNMAP = 4
_HOST_MADV_DONTNEED = 4
_HOST_EFAULT = 14

_libc = _ffi.dlopen(None)
_MAP_FAILED = (1 << 64) - 1


class MemoryChange(enum.Enum):
    """What happened to a guest range, as reported to change listeners."""
    MAP = "map"            # a new mapping replaced pages that were mapped (or mremap's target)
    UNMAP = "unmap"        # pages went away (munmap, brk shrinking, mremap's source)
    PROTECT = "protect"    # protections changed (the listener can query protection())
    WRITE = "write"        # contents of pages with PROT_EXEC were rewritten outside guest code


ChangeListener = Callable[[int, int, MemoryChange], None]


class GuestMemoryError(Exception):
    """An access made on the guest's behalf touched memory it may not access (-> -EFAULT)."""

    def __init__(self, address: int, size: int, access: str):
        super().__init__(f"guest memory fault: cannot {access} {size} bytes at 0x{address:x}")
        self.address = address
        self.size = size
        self.access = access


class GuestStringTooLong(Exception):
    """A guest C string had no NUL within the allowed length (-> -ENAMETOOLONG for paths)."""

    def __init__(self, address: int, max_length: int):
        super().__init__(f"guest string at 0x{address:x} is longer than {max_length} bytes")
        self.address = address
        self.max_length = max_length


def page_align_down(value: int) -> int:
    return value & ~PAGE_MASK


def page_align_up(value: int) -> int:
    return (value + PAGE_MASK) & ~PAGE_MASK


def _is_readable(prot: int) -> bool:
    return bool(prot & (PROT_READ | PROT_WRITE))


def _is_writable(prot: int) -> bool:
    return bool(prot & PROT_WRITE)


def _is_executable(prot: int) -> bool:
    return bool(prot & PROT_EXEC)


def _host_protection(guest_prot: int) -> int:
    if guest_prot == PROT_NONE:
        return PROT_NONE
    if guest_prot & PROT_WRITE:
        return PROT_READ | PROT_WRITE
    return PROT_READ


def _host_mmap(host_addr: int, length: int, prot: int, flags: int, fd: int = -1,
               offset: int = 0) -> None:
    result = _libc.mmap(_ffi.cast("void *", host_addr), length, prot, flags, fd, offset)
    result_addr = int(_ffi.cast("uintptr_t", result))
    if result_addr == _MAP_FAILED:
        error = _ffi.errno
        raise OSError(error, f"{os.strerror(error)} (mmap of {length:#x} bytes)")
    if flags & _HOST_MAP_FIXED and result_addr != host_addr:
        raise OSError(0, f"mmap(MAP_FIXED) returned {result_addr:#x}, not {host_addr:#x}")


def _host_mprotect(host_addr: int, length: int, prot: int) -> None:
    if _libc.mprotect(_ffi.cast("void *", host_addr), length, prot) != 0:
        error = _ffi.errno
        raise OSError(error, f"{os.strerror(error)} (mprotect of {length:#x} bytes)")


def _host_mremap_fixed(old_host: int, old_size: int, new_host: int, new_size: int,
                       keep_old: bool) -> None:
    flags = _HOST_MREMAP_MAYMOVE | _HOST_MREMAP_FIXED
    if keep_old:
        flags |= _HOST_MREMAP_DONTUNMAP
    result = _libc.mremap(_ffi.cast("void *", old_host), old_size, new_size, flags,
                          _ffi.cast("void *", new_host))
    result_addr = int(_ffi.cast("uintptr_t", result))
    if result_addr == _MAP_FAILED:
        error = _ffi.errno
        raise OSError(error, f"{os.strerror(error)} (mremap of {old_size:#x} bytes)")
    if result_addr != new_host:
        raise OSError(0, f"mremap(MREMAP_FIXED) returned {result_addr:#x}, not {new_host:#x}")


def _host_discard(host_addr: int, length: int) -> None:
    if _libc.madvise(_ffi.cast("void *", host_addr), length, _HOST_MADV_DONTNEED) != 0:
        error = _ffi.errno
        raise OSError(error, f"{os.strerror(error)} (madvise of {length:#x} bytes)")


def _reserve_region(size: int) -> int:
    result = _libc.mmap(_ffi.NULL, size, PROT_NONE,
                        _HOST_MAP_PRIVATE | _HOST_MAP_ANONYMOUS | _HOST_MAP_NORESERVE, -1, 0)
    result_addr = int(_ffi.cast("uintptr_t", result))
    if result_addr == _MAP_FAILED:
        error = _ffi.errno
        raise OSError(error, f"{os.strerror(error)} (cannot reserve {size:#x} bytes of host "
                             f"address space for the guest)")
    return result_addr


def _release_region(base: int, size: int) -> None:
    _libc.munmap(_ffi.cast("void *", base), size)


class ProtectionMap:
    """Guest protections as sorted, non-overlapping, coalesced [start, end) ranges.

    Ranges rather than one entry per page, because a guest may map gigabytes at once.
    """

    def __init__(self) -> None:
        self._starts: list[int] = []
        self._ends: list[int] = []
        self._prots: list[int] = []

    def __iter__(self) -> Iterator[tuple[int, int, int]]:
        return iter(list(zip(self._starts, self._ends, self._prots)))

    def _index_containing(self, address: int) -> int | None:
        index = bisect.bisect_right(self._starts, address) - 1
        if index >= 0 and address < self._ends[index]:
            return index
        return None

    def protection_at(self, address: int) -> int | None:
        index = self._index_containing(address)
        return None if index is None else self._prots[index]

    def _split_at(self, address: int) -> None:
        index = self._index_containing(address)
        if index is None or self._starts[index] == address:
            return
        self._starts.insert(index + 1, address)
        self._ends.insert(index + 1, self._ends[index])
        self._prots.insert(index + 1, self._prots[index])
        self._ends[index] = address

    def _merge_with_next(self, index: int) -> None:
        if (0 <= index < len(self._starts) - 1 and self._ends[index] == self._starts[index + 1]
                and self._prots[index] == self._prots[index + 1]):
            self._ends[index] = self._ends[index + 1]
            del self._starts[index + 1], self._ends[index + 1], self._prots[index + 1]

    def set_range(self, start: int, end: int, prot: int | None) -> None:
        """Give [start, end) protection `prot`, or make it unmapped when prot is None."""
        if start >= end:
            return
        self._split_at(start)
        self._split_at(end)
        low = bisect.bisect_left(self._starts, start)
        high = bisect.bisect_left(self._starts, end)
        del self._starts[low:high], self._ends[low:high], self._prots[low:high]
        if prot is None:
            return
        self._starts.insert(low, start)
        self._ends.insert(low, end)
        self._prots.insert(low, prot)
        self._merge_with_next(low)
        self._merge_with_next(low - 1)

    def ranges_in(self, start: int, end: int) -> list[tuple[int, int, int]]:
        """The mapped pieces of [start, end), clipped to it, in address order."""
        pieces = []
        index = max(bisect.bisect_right(self._starts, start) - 1, 0)
        while index < len(self._starts) and self._starts[index] < end:
            piece_start = max(self._starts[index], start)
            piece_end = min(self._ends[index], end)
            if piece_start < piece_end:
                pieces.append((piece_start, piece_end, self._prots[index]))
            index += 1
        return pieces

    def first_inaccessible(self, start: int, end: int, allowed) -> int | None:
        """The lowest address of [start, end) that is unmapped or whose protection fails
        `allowed(prot)`, or None when the whole range is accessible."""
        cursor = start
        index = self._index_containing(start)
        if index is None:
            return start
        while cursor < end:
            if (index >= len(self._starts) or self._starts[index] > cursor
                    or not allowed(self._prots[index])):
                return cursor
            cursor = self._ends[index]
            index += 1
        return None

    def is_free(self, start: int, end: int) -> bool:
        return not self.ranges_in(start, end)

    def highest_gap(self, size: int, low: int, high: int) -> int | None:
        """The start of the highest free range of `size` bytes inside [low, high), top-down like
        Linux's mmap placement, or None."""
        gap_end = high
        index = bisect.bisect_left(self._starts, high) - 1     # last range starting below high
        while True:
            below_end = self._ends[index] if index >= 0 else low
            gap_start = max(below_end, low)
            if gap_end - gap_start >= size:
                return gap_end - size
            if index < 0 or gap_start <= low:
                return None
            gap_end = self._starts[index]
            index -= 1


class GuestMemory:
    """The guest's address space. Guest address `a` is host address `base + a`.

    Programming errors (unaligned or out-of-range arguments to map/protect/unmap) raise ValueError;
    guest-caused bad accesses through the checked accessors raise GuestMemoryError; host mmap
    failures raise OSError (its errno is a host errno, e.g. ENOMEM).
    """

    def __init__(self, size: int = GUEST_ADDRESS_SPACE_SIZE):
        if size <= 0 or size & PAGE_MASK:
            raise ValueError(f"guest address space size {size:#x} is not a positive page multiple")
        self.size = size
        # Inaccessible guard areas on both sides of the region: generated code may then check
        # only the base register of `base + displacement` accesses (host_x86/guest_access.py).
        self.guard_size = GUARD_SIZE
        region_size = size + 2 * GUARD_SIZE
        self.base = _reserve_region(region_size) + GUARD_SIZE
        self.limit = size
        # find_free hands out addresses in [mmap_bottom, mmap_top); the process lowers mmap_top
        # below the stack so that mappings keep a gap to it.
        self.mmap_bottom = MMAP_MIN_ADDR
        self.mmap_top = size
        self._protections = ProtectionMap()
        self._change_listeners: list[ChangeListener] = []
        # Pages the guest may write that hold translated code: read-only on the host, so that
        # a guest store into them faults and the JIT can drop the stale translation.
        self._code_pages: set[int] = set()
        self._release = weakref.finalize(self, _release_region, self.base - GUARD_SIZE,
                                         region_size)

    # --- change listeners -----------------------------------------------------------------------

    def add_change_listener(self, listener: ChangeListener) -> None:
        """Call `listener(addr, size, kind)` after each change of the kinds in MemoryChange.
        addr/size are the page-aligned range of the operation (WRITE: the bytes written)."""
        self._change_listeners.append(listener)

    def remove_change_listener(self, listener: ChangeListener) -> None:
        self._change_listeners.remove(listener)

    def notify_code_changed(self, addr: int, size: int) -> None:
        """The guest says it rewrote code in [addr, addr + size) (riscv_flush_icache)."""
        self._notify(addr, size, MemoryChange.WRITE)

    # --- write protection of translated code ----------------------------------------------------

    def protect_code(self, addr: int, size: int) -> None:
        """Code in [addr, addr+size) has been translated: make the pages of it the guest may
        write read-only on the host (the guest's own view of their protection is unchanged)."""
        for page in range(addr >> PAGE_SHIFT, ((addr + max(size, 1) - 1) >> PAGE_SHIFT) + 1):
            if page in self._code_pages:
                continue
            prot = self._protections.protection_at(page << PAGE_SHIFT)
            if prot is not None and _is_writable(prot):
                _host_mprotect(self.base + (page << PAGE_SHIFT), PAGE_SIZE,
                               _host_protection(prot) & ~PROT_WRITE)
                self._code_pages.add(page)

    def unprotect_code_page(self, addr: int) -> bool:
        """A guest store to addr faulted. If its page is read-only only because it holds
        translated code, make it writable again, report the rewrite of the page to the change
        listeners (which drop the translations) and return True; else return False."""
        page = addr >> PAGE_SHIFT
        if page not in self._code_pages:
            return False
        self._release_code_pages(page << PAGE_SHIFT, PAGE_SIZE, restore_host=True)
        self._notify(page << PAGE_SHIFT, PAGE_SIZE, MemoryChange.WRITE)
        return True

    def _release_code_pages(self, addr: int, length: int, restore_host: bool) -> None:
        """Forget the code protection of the pages in [addr, addr+length); with restore_host,
        give them back their guest protection on the host first."""
        if not self._code_pages:
            return
        first, last = addr >> PAGE_SHIFT, (addr + length - 1) >> PAGE_SHIFT
        if last - first >= len(self._code_pages):
            pages = [page for page in self._code_pages if first <= page <= last]
        else:
            pages = [page for page in range(first, last + 1) if page in self._code_pages]
        for page in pages:
            self._code_pages.discard(page)
            if restore_host:
                prot = self._protections.protection_at(page << PAGE_SHIFT)
                _host_mprotect(self.base + (page << PAGE_SHIFT), PAGE_SIZE,
                               _host_protection(prot if prot is not None else PROT_NONE))

    def _notify(self, addr: int, size: int, kind: MemoryChange) -> None:
        for listener in list(self._change_listeners):
            listener(addr, size, kind)

    def _notify_if_mapped(self, addr: int, size: int, kind: MemoryChange,
                          was_mapped: bool) -> None:
        if was_mapped and self._change_listeners:
            self._notify(addr, size, kind)

    def _notify_code_write(self, addr: int, size: int) -> None:
        """Report a rewrite of [addr, addr+size) if it touches pages with PROT_EXEC: only those
        can hold code the JIT has translated."""
        if not self._change_listeners or size <= 0:
            return
        if any(_is_executable(prot) for _start, _end, prot
               in self._protections.ranges_in(addr, addr + size)):
            self._notify(addr, size, MemoryChange.WRITE)

    # --- lifetime -------------------------------------------------------------------------------

    def close(self) -> None:
        """Release the host region. Generated code must not run on this memory afterwards."""
        self._release()
        self._protections = ProtectionMap()

    @property
    def closed(self) -> bool:
        return not self._release.alive

    def __enter__(self) -> GuestMemory:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    # --- mapping --------------------------------------------------------------------------------

    def _check_page_range(self, addr: int, size: int, operation: str) -> int:
        """Validate a page-aligned range; returns the size rounded up to whole pages."""
        if self.closed:
            raise ValueError("guest memory is closed")
        if addr & PAGE_MASK:
            raise ValueError(f"{operation}: address {addr:#x} is not page aligned")
        if size <= 0:
            raise ValueError(f"{operation}: size {size:#x} is not positive")
        length = page_align_up(size)
        if addr < 0 or addr + length > self.size:
            raise ValueError(f"{operation}: range {addr:#x}+{length:#x} is outside the guest "
                             f"address space (size {self.size:#x})")
        return length

    def map(self, addr: int, size: int, prot: int, *, fd: int | None = None, offset: int = 0,
            shared: bool = False) -> None:
        """Map [addr, addr+size) (size rounded up to pages) with guest protection `prot`,
        replacing whatever was there (MAP_FIXED semantics).

        Without `fd` the pages are anonymous and zero-filled; with `fd` they map the host file
        from `offset` (page aligned). Either way they are private (copy-on-write) unless `shared`.
        Change listeners hear MAP when mapped pages were replaced.
        """
        length = self._check_page_range(addr, size, "map")
        if prot & ~PROT_ALL:
            raise ValueError(f"map: bad protection {prot:#x}")
        if fd is not None and offset & PAGE_MASK:
            raise ValueError(f"map: file offset {offset:#x} is not page aligned")
        was_mapped = not self._protections.is_free(addr, addr + length)
        sharing = _HOST_MAP_SHARED if shared else _HOST_MAP_PRIVATE
        try:
            if fd is None:
                flags = sharing | _HOST_MAP_ANONYMOUS | _HOST_MAP_FIXED
                _host_mmap(self.base + addr, length, _host_protection(prot), flags)
            else:
                _host_mmap(self.base + addr, length, _host_protection(prot),
                           sharing | _HOST_MAP_FIXED, fd, offset)
        except OSError:
            # A failed MAP_FIXED may already have unmapped the old pages (Linux unmaps before
            # its memory accounting check). Put the reservation back at once, or the host could
            # hand that hole to something else that guest accesses would then overwrite.
            self._reserve_again(addr, length)
            self._notify_if_mapped(addr, length, MemoryChange.UNMAP, was_mapped)
            raise
        self._protections.set_range(addr, addr + length, prot)
        self._release_code_pages(addr, length, restore_host=False)
        self._notify_if_mapped(addr, length, MemoryChange.MAP, was_mapped)

    def protect(self, addr: int, size: int, prot: int) -> None:
        """Change the protection of mapped pages. Raises GuestMemoryError (nothing changed) if
        part of the range is unmapped, as mprotect gives ENOMEM."""
        length = self._check_page_range(addr, size, "protect")
        if prot & ~PROT_ALL:
            raise ValueError(f"protect: bad protection {prot:#x}")
        hole = self._protections.first_inaccessible(addr, addr + length, lambda _prot: True)
        if hole is not None:
            raise GuestMemoryError(hole, length - (hole - addr), "protect")
        _host_mprotect(self.base + addr, length, _host_protection(prot))
        self._protections.set_range(addr, addr + length, prot)
        self._release_code_pages(addr, length, restore_host=False)
        self._notify_if_mapped(addr, length, MemoryChange.PROTECT, True)

    def unmap(self, addr: int, size: int) -> None:
        """Drop the pages of [addr, addr+size): their contents are discarded and the range goes
        back to the reserved PROT_NONE state. Unmapping unmapped pages is fine (like munmap)."""
        length = self._check_page_range(addr, size, "unmap")
        was_mapped = not self._protections.is_free(addr, addr + length)
        self._reserve_again(addr, length)
        self._notify_if_mapped(addr, length, MemoryChange.UNMAP, was_mapped)

    def move(self, old_addr: int, old_size: int, new_addr: int, new_size: int, *,
             keep_old: bool = False) -> None:
        """mremap(MREMAP_FIXED): move the pages of [old_addr, old_addr+old_size) to new_addr,
        resized to new_size, replacing whatever was mapped there. Growing adds zero pages to an
        anonymous mapping and the following file pages to a file mapping (the host kernel keeps
        the mapping's kind). The old range becomes unmapped, or with `keep_old` stays mapped
        with fresh empty pages (MREMAP_DONTUNMAP; anonymous private mappings only).

        Raises GuestMemoryError if the old range is not entirely mapped with one protection
        (Linux's EFAULT for a range spanning mappings), ValueError for bad arguments or
        overlapping ranges, OSError when the host refuses (e.g. EFAULT when the old range spans
        two host mappings).
        """
        old_length = self._check_page_range(old_addr, old_size, "move")
        new_length = self._check_page_range(new_addr, new_size, "move")
        # Moved host pages keep their host protection: give code pages back their own first.
        self._release_code_pages(old_addr, old_length, restore_host=True)
        if old_addr < new_addr + new_length and new_addr < old_addr + old_length:
            raise ValueError("move: the old and new ranges overlap")
        prot = self.uniform_protection(old_addr, old_length)
        if prot is None:
            raise GuestMemoryError(old_addr, old_length, "move")
        target_was_mapped = not self._protections.is_free(new_addr, new_addr + new_length)
        try:
            _host_mremap_fixed(self.base + old_addr, old_length, self.base + new_addr,
                               new_length, keep_old)
        except OSError as error:
            if error.errno != _HOST_EFAULT:
                raise
            # The host split the range into several mappings that the guest never asked for
            # (write_unchecked's temporary mprotect leaves pages with different accounting
            # flags), and mremap works on one host mapping at a time: move page by page.
            self._move_page_by_page(old_addr, old_length, new_addr, new_length, keep_old)
        self._protections.set_range(new_addr, new_addr + new_length, prot)
        if keep_old:
            # The old pages are now empty: their contents changed, the mapping did not.
            self._notify_code_write(old_addr, old_length)
        else:
            # The host unmapped the old range, leaving a hole in the reservation: fill it.
            self._reserve_again(old_addr, old_length)
            self._notify_if_mapped(old_addr, old_length, MemoryChange.UNMAP, True)
        self._notify_if_mapped(new_addr, new_length, MemoryChange.MAP, target_was_mapped)

    def _move_page_by_page(self, old_addr: int, old_length: int, new_addr: int,
                           new_length: int, keep_old: bool) -> None:
        """move() one page per host mremap; the last page moved carries the growth, so that
        it continues the mapping it belongs to (zero pages or the following file pages)."""
        pages = min(old_length, new_length) // PAGE_SIZE
        for index in range(pages):
            offset = index * PAGE_SIZE
            size = new_length - offset if index == pages - 1 else PAGE_SIZE
            _host_mremap_fixed(self.base + old_addr + offset, PAGE_SIZE,
                               self.base + new_addr + offset, size, keep_old)

    def grow_in_place(self, addr: int, old_size: int, new_size: int) -> None:
        """mremap growing without moving: [addr+old_size, addr+new_size) must be free. The pages
        keep their contents and the mapping its kind (anonymous zero pages or following file
        pages). Raises like move(), and ValueError if the room above is not free."""
        old_length = self._check_page_range(addr, old_size, "grow")
        new_length = self._check_page_range(addr, new_size, "grow")
        if new_length <= old_length:
            raise ValueError("grow_in_place: the new size is not larger")
        if not self._protections.is_free(addr + old_length, addr + new_length):
            raise ValueError("grow_in_place: the pages above the mapping are not free")
        # The host cannot grow a mapping into our PROT_NONE reservation, so move it twice: out
        # to free room at its new size, then back (the second move replaces the reservation).
        staging = self.find_free(new_length)
        if staging is None:
            staging = self._protections.highest_gap(new_length, 0, self.size)
        if staging is None:
            raise OSError(12, "no room to stage an mremap")
        listeners, self._change_listeners = self._change_listeners, []
        try:
            self.move(addr, old_length, staging, new_length)
            try:
                self.move(staging, new_length, addr, new_length)
            except (OSError, GuestMemoryError):
                # Put the pages back where the guest expects them (shrinking is always possible).
                self.move(staging, new_length, addr, old_length)
                raise
        finally:
            self._change_listeners = listeners
        # Nothing moved from the guest's point of view, and the new pages were free.

    def discard(self, addr: int, size: int) -> None:
        """madvise(MADV_DONTNEED): anonymous private pages read as zero afterwards, private file
        pages as the file again, shared pages keep their contents. Raises GuestMemoryError if
        part of the range is unmapped (Linux's ENOMEM)."""
        length = self._check_page_range(addr, size, "discard")
        hole = self._protections.first_inaccessible(addr, addr + length, lambda _prot: True)
        if hole is not None:
            raise GuestMemoryError(hole, length - (hole - addr), "discard")
        _host_discard(self.base + addr, length)
        self._notify_code_write(addr, length)

    def _reserve_again(self, addr: int, length: int) -> None:
        """Return [addr, addr+length) to the reserved state: PROT_NONE, no contents."""
        flags = _HOST_MAP_PRIVATE | _HOST_MAP_ANONYMOUS | _HOST_MAP_FIXED | _HOST_MAP_NORESERVE
        _host_mmap(self.base + addr, length, PROT_NONE, flags)
        self._protections.set_range(addr, addr + length, None)
        self._release_code_pages(addr, length, restore_host=False)

    def protection(self, addr: int) -> int | None:
        """The guest protection of the page holding addr, or None if it is not mapped."""
        return self._protections.protection_at(addr)

    def mapped_ranges(self) -> list[tuple[int, int, int]]:
        """(start, end, prot) of every mapped range, coalesced, in address order."""
        return list(self._protections)

    def is_mapped(self, addr: int, size: int) -> bool:
        """True if every page of [addr, addr+size) is mapped, whatever its protection."""
        if addr < 0 or size <= 0 or addr + size > self.size:
            return False
        return self._protections.first_inaccessible(page_align_down(addr),
                                                    page_align_up(addr + size),
                                                    lambda _prot: True) is None

    def uniform_protection(self, addr: int, size: int) -> int | None:
        """The protection of [addr, addr+size) if all of it is mapped with one protection (what
        mremap needs: a range inside one mapping), else None."""
        if not self.is_mapped(addr, size):
            return None
        pieces = self._protections.ranges_in(page_align_down(addr), page_align_up(addr + size))
        return pieces[0][2] if len(pieces) == 1 else None

    def is_free(self, addr: int, size: int) -> bool:
        """True if no page of [addr, addr+size) is mapped and the range is inside the space."""
        if addr < 0 or size <= 0 or addr + size > self.size:
            return False
        return self._protections.is_free(page_align_down(addr), page_align_up(addr + size))

    def find_free(self, size: int, hint: int | None = None) -> int | None:
        """A page-aligned guest address where `size` bytes are unmapped, or None.

        The hint (rounded down to a page) is used when that range is free and inside
        [mmap_bottom, mmap_top); otherwise the highest free range below mmap_top is chosen, the
        way Linux places mmap regions top-down below the stack.
        """
        if size <= 0:
            raise ValueError(f"find_free: size {size:#x} is not positive")
        length = page_align_up(size)
        if hint is not None:
            start = page_align_down(hint)
            if (self.mmap_bottom <= start and start + length <= self.mmap_top
                    and self._protections.is_free(start, start + length)):
                return start
        return self._protections.highest_gap(length, self.mmap_bottom, self.mmap_top)

    # --- checked access (syscalls, loader helpers) ----------------------------------------------

    def _check_access(self, addr: int, size: int, allowed, access: str) -> None:
        if size < 0:
            raise ValueError(f"negative access size {size}")
        if size == 0:
            return
        if addr < 0 or addr + size > self.size:
            raise GuestMemoryError(addr, size, access)
        bad = self._protections.first_inaccessible(addr, addr + size, allowed)
        if bad is not None:
            raise GuestMemoryError(bad, size - (bad - addr), access)

    def check_readable(self, addr: int, size: int) -> None:
        self._check_access(addr, size, _is_readable, "read")

    def check_writable(self, addr: int, size: int) -> None:
        self._check_access(addr, size, _is_writable, "write")

    def check_executable(self, addr: int, size: int) -> None:
        self._check_access(addr, size, _is_executable, "execute")

    def _accessible_prefix(self, addr: int, size: int, allowed) -> int:
        if size <= 0 or addr < 0 or addr >= self.size:
            return 0
        end = min(addr + size, self.size)
        bad = self._protections.first_inaccessible(addr, end, allowed)
        return end - addr if bad is None else bad - addr

    def readable_prefix(self, addr: int, size: int) -> int:
        """How many of the `size` bytes at addr can be read before the first inaccessible one;
        syscalls use it to do a short read/write where Linux would stop at the fault."""
        return self._accessible_prefix(addr, size, _is_readable)

    def writable_prefix(self, addr: int, size: int) -> int:
        return self._accessible_prefix(addr, size, _is_writable)

    def host_address(self, addr: int) -> int:
        return self.base + addr

    def readable_buffer(self, addr: int, size: int):
        """A buffer over guest memory (no copy) after a read check, e.g. for os.write."""
        self.check_readable(addr, size)
        return _ffi.buffer(_ffi.cast("char *", self.base + addr), size)

    def writable_buffer(self, addr: int, size: int):
        """A writable buffer over guest memory (no copy) after a write check, e.g. for os.readv.
        Change listeners hear about the write (of code pages) when the buffer is handed out."""
        self.check_writable(addr, size)
        self._release_code_pages(addr, size, restore_host=True)
        self._notify_code_write(addr, size)
        return _ffi.buffer(_ffi.cast("char *", self.base + addr), size)

    def read(self, addr: int, size: int) -> bytes:
        self.check_readable(addr, size)
        return _ffi.buffer(_ffi.cast("char *", self.base + addr), size)[:]

    def read_executable(self, addr: int, size: int) -> bytes:
        """Instruction bytes for the frontend: needs PROT_EXEC on every page touched."""
        self.check_executable(addr, size)
        return _ffi.buffer(_ffi.cast("char *", self.base + addr), size)[:]

    def write(self, addr: int, data: bytes) -> None:
        self.check_writable(addr, len(data))
        if data:
            self._release_code_pages(addr, len(data), restore_host=True)
        _ffi.memmove(_ffi.cast("char *", self.base + addr), data, len(data))
        self._notify_code_write(addr, len(data))

    def read_u8(self, addr: int) -> int:
        return self.read(addr, 1)[0]

    def read_u16(self, addr: int) -> int:
        return int.from_bytes(self.read(addr, 2), "little")

    def read_u32(self, addr: int) -> int:
        return int.from_bytes(self.read(addr, 4), "little")

    def read_u64(self, addr: int) -> int:
        return int.from_bytes(self.read(addr, 8), "little")

    def write_u8(self, addr: int, value: int) -> None:
        self.write(addr, (value & 0xFF).to_bytes(1, "little"))

    def write_u16(self, addr: int, value: int) -> None:
        self.write(addr, (value & 0xFFFF).to_bytes(2, "little"))

    def write_u32(self, addr: int, value: int) -> None:
        self.write(addr, (value & 0xFFFFFFFF).to_bytes(4, "little"))

    def write_u64(self, addr: int, value: int) -> None:
        self.write(addr, (value & 0xFFFFFFFFFFFFFFFF).to_bytes(8, "little"))

    def read_cstring(self, addr: int, max_length: int = PAGE_SIZE) -> bytes:
        """The NUL-terminated string at addr, without the NUL.

        Reads page by page so that a string ending just before an unmapped page is fine.
        Raises GuestMemoryError if it runs into inaccessible memory before the NUL, and
        GuestStringTooLong if there is no NUL within max_length bytes (NUL included).
        """
        collected = bytearray()
        cursor = addr
        while len(collected) < max_length:
            chunk_size = min(PAGE_SIZE - (cursor & PAGE_MASK), max_length - len(collected))
            chunk = self.read(cursor, chunk_size)
            nul = chunk.find(b"\0")
            if nul >= 0:
                collected += chunk[:nul]
                return bytes(collected)
            collected += chunk
            cursor += chunk_size
        raise GuestStringTooLong(addr, max_length)

    # --- unchecked access (loader, debugger) ----------------------------------------------------

    def write_unchecked(self, addr: int, data: bytes) -> None:
        """Write into mapped guest pages whatever their guest protection (the loader filling
        read-only segments). The pages must be mapped; host pages that are not writable are made
        writable just for the copy."""
        if not data:
            return
        end = addr + len(data)
        self._check_access(addr, len(data), lambda _prot: True, "write (loader)")
        self._release_code_pages(addr, len(data), restore_host=True)
        for start, stop, prot in self._protections.ranges_in(addr, end):
            piece = data[start - addr:stop - addr]
            if _host_protection(prot) & PROT_WRITE:
                _ffi.memmove(_ffi.cast("char *", self.base + start), piece, len(piece))
                continue
            page_start = page_align_down(start)
            page_length = page_align_up(stop) - page_start
            _host_mprotect(self.base + page_start, page_length, PROT_READ | PROT_WRITE)
            try:
                _ffi.memmove(_ffi.cast("char *", self.base + start), piece, len(piece))
            finally:
                _host_mprotect(self.base + page_start, page_length, _host_protection(prot))
        self._notify_code_write(addr, len(data))

    def read_unchecked(self, addr: int, size: int) -> bytes:
        """Read mapped guest pages whatever their guest protection (PROT_NONE pages included:
        those are readable only through a temporary host mprotect)."""
        self._check_access(addr, size, lambda _prot: True, "read (debugger)")
        pieces = []
        for start, stop, prot in self._protections.ranges_in(addr, addr + size):
            if prot != PROT_NONE:
                pieces.append(_ffi.buffer(_ffi.cast("char *", self.base + start), stop - start)[:])
                continue
            page_start = page_align_down(start)
            page_length = page_align_up(stop) - page_start
            _host_mprotect(self.base + page_start, page_length, PROT_READ)
            try:
                pieces.append(_ffi.buffer(_ffi.cast("char *", self.base + start), stop - start)[:])
            finally:
                _host_mprotect(self.base + page_start, page_length, PROT_NONE)
        return b"".join(pieces)
