"""Count executed guest instructions; print `insns: N` on stderr at exit (qemu's insn plugin
line).

Arguments:
    inline=on|off   count in generated code (a scoreboard add) or in Python callbacks (on)
    per=tb|insn     one count per executed block (by its size) or per instruction (tb)

Every combination gives the same number, except for a guest killed by a fault in the middle of
a block: per=tb has counted the whole block when it started, per=insn only the instructions up
to the faulting one.

Unlike qemu's insn plugin, whose line goes through qemu_plugin_outs and so needs `-d plugin`,
the line is always written to stderr.
"""
from __future__ import annotations

import sys
from collections import defaultdict

import plugin_api as api


class InstructionCounter:
    def __init__(self, inline: bool, per_block: bool):
        self.inline = inline
        self.per_block = per_block
        self.count = api.scoreboard_u64(api.scoreboard_new(1))     # counted inline
        self.counted_in_callbacks: defaultdict[int, int] = defaultdict(int)   # by vCPU

    def on_tb_translated(self, plugin_id: int, tb: api.PluginTb) -> None:
        if self.per_block:
            n_insns = api.tb_n_insns(tb)
            if self.inline:
                api.register_vcpu_tb_exec_inline_per_vcpu(tb, api.InlineOp.ADD_U64, self.count,
                                                          n_insns)
            else:
                api.register_vcpu_tb_exec_cb(tb, self.on_executed, api.CbFlags.NO_REGS, n_insns)
            return
        for index in range(api.tb_n_insns(tb)):
            insn = api.tb_get_insn(tb, index)
            if self.inline:
                api.register_vcpu_insn_exec_inline_per_vcpu(insn, api.InlineOp.ADD_U64,
                                                            self.count, 1)
            else:
                api.register_vcpu_insn_exec_cb(insn, self.on_executed, api.CbFlags.NO_REGS, 1)

    def on_executed(self, vcpu_index: int, n_insns: int) -> None:
        # A Python int per vCPU: cheaper than a scoreboard update on this per-call path.
        self.counted_in_callbacks[vcpu_index] += n_insns

    def on_exit(self, plugin_id: int, userdata) -> None:
        total = self.count.sum() + sum(self.counted_in_callbacks.values())
        sys.stderr.write(f"insns: {total}\n")
        sys.stderr.flush()


def install(plugin_id: int, info: api.PluginInfo, args: list[str]) -> None:
    inline, per_block = True, True
    for argument in args:
        key, _, value = argument.partition("=")
        if key == "inline":
            inline = api.bool_parse(key, value)
        elif key == "per" and value in ("tb", "insn"):
            per_block = value == "tb"
        else:
            raise api.PluginArgumentError(f"unknown argument {argument} "
                                          f"(inline=on|off, per=tb|insn)")
    counter = InstructionCounter(inline, per_block)
    api.register_vcpu_tb_trans_cb(plugin_id, counter.on_tb_translated)
    api.register_atexit_cb(plugin_id, counter.on_exit)
