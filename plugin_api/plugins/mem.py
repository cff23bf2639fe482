"""Guest memory accesses, counted by kind (qemu's tests/plugin/mem.c).

Arguments:
    inline=on|off   count in generated code (memory inline ops filtered by r/w) or in a Python
                    memory callback (on)
    track=r|w|rw    which accesses to count (rw)

Report (plugin output, `-d plugin`):

    loads: 1234
    stores: 567
    mem accesses: 1801
"""
from __future__ import annotations

import plugin_api as api

_TRACK = {"r": api.MemRw.R, "w": api.MemRw.W, "rw": api.MemRw.RW}


class MemoryCounts:
    def __init__(self, inline: bool, track: api.MemRw):
        self.inline = inline
        self.track = track
        scoreboard = api.scoreboard_new(2)
        self.loads = api.scoreboard_u64_in_struct(scoreboard, 0)
        self.stores = api.scoreboard_u64_in_struct(scoreboard, 1)

    def on_tb_translated(self, plugin_id: int, tb: api.PluginTb) -> None:
        for index in range(api.tb_n_insns(tb)):
            insn = api.tb_get_insn(tb, index)
            if not self.inline:
                api.register_vcpu_mem_cb(insn, self.on_access, api.CbFlags.NO_REGS, self.track)
                continue
            for kind, counter in ((api.MemRw.R, self.loads), (api.MemRw.W, self.stores)):
                if kind & self.track:
                    api.register_vcpu_mem_inline_per_vcpu(insn, kind, api.InlineOp.ADD_U64,
                                                          counter, 1)

    def on_access(self, vcpu_index: int, info: api.MemInfo, vaddr: int, userdata) -> None:
        (self.stores if api.mem_is_store(info) else self.loads).add(vcpu_index, 1)

    def on_exit(self, plugin_id: int, userdata) -> None:
        loads, stores = self.loads.sum(), self.stores.sum()
        api.outs(f"loads: {loads}\nstores: {stores}\nmem accesses: {loads + stores}\n")


def install(plugin_id: int, info: api.PluginInfo, args: list[str]) -> None:
    inline, track = True, api.MemRw.RW
    for argument in args:
        key, _, value = argument.partition("=")
        if key == "inline":
            inline = api.bool_parse(key, value)
        elif key == "track" and value in _TRACK:
            track = _TRACK[value]
        else:
            raise api.PluginArgumentError(f"unknown argument {argument} "
                                          f"(inline=on|off, track=r|w|rw)")
    counts = MemoryCounts(inline, track)
    api.register_vcpu_tb_trans_cb(plugin_id, counts.on_tb_translated)
    api.register_atexit_cb(plugin_id, counts.on_exit)
