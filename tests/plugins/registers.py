"""Test plugin: reads and writes guest registers from callbacks.

Before every ecall (an R_REGS instruction callback) it logs `ecall pc=... a7=...`; with
exit_status=N, an RW_REGS callback sets a0 = N before the exit syscalls (93, 94). With
bad_flags=on the ecall callback is registered NO_REGS (reading raises PluginApiError). The
syscall callback logs `syscall NR a0=...` read through read_register.
"""
import sys

import plugin_api as api

ECALL = b"\x73\x00\x00\x00"
EXIT_SYSCALLS = (93, 94)


def install(plugin_id, info, args):
    options = dict(argument.split("=", 1) for argument in args)
    exit_status = int(options["exit_status"]) if "exit_status" in options else None
    read_flags = (api.CbFlags.NO_REGS if options.get("bad_flags") == "on"
                  else api.CbFlags.R_REGS)

    def on_ecall(vcpu_index, userdata):
        sys.stderr.write(f"ecall pc={api.read_register('pc'):#x} "
                         f"a7={api.read_register('a7')} x17={api.read_register('x17')}\n")

    def set_status(vcpu_index, userdata):
        if api.read_register("a7") in EXIT_SYSCALLS:
            api.write_register("a0", exit_status)

    def on_tb(plugin_id, tb):
        for index in range(api.tb_n_insns(tb)):
            insn = api.tb_get_insn(tb, index)
            if api.insn_data(insn) == ECALL:
                api.register_vcpu_insn_exec_cb(insn, on_ecall, read_flags)
                if exit_status is not None:
                    api.register_vcpu_insn_exec_cb(insn, set_status, api.CbFlags.RW_REGS)

    def on_syscall(plugin_id, vcpu_index, number, *args):
        sys.stderr.write(f"syscall {number} a0={api.read_register('a0')}\n")

    api.register_vcpu_tb_trans_cb(plugin_id, on_tb)
    api.register_vcpu_syscall_cb(plugin_id, on_syscall)
