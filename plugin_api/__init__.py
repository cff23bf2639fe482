"""tcgjit's plugin API: QEMU's qemu-plugin.h, in Python.

A plugin is a Python module (a bundled one, `plugin_api/plugins/NAME.py`, or any `.py` file)
with

    def install(plugin_id, info, args):
        ...register callbacks...

`info` is a `PluginInfo` (target_name "riscv64", version, system_emulation False); `args` the
`key=value` strings given after the plugin's name on the command line
(`-plugin NAME,key=value,...`). install() returns None (or 0); a nonzero value or
`PluginArgumentError` refuses the arguments (one-line error, exit status 1).

The functions are QEMU's, without the `qemu_plugin_` prefix, with the same arguments in the
same order; pointers to memory the plugin owns become scoreboard entries, `void *userdata` any
Python object. See docs/PLUGINS.md for the whole picture and the differences from QEMU.

Handles (blocks, instructions) are valid only inside the translation callback that received
them. Execution callbacks are called from generated code; whatever they raise stops the guest
and ends the run (status 1) with the plugin's name and the traceback.
"""
from __future__ import annotations

from typing import Callable, Optional

from jit.plugin_gen import InlineOp, MemInfo, MemRw
from jit.plugins import (PLUGIN_API_VERSION, CbFlags, Event, PluginApiError,
                         PluginArgumentError, PluginCond, PluginInfo, PluginInsn, PluginTb,
                         PluginVersion, Scoreboard, ScoreboardEntry, active_core)

__all__ = [
    "CbFlags", "InlineOp", "MemInfo", "MemRw", "PLUGIN_API_VERSION", "PluginApiError",
    "PluginArgumentError", "PluginCond", "PluginInfo", "PluginInsn", "PluginTb",
    "PluginVersion", "Scoreboard", "ScoreboardEntry",
    "bool_parse", "get_registers", "insn_data", "insn_disas", "insn_haddr", "insn_size",
    "insn_symbol", "insn_vaddr", "mem_is_big_endian", "mem_is_sign_extended", "mem_is_store",
    "mem_size_shift", "num_vcpus", "outs", "read_memory_vaddr", "read_register",
    "register_atexit_cb", "register_flush_cb", "register_vcpu_exit_cb",
    "register_vcpu_init_cb", "register_vcpu_insn_exec_cb", "register_vcpu_insn_exec_cond_cb",
    "register_vcpu_insn_exec_inline_per_vcpu", "register_vcpu_mem_cb",
    "register_vcpu_mem_inline_per_vcpu", "register_vcpu_syscall_cb",
    "register_vcpu_syscall_ret_cb", "register_vcpu_tb_exec_cb",
    "register_vcpu_tb_exec_inline_per_vcpu", "register_vcpu_tb_trans_cb", "reset",
    "scoreboard_free", "scoreboard_new", "scoreboard_u64", "scoreboard_u64_in_struct",
    "tb_get_insn", "tb_n_insns", "tb_vaddr", "u64_add", "u64_get", "u64_set", "u64_sum",
    "uninstall", "write_register",
]


# --------------------------------------------------------------------------------------------
# Plugin life cycle


def uninstall(plugin_id: int, callback: Optional[Callable[[int], None]] = None) -> None:
    """Remove the plugin: its callbacks are unregistered now; it is gone, and callback(id) is
    called, once generated code that may call it has been flushed (the next return to the
    dispatcher). Callable from any callback."""
    active_core().uninstall(plugin_id, callback)


def reset(plugin_id: int, callback: Optional[Callable[[int], None]] = None) -> None:
    """Unregister all the plugin's callbacks; callback(id) is called once no generated code
    calls them any more. The plugin stays installed and may register again."""
    active_core().reset(plugin_id, callback)


# --------------------------------------------------------------------------------------------
# Callbacks per plugin


def register_vcpu_init_cb(plugin_id: int, callback: Callable[[int, int], None]) -> None:
    """callback(plugin_id, vcpu_index) when a vCPU starts."""
    active_core().register(plugin_id, Event.VCPU_INIT, callback)


def register_vcpu_exit_cb(plugin_id: int, callback: Callable[[int, int], None]) -> None:
    """callback(plugin_id, vcpu_index) when a vCPU stops (the guest ends)."""
    active_core().register(plugin_id, Event.VCPU_EXIT, callback)


def register_vcpu_tb_trans_cb(plugin_id: int, callback: Callable[[int, PluginTb], None]) -> None:
    """callback(plugin_id, tb) for every block translated: register execution callbacks and
    inline ops on the block and its instructions there."""
    active_core().register(plugin_id, Event.VCPU_TB_TRANS, callback)


def register_vcpu_syscall_cb(plugin_id: int, callback: Callable[..., None]) -> None:
    """callback(plugin_id, vcpu_index, number, a1, ..., a8) before each syscall."""
    active_core().register(plugin_id, Event.VCPU_SYSCALL, callback)


def register_vcpu_syscall_ret_cb(plugin_id: int,
                                 callback: Callable[[int, int, int, int], None]) -> None:
    """callback(plugin_id, vcpu_index, number, result) after each syscall that returns."""
    active_core().register(plugin_id, Event.VCPU_SYSCALL_RET, callback)


def register_flush_cb(plugin_id: int, callback: Callable[[int], None]) -> None:
    """callback(plugin_id) after the code cache was flushed."""
    active_core().register(plugin_id, Event.FLUSH, callback)


def register_atexit_cb(plugin_id: int, callback: Callable[[int, object], None],
                       userdata=None) -> None:
    """callback(plugin_id, userdata) when the run ends (also after a fatal guest signal)."""
    active_core().register(plugin_id, Event.ATEXIT, callback, userdata)


# --------------------------------------------------------------------------------------------
# Instrumentation of a translated block (from its translation callback)


def register_vcpu_tb_exec_cb(tb: PluginTb, callback: Callable[[int, object], None],
                             flags: CbFlags, userdata=None) -> None:
    """callback(vcpu_index, userdata) each time the block starts executing."""
    tb.core.register_exec_cb(tb, callback, flags, userdata)


def register_vcpu_tb_exec_inline_per_vcpu(tb: PluginTb, op: InlineOp, entry: ScoreboardEntry,
                                          imm: int) -> None:
    """entry op= imm (the running vCPU's copy) each time the block starts, in generated code."""
    tb.core.register_exec_inline(tb, op, entry, imm)


def register_vcpu_insn_exec_cb(insn: PluginInsn, callback: Callable[[int, object], None],
                               flags: CbFlags, userdata=None) -> None:
    """callback(vcpu_index, userdata) each time the instruction is about to execute."""
    insn.tb.core.register_exec_cb(insn, callback, flags, userdata)


def register_vcpu_insn_exec_inline_per_vcpu(insn: PluginInsn, op: InlineOp,
                                            entry: ScoreboardEntry, imm: int) -> None:
    """entry op= imm each time the instruction is about to execute, in generated code."""
    insn.tb.core.register_exec_inline(insn, op, entry, imm)


def register_vcpu_insn_exec_cond_cb(insn: PluginInsn, callback: Callable[[int, object], None],
                                    flags: CbFlags, cond: PluginCond, entry: ScoreboardEntry,
                                    imm: int, userdata=None) -> None:
    """callback(vcpu_index, userdata) before the instruction when cond(entry, imm) holds
    (unsigned); the test runs in generated code."""
    insn.tb.core.register_cond_cb(insn, callback, flags, cond, entry, imm, userdata)


def register_vcpu_mem_cb(insn: PluginInsn, callback: Callable[[int, MemInfo, int, object], None],
                         flags: CbFlags, rw: MemRw, userdata=None) -> None:
    """callback(vcpu_index, meminfo, vaddr, userdata) after each of the instruction's guest
    memory accesses of kind rw."""
    insn.tb.core.register_mem_cb(insn, callback, flags, rw, userdata)


def register_vcpu_mem_inline_per_vcpu(insn: PluginInsn, rw: MemRw, op: InlineOp,
                                      entry: ScoreboardEntry, imm: int) -> None:
    """entry op= imm after each of the instruction's memory accesses of kind rw."""
    insn.tb.core.register_exec_inline(insn, op, entry, imm, rw=rw, memory=True)


# --------------------------------------------------------------------------------------------
# Blocks, instructions, memory accesses


def tb_n_insns(tb: PluginTb) -> int:
    return tb.n_insns


def tb_vaddr(tb: PluginTb) -> int:
    return tb.vaddr


def tb_get_insn(tb: PluginTb, index: int) -> PluginInsn:
    if not 0 <= index < tb.n_insns:
        raise PluginApiError(f"instruction {index} out of range (the block has "
                             f"{tb.n_insns})")
    return tb.insn(index)


def insn_data(insn: PluginInsn) -> bytes:
    """The instruction's bytes as translated."""
    return insn.data


def insn_size(insn: PluginInsn) -> int:
    return insn.size


def insn_vaddr(insn: PluginInsn) -> int:
    return insn.vaddr


def insn_haddr(insn: PluginInsn) -> int:
    """Host address of the instruction's bytes in the guest address space."""
    return insn.tb.core.host.host_address(insn.vaddr)


def insn_disas(insn: PluginInsn) -> str:
    """The instruction's disassembly (capstone), e.g. `addi a0, a0, 1`."""
    return insn.tb.core.host.disassemble(insn.data, insn.vaddr)


def insn_symbol(insn: PluginInsn) -> Optional[str]:
    """Name of the ELF symbol containing the instruction, or None."""
    return insn.tb.core.host.symbolize(insn.vaddr)


def mem_size_shift(info: MemInfo) -> int:
    return info.size_shift


def mem_is_sign_extended(info: MemInfo) -> bool:
    return info.sign_extended


def mem_is_big_endian(info: MemInfo) -> bool:
    return info.big_endian


def mem_is_store(info: MemInfo) -> bool:
    return info.store


# --------------------------------------------------------------------------------------------
# Guest state, from callbacks


def get_registers() -> list[str]:
    """Names of the guest registers read_register knows (x-register ABI names, pc, f
    registers, fflags, frm, fcsr; x5 / f5 / fp are accepted too)."""
    return active_core().register_names()


def read_register(name: str) -> int:
    """A guest register, from a callback registered with R_REGS or RW_REGS (the register
    allocator writes the guest registers back only for those). `pc` is the callback's
    instruction (or block) address."""
    return active_core().read_register(name)


def write_register(name: str, value: int) -> None:
    """Set a guest register, from a callback registered with RW_REGS."""
    active_core().write_register(name, value)


def read_memory_vaddr(vaddr: int, size: int) -> bytes:
    """Guest memory; PluginApiError where it cannot be read."""
    return active_core().read_memory(vaddr, size)


def num_vcpus() -> int:
    return len(active_core().vcpus)


def outs(text: str) -> None:
    """Plugin output: shown with `-d plugin` (on stderr, or the -D file), like qemu's."""
    active_core().outs(text)


def bool_parse(name: str, value: str) -> bool:
    """A boolean plugin argument: on/off, yes/no, true/false (qemu_plugin_bool_parse)."""
    lowered = value.lower()
    if lowered in ("on", "yes", "true"):
        return True
    if lowered in ("off", "no", "false"):
        return False
    raise PluginArgumentError(f"{name}={value}: expected on or off")


# --------------------------------------------------------------------------------------------
# Scoreboards


def scoreboard_new(n_entries: int = 1) -> Scoreboard:
    """n_entries zeroed u64 entries per vCPU, in host memory generated code updates."""
    return active_core().scoreboard_new(n_entries)


def scoreboard_free(scoreboard: Scoreboard) -> None:
    scoreboard.core.scoreboard_free(scoreboard)


def scoreboard_u64(scoreboard: Scoreboard) -> ScoreboardEntry:
    """The scoreboard's first entry."""
    return ScoreboardEntry(scoreboard, 0)


def scoreboard_u64_in_struct(scoreboard: Scoreboard, index: int) -> ScoreboardEntry:
    """Entry `index` of the scoreboard (QEMU addresses a struct member; here entries are
    numbered u64 fields)."""
    return ScoreboardEntry(scoreboard, index)


def u64_add(entry: ScoreboardEntry, vcpu_index: int, added: int) -> None:
    entry.add(vcpu_index, added)


def u64_get(entry: ScoreboardEntry, vcpu_index: int) -> int:
    return entry.get(vcpu_index)


def u64_set(entry: ScoreboardEntry, vcpu_index: int, value: int) -> None:
    entry.set(vcpu_index, value)


def u64_sum(entry: ScoreboardEntry) -> int:
    """The entry summed over every vCPU."""
    return entry.sum()
