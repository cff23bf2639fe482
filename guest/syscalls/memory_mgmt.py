"""Memory management syscalls: brk, mmap, munmap, mprotect, mremap, madvise.

All of them work on GuestMemory, whose change listeners tell the JIT about pages that go away,
change protection or get replaced. Argument checks follow Linux's order closely enough that the
errno a guest sees is Linux's: EINVAL for malformed requests, ENOMEM for ranges that are not
(entirely) mapped or do not fit, EEXIST for MAP_FIXED_NOREPLACE over a mapping, EPERM below
mmap_min_addr.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from guest.errno_riscv import EBADF, EEXIST, EFAULT, EINVAL, ENOMEM, EOPNOTSUPP, EPERM
from guest.memory import (
    MMAP_MIN_ADDR, PAGE_MASK, PROT_ALL, PROT_READ, PROT_WRITE, GuestMemoryError, page_align_up,
)
from guest.syscalls.guest_abi import (
    MADV_COLD, MADV_COLLAPSE, MADV_DODUMP, MADV_DOFORK, MADV_DONTDUMP, MADV_DONTFORK,
    MADV_DONTNEED, MADV_DONTNEED_LOCKED, MADV_FREE, MADV_HUGEPAGE, MADV_KEEPONFORK,
    MADV_MERGEABLE, MADV_NOHUGEPAGE, MADV_NORMAL, MADV_PAGEOUT, MADV_POPULATE_READ,
    MADV_POPULATE_WRITE, MADV_RANDOM, MADV_SEQUENTIAL, MADV_UNMERGEABLE, MADV_WILLNEED,
    MADV_WIPEONFORK, MAP_ANONYMOUS, MAP_DENYWRITE, MAP_EXECUTABLE, MAP_FIXED,
    MAP_FIXED_NOREPLACE, MAP_GROWSDOWN, MAP_HUGETLB, MAP_LOCKED, MAP_NONBLOCK, MAP_NORESERVE,
    MAP_POPULATE, MAP_PRIVATE, MAP_SHARED, MAP_SHARED_VALIDATE, MAP_STACK, MAP_SYNC, MAP_TYPE,
    MAP_UNINITIALIZED, MREMAP_DONTUNMAP, MREMAP_FIXED, MREMAP_MAYMOVE, PROT_GROWSDOWN,
    PROT_GROWSUP, PROT_SEM,
)
from guest.syscalls.registry import ArgKind, SyscallTable, as_int32

if TYPE_CHECKING:
    from guest.process import GuestProcess

# The flags MAP_SHARED_VALIDATE accepts (Linux's LEGACY_MAP_MASK plus MAP_SYNC).
_KNOWN_MAP_FLAGS = (MAP_TYPE | MAP_FIXED | MAP_ANONYMOUS | MAP_GROWSDOWN | MAP_DENYWRITE
                    | MAP_EXECUTABLE | MAP_LOCKED | MAP_NORESERVE | MAP_POPULATE | MAP_NONBLOCK
                    | MAP_STACK | MAP_HUGETLB | MAP_SYNC | MAP_FIXED_NOREPLACE
                    | MAP_UNINITIALIZED)
_MPROTECT_FLAGS = PROT_ALL | PROT_SEM | PROT_GROWSDOWN | PROT_GROWSUP

# Advice that changes nothing a single-process guest can observe: accepted and ignored, as
# qemu does (MADV_FREE may keep the contents or drop them; keeping them is allowed).
_ADVISORY = frozenset({MADV_NORMAL, MADV_RANDOM, MADV_SEQUENTIAL, MADV_WILLNEED, MADV_FREE,
                       MADV_DONTFORK, MADV_DOFORK, MADV_MERGEABLE, MADV_UNMERGEABLE,
                       MADV_HUGEPAGE, MADV_NOHUGEPAGE, MADV_DONTDUMP, MADV_DODUMP,
                       MADV_WIPEONFORK, MADV_KEEPONFORK, MADV_COLD, MADV_PAGEOUT,
                       MADV_POPULATE_READ, MADV_POPULATE_WRITE, MADV_COLLAPSE})
_DISCARDING = frozenset({MADV_DONTNEED, MADV_DONTNEED_LOCKED})


def sys_brk(process: GuestProcess, args: list[int]) -> int:
    """Linux semantics: returns the new break, or the unchanged current one when the request is
    below the heap start (brk(0) is the usual query) or cannot be satisfied; never -errno."""
    requested = args[0]
    current = process.brk
    if requested < process.brk_start:
        return current
    memory = process.memory
    mapped_end = page_align_up(current)
    wanted_end = page_align_up(requested)
    if wanted_end > mapped_end:
        # The heap may not run into other mappings (or past the mmap area below the stack).
        if wanted_end > memory.mmap_top or not memory.is_free(mapped_end, wanted_end - mapped_end):
            return current
        try:
            memory.map(mapped_end, wanted_end - mapped_end, PROT_READ | PROT_WRITE)
        except OSError:
            return current
    elif wanted_end < mapped_end:
        memory.unmap(wanted_end, mapped_end - wanted_end)
    process.brk = requested
    return requested


def _fits(process: GuestProcess, addr: int, length: int) -> bool:
    return 0 < length <= process.memory.size and addr + length <= process.memory.size


def sys_mmap(process: GuestProcess, args: list[int]) -> int:
    addr, size, prot, flags, offset = args[0], args[1], args[2], args[3], args[5]
    memory = process.memory
    if offset & PAGE_MASK:
        return -EINVAL
    map_type = flags & MAP_TYPE
    if map_type not in (MAP_SHARED, MAP_PRIVATE, MAP_SHARED_VALIDATE):
        return -EINVAL
    if map_type == MAP_SHARED_VALIDATE and flags & ~_KNOWN_MAP_FLAGS:
        return -EOPNOTSUPP
    anonymous = bool(flags & MAP_ANONYMOUS)
    host_fd = None
    if not anonymous:
        host_fd = process.host_fd(as_int32(args[4]))
        if host_fd is None:
            return -EBADF
    if size == 0:
        return -EINVAL
    length = page_align_up(size)
    if length > memory.size:
        return -ENOMEM
    if flags & (MAP_FIXED | MAP_FIXED_NOREPLACE):
        if addr & PAGE_MASK:
            return -EINVAL
        if not _fits(process, addr, length):
            return -ENOMEM
        if addr < MMAP_MIN_ADDR:
            return -EPERM
        if flags & MAP_FIXED_NOREPLACE and not memory.is_free(addr, length):
            return -EEXIST
        target = addr
    else:
        # A hint is taken when that range is free, else the highest free range (Linux's
        # top-down placement); MAP_HUGETLB gets ordinary pages.
        target = memory.find_free(length, hint=addr if addr else None)
        if target is None:
            return -ENOMEM
    memory.map(target, length, prot & PROT_ALL, fd=host_fd,
               offset=offset if host_fd is not None else 0,
               shared=map_type != MAP_PRIVATE)
    return target


def sys_munmap(process: GuestProcess, args: list[int]) -> int:
    addr, size = args[0], args[1]
    if addr & PAGE_MASK or size == 0:
        return -EINVAL
    length = page_align_up(size)
    if not _fits(process, addr, length):
        return -EINVAL
    process.memory.unmap(addr, length)
    return 0


def sys_mprotect(process: GuestProcess, args: list[int]) -> int:
    addr, size, prot = args[0], args[1], args[2]
    if addr & PAGE_MASK or prot & ~_MPROTECT_FLAGS:
        return -EINVAL
    if prot & PROT_GROWSDOWN and prot & PROT_GROWSUP:
        return -EINVAL
    if size == 0:
        return 0
    length = page_align_up(size)
    if not _fits(process, addr, length):
        return -ENOMEM
    try:
        process.memory.protect(addr, length, prot & PROT_ALL)
    except GuestMemoryError:
        return -ENOMEM                       # part of the range is not mapped
    return 0


def sys_mremap(process: GuestProcess, args: list[int]) -> int:
    old_addr, old_size, new_size, flags, new_addr = args[0], args[1], args[2], args[3], args[4]
    memory = process.memory
    if flags & ~(MREMAP_MAYMOVE | MREMAP_FIXED | MREMAP_DONTUNMAP):
        return -EINVAL
    if flags & (MREMAP_FIXED | MREMAP_DONTUNMAP) and not flags & MREMAP_MAYMOVE:
        return -EINVAL
    if flags & MREMAP_DONTUNMAP and old_size != new_size:
        return -EINVAL
    if old_addr & PAGE_MASK:
        return -EINVAL
    old_length, new_length = page_align_up(old_size), page_align_up(new_size)
    # old_size 0 duplicates a shared mapping in Linux; tcgjit does not support that.
    if new_length == 0 or old_length == 0:
        return -EINVAL
    # The old range must lie inside one mapping (Linux: one VMA), else EFAULT.
    if not _fits(process, old_addr, old_length) or \
            memory.uniform_protection(old_addr, old_length) is None:
        return -EFAULT
    if flags & MREMAP_FIXED:
        if new_addr & PAGE_MASK:
            return -EINVAL
        if not _fits(process, new_addr, new_length):
            return -EINVAL
        if old_addr < new_addr + new_length and new_addr < old_addr + old_length:
            return -EINVAL
        memory.move(old_addr, old_length, new_addr, new_length,
                    keep_old=bool(flags & MREMAP_DONTUNMAP))
        return new_addr
    if not flags & MREMAP_DONTUNMAP:
        if new_length < old_length:
            memory.unmap(old_addr + new_length, old_length - new_length)
            return old_addr
        if new_length == old_length:
            return old_addr
        if _fits(process, old_addr, new_length) and memory.is_free(old_addr + old_length,
                                                                  new_length - old_length):
            memory.grow_in_place(old_addr, old_length, new_length)
            return old_addr
        if not flags & MREMAP_MAYMOVE:
            return -ENOMEM
    target = memory.find_free(new_length)
    if target is None:
        return -ENOMEM
    memory.move(old_addr, old_length, target, new_length, keep_old=bool(flags & MREMAP_DONTUNMAP))
    return target


def sys_madvise(process: GuestProcess, args: list[int]) -> int:
    addr, size, advice = args[0], args[1], as_int32(args[2])
    if addr & PAGE_MASK:
        return -EINVAL
    if advice not in _ADVISORY and advice not in _DISCARDING:
        return -EINVAL
    if size == 0:
        return 0
    length = page_align_up(size)
    if not _fits(process, addr, length):
        return -ENOMEM
    memory = process.memory
    if not memory.is_mapped(addr, length):
        return -ENOMEM                       # Linux applies the advice, then reports the hole
    if advice in _DISCARDING:
        memory.discard(addr, length)
    return 0


SYS_RISCV_FLUSH_ICACHE_LOCAL = 1


def sys_riscv_flush_icache(process: GuestProcess, args: list[int]) -> int:
    """The guest wrote code it is about to run. Linux flushes the whole instruction cache
    whatever the range says (programs may rely on that), so every translation is dropped.
    The LOCAL flag only limits the flush to the calling thread: the same with one thread."""
    if args[2] & ~SYS_RISCV_FLUSH_ICACHE_LOCAL:
        return -EINVAL
    process.memory.notify_code_changed(0, process.memory.size)
    return 0


def register_memory_mgmt(table: SyscallTable) -> None:
    table.register("brk", sys_brk, (ArgKind.PTR,), ArgKind.PTR)
    table.register("mmap", sys_mmap, (ArgKind.PTR, ArgKind.UINT, ArgKind.PROT, ArgKind.MAP_FLAGS,
                                      ArgKind.FD, ArgKind.HEX), ArgKind.PTR)
    table.register("munmap", sys_munmap, (ArgKind.PTR, ArgKind.UINT))
    table.register("mprotect", sys_mprotect, (ArgKind.PTR, ArgKind.UINT, ArgKind.PROT))
    table.register("mremap", sys_mremap, (ArgKind.PTR, ArgKind.UINT, ArgKind.UINT, ArgKind.HEX,
                                          ArgKind.PTR), ArgKind.PTR)
    table.register("madvise", sys_madvise, (ArgKind.PTR, ArgKind.UINT, ArgKind.MADVICE))
    table.register("riscv_flush_icache", sys_riscv_flush_icache,
                   (ArgKind.PTR, ArgKind.PTR, ArgKind.HEX))
