"""Executed blocks and how often each ran (qemu's tests/plugin/bb.c, with a per-block list).

Arguments:
    inline=on|off   count in generated code (a scoreboard entry per block) or in Python
                    callbacks (on)

Report (through plugin output: `-d plugin`), one line per block in address order, then the
totals in the format of qemu's bb plugin:

    bb 0x100e8 insns 6 execs 1
    ...
    bb's: 118, insns: 452979

A block translated again (after a flush, or code rewritten) counts under the same line when it
has the same address and size.
"""
from __future__ import annotations

import plugin_api as api


class BlockCounts:
    def __init__(self, inline: bool):
        self.inline = inline
        # (vaddr, n_insns) -> the block's execution counter
        self.counters: dict[tuple[int, int], api.ScoreboardEntry] = {}

    def on_tb_translated(self, plugin_id: int, tb: api.PluginTb) -> None:
        key = (api.tb_vaddr(tb), api.tb_n_insns(tb))
        counter = self.counters.get(key)
        if counter is None:
            counter = api.scoreboard_u64(api.scoreboard_new(1))
            self.counters[key] = counter
        if self.inline:
            api.register_vcpu_tb_exec_inline_per_vcpu(tb, api.InlineOp.ADD_U64, counter, 1)
        else:
            api.register_vcpu_tb_exec_cb(tb, self.on_block, api.CbFlags.NO_REGS, counter)

    @staticmethod
    def on_block(vcpu_index: int, counter: api.ScoreboardEntry) -> None:
        counter.add(vcpu_index, 1)

    def on_exit(self, plugin_id: int, userdata) -> None:
        lines = []
        total_blocks = total_insns = 0
        for (vaddr, n_insns), counter in sorted(self.counters.items()):
            executions = counter.sum()
            if executions:
                lines.append(f"bb {vaddr:#x} insns {n_insns} execs {executions}\n")
            total_blocks += executions
            total_insns += executions * n_insns
        lines.append(f"bb's: {total_blocks}, insns: {total_insns}\n")
        api.outs("".join(lines))


def install(plugin_id: int, info: api.PluginInfo, args: list[str]) -> None:
    inline = True
    for argument in args:
        key, _, value = argument.partition("=")
        if key != "inline":
            raise api.PluginArgumentError(f"unknown argument {argument} (inline=on|off)")
        inline = api.bool_parse(key, value)
    counts = BlockCounts(inline)
    api.register_vcpu_tb_trans_cb(plugin_id, counts.on_tb_translated)
    api.register_atexit_cb(plugin_id, counts.on_exit)
