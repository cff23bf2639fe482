"""Host SIGSEGV/SIGBUS handling for guest memory accesses, in machine code.

A guest access to an address inside the guest region whose page is unmapped or protected is an
ordinary host fault inside generated code. Python cannot recover from that, so the handler is
machine code, installed with sigaction through cffi. When the faulting rip lies in the code cache
it records the fault in env (the env pointer is the interrupted rbp, the guest base the
interrupted r14):

    env.fault_addr    = si_addr - guest base
    env.fault_host_pc = rip
    env.fault_is_write = bit 1 of the page-fault error code

and resumes the context at the runtime's fault exit (which restores rsp from env and returns
ExitKind.FAULT). Any other fault goes to the handler that was installed before (a tail jump with
the same arguments), or, if that was the default action, restores the default action and
returns, so that the faulting instruction faults again and kills the process as usual.

The handler runs on an alternate signal stack, so that a host stack overflow is still reported.
`sigaltstack` is per thread: threads other than the installing one must call
`ensure_alternate_stack` before running generated code.
"""
from __future__ import annotations

from typing import Optional

from host_x86.assembler import Assembler
from host_x86.encoder import Encoder
from host_x86.libc import (PAGE_SIZE, PROT_EXEC, PROT_READ, PROT_WRITE, SA_ONSTACK, SA_SIGINFO,
                           SIGBUS, SIGSEGV, SS_DISABLE, address_of, ffi, lib, mmap_anonymous,
                           mprotect, write_bytes)
from jit.env import ENV_FAULT_ADDR, ENV_FAULT_HOST_PC, ENV_FAULT_IS_WRITE, ENV_FAULT_REGS

# x86-64 Linux ucontext_t: uc_mcontext.gregs starts at byte 40; siginfo_t.si_addr at byte 16.
_GREGS = 40
_REG_R14, _REG_RBP, _REG_RIP, _REG_ERR = 6, 10, 16, 19
# gregs index of each host register, in register-number order (rax, rcx, rdx, rbx, rsp, rbp,
# rsi, rdi, r8..r15): the kernel's REG_RAX = 13, REG_RCX = 14, ...
_GREG_OF_REGISTER = (13, 14, 12, 11, 15, 10, 9, 8, 0, 1, 2, 3, 4, 5, 6, 7)
_SIGINFO_ADDR = 16
_PAGE_FAULT_WRITE_BIT = 1
ALTERNATE_STACK_SIZE = 64 * 1024
HANDLED_SIGNALS = (SIGSEGV, SIGBUS)


def installed_handler(sig: int) -> int:
    """The address of the handler sigaction has for `sig` now (0 / 1: SIG_DFL / SIG_IGN)."""
    current = ffi.new("struct sigaction *")
    if lib.sigaction(sig, ffi.NULL, current) != 0:
        raise OSError(ffi.errno, "sigaction query failed")
    return address_of(current.sa_handler)


def _greg(index: int) -> int:
    return _GREGS + 8 * index


class FaultHandler:
    """The process's handler for faults in generated code (one per process: `fault_handler`)."""

    def __init__(self, code_start: int, code_size: int, fault_exit: int, encoder: Encoder):
        self.code_start = code_start
        self.code_size = code_size
        self.fault_exit = fault_exit
        # Data page: one cell per signal holding the previously installed handler.
        self._data = mmap_anonymous(PAGE_SIZE, PROT_READ | PROT_WRITE)
        self._cells = {sig: self._data + 8 * index for index, sig in enumerate(HANDLED_SIGNALS)}
        self._code = mmap_anonymous(PAGE_SIZE, PROT_READ | PROT_WRITE)
        self.handler_addresses: dict[int, int] = {}
        signal_function = address_of(ffi.cast("void *", lib.signal))
        offset = 0
        for sig in HANDLED_SIGNALS:
            code = self._handler_code(encoder, self._cells[sig], signal_function)
            write_bytes(self._code + offset, code)
            self.handler_addresses[sig] = self._code + offset
            offset += (len(code) + 15) & ~15
        mprotect(self._code, PAGE_SIZE, PROT_READ | PROT_EXEC)
        self._alternate_stacks: list[int] = []

    def _handler_code(self, encoder: Encoder, cell: int, signal_function: int) -> bytes:
        # void handler(int sig /* edi */, siginfo_t *info /* rsi */, ucontext_t *uc /* rdx */)
        asm = Assembler(encoder)
        foreign = asm.new_label()
        default_action = asm.new_label()
        asm.emit("mov rax, qword ptr [rdx + %]", _greg(_REG_RIP))
        asm.emit("movabs rcx, %", self.code_start)
        asm.emit("mov r8, rax")
        asm.emit("sub r8, rcx")
        asm.emit("movabs rcx, %", self.code_size)
        asm.emit("cmp r8, rcx")
        asm.jcc("ae", foreign)
        asm.emit("mov rcx, qword ptr [rdx + %]", _greg(_REG_RBP))       # env
        # The interrupted registers, by host register number: dirty guest globals may live
        # in them (the backend writes those back into env).
        for reg, greg in enumerate(_GREG_OF_REGISTER):
            asm.emit("mov r8, qword ptr [rdx + %]", _greg(greg))
            asm.emit("mov qword ptr [rcx + %], r8", ENV_FAULT_REGS + 8 * reg)
        asm.emit("mov r8, qword ptr [rsi + %]", _SIGINFO_ADDR)
        asm.emit("sub r8, qword ptr [rdx + %]", _greg(_REG_R14))        # - guest base
        asm.emit("mov qword ptr [rcx + %], r8", ENV_FAULT_ADDR)
        asm.emit("mov qword ptr [rcx + %], rax", ENV_FAULT_HOST_PC)
        asm.emit("mov r8, qword ptr [rdx + %]", _greg(_REG_ERR))
        asm.emit("shr r8, %", _PAGE_FAULT_WRITE_BIT)
        asm.emit("and r8d, %", 1)
        asm.emit("mov qword ptr [rcx + %], r8", ENV_FAULT_IS_WRITE)
        asm.emit("movabs r8, %", self.fault_exit)
        asm.emit("mov qword ptr [rdx + %], r8", _greg(_REG_RIP))
        asm.emit("ret")
        asm.bind(foreign)
        asm.emit("movabs rax, %", cell)
        asm.emit("mov rax, qword ptr [rax]")
        asm.emit("cmp rax, %", 1)          # SIG_DFL (0) or SIG_IGN (1)
        asm.jcc("be", default_action)
        asm.emit("jmp rax")
        asm.bind(default_action)
        asm.emit("sub rsp, %", 8)           # align the stack for the call
        asm.emit("xor esi, esi")            # signal(sig, SIG_DFL); edi still holds sig
        asm.emit("movabs rax, %", signal_function)
        asm.emit("call rax")
        asm.emit("add rsp, %", 8)
        asm.emit("ret")
        return asm.finish(0)

    def is_installed(self, sig: int) -> bool:
        return installed_handler(sig) == self.handler_addresses[sig]

    def install(self) -> None:
        """Install (again, if something replaced it) for SIGSEGV and SIGBUS, and make sure the
        calling thread has an alternate signal stack."""
        self.ensure_alternate_stack()
        for sig in HANDLED_SIGNALS:
            if self.is_installed(sig):
                continue
            action = ffi.new("struct sigaction *")
            previous = ffi.new("struct sigaction *")
            action.sa_handler = ffi.cast("void *", self.handler_addresses[sig])
            action.sa_flags = SA_SIGINFO | SA_ONSTACK
            if lib.sigaction(sig, action, previous) != 0:
                raise OSError(ffi.errno, "sigaction failed")
            ffi.cast("uint64_t *", self._cells[sig])[0] = address_of(previous.sa_handler)

    def ensure_alternate_stack(self) -> None:
        current = ffi.new("stack_t *")
        if lib.sigaltstack(ffi.NULL, current) != 0:
            raise OSError(ffi.errno, "sigaltstack query failed")
        if not current.ss_flags & SS_DISABLE:
            return     # the thread has one already (faulthandler installs one, for example)
        stack = mmap_anonymous(ALTERNATE_STACK_SIZE, PROT_READ | PROT_WRITE)
        new = ffi.new("stack_t *")
        new.ss_sp = ffi.cast("void *", stack)
        new.ss_size = ALTERNATE_STACK_SIZE
        new.ss_flags = 0
        if lib.sigaltstack(new, ffi.NULL) != 0:
            raise OSError(ffi.errno, "sigaltstack failed")
        self._alternate_stacks.append(stack)


_fault_handler: Optional[FaultHandler] = None


def fault_handler(code_start: int, code_size: int, fault_exit: int,
                  encoder: Encoder) -> FaultHandler:
    """The process's fault handler, created and installed on first use."""
    global _fault_handler
    if _fault_handler is None:
        _fault_handler = FaultHandler(code_start, code_size, fault_exit, encoder)
    elif (_fault_handler.code_start, _fault_handler.code_size, _fault_handler.fault_exit) != (
            code_start, code_size, fault_exit):
        raise ValueError("one fault handler per process: the code cache cannot change")
    _fault_handler.install()
    return _fault_handler
