"""The RISC-V 64 Linux user ABI the syscalls speak: constants and struct layouts as the guest sees
them (asm-generic, LP64, little endian).

Where a value or layout also exists on the host (x86-64 Linux), the host's is named HOST_* in the
module that talks to the host, and values are converted field by field even when both sides
agree today, so that each guest struct is defined exactly once, here. Many of the flag values
(O_*, AT_*, MAP_*, PROT_*, signal numbers, termios bits) are identical on both: the asm-generic
headers and x86-64 share them. tests/test_syscalls.py checks that against the host's Python
constants so that a difference cannot go unnoticed.
"""
from __future__ import annotations

import struct

# --- *at() ----------------------------------------------------------------------------------------
AT_FDCWD = -100
AT_SYMLINK_NOFOLLOW = 0x100
AT_EACCESS = 0x200             # faccessat2
AT_REMOVEDIR = 0x200           # unlinkat
AT_SYMLINK_FOLLOW = 0x400
AT_NO_AUTOMOUNT = 0x800
AT_EMPTY_PATH = 0x1000
AT_STATX_FORCE_SYNC = 0x2000
AT_STATX_DONT_SYNC = 0x4000

# --- open flags (asm-generic fcntl.h) -------------------------------------------------------------
O_ACCMODE = 0o3
O_RDONLY = 0o0
O_WRONLY = 0o1
O_RDWR = 0o2
O_CREAT = 0o100
O_EXCL = 0o200
O_NOCTTY = 0o400
O_TRUNC = 0o1000
O_APPEND = 0o2000
O_NONBLOCK = 0o4000
O_DSYNC = 0o10000
O_ASYNC = 0o20000
O_DIRECT = 0o40000
O_LARGEFILE = 0o100000
O_DIRECTORY = 0o200000
O_NOFOLLOW = 0o400000
O_NOATIME = 0o1000000
O_CLOEXEC = 0o2000000
O_SYNC = 0o4010000              # __O_SYNC | O_DSYNC
O_PATH = 0o10000000
O_TMPFILE = 0o20200000          # __O_TMPFILE | O_DIRECTORY

# --- fcntl ----------------------------------------------------------------------------------------
F_DUPFD = 0
F_GETFD = 1
F_SETFD = 2
F_GETFL = 3
F_SETFL = 4
F_GETLK = 5
F_SETLK = 6
F_SETLKW = 7
F_SETOWN = 8
F_GETOWN = 9
F_SETSIG = 10
F_GETSIG = 11
F_OFD_GETLK = 36
F_OFD_SETLK = 37
F_OFD_SETLKW = 38
F_DUPFD_CLOEXEC = 1030
F_SETPIPE_SZ = 1031
F_GETPIPE_SZ = 1032
F_ADD_SEALS = 1033
F_GET_SEALS = 1034
FD_CLOEXEC = 1

# struct flock: short l_type, short l_whence, off_t l_start, off_t l_len, pid_t l_pid.
FLOCK = struct.Struct("<hh4xqqi4x")

# --- lseek ----------------------------------------------------------------------------------------
SEEK_SET = 0
SEEK_CUR = 1
SEEK_END = 2
SEEK_DATA = 3
SEEK_HOLE = 4

# --- mmap (asm-generic mman.h / mman-common.h) ----------------------------------------------------
PROT_READ = 0x1
PROT_WRITE = 0x2
PROT_EXEC = 0x4
PROT_SEM = 0x8
PROT_GROWSDOWN = 0x01000000
PROT_GROWSUP = 0x02000000

MAP_SHARED = 0x01
MAP_PRIVATE = 0x02
MAP_SHARED_VALIDATE = 0x03
MAP_TYPE = 0x0F
MAP_FIXED = 0x10
MAP_ANONYMOUS = 0x20
MAP_GROWSDOWN = 0x0100
MAP_DENYWRITE = 0x0800
MAP_EXECUTABLE = 0x1000
MAP_LOCKED = 0x2000
MAP_NORESERVE = 0x4000
MAP_POPULATE = 0x8000
MAP_NONBLOCK = 0x10000
MAP_STACK = 0x20000
MAP_HUGETLB = 0x40000
MAP_SYNC = 0x80000
MAP_FIXED_NOREPLACE = 0x100000
MAP_UNINITIALIZED = 0x4000000

MREMAP_MAYMOVE = 1
MREMAP_FIXED = 2
MREMAP_DONTUNMAP = 4

MADV_NORMAL = 0
MADV_RANDOM = 1
MADV_SEQUENTIAL = 2
MADV_WILLNEED = 3
MADV_DONTNEED = 4
MADV_FREE = 8
MADV_REMOVE = 9
MADV_DONTFORK = 10
MADV_DOFORK = 11
MADV_MERGEABLE = 12
MADV_UNMERGEABLE = 13
MADV_HUGEPAGE = 14
MADV_NOHUGEPAGE = 15
MADV_DONTDUMP = 16
MADV_DODUMP = 17
MADV_WIPEONFORK = 18
MADV_KEEPONFORK = 19
MADV_COLD = 20
MADV_PAGEOUT = 21
MADV_POPULATE_READ = 22
MADV_POPULATE_WRITE = 23
MADV_DONTNEED_LOCKED = 24
MADV_COLLAPSE = 25

# --- files ----------------------------------------------------------------------------------------
# struct stat (asm-generic/stat.h), 128 bytes: st_dev, st_ino, st_mode, st_nlink, st_uid, st_gid,
# st_rdev, __pad1, st_size, st_blksize, __pad2, st_blocks, then atime, mtime, ctime as (seconds,
# nanoseconds) pairs, and two unused u32. x86-64's differs (st_nlink is 64-bit and comes before
# st_mode), so this one is always built field by field.
STAT = struct.Struct("<QQIIIIQQqiiqqQqQqQII")
# struct statx is the same on every architecture (256 bytes): the host's is copied as is.
STATX_SIZE = 256
# struct linux_dirent64 is the same on every architecture: u64 d_ino, s64 d_off, u16 d_reclen,
# u8 d_type, then the name.
DIRENT64_HEADER = struct.Struct("<QqHB")
PATH_MAX = 4096

R_OK = 4
W_OK = 2
X_OK = 1
F_OK = 0

RENAME_NOREPLACE = 1
RENAME_EXCHANGE = 2
RENAME_WHITEOUT = 4

# --- terminals (asm-generic termbits.h / ioctls.h) ------------------------------------------------
TCGETS = 0x5401
TCSETS = 0x5402
TCSETSW = 0x5403
TCSETSF = 0x5404
TCSBRK = 0x5409
TCXONC = 0x540A
TCFLSH = 0x540B
TIOCGPGRP = 0x540F
TIOCSPGRP = 0x5410
TIOCGWINSZ = 0x5413
TIOCSWINSZ = 0x5414
FIONREAD = 0x541B
FIONBIO = 0x5421
FIONCLEX = 0x5450
FIOCLEX = 0x5451
# struct termios: c_iflag, c_oflag, c_cflag, c_lflag (u32), c_line, c_cc[19].
TERMIOS = struct.Struct("<IIIIB19s")
# struct winsize: ws_row, ws_col, ws_xpixel, ws_ypixel (u16).
WINSIZE = struct.Struct("<HHHH")
C_INT = struct.Struct("<i")

# --- time -----------------------------------------------------------------------------------------
TIMESPEC = struct.Struct("<qq")        # tv_sec, tv_nsec
TIMEVAL = struct.Struct("<qq")         # tv_sec, tv_usec
TIMEZONE = struct.Struct("<ii")        # tz_minuteswest, tz_dsttime
CLOCK_REALTIME = 0
CLOCK_MONOTONIC = 1
CLOCK_PROCESS_CPUTIME_ID = 2
CLOCK_THREAD_CPUTIME_ID = 3
CLOCK_MONOTONIC_RAW = 4
CLOCK_REALTIME_COARSE = 5
CLOCK_MONOTONIC_COARSE = 6
CLOCK_BOOTTIME = 7
CLOCK_REALTIME_ALARM = 8
CLOCK_BOOTTIME_ALARM = 9
CLOCK_TAI = 11
TIMER_ABSTIME = 1
NSEC_PER_SEC = 1_000_000_000

# --- resources ------------------------------------------------------------------------------------
RLIMIT = struct.Struct("<QQ")          # struct rlimit / rlimit64: rlim_cur, rlim_max
RLIM_INFINITY = (1 << 64) - 1
RLIMIT_NAMES = ("RLIMIT_CPU", "RLIMIT_FSIZE", "RLIMIT_DATA", "RLIMIT_STACK", "RLIMIT_CORE",
                "RLIMIT_RSS", "RLIMIT_NPROC", "RLIMIT_NOFILE", "RLIMIT_MEMLOCK", "RLIMIT_AS",
                "RLIMIT_LOCKS", "RLIMIT_SIGPENDING", "RLIMIT_MSGQUEUE", "RLIMIT_NICE",
                "RLIMIT_RTPRIO", "RLIMIT_RTTIME")
RLIMIT_DATA = 2
RLIMIT_STACK = 3
RLIMIT_AS = 9
RLIM_NLIMITS = len(RLIMIT_NAMES)
# struct rusage: ru_utime, ru_stime (timeval), then 14 longs.
RUSAGE = struct.Struct("<qqqq14q")
RUSAGE_SELF = 0
RUSAGE_CHILDREN = -1
RUSAGE_THREAD = 1

# struct sysinfo (64-bit): uptime, loads[3], totalram, freeram, sharedram, bufferram, totalswap,
# freeswap (longs), u16 procs, u16 pad, (4 bytes alignment), totalhigh, freehigh, u32 mem_unit,
# padded to 112 bytes.
SYSINFO = struct.Struct("<q3Q6QHH4xQQI4x")

# --- signals --------------------------------------------------------------------------------------
NSIG = 64                              # _NSIG: signals 1..64
SIGSET_SIZE = 8                        # sizeof(sigset_t) the kernel accepts
# struct sigaction for rt_sigaction on RISC-V: sa_handler, sa_flags, sa_mask (no sa_restorer:
# RISC-V has no SA_RESTORER, the kernel's vDSO provides the return trampoline).
SIGACTION = struct.Struct("<QQQ")
# stack_t: ss_sp, int ss_flags, (4 bytes padding), ss_size.
STACK_T = struct.Struct("<Qi4xQ")
SS_ONSTACK = 1
SS_DISABLE = 2
SS_AUTODISARM = 1 << 31
MINSIGSTKSZ = 2048
SIG_BLOCK = 0
SIG_UNBLOCK = 1
SIG_SETMASK = 2
SIG_DFL = 0
SIG_IGN = 1

SIGHUP = 1
SIGINT = 2
SIGQUIT = 3
SIGILL = 4
SIGTRAP = 5
SIGABRT = 6
SIGBUS = 7
SIGFPE = 8
SIGKILL = 9
SIGUSR1 = 10
SIGSEGV = 11
SIGUSR2 = 12
SIGPIPE = 13
SIGALRM = 14
SIGTERM = 15
SIGSTKFLT = 16
SIGCHLD = 17
SIGCONT = 18
SIGSTOP = 19
SIGTSTP = 20
SIGTTIN = 21
SIGTTOU = 22
SIGURG = 23
SIGXCPU = 24
SIGXFSZ = 25
SIGVTALRM = 26
SIGPROF = 27
SIGWINCH = 28
SIGIO = 29
SIGPWR = 30
SIGSYS = 31
SIGRTMIN = 32

SIGNAL_NAMES = {
    SIGHUP: "SIGHUP", SIGINT: "SIGINT", SIGQUIT: "SIGQUIT", SIGILL: "SIGILL",
    SIGTRAP: "SIGTRAP", SIGABRT: "SIGABRT", SIGBUS: "SIGBUS", SIGFPE: "SIGFPE",
    SIGKILL: "SIGKILL", SIGUSR1: "SIGUSR1", SIGSEGV: "SIGSEGV", SIGUSR2: "SIGUSR2",
    SIGPIPE: "SIGPIPE", SIGALRM: "SIGALRM", SIGTERM: "SIGTERM", SIGSTKFLT: "SIGSTKFLT",
    SIGCHLD: "SIGCHLD", SIGCONT: "SIGCONT", SIGSTOP: "SIGSTOP", SIGTSTP: "SIGTSTP",
    SIGTTIN: "SIGTTIN", SIGTTOU: "SIGTTOU", SIGURG: "SIGURG", SIGXCPU: "SIGXCPU",
    SIGXFSZ: "SIGXFSZ", SIGVTALRM: "SIGVTALRM", SIGPROF: "SIGPROF", SIGWINCH: "SIGWINCH",
    SIGIO: "SIGIO", SIGPWR: "SIGPWR", SIGSYS: "SIGSYS",
}


def signal_bit(signo: int) -> int:
    """The sigset_t bit of a signal (signal n is bit n-1)."""
    return 1 << (signo - 1)


UNBLOCKABLE_SIGNALS = signal_bit(SIGKILL) | signal_bit(SIGSTOP)

# --- futex ----------------------------------------------------------------------------------------
FUTEX_WAIT = 0
FUTEX_WAKE = 1
FUTEX_FD = 2
FUTEX_REQUEUE = 3
FUTEX_CMP_REQUEUE = 4
FUTEX_WAKE_OP = 5
FUTEX_LOCK_PI = 6
FUTEX_UNLOCK_PI = 7
FUTEX_TRYLOCK_PI = 8
FUTEX_WAIT_BITSET = 9
FUTEX_WAKE_BITSET = 10
FUTEX_WAIT_REQUEUE_PI = 11
FUTEX_CMP_REQUEUE_PI = 12
FUTEX_LOCK_PI2 = 13
FUTEX_PRIVATE_FLAG = 128
FUTEX_CLOCK_REALTIME = 256
FUTEX_CMD_MASK = ~(FUTEX_PRIVATE_FLAG | FUTEX_CLOCK_REALTIME)
FUTEX_WAITERS = 0x80000000
FUTEX_OWNER_DIED = 0x40000000
FUTEX_TID_MASK = 0x3FFFFFFF
ROBUST_LIST_HEAD_SIZE = 24             # struct robust_list_head on 64-bit

# --- misc -----------------------------------------------------------------------------------------
GRND_NONBLOCK = 1
GRND_RANDOM = 2
GRND_INSECURE = 4
UTSNAME_FIELD_SIZE = 65                # struct new_utsname: six char[65] fields
