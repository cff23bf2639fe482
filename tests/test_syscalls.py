"""Syscalls: the table, do_syscall's error mapping, and each implemented handler."""
from __future__ import annotations

import errno as host_errno
import os
from pathlib import Path

import pytest

from guest import errno_riscv
from guest.memory import PAGE_SIZE, PROT_EXEC, PROT_NONE, PROT_READ, PROT_WRITE, MemoryChange
from guest.process import GuestProcess
from guest.syscalls import SYSCALLS, ArgKind, ProcessExit, SyscallTable, do_syscall
from guest.syscalls.numbers import SYSCALL_NAMES, SYSCALL_NUMBERS

HELLO_STATIC = Path(__file__).parent / "data" / "hello_static"

NR_READ, NR_WRITE, NR_READV, NR_WRITEV, NR_CLOSE = 63, 64, 65, 66, 57
NR_EXIT, NR_EXIT_GROUP, NR_SET_TID_ADDRESS = 93, 94, 96
NR_UNAME, NR_GETPID, NR_GETPPID, NR_GETUID, NR_GETEUID, NR_GETGID, NR_GETEGID, NR_GETTID = \
    160, 172, 173, 174, 175, 176, 177, 178
NR_BRK = 214

U64 = (1 << 64) - 1
SCRATCH = 0x100000          # RW scratch pages mapped by the fixture
READ_ONLY = 0x200000        # a read-only page
UNMAPPED = 0x300000


@pytest.fixture
def process():
    guest = GuestProcess.load(str(HELLO_STATIC), ["hello_static"], [])
    guest.memory.map(SCRATCH, 4 * PAGE_SIZE, PROT_READ | PROT_WRITE)
    guest.memory.map(READ_ONLY, PAGE_SIZE, PROT_READ)
    yield guest
    guest.close()


def syscall(process, number, *args):
    return do_syscall(process, number, list(args) + [0] * (6 - len(args)))


def call(process, name, *args):
    """Syscall `name` with the arguments as C would pass them (negative ints as u64)."""
    registers = [argument & U64 for argument in args] + [0] * (6 - len(args))
    return do_syscall(process, SYSCALL_NUMBERS[name], registers)


def put_string(process, address, text):
    data = os.fsencode(text) if isinstance(text, str) else text
    process.memory.write(address, data + b"\0")
    return address


def put_iovec(process, address, pieces):
    for index, (base, length) in enumerate(pieces):
        process.memory.write_u64(address + 16 * index, base)
        process.memory.write_u64(address + 16 * index + 8, length)


# --- the table ---------------------------------------------------------------------------------

def test_riscv_numbers():
    expected = {"read": 63, "write": 64, "readv": 65, "writev": 66, "close": 57, "exit": 93,
                "exit_group": 94, "set_tid_address": 96, "uname": 160, "getpid": 172,
                "gettid": 178, "brk": 214, "mmap": 222, "openat": 56, "clone": 220,
                "riscv_flush_icache": 259, "rt_sigaction": 134}
    for name, number in expected.items():
        assert SYSCALL_NUMBERS[name] == number
        assert SYSCALL_NAMES[number] == name
    # x86-64's open/stat/fork do not exist on asm-generic
    assert "open" not in SYSCALL_NUMBERS and "fork" not in SYSCALL_NUMBERS


IMPLEMENTED = {
    # files and descriptors
    "read", "write", "readv", "writev", "pread64", "pwrite64", "lseek", "close", "openat",
    "fstat", "newfstatat", "statx", "faccessat", "faccessat2", "readlinkat", "getdents64",
    "getcwd", "chdir", "fchdir", "unlinkat", "mkdirat", "renameat2", "umask", "fcntl", "dup",
    "dup3", "pipe2", "ioctl", "ftruncate", "fsync", "fdatasync", "linkat", "symlinkat",
    "riscv_flush_icache",
    # memory
    "brk", "mmap", "munmap", "mprotect", "mremap", "madvise",
    # processes, threads, futexes
    "exit", "exit_group", "set_tid_address", "set_robust_list", "get_robust_list", "rseq",
    "getpid", "gettid", "getppid", "getpgid", "setpgid", "getsid", "setsid", "prlimit64",
    "getrlimit", "setrlimit", "getrusage", "futex",
    # signals
    "rt_sigaction", "rt_sigprocmask", "rt_sigpending", "sigaltstack", "kill", "tkill", "tgkill",
    # time
    "clock_gettime", "clock_getres", "gettimeofday", "nanosleep", "clock_nanosleep",
    # system information
    "uname", "getuid", "geteuid", "getgid", "getegid", "getresuid", "getresgid", "getgroups",
    "sysinfo", "getrandom", "sched_getaffinity", "sched_yield", "riscv_hwprobe",
}


def test_registered_handlers():
    names = {spec.name: spec for spec in SYSCALLS}
    assert set(names) == IMPLEMENTED
    for spec in SYSCALLS:
        assert spec.number == SYSCALL_NUMBERS[spec.name]
        assert SYSCALLS.lookup(spec.number) is spec
    assert names["write"].arg_kinds == (ArgKind.FD, ArgKind.IN_BUFFER, ArgKind.UINT)
    assert names["writev"].arg_kinds == (ArgKind.FD, ArgKind.IOVEC, ArgKind.INT)
    assert names["exit_group"].result_kind is ArgKind.NORETURN
    assert names["brk"].result_kind is ArgKind.PTR


def test_table_rejects_duplicates_and_unknown_names():
    table = SyscallTable()
    table.register("write", lambda process, args: 0, ())
    with pytest.raises(ValueError, match="twice"):
        table.register("write", lambda process, args: 0, ())
    with pytest.raises(ValueError, match="no RISC-V 64 syscall"):
        table.register("fork", lambda process, args: 0, ())
    assert 64 in table and len(table) == 1


def test_errno_values_are_asm_generic():
    assert (errno_riscv.EPERM, errno_riscv.ENOENT, errno_riscv.EBADF, errno_riscv.EFAULT,
            errno_riscv.EINVAL, errno_riscv.EPIPE, errno_riscv.ENOSYS,
            errno_riscv.ENAMETOOLONG, errno_riscv.EAGAIN, errno_riscv.ETIMEDOUT) == \
        (1, 2, 9, 14, 22, 32, 38, 36, 11, 110)
    assert errno_riscv.EWOULDBLOCK == errno_riscv.EAGAIN
    assert errno_riscv.host_errno_to_guest(host_errno.ENOENT) == 2
    assert errno_riscv.host_errno_to_guest(host_errno.ECONNREFUSED) == 111
    assert errno_riscv.host_errno_to_guest(99999) == errno_riscv.EIO


# --- unknown syscalls ---------------------------------------------------------------------------

def test_unknown_syscall_is_enosys_with_one_warning_per_number(process, capsys):
    assert syscall(process, 220) == -errno_riscv.ENOSYS          # clone: not yet
    assert syscall(process, 220) == -errno_riscv.ENOSYS
    assert syscall(process, 5000) == -errno_riscv.ENOSYS
    assert syscall(process, 220) == -errno_riscv.ENOSYS
    assert capsys.readouterr().err.splitlines() == ["tcgjit: unsupported syscall 220",
                                                    "tcgjit: unsupported syscall 5000"]


def test_rseq_is_enosys_without_a_warning(process, capsys):
    # glibc registers rseq at every start-up; qemu answers ENOSYS, and so do we, quietly.
    assert call(process, "rseq", SCRATCH, 32, 0, 0x53053053) == -errno_riscv.ENOSYS
    assert capsys.readouterr().err == ""


# --- write / writev -----------------------------------------------------------------------------

def test_write_to_a_pipe(process, pipe):
    read_end, write_end = pipe
    process.memory.write(SCRATCH, b"hello from the guest\n")
    assert syscall(process, NR_WRITE, write_end, SCRATCH, 21) == 21
    assert os.read(read_end, 100) == b"hello from the guest\n"


def test_write_from_a_read_only_segment(process, pipe):
    read_end, write_end = pipe
    message = 0x101A0           # "hello, write\n" in hello_static's .rodata (text segment)
    assert syscall(process, NR_WRITE, write_end, message, 13) == 13
    assert os.read(read_end, 100) == b"hello, write\n"


def test_write_bad_buffer_is_efault(process, pipe):
    read_end, write_end = pipe
    assert syscall(process, NR_WRITE, write_end, UNMAPPED, 10) == -errno_riscv.EFAULT
    assert syscall(process, NR_WRITE, write_end, 1 << 40, 10) == -errno_riscv.EFAULT
    assert syscall(process, NR_WRITE, write_end, 0, 1) == -errno_riscv.EFAULT
    os.close(write_end)
    assert os.read(read_end, 100) == b""                          # nothing was written


def test_write_running_into_unmapped_memory_is_short(process, pipe):
    read_end, write_end = pipe
    end_of_scratch = SCRATCH + 4 * PAGE_SIZE
    process.memory.write(end_of_scratch - 5, b"tail!")
    assert syscall(process, NR_WRITE, write_end, end_of_scratch - 5, 100) == 5
    assert os.read(read_end, 100) == b"tail!"


def test_write_zero_bytes(process, pipe):
    _read_end, write_end = pipe
    assert syscall(process, NR_WRITE, write_end, UNMAPPED, 0) == 0


def test_writev_to_a_pipe(process, pipe):
    read_end, write_end = pipe
    process.memory.write(SCRATCH + 0x100, b"first ")
    process.memory.write(SCRATCH + 0x200, b"second\n")
    put_iovec(process, SCRATCH, [(SCRATCH + 0x100, 6), (UNMAPPED, 0), (SCRATCH + 0x200, 7)])
    assert syscall(process, NR_WRITEV, write_end, SCRATCH, 3) == 13
    assert os.read(read_end, 100) == b"first second\n"


def test_writev_errors(process, pipe):
    _read_end, write_end = pipe
    assert syscall(process, NR_WRITEV, write_end, UNMAPPED, 1) == -errno_riscv.EFAULT
    put_iovec(process, SCRATCH, [(UNMAPPED, 4)])
    assert syscall(process, NR_WRITEV, write_end, SCRATCH, 1) == -errno_riscv.EFAULT
    assert syscall(process, NR_WRITEV, write_end, SCRATCH, -1 & 0xFFFFFFFF) == \
        -errno_riscv.EINVAL
    assert syscall(process, NR_WRITEV, write_end, SCRATCH, 1025) == -errno_riscv.EINVAL
    put_iovec(process, SCRATCH, [(SCRATCH, 1 << 63)])             # negative length
    assert syscall(process, NR_WRITEV, write_end, SCRATCH, 1) == -errno_riscv.EINVAL
    assert syscall(process, NR_WRITEV, write_end, SCRATCH, 0) == 0


def test_writev_stops_at_the_first_bad_buffer(process, pipe):
    read_end, write_end = pipe
    process.memory.write(SCRATCH + 0x100, b"good")
    put_iovec(process, SCRATCH, [(SCRATCH + 0x100, 4), (UNMAPPED, 4), (SCRATCH + 0x100, 4)])
    assert syscall(process, NR_WRITEV, write_end, SCRATCH, 3) == 4
    assert os.read(read_end, 100) == b"good"


def test_write_to_a_closed_pipe_is_epipe(process, pipe):
    read_end, write_end = pipe
    os.close(read_end)
    assert syscall(process, NR_WRITE, write_end, SCRATCH, 4) == -errno_riscv.EPIPE


def test_bad_file_descriptors(process, pipe):
    read_end, write_end = pipe
    assert syscall(process, NR_WRITE, -1 & (1 << 64) - 1, SCRATCH, 1) == -errno_riscv.EBADF
    assert syscall(process, NR_WRITE, 0xFFFFFFFF, SCRATCH, 1) == -errno_riscv.EBADF
    assert syscall(process, NR_WRITE, read_end, SCRATCH, 1) == -errno_riscv.EBADF
    process.reserved_host_fds.add(write_end)
    assert syscall(process, NR_WRITE, write_end, SCRATCH, 1) == -errno_riscv.EBADF
    assert syscall(process, NR_CLOSE, write_end) == -errno_riscv.EBADF
    os.fstat(write_end)                                           # still open


# --- read / readv / close -----------------------------------------------------------------------

def test_read_from_a_pipe_into_guest_memory(process, pipe):
    read_end, write_end = pipe
    os.write(write_end, b"input bytes")
    assert syscall(process, NR_READ, read_end, SCRATCH + 3, 100) == 11
    assert process.memory.read(SCRATCH, 16) == b"\0\0\0input bytes\0\0"


def test_read_into_read_only_or_unmapped_memory_is_efault(process, pipe):
    read_end, write_end = pipe
    os.write(write_end, b"data")
    assert syscall(process, NR_READ, read_end, READ_ONLY, 4) == -errno_riscv.EFAULT
    assert syscall(process, NR_READ, read_end, UNMAPPED, 4) == -errno_riscv.EFAULT
    assert process.memory.read(READ_ONLY, 4) == bytes(4)
    assert os.read(read_end, 4) == b"data"                         # not consumed


def test_read_of_zero_bytes_checks_only_the_fd(process, pipe):
    read_end, write_end = pipe
    assert syscall(process, NR_READ, read_end, UNMAPPED, 0) == 0
    assert syscall(process, NR_READ, write_end, SCRATCH, 0) == -errno_riscv.EBADF
    assert syscall(process, NR_READV, read_end, SCRATCH, 0) == 0


def test_readv_scatters(process, pipe):
    read_end, write_end = pipe
    os.write(write_end, b"abcdefgh")
    put_iovec(process, SCRATCH, [(SCRATCH + 0x100, 3), (SCRATCH + 0x200, 10)])
    assert syscall(process, NR_READV, read_end, SCRATCH, 2) == 8
    assert process.memory.read(SCRATCH + 0x100, 3) == b"abc"
    assert process.memory.read(SCRATCH + 0x200, 6) == b"defgh\0"


def test_close(process, pipe):
    read_end, _write_end = pipe
    assert syscall(process, NR_CLOSE, read_end) == 0
    with pytest.raises(OSError):
        os.fstat(read_end)
    assert syscall(process, NR_CLOSE, read_end) == -errno_riscv.EBADF


# --- exit ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("number", [NR_EXIT, NR_EXIT_GROUP])
def test_exit_sets_the_status_and_raises_process_exit(process, number):
    assert process.exit_status is None
    with pytest.raises(ProcessExit) as info:
        syscall(process, number, 0x12345 + 256)      # only the low 8 bits count
    assert info.value.status == 0x45
    assert process.exit_status == 0x45


def test_exit_status_zero(process):
    with pytest.raises(ProcessExit) as info:
        syscall(process, NR_EXIT_GROUP, 0)
    assert info.value.status == 0 and process.exit_status == 0


# --- brk ----------------------------------------------------------------------------------------

def test_brk_query_grow_and_shrink(process):
    start = process.brk_start
    assert syscall(process, NR_BRK, 0) == start
    assert syscall(process, NR_BRK, start - 1) == start                 # below the heap
    grown = start + 3 * PAGE_SIZE + 10
    assert syscall(process, NR_BRK, grown) == grown
    assert syscall(process, NR_BRK, 0) == grown
    memory = process.memory
    assert memory.read(start, 3 * PAGE_SIZE + 10) == bytes(3 * PAGE_SIZE + 10)
    memory.write(grown - 1, b"x")
    assert memory.protection(start + 3 * PAGE_SIZE) == PROT_READ | PROT_WRITE
    assert memory.protection(start + 4 * PAGE_SIZE) is None
    assert syscall(process, NR_BRK, start + 10) == start + 10
    assert memory.protection(start) == PROT_READ | PROT_WRITE
    assert memory.protection(start + PAGE_SIZE) is None                 # released
    assert syscall(process, NR_BRK, grown) == grown
    assert memory.read(grown - 1, 1) == b"\0"                           # fresh pages again


def test_brk_does_not_run_into_other_mappings(process):
    start = process.brk_start
    process.memory.map(start + 2 * PAGE_SIZE, PAGE_SIZE, PROT_NONE)
    assert syscall(process, NR_BRK, start + 3 * PAGE_SIZE) == start
    assert process.memory.protection(start) is None
    assert syscall(process, NR_BRK, start + 2 * PAGE_SIZE) == start + 2 * PAGE_SIZE
    assert syscall(process, NR_BRK, 1 << 38) == start + 2 * PAGE_SIZE
    assert syscall(process, NR_BRK, (1 << 64) - 1) == start + 2 * PAGE_SIZE


# --- ids and uname ------------------------------------------------------------------------------

def test_set_tid_address_and_ids(process):
    assert syscall(process, NR_SET_TID_ADDRESS, SCRATCH + 8) == os.getpid()
    assert process.clear_child_tid == SCRATCH + 8
    assert syscall(process, NR_GETPID) == os.getpid()
    assert syscall(process, NR_GETTID) == os.getpid()
    assert syscall(process, NR_GETPPID) == os.getppid()
    assert syscall(process, NR_GETUID) == os.getuid()
    assert syscall(process, NR_GETEUID) == os.geteuid()
    assert syscall(process, NR_GETGID) == os.getgid()
    assert syscall(process, NR_GETEGID) == os.getegid()


def test_uname(process):
    assert syscall(process, NR_UNAME, SCRATCH) == 0
    raw = process.memory.read(SCRATCH, 6 * 65)
    fields = [raw[index * 65:(index + 1) * 65].split(b"\0")[0].decode() for index in range(6)]
    assert fields[0] == "Linux"
    assert fields[1] == os.uname().nodename
    assert fields[2] == "6.1.0"
    assert fields[4] == "riscv64"
    assert all(raw[index * 65 + 64] == 0 for index in range(6))      # every field terminated
    assert syscall(process, NR_UNAME, READ_ONLY) == -errno_riscv.EFAULT
    assert syscall(process, NR_UNAME, UNMAPPED) == -errno_riscv.EFAULT


# --- guest constants agree with the host's where tcgjit passes them through ---------------------

def test_pass_through_constants_match_the_host():
    # The syscalls hand these values to the host unchanged; this fails if a host ever differs.
    import fcntl
    import mmap
    import signal
    import termios
    import time

    from guest.syscalls import guest_abi as abi
    for name in ("O_CREAT", "O_EXCL", "O_NOCTTY", "O_TRUNC", "O_APPEND", "O_NONBLOCK",
                 "O_DSYNC", "O_DIRECT", "O_DIRECTORY", "O_NOFOLLOW", "O_NOATIME", "O_CLOEXEC",
                 "O_SYNC", "O_PATH", "O_TMPFILE", "O_RDONLY", "O_WRONLY", "O_RDWR"):
        assert getattr(abi, name) == getattr(os, name), name
    for name in ("F_DUPFD", "F_GETFD", "F_SETFD", "F_GETFL", "F_SETFL", "F_GETLK", "F_SETLK",
                 "F_SETLKW", "F_SETOWN", "F_GETOWN", "F_DUPFD_CLOEXEC", "F_SETPIPE_SZ",
                 "F_GETPIPE_SZ", "F_ADD_SEALS", "F_GET_SEALS", "F_OFD_GETLK", "F_OFD_SETLK",
                 "F_OFD_SETLKW", "FD_CLOEXEC"):
        assert getattr(abi, name) == getattr(fcntl, name), name
    for name in ("MAP_SHARED", "MAP_PRIVATE", "MAP_ANONYMOUS", "MAP_POPULATE", "MAP_STACK",
                 "MAP_DENYWRITE", "MAP_EXECUTABLE", "PROT_READ", "PROT_WRITE",
                 "PROT_EXEC"):
        assert getattr(abi, name) == getattr(mmap, name), name
    for name in ("TCGETS", "TCSETS", "TCSETSW", "TCSETSF", "TIOCGWINSZ", "TIOCSWINSZ",
                 "TIOCGPGRP", "TIOCSPGRP", "FIONREAD", "FIONBIO", "FIOCLEX", "FIONCLEX",
                 "TCSBRK", "TCXONC", "TCFLSH"):
        assert getattr(abi, name) == getattr(termios, name), name
    for name in ("CLOCK_REALTIME", "CLOCK_MONOTONIC", "CLOCK_PROCESS_CPUTIME_ID",
                 "CLOCK_THREAD_CPUTIME_ID", "CLOCK_MONOTONIC_RAW", "CLOCK_BOOTTIME",
                 "CLOCK_TAI"):
        assert getattr(abi, name) == getattr(time, name), name
    for number, name in abi.SIGNAL_NAMES.items():
        assert getattr(signal, name) == number, name
    assert (abi.SEEK_SET, abi.SEEK_CUR, abi.SEEK_END, abi.SEEK_DATA, abi.SEEK_HOLE) == \
        (os.SEEK_SET, os.SEEK_CUR, os.SEEK_END, os.SEEK_DATA, os.SEEK_HOLE)
    assert (abi.R_OK, abi.W_OK, abi.X_OK, abi.F_OK) == (os.R_OK, os.W_OK, os.X_OK, os.F_OK)
    assert (abi.GRND_NONBLOCK, abi.GRND_RANDOM) == (os.GRND_NONBLOCK, os.GRND_RANDOM)


def test_struct_sizes_are_riscv64_linux():
    from guest.syscalls import guest_abi as abi
    assert abi.STAT.size == 128          # asm-generic struct stat (x86-64's is 144)
    assert abi.SYSINFO.size == 112
    assert abi.SIGACTION.size == 24      # no sa_restorer on RISC-V
    assert abi.STACK_T.size == 24
    assert abi.TERMIOS.size == 36
    assert abi.WINSIZE.size == 8
    assert abi.RUSAGE.size == 144
    assert abi.FLOCK.size == 32
    assert abi.TIMESPEC.size == abi.TIMEVAL.size == abi.RLIMIT.size == 16


# --- every handler copes with bad guest memory ---------------------------------------------------

# Left out: they end the process or change the state of the test process itself.
_NOT_FUZZED = {"exit", "exit_group", "setsid", "setpgid", "umask", "chdir", "fchdir"}


@pytest.mark.parametrize("pointer", [UNMAPPED, READ_ONLY, 1 << 40, U64])
def test_every_syscall_survives_bad_pointers(process, pointer):
    # Every argument is the same bad value: pointers fault, fds are invalid, sizes are huge.
    # No Python exception may escape: the guest gets an errno (or a harmless success).
    for spec in SYSCALLS:
        if spec.name in _NOT_FUZZED:
            continue
        result = do_syscall(process, spec.number, [pointer] * 6)
        assert isinstance(result, int), spec.name
        assert result >= -4095, spec.name


# --- openat, close, lseek, pread64, pwrite64 -----------------------------------------------------

AT_FDCWD = -100


def test_openat_read_write_and_close(process, tmp_path):
    path = tmp_path / "file.txt"
    path.write_bytes(b"contents of the file")
    put_string(process, SCRATCH, str(path))
    fd = call(process, "openat", AT_FDCWD, SCRATCH, os.O_RDONLY)
    assert fd >= 0
    try:
        assert call(process, "read", fd, SCRATCH + 0x800, 100) == 20
        assert process.memory.read(SCRATCH + 0x800, 20) == b"contents of the file"
        assert call(process, "write", fd, SCRATCH, 1) == -errno_riscv.EBADF   # read-only fd
    finally:
        assert call(process, "close", fd) == 0


def test_openat_does_not_add_close_on_exec(process, tmp_path):
    # Python's os.open would set FD_CLOEXEC; the guest must see only what it asked for.
    import fcntl
    put_string(process, SCRATCH, str(tmp_path))
    plain = call(process, "openat", AT_FDCWD, SCRATCH, os.O_RDONLY | os.O_DIRECTORY)
    cloexec = call(process, "openat", AT_FDCWD, SCRATCH, os.O_RDONLY | os.O_CLOEXEC)
    try:
        assert fcntl.fcntl(plain, fcntl.F_GETFD) == 0
        assert fcntl.fcntl(cloexec, fcntl.F_GETFD) == fcntl.FD_CLOEXEC
        assert call(process, "fcntl", plain, fcntl.F_GETFD) == 0
        assert call(process, "fcntl", cloexec, fcntl.F_GETFD) == fcntl.FD_CLOEXEC
    finally:
        os.close(plain)
        os.close(cloexec)


def test_openat_creates_with_mode_and_umask(process, tmp_path):
    put_string(process, SCRATCH, str(tmp_path / "new"))
    old_umask = os.umask(0o022)
    try:
        fd = call(process, "openat", AT_FDCWD, SCRATCH, os.O_WRONLY | os.O_CREAT | os.O_EXCL,
                  0o666)
        assert fd >= 0
        os.close(fd)
        assert (tmp_path / "new").stat().st_mode & 0o777 == 0o644
        assert call(process, "openat", AT_FDCWD, SCRATCH, os.O_WRONLY | os.O_CREAT | os.O_EXCL,
                    0o666) == -errno_riscv.EEXIST
    finally:
        os.umask(old_umask)


def test_openat_relative_to_a_directory_fd(process, tmp_path):
    (tmp_path / "inside").write_text("x")
    directory = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        put_string(process, SCRATCH, "inside")
        fd = call(process, "openat", directory, SCRATCH, os.O_RDONLY)
        assert fd >= 0
        os.close(fd)
        assert call(process, "openat", 12345, SCRATCH, os.O_RDONLY) == -errno_riscv.EBADF
        process.reserved_host_fds.add(directory)
        assert call(process, "openat", directory, SCRATCH, os.O_RDONLY) == -errno_riscv.EBADF
        # An absolute path ignores the dirfd, as in Linux.
        put_string(process, SCRATCH, str(tmp_path / "inside"))
        fd = call(process, "openat", 12345, SCRATCH, os.O_RDONLY)
        assert fd >= 0
        os.close(fd)
    finally:
        os.close(directory)


def test_openat_errors(process):
    put_string(process, SCRATCH, "/nonexistent/tcgjit/file")
    assert call(process, "openat", AT_FDCWD, SCRATCH, os.O_RDONLY) == -errno_riscv.ENOENT
    assert call(process, "openat", AT_FDCWD, UNMAPPED, os.O_RDONLY) == -errno_riscv.EFAULT
    process.memory.write(SCRATCH, b"a" * 5000)
    assert call(process, "openat", AT_FDCWD, SCRATCH, os.O_RDONLY) == -errno_riscv.ENAMETOOLONG


def test_lseek_pread_pwrite(process, tmp_path):
    path = tmp_path / "data"
    path.write_bytes(b"0123456789")
    fd = os.open(path, os.O_RDWR)
    try:
        assert call(process, "lseek", fd, 3, os.SEEK_SET) == 3
        assert call(process, "lseek", fd, -1, os.SEEK_END) == 9
        assert call(process, "lseek", fd, -2, os.SEEK_CUR) == 7
        assert call(process, "lseek", fd, -100, os.SEEK_SET) == -errno_riscv.EINVAL
        assert call(process, "lseek", fd, 0, 7) == -errno_riscv.EINVAL
        assert call(process, "pread64", fd, SCRATCH, 4, 2) == 4
        assert process.memory.read(SCRATCH, 4) == b"2345"
        process.memory.write(SCRATCH, b"AB")
        assert call(process, "pwrite64", fd, SCRATCH, 2, 8) == 2
        assert call(process, "lseek", fd, 0, os.SEEK_CUR) == 7       # position unchanged
        assert path.read_bytes() == b"01234567AB"
        assert call(process, "pread64", fd, SCRATCH, 4, -1) == -errno_riscv.EINVAL
        assert call(process, "pread64", fd, UNMAPPED, 4, 0) == -errno_riscv.EFAULT
        assert call(process, "pread64", fd, SCRATCH, 4, 100) == 0      # past the end
    finally:
        os.close(fd)


def test_seeking_a_pipe_is_espipe(process, pipe):
    read_end, _write_end = pipe
    assert call(process, "lseek", read_end, 0, os.SEEK_SET) == -errno_riscv.ESPIPE
    assert call(process, "pread64", read_end, SCRATCH, 1, 0) == -errno_riscv.ESPIPE


# --- the stat family ----------------------------------------------------------------------------

def unpack_guest_stat(raw: bytes) -> dict:
    """struct stat as RISC-V 64 Linux lays it out, read with explicit offsets."""
    assert len(raw) == 128
    def u32(offset):
        return int.from_bytes(raw[offset:offset + 4], "little")
    def u64(offset):
        return int.from_bytes(raw[offset:offset + 8], "little")
    def i64(offset):
        return int.from_bytes(raw[offset:offset + 8], "little", signed=True)
    return dict(dev=u64(0), ino=u64(8), mode=u32(16), nlink=u32(20), uid=u32(24), gid=u32(28),
                rdev=u64(32), size=i64(48), blksize=u32(56), blocks=i64(64),
                atime=(i64(72), u64(80)), mtime=(i64(88), u64(96)), ctime=(i64(104), u64(112)))


def expected_stat(info: os.stat_result) -> dict:
    return dict(dev=info.st_dev, ino=info.st_ino, mode=info.st_mode, nlink=info.st_nlink,
                uid=info.st_uid, gid=info.st_gid, rdev=info.st_rdev, size=info.st_size,
                blksize=info.st_blksize, blocks=info.st_blocks,
                atime=divmod(info.st_atime_ns, 10**9), mtime=divmod(info.st_mtime_ns, 10**9),
                ctime=divmod(info.st_ctime_ns, 10**9))


def test_fstat_fills_the_riscv_struct_stat(process, tmp_path):
    path = tmp_path / "sized"
    path.write_bytes(b"x" * 12345)
    os.utime(path, ns=(1_600_000_000_123_456_789, 1_700_000_000_987_654_321))
    process.memory.write(SCRATCH, b"\xaa" * 256)
    fd = os.open(path, os.O_RDONLY)
    try:
        assert call(process, "fstat", fd, SCRATCH) == 0
        assert call(process, "fstat", fd, READ_ONLY) == -errno_riscv.EFAULT
    finally:
        os.close(fd)
    fields = unpack_guest_stat(process.memory.read(SCRATCH, 128))
    assert fields == expected_stat(os.stat(path))
    assert fields["mtime"] == (1_700_000_000, 987_654_321)
    assert process.memory.read(SCRATCH + 128, 1) == b"\xaa"        # nothing written past it
    assert call(process, "fstat", 999, SCRATCH) == -errno_riscv.EBADF


def test_newfstatat_paths_symlinks_and_empty_path(process, tmp_path):
    target = tmp_path / "target"
    target.write_bytes(b"abc")
    link = tmp_path / "link"
    link.symlink_to(target)
    put_string(process, SCRATCH, str(link))
    assert call(process, "newfstatat", AT_FDCWD, SCRATCH, SCRATCH + 0x1000, 0) == 0
    assert unpack_guest_stat(process.memory.read(SCRATCH + 0x1000, 128)) == \
        expected_stat(os.stat(target))
    assert call(process, "newfstatat", AT_FDCWD, SCRATCH, SCRATCH + 0x1000, 0x100) == 0
    assert unpack_guest_stat(process.memory.read(SCRATCH + 0x1000, 128)) == \
        expected_stat(os.lstat(link))
    fd = os.open(target, os.O_RDONLY)
    try:
        put_string(process, SCRATCH, "")
        assert call(process, "newfstatat", fd, SCRATCH, SCRATCH + 0x1000, 0) == \
            -errno_riscv.ENOENT
        assert call(process, "newfstatat", fd, SCRATCH, SCRATCH + 0x1000, 0x1000) == 0
        assert unpack_guest_stat(process.memory.read(SCRATCH + 0x1000, 128))["size"] == 3
    finally:
        os.close(fd)
    assert call(process, "newfstatat", AT_FDCWD, SCRATCH, SCRATCH + 0x1000, 0x1) == \
        -errno_riscv.EINVAL
    put_string(process, SCRATCH, str(tmp_path / "missing"))
    assert call(process, "newfstatat", AT_FDCWD, SCRATCH, SCRATCH + 0x1000, 0) == \
        -errno_riscv.ENOENT


def test_statx(process, tmp_path):
    path = tmp_path / "file"
    path.write_bytes(b"y" * 777)
    put_string(process, SCRATCH, str(path))
    statx_basic_stats = 0x7FF
    assert call(process, "statx", AT_FDCWD, SCRATCH, 0, statx_basic_stats, SCRATCH + 0x1000) == 0
    raw = process.memory.read(SCRATCH + 0x1000, 256)
    info = os.stat(path)
    assert int.from_bytes(raw[0:4], "little") & statx_basic_stats == statx_basic_stats
    assert int.from_bytes(raw[28:30], "little") == info.st_mode              # stx_mode
    assert int.from_bytes(raw[32:40], "little") == info.st_ino               # stx_ino
    assert int.from_bytes(raw[40:48], "little") == 777                       # stx_size
    assert int.from_bytes(raw[112:120], "little", signed=True) == int(info.st_mtime)
    assert call(process, "statx", AT_FDCWD, SCRATCH, 0, statx_basic_stats, READ_ONLY) == \
        -errno_riscv.EFAULT
    assert call(process, "statx", AT_FDCWD, SCRATCH, 0x80000000, 0, SCRATCH + 0x1000) == \
        -errno_riscv.EINVAL


def test_faccessat_and_faccessat2(process, tmp_path):
    path = tmp_path / "present"
    path.write_text("")
    dangling = tmp_path / "dangling"
    dangling.symlink_to(tmp_path / "nowhere")
    put_string(process, SCRATCH, str(path))
    assert call(process, "faccessat", AT_FDCWD, SCRATCH, os.F_OK) == 0
    assert call(process, "faccessat", AT_FDCWD, SCRATCH, os.R_OK | os.W_OK) == 0
    assert call(process, "faccessat", AT_FDCWD, SCRATCH, 8) == -errno_riscv.EINVAL
    assert call(process, "faccessat2", AT_FDCWD, SCRATCH, os.R_OK, 0x200) == 0   # AT_EACCESS
    assert call(process, "faccessat2", AT_FDCWD, SCRATCH, os.R_OK, 0x2) == -errno_riscv.EINVAL
    put_string(process, SCRATCH, str(dangling))
    assert call(process, "faccessat", AT_FDCWD, SCRATCH, os.F_OK) == -errno_riscv.ENOENT
    assert call(process, "faccessat2", AT_FDCWD, SCRATCH, os.F_OK, 0x100) == 0   # NOFOLLOW


def test_readlinkat(process, tmp_path):
    link = tmp_path / "link"
    link.symlink_to("some/target/path")
    put_string(process, SCRATCH, str(link))
    process.memory.write(SCRATCH + 0x1000, b"\xff" * 32)
    assert call(process, "readlinkat", AT_FDCWD, SCRATCH, SCRATCH + 0x1000, 100) == 16
    assert process.memory.read(SCRATCH + 0x1000, 17) == b"some/target/path\xff"   # no NUL
    assert call(process, "readlinkat", AT_FDCWD, SCRATCH, SCRATCH + 0x1000, 4) == 4
    assert call(process, "readlinkat", AT_FDCWD, SCRATCH, SCRATCH + 0x1000, 0) == \
        -errno_riscv.EINVAL
    put_string(process, SCRATCH, str(tmp_path))
    assert call(process, "readlinkat", AT_FDCWD, SCRATCH, SCRATCH + 0x1000, 100) == \
        -errno_riscv.EINVAL                                     # not a symbolic link


def test_proc_self_exe_is_the_guest_program(process):
    expected = os.fsencode(os.path.realpath(HELLO_STATIC))
    for path in ("/proc/self/exe", f"/proc/{os.getpid()}/exe"):
        put_string(process, SCRATCH, path)
        length = call(process, "readlinkat", AT_FDCWD, SCRATCH, SCRATCH + 0x1000, 4096)
        assert process.memory.read(SCRATCH + 0x1000, length) == expected
        fd = call(process, "openat", AT_FDCWD, SCRATCH, os.O_RDONLY)
        try:
            assert os.read(fd, 4) == b"\x7fELF"
        finally:
            os.close(fd)
        assert call(process, "newfstatat", AT_FDCWD, SCRATCH, SCRATCH + 0x1000, 0) == 0
        assert unpack_guest_stat(process.memory.read(SCRATCH + 0x1000, 128))["size"] == \
            HELLO_STATIC.stat().st_size


def test_proc_self_files_describe_the_guest(process):
    def read_proc(name):
        put_string(process, SCRATCH, f"/proc/self/{name}")
        fd = call(process, "openat", AT_FDCWD, SCRATCH, os.O_RDONLY)
        assert fd >= 0
        try:
            chunks = []
            while chunk := os.read(fd, 65536):
                chunks.append(chunk)
            return b"".join(chunks)
        finally:
            os.close(fd)
    assert read_proc("cmdline") == b"hello_static\0"
    auxv = read_proc("auxv")
    pairs = [(int.from_bytes(auxv[i:i + 8], "little"), int.from_bytes(auxv[i + 8:i + 16],
                                                                      "little"))
             for i in range(0, len(auxv), 16)]
    assert pairs == process.auxv
    maps = read_proc("maps").decode().splitlines()
    assert any(line.startswith("00010000-") and line.endswith("hello_static") for line in maps)
    assert any(line.endswith("[stack]") and " rw-p " in line for line in maps)
    assert len(maps) == len(process.memory.mapped_ranges())


def test_getdents64_lists_a_directory(process, tmp_path):
    (tmp_path / "a_file").write_text("x")
    (tmp_path / "a_dir").mkdir()
    fd = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        length = call(process, "getdents64", fd, SCRATCH, 4096)
        assert length > 0
        raw = process.memory.read(SCRATCH, length)
        entries = {}
        offset = 0
        while offset < length:
            inode = int.from_bytes(raw[offset:offset + 8], "little")
            record_length = int.from_bytes(raw[offset + 16:offset + 18], "little")
            kind = raw[offset + 18]
            name = raw[offset + 19:offset + record_length].split(b"\0")[0]
            entries[name] = (inode, kind)
            offset += record_length
        assert set(entries) == {b".", b"..", b"a_file", b"a_dir"}
        assert entries[b"a_file"] == ((tmp_path / "a_file").stat().st_ino, 8)    # DT_REG
        assert entries[b"a_dir"][1] == 4                                           # DT_DIR
        assert call(process, "getdents64", fd, SCRATCH, 4096) == 0                 # the end
        assert call(process, "lseek", fd, 0, os.SEEK_SET) == 0
        assert call(process, "getdents64", fd, SCRATCH, 8) == -errno_riscv.EINVAL  # too small
        assert call(process, "getdents64", fd, READ_ONLY, 4096) == -errno_riscv.EFAULT
    finally:
        os.close(fd)


def test_getcwd_and_chdir(process, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cwd = os.fsencode(os.getcwd())
    assert call(process, "getcwd", SCRATCH, 4096) == len(cwd) + 1
    assert process.memory.read(SCRATCH, len(cwd) + 1) == cwd + b"\0"
    assert call(process, "getcwd", SCRATCH, len(cwd)) == -errno_riscv.ERANGE
    (tmp_path / "sub").mkdir()
    put_string(process, SCRATCH, "sub")
    assert call(process, "chdir", SCRATCH) == 0
    assert os.getcwd() == str(tmp_path / "sub")
    put_string(process, SCRATCH, "missing")
    assert call(process, "chdir", SCRATCH) == -errno_riscv.ENOENT


def test_mkdirat_unlinkat_renameat2(process, tmp_path):
    directory = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        put_string(process, SCRATCH, "made")
        assert call(process, "mkdirat", directory, SCRATCH, 0o755) == 0
        assert (tmp_path / "made").is_dir()
        assert call(process, "mkdirat", directory, SCRATCH, 0o755) == -errno_riscv.EEXIST
        assert call(process, "unlinkat", directory, SCRATCH, 0) == -errno_riscv.EISDIR
        assert call(process, "unlinkat", directory, SCRATCH, 0x200) == 0         # AT_REMOVEDIR
        assert not (tmp_path / "made").exists()
        (tmp_path / "old").write_text("1")
        (tmp_path / "other").write_text("2")
        put_string(process, SCRATCH, "old")
        put_string(process, SCRATCH + 0x100, "other")
        assert call(process, "renameat2", directory, SCRATCH, directory, SCRATCH + 0x100, 1) == \
            -errno_riscv.EEXIST                                                 # NOREPLACE
        assert call(process, "renameat2", directory, SCRATCH, directory, SCRATCH + 0x100, 0) == 0
        assert (tmp_path / "other").read_text() == "1"
        put_string(process, SCRATCH, "other")
        assert call(process, "unlinkat", directory, SCRATCH, 0) == 0
        assert not (tmp_path / "other").exists()
        assert call(process, "unlinkat", directory, SCRATCH, 0x100) == -errno_riscv.EINVAL
    finally:
        os.close(directory)


def test_umask(process):
    old = os.umask(0o022)
    try:
        assert call(process, "umask", 0o077) == 0o022
        assert call(process, "umask", 0o1777) == 0o077         # only the permission bits
        assert os.umask(0o022) == 0o777
    finally:
        os.umask(old)


# --- fcntl, dup, dup3, pipe2, ioctl --------------------------------------------------------------

def test_fcntl_flags_and_dup(process, pipe):
    import fcntl
    read_end, write_end = pipe
    assert call(process, "fcntl", read_end, fcntl.F_SETFD, fcntl.FD_CLOEXEC) == 0
    assert call(process, "fcntl", read_end, fcntl.F_GETFD) == fcntl.FD_CLOEXEC
    assert call(process, "fcntl", read_end, fcntl.F_SETFL, os.O_NONBLOCK) == 0
    assert call(process, "fcntl", read_end, fcntl.F_GETFL) & os.O_NONBLOCK
    assert call(process, "read", read_end, SCRATCH, 10) == -errno_riscv.EAGAIN
    high = call(process, "fcntl", write_end, fcntl.F_DUPFD, 100)
    assert high >= 100
    assert fcntl.fcntl(high, fcntl.F_GETFD) == 0
    os.close(high)
    high = call(process, "fcntl", write_end, fcntl.F_DUPFD_CLOEXEC, 100)
    assert fcntl.fcntl(high, fcntl.F_GETFD) == fcntl.FD_CLOEXEC
    os.close(high)
    assert call(process, "fcntl", write_end, 9999) == -errno_riscv.EINVAL
    assert call(process, "fcntl", 999, fcntl.F_GETFD) == -errno_riscv.EBADF
    duplicate = call(process, "dup", write_end)
    assert duplicate >= 0 and fcntl.fcntl(duplicate, fcntl.F_GETFD) == 0
    os.close(duplicate)


def test_fcntl_record_locks_use_the_guest_struct_flock(process, tmp_path):
    import fcntl
    import struct
    path = tmp_path / "locked"
    path.write_bytes(b"x" * 100)
    fd = os.open(path, os.O_RDWR)
    try:
        # struct flock: short type, short whence, 4 bytes padding, off_t start, off_t len, pid
        lock = struct.pack("<hh4xqqi4x", fcntl.F_WRLCK, os.SEEK_SET, 10, 20, 0)
        process.memory.write(SCRATCH, lock)
        assert call(process, "fcntl", fd, fcntl.F_SETLK, SCRATCH) == 0
        # Our own lock never conflicts with us: F_GETLK reports the range unlocked.
        process.memory.write(SCRATCH, lock)
        assert call(process, "fcntl", fd, fcntl.F_GETLK, SCRATCH) == 0
        lock_type, whence, start, length, _pid = struct.unpack(
            "<hh4xqqi4x", process.memory.read(SCRATCH, 32))
        assert lock_type == fcntl.F_UNLCK and (start, length) == (10, 20)
        assert call(process, "fcntl", fd, fcntl.F_GETLK, UNMAPPED) == -errno_riscv.EFAULT
    finally:
        os.close(fd)


def test_dup3(process, pipe):
    import fcntl
    read_end, write_end = pipe
    target = os.open(os.devnull, os.O_RDONLY)
    try:
        assert call(process, "dup3", write_end, target, os.O_CLOEXEC) == target
        assert fcntl.fcntl(target, fcntl.F_GETFD) == fcntl.FD_CLOEXEC
        process.memory.write(SCRATCH, b"via dup3")
        assert call(process, "write", target, SCRATCH, 8) == 8
        assert os.read(read_end, 100) == b"via dup3"
        assert call(process, "dup3", write_end, target, 0) == target
        assert fcntl.fcntl(target, fcntl.F_GETFD) == 0
        assert call(process, "dup3", write_end, write_end, 0) == -errno_riscv.EINVAL
        assert call(process, "dup3", write_end, target, os.O_NONBLOCK) == -errno_riscv.EINVAL
        process.reserved_host_fds.add(target)
        assert call(process, "dup3", write_end, target, 0) == -errno_riscv.EBADF
    finally:
        os.close(target)


def test_pipe2(process):
    import fcntl
    assert call(process, "pipe2", SCRATCH, os.O_CLOEXEC) == 0
    read_end = int.from_bytes(process.memory.read(SCRATCH, 4), "little", signed=True)
    write_end = int.from_bytes(process.memory.read(SCRATCH + 4, 4), "little", signed=True)
    try:
        assert fcntl.fcntl(read_end, fcntl.F_GETFD) == fcntl.FD_CLOEXEC
        os.write(write_end, b"through the pipe")
        assert os.read(read_end, 100) == b"through the pipe"
    finally:
        os.close(read_end)
        os.close(write_end)
    assert call(process, "pipe2", READ_ONLY, 0) == -errno_riscv.EFAULT
    assert call(process, "pipe2", SCRATCH, os.O_APPEND) == -errno_riscv.EINVAL


@pytest.fixture
def pty():
    controller, terminal = os.openpty()
    yield controller, terminal
    os.close(controller)
    os.close(terminal)


def test_ioctl_terminal_attributes_and_window_size(process, pty):
    import fcntl
    import struct
    import termios
    _controller, terminal = pty
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("<HHHH", 42, 132, 0, 0))
    assert call(process, "ioctl", terminal, termios.TIOCGWINSZ, SCRATCH) == 0
    assert struct.unpack("<HHHH", process.memory.read(SCRATCH, 8)) == (42, 132, 0, 0)
    process.memory.write(SCRATCH, struct.pack("<HHHH", 24, 80, 640, 480))
    assert call(process, "ioctl", terminal, termios.TIOCSWINSZ, SCRATCH) == 0
    assert struct.unpack("<HHHH", fcntl.ioctl(terminal, termios.TIOCGWINSZ, bytes(8))) == \
        (24, 80, 640, 480)
    assert call(process, "ioctl", terminal, termios.TCGETS, SCRATCH) == 0
    iflag, oflag, cflag, lflag, line, cc = struct.unpack("<IIIIB19s",
                                                         process.memory.read(SCRATCH, 36))
    host = termios.tcgetattr(terminal)
    assert [iflag, oflag, cflag, lflag] == host[:4]
    assert cc[termios.VINTR] == host[6][termios.VINTR][0]
    # Turn ECHO off through the guest struct, and see it on the host.
    process.memory.write(SCRATCH + 12, struct.pack("<I", lflag & ~termios.ECHO))
    assert call(process, "ioctl", terminal, termios.TCSETS, SCRATCH) == 0
    assert not termios.tcgetattr(terminal)[3] & termios.ECHO
    assert call(process, "ioctl", terminal, termios.TCGETS, READ_ONLY) == -errno_riscv.EFAULT


def test_ioctl_on_other_files(process, pipe):
    import termios
    read_end, write_end = pipe
    assert call(process, "ioctl", read_end, termios.TCGETS, SCRATCH) == -errno_riscv.ENOTTY
    assert call(process, "ioctl", read_end, termios.TIOCGWINSZ, SCRATCH) == -errno_riscv.ENOTTY
    assert call(process, "ioctl", read_end, 0xDEAD, SCRATCH) == -errno_riscv.ENOTTY
    os.write(write_end, b"12345")
    assert call(process, "ioctl", read_end, termios.FIONREAD, SCRATCH) == 0
    assert process.memory.read_u32(SCRATCH) == 5
    assert call(process, "ioctl", 999, termios.FIONREAD, SCRATCH) == -errno_riscv.EBADF


# --- mmap, munmap, mprotect, mremap, madvise -----------------------------------------------------

PROT_RW = PROT_READ | PROT_WRITE
MAP_PRIVATE_ANONYMOUS = 0x22
MAP_FIXED = 0x10
MAP_FIXED_NOREPLACE = 0x100000


def mmap_anonymous(process, size, prot=PROT_RW, flags=MAP_PRIVATE_ANONYMOUS, addr=0):
    return call(process, "mmap", addr, size, prot, flags, -1, 0)


def test_anonymous_mmap_is_zeroed_page_aligned_and_below_the_stack(process):
    address = mmap_anonymous(process, 10000)
    assert address > 0 and address % PAGE_SIZE == 0
    assert address + 3 * PAGE_SIZE <= process.memory.mmap_top
    assert process.memory.read(address, 3 * PAGE_SIZE) == bytes(3 * PAGE_SIZE)
    assert process.memory.protection(address + 2 * PAGE_SIZE) == PROT_RW
    second = mmap_anonymous(process, PAGE_SIZE)
    assert second == address - PAGE_SIZE                     # top-down, like Linux
    none = mmap_anonymous(process, PAGE_SIZE, prot=PROT_NONE)
    assert process.memory.protection(none) == PROT_NONE


def test_mmap_hints_and_fixed_mappings(process):
    hint = 0x5000_0000
    assert mmap_anonymous(process, PAGE_SIZE, addr=hint) == hint
    assert mmap_anonymous(process, PAGE_SIZE, addr=hint) != hint        # taken: elsewhere
    process.memory.write(hint, b"old")
    assert mmap_anonymous(process, PAGE_SIZE, flags=MAP_PRIVATE_ANONYMOUS | MAP_FIXED,
                          addr=hint) == hint
    assert process.memory.read(hint, 3) == bytes(3)                     # replaced
    assert mmap_anonymous(process, PAGE_SIZE, flags=MAP_PRIVATE_ANONYMOUS | MAP_FIXED_NOREPLACE,
                          addr=hint) == -errno_riscv.EEXIST
    assert mmap_anonymous(process, PAGE_SIZE, flags=MAP_PRIVATE_ANONYMOUS | MAP_FIXED_NOREPLACE,
                          addr=hint + PAGE_SIZE) == hint + PAGE_SIZE
    assert mmap_anonymous(process, PAGE_SIZE, flags=MAP_PRIVATE_ANONYMOUS | MAP_FIXED,
                          addr=hint + 1) == -errno_riscv.EINVAL
    assert mmap_anonymous(process, PAGE_SIZE, flags=MAP_PRIVATE_ANONYMOUS | MAP_FIXED,
                          addr=0x1000) == -errno_riscv.EPERM            # below mmap_min_addr
    assert mmap_anonymous(process, 2 * PAGE_SIZE, flags=MAP_PRIVATE_ANONYMOUS | MAP_FIXED,
                          addr=(1 << 38) - PAGE_SIZE) == -errno_riscv.ENOMEM


def test_mmap_argument_errors(process):
    assert mmap_anonymous(process, 0) == -errno_riscv.EINVAL
    assert mmap_anonymous(process, PAGE_SIZE, flags=0x20) == -errno_riscv.EINVAL  # no type
    assert mmap_anonymous(process, 1 << 40) == -errno_riscv.ENOMEM
    assert call(process, "mmap", 0, PAGE_SIZE, PROT_READ, 0x02, 999, 0) == -errno_riscv.EBADF
    assert call(process, "mmap", 0, PAGE_SIZE, PROT_READ, MAP_PRIVATE_ANONYMOUS, -1, 100) == \
        -errno_riscv.EINVAL
    assert call(process, "mmap", 0, PAGE_SIZE, PROT_READ, 0x03 | 0x8000000, -1, 0) == \
        -errno_riscv.EOPNOTSUPP                     # MAP_SHARED_VALIDATE with an unknown flag


def test_file_mmap_private_and_shared(process, tmp_path, pipe):
    path = tmp_path / "mapped"
    path.write_bytes(b"A" * PAGE_SIZE + b"second page")
    fd = os.open(path, os.O_RDWR)
    try:
        private = call(process, "mmap", 0, 2 * PAGE_SIZE, PROT_RW, 0x02, fd, PAGE_SIZE)
        assert process.memory.read(private, 12) == b"second page\0"
        process.memory.write(private, b"changed")
        assert path.read_bytes().endswith(b"second page")                 # copy-on-write
        shared = call(process, "mmap", 0, PAGE_SIZE, PROT_RW, 0x01, fd, 0)
        process.memory.write(shared, b"shared write")
        assert os.pread(fd, 12, 0) == b"shared write"
        os.pwrite(fd, b"from host", 100)
        assert process.memory.read(shared + 100, 9) == b"from host"
    finally:
        os.close(fd)
    read_only = os.open(path, os.O_RDONLY)
    try:
        assert call(process, "mmap", 0, PAGE_SIZE, PROT_RW, 0x01, read_only, 0) == \
            -errno_riscv.EACCES
    finally:
        os.close(read_only)
    read_end, _write_end = pipe
    assert call(process, "mmap", 0, PAGE_SIZE, PROT_READ, 0x02, read_end, 0) == \
        -errno_riscv.ENODEV


def test_munmap(process, pipe):
    _read_end, write_end = pipe
    address = mmap_anonymous(process, 3 * PAGE_SIZE)
    assert call(process, "munmap", address + PAGE_SIZE, PAGE_SIZE) == 0
    assert process.memory.protection(address + PAGE_SIZE) is None
    assert process.memory.protection(address) == PROT_RW
    assert call(process, "write", write_end, address + PAGE_SIZE, 1) == -errno_riscv.EFAULT
    assert call(process, "munmap", address + PAGE_SIZE, PAGE_SIZE) == 0     # already gone
    assert call(process, "munmap", address + 1, PAGE_SIZE) == -errno_riscv.EINVAL
    assert call(process, "munmap", address, 0) == -errno_riscv.EINVAL
    assert call(process, "munmap", (1 << 38) - PAGE_SIZE, 2 * PAGE_SIZE) == -errno_riscv.EINVAL


def test_mprotect(process, pipe):
    read_end, write_end = pipe
    address = mmap_anonymous(process, 2 * PAGE_SIZE)
    assert call(process, "mprotect", address, 1, PROT_READ) == 0          # length rounds up
    assert process.memory.protection(address) == PROT_READ
    assert process.memory.protection(address + PAGE_SIZE) == PROT_RW
    os.write(write_end, b"data")
    assert call(process, "read", read_end, address, 4) == -errno_riscv.EFAULT
    assert call(process, "mprotect", address, PAGE_SIZE, PROT_RW | PROT_EXEC) == 0
    assert call(process, "read", read_end, address, 4) == 4
    assert call(process, "mprotect", address + 1, PAGE_SIZE, PROT_READ) == -errno_riscv.EINVAL
    assert call(process, "mprotect", address, PAGE_SIZE, 0x10) == -errno_riscv.EINVAL
    assert call(process, "mprotect", address, 3 * PAGE_SIZE, PROT_READ) == -errno_riscv.ENOMEM
    assert process.memory.protection(address) == PROT_RW | PROT_EXEC       # unchanged
    assert call(process, "mprotect", address, 0, PROT_READ) == 0


def test_mremap_shrink_grow_and_move(process):
    memory = process.memory
    address = mmap_anonymous(process, 2 * PAGE_SIZE)
    memory.write(address, b"keep me")
    assert call(process, "mremap", address, 2 * PAGE_SIZE, PAGE_SIZE, 0) == address
    assert memory.protection(address + PAGE_SIZE) is None
    # Room above: grows in place, with zero pages, keeping the contents.
    assert call(process, "mremap", address, PAGE_SIZE, 3 * PAGE_SIZE, 0) == address
    assert memory.read(address, 7) == b"keep me"
    assert memory.read(address + PAGE_SIZE, 2 * PAGE_SIZE) == bytes(2 * PAGE_SIZE)
    # Blocked above: fails without MREMAP_MAYMOVE, moves with it.
    memory.map(address + 3 * PAGE_SIZE, PAGE_SIZE, PROT_READ)
    assert call(process, "mremap", address, 3 * PAGE_SIZE, 4 * PAGE_SIZE, 0) == \
        -errno_riscv.ENOMEM
    moved = call(process, "mremap", address, 3 * PAGE_SIZE, 4 * PAGE_SIZE, 1)
    assert moved != address and moved % PAGE_SIZE == 0
    assert memory.read(moved, 7) == b"keep me"
    assert memory.protection(address) is None
    assert memory.protection(moved + 3 * PAGE_SIZE) == PROT_RW
    # MREMAP_FIXED puts it exactly there.
    target = 0x6000_0000
    assert call(process, "mremap", moved, 4 * PAGE_SIZE, PAGE_SIZE, 3, target) == target
    assert memory.read(target, 7) == b"keep me"
    assert memory.protection(moved) is None


def test_mremap_errors(process):
    address = mmap_anonymous(process, 2 * PAGE_SIZE)
    assert call(process, "mremap", address, PAGE_SIZE, PAGE_SIZE, 8) == -errno_riscv.EINVAL
    assert call(process, "mremap", address, PAGE_SIZE, PAGE_SIZE, 2, 0x6000_0000) == \
        -errno_riscv.EINVAL                                   # FIXED without MAYMOVE
    assert call(process, "mremap", address + 1, PAGE_SIZE, PAGE_SIZE, 0) == -errno_riscv.EINVAL
    assert call(process, "mremap", address, PAGE_SIZE, 0, 0) == -errno_riscv.EINVAL
    assert call(process, "mremap", UNMAPPED, PAGE_SIZE, 2 * PAGE_SIZE, 1) == -errno_riscv.EFAULT
    process.memory.protect(address + PAGE_SIZE, PAGE_SIZE, PROT_READ)
    assert call(process, "mremap", address, 2 * PAGE_SIZE, 3 * PAGE_SIZE, 1) == \
        -errno_riscv.EFAULT                                   # spans two mappings
    assert call(process, "mremap", address, PAGE_SIZE, PAGE_SIZE, 3, address) == \
        -errno_riscv.EINVAL                                   # overlapping FIXED target


def test_mremap_of_a_file_mapping_grows_into_the_file(process, tmp_path):
    path = tmp_path / "file"
    path.write_bytes(b"1" * PAGE_SIZE + b"2" * PAGE_SIZE)
    fd = os.open(path, os.O_RDONLY)
    try:
        address = call(process, "mmap", 0, PAGE_SIZE, PROT_READ, 0x02, fd, 0)
    finally:
        os.close(fd)
    process.memory.map(address + PAGE_SIZE, PAGE_SIZE, PROT_READ)       # force a move
    moved = call(process, "mremap", address, PAGE_SIZE, 2 * PAGE_SIZE, 1)
    assert process.memory.read(moved, 2 * PAGE_SIZE) == path.read_bytes()


def test_madvise_dontneed_zeroes_anonymous_pages_and_restores_file_pages(process, tmp_path):
    memory = process.memory
    address = mmap_anonymous(process, 2 * PAGE_SIZE)
    memory.write(address, b"dirty")
    memory.write(address + PAGE_SIZE, b"also dirty")
    assert call(process, "madvise", address, PAGE_SIZE, 3) == 0             # MADV_WILLNEED
    assert memory.read(address, 5) == b"dirty"
    assert call(process, "madvise", address, 2 * PAGE_SIZE, 4) == 0         # MADV_DONTNEED
    assert memory.read(address, 2 * PAGE_SIZE) == bytes(2 * PAGE_SIZE)
    assert memory.protection(address) == PROT_RW
    path = tmp_path / "file"
    path.write_bytes(b"file bytes")
    fd = os.open(path, os.O_RDONLY)
    try:
        mapped = call(process, "mmap", 0, PAGE_SIZE, PROT_RW, 0x02, fd, 0)
    finally:
        os.close(fd)
    memory.write(mapped, b"FILE")
    assert call(process, "madvise", mapped, PAGE_SIZE, 4) == 0
    assert memory.read(mapped, 10) == b"file bytes"                         # private copy gone
    assert call(process, "madvise", address + 1, PAGE_SIZE, 4) == -errno_riscv.EINVAL
    assert call(process, "madvise", address, PAGE_SIZE, 999) == -errno_riscv.EINVAL
    assert call(process, "madvise", UNMAPPED, PAGE_SIZE, 4) == -errno_riscv.ENOMEM
    assert call(process, "madvise", address, 0, 4) == 0


def test_memory_syscalls_notify_change_listeners(process):
    from guest.memory import MemoryChange
    events = []
    process.memory.add_change_listener(lambda addr, size, kind: events.append((addr, size, kind)))
    address = mmap_anonymous(process, 2 * PAGE_SIZE, prot=PROT_RW | PROT_EXEC)
    assert events == []                                   # a fresh mapping replaces nothing
    call(process, "mprotect", address, PAGE_SIZE, PROT_READ | PROT_EXEC)
    mmap_anonymous(process, PAGE_SIZE, flags=MAP_PRIVATE_ANONYMOUS | MAP_FIXED,
                   addr=address + PAGE_SIZE)
    call(process, "madvise", address, PAGE_SIZE, 4)
    call(process, "munmap", address, 2 * PAGE_SIZE)
    assert events == [(address, PAGE_SIZE, MemoryChange.PROTECT),
                      (address + PAGE_SIZE, PAGE_SIZE, MemoryChange.MAP),
                      (address, PAGE_SIZE, MemoryChange.WRITE),
                      (address, 2 * PAGE_SIZE, MemoryChange.UNMAP)]


def test_reading_into_code_pages_notifies_a_write(process, pipe):
    from guest.memory import MemoryChange
    read_end, write_end = pipe
    events = []
    process.memory.add_change_listener(lambda addr, size, kind: events.append((addr, size, kind)))
    code = mmap_anonymous(process, PAGE_SIZE, prot=PROT_RW | PROT_EXEC)
    os.write(write_end, b"\x13\x00\x00\x00")               # a guest JIT loading code
    assert call(process, "read", read_end, code + 16, 4) == 4
    os.write(write_end, b"data")
    assert call(process, "read", read_end, SCRATCH, 4) == 4   # not code: no event
    assert events == [(code + 16, 4, MemoryChange.WRITE)]


# --- futex ---------------------------------------------------------------------------------------

FUTEX_WAIT, FUTEX_WAKE, FUTEX_PRIVATE = 0, 1, 128


def put_timespec(process, address, seconds, nanoseconds):
    process.memory.write_u64(address, seconds)
    process.memory.write_u64(address + 8, nanoseconds)


def test_futex_wait_with_a_different_value_is_eagain(process):
    process.memory.write_u32(SCRATCH, 5)
    assert call(process, "futex", SCRATCH, FUTEX_WAIT | FUTEX_PRIVATE, 4, 0) == \
        -errno_riscv.EAGAIN


def test_futex_wait_times_out(process):
    import time
    process.memory.write_u32(SCRATCH, 5)
    put_timespec(process, SCRATCH + 64, 0, 30_000_000)
    start = time.monotonic()
    assert call(process, "futex", SCRATCH, FUTEX_WAIT, 5, SCRATCH + 64) == -errno_riscv.ETIMEDOUT
    assert time.monotonic() - start >= 0.025
    put_timespec(process, SCRATCH + 64, 0, 10**9)
    assert call(process, "futex", SCRATCH, FUTEX_WAIT, 5, SCRATCH + 64) == -errno_riscv.EINVAL
    # FUTEX_WAIT_BITSET takes an absolute CLOCK_MONOTONIC time: one in the past is at once.
    put_timespec(process, SCRATCH + 64, 0, 1)
    assert call(process, "futex", SCRATCH, 9, 5, SCRATCH + 64, 0, 0xFFFFFFFF) == \
        -errno_riscv.ETIMEDOUT
    assert call(process, "futex", SCRATCH, 9, 5, SCRATCH + 64, 0, 0) == -errno_riscv.EINVAL


def test_futex_wait_forever_is_a_deadlock(process):
    from guest.process import GuestDeadlock
    process.memory.write_u32(SCRATCH, 7)
    with pytest.raises(GuestDeadlock) as info:
        call(process, "futex", SCRATCH, FUTEX_WAIT | FUTEX_PRIVATE, 7, 0)
    assert info.value.status == 1
    assert f"0x{SCRATCH:x}" in info.value.message
    assert isinstance(info.value, ProcessExit)


def test_futex_wake_requeue_and_errors(process):
    assert call(process, "futex", SCRATCH, FUTEX_WAKE, 1) == 0
    assert call(process, "futex", SCRATCH, 10, 1, 0, 0, 0xFF) == 0          # WAKE_BITSET
    assert call(process, "futex", SCRATCH + 2, FUTEX_WAKE, 1) == -errno_riscv.EINVAL
    assert call(process, "futex", UNMAPPED, FUTEX_WAIT, 0) == -errno_riscv.EFAULT
    process.memory.write_u32(SCRATCH, 3)
    assert call(process, "futex", SCRATCH, 4, 1, 1, SCRATCH + 8, 4) == -errno_riscv.EAGAIN
    assert call(process, "futex", SCRATCH, 4, 1, 1, SCRATCH + 8, 3) == 0
    assert call(process, "futex", SCRATCH, 3, 1, 1, SCRATCH + 8) == 0        # REQUEUE
    assert call(process, "futex", SCRATCH, 99, 0) == -errno_riscv.ENOSYS


def test_futex_wake_op_updates_the_second_word(process):
    process.memory.write_u32(SCRATCH + 4, 10)
    add_five = (1 << 28) | (5 << 12)                     # FUTEX_OP_ADD, oparg 5, CMP_EQ 0
    assert call(process, "futex", SCRATCH, 5, 1, 1, SCRATCH + 4, add_five) == 0
    assert process.memory.read_u32(SCRATCH + 4) == 15
    set_bit_three = ((0 | 8) << 28) | (3 << 12)          # FUTEX_OP_SET with OPARG_SHIFT
    assert call(process, "futex", SCRATCH, 5, 1, 1, SCRATCH + 4, set_bit_three) == 0
    assert process.memory.read_u32(SCRATCH + 4) == 8
    assert call(process, "futex", SCRATCH, 5, 1, 1, READ_ONLY, add_five) == -errno_riscv.EFAULT
    assert call(process, "futex", SCRATCH, 5, 1, 1, SCRATCH + 4, 7 << 28) == -errno_riscv.ENOSYS


def test_futex_priority_inheritance_locks(process):
    tid = process.tid
    process.memory.write_u32(SCRATCH, 0)
    assert call(process, "futex", SCRATCH, 6, 0) == 0                        # LOCK_PI
    assert process.memory.read_u32(SCRATCH) == tid
    assert call(process, "futex", SCRATCH, 6, 0) == -errno_riscv.EDEADLK
    assert call(process, "futex", SCRATCH, 7, 0) == 0                        # UNLOCK_PI
    assert process.memory.read_u32(SCRATCH) == 0
    assert call(process, "futex", SCRATCH, 7, 0) == -errno_riscv.EPERM
    process.memory.write_u32(SCRATCH, 0x12345)                               # another owner
    assert call(process, "futex", SCRATCH, 8, 0) == -errno_riscv.ESRCH      # TRYLOCK_PI


# --- signals -------------------------------------------------------------------------------------

SIGABRT, SIGUSR1, SIGKILL, SIGCHLD = 6, 10, 9, 17
SIG_BLOCK, SIG_UNBLOCK, SIG_SETMASK = 0, 1, 2


def put_sigaction(process, address, handler, flags, mask):
    process.memory.write(address, handler.to_bytes(8, "little") + flags.to_bytes(8, "little")
                         + mask.to_bytes(8, "little"))


def read_sigaction(process, address):
    raw = process.memory.read(address, 24)
    return tuple(int.from_bytes(raw[i:i + 8], "little") for i in (0, 8, 16))


def test_rt_sigaction_records_and_returns_the_old_action(process):
    process.memory.write(SCRATCH + 0x100, b"\xee" * 24)
    assert call(process, "rt_sigaction", SIGUSR1, 0, SCRATCH + 0x100, 8) == 0
    assert read_sigaction(process, SCRATCH + 0x100) == (0, 0, 0)             # SIG_DFL
    kill_and_stop = (1 << 8) | (1 << 18)
    put_sigaction(process, SCRATCH, 0x12340, 0x4000000 | 0x10000000, 0xF0 | kill_and_stop)
    assert call(process, "rt_sigaction", SIGUSR1, SCRATCH, 0, 8) == 0
    put_sigaction(process, SCRATCH, 1, 0, 0)                                 # SIG_IGN
    assert call(process, "rt_sigaction", SIGUSR1, SCRATCH, SCRATCH + 0x100, 8) == 0
    # SIGKILL and SIGSTOP cannot be blocked while a handler runs: dropped from the mask.
    assert read_sigaction(process, SCRATCH + 0x100) == (0x12340, 0x14000000, 0xF0)
    assert process.signal_actions[SIGUSR1].handler == 1


def test_rt_sigaction_errors(process):
    put_sigaction(process, SCRATCH, 0x12340, 0, 0)
    assert call(process, "rt_sigaction", SIGUSR1, SCRATCH, 0, 4) == -errno_riscv.EINVAL
    assert call(process, "rt_sigaction", 0, SCRATCH, 0, 8) == -errno_riscv.EINVAL
    assert call(process, "rt_sigaction", 65, SCRATCH, 0, 8) == -errno_riscv.EINVAL
    assert call(process, "rt_sigaction", SIGKILL, SCRATCH, 0, 8) == -errno_riscv.EINVAL
    assert call(process, "rt_sigaction", SIGKILL, 0, SCRATCH + 0x100, 8) == 0
    assert call(process, "rt_sigaction", SIGUSR1, UNMAPPED, 0, 8) == -errno_riscv.EFAULT
    assert call(process, "rt_sigaction", SIGUSR1, SCRATCH, READ_ONLY, 8) == -errno_riscv.EFAULT
    assert SIGUSR1 not in process.signal_actions


def test_rt_sigprocmask(process):
    def set_mask(how, mask):
        process.memory.write_u64(SCRATCH, mask)
        assert call(process, "rt_sigprocmask", how, SCRATCH, SCRATCH + 8, 8) == 0
        return process.memory.read_u64(SCRATCH + 8)
    assert set_mask(SIG_BLOCK, 0b1010) == 0
    assert set_mask(SIG_BLOCK, 0b0100) == 0b1010
    assert set_mask(SIG_UNBLOCK, 0b0010) == 0b1110
    assert set_mask(SIG_SETMASK, (1 << 8) | (1 << 18) | 1) == 0b1100
    assert process.signal_mask == 1                           # SIGKILL, SIGSTOP unblockable
    assert call(process, "rt_sigprocmask", 7, SCRATCH, 0, 8) == -errno_riscv.EINVAL
    assert call(process, "rt_sigprocmask", 7, 0, SCRATCH + 8, 8) == 0     # how unused
    assert call(process, "rt_sigprocmask", SIG_BLOCK, SCRATCH, 0, 16) == -errno_riscv.EINVAL
    assert call(process, "rt_sigprocmask", SIG_BLOCK, UNMAPPED, 0, 8) == -errno_riscv.EFAULT


def test_sigaltstack(process):
    import struct
    assert call(process, "sigaltstack", 0, SCRATCH + 0x100) == 0
    assert struct.unpack("<Qi4xQ", process.memory.read(SCRATCH + 0x100, 24)) == (0, 2, 0)
    process.memory.write(SCRATCH, struct.pack("<Qi4xQ", 0x7000000, 0, 65536))
    assert call(process, "sigaltstack", SCRATCH, 0) == 0
    assert call(process, "sigaltstack", 0, SCRATCH + 0x100) == 0
    assert struct.unpack("<Qi4xQ", process.memory.read(SCRATCH + 0x100, 24)) == \
        (0x7000000, 0, 65536)
    process.memory.write(SCRATCH, struct.pack("<Qi4xQ", 0x7000000, 0, 1024))
    assert call(process, "sigaltstack", SCRATCH, 0) == -errno_riscv.ENOMEM
    process.memory.write(SCRATCH, struct.pack("<Qi4xQ", 0x7000000, 4, 65536))
    assert call(process, "sigaltstack", SCRATCH, 0) == -errno_riscv.EINVAL
    process.memory.write(SCRATCH, struct.pack("<Qi4xQ", 0, 2, 0))            # SS_DISABLE
    assert call(process, "sigaltstack", SCRATCH, SCRATCH + 0x100) == 0
    assert struct.unpack("<Qi4xQ", process.memory.read(SCRATCH + 0x100, 24)) == \
        (0x7000000, 0, 65536)
    assert process.alt_stack.flags == 2


def test_tgkill_of_self_with_sigabrt_kills_the_guest(process):
    from guest.process import GuestKilled
    with pytest.raises(GuestKilled) as info:
        call(process, "tgkill", process.pid, process.tid, SIGABRT)
    assert info.value.signo == SIGABRT
    assert info.value.status == 134
    assert info.value.message == "uncaught target signal 6 (Aborted)"
    assert isinstance(info.value, ProcessExit)


def test_glibc_abort_sequence(process):
    # glibc's abort(): block all, unblock SIGABRT, raise it (tgkill); a blocked SIGABRT stays
    # pending and kills the process when rt_sigprocmask unblocks it.
    from guest.process import GuestKilled
    process.memory.write_u64(SCRATCH, 1 << (SIGABRT - 1))
    assert call(process, "rt_sigprocmask", SIG_BLOCK, SCRATCH, 0, 8) == 0
    assert call(process, "tgkill", process.pid, process.tid, SIGABRT) == 0
    assert call(process, "rt_sigpending", SCRATCH + 8, 8) == 0
    assert process.memory.read_u64(SCRATCH + 8) == 1 << (SIGABRT - 1)
    with pytest.raises(GuestKilled) as info:
        call(process, "rt_sigprocmask", SIG_UNBLOCK, SCRATCH, 0, 8)
    assert info.value.status == 134
    assert process.pending_signals == 0


def test_signals_that_do_not_kill(process, capsys):
    assert call(process, "kill", process.pid, 0) == 0                     # existence check
    assert call(process, "kill", process.pid, SIGCHLD) == 0               # default: ignored
    put_sigaction(process, SCRATCH, 1, 0, 0)                              # SIG_IGN
    call(process, "rt_sigaction", SIGABRT, SCRATCH, 0, 8)
    assert call(process, "tgkill", process.pid, process.tid, SIGABRT) == 0
    put_sigaction(process, SCRATCH, 0x10000, 0, 0)                        # a guest handler
    call(process, "rt_sigaction", SIGUSR1, SCRATCH, 0, 8)
    assert call(process, "kill", process.pid, SIGUSR1) == 0
    assert call(process, "kill", process.pid, SIGUSR1) == 0
    warnings = capsys.readouterr().err.splitlines()
    assert warnings == ["tcgjit: SIGUSR1 not delivered: running guest signal handlers is not "
                        "supported yet"]


def test_kill_argument_errors(process):
    assert call(process, "kill", process.pid, 65) == -errno_riscv.EINVAL
    assert call(process, "tgkill", process.pid, process.tid + 1, SIGABRT) == -errno_riscv.ESRCH
    assert call(process, "tgkill", 0, process.tid, SIGABRT) == -errno_riscv.EINVAL
    assert call(process, "tkill", process.tid + 1, SIGABRT) == -errno_riscv.ESRCH
    assert call(process, "tkill", -1, SIGABRT) == -errno_riscv.EINVAL


def test_kill_of_another_process_goes_to_the_host(process):
    import subprocess
    import sys
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        assert call(process, "kill", child.pid, 15) == 0                  # SIGTERM
        assert child.wait(timeout=30) == -15
    finally:
        child.kill()
        child.wait()


# --- resources -----------------------------------------------------------------------------------

def test_prlimit64_and_getrlimit_report_the_host_limits(process):
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    assert call(process, "prlimit64", 0, resource.RLIMIT_NOFILE, 0, SCRATCH) == 0
    assert (process.memory.read_u64(SCRATCH), process.memory.read_u64(SCRATCH + 8)) == \
        (soft & U64, hard & U64)
    assert call(process, "getrlimit", resource.RLIMIT_NOFILE, SCRATCH + 16) == 0
    assert process.memory.read(SCRATCH + 16, 16) == process.memory.read(SCRATCH, 16)
    assert call(process, "prlimit64", 0, 16, 0, SCRATCH) == -errno_riscv.EINVAL
    assert call(process, "getrlimit", resource.RLIMIT_NOFILE, READ_ONLY) == -errno_riscv.EFAULT


def test_address_space_limits_stay_with_the_guest(process):
    import resource
    host_before = resource.getrlimit(resource.RLIMIT_STACK)
    process.memory.write_u64(SCRATCH, 1 << 20)
    process.memory.write_u64(SCRATCH + 8, 2 << 20)
    assert call(process, "prlimit64", process.pid, resource.RLIMIT_STACK, SCRATCH,
                SCRATCH + 16) == 0
    assert process.memory.read_u64(SCRATCH + 16) == host_before[0] & U64
    assert resource.getrlimit(resource.RLIMIT_STACK) == host_before            # host untouched
    assert call(process, "getrlimit", resource.RLIMIT_STACK, SCRATCH + 32) == 0
    assert (process.memory.read_u64(SCRATCH + 32), process.memory.read_u64(SCRATCH + 40)) == \
        (1 << 20, 2 << 20)
    process.memory.write_u64(SCRATCH, 3 << 20)                                  # soft > hard
    assert call(process, "setrlimit", resource.RLIMIT_STACK, SCRATCH) == -errno_riscv.EINVAL


def test_getrusage(process):
    import struct
    assert call(process, "getrusage", 0, SCRATCH) == 0
    fields = struct.unpack("<qqqq14q", process.memory.read(SCRATCH, 144))
    assert fields[0] >= 0 and 0 <= fields[1] < 10**6                          # ru_utime
    assert fields[4] > 0                                                       # ru_maxrss
    assert call(process, "getrusage", 5, SCRATCH) == -errno_riscv.EINVAL


def test_robust_list(process, capsys):
    # ENOSYS like qemu-riscv64 (so glibc's start-up path is the same), without a warning.
    assert call(process, "set_robust_list", SCRATCH, 24) == -errno_riscv.ENOSYS
    assert capsys.readouterr().err == ""
    assert call(process, "get_robust_list", 0, SCRATCH + 64, SCRATCH + 72) == 0
    assert process.memory.read_u64(SCRATCH + 64) == 0
    assert call(process, "get_robust_list", 1, SCRATCH + 64, SCRATCH + 72) == -errno_riscv.ESRCH


def test_process_groups_and_sessions(process):
    assert call(process, "getpgid", 0) == os.getpgid(0)
    assert call(process, "getsid", 0) == os.getsid(0)
    assert call(process, "getpgid", 0x7FFFFFF0) == -errno_riscv.ESRCH


# --- time ----------------------------------------------------------------------------------------

def read_timespec(process, address):
    return (int.from_bytes(process.memory.read(address, 8), "little", signed=True),
            process.memory.read_u64(address + 8))


def test_clock_gettime_and_getres(process):
    import time
    before = time.time_ns()
    assert call(process, "clock_gettime", 0, SCRATCH) == 0
    after = time.time_ns()
    seconds, nanoseconds = read_timespec(process, SCRATCH)
    assert before <= seconds * 10**9 + nanoseconds <= after
    assert call(process, "clock_gettime", 1, SCRATCH) == 0
    seconds, nanoseconds = read_timespec(process, SCRATCH)
    assert abs(seconds + nanoseconds / 1e9 - time.monotonic()) < 1
    assert call(process, "clock_gettime", 1000, SCRATCH) == -errno_riscv.EINVAL
    assert call(process, "clock_gettime", 0, READ_ONLY) == -errno_riscv.EFAULT
    assert call(process, "clock_getres", 1, SCRATCH) == 0
    assert read_timespec(process, SCRATCH) == (0, time.clock_getres_ns(time.CLOCK_MONOTONIC)
                                               if hasattr(time, "clock_getres_ns") else 1)
    assert call(process, "clock_getres", 1, 0) == 0
    assert call(process, "clock_getres", 1000, 0) == -errno_riscv.EINVAL


def test_gettimeofday(process):
    import time
    process.memory.write(SCRATCH + 16, b"\xff" * 8)
    assert call(process, "gettimeofday", SCRATCH, SCRATCH + 16) == 0
    seconds, microseconds = read_timespec(process, SCRATCH)
    assert abs(seconds + microseconds / 1e6 - time.time()) < 1
    assert microseconds < 10**6
    assert process.memory.read(SCRATCH + 16, 8) == bytes(8)
    assert call(process, "gettimeofday", 0, 0) == 0
    assert call(process, "gettimeofday", READ_ONLY, 0) == -errno_riscv.EFAULT


def test_nanosleep_and_clock_nanosleep(process):
    import time
    put_timespec(process, SCRATCH, 0, 20_000_000)
    start = time.monotonic()
    assert call(process, "nanosleep", SCRATCH, SCRATCH + 16) == 0
    assert time.monotonic() - start >= 0.018
    put_timespec(process, SCRATCH, 0, 10**9)
    assert call(process, "nanosleep", SCRATCH, 0) == -errno_riscv.EINVAL
    assert call(process, "nanosleep", UNMAPPED, 0) == -errno_riscv.EFAULT
    put_timespec(process, SCRATCH, 1, 0)                    # absolute, long past
    start = time.monotonic()
    assert call(process, "clock_nanosleep", 1, 1, SCRATCH, 0) == 0
    assert time.monotonic() - start < 0.5
    assert call(process, "clock_nanosleep", 3, 0, SCRATCH, 0) == -errno_riscv.EINVAL


# --- system information --------------------------------------------------------------------------

def test_sysinfo_uses_the_riscv64_layout(process):
    import struct
    process.memory.write(SCRATCH, b"\xcc" * 128)
    assert call(process, "sysinfo", SCRATCH) == 0
    raw = process.memory.read(SCRATCH, 112)
    uptime, = struct.unpack_from("<q", raw, 0)
    total_ram, free_ram = struct.unpack_from("<QQ", raw, 32)
    procs, = struct.unpack_from("<H", raw, 80)
    mem_unit, = struct.unpack_from("<I", raw, 104)
    assert uptime > 0 and procs > 0 and mem_unit >= 1
    assert 0 < free_ram <= total_ram
    assert total_ram * mem_unit == os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    assert process.memory.read(SCRATCH + 112, 1) == b"\xcc"
    assert call(process, "sysinfo", READ_ONLY) == -errno_riscv.EFAULT


def test_getrandom(process):
    assert call(process, "getrandom", SCRATCH, 64, 0) == 64
    first = process.memory.read(SCRATCH, 64)
    assert call(process, "getrandom", SCRATCH, 64, 1) == 64               # GRND_NONBLOCK
    assert process.memory.read(SCRATCH, 64) != first
    end = SCRATCH + 4 * PAGE_SIZE
    assert call(process, "getrandom", end - 10, 100, 0) == 10              # short at the end
    assert call(process, "getrandom", UNMAPPED, 10, 0) == -errno_riscv.EFAULT
    assert call(process, "getrandom", SCRATCH, 10, 8) == -errno_riscv.EINVAL
    assert call(process, "getrandom", SCRATCH, 10, 6) == -errno_riscv.EINVAL
    assert call(process, "getrandom", UNMAPPED, 0, 0) == 0


def test_sched_getaffinity_reports_one_cpu(process):
    process.memory.write(SCRATCH, b"\xff" * 128)
    assert call(process, "sched_getaffinity", 0, 128, SCRATCH) == 8
    assert process.memory.read_u64(SCRATCH) == 1
    assert call(process, "sched_getaffinity", 0, 12, SCRATCH) == -errno_riscv.EINVAL
    assert call(process, "sched_getaffinity", 0, 0, SCRATCH) == -errno_riscv.EINVAL
    assert call(process, "sched_getaffinity", 0, 8, READ_ONLY) == -errno_riscv.EFAULT
    assert call(process, "sched_yield") == 0


def test_resuid_resgid_and_groups(process):
    assert call(process, "getresuid", SCRATCH, SCRATCH + 4, SCRATCH + 8) == 0
    assert tuple(process.memory.read_u32(SCRATCH + i) for i in (0, 4, 8)) == os.getresuid()
    assert call(process, "getresgid", SCRATCH, SCRATCH + 4, SCRATCH + 8) == 0
    assert tuple(process.memory.read_u32(SCRATCH + i) for i in (0, 4, 8)) == os.getresgid()
    assert call(process, "getresuid", SCRATCH, READ_ONLY, SCRATCH + 8) == -errno_riscv.EFAULT
    groups = os.getgroups()
    assert call(process, "getgroups", 0, 0) == len(groups)
    assert call(process, "getgroups", 256, SCRATCH) == len(groups)
    assert [process.memory.read_u32(SCRATCH + 4 * i) for i in range(len(groups))] == groups
    assert call(process, "getgroups", -1, SCRATCH) == -errno_riscv.EINVAL


def test_riscv_hwprobe(process):
    keys = [3, 4, 5, 0, 999]
    for index, key in enumerate(keys):
        process.memory.write_u64(SCRATCH + 16 * index, key)
    assert call(process, "riscv_hwprobe", SCRATCH, len(keys), 0, 0, 0) == 0
    pairs = [(process.memory.read_u64(SCRATCH + 16 * i), process.memory.read_u64(SCRATCH + 16 * i
                                                                                + 8))
             for i in range(len(keys))]
    assert pairs == [(3, 1), (4, 0b11), (5, 0), (0, 0), (U64, 0)]   # IMA; FD and C; unknown
    assert call(process, "riscv_hwprobe", SCRATCH, 1, 0, 0, 1) == -errno_riscv.EINVAL


def test_ftruncate_fsync_fdatasync(process, tmp_path):
    path = tmp_path / "file"
    path.write_bytes(b"0123456789")
    fd = os.open(path, os.O_RDWR)
    try:
        assert call(process, "ftruncate", fd, 4) == 0
        assert path.read_bytes() == b"0123"
        assert call(process, "ftruncate", fd, -1) == -errno_riscv.EINVAL
        assert call(process, "fsync", fd) == 0
        assert call(process, "fdatasync", fd) == 0
    finally:
        os.close(fd)
    assert call(process, "ftruncate", 987, 0) == -errno_riscv.EBADF
    assert call(process, "fsync", 987) == -errno_riscv.EBADF


def test_linkat_and_symlinkat(process, tmp_path):
    directory = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        (tmp_path / "target").write_text("data")
        put_string(process, SCRATCH, "target")
        put_string(process, SCRATCH + 0x100, "hard")
        assert call(process, "linkat", directory, SCRATCH, directory, SCRATCH + 0x100, 0) == 0
        assert os.stat(tmp_path / "hard").st_ino == os.stat(tmp_path / "target").st_ino
        assert call(process, "linkat", directory, SCRATCH, directory, SCRATCH + 0x100, 0) == \
            -errno_riscv.EEXIST
        assert call(process, "linkat", directory, SCRATCH, directory, SCRATCH + 0x100, 1) == \
            -errno_riscv.EINVAL
        put_string(process, SCRATCH + 0x200, "soft")
        assert call(process, "symlinkat", SCRATCH, directory, SCRATCH + 0x200) == 0
        assert os.readlink(tmp_path / "soft") == "target"
        assert call(process, "symlinkat", SCRATCH, 999, SCRATCH + 0x200) == -errno_riscv.EBADF
    finally:
        os.close(directory)


def test_riscv_flush_icache_reports_the_whole_space_as_rewritten(process):
    changes = []
    process.memory.add_change_listener(lambda addr, size, kind: changes.append((addr, size, kind)))
    assert call(process, "riscv_flush_icache", 0x10000, 0x10010, 0) == 0
    assert changes == [(0, process.memory.size, MemoryChange.WRITE)]
    assert call(process, "riscv_flush_icache", 0, 0, 2) == -errno_riscv.EINVAL
