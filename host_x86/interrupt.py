"""Ctrl-C (and SIGTERM) while generated code runs: a machine-code handler that raises env's
exit_request, then hands the signal on to Python's own handler.

Python runs a signal's Python-level handler only when the main thread executes bytecode. A guest
spinning in chained blocks never gives control back (cffi released the GIL, generated code jumps
from block to block), so Python's handler alone would leave Ctrl-C unanswered. The native handler
here, installed with sigaction on top of Python's C-level handler, does what qemu's
`cpu_exit` does from its host signal handler:

    *(u32 *)exit_flag = 1           generated code checks it at every block entry and returns
                                    ExitKind.STOP to the dispatcher (Python)
    jmp <previous handler>          Python's C-level handler with the same arguments: Python
                                    sees the signal as usual and runs the Python-level handler
                                    at its next bytecode boundary

Without SA_RESTART, so that a blocking system call made for the guest (read on a pipe, a
sleep, a futex wait) fails with EINTR: Python runs the Python-level handler there, and its
exception ends the call.
"""
from __future__ import annotations

import signal
import threading
from typing import Callable, Optional

from host_x86.assembler import Assembler
from host_x86.encoder import Encoder
from host_x86.signals import installed_handler
from host_x86.libc import (PAGE_SIZE, PROT_EXEC, PROT_READ, PROT_WRITE, SA_ONSTACK, SA_SIGINFO,
                           address_of, ffi, lib, mmap_anonymous, mprotect, write_bytes)

FORWARDED_SIGNALS = (signal.SIGINT, signal.SIGTERM)
_FLAG_CELL = 0          # data page: u64 address of the u32 flag to raise (0: none)


class SignalForwarder:
    """The process's native handlers of FORWARDED_SIGNALS (one per process: `signal_forwarder`).

    `activate(flag, python_handler)` installs python_handler as the Python-level handler and
    the native one on top of it; nested activations (a run inside a run) only redirect the flag
    until they end. Only the main thread can install signal handlers: elsewhere activation
    does nothing (Python then only sees the signal once the guest leaves generated code)."""

    def __init__(self, encoder: Encoder):
        self._data = mmap_anonymous(PAGE_SIZE, PROT_READ | PROT_WRITE)
        self._flag_cell = ffi.cast("uint64_t *", self._data + 8 * _FLAG_CELL)
        self._previous_cells = {sig: self._data + 8 * (1 + index)
                                for index, sig in enumerate(FORWARDED_SIGNALS)}
        self._code = mmap_anonymous(PAGE_SIZE, PROT_READ | PROT_WRITE)
        self.handler_addresses: dict[int, int] = {}
        offset = 0
        for sig in FORWARDED_SIGNALS:
            code = self._handler_code(encoder, self._previous_cells[sig])
            write_bytes(self._code + offset, code)
            self.handler_addresses[sig] = self._code + offset
            offset += (len(code) + 15) & ~15
        mprotect(self._code, PAGE_SIZE, PROT_READ | PROT_EXEC)
        self._flags: list[int] = []                    # active flags, innermost last
        self._restore: dict[int, object] = {}   # signal -> Python-level handler it had

    def _handler_code(self, encoder: Encoder, previous_cell: int) -> bytes:
        # void handler(int sig /* edi */, siginfo_t *info /* rsi */, ucontext_t *uc /* rdx */)
        asm = Assembler(encoder)
        no_flag = asm.new_label()
        no_previous = asm.new_label()
        asm.emit("movabs rax, %", self._data + 8 * _FLAG_CELL)
        asm.emit("mov rax, qword ptr [rax]")
        asm.emit("test rax, rax")
        asm.jcc("e", no_flag)
        asm.emit("mov dword ptr [rax], %", 1)
        asm.bind(no_flag)
        asm.emit("movabs rax, %", previous_cell)
        asm.emit("mov rax, qword ptr [rax]")
        asm.emit("cmp rax, %", 1)          # SIG_DFL (0) or SIG_IGN (1): nothing to hand on to
        asm.jcc("be", no_previous)
        asm.emit("jmp rax")                # same arguments, same stack: a tail call
        asm.bind(no_previous)
        asm.emit("ret")
        return asm.finish(0)

    def is_installed(self, sig: int) -> bool:
        return installed_handler(sig) == self.handler_addresses[sig]

    def activate(self, exit_flag_address: int,
                 python_handler: Callable[[int, object], None]) -> Callable[[], None]:
        """Raise the u32 at exit_flag_address on each forwarded signal (and run python_handler
        at Python's next chance) until the returned function is called."""
        if threading.current_thread() is not threading.main_thread():
            return lambda: None
        outermost = not self._flags
        self._flags.append(exit_flag_address)
        self._flag_cell[0] = exit_flag_address
        if outermost:
            self._install(python_handler)
        return self._deactivate

    def _deactivate(self) -> None:
        self._flags.pop()
        self._flag_cell[0] = self._flags[-1] if self._flags else 0
        if not self._flags:
            self._uninstall()

    def _install(self, python_handler: Callable[[int, object], None]) -> None:
        for sig in FORWARDED_SIGNALS:
            if signal.getsignal(sig) == signal.SIG_IGN:
                continue      # ignored on purpose (nohup, a background job): keep it so
            # Python's handler first: the native one hands the signal on to it.
            python_previous = signal.signal(sig, python_handler)
            previous = ffi.new("struct sigaction *")
            if lib.sigaction(sig, ffi.NULL, previous) != 0:
                raise OSError(ffi.errno, "sigaction query failed")
            ffi.cast("uint64_t *", self._previous_cells[sig])[0] = address_of(previous.sa_handler)
            action = ffi.new("struct sigaction *")
            action.sa_handler = ffi.cast("void *", self.handler_addresses[sig])
            action.sa_flags = SA_SIGINFO | SA_ONSTACK       # no SA_RESTART: see the module
            if lib.sigaction(sig, action, ffi.NULL) != 0:
                raise OSError(ffi.errno, "sigaction failed")
            self._restore[sig] = python_previous

    def _uninstall(self) -> None:
        # signal.signal puts back Python's C-level handler (or SIG_DFL / SIG_IGN) together
        # with the Python-level one.
        for sig, python_previous in self._restore.items():
            signal.signal(sig, signal.SIG_DFL if python_previous is None else python_previous)
        self._restore.clear()


_forwarder: Optional[SignalForwarder] = None


def signal_forwarder(encoder: Encoder) -> SignalForwarder:
    global _forwarder
    if _forwarder is None:
        _forwarder = SignalForwarder(encoder)
    return _forwarder
