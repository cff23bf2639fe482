"""Guest system calls: how often each was made and how many failed (qemu's
tests/plugin/syscall.c), and optionally a trace.

Arguments:
    print=on|off    trace each call and its result as it happens (off)

Report (plugin output, `-d plugin`), by number of calls:

    syscall no.  calls  errors
    64           12     0
    ...

Trace lines: `syscall 64(0x1, 0x10460, 0x14, 0x0, 0x0, 0x0)` and `syscall 64 = 20`.
"""
from __future__ import annotations

from dataclasses import dataclass

import plugin_api as api

_TRACED_ARGS = 6     # RISC-V passes syscall arguments in a0-a5
_ERRNO_LIMIT = 4096  # results in [-4095, -1] are -errno


@dataclass
class SyscallStats:
    calls: int = 0
    errors: int = 0


class SyscallCounts:
    def __init__(self, trace: bool):
        self.trace = trace
        self.stats: dict[int, SyscallStats] = {}

    def on_syscall(self, plugin_id: int, vcpu_index: int, number: int, *args: int) -> None:
        self.stats.setdefault(number, SyscallStats()).calls += 1
        if self.trace:
            shown = ", ".join(f"{arg:#x}" for arg in args[:_TRACED_ARGS])
            api.outs(f"syscall {number}({shown})\n")

    def on_syscall_return(self, plugin_id: int, vcpu_index: int, number: int,
                          result: int) -> None:
        signed = result - (1 << 64) if result >> 63 else result
        if -_ERRNO_LIMIT < signed < 0:
            self.stats.setdefault(number, SyscallStats()).errors += 1
        if self.trace:
            api.outs(f"syscall {number} = {signed}\n")

    def on_exit(self, plugin_id: int, userdata) -> None:
        lines = ["syscall no.  calls  errors\n"]
        for number, stats in sorted(self.stats.items(), key=lambda item: (-item[1].calls,
                                                                          item[0])):
            lines.append(f"{number:<12} {stats.calls:<6} {stats.errors}\n")
        api.outs("".join(lines))


def install(plugin_id: int, info: api.PluginInfo, args: list[str]) -> None:
    trace = False
    for argument in args:
        key, _, value = argument.partition("=")
        if key != "print":
            raise api.PluginArgumentError(f"unknown argument {argument} (print=on|off)")
        trace = api.bool_parse(key, value)
    counts = SyscallCounts(trace)
    api.register_vcpu_syscall_cb(plugin_id, counts.on_syscall)
    api.register_vcpu_syscall_ret_cb(plugin_id, counts.on_syscall_return)
    api.register_atexit_cb(plugin_id, counts.on_exit)
