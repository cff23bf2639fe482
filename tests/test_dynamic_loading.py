"""Dynamic executables: the PT_INTERP interpreter found through the sysroot (qemu's -L), the
auxiliary vector that hands control to it, and guest file lookups through the sysroot."""
from __future__ import annotations

import os
import re
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from guest import errno_riscv
from guest.elf_loader import PIE_LOAD_BASE, GuestLoadError
from guest.memory import PAGE_SIZE, PROT_EXEC, PROT_READ, PROT_WRITE
from guest.process import (
    AT_BASE, AT_ENTRY, AT_NULL, AT_PHDR, AT_PHENT, AT_PHNUM, STACK_TOP, GuestProcess,
)
from guest.syscalls import do_syscall
from guest.syscalls.numbers import SYSCALL_NUMBERS

DATA = Path(__file__).parent / "data"
HELLO_PIE_INTERP = DATA / "hello_pie_interp"       # PT_INTERP /lib/ld-linux-riscv64-lp64.so.1
HELLO_STATIC_PIE = DATA / "hello_static_pie"
HELLO_DYNAMIC = DATA / "hello_dynamic"             # glibc, PT_INTERP .../ld-linux-...lp64d.so.1
FAKE_INTERPRETER = "/lib/ld-linux-riscv64-lp64.so.1"
RISCV_SYSROOT = Path("/usr/riscv64-linux-gnu")
GLIBC_INTERPRETER = "/lib/ld-linux-riscv64-lp64d.so.1"
needs_riscv_sysroot = pytest.mark.skipif(
    not (RISCV_SYSROOT / GLIBC_INTERPRETER.lstrip("/")).exists(),
    reason="no riscv64 glibc sysroot (Debian's libc6-riscv64-cross) in /usr/riscv64-linux-gnu")
QEMU = shutil.which("qemu-riscv64")
U64 = (1 << 64) - 1
AT_FDCWD = -100
SCRATCH = 0x100000


def elf_header(data: bytes) -> dict:
    entry, phoff = struct.unpack_from("<QQ", data, 24)
    phnum, = struct.unpack_from("<H", data, 56)
    return dict(entry=entry, phoff=phoff, phnum=phnum)


def file_offset_of(data: bytes, vaddr: int) -> int:
    """The file offset holding link address vaddr (from the PT_LOAD headers)."""
    header = elf_header(data)
    for index in range(header["phnum"]):
        p_type, _flags, offset, p_vaddr, _paddr, filesz, _memsz, _align = struct.unpack_from(
            "<IIQQQQQQ", data, header["phoff"] + 56 * index)
        if p_type == 1 and p_vaddr <= vaddr < p_vaddr + filesz:
            return offset + vaddr - p_vaddr
    raise AssertionError(f"0x{vaddr:x} is not in a loaded segment")


def auxv_of(process: GuestProcess) -> dict[int, int]:
    """The auxv as the guest finds it on its initial stack."""
    memory = process.memory
    cursor = process.initial_sp
    argc = memory.read_u64(cursor)
    cursor += 8 * (argc + 2)                     # argc, argv[], NULL
    while memory.read_u64(cursor):
        cursor += 8                              # envp[]
    cursor += 8
    vector = {}
    while True:
        key, value = memory.read_u64(cursor), memory.read_u64(cursor + 8)
        if key == AT_NULL:
            return vector
        vector[key] = value
        cursor += 16


def make_sysroot(root: Path, interpreter_source: Path, name: str = FAKE_INTERPRETER) -> Path:
    target = root / name.lstrip("/")
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(interpreter_source, target)       # keeps the execute permission
    return target


def call(process, name, *args):
    registers = [argument & U64 for argument in args] + [0] * (6 - len(args))
    return do_syscall(process, SYSCALL_NUMBERS[name], registers)


def put_string(process, address, text):
    process.memory.write(address, os.fsencode(text) + b"\0")


# --- the interpreter and the auxiliary vector ----------------------------------------------------

def test_interpreter_from_the_sysroot_gets_control(tmp_path):
    # A static-pie stands in for ld.so: any ET_DYN image can be an interpreter.
    interpreter_file = make_sysroot(tmp_path, HELLO_STATIC_PIE)
    process = GuestProcess.load(str(HELLO_PIE_INTERP), ["hello"], ["A=1"], sysroot=str(tmp_path))
    try:
        interpreter = process.interpreter
        assert interpreter is not None and interpreter.path == str(interpreter_file)
        bias = interpreter.load_bias
        assert bias > 0 and bias % PAGE_SIZE == 0
        interpreter_data = HELLO_STATIC_PIE.read_bytes()
        main_data = HELLO_PIE_INTERP.read_bytes()
        assert process.entry == bias + elf_header(interpreter_data)["entry"]
        auxv = auxv_of(process)
        assert auxv == dict(process.auxv[:-1])
        assert auxv[AT_BASE] == bias
        assert auxv[AT_ENTRY] == PIE_LOAD_BASE + elf_header(main_data)["entry"]
        assert auxv[AT_ENTRY] == process.image.entry != process.entry
        assert auxv[AT_PHDR] == PIE_LOAD_BASE + elf_header(main_data)["phoff"]
        assert auxv[AT_PHENT] == 56 and auxv[AT_PHNUM] == elf_header(main_data)["phnum"]
        # The interpreter's first instructions are what runs first.
        entry_offset = file_offset_of(interpreter_data, elf_header(interpreter_data)["entry"])
        assert process.memory.read_executable(process.entry, 16) == \
            interpreter_data[entry_offset:entry_offset + 16]
        assert process.symbolize(process.entry) == "_start"
        # Placed like Linux's mmap of the interpreter: below the stack gap, above the program.
        assert process.image.end < interpreter.start
        assert interpreter.end <= process.memory.mmap_top < STACK_TOP
        assert process.memory.protection(interpreter.start) == PROT_READ | PROT_EXEC
    finally:
        process.close()


def test_missing_interpreter_without_a_sysroot():
    if os.path.exists(FAKE_INTERPRETER):
        pytest.skip(f"this host has {FAKE_INTERPRETER}")
    with pytest.raises(GuestLoadError) as info:
        GuestProcess.load(str(HELLO_PIE_INTERP), ["hello"], [])
    message = str(info.value)
    assert message.startswith(f"interpreter {FAKE_INTERPRETER}: No such file or directory")
    assert "sysroot" in message and "\n" not in message


def test_sysroot_without_the_interpreter_falls_back_to_the_host_path(tmp_path):
    if os.path.exists(FAKE_INTERPRETER):
        pytest.skip(f"this host has {FAKE_INTERPRETER}")
    with pytest.raises(GuestLoadError, match=f"^interpreter {FAKE_INTERPRETER}: No such file"):
        GuestProcess.load(str(HELLO_PIE_INTERP), ["hello"], [], sysroot=str(tmp_path))


def test_an_interpreter_that_is_not_riscv_elf_is_refused(tmp_path):
    interpreter = make_sysroot(tmp_path, HELLO_STATIC_PIE)
    interpreter.write_text("#!/bin/sh\n")
    with pytest.raises(GuestLoadError,
                       match=f"^interpreter {FAKE_INTERPRETER}: Exec format error: not an ELF"):
        GuestProcess.load(str(HELLO_PIE_INTERP), ["hello"], [], sysroot=str(tmp_path))


def test_an_interpreter_with_its_own_interpreter_is_refused(tmp_path):
    make_sysroot(tmp_path, HELLO_PIE_INTERP)
    with pytest.raises(GuestLoadError, match="it has a PT_INTERP itself"):
        GuestProcess.load(str(HELLO_PIE_INTERP), ["hello"], [], sysroot=str(tmp_path))


@needs_riscv_sysroot
def test_glibc_dynamic_executable_with_the_riscv_sysroot():
    process = GuestProcess.load(str(HELLO_DYNAMIC), ["hello_dynamic"], [],
                                sysroot=str(RISCV_SYSROOT))
    try:
        assert process.image.interpreter == GLIBC_INTERPRETER
        interpreter_path = RISCV_SYSROOT / GLIBC_INTERPRETER.lstrip("/")
        assert os.path.realpath(process.interpreter.path) == os.path.realpath(interpreter_path)
        ld_so = interpreter_path.read_bytes()
        bias = process.interpreter.load_bias
        auxv = auxv_of(process)
        assert auxv[AT_BASE] == bias
        assert process.entry == bias + elf_header(ld_so)["entry"]
        assert auxv[AT_ENTRY] == PIE_LOAD_BASE + elf_header(HELLO_DYNAMIC.read_bytes())["entry"]
        entry_offset = file_offset_of(ld_so, elf_header(ld_so)["entry"])
        assert process.memory.read_executable(process.entry, 32) == \
            ld_so[entry_offset:entry_offset + 32]
        # ld.so's writable segment (its GOT and data) is mapped read-write.
        writable = [segment for segment in process.interpreter.segments
                    if segment.prot & PROT_WRITE]
        assert writable and process.memory.protection(writable[0].vaddr) & PROT_WRITE
    finally:
        process.close()


@pytest.mark.skipif(QEMU is None, reason="qemu-riscv64 not found")
@needs_riscv_sysroot
def test_committed_dynamic_program_runs_under_qemu_with_the_sysroot():
    result = subprocess.run([QEMU, "-L", str(RISCV_SYSROOT), str(HELLO_DYNAMIC), "x"],
                            capture_output=True, timeout=60)
    assert result.stdout == f"argv[0] = {HELLO_DYNAMIC}\nargv[1] = x\n".encode()
    assert result.returncode == 7


# --- guest file lookups through the sysroot ------------------------------------------------------

@pytest.fixture
def process_with_fake_sysroot(tmp_path):
    sysroot = tmp_path / "sysroot"
    make_sysroot(sysroot, HELLO_STATIC_PIE)
    (sysroot / "etc").mkdir()
    (sysroot / "etc" / "only-in-sysroot").write_text("from the sysroot\n")
    process = GuestProcess.load(str(HELLO_PIE_INTERP), ["hello"], [], sysroot=str(sysroot))
    process.memory.map(SCRATCH, 4 * PAGE_SIZE, PROT_READ | PROT_WRITE)
    yield process, sysroot
    process.close()


def test_host_path_prefers_the_sysroot(process_with_fake_sysroot, tmp_path):
    process, sysroot = process_with_fake_sysroot
    assert process.host_path(b"/etc/only-in-sysroot") == \
        os.fsencode(sysroot) + b"/etc/only-in-sysroot"
    assert process.host_path(b"/etc/not-in-sysroot") == b"/etc/not-in-sysroot"
    assert process.host_path(b"etc/only-in-sysroot") == b"etc/only-in-sysroot"   # relative
    process.sysroot = None
    assert process.host_path(b"/etc/only-in-sysroot") == b"/etc/only-in-sysroot"


def test_guest_opens_and_stats_go_through_the_sysroot(process_with_fake_sysroot, tmp_path):
    process, sysroot = process_with_fake_sysroot
    put_string(process, SCRATCH, "/etc/only-in-sysroot")
    fd = call(process, "openat", AT_FDCWD, SCRATCH, os.O_RDONLY)
    assert fd >= 0
    try:
        assert os.read(fd, 100) == b"from the sysroot\n"
    finally:
        os.close(fd)
    assert call(process, "faccessat", AT_FDCWD, SCRATCH, os.R_OK) == 0
    assert call(process, "newfstatat", AT_FDCWD, SCRATCH, SCRATCH + 0x1000, 0) == 0
    assert process.memory.read_u64(SCRATCH + 0x1000 + 48) == len("from the sysroot\n")
    # Files the sysroot does not have come from the host.
    host_file = tmp_path / "on-the-host"
    host_file.write_text("host\n")
    put_string(process, SCRATCH, str(host_file))
    fd = call(process, "openat", AT_FDCWD, SCRATCH, os.O_RDONLY)
    assert fd >= 0
    os.close(fd)
    put_string(process, SCRATCH, "/etc/not-anywhere-tcgjit")
    assert call(process, "openat", AT_FDCWD, SCRATCH, os.O_RDONLY) == -errno_riscv.ENOENT


@needs_riscv_sysroot
def test_the_dynamic_linkers_library_loading_syscalls():
    # What ld.so does for libc.so.6 (seen with qemu-riscv64 -strace): open it by its guest
    # path, read the ELF header, fstat the fd, map the file, map the data segment over it.
    process = GuestProcess.load(str(HELLO_DYNAMIC), ["hello_dynamic"], [],
                                sysroot=str(RISCV_SYSROOT))
    try:
        process.memory.map(SCRATCH, 4 * PAGE_SIZE, PROT_READ | PROT_WRITE)
        libc = (RISCV_SYSROOT / "lib" / "libc.so.6").read_bytes()
        put_string(process, SCRATCH, "/lib/libc.so.6")
        fd = call(process, "openat", AT_FDCWD, SCRATCH, os.O_RDONLY | os.O_CLOEXEC)
        assert fd >= 0
        try:
            assert call(process, "read", fd, SCRATCH + 0x1000, 832) == 832
            assert process.memory.read(SCRATCH + 0x1000, 832) == libc[:832]
            put_string(process, SCRATCH, "")
            assert call(process, "newfstatat", fd, SCRATCH, SCRATCH + 0x2000, 0x1000) == 0
            assert process.memory.read_u64(SCRATCH + 0x2000 + 48) == len(libc)
            size = (len(libc) + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1)
            base = call(process, "mmap", 0, size, PROT_READ | PROT_EXEC, 0x802, fd, 0)
            assert 0 < base < (1 << 38)
            assert process.memory.read_executable(base, PAGE_SIZE) == libc[:PAGE_SIZE]
            assert process.memory.protection(base) == PROT_READ | PROT_EXEC
            data_offset = size - 2 * PAGE_SIZE
            assert call(process, "mmap", base + data_offset, PAGE_SIZE, PROT_READ | PROT_WRITE,
                        0x812, fd, data_offset) == base + data_offset
            assert process.memory.read(base + data_offset, PAGE_SIZE) == \
                libc[data_offset:data_offset + PAGE_SIZE]
            assert process.memory.protection(base + data_offset) == PROT_READ | PROT_WRITE
        finally:
            assert call(process, "close", fd) == 0
    finally:
        process.close()


@needs_riscv_sysroot
def test_glibc_dynamic_program_runs_through_the_translator(capfd):
    # The whole path: ld.so from the sysroot, libc.so.6 found through it by the guest's own
    # openat, mapped with file mmaps, then main's printf and exit status.
    import io
    machine_module = pytest.importorskip("tools.machine")
    from jit.pipeline import DebugLog
    process = GuestProcess.load(str(HELLO_DYNAMIC), ["hello_dynamic", "one"], [],
                                sysroot=str(RISCV_SYSROOT))
    trace = io.StringIO()
    process.strace = trace
    try:
        status = machine_module.Machine(process, DebugLog(None, frozenset())).run()
    finally:
        process.close()
    assert capfd.readouterr().out == "argv[0] = hello_dynamic\nargv[1] = one\n"
    assert status == 7
    text = trace.getvalue()
    libc_fd = re.search(r'openat\(AT_FDCWD,"/lib/libc\.so\.6",O_RDONLY\|O_CLOEXEC\) = (\d+)\n',
                        text)
    assert libc_fd is not None, text
    assert f"PROT_READ|PROT_EXEC,MAP_PRIVATE|MAP_DENYWRITE,{libc_fd.group(1)},0) = 0x" in text
    assert text.endswith("exit_group(7)\n")
