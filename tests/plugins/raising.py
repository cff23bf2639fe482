"""Test plugin: raises ValueError from an instruction callback at its N-th call (after=N)."""
import plugin_api as api


def install(plugin_id, info, args):
    limit = int(dict(argument.split("=", 1) for argument in args).get("after", "1000"))
    calls = [0]

    def on_insn(vcpu_index, userdata):
        calls[0] += 1
        if calls[0] == limit:
            raise ValueError(f"stop at call {limit}")

    def on_tb(plugin_id, tb):
        for index in range(api.tb_n_insns(tb)):
            api.register_vcpu_insn_exec_cb(api.tb_get_insn(tb, index), on_insn,
                                           api.CbFlags.NO_REGS)

    api.register_vcpu_tb_trans_cb(plugin_id, on_tb)
