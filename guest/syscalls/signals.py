"""Signal syscalls: rt_sigaction, rt_sigprocmask, rt_sigpending, sigaltstack, kill, tkill,
tgkill.

The guest's dispositions, blocked mask, pending set and alternate stack are kept in the
GuestProcess; none of it reaches the host's own signal state, which belongs to the JIT (its
SIGSEGV handler catches guest faults).

Signals the guest sends itself are acted on at once (deliver_to_self):
- blocked (and catchable): they become pending, and are acted on when rt_sigprocmask unblocks
  them (glibc's abort() relies on that);
- SIG_IGN, or SIG_DFL for a signal whose default is to be ignored: dropped;
- SIG_DFL stop signals: the host process stops, as the guest process would;
- SIG_DFL otherwise (terminate or core): GuestKilled(signo) ends the run, status 128 + signo;
- a guest handler: running guest handlers needs signal frames, which come later; until then
  the signal is dropped with one warning per signal number (as if the handler returned).
Signals to other processes are passed to the host (the numbers are the same).
"""
from __future__ import annotations

import os
import signal
import sys
from typing import TYPE_CHECKING

from guest.errno_riscv import EINVAL, ENOMEM, ESRCH
from guest.process import AltStack, GuestKilled, SignalAction
from guest.syscalls import host_calls
from guest.syscalls.guest_abi import (
    MINSIGSTKSZ, NSIG, SIG_BLOCK, SIG_DFL, SIG_IGN, SIG_SETMASK, SIG_UNBLOCK, SIGACTION, SIGCHLD,
    SIGCONT, SIGKILL, SIGNAL_NAMES, SIGSET_SIZE, SIGSTOP, SIGTSTP, SIGTTIN, SIGTTOU, SIGURG,
    SIGWINCH, SS_AUTODISARM, SS_DISABLE, SS_ONSTACK, STACK_T, UNBLOCKABLE_SIGNALS, signal_bit,
)
from guest.syscalls.registry import ArgKind, SyscallTable, as_int32

if TYPE_CHECKING:
    from guest.process import GuestProcess

SIGSET_MASK = (1 << NSIG) - 1
DEFAULT_IGNORED = frozenset({SIGCHLD, SIGCONT, SIGURG, SIGWINCH})
DEFAULT_STOP = frozenset({SIGSTOP, SIGTSTP, SIGTTIN, SIGTTOU})


def _valid_signal(signo: int) -> bool:
    return 1 <= signo <= NSIG


def _warn_handler_not_run(process: GuestProcess, signo: int) -> None:
    if signo in process.warned_signals:
        return
    process.warned_signals.add(signo)
    name = SIGNAL_NAMES.get(signo, f"signal {signo}")
    try:
        print(f"tcgjit: {name} not delivered: running guest signal handlers is not supported "
              f"yet", file=sys.stderr, flush=True)
    except (OSError, ValueError):      # the guest closed fd 2: the warning is best effort
        pass


def deliver_to_self(process: GuestProcess, signo: int) -> None:
    """Act on a signal the guest sent itself (see the module docstring). May raise
    GuestKilled."""
    bit = signal_bit(signo)
    if process.signal_mask & bit and not UNBLOCKABLE_SIGNALS & bit:
        process.pending_signals |= bit
        return
    handler = process.signal_actions.get(signo, SignalAction()).handler
    if UNBLOCKABLE_SIGNALS & bit:
        handler = SIG_DFL
    if handler == SIG_IGN:
        return
    if handler == SIG_DFL:
        if signo in DEFAULT_IGNORED:
            return
        if signo in DEFAULT_STOP:
            os.kill(os.getpid(), signal.SIGSTOP)
            return
        raise GuestKilled(signo)
    _warn_handler_not_run(process, signo)


def deliver_unblocked_pending(process: GuestProcess) -> None:
    """Act on pending signals that are no longer blocked, lowest number first."""
    while ready := process.pending_signals & ~process.signal_mask & SIGSET_MASK:
        signo = (ready & -ready).bit_length()
        process.pending_signals &= ~signal_bit(signo)
        deliver_to_self(process, signo)


# --- dispositions and masks ----------------------------------------------------------------------

def sys_rt_sigaction(process: GuestProcess, args: list[int]) -> int:
    signo = as_int32(args[0])
    new_address, old_address = args[1], args[2]
    if args[3] != SIGSET_SIZE or not _valid_signal(signo):
        return -EINVAL
    if new_address and signo in (SIGKILL, SIGSTOP):
        return -EINVAL
    new_action = None
    if new_address:
        handler, flags, mask = SIGACTION.unpack(process.memory.read(new_address, SIGACTION.size))
        new_action = SignalAction(handler, flags, mask & ~UNBLOCKABLE_SIGNALS)
    old_action = process.signal_actions.get(signo, SignalAction())
    if old_address:
        process.memory.check_writable(old_address, SIGACTION.size)
    if new_action is not None:
        process.signal_actions[signo] = new_action
        if new_action.handler == SIG_IGN or (new_action.handler == SIG_DFL
                                             and signo in DEFAULT_IGNORED):
            process.pending_signals &= ~signal_bit(signo)   # POSIX: ignoring discards it
    if old_address:
        process.memory.write(old_address, SIGACTION.pack(old_action.handler, old_action.flags,
                                                         old_action.mask))
    return 0


def sys_rt_sigprocmask(process: GuestProcess, args: list[int]) -> int:
    how, new_address, old_address = as_int32(args[0]), args[1], args[2]
    if args[3] != SIGSET_SIZE:
        return -EINVAL
    old_mask = process.signal_mask
    if new_address:
        requested = process.memory.read_u64(new_address)
        if how == SIG_BLOCK:
            mask = old_mask | requested
        elif how == SIG_UNBLOCK:
            mask = old_mask & ~requested
        elif how == SIG_SETMASK:
            mask = requested
        else:
            return -EINVAL
    else:
        mask = old_mask
    if old_address:
        process.memory.write_u64(old_address, old_mask)
    process.signal_mask = mask & ~UNBLOCKABLE_SIGNALS & SIGSET_MASK
    deliver_unblocked_pending(process)
    return 0


def sys_rt_sigpending(process: GuestProcess, args: list[int]) -> int:
    size = args[1]
    if size > SIGSET_SIZE:
        return -EINVAL
    pending = process.pending_signals & process.signal_mask
    process.memory.write(args[0], pending.to_bytes(SIGSET_SIZE, "little")[:size])
    return 0


def sys_sigaltstack(process: GuestProcess, args: list[int]) -> int:
    new_address, old_address = args[0], args[1]
    old = process.alt_stack
    new = None
    if new_address:
        sp, flags, size = STACK_T.unpack(process.memory.read(new_address, STACK_T.size))
        mode = flags & ~SS_AUTODISARM
        if mode not in (0, SS_ONSTACK, SS_DISABLE):
            return -EINVAL
        if mode == SS_DISABLE:
            new = AltStack(0, SS_DISABLE, 0)
        elif size < MINSIGSTKSZ:
            return -ENOMEM
        else:
            # SS_ONSTACK asks for the same as 0 (Linux accepts both); only AUTODISARM is kept.
            new = AltStack(sp, flags & SS_AUTODISARM, size)
    if old_address:
        # Never "on the stack": no guest handler runs yet.
        process.memory.write(old_address, STACK_T.pack(old.sp, as_int32(old.flags), old.size))
    if new is not None:
        process.alt_stack = new
    return 0


# --- sending --------------------------------------------------------------------------------------

def _targets_only_self(process: GuestProcess, pid: int) -> bool:
    # Process-group and broadcast kills (0, -1, -our group) reach only the guest: the host's
    # group may hold the user's shell pipeline, and -1 every process of the user.
    return pid in (process.pid, 0, -1) or pid == -os.getpgid(0)


def sys_kill(process: GuestProcess, args: list[int]) -> int:
    pid, signo = as_int32(args[0]), as_int32(args[1])
    if not 0 <= signo <= NSIG:
        return -EINVAL
    if _targets_only_self(process, pid):
        if signo:
            deliver_to_self(process, signo)
        return 0
    if pid > 0:
        os.kill(pid, signo)
    else:
        os.killpg(-pid, signo)
    return 0


def sys_tkill(process: GuestProcess, args: list[int]) -> int:
    tid, signo = as_int32(args[0]), as_int32(args[1])
    if tid <= 0 or not 0 <= signo <= NSIG:
        return -EINVAL
    if tid != process.tid:
        return -ESRCH                        # no other thread in this process
    if signo:
        deliver_to_self(process, signo)
    return 0


def sys_tgkill(process: GuestProcess, args: list[int]) -> int:
    tgid, tid, signo = as_int32(args[0]), as_int32(args[1]), as_int32(args[2])
    if tgid <= 0 or tid <= 0 or not 0 <= signo <= NSIG:
        return -EINVAL
    if tgid != process.pid:
        host_calls.tgkill(tgid, tid, signo)
        return 0
    if tid != process.tid:
        return -ESRCH
    if signo:
        deliver_to_self(process, signo)
    return 0


def register_signals(table: SyscallTable) -> None:
    table.register("rt_sigaction", sys_rt_sigaction,
                   (ArgKind.SIGNAL, ArgKind.PTR, ArgKind.PTR, ArgKind.UINT))
    table.register("rt_sigprocmask", sys_rt_sigprocmask,
                   (ArgKind.SIGMASK_HOW, ArgKind.PTR, ArgKind.PTR, ArgKind.UINT))
    table.register("rt_sigpending", sys_rt_sigpending, (ArgKind.PTR, ArgKind.UINT))
    table.register("sigaltstack", sys_sigaltstack, (ArgKind.PTR, ArgKind.PTR))
    table.register("kill", sys_kill, (ArgKind.INT, ArgKind.SIGNAL))
    table.register("tkill", sys_tkill, (ArgKind.INT, ArgKind.SIGNAL))
    table.register("tgkill", sys_tgkill, (ArgKind.INT, ArgKind.INT, ArgKind.SIGNAL))
