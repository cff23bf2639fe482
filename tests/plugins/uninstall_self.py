"""Test plugin: uninstalls itself from inside its N-th instruction callback (after=N), then
reports on stderr how many callbacks it got after asking and whether the completion ran."""
import sys

import plugin_api as api


def install(plugin_id, info, args):
    limit = int(dict(argument.split("=", 1) for argument in args).get("after", "100"))
    state = {"calls": 0, "late": 0, "asked": False}

    def on_insn(vcpu_index, userdata):
        if state["asked"]:
            state["late"] += 1
            return
        state["calls"] += 1
        if state["calls"] == limit:
            state["asked"] = True
            api.uninstall(plugin_id, on_uninstalled)

    def on_uninstalled(plugin_id):
        sys.stderr.write(f"uninstalled after {state['calls']} callbacks, "
                         f"{state['late']} late\n")

    def on_tb(plugin_id, tb):
        for index in range(api.tb_n_insns(tb)):
            api.register_vcpu_insn_exec_cb(api.tb_get_insn(tb, index), on_insn,
                                           api.CbFlags.NO_REGS)

    def on_exit(plugin_id, userdata):
        sys.stderr.write("atexit of an uninstalled plugin\n")   # must never run

    api.register_vcpu_tb_trans_cb(plugin_id, on_tb)
    api.register_atexit_cb(plugin_id, on_exit)
