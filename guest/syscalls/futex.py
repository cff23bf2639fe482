"""futex for a guest with one thread (clone is not supported, so there is no other thread).

With nobody else to wake it, a wait behaves as Linux would for a lone thread:
- FUTEX_WAIT / FUTEX_WAIT_BITSET: -EAGAIN if the futex word differs from the expected value;
  otherwise it sleeps out the timeout and returns -ETIMEDOUT, or, without a timeout, would block
  forever: the run ends with GuestDeadlock and a message saying which futex (Linux would hang).
- Wakes wake nobody (0); FUTEX_WAKE_OP still performs its atomic operation on the second word;
  requeues move nobody (FUTEX_CMP_REQUEUE still compares).
- Priority-inheritance locks: a free lock is taken (the word becomes our tid), our own is
  -EDEADLK, one owned by any other tid has no such thread in this process: -ESRCH, as Linux
  answers for an owner that does not exist. Unlocking needs ownership (-EPERM).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from guest.errno_riscv import EAGAIN, EDEADLK, EINTR, EINVAL, ENOSYS, EPERM, ESRCH, ETIMEDOUT
from guest.process import GuestDeadlock
from guest.syscalls import host_calls
from guest.syscalls.guest_abi import (
    CLOCK_MONOTONIC, CLOCK_REALTIME, FUTEX_CLOCK_REALTIME, FUTEX_CMD_MASK, FUTEX_CMP_REQUEUE,
    FUTEX_LOCK_PI, FUTEX_LOCK_PI2, FUTEX_OWNER_DIED, FUTEX_REQUEUE, FUTEX_TID_MASK,
    FUTEX_TRYLOCK_PI, FUTEX_UNLOCK_PI, FUTEX_WAIT, FUTEX_WAIT_BITSET, FUTEX_WAKE,
    FUTEX_WAKE_BITSET, FUTEX_WAKE_OP, NSEC_PER_SEC, TIMER_ABSTIME, TIMESPEC,
)
from guest.syscalls.registry import ArgKind, SyscallTable, as_int32

if TYPE_CHECKING:
    from guest.process import GuestProcess

U32_MASK = 0xFFFFFFFF
HOST_EINTR = 4

# FUTEX_WAKE_OP's encoded operation (val3): op<<28 | cmp<<24 | oparg<<12 | cmparg.
FUTEX_OP_OPARG_SHIFT = 8
_WAKE_OPERATIONS = {
    0: lambda old, operand: operand,                 # FUTEX_OP_SET
    1: lambda old, operand: old + operand,           # FUTEX_OP_ADD
    2: lambda old, operand: old | operand,           # FUTEX_OP_OR
    3: lambda old, operand: old & ~operand,          # FUTEX_OP_ANDN
    4: lambda old, operand: old ^ operand,           # FUTEX_OP_XOR
}
# FUTEX_OP_CMP_EQ, NE, LT, LE, GT, GE: the comparison only decides whether waiters on the second
# word are woken, and there are none; it is still validated like Linux does.
_WAKE_COMPARISONS = frozenset(range(6))


def _sign_extend_12(value: int) -> int:
    value &= 0xFFF
    return value - 0x1000 if value & 0x800 else value


def _read_timeout(process: GuestProcess, address: int) -> tuple[int, int] | int | None:
    """The (seconds, nanoseconds) at address, None for NULL, or -EINVAL."""
    if address == 0:
        return None
    seconds, nanoseconds = TIMESPEC.unpack(process.memory.read(address, TIMESPEC.size))
    if seconds < 0 or not 0 <= nanoseconds < NSEC_PER_SEC:
        return -EINVAL
    return seconds, nanoseconds


def _sleep_out(clock: int, absolute: bool, timeout: tuple[int, int]) -> int:
    """Wait until the timeout passes: -ETIMEDOUT, or -EINTR if a host signal interrupts."""
    error, _remaining = host_calls.clock_nanosleep(clock, TIMER_ABSTIME if absolute else 0,
                                                   *timeout)
    return -EINTR if error == HOST_EINTR else -ETIMEDOUT


def _wait(process: GuestProcess, address: int, expected: int, timeout_address: int,
          absolute: bool, clock: int) -> int:
    if process.memory.read_u32(address) != expected & U32_MASK:
        return -EAGAIN
    timeout = _read_timeout(process, timeout_address)
    if isinstance(timeout, int):
        return timeout
    if timeout is None:
        raise GuestDeadlock(f"futex wait at 0x{address:x} without timeout, and the guest has "
                            f"no other thread to wake it")
    return _sleep_out(clock, absolute, timeout)


def _wake_op(process: GuestProcess, second_address: int, encoded: int) -> int:
    operation = (encoded >> 28) & 7
    comparison = (encoded >> 24) & 15
    operand = _sign_extend_12(encoded >> 12)
    if (encoded >> 28) & FUTEX_OP_OPARG_SHIFT:
        operand = 1 << (operand & 31)
    if operation not in _WAKE_OPERATIONS or comparison not in _WAKE_COMPARISONS:
        return -ENOSYS
    if second_address & 3:
        return -EINVAL
    old = process.memory.read_u32(second_address)
    process.memory.write_u32(second_address, _WAKE_OPERATIONS[operation](old, operand))
    return 0


def _lock_pi(process: GuestProcess, address: int) -> int:
    value = process.memory.read_u32(address)
    owner = value & FUTEX_TID_MASK
    if owner == 0:
        process.memory.write_u32(address, process.tid | (value & FUTEX_OWNER_DIED))
        return 0
    if owner == process.tid:
        return -EDEADLK
    return -ESRCH


def _unlock_pi(process: GuestProcess, address: int) -> int:
    if process.memory.read_u32(address) & FUTEX_TID_MASK != process.tid:
        return -EPERM
    process.memory.write_u32(address, 0)
    return 0


def sys_futex(process: GuestProcess, args: list[int]) -> int:
    address, raw_op, value, timeout_address, second_address, value3 = args
    op = as_int32(raw_op)
    command = op & FUTEX_CMD_MASK
    realtime = bool(op & FUTEX_CLOCK_REALTIME)
    if address & 3:
        return -EINVAL
    if realtime and command not in (FUTEX_WAIT, FUTEX_WAIT_BITSET, FUTEX_LOCK_PI2):
        return -ENOSYS
    clock = CLOCK_REALTIME if realtime else CLOCK_MONOTONIC
    if command == FUTEX_WAIT:
        return _wait(process, address, value, timeout_address, absolute=False, clock=clock)
    if command == FUTEX_WAIT_BITSET:
        if value3 & U32_MASK == 0:
            return -EINVAL
        return _wait(process, address, value, timeout_address, absolute=True, clock=clock)
    if command in (FUTEX_WAKE, FUTEX_WAKE_BITSET):
        if command == FUTEX_WAKE_BITSET and value3 & U32_MASK == 0:
            return -EINVAL
        return 0
    if command == FUTEX_REQUEUE:
        return 0
    if command == FUTEX_CMP_REQUEUE:
        return -EAGAIN if process.memory.read_u32(address) != value3 & U32_MASK else 0
    if command == FUTEX_WAKE_OP:
        return _wake_op(process, second_address, value3)
    if command in (FUTEX_LOCK_PI, FUTEX_LOCK_PI2, FUTEX_TRYLOCK_PI):
        return _lock_pi(process, address)
    if command == FUTEX_UNLOCK_PI:
        return _unlock_pi(process, address)
    return -ENOSYS


def register_futex(table: SyscallTable) -> None:
    table.register("futex", sys_futex, (ArgKind.PTR, ArgKind.FUTEX_OP, ArgKind.UINT,
                                        ArgKind.PTR, ArgKind.PTR, ArgKind.HEX))
