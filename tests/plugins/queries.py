"""Test plugin: writes what the query functions say about the first block translated at the
program's entry point, and the plugin info, to stderr."""
import sys

import plugin_api as api


def install(plugin_id, info, args):
    sys.stderr.write(f"info {info.target_name} {info.version.cur} {info.system_emulation}\n")
    seen = []

    def on_tb(plugin_id, tb):
        if seen:
            return
        seen.append(tb)
        sys.stderr.write(f"tb {api.tb_vaddr(tb):#x} {api.tb_n_insns(tb)}\n")
        for index in range(api.tb_n_insns(tb)):
            insn = api.tb_get_insn(tb, index)
            haddr_ok = api.insn_haddr(insn) != 0
            sys.stderr.write(f"insn {api.insn_vaddr(insn):#x} {api.insn_size(insn)} "
                             f"{api.insn_data(insn).hex()} {api.insn_symbol(insn)} "
                             f"haddr={haddr_ok} | {api.insn_disas(insn)}\n")

    api.register_vcpu_tb_trans_cb(plugin_id, on_tb)
