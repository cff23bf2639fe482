"""ELF loading, GuestLoadError on bad files, and the initial process stack."""
from __future__ import annotations

import os
import random
import shutil
import struct
import subprocess
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from guest.elf_loader import PIE_LOAD_BASE, GuestLoadError, load_elf, read_elf
from guest.memory import (
    PAGE_SIZE, PROT_EXEC, PROT_READ, PROT_WRITE, GuestMemory, GuestMemoryError,
)
from guest.process import (
    AT_BASE, AT_CLKTCK, AT_EGID, AT_ENTRY, AT_EUID, AT_EXECFN, AT_FLAGS, AT_GID, AT_HWCAP,
    AT_NULL, AT_PAGESZ, AT_PHDR, AT_PHENT, AT_PHNUM, AT_RANDOM, AT_SECURE, AT_UID, STACK_SIZE,
    STACK_TOP, GuestProcess,
)

DATA = Path(__file__).parent / "data"
HELLO_STATIC = DATA / "hello_static"
HELLO_STATIC_PIE = DATA / "hello_static_pie"
HELLO_PIE_INTERP = DATA / "hello_pie_interp"
CROSS_GCC = shutil.which("riscv64-linux-gnu-gcc")
QEMU = shutil.which("qemu-riscv64")
needs_cross_gcc = pytest.mark.skipif(CROSS_GCC is None,
                                     reason="riscv64-linux-gnu-gcc not found")


# --- an independent reading of the ELF headers (struct, not pyelftools) -------------------------

def program_headers(data: bytes) -> list[dict]:
    phoff, = struct.unpack_from("<Q", data, 32)
    phentsize, phnum = struct.unpack_from("<HH", data, 54)
    headers = []
    for index in range(phnum):
        (p_type, p_flags, p_offset, p_vaddr, _paddr, p_filesz, p_memsz,
         _align) = struct.unpack_from("<IIQQQQQQ", data, phoff + index * phentsize)
        headers.append(dict(type=p_type, flags=p_flags, offset=p_offset, vaddr=p_vaddr,
                            filesz=p_filesz, memsz=p_memsz))
    return headers


def entry_point(data: bytes) -> int:
    return struct.unpack_from("<Q", data, 24)[0]


def expected_prot(p_flags: int) -> int:
    return ((PROT_READ if p_flags & 4 else 0) | (PROT_WRITE if p_flags & 2 else 0)
            | (PROT_EXEC if p_flags & 1 else 0))


PT_LOAD = 1


def check_image_in_memory(memory: GuestMemory, data: bytes, bias: int) -> None:
    loads = [header for header in program_headers(data) if header["type"] == PT_LOAD]
    assert len(loads) == 2
    for header in loads:
        address = header["vaddr"] + bias
        file_bytes = data[header["offset"]:header["offset"] + header["filesz"]]
        assert memory.read_unchecked(address, header["filesz"]) == file_bytes
        bss_size = header["memsz"] - header["filesz"]
        # bss, including the rest of the page that holds the last file byte, is zero
        assert memory.read_unchecked(address + header["filesz"], bss_size) == bytes(bss_size)
        page_end = -(-(address + header["memsz"]) // PAGE_SIZE) * PAGE_SIZE
        tail = page_end - (address + header["memsz"])
        assert memory.read_unchecked(address + header["memsz"], tail) == bytes(tail)
        for page in range(address & ~(PAGE_SIZE - 1), page_end, PAGE_SIZE):
            assert memory.protection(page) == expected_prot(header["flags"])


# --- loading -----------------------------------------------------------------------------------

def test_static_executable_segments_bss_and_entry():
    data = HELLO_STATIC.read_bytes()
    elf = read_elf(str(HELLO_STATIC))
    with GuestMemory() as memory:
        image = load_elf(memory, elf)
        assert image.load_bias == 0
        assert image.entry == entry_point(data) == 0x100E8
        check_image_in_memory(memory, data, bias=0)
        # the text page is not writable, the data page is
        with pytest.raises(GuestMemoryError):
            memory.write(image.entry, b"\0")
        memory.write(memory.mapped_ranges()[-1][0], b"\0")
        data_segment = [header for header in program_headers(data)
                        if header["type"] == PT_LOAD][-1]
        end = data_segment["vaddr"] + data_segment["memsz"]
        assert image.end == end
        assert image.brk_start == -(-end // PAGE_SIZE) * PAGE_SIZE
        assert image.phnum == len(program_headers(data))
        assert image.phent == 56
        # the text segment maps the file from offset 0, so the headers are at 0x10000 + e_phoff
        assert image.phdr_address == 0x10000 + struct.unpack_from("<Q", data, 32)[0]
        assert memory.read(image.phdr_address, 56 * image.phnum) == \
            data[64:64 + 56 * image.phnum]
        assert image.interpreter is None


def test_static_pie_is_loaded_at_the_pie_base():
    data = HELLO_STATIC_PIE.read_bytes()
    elf = read_elf(str(HELLO_STATIC_PIE))
    assert elf.interpreter is None
    with GuestMemory() as memory:
        image = load_elf(memory, elf, dyn_base=PIE_LOAD_BASE)
        assert image.load_bias == PIE_LOAD_BASE
        assert image.entry == PIE_LOAD_BASE + entry_point(data)
        check_image_in_memory(memory, data, bias=PIE_LOAD_BASE)
        assert image.symbols.by_name("_start").address == image.entry


def test_dynamic_image_without_base_goes_to_free_space_like_an_interpreter():
    main = read_elf(str(HELLO_STATIC))
    second = read_elf(str(HELLO_STATIC_PIE))
    with GuestMemory() as memory:
        memory.mmap_top = 0x3F00000000
        main_image = load_elf(memory, main)
        interpreter_image = load_elf(memory, second, dyn_base=None)
        assert interpreter_image.end <= 0x3F00000000
        assert interpreter_image.start >= main_image.end
        assert interpreter_image.start % PAGE_SIZE == 0
        check_image_in_memory(memory, HELLO_STATIC_PIE.read_bytes(), interpreter_image.load_bias)
        with pytest.raises(GuestLoadError, match="overlaps"):
            load_elf(memory, second, dyn_base=interpreter_image.start)
        with pytest.raises(GuestLoadError, match="overlaps"):
            load_elf(memory, main)


def test_pt_interp_is_detected():
    elf = read_elf(str(HELLO_PIE_INTERP))
    assert elf.interpreter == "/lib/ld-linux-riscv64-lp64.so.1"
    # Loading it needs the interpreter (tests/test_dynamic_loading.py); this host has none.
    if not os.path.exists(elf.interpreter):
        with pytest.raises(GuestLoadError, match="interpreter /lib/ld-linux-riscv64-lp64.so.1"):
            GuestProcess.load(str(HELLO_PIE_INTERP), ["hello"], [])


def test_symbols_are_kept_for_symbolisation():
    elf = read_elf(str(HELLO_STATIC))
    assert elf.symbols_error is None
    with GuestMemory() as memory:
        image = load_elf(memory, elf)
    start = image.symbols.by_name("_start")
    assert (start.address, start.kind) == (0x100E8, "func")
    assert start.size > 0
    data_word = image.symbols.by_name("data_word")
    assert (data_word.size, data_word.kind) == (8, "object")
    assert image.symbols.lookup(0x100E8 + 12) == (start, 12)
    assert image.symbols.lookup(data_word.address + 3) == (data_word, 3)
    assert image.symbols.lookup(0x1000) is None
    assert image.symbols.lookup(image.brk_start + 0x100000) is None
    names = {symbol.name for symbol in image.symbols}
    assert "MESSAGE_LENGTH" not in names                        # absolute, not an address
    assert not any(name.startswith("$") for name in names)      # mapping symbols


# --- bad files ----------------------------------------------------------------------------------

def load_bytes(tmp_path: Path, data: bytes, name: str = "program") -> None:
    path = tmp_path / name
    path.write_bytes(data)
    path.chmod(0o755)
    with GuestMemory() as memory:
        load_elf(memory, read_elf(str(path)))


def expect_load_error(tmp_path: Path, data: bytes, fragment: str) -> str:
    with pytest.raises(GuestLoadError) as info:
        load_bytes(tmp_path, data)
    message = str(info.value)
    assert "\n" not in message
    assert fragment in message
    return message


def patched(data: bytes, offset: int, fmt: str, value: int) -> bytes:
    buffer = bytearray(data)
    struct.pack_into(fmt, buffer, offset, value)
    return bytes(buffer)


def test_empty_file(tmp_path):
    expect_load_error(tmp_path, b"", "empty file")


def test_not_an_elf_file(tmp_path):
    expect_load_error(tmp_path, b"#!/bin/sh\necho hello\n", "not an ELF file")
    expect_load_error(tmp_path, b"\x7fEL", "not an ELF file")


def test_truncated_header(tmp_path):
    expect_load_error(tmp_path, HELLO_STATIC.read_bytes()[:40], "truncated ELF header")


def test_truncated_program_headers_and_segment_data(tmp_path):
    data = HELLO_STATIC.read_bytes()
    expect_load_error(tmp_path, data[:100], "program headers past the end")
    data_segment = [header for header in program_headers(data) if header["type"] == PT_LOAD][-1]
    expect_load_error(tmp_path, data[:data_segment["offset"] + 4], "segment 2 data past the end")


def test_32_bit_elf(tmp_path):
    expect_load_error(tmp_path, patched(HELLO_STATIC.read_bytes(), 4, "B", 1), "32-bit")


def test_big_endian_elf(tmp_path):
    expect_load_error(tmp_path, patched(HELLO_STATIC.read_bytes(), 5, "B", 2), "big-endian")


def test_wrong_machine(tmp_path):
    expect_load_error(tmp_path, patched(HELLO_STATIC.read_bytes(), 18, "<H", 62), "x86-64")
    expect_load_error(tmp_path, patched(HELLO_STATIC.read_bytes(), 18, "<H", 183), "AArch64")


def test_host_executable_is_rejected():
    with pytest.raises(GuestLoadError, match="x86-64 ELF file, need RISC-V"):
        read_elf(os.path.realpath("/bin/true"))


def test_relocatable_object_is_not_an_executable(tmp_path):
    expect_load_error(tmp_path, patched(HELLO_STATIC.read_bytes(), 16, "<H", 1),
                      "ET_REL file is not an executable")


def test_rve_binary(tmp_path):
    expect_load_error(tmp_path, patched(HELLO_STATIC.read_bytes(), 48, "<I", 0x8), "RVE")


def test_segment_beyond_the_address_space(tmp_path):
    data = HELLO_STATIC.read_bytes()
    phoff = struct.unpack_from("<Q", data, 32)[0]
    text_index = [header["type"] for header in program_headers(data)].index(PT_LOAD)
    vaddr_offset = phoff + 56 * text_index + 16
    expect_load_error(tmp_path, patched(data, vaddr_offset, "<Q", 1 << 38),
                      "does not fit in the guest address space")


def test_filesz_larger_than_memsz(tmp_path):
    data = HELLO_STATIC.read_bytes()
    phoff = struct.unpack_from("<Q", data, 32)[0]
    text_index = [header["type"] for header in program_headers(data)].index(PT_LOAD)
    expect_load_error(tmp_path, patched(data, phoff + 56 * text_index + 40, "<Q", 1),
                      "p_filesz > p_memsz")


def test_no_program_headers(tmp_path):
    expect_load_error(tmp_path, patched(HELLO_STATIC.read_bytes(), 56, "<H", 0),
                      "no program headers")


def test_directory(tmp_path):
    with pytest.raises(GuestLoadError, match="Is a directory"):
        read_elf(str(tmp_path))


def test_missing_file(tmp_path):
    with pytest.raises(GuestLoadError, match="No such file or directory"):
        read_elf(str(tmp_path / "missing"))


def test_file_without_execute_permission(tmp_path):
    path = tmp_path / "program"
    path.write_bytes(HELLO_STATIC.read_bytes())
    path.chmod(0o644)          # no x bit at all: refused even for root, as by execve
    with pytest.raises(GuestLoadError, match="Permission denied"):
        read_elf(str(path))


def test_corrupt_section_table_only_drops_the_symbols(tmp_path):
    data = patched(HELLO_STATIC.read_bytes(), 40, "<Q", 0xFFFFFFFF)         # e_shoff
    path = tmp_path / "program"
    path.write_bytes(data)
    path.chmod(0o755)
    elf = read_elf(str(path))
    assert elf.symbols == []
    assert elf.symbols_error is not None and "\n" not in elf.symbols_error
    with GuestMemory() as memory:
        assert load_elf(memory, elf).entry == 0x100E8


def test_every_truncation_is_a_load_error_or_loads(tmp_path):
    data = HELLO_STATIC.read_bytes()
    for length in range(len(data)):
        try:
            load_bytes(tmp_path, data[:length])
        except GuestLoadError as error:
            assert "\n" not in str(error)


@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.integers(0, 2159), st.integers(0, 255)), min_size=1, max_size=8),
       st.sampled_from(["hello_static", "hello_static_pie", "hello_pie_interp"]))
def test_corrupted_files_raise_only_load_errors(tmp_path, changes, name):
    data = bytearray((DATA / name).read_bytes())
    for offset, value in changes:
        data[offset % len(data)] = value
    try:
        load_bytes(tmp_path, bytes(data), name)
    except GuestLoadError as error:
        assert "\n" not in str(error)


def test_header_bytes_flipped_one_at_a_time(tmp_path):
    # Deterministic companion to the hypothesis test: every byte of the ELF header and program
    # headers, flipped to a few nasty values.
    data = HELLO_STATIC_PIE.read_bytes()
    headers_end = 64 + 56 * struct.unpack_from("<H", data, 56)[0]
    for offset in range(headers_end):
        for value in (0x00, 0xFF, 0x7F, 0x80):
            corrupted = bytearray(data)
            corrupted[offset] = value
            try:
                load_bytes(tmp_path, bytes(corrupted))
            except GuestLoadError as error:
                assert "\n" not in str(error)


# --- the initial stack ------------------------------------------------------------------------

def read_initial_stack(process: GuestProcess):
    memory = process.memory
    sp = process.initial_sp
    argc = memory.read_u64(sp)
    cursor = sp + 8
    argv = []
    for _ in range(argc):
        argv.append(memory.read_cstring(memory.read_u64(cursor)))
        cursor += 8
    assert memory.read_u64(cursor) == 0
    cursor += 8
    envp = []
    while (pointer := memory.read_u64(cursor)) != 0:
        envp.append(memory.read_cstring(pointer))
        cursor += 8
    cursor += 8
    auxv = []
    while True:
        key, value = memory.read_u64(cursor), memory.read_u64(cursor + 8)
        auxv.append((key, value))
        cursor += 16
        if key == AT_NULL:
            break
    return argc, argv, envp, auxv


@pytest.fixture
def hello_process():
    process = GuestProcess.load(str(HELLO_STATIC), ["hello_static", "first arg", "", "ünï"],
                                ["HOME=/home/guest", "EMPTY=", "PATH=/bin"],
                                random_bytes=bytes(range(100, 116)))
    yield process
    process.close()


def test_initial_stack_argc_argv_envp(hello_process):
    argc, argv, envp, _auxv = read_initial_stack(hello_process)
    assert argc == 4
    assert argv == [b"hello_static", b"first arg", b"", "ünï".encode()]
    assert envp == [b"HOME=/home/guest", b"EMPTY=", b"PATH=/bin"]


def test_initial_stack_auxv(hello_process):
    _argc, _argv, _envp, auxv = read_initial_stack(hello_process)
    values = dict(auxv)
    assert len(values) == len(auxv), "duplicate auxv entries"
    assert auxv[-1] == (AT_NULL, 0)
    data = HELLO_STATIC.read_bytes()
    memory = hello_process.memory
    assert values[AT_PHDR] == 0x10000 + 64
    assert memory.read(values[AT_PHDR], 56 * values[AT_PHNUM]) == \
        data[64:64 + 56 * values[AT_PHNUM]]
    assert values[AT_PHENT] == 56
    assert values[AT_PHNUM] == struct.unpack_from("<H", data, 56)[0]
    assert values[AT_PAGESZ] == 4096
    assert values[AT_BASE] == 0
    assert values[AT_FLAGS] == 0
    assert values[AT_ENTRY] == entry_point(data) == hello_process.entry
    assert values[AT_UID] == os.getuid()
    assert values[AT_EUID] == os.geteuid()
    assert values[AT_GID] == os.getgid()
    assert values[AT_EGID] == os.getegid()
    assert values[AT_SECURE] == 0
    assert memory.read(values[AT_RANDOM], 16) == bytes(range(100, 116))
    letters = "IMAFDC"
    assert values[AT_HWCAP] == sum(1 << (ord(letter) - ord("A")) for letter in letters) == 0x112D
    assert values[AT_CLKTCK] == 100
    assert memory.read_cstring(values[AT_EXECFN]) == str(HELLO_STATIC).encode()


def test_stack_placement_and_alignment(hello_process):
    process = hello_process
    memory = process.memory
    sp = process.initial_sp
    assert sp % 16 == 0
    assert STACK_TOP == 0x3FFFFFF000
    assert STACK_TOP - STACK_SIZE < sp < STACK_TOP
    assert memory.protection(STACK_TOP - STACK_SIZE) == PROT_READ | PROT_WRITE
    assert memory.protection(STACK_TOP - 8) == PROT_READ | PROT_WRITE
    assert memory.protection(STACK_TOP) is None                 # guard page above
    assert memory.protection(STACK_TOP - STACK_SIZE - 1) is None
    assert memory.read(STACK_TOP - 8, 8) == bytes(8)
    _argc, _argv, _envp, auxv = read_initial_stack(process)
    values = dict(auxv)
    # every string lives above the vector, on the stack
    assert sp < values[AT_RANDOM] < values[AT_EXECFN] < STACK_TOP
    # and the region below sp is free for the program (zero, writable)
    assert memory.read(sp - 4096, 4096) == bytes(4096)
    assert process.memory.mmap_top < STACK_TOP - STACK_SIZE


def test_process_state(hello_process):
    process = hello_process
    assert process.entry == 0x100E8
    assert process.exit_status is None
    assert process.brk_start == process.brk == process.image.brk_start
    assert process.brk_start % PAGE_SIZE == 0
    assert process.symbols.by_name("_start").address == process.entry
    assert process.symbolize(process.entry + 4) == "_start+0x4"
    assert process.symbolize(process.entry) == "_start"
    assert process.symbolize(0x5000) is None


def test_static_pie_process_entry_and_auxv():
    process = GuestProcess.load(str(HELLO_STATIC_PIE), ["pie"], [])
    try:
        values = dict(read_initial_stack(process)[3])
        assert process.entry == PIE_LOAD_BASE + entry_point(HELLO_STATIC_PIE.read_bytes())
        assert values[AT_ENTRY] == process.entry
        assert values[AT_PHDR] == PIE_LOAD_BASE + 64
        assert values[AT_BASE] == 0
        assert process.brk_start > PIE_LOAD_BASE
    finally:
        process.close()


def test_random_bytes_differ_between_processes():
    randoms = []
    for _ in range(2):
        process = GuestProcess.load(str(HELLO_STATIC), ["a"], [])
        randoms.append(process.memory.read(dict(read_initial_stack(process)[3])[AT_RANDOM], 16))
        process.close()
    assert randoms[0] != randoms[1]


def test_huge_argument_list_is_refused():
    with pytest.raises(GuestLoadError, match="Argument list too long"):
        GuestProcess.load(str(HELLO_STATIC), ["x" * 4096] * 1024, [])


def test_nul_in_an_argument_is_refused():
    with pytest.raises(GuestLoadError, match="NUL"):
        GuestProcess.load(str(HELLO_STATIC), ["a\0b"], [])


# --- with the cross toolchain -------------------------------------------------------------------

@needs_cross_gcc
def test_freshly_built_test_program_loads(tmp_path):
    output = tmp_path / "hello_static"
    subprocess.run([CROSS_GCC, "-nostdlib", "-static", "-march=rv64im", "-mabi=lp64",
                    "-Wl,--build-id=none", "-o", str(output), str(DATA / "hello_static.S")],
                   check=True)
    data = output.read_bytes()
    process = GuestProcess.load(str(output), ["hello_static"], [])
    try:
        check_image_in_memory(process.memory, data, bias=0)
        assert process.entry == entry_point(data)
    finally:
        process.close()


@needs_cross_gcc
def test_glibc_static_program_loads(tmp_path):
    source = tmp_path / "hello.c"
    source.write_text('#include <stdio.h>\nint main(void) { puts("hi"); return 0; }\n')
    output = tmp_path / "hello"
    result = subprocess.run([CROSS_GCC, "-static", "-O2", "-o", str(output), str(source)],
                            capture_output=True, text=True)
    if result.returncode != 0:
        pytest.skip(f"no static riscv64 libc: {result.stderr.strip()[:200]}")
    process = GuestProcess.load(str(output), ["hello"], ["A=B"])
    try:
        data = output.read_bytes()
        assert process.entry == entry_point(data)
        loads = [header for header in program_headers(data) if header["type"] == PT_LOAD]
        for header in loads:
            assert process.memory.read_unchecked(header["vaddr"], header["filesz"]) == \
                data[header["offset"]:header["offset"] + header["filesz"]]
        assert process.symbolize(process.symbols.by_name("main").address) == "main"
        assert process.symbols.by_name("_start").address == process.entry
    finally:
        process.close()


@pytest.mark.skipif(QEMU is None, reason="qemu-riscv64 not found")
@pytest.mark.parametrize("name", ["hello_static", "hello_static_pie"])
def test_committed_test_programs_behave_as_documented(name):
    result = subprocess.run([QEMU, str(DATA / name)], capture_output=True, timeout=60)
    assert result.stdout == b"hello, write\nhello, writev\n"
    assert result.returncode == 42


def test_random_bytes_flipped_in_the_whole_file(tmp_path):
    data = HELLO_STATIC.read_bytes()
    generator = random.Random(1234)
    for _ in range(200):
        corrupted = bytearray(data)
        for _ in range(generator.randint(1, 20)):
            corrupted[generator.randrange(len(data))] = generator.randrange(256)
        try:
            load_bytes(tmp_path, bytes(corrupted))
        except GuestLoadError as error:
            assert "\n" not in str(error)
