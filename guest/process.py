"""The Linux user-mode process the guest program runs in: address space, images, brk, stack.

`GuestProcess.load(path, argv, envp, sysroot=...)` does what execve does for a RISC-V 64
program: it loads the ELF image and, for a dynamic executable, its PT_INTERP interpreter (looked
up under `sysroot` first, like qemu's -L), sets up brk and the initial stack (argc, argv, envp,
auxv per the Linux RISC-V ABI) and returns the process ready to run at `entry` (the
interpreter's entry for a dynamic executable) with sp = `initial_sp`. The other registers start
at zero; in particular a0 (the rtld_fini pointer for _start) is 0.

The process also holds the OS state the syscalls keep for the guest: the sysroot used for guest
file lookups (`host_path`), the -strace stream, signal dispositions, mask and pending set, the
alternate signal stack, the robust futex list and the resource limits kept away from the host.

How a run ends, for the dispatcher and the CLI: do_syscall raises ProcessExit (exit/exit_group;
`status` is the exit status) or one of its subclasses, which carry a one-line `message` the CLI
prints as `tcgjit: <message>` before exiting with `status`:
- GuestKilled(signo): the guest got a fatal signal it sent itself (kill/tgkill, e.g. glibc's
  abort()), status 128 + signo, message "uncaught target signal 6 (Aborted)" (qemu's wording);
- GuestDeadlock: the single guest thread waits on a futex nothing can wake, status 1.

Initial stack, from the top of the address space down (as Linux lays it out):
    STACK_TOP - 8:    8 zero bytes (end marker)
    below:            AT_EXECFN string, then the argv and envp strings (argv[0] lowest)
    below:            16 AT_RANDOM bytes
    initial_sp:       argc, argv[0..argc-1], NULL, envp[...], NULL, auxv (type, value)...,
                      AT_NULL; initial_sp is 16-byte aligned (padding above the vector)
"""
from __future__ import annotations

import os
import secrets
import signal
from dataclasses import dataclass
from typing import TextIO

from guest.elf_loader import (
    PIE_LOAD_BASE, GuestLoadError, LoadedImage, SymbolTable, load_elf, read_elf,
)
from guest.memory import (
    GUEST_ADDRESS_SPACE_SIZE, PAGE_SIZE, PROT_READ, PROT_WRITE, GuestMemory,
)

# The stack ends one page below the top of the Sv39 user space; that page stays unmapped.
STACK_TOP = GUEST_ADDRESS_SPACE_SIZE - PAGE_SIZE
STACK_SIZE = 8 << 20                 # mapped up front, like the default 8 MiB RLIMIT_STACK
# mmap placement stays this far below the stack, like Linux's stack_guard_gap.
STACK_GUARD_GAP = 1 << 20
# Linux refuses argv + envp larger than a quarter of the stack limit (E2BIG).
MAX_ARG_STRINGS_SIZE = STACK_SIZE // 4

# Auxiliary vector types (linux/auxvec.h).
AT_NULL = 0
AT_PHDR = 3
AT_PHENT = 4
AT_PHNUM = 5
AT_PAGESZ = 6
AT_BASE = 7
AT_FLAGS = 8
AT_ENTRY = 9
AT_UID = 11
AT_EUID = 12
AT_GID = 13
AT_EGID = 14
AT_HWCAP = 16
AT_CLKTCK = 17
AT_SECURE = 23
AT_RANDOM = 25
AT_EXECFN = 31


def riscv_hwcap(extensions: str) -> int:
    """AT_HWCAP for single-letter ISA extensions: bit (letter - 'A') per extension."""
    return sum(1 << (ord(letter) - ord("A")) for letter in set(extensions.upper()))


RISCV_HWCAP_IMAFDC = riscv_hwcap("IMAFDC")


class ProcessExit(Exception):
    """The guest process has ended (exit/exit_group): stop running and exit with `status`.

    Raised by do_syscall after setting process.exit_status; the dispatcher lets no further guest
    code run and the CLI exits with this status. `message` is None for a normal exit; the
    subclasses set it to one line for the CLI to print (prefixed with "tcgjit: ").
    """

    def __init__(self, status: int, message: str | None = None):
        super().__init__(message or f"guest exited with status {status}")
        self.status = status
        self.message = message


def signal_description(signo: int) -> str:
    """The host's text for a signal number ("Aborted"); guest and host (x86-64) Linux number
    the standard signals alike."""
    try:
        return signal.strsignal(signo) or f"Unknown signal {signo}"
    except ValueError:
        return f"Unknown signal {signo}"


class GuestKilled(ProcessExit):
    """The guest was killed by signal `signo`: the default action of a fatal signal it sent
    itself (glibc's abort() raises SIGABRT with tgkill). Exit status 128 + signo, what a shell
    reports for a process killed by that signal."""

    def __init__(self, signo: int):
        super().__init__(128 + signo,
                         f"uncaught target signal {signo} ({signal_description(signo)})")
        self.signo = signo


class GuestDeadlock(ProcessExit):
    """The guest's only thread waits for something no other thread can ever do (a futex wait
    without timeout). Linux would hang forever; tcgjit ends the run with status 1."""

    def __init__(self, detail: str):
        super().__init__(1, f"guest deadlock: {detail}")


# The initial signal state's values (guest/syscalls/guest_abi.py has the whole ABI; this module
# cannot import it, guest.syscalls imports this one).
SIG_DFL = 0
SS_DISABLE = 2


@dataclass(frozen=True)
class SignalAction:
    """A guest struct sigaction as recorded by rt_sigaction."""
    handler: int = SIG_DFL
    flags: int = 0
    mask: int = 0


@dataclass(frozen=True)
class AltStack:
    """The guest's sigaltstack."""
    sp: int = 0
    flags: int = SS_DISABLE
    size: int = 0


def _read_interpreter(interpreter: str, sysroot: str | None):
    """Read the PT_INTERP program: under the sysroot when it is there, else the host path."""
    candidates = []
    if sysroot is not None and interpreter.startswith("/"):
        candidates.append(sysroot.rstrip("/") + interpreter)
    candidates.append(interpreter)
    path = next((candidate for candidate in candidates if os.path.exists(candidate)),
                candidates[-1])
    try:
        elf = read_elf(path, GUEST_ADDRESS_SPACE_SIZE)
    except GuestLoadError as error:
        hint = ""
        if sysroot is None and not os.path.exists(path):
            hint = " (no RISC-V sysroot was given to look it up in, like qemu's -L)"
        raise GuestLoadError(f"interpreter {interpreter}: {error}{hint}") from None
    if elf.interpreter is not None:
        raise GuestLoadError(f"interpreter {interpreter}: Exec format error: it has a PT_INTERP "
                             f"itself")
    return elf


def _as_bytes(value: str | bytes, what: str) -> bytes:
    encoded = os.fsencode(value) if isinstance(value, str) else bytes(value)
    if b"\0" in encoded:
        raise GuestLoadError(f"{what} contains a NUL byte")
    return encoded


class GuestProcess:
    """A loaded guest program and its OS-level state. Build it with GuestProcess.load()."""

    def __init__(self, memory: GuestMemory, image: LoadedImage, interpreter: LoadedImage | None,
                 exec_path: str, sysroot: str | None = None):
        self.memory = memory
        self.image = image
        self.interpreter = interpreter
        self.exec_path = exec_path
        # What readlink("/proc/self/exe") gives the guest (and what opening it opens).
        self.executable_realpath = os.path.realpath(exec_path)
        self.sysroot = sysroot
        # -strace: each syscall is printed here as qemu does (None: off).
        self.strace: TextIO | None = None
        # Where execution starts: the interpreter's entry for dynamic programs.
        self.entry = interpreter.entry if interpreter is not None else image.entry
        self.brk_start = image.brk_start
        self.brk = self.brk_start
        self.stack_top = STACK_TOP
        self.stack_bottom = STACK_TOP - STACK_SIZE
        self.initial_sp = 0
        self.auxv: list[tuple[int, int]] = []
        self.argv: list[bytes] = []
        self.envp: list[bytes] = []
        self.exit_status: int | None = None
        self.pid = os.getpid()
        self.tid = self.pid
        self.clear_child_tid = 0           # set_tid_address pointer
        self.robust_list_head = 0          # set_robust_list
        self.robust_list_length = 0
        # Signals: dispositions by number (missing = SIG_DFL), blocked and pending sets as
        # bit masks (bit signo-1, like the kernel's sigset_t), the alternate stack. Delivery to
        # guest handlers is not implemented yet: see guest/syscalls/signals.py.
        self.signal_actions: dict[int, SignalAction] = {}
        self.signal_mask = 0
        self.pending_signals = 0
        self.alt_stack = AltStack()
        self.warned_signals: set[int] = set()
        # Limits the guest sets that must not reach the host process (which also runs the JIT):
        # resource number -> (soft, hard), reported back by getrlimit/prlimit64.
        self.guest_only_rlimits: dict[int, tuple[int, int]] = {}
        # Host fds the guest must not touch (the JIT's own log files, ...): EBADF for the guest.
        self.reserved_host_fds: set[int] = set()
        self.warned_syscalls: set[int] = set()

    @property
    def symbols(self) -> SymbolTable:
        """The main program's symbols (addresses as loaded)."""
        return self.image.symbols

    @classmethod
    def load(cls, path: str, argv: list[str | bytes], envp: list[str | bytes], *,
             sysroot: str | None = None, hwcap: int = RISCV_HWCAP_IMAFDC,
             random_bytes: bytes | None = None) -> GuestProcess:
        """execve(path, argv, envp) into a fresh address space. argv[0] is passed as given;
        envp holds "NAME=value" strings. `sysroot` (qemu's -L) is where the guest's absolute
        paths are looked up first: the PT_INTERP interpreter of a dynamic executable and every
        file the guest opens. Raises GuestLoadError (one-line message) on failure."""
        argv_bytes = [_as_bytes(argument, "argument") for argument in argv]
        envp_bytes = [_as_bytes(variable, "environment variable") for variable in envp]
        exec_path_bytes = _as_bytes(path, "program path")
        elf = read_elf(path, GUEST_ADDRESS_SPACE_SIZE)
        interpreter_elf = None
        if elf.interpreter is not None:
            interpreter_elf = _read_interpreter(elf.interpreter, sysroot)
        try:
            memory = GuestMemory(GUEST_ADDRESS_SPACE_SIZE)
        except OSError as error:
            raise GuestLoadError(f"cannot reserve the guest address space: {error}") from None
        try:
            image = load_elf(memory, elf, dyn_base=PIE_LOAD_BASE)
            process = cls(memory, image, None, path, sysroot)
            process._map_stack()
            if interpreter_elf is not None:
                # Placed like Linux's mmap of the interpreter: top-down below the stack gap.
                process._set_interpreter(load_elf(memory, interpreter_elf, dyn_base=None))
            process._build_initial_stack(argv_bytes, envp_bytes, exec_path_bytes, hwcap,
                                         random_bytes)
        except BaseException:
            memory.close()
            raise
        return process

    def host_path(self, guest_path: bytes) -> bytes:
        """Where the host finds a file the guest names: an absolute path exists under the
        sysroot -> that copy, else the path itself (qemu's path(): the guest's /lib/libc.so.6
        is the sysroot's when it has one, the host's /etc/passwd otherwise)."""
        if self.sysroot is None or not guest_path.startswith(b"/"):
            return guest_path
        candidate = os.fsencode(self.sysroot).rstrip(b"/") + guest_path
        return candidate if os.path.exists(candidate) else guest_path

    def close(self) -> None:
        """Release the guest address space."""
        self.memory.close()

    def host_fd(self, guest_fd: int) -> int | None:
        """The host fd behind a guest fd (guest fds are host fds, as in qemu), or None if the
        guest may not use it."""
        if guest_fd < 0 or guest_fd in self.reserved_host_fds:
            return None
        return guest_fd

    def symbolize(self, address: int) -> str | None:
        """`name` or `name+0xoffset` for a guest code/data address, or None."""
        for image in (self.image, self.interpreter):
            if image is None:
                continue
            found = image.symbols.lookup(address)
            if found is not None:
                symbol, offset = found
                return symbol.name if offset == 0 else f"{symbol.name}+0x{offset:x}"
        return None

    # --- setup ----------------------------------------------------------------------------------

    def _set_interpreter(self, interpreter: LoadedImage) -> None:
        self.interpreter = interpreter
        self.entry = interpreter.entry

    def _map_stack(self) -> None:
        size = self.stack_top - self.stack_bottom
        if not self.memory.is_free(self.stack_bottom, size):
            raise GuestLoadError(f"the program's segments overlap the stack at "
                                 f"0x{self.stack_bottom:x}-0x{self.stack_top:x}")
        try:
            self.memory.map(self.stack_bottom, size, PROT_READ | PROT_WRITE)
        except OSError as error:
            raise GuestLoadError(f"cannot map the stack: {error.strerror or error}") from None
        self.memory.mmap_top = self.stack_bottom - STACK_GUARD_GAP

    def _build_initial_stack(self, argv: list[bytes], envp: list[bytes], exec_path: bytes,
                             hwcap: int, random_bytes: bytes | None) -> None:
        strings_size = sum(len(string) + 1 for string in argv + envp) + len(exec_path) + 1
        if strings_size > MAX_ARG_STRINGS_SIZE:
            raise GuestLoadError("Argument list too long")
        if random_bytes is None:
            random_bytes = secrets.token_bytes(16)
        if len(random_bytes) != 16:
            raise ValueError("AT_RANDOM needs exactly 16 bytes")
        memory = self.memory

        position = self.stack_top - 8                     # 8 zero bytes: the end marker
        position -= len(exec_path) + 1
        execfn_address = position
        memory.write(execfn_address, exec_path + b"\0")

        blob = b"".join(string + b"\0" for string in argv + envp)
        position -= len(blob)
        memory.write(position, blob)
        string_addresses = []
        cursor = position
        for string in argv + envp:
            string_addresses.append(cursor)
            cursor += len(string) + 1
        argv_addresses = string_addresses[:len(argv)]
        envp_addresses = string_addresses[len(argv):]

        position -= 16
        random_address = position
        memory.write(random_address, random_bytes)

        image = self.image
        # AT_BASE is the interpreter's load bias (where its link address 0 went).
        interpreter_base = self.interpreter.load_bias if self.interpreter is not None else 0
        self.auxv = [
            (AT_HWCAP, hwcap),
            (AT_PAGESZ, PAGE_SIZE),
            (AT_CLKTCK, 100),
            (AT_PHDR, image.phdr_address),
            (AT_PHENT, image.phent),
            (AT_PHNUM, image.phnum),
            (AT_BASE, interpreter_base),
            (AT_FLAGS, 0),
            (AT_ENTRY, image.entry),
            (AT_UID, os.getuid()),
            (AT_EUID, os.geteuid()),
            (AT_GID, os.getgid()),
            (AT_EGID, os.getegid()),
            (AT_SECURE, 0),
            (AT_RANDOM, random_address),
            (AT_EXECFN, execfn_address),
            (AT_NULL, 0),
        ]
        words = [len(argv), *argv_addresses, 0, *envp_addresses, 0]
        for key, value in self.auxv:
            words += [key, value]
        table = b"".join(word.to_bytes(8, "little") for word in words)
        stack_pointer = (position - len(table)) & ~15
        memory.write(stack_pointer, table)
        self.initial_sp = stack_pointer
        self.argv = argv
        self.envp = envp
