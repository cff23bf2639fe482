"""The blocks that executed the most instructions, with the symbol they belong to (qemu's
contrib/plugins/hotblocks.c).

Arguments:
    limit=N     how many blocks to list (20)

Report (plugin output, `-d plugin`):

    collected 118 blocks
    pc, symbol, insns, execs, executed insns
    0x10230, sieve, 4, 199998, 799992
    ...

Executions are counted in generated code (one scoreboard entry per block).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import plugin_api as api


@dataclass
class HotBlock:
    vaddr: int
    n_insns: int
    symbol: Optional[str]
    executions: api.ScoreboardEntry


class HotBlocks:
    def __init__(self, limit: int):
        self.limit = limit
        self.blocks: dict[tuple[int, int], HotBlock] = {}

    def on_tb_translated(self, plugin_id: int, tb: api.PluginTb) -> None:
        key = (api.tb_vaddr(tb), api.tb_n_insns(tb))
        block = self.blocks.get(key)
        if block is None:
            first = api.tb_get_insn(tb, 0)
            block = HotBlock(key[0], key[1], api.insn_symbol(first),
                             api.scoreboard_u64(api.scoreboard_new(1)))
            self.blocks[key] = block
        api.register_vcpu_tb_exec_inline_per_vcpu(tb, api.InlineOp.ADD_U64, block.executions, 1)

    def on_exit(self, plugin_id: int, userdata) -> None:
        ranked = sorted(self.blocks.values(),
                        key=lambda block: (-block.executions.sum() * block.n_insns, block.vaddr))
        lines = [f"collected {len(self.blocks)} blocks\n",
                 "pc, symbol, insns, execs, executed insns\n"]
        for block in ranked[:self.limit]:
            executions = block.executions.sum()
            lines.append(f"{block.vaddr:#x}, {block.symbol or '?'}, {block.n_insns}, "
                         f"{executions}, {executions * block.n_insns}\n")
        api.outs("".join(lines))


def install(plugin_id: int, info: api.PluginInfo, args: list[str]) -> None:
    limit = 20
    for argument in args:
        key, _, value = argument.partition("=")
        if key != "limit" or not value.isdigit() or int(value) < 1:
            raise api.PluginArgumentError(f"unknown argument {argument} (limit=N, N >= 1)")
        limit = int(value)
    hot = HotBlocks(limit)
    api.register_vcpu_tb_trans_cb(plugin_id, hot.on_tb_translated)
    api.register_atexit_cb(plugin_id, hot.on_exit)
