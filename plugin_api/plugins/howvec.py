"""Histogram of executed instructions by class (qemu's contrib/plugins/howvec.c, with a
RISC-V RV64GC class table).

Arguments:
    inline=on|off   count in generated code (one scoreboard entry per class) or in Python
                    callbacks (on)

Report (plugin output, `-d plugin`), most executed class first:

    Instruction Classes:
    Class: ALU imm                  (1234 hits)
    ...
"""
from __future__ import annotations

import plugin_api as api

# (mask, match, class) over the instruction's bits: the first entry that matches wins.
# 32-bit instructions (low bits 11) by major opcode, refined by funct fields where a major
# opcode holds several classes; compressed ones by quadrant (bits 1:0) and funct3 (15:13).
_C_FUNCT3 = 0xE003
INSN_CLASSES: tuple[tuple[int, int, str], ...] = (
    (0xFE00007F, 0x02000033, "Mul/Div"),
    (0xFE00007F, 0x0200003B, "Mul/Div word"),
    (0x0000707F, 0x00000073, "System"),          # ecall, ebreak
    (0x0000007F, 0x00000073, "CSR"),
    (0x0000007F, 0x00000003, "Load"),
    (0x0000007F, 0x00000023, "Store"),
    (0x0000007F, 0x00000013, "ALU imm"),
    (0x0000007F, 0x0000001B, "ALU imm word"),
    (0x0000007F, 0x00000033, "ALU reg"),
    (0x0000007F, 0x0000003B, "ALU reg word"),
    (0x0000007F, 0x00000037, "LUI/AUIPC"),
    (0x0000007F, 0x00000017, "LUI/AUIPC"),
    (0x0000007F, 0x00000063, "Branch"),
    (0x0000007F, 0x0000006F, "Jump"),
    (0x0000007F, 0x00000067, "Jump"),
    (0x0000007F, 0x0000000F, "Fence"),
    (0x0000007F, 0x0000002F, "Atomic"),
    (0x0000007F, 0x00000007, "FP load"),
    (0x0000007F, 0x00000027, "FP store"),
    (0x0000007F, 0x00000053, "FP arith"),
    (0x00000073, 0x00000043, "FP fused"),        # fmadd fmsub fnmsub fnmadd: 0x43-0x4f
    (0x00000003, 0x00000003, "Other"),
    (0xF07F, 0x8002, "C jump"),                  # c.jr / c.jalr / c.ebreak: rs2 = 0
    (_C_FUNCT3, 0x2000, "C FP load"),            # c.fld
    (_C_FUNCT3, 0x4000, "C load"),               # c.lw
    (_C_FUNCT3, 0x6000, "C load"),               # c.ld
    (_C_FUNCT3, 0xA000, "C FP store"),           # c.fsd
    (_C_FUNCT3, 0xC000, "C store"),              # c.sw
    (_C_FUNCT3, 0xE000, "C store"),              # c.sd
    (_C_FUNCT3, 0xA001, "C jump"),               # c.j
    (_C_FUNCT3, 0xC001, "C branch"),             # c.beqz
    (_C_FUNCT3, 0xE001, "C branch"),             # c.bnez
    (_C_FUNCT3, 0x2002, "C FP load"),            # c.fldsp
    (_C_FUNCT3, 0x4002, "C load"),               # c.lwsp
    (_C_FUNCT3, 0x6002, "C load"),               # c.ldsp
    (_C_FUNCT3, 0xA002, "C FP store"),           # c.fsdsp
    (_C_FUNCT3, 0xC002, "C store"),              # c.swsp
    (_C_FUNCT3, 0xE002, "C store"),              # c.sdsp
    (0x0000, 0x0000, "C ALU"),                   # the rest of the compressed instructions
)
CLASS_NAMES = tuple(dict.fromkeys(name for _mask, _match, name in INSN_CLASSES))


def classify(encoding: int) -> str:
    for mask, match, name in INSN_CLASSES:
        if encoding & mask == match:
            return name
    raise AssertionError("the last entry matches everything")


class ClassHistogram:
    def __init__(self, inline: bool):
        self.inline = inline
        scoreboard = api.scoreboard_new(len(CLASS_NAMES))
        self.counters = {name: api.scoreboard_u64_in_struct(scoreboard, index)
                         for index, name in enumerate(CLASS_NAMES)}

    def on_tb_translated(self, plugin_id: int, tb: api.PluginTb) -> None:
        for index in range(api.tb_n_insns(tb)):
            insn = api.tb_get_insn(tb, index)
            counter = self.counters[classify(int.from_bytes(api.insn_data(insn), "little"))]
            if self.inline:
                api.register_vcpu_insn_exec_inline_per_vcpu(insn, api.InlineOp.ADD_U64,
                                                            counter, 1)
            else:
                api.register_vcpu_insn_exec_cb(insn, self.on_insn, api.CbFlags.NO_REGS,
                                               counter)

    @staticmethod
    def on_insn(vcpu_index: int, counter: api.ScoreboardEntry) -> None:
        counter.add(vcpu_index, 1)

    def on_exit(self, plugin_id: int, userdata) -> None:
        counts = sorted(((counter.sum(), name) for name, counter in self.counters.items()),
                        key=lambda item: (-item[0], item[1]))
        lines = ["Instruction Classes:\n"]
        lines += [f"Class: {name:<24}\t({hits} hits)\n" for hits, name in counts if hits]
        api.outs("".join(lines))


def install(plugin_id: int, info: api.PluginInfo, args: list[str]) -> None:
    inline = True
    for argument in args:
        key, _, value = argument.partition("=")
        if key != "inline":
            raise api.PluginArgumentError(f"unknown argument {argument} (inline=on|off)")
        inline = api.bool_parse(key, value)
    histogram = ClassHistogram(inline)
    api.register_vcpu_tb_trans_cb(plugin_id, histogram.on_tb_translated)
    api.register_atexit_cb(plugin_id, histogram.on_exit)
