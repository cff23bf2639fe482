"""GuestMemory: the reserved region, page mapping, protections and checked accesses."""
from __future__ import annotations

import ctypes
import faulthandler
import os
import subprocess
import sys
import textwrap

import cffi
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from guest.memory import (
    GUEST_ADDRESS_SPACE_SIZE, MMAP_MIN_ADDR, PAGE_SIZE, PROT_EXEC, PROT_NONE, PROT_READ,
    PROT_WRITE, GuestMemory, GuestMemoryError, GuestStringTooLong, MemoryChange,
)

RW = PROT_READ | PROT_WRITE


@pytest.fixture
def memory():
    with GuestMemory() as guest_memory:
        yield guest_memory


def test_reserves_the_whole_sv39_user_space(memory):
    assert memory.size == GUEST_ADDRESS_SPACE_SIZE == 1 << 38
    assert memory.base % PAGE_SIZE == 0
    assert memory.mapped_ranges() == []
    assert memory.host_address(0x1234) == memory.base + 0x1234


def test_mapped_pages_are_zero_and_round_trip(memory):
    memory.map(0x10000, 3 * PAGE_SIZE, RW)
    assert memory.read(0x10000, 3 * PAGE_SIZE) == bytes(3 * PAGE_SIZE)
    memory.write(0x10ffc, b"across a page boundary")
    assert memory.read(0x10ffc, 22) == b"across a page boundary"
    memory.write_u8(0x12000, 0x1ff)
    memory.write_u16(0x12002, 0xBEEF)
    memory.write_u32(0x12004, 0xDEADBEEF)
    memory.write_u64(0x12008, -2)
    assert memory.read_u8(0x12000) == 0xFF
    assert memory.read_u16(0x12002) == 0xBEEF
    assert memory.read_u32(0x12004) == 0xDEADBEEF
    assert memory.read_u64(0x12008) == (1 << 64) - 2
    assert memory.read(0x12008, 8) == b"\xfe" + b"\xff" * 7          # little endian


def test_guest_address_is_host_address_plus_base(memory):
    memory.map(0x40000, PAGE_SIZE, RW)
    memory.write(0x40010, b"visible to the host")
    assert ctypes.string_at(memory.base + 0x40010, 19) == b"visible to the host"
    ctypes.memmove(memory.base + 0x40100, b"from the host", 13)
    assert memory.read(0x40100, 13) == b"from the host"


def test_size_is_rounded_up_to_pages(memory):
    memory.map(0x10000, 1, PROT_READ)
    assert memory.mapped_ranges() == [(0x10000, 0x11000, PROT_READ)]


def test_unmapped_access_raises_with_the_first_bad_address(memory):
    memory.map(0x10000, PAGE_SIZE, RW)
    with pytest.raises(GuestMemoryError) as info:
        memory.read(0x10ff0, 32)
    assert info.value.address == 0x11000
    with pytest.raises(GuestMemoryError):
        memory.write(0x20000, b"x")
    with pytest.raises(GuestMemoryError):
        memory.read_u64(0)


def test_read_only_page_rejects_writes(memory):
    memory.map(0x10000, PAGE_SIZE, PROT_READ)
    assert memory.read(0x10000, 4) == bytes(4)
    with pytest.raises(GuestMemoryError) as info:
        memory.write(0x10000, b"x")
    assert info.value.access == "write"


def test_write_crossing_from_writable_into_read_only_changes_nothing(memory):
    memory.map(0x10000, PAGE_SIZE, RW)
    memory.map(0x11000, PAGE_SIZE, PROT_READ)
    with pytest.raises(GuestMemoryError) as info:
        memory.write(0x10ffe, b"abcd")
    assert info.value.address == 0x11000
    assert memory.read(0x10ffe, 2) == b"\0\0"


def test_prot_none_and_exec_only_pages(memory):
    memory.map(0x10000, PAGE_SIZE, PROT_NONE)
    memory.map(0x11000, PAGE_SIZE, PROT_EXEC)
    with pytest.raises(GuestMemoryError):
        memory.read(0x10000, 1)
    with pytest.raises(GuestMemoryError):
        memory.read(0x11000, 1)
    assert memory.read_executable(0x11000, 4) == bytes(4)
    with pytest.raises(GuestMemoryError):
        memory.read_executable(0x10ffe, 4)


def test_write_only_page_is_readable_like_riscv_linux(memory):
    memory.map(0x10000, PAGE_SIZE, PROT_WRITE)
    memory.write(0x10000, b"w")
    assert memory.read(0x10000, 1) == b"w"


def test_read_executable_needs_exec(memory):
    memory.map(0x10000, PAGE_SIZE, RW)
    with pytest.raises(GuestMemoryError):
        memory.read_executable(0x10000, 4)


def test_write_unchecked_fills_read_only_pages_and_keeps_them_read_only(memory):
    memory.map(0x10000, PAGE_SIZE, PROT_READ | PROT_EXEC)
    memory.map(0x11000, PAGE_SIZE, RW)
    memory.write_unchecked(0x10ff8, b"0123456789abcdef")
    assert memory.read(0x10ff8, 16) == b"0123456789abcdef"
    assert memory.protection(0x10000) == PROT_READ | PROT_EXEC
    with pytest.raises(GuestMemoryError):
        memory.write(0x10ff8, b"x")
    with pytest.raises(GuestMemoryError):
        memory.write_unchecked(0x12ff8, b"unmapped")


def test_read_unchecked_sees_prot_none_pages(memory):
    memory.map(0x10000, PAGE_SIZE, RW)
    memory.write(0x10000, b"secret")
    memory.protect(0x10000, PAGE_SIZE, PROT_NONE)
    assert memory.read_unchecked(0x10000, 6) == b"secret"
    with pytest.raises(GuestMemoryError):
        memory.read(0x10000, 6)


def test_protect_changes_permissions(memory):
    memory.map(0x10000, 4 * PAGE_SIZE, RW)
    memory.protect(0x11000, 2 * PAGE_SIZE, PROT_READ)
    assert memory.mapped_ranges() == [(0x10000, 0x11000, RW), (0x11000, 0x13000, PROT_READ),
                                      (0x13000, 0x14000, RW)]
    with pytest.raises(GuestMemoryError):
        memory.write(0x12000, b"x")
    memory.protect(0x11000, 2 * PAGE_SIZE, RW)
    assert memory.mapped_ranges() == [(0x10000, 0x14000, RW)]     # coalesced again
    memory.write(0x12000, b"x")


def test_protect_over_a_hole_fails_and_changes_nothing(memory):
    memory.map(0x10000, PAGE_SIZE, RW)
    memory.map(0x12000, PAGE_SIZE, RW)
    with pytest.raises(GuestMemoryError):
        memory.protect(0x10000, 3 * PAGE_SIZE, PROT_READ)
    assert memory.mapped_ranges() == [(0x10000, 0x11000, RW), (0x12000, 0x13000, RW)]


def test_unmap_drops_contents(memory):
    memory.map(0x10000, 2 * PAGE_SIZE, RW)
    memory.write(0x10000, b"old contents")
    memory.write(0x11000, b"kept")
    memory.unmap(0x10000, PAGE_SIZE)
    assert memory.protection(0x10000) is None
    with pytest.raises(GuestMemoryError):
        memory.read(0x10000, 1)
    assert memory.read(0x11000, 4) == b"kept"
    memory.map(0x10000, PAGE_SIZE, RW)
    assert memory.read(0x10000, 12) == bytes(12)
    memory.unmap(0x30000, PAGE_SIZE)               # unmapping nothing is fine, like munmap


def test_map_replaces_existing_pages(memory):
    memory.map(0x10000, 2 * PAGE_SIZE, RW)
    memory.write(0x10000, b"x")
    memory.map(0x10000, PAGE_SIZE, PROT_READ)
    assert memory.read(0x10000, 1) == b"\0"
    assert memory.mapped_ranges() == [(0x10000, 0x11000, PROT_READ), (0x11000, 0x12000, RW)]


def test_map_of_a_host_file(memory, tmp_path):
    path = tmp_path / "data.bin"
    path.write_bytes(b"A" * PAGE_SIZE + b"second page")
    with open(path, "rb") as file:
        memory.map(0x10000, 2 * PAGE_SIZE, PROT_READ, fd=file.fileno(), offset=PAGE_SIZE)
    assert memory.read(0x10000, 11) == b"second page"
    assert memory.read(0x1000b, 5) == bytes(5)      # rest of the last file page reads as zero


@pytest.mark.parametrize("call", [
    lambda memory: memory.map(0x10001, PAGE_SIZE, RW),
    lambda memory: memory.map(0x10000, 0, RW),
    lambda memory: memory.map(GUEST_ADDRESS_SPACE_SIZE - PAGE_SIZE, 2 * PAGE_SIZE, RW),
    lambda memory: memory.map(GUEST_ADDRESS_SPACE_SIZE, PAGE_SIZE, RW),
    lambda memory: memory.map(-PAGE_SIZE, PAGE_SIZE, RW),
    lambda memory: memory.map(0x10000, PAGE_SIZE, 8),
    lambda memory: memory.protect(0x10800, PAGE_SIZE, RW),
    lambda memory: memory.unmap(0x10000, -1),
])
def test_bad_mapping_arguments_are_value_errors(memory, call):
    with pytest.raises(ValueError):
        call(memory)


def test_accesses_outside_the_region_fault(memory):
    last_page = GUEST_ADDRESS_SPACE_SIZE - PAGE_SIZE
    memory.map(last_page, PAGE_SIZE, RW)
    memory.write(GUEST_ADDRESS_SPACE_SIZE - 8, b"12345678")
    with pytest.raises(GuestMemoryError):
        memory.read(GUEST_ADDRESS_SPACE_SIZE - 4, 8)
    with pytest.raises(GuestMemoryError):
        memory.read(GUEST_ADDRESS_SPACE_SIZE, 1)
    with pytest.raises(GuestMemoryError):
        memory.read(1 << 63, 1)
    with pytest.raises(GuestMemoryError):
        memory.read(-8, 8)
    assert memory.read(0x10000, 0) == b""               # empty accesses need no mapping


def test_accessible_prefixes(memory):
    memory.map(0x10000, PAGE_SIZE, RW)
    memory.map(0x11000, PAGE_SIZE, PROT_READ)
    assert memory.writable_prefix(0x10ff0, 0x100) == 0x10
    assert memory.readable_prefix(0x10ff0, 0x100) == 0x100
    assert memory.readable_prefix(0x11ff0, 0x100) == 0x10
    assert memory.readable_prefix(0x20000, 0x100) == 0
    assert memory.readable_prefix(GUEST_ADDRESS_SPACE_SIZE + 5, 1) == 0


def test_read_cstring(memory):
    memory.map(0x10000, PAGE_SIZE, RW)
    memory.write(0x10ffa, b"tail\0")                 # ends right before an unmapped page
    assert memory.read_cstring(0x10ffa) == b"tail"
    memory.map(0x11000, PAGE_SIZE, PROT_READ)
    memory.write(0x10ff0, b"crosses the page")
    memory.write_unchecked(0x11000, b" boundary\0")
    assert memory.read_cstring(0x10ff0) == b"crosses the page boundary"
    memory.write_unchecked(0x11000, b"x" * PAGE_SIZE)
    with pytest.raises(GuestMemoryError):             # runs off the mapping before any NUL
        memory.read_cstring(0x11000, 2 * PAGE_SIZE)
    with pytest.raises(GuestStringTooLong):
        memory.read_cstring(0x11000, 100)
    memory.write_unchecked(0x11063, b"\0")
    assert memory.read_cstring(0x11000, 100) == b"x" * 99


def test_find_free_is_top_down_and_honours_hints(memory):
    top = memory.find_free(PAGE_SIZE)
    assert top == GUEST_ADDRESS_SPACE_SIZE - PAGE_SIZE
    memory.map(top, PAGE_SIZE, RW)
    assert memory.find_free(2 * PAGE_SIZE) == top - 2 * PAGE_SIZE
    assert memory.find_free(PAGE_SIZE, hint=0x20000) == 0x20000
    assert memory.find_free(PAGE_SIZE, hint=0x20123) == 0x20000
    assert memory.find_free(PAGE_SIZE, hint=top) == top - PAGE_SIZE    # taken: search instead
    assert memory.find_free(PAGE_SIZE, hint=0) == top - PAGE_SIZE      # below mmap_bottom
    memory.mmap_top = 0x100000
    assert memory.find_free(PAGE_SIZE) == 0xFF000


def test_find_free_skips_mappings_and_reports_exhaustion():
    with GuestMemory(64 * PAGE_SIZE) as memory:
        memory.mmap_bottom = 16 * PAGE_SIZE
        memory.map(60 * PAGE_SIZE, 4 * PAGE_SIZE, RW)
        memory.map(40 * PAGE_SIZE, 10 * PAGE_SIZE, RW)
        assert memory.find_free(10 * PAGE_SIZE) == 50 * PAGE_SIZE
        assert memory.find_free(11 * PAGE_SIZE) == 29 * PAGE_SIZE
        assert memory.find_free(24 * PAGE_SIZE) == 16 * PAGE_SIZE
        assert memory.find_free(25 * PAGE_SIZE) is None
        assert memory.find_free(PAGE_SIZE, hint=0) == 59 * PAGE_SIZE
    assert MMAP_MIN_ADDR == 0x10000


def test_close_releases_and_refuses_further_mapping():
    memory = GuestMemory()
    memory.map(0x10000, PAGE_SIZE, RW)
    memory.close()
    assert memory.closed
    with pytest.raises(ValueError):
        memory.map(0x10000, PAGE_SIZE, RW)
    memory.close()                                       # idempotent


def test_host_protections_are_enforced_in_hardware(tmp_path):
    # Generated code relies on the host MMU: writing a read-only guest page or touching an
    # unmapped one must fault. Done in a child, which dies of SIGSEGV.
    script = textwrap.dedent("""
        import ctypes, sys
        sys.path.insert(0, {root!r})
        from guest.memory import GuestMemory, PROT_READ, PROT_WRITE
        memory = GuestMemory()
        memory.map(0x10000, 4096, PROT_READ)
        memory.map(0x11000, 4096, PROT_READ | PROT_WRITE)
        ctypes.memmove(memory.base + 0x11000, b"ok", 2)        # writable: fine
        print("writable ok", flush=True)
        if sys.argv[1] == "read-only":
            ctypes.memmove(memory.base + 0x10000, b"no", 2)
        else:
            ctypes.string_at(memory.base + 0x20000, 1)
        print("not reached", flush=True)
    """).format(root=os.getcwd())
    for case in ("read-only", "unmapped"):
        result = subprocess.run([sys.executable, "-c", script, case], capture_output=True,
                                text=True, timeout=60)
        assert result.stdout == "writable ok\n", case
        assert result.returncode == -11, (case, result.stderr)


# --- model check of the page-protection bookkeeping ----------------------------------------------

_PAGES = 24
_operation = st.tuples(st.sampled_from(["map", "protect", "unmap"]),
                       st.integers(0, _PAGES - 1), st.integers(1, 6),
                       st.sampled_from([PROT_NONE, PROT_READ, RW, PROT_READ | PROT_EXEC, 7]))


@settings(max_examples=150, deadline=None)
@given(st.lists(_operation, max_size=25))
def test_protection_bookkeeping_matches_a_page_model(operations):
    base_page = 0x100
    model: dict[int, int] = {}
    with GuestMemory(0x200 * PAGE_SIZE) as memory:
        for operation, first, count, prot in operations:
            count = min(count, _PAGES - first)
            addr = (base_page + first) * PAGE_SIZE
            pages = range(base_page + first, base_page + first + count)
            if operation == "map":
                memory.map(addr, count * PAGE_SIZE, prot)
                model.update({page: prot for page in pages})
            elif operation == "unmap":
                memory.unmap(addr, count * PAGE_SIZE)
                for page in pages:
                    model.pop(page, None)
            elif all(page in model for page in pages):
                memory.protect(addr, count * PAGE_SIZE, prot)
                model.update({page: prot for page in pages})
            else:
                with pytest.raises(GuestMemoryError):
                    memory.protect(addr, count * PAGE_SIZE, prot)
        ranges = memory.mapped_ranges()
        for (start, end, prot), (next_start, _next_end, next_prot) in zip(ranges, ranges[1:]):
            assert end <= next_start
            assert not (end == next_start and prot == next_prot), "ranges are not coalesced"
        for page in range(base_page - 1, base_page + _PAGES + 1):
            addr = page * PAGE_SIZE
            assert memory.protection(addr) == model.get(page)
            readable = page in model and bool(model[page] & RW)
            assert memory.readable_prefix(addr, PAGE_SIZE) == (PAGE_SIZE if readable else 0)
            writable = page in model and bool(model[page] & PROT_WRITE)
            if writable:
                memory.write(addr, b"w")        # the host page really is writable
            else:
                with pytest.raises(GuestMemoryError):
                    memory.write(addr, b"w")


def test_failed_map_leaves_the_range_reserved_and_unmapped(memory, tmp_path):
    memory.map(0x10000, 2 * PAGE_SIZE, RW)
    memory.write(0x10000, b"x")
    path = tmp_path / "write-only"
    path.write_bytes(b"data")
    fd = os.open(path, os.O_WRONLY)
    try:
        with pytest.raises(OSError):                 # mmap needs a readable fd: EACCES
            memory.map(0x10000, PAGE_SIZE, PROT_READ, fd=fd)
    finally:
        os.close(fd)
    assert memory.protection(0x10000) is None
    assert memory.protection(0x11000) == RW
    assert memory.find_free(PAGE_SIZE, hint=0x10000) == 0x10000


# --- change listeners, move, grow, discard ------------------------------------------------------

@pytest.fixture
def events(memory):
    recorded = []
    memory.add_change_listener(lambda addr, size, kind: recorded.append((addr, size, kind)))
    return recorded


def test_change_listeners_hear_unmap_protect_and_map_over(memory, events):
    memory.map(0x10000, 2 * PAGE_SIZE, RW)              # fresh: nothing to invalidate
    memory.unmap(0x30000, PAGE_SIZE)                     # nothing was there
    assert events == []
    memory.protect(0x10000, PAGE_SIZE, PROT_READ | PROT_EXEC)
    memory.map(0x11000, PAGE_SIZE, PROT_READ)            # replaces a mapped page
    memory.unmap(0x10000, 2 * PAGE_SIZE)
    assert events == [(0x10000, PAGE_SIZE, MemoryChange.PROTECT),
                      (0x11000, PAGE_SIZE, MemoryChange.MAP),
                      (0x10000, 2 * PAGE_SIZE, MemoryChange.UNMAP)]


def test_change_listeners_hear_writes_to_code_pages_only(memory, events):
    memory.map(0x10000, PAGE_SIZE, RW)
    memory.map(0x11000, PAGE_SIZE, PROT_READ | PROT_WRITE | PROT_EXEC)
    memory.map(0x12000, PAGE_SIZE, PROT_READ | PROT_EXEC)
    memory.write(0x10000, b"data")
    memory.write_u32(0x11008, 0x13)
    memory.writable_buffer(0x11100, 16)
    memory.write_unchecked(0x12004, b"\x73\x00\x10\x00")     # a debugger planting ebreak
    memory.write(0x10ffe, b"xyz0")                           # crosses into the code page
    assert events == [(0x11008, 4, MemoryChange.WRITE), (0x11100, 16, MemoryChange.WRITE),
                      (0x12004, 4, MemoryChange.WRITE), (0x10ffe, 4, MemoryChange.WRITE)]


def test_remove_change_listener(memory):
    calls = []
    listener = lambda addr, size, kind: calls.append(kind)      # noqa: E731
    memory.add_change_listener(listener)
    memory.map(0x10000, PAGE_SIZE, RW)
    memory.unmap(0x10000, PAGE_SIZE)
    memory.remove_change_listener(listener)
    memory.map(0x10000, PAGE_SIZE, RW)
    memory.unmap(0x10000, PAGE_SIZE)
    assert calls == [MemoryChange.UNMAP]


def test_a_failed_map_over_mapped_pages_reports_them_unmapped(memory, events, tmp_path):
    memory.map(0x10000, PAGE_SIZE, RW)
    path = tmp_path / "write-only"
    path.write_bytes(b"data")
    fd = os.open(path, os.O_WRONLY)
    try:
        with pytest.raises(OSError):
            memory.map(0x10000, PAGE_SIZE, PROT_READ, fd=fd)
    finally:
        os.close(fd)
    assert events == [(0x10000, PAGE_SIZE, MemoryChange.UNMAP)]


def test_move_carries_contents_and_protection(memory, events):
    memory.map(0x10000, 2 * PAGE_SIZE, PROT_READ | PROT_EXEC)
    memory.write_unchecked(0x10000, b"code bytes")
    memory.map(0x40000, PAGE_SIZE, RW)                     # replaced by the move
    events.clear()
    memory.move(0x10000, 2 * PAGE_SIZE, 0x40000, 3 * PAGE_SIZE)
    assert memory.mapped_ranges() == [(0x40000, 0x43000, PROT_READ | PROT_EXEC)]
    assert memory.read(0x40000, 10) == b"code bytes"
    assert memory.read(0x42000, PAGE_SIZE) == bytes(PAGE_SIZE)      # grown with zero pages
    assert events == [(0x10000, 2 * PAGE_SIZE, MemoryChange.UNMAP),
                      (0x40000, 3 * PAGE_SIZE, MemoryChange.MAP)]
    # The old range is reserved again: nothing the host maps can land there.
    assert memory.find_free(PAGE_SIZE, hint=0x10000) == 0x10000


def test_move_refuses_holes_mixed_protections_and_overlaps(memory):
    memory.map(0x10000, PAGE_SIZE, RW)
    memory.map(0x11000, PAGE_SIZE, PROT_READ)
    with pytest.raises(GuestMemoryError):
        memory.move(0x10000, 2 * PAGE_SIZE, 0x40000, 2 * PAGE_SIZE)
    with pytest.raises(GuestMemoryError):
        memory.move(0x20000, PAGE_SIZE, 0x40000, PAGE_SIZE)
    with pytest.raises(ValueError):
        memory.move(0x10000, PAGE_SIZE, 0x10000, 2 * PAGE_SIZE)
    assert memory.mapped_ranges() == [(0x10000, 0x11000, RW), (0x11000, 0x12000, PROT_READ)]


def test_move_keeping_the_old_range(memory):
    memory.map(0x10000, PAGE_SIZE, RW)
    memory.write(0x10000, b"moved")
    memory.move(0x10000, PAGE_SIZE, 0x40000, PAGE_SIZE, keep_old=True)
    assert memory.read(0x40000, 5) == b"moved"
    assert memory.read(0x10000, 5) == bytes(5)             # still mapped, now empty
    assert memory.protection(0x10000) == RW


def test_grow_in_place(memory, events):
    memory.map(0x10000, PAGE_SIZE, RW)
    memory.write(0x10000, b"stays")
    memory.grow_in_place(0x10000, PAGE_SIZE, 3 * PAGE_SIZE)
    assert memory.mapped_ranges() == [(0x10000, 0x13000, RW)]
    assert memory.read(0x10000, 5) == b"stays"
    assert memory.read(0x11000, 2 * PAGE_SIZE) == bytes(2 * PAGE_SIZE)
    assert events == []                                    # nothing moved for the guest
    memory.map(0x14000, PAGE_SIZE, RW)
    with pytest.raises(ValueError):
        memory.grow_in_place(0x10000, 3 * PAGE_SIZE, 5 * PAGE_SIZE)


def test_shared_anonymous_mapping(memory):
    memory.map(0x10000, PAGE_SIZE, RW, shared=True)
    memory.write(0x10000, b"shared")
    assert memory.read(0x10000, 6) == b"shared"


def test_discard_zeroes_private_anonymous_pages(memory, events):
    memory.map(0x10000, 2 * PAGE_SIZE, RW)
    memory.write(0x10000, b"gone")
    memory.write(0x11000, b"kept")
    memory.discard(0x10000, PAGE_SIZE)
    assert memory.read(0x10000, 4) == bytes(4)
    assert memory.read(0x11000, 4) == b"kept"
    assert events == []                                    # not code
    memory.protect(0x10000, PAGE_SIZE, PROT_READ | PROT_EXEC)
    memory.discard(0x10000, PAGE_SIZE)
    assert events[-1] == (0x10000, PAGE_SIZE, MemoryChange.WRITE)
    with pytest.raises(GuestMemoryError):
        memory.discard(0x11000, 2 * PAGE_SIZE)


def test_is_mapped_and_uniform_protection(memory):
    memory.map(0x10000, PAGE_SIZE, RW)
    memory.map(0x11000, PAGE_SIZE, PROT_NONE)
    assert memory.is_mapped(0x10000, 2 * PAGE_SIZE)
    assert not memory.is_mapped(0x10000, 3 * PAGE_SIZE)
    assert not memory.is_mapped(0x10000, 0)
    assert memory.uniform_protection(0x10000, 100) == RW
    assert memory.uniform_protection(0x11000, PAGE_SIZE) == PROT_NONE
    assert memory.uniform_protection(0x10000, 2 * PAGE_SIZE) is None
    assert memory.uniform_protection(0x12000, PAGE_SIZE) is None


RWX = PROT_READ | PROT_WRITE | PROT_EXEC


def _host_store_faults(memory, addr: int) -> bool:
    """Does a host store into guest addr fault? Checked in a child process (a host fault)."""
    pid = os.fork()
    if pid == 0:
        faulthandler.disable()      # the child's fault is the expected answer, not a crash
        ffi = cffi.FFI()
        ffi.cast("uint8_t *", memory.host_address(addr))[0] = 0x13
        os._exit(0)
    _, status = os.waitpid(pid, 0)
    return os.WIFSIGNALED(status)


def test_translated_code_pages_are_write_protected_on_the_host_only(memory, events):
    memory.map(0x10000, 3 * PAGE_SIZE, RWX)
    memory.map(0x20000, PAGE_SIZE, PROT_READ | PROT_EXEC)
    memory.protect_code(0x10ffe, 4)             # a block straddling two writable pages
    memory.protect_code(0x20000, 8)             # not writable by the guest: nothing to do
    assert _host_store_faults(memory, 0x10000) and _host_store_faults(memory, 0x11000)
    assert not _host_store_faults(memory, 0x12000)
    assert memory.protection(0x10000) == RWX    # the guest's view is unchanged
    # A guest store faulted in the first page: writable again, translations dropped.
    assert memory.unprotect_code_page(0x10008)
    assert events == [(0x10000, PAGE_SIZE, MemoryChange.WRITE)]
    assert not _host_store_faults(memory, 0x10000) and _host_store_faults(memory, 0x11000)
    assert not memory.unprotect_code_page(0x10008)      # not protected (any more)
    assert not memory.unprotect_code_page(0x20000)      # protected by the guest itself


def test_host_writes_for_the_guest_go_through_code_protection(memory, events):
    memory.map(0x10000, 2 * PAGE_SIZE, RWX)
    memory.protect_code(0x10000, 8)
    memory.write(0x10004, b"\x13\x00\x00\x00")          # e.g. a read() syscall: no host fault
    assert memory.read(0x10004, 4) == b"\x13\x00\x00\x00"
    assert (0x10004, 4, MemoryChange.WRITE) in events
    assert not _host_store_faults(memory, 0x10000)
    memory.protect_code(0x10000, 8)
    memory.protect(0x10000, PAGE_SIZE, RWX)              # the guest's mprotect resets it
    assert not _host_store_faults(memory, 0x10000)
    assert not memory.unprotect_code_page(0x10000)
