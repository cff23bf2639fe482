"""System information: uname, user/group ids, sysinfo, getrandom, CPU affinity and yield,
riscv_hwprobe."""
from __future__ import annotations

import os
from typing import TYPE_CHECKING

from guest.errno_riscv import EFAULT, EINVAL
from guest.syscalls import host_calls
from guest.syscalls.guest_abi import (
    GRND_INSECURE, GRND_NONBLOCK, GRND_RANDOM, SYSINFO, UTSNAME_FIELD_SIZE,
)
from guest.syscalls.registry import ArgKind, SyscallTable, as_int32

if TYPE_CHECKING:
    from guest.process import GuestProcess

GUEST_MACHINE = "riscv64"
# The kernel release the guest sees: recent enough for any libc's minimum-version checks,
# independent of the host kernel.
GUEST_KERNEL_RELEASE = "6.1.0"
# Linux hands out at most this much per getrandom call (larger requests return short).
MAX_GETRANDOM = (1 << 25) - 1
# The guest runs on one CPU (it has one thread): sched_getaffinity reports CPU 0 alone.
GUEST_CPU_COUNT = 1
AT_HWCAP = 16

# riscv_hwprobe keys and values (asm/hwprobe.h).
HWPROBE_PAIR_SIZE = 16
RISCV_HWPROBE_KEY_MVENDORID = 0
RISCV_HWPROBE_KEY_MARCHID = 1
RISCV_HWPROBE_KEY_MIMPID = 2
RISCV_HWPROBE_KEY_BASE_BEHAVIOR = 3
RISCV_HWPROBE_BASE_BEHAVIOR_IMA = 1
RISCV_HWPROBE_KEY_IMA_EXT_0 = 4
RISCV_HWPROBE_IMA_FD = 1 << 0
RISCV_HWPROBE_IMA_C = 1 << 1
RISCV_HWPROBE_KEY_CPUPERF_0 = 5
RISCV_HWPROBE_MISALIGNED_UNKNOWN = 0


def _utsname_field(text: str) -> bytes:
    encoded = text.encode("utf-8", "replace")[:UTSNAME_FIELD_SIZE - 1]
    return encoded.ljust(UTSNAME_FIELD_SIZE, b"\0")


def sys_uname(process: GuestProcess, args: list[int]) -> int:
    host = os.uname()
    fields = ("Linux", host.nodename, GUEST_KERNEL_RELEASE, host.version, GUEST_MACHINE,
              "(none)")
    process.memory.write(args[0], b"".join(_utsname_field(field) for field in fields))
    return 0


def sys_getuid(process: GuestProcess, args: list[int]) -> int:
    return os.getuid()


def sys_geteuid(process: GuestProcess, args: list[int]) -> int:
    return os.geteuid()


def sys_getgid(process: GuestProcess, args: list[int]) -> int:
    return os.getgid()


def sys_getegid(process: GuestProcess, args: list[int]) -> int:
    return os.getegid()


def _write_ids(process: GuestProcess, addresses: list[int], ids: tuple[int, ...]) -> int:
    for address in addresses:
        process.memory.check_writable(address, 4)
    for address, value in zip(addresses, ids):
        process.memory.write_u32(address, value)
    return 0


def sys_getresuid(process: GuestProcess, args: list[int]) -> int:
    return _write_ids(process, args[:3], os.getresuid())


def sys_getresgid(process: GuestProcess, args: list[int]) -> int:
    return _write_ids(process, args[:3], os.getresgid())


def sys_getgroups(process: GuestProcess, args: list[int]) -> int:
    size = as_int32(args[0])
    groups = os.getgroups()
    if size < 0:
        return -EINVAL
    if size == 0:
        return len(groups)                    # the count only
    if size < len(groups):
        return -EINVAL
    process.memory.write(args[1], b"".join(group.to_bytes(4, "little") for group in groups))
    return len(groups)


def sys_sysinfo(process: GuestProcess, args: list[int]) -> int:
    process.memory.check_writable(args[0], SYSINFO.size)
    process.memory.write(args[0], SYSINFO.pack(*host_calls.sysinfo()))
    return 0


def sys_getrandom(process: GuestProcess, args: list[int]) -> int:
    address, count, flags = args[0], args[1], as_int32(args[2])
    if flags & ~(GRND_NONBLOCK | GRND_RANDOM | GRND_INSECURE):
        return -EINVAL
    if flags & GRND_INSECURE and flags & GRND_RANDOM:
        return -EINVAL
    count = min(count, MAX_GETRANDOM)
    if count == 0:
        return 0
    # Like Linux, fill what is writable and return the short count; nothing writable: EFAULT.
    writable = process.memory.writable_prefix(address, count)
    if writable == 0:
        return -EFAULT
    data = os.getrandom(writable, flags)
    process.memory.write(address, data)
    return len(data)


def _cpu_mask(cpus: set[int], cpu_count: int, size: int) -> bytes | int:
    """The kernel's answer for a cpumask: the mask bytes (a whole number of longs, at most
    `size`), or -EINVAL when the buffer cannot hold cpu_count CPUs or is not in longs."""
    if size * 8 < cpu_count or size % 8:
        return -EINVAL
    mask_size = min(size, (cpu_count + 63) // 64 * 8)
    mask = sum(1 << cpu for cpu in cpus if cpu < mask_size * 8)
    return mask.to_bytes(mask_size, "little")


def sys_sched_getaffinity(process: GuestProcess, args: list[int]) -> int:
    pid, size = as_int32(args[0]), args[1] & 0xFFFFFFFF
    if pid in (0, process.pid):
        mask = _cpu_mask({0}, GUEST_CPU_COUNT, size)
    else:
        mask = _cpu_mask(os.sched_getaffinity(pid), os.cpu_count() or 1, size)
    if isinstance(mask, int):
        return mask
    process.memory.write(args[2], mask)
    return len(mask)


def sys_sched_yield(process: GuestProcess, args: list[int]) -> int:
    os.sched_yield()
    return 0


def _ima_extensions(process: GuestProcess) -> int:
    hwcap = dict(process.auxv).get(AT_HWCAP, 0)

    def has(letter: str) -> bool:
        return bool(hwcap & (1 << (ord(letter) - ord("A"))))
    value = 0
    if has("F") and has("D"):
        value |= RISCV_HWPROBE_IMA_FD
    if has("C"):
        value |= RISCV_HWPROBE_IMA_C
    return value


def sys_riscv_hwprobe(process: GuestProcess, args: list[int]) -> int:
    pairs_address, pair_count, flags = args[0], args[1], args[4]
    if flags != 0:
        return -EINVAL
    answers = {
        RISCV_HWPROBE_KEY_MVENDORID: 0,
        RISCV_HWPROBE_KEY_MARCHID: 0,
        RISCV_HWPROBE_KEY_MIMPID: 0,
        RISCV_HWPROBE_KEY_BASE_BEHAVIOR: RISCV_HWPROBE_BASE_BEHAVIOR_IMA,
        RISCV_HWPROBE_KEY_IMA_EXT_0: _ima_extensions(process),
        RISCV_HWPROBE_KEY_CPUPERF_0: RISCV_HWPROBE_MISALIGNED_UNKNOWN,
    }
    memory = process.memory
    memory.check_writable(pairs_address, pair_count * HWPROBE_PAIR_SIZE)
    for index in range(pair_count):
        address = pairs_address + index * HWPROBE_PAIR_SIZE
        key = memory.read_u64(address)
        if key in answers:
            memory.write_u64(address + 8, answers[key])
        else:
            memory.write_u64(address, -1)     # unknown key: key becomes -1, value 0
            memory.write_u64(address + 8, 0)
    return 0


def register_system_info(table: SyscallTable) -> None:
    table.register("uname", sys_uname, (ArgKind.PTR,))
    table.register("getuid", sys_getuid, ())
    table.register("geteuid", sys_geteuid, ())
    table.register("getgid", sys_getgid, ())
    table.register("getegid", sys_getegid, ())
    table.register("getresuid", sys_getresuid, (ArgKind.PTR, ArgKind.PTR, ArgKind.PTR))
    table.register("getresgid", sys_getresgid, (ArgKind.PTR, ArgKind.PTR, ArgKind.PTR))
    table.register("getgroups", sys_getgroups, (ArgKind.INT, ArgKind.PTR))
    table.register("sysinfo", sys_sysinfo, (ArgKind.PTR,))
    table.register("getrandom", sys_getrandom, (ArgKind.OUT_BUFFER, ArgKind.UINT, ArgKind.HEX))
    table.register("sched_getaffinity", sys_sched_getaffinity,
                   (ArgKind.INT, ArgKind.UINT, ArgKind.PTR))
    table.register("sched_yield", sys_sched_yield, ())
    table.register("riscv_hwprobe", sys_riscv_hwprobe,
                   (ArgKind.PTR, ArgKind.UINT, ArgKind.UINT, ArgKind.PTR, ArgKind.HEX))
