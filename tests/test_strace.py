"""-strace: the qemu-style lines do_syscall prints when process.strace is set."""
from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from guest.memory import PAGE_SIZE, PROT_READ, PROT_WRITE
from guest.process import GuestKilled, GuestProcess, ProcessExit
from guest.syscalls import SYSCALLS, ArgKind, do_syscall
from guest.syscalls.numbers import SYSCALL_NUMBERS
from guest.syscalls.strace import FORMATTERS, errno_text, format_call

DATA = Path(__file__).parent / "data"
HELLO_STATIC = DATA / "hello_static"
SYSCALL_TOUR = DATA / "syscall_tour"
QEMU = shutil.which("qemu-riscv64")
U64 = (1 << 64) - 1
SCRATCH = 0x100000
UNMAPPED = 0x300000
AT_FDCWD = -100


@pytest.fixture
def process():
    guest = GuestProcess.load(str(HELLO_STATIC), ["hello_static"], [])
    guest.memory.map(SCRATCH, 4 * PAGE_SIZE, PROT_READ | PROT_WRITE)
    yield guest
    guest.close()


@pytest.fixture
def trace(process):
    stream = io.StringIO()
    process.strace = stream
    return stream


def call(process, name, *args):
    registers = [argument & U64 for argument in args] + [0] * (6 - len(args))
    return do_syscall(process, SYSCALL_NUMBERS[name], registers)


def put_string(process, address, text):
    process.memory.write(address, os.fsencode(text) if isinstance(text, str) else text)
    process.memory.write(address + len(text), b"\0")


# --- lines as qemu prints them -------------------------------------------------------------------

def test_write(process, trace, pipe):
    _read_end, write_end = pipe
    process.memory.write(SCRATCH, b"hello, world\n")
    assert call(process, "write", write_end, SCRATCH, 13) == 13
    assert trace.getvalue() == f"{process.pid} write({write_end},0x100000,13) = 13\n"


def test_openat_error_with_errno_name_and_text(process, trace):
    put_string(process, SCRATCH, "/etc/x-tcgjit-missing")
    call(process, "openat", AT_FDCWD, SCRATCH, os.O_RDONLY)
    assert trace.getvalue() == (f'{process.pid} openat(AT_FDCWD,"/etc/x-tcgjit-missing",O_RDONLY)'
                                f" = -1 errno=2 (No such file or directory)\n")


def test_openat_creating_a_file_shows_the_mode(process, trace, tmp_path):
    path = str(tmp_path / "created")
    put_string(process, SCRATCH, path)
    fd = call(process, "openat", AT_FDCWD, SCRATCH,
              os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
    os.close(fd)
    assert trace.getvalue() == (f'{process.pid} openat(AT_FDCWD,"{path}",'
                                f"O_WRONLY|O_CREAT|O_TRUNC|O_CLOEXEC,0644) = {fd}\n")


def test_mmap_success_and_failure(process, trace):
    address = call(process, "mmap", 0, 8192, PROT_READ | PROT_WRITE, 0x22, -1, 0)
    call(process, "mmap", 0, 0, PROT_READ | 0x10, 0x22 | 0x10000000, -1, 0x3000)
    call(process, "munmap", address, 8192)
    pid = process.pid
    assert trace.getvalue().splitlines() == [
        f"{pid} mmap(NULL,8192,PROT_READ|PROT_WRITE,MAP_PRIVATE|MAP_ANONYMOUS,-1,0)"
        f" = 0x{address:016x}",
        f"{pid} mmap(NULL,0,PROT_READ|0x10,MAP_PRIVATE|MAP_ANONYMOUS|0x10000000,-1,0x3000)"
        f" = -1 errno=22 (Invalid argument)",
        f"{pid} munmap(0x{address:016x},8192) = 0",
    ]


def test_brk_and_pointer_results(process, trace):
    current = call(process, "brk", 0)
    assert trace.getvalue() == f"{process.pid} brk(NULL) = 0x{current:016x}\n"


def test_exit_group_is_printed_before_the_process_ends(process, trace):
    with pytest.raises(ProcessExit):
        call(process, "exit_group", 3)
    assert trace.getvalue() == f"{process.pid} exit_group(3)\n"


def test_a_fatal_signal_follows_the_call(process, trace):
    pid = process.pid
    with pytest.raises(GuestKilled):
        call(process, "tgkill", pid, process.tid, 6)
    assert trace.getvalue() == (f"{pid} tgkill({pid},{pid},SIGABRT) = 0\n"
                                f"--- SIGABRT {{si_signo=SIGABRT}} ---\n")


def test_unimplemented_and_unknown_syscalls(process, trace, capsys):
    assert do_syscall(process, 220, [0x11, 0, 0, 0, 0, 7]) < 0          # clone
    assert do_syscall(process, 5000, [1, 2, 3, 4, 5, 6]) < 0
    pid = process.pid
    assert trace.getvalue().splitlines() == [
        f"{pid} clone(0x11,0,0,0,0,0x7) = -1 errno=38 (Function not implemented)",
        f"{pid} syscall_5000(0x1,0x2,0x3,0x4,0x5,0x6) = -1 errno=38 (Function not implemented)",
    ]
    capsys.readouterr()


def test_decoded_arguments(process, trace, pipe):
    read_end, _write_end = pipe
    pid = process.pid
    process.memory.write_u64(SCRATCH, 1 << 5)
    call(process, "rt_sigprocmask", 1, SCRATCH, 0, 8)
    call(process, "futex", SCRATCH + 64, 1 | 128, 1, 0, 0, 0)
    call(process, "lseek", read_end, 0, os.SEEK_END)
    call(process, "clock_gettime", 1, SCRATCH)
    put_string(process, SCRATCH + 256, "")
    call(process, "newfstatat", read_end, SCRATCH + 256, SCRATCH + 512, 0x1000)
    put_string(process, SCRATCH + 256, "/")
    call(process, "faccessat", AT_FDCWD, SCRATCH + 256, os.R_OK | os.W_OK)
    call(process, "faccessat", AT_FDCWD, SCRATCH + 256, os.F_OK)
    call(process, "unlinkat", AT_FDCWD, UNMAPPED, 0x200)
    call(process, "kill", pid, 0)
    call(process, "prlimit64", 0, 3, 0, UNMAPPED)
    call(process, "fcntl", read_end, 1)
    old_umask = os.umask(0o077)
    try:
        call(process, "umask", 0o22)
    finally:
        os.umask(old_umask)
    call(process, "mprotect", SCRATCH, PAGE_SIZE, 0)
    call(process, "madvise", UNMAPPED, PAGE_SIZE, 4)
    assert trace.getvalue().splitlines() == [
        f"{pid} rt_sigprocmask(SIG_UNBLOCK,0x0000000000100000,NULL,8) = 0",
        f"{pid} futex(0x0000000000100040,FUTEX_WAKE|FUTEX_PRIVATE_FLAG,1,NULL,NULL,0) = 0",
        f"{pid} lseek({read_end},0,SEEK_END) = -1 errno=29 (Illegal seek)",
        f"{pid} clock_gettime(CLOCK_MONOTONIC,0x0000000000100000) = 0",
        f'{pid} newfstatat({read_end},"",0x0000000000100200,AT_EMPTY_PATH) = 0',
        f'{pid} faccessat(AT_FDCWD,"/",R_OK|W_OK) = 0',
        f'{pid} faccessat(AT_FDCWD,"/",F_OK) = 0',
        f"{pid} unlinkat(AT_FDCWD,0x0000000000300000,AT_REMOVEDIR) = -1 errno=14 (Bad address)",
        f"{pid} kill({pid},0) = 0",
        f"{pid} prlimit64(0,RLIMIT_STACK,NULL,0x0000000000300000) = -1 errno=14 (Bad address)",
        f"{pid} fcntl({read_end},F_GETFD,0) = 1",          # os.pipe sets FD_CLOEXEC
        f"{pid} umask(022) = 077",
        f"{pid} mprotect(0x0000000000100000,4096,PROT_NONE) = 0",
        f"{pid} madvise(0x0000000000300000,4096,MADV_DONTNEED) = -1 errno=12 "
        f"(Cannot allocate memory)",
    ]


def test_strings_are_escaped_and_bad_pointers_shown_as_addresses(process, trace):
    put_string(process, SCRATCH, b'a "quoted"\nname\x01')
    call(process, "chdir", SCRATCH)
    call(process, "chdir", UNMAPPED)
    pid = process.pid
    assert trace.getvalue().splitlines() == [
        f'{pid} chdir("a \\"quoted\\"\\nname\\x01") = -1 errno=2 (No such file or directory)',
        f"{pid} chdir(0x0000000000300000) = -1 errno=14 (Bad address)",
    ]


def test_the_call_is_printed_before_it_runs(process, pipe):
    # qemu prints "name(args)" first and " = result" after, so what the syscall writes to the
    # same place lands in between.
    read_end, write_end = pipe
    process.strace = os.fdopen(os.dup(write_end), "w")
    try:
        process.memory.write(SCRATCH, b"hello")
        assert call(process, "write", write_end, SCRATCH, 5) == 5
    finally:
        process.strace.close()
    os.close(write_end)
    assert os.read(read_end, 1000) == \
        f"{process.pid} write({write_end},0x100000,5)hello = 5\n".encode()


def test_no_output_when_strace_is_off(process, capsys, pipe):
    _read_end, write_end = pipe
    assert process.strace is None
    call(process, "write", write_end, SCRATCH, 1)
    captured = capsys.readouterr()
    assert captured.out == captured.err == ""


def test_a_closed_trace_stream_does_not_stop_the_guest(process, pipe):
    _read_end, write_end = pipe
    stream = io.StringIO()
    stream.close()
    process.strace = stream
    assert call(process, "write", write_end, SCRATCH, 3) == 3


def test_errno_text():
    assert errno_text(2) == "No such file or directory"
    assert errno_text(38) == "Function not implemented"
    assert errno_text(4000) == "Unknown error 4000"


# --- the table drives the printing ---------------------------------------------------------------

def test_every_argument_kind_has_a_formatter():
    assert set(FORMATTERS) == set(ArgKind) - {ArgKind.NORETURN}
    for spec in SYSCALLS:
        assert ArgKind.NORETURN not in spec.arg_kinds, spec.name


_argument = st.one_of(st.sampled_from([0, SCRATCH, UNMAPPED, U64, AT_FDCWD & U64, 1 << 31]),
                      st.integers(0, U64))


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(sorted(spec.number for spec in SYSCALLS)),
       st.lists(_argument, min_size=6, max_size=6))
def test_every_syscall_formats_any_arguments(number, args):
    process = GuestProcess.load(str(HELLO_STATIC), ["x"], [])
    try:
        spec = SYSCALLS.lookup(number)
        text = format_call(process, spec, number, args)
        assert text.startswith(spec.name + "(") and text.endswith(")")
        assert "\n" not in text
    finally:
        process.close()


# --- end to end, against qemu-riscv64 -strace ----------------------------------------------------

_CALL = re.compile(r"^\d+ (\w+)\(")


def summarize(trace_text: str, pid: int | None) -> list[tuple[str, str]]:
    """(syscall, result) per line; addresses and pids made comparable."""
    summary = []
    for line in trace_text.splitlines():
        if line.startswith("---"):
            summary.append(("signal", line.split()[1].replace("SIGIOT", "SIGABRT")))
            continue
        match = _CALL.match(line)
        if match is None:
            continue
        name = match.group(1)
        _call, separator, after = line.partition(") = ")
        result = after.split()[0] if separator else None
        if result is not None and result.startswith("0x"):
            result = "address"
        if pid is not None and result == str(pid):
            result = "pid"
        summary.append((name, result))
    return summary


def run_tour_in_tcgjit(capfd) -> tuple[int, str, str, int]:
    """Run tests/data/syscall_tour through the whole translator with -strace on: (exit
    status, stdout, trace, pid)."""
    machine_module = pytest.importorskip("tools.machine")
    from jit.pipeline import DebugLog
    process = GuestProcess.load(str(SYSCALL_TOUR), [str(SYSCALL_TOUR)], [])
    trace = io.StringIO()
    process.strace = trace
    try:
        status = machine_module.Machine(process, DebugLog(None, frozenset())).run()
    finally:
        process.close()
    return status, capfd.readouterr().out, trace.getvalue(), process.pid


def test_syscall_tour_end_to_end(capfd):
    status, stdout, trace, pid = run_tour_in_tcgjit(capfd)
    assert stdout == "riscv64\nmapped\nexe ok\nstill alive\n"
    assert status == 134
    summary = summarize(trace, pid)
    assert [name for name, _result in summary] == [
        "getpid", "gettid", "uname", "write", "write", "mmap", "write", "munmap", "openat",
        "readlinkat", "write", "clock_gettime", "rt_sigprocmask", "tgkill", "write",
        "rt_sigprocmask", "signal"]
    assert ("openat", "-1") in summary and ("signal", "SIGABRT") in summary


@pytest.mark.skipif(QEMU is None, reason="qemu-riscv64 not found")
def test_syscall_tour_matches_qemu(capfd):
    reference = subprocess.run([QEMU, "-strace", str(SYSCALL_TOUR)], capture_output=True,
                               text=True, timeout=60)
    assert reference.returncode in (134, -6)          # killed by SIGABRT, as a shell reports
    status, stdout, trace, pid = run_tour_in_tcgjit(capfd)
    assert stdout == reference.stdout
    assert status == 134
    qemu_pid = int(reference.stderr.split()[0])
    assert summarize(trace, pid) == summarize(reference.stderr, qemu_pid)
