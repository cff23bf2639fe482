"""Every executed instruction with its disassembly and its memory accesses (qemu's
contrib/plugins/execlog.c).

Arguments:
    file=PATH   write the log there (default: plugin output, shown with `-d plugin`)

One line per executed instruction, in qemu's execlog format; the memory accesses the
instruction made follow on its line:

    0, 0x100e8, 0x00100513, "li a0, 1"
    0, 0x10120, 0x00b53023, "sd a1, 0(a0)", store, 0x11000

The encoding shows the instruction's own bytes (4 hex digits for a compressed one). A line is
written when the next instruction starts (its accesses are known then) and at exit.
"""
from __future__ import annotations

from typing import Optional, TextIO

import plugin_api as api


class ExecLog:
    def __init__(self, output: Optional[TextIO]):
        self.output = output
        self.pending: Optional[list[str]] = None      # the last instruction's line, in parts

    def _write(self, text: str) -> None:
        if self.output is not None:
            self.output.write(text)
        else:
            api.outs(text)

    def on_tb_translated(self, plugin_id: int, tb: api.PluginTb) -> None:
        for index in range(api.tb_n_insns(tb)):
            insn = api.tb_get_insn(tb, index)
            encoding = int.from_bytes(api.insn_data(insn), "little")
            digits = 2 * api.insn_size(insn)
            line = (f"0x{api.insn_vaddr(insn):x}, 0x{encoding:0{digits}x}, "
                    f"\"{api.insn_disas(insn)}\"")
            api.register_vcpu_insn_exec_cb(insn, self.on_insn, api.CbFlags.NO_REGS, line)
            api.register_vcpu_mem_cb(insn, self.on_access, api.CbFlags.NO_REGS, api.MemRw.RW)

    def on_insn(self, vcpu_index: int, line: str) -> None:
        if self.pending is not None:
            self._write("".join(self.pending) + "\n")
        self.pending = [f"{vcpu_index}, ", line]

    def on_access(self, vcpu_index: int, info: api.MemInfo, vaddr: int, userdata) -> None:
        kind = "store" if api.mem_is_store(info) else "load"
        self.pending.append(f", {kind}, 0x{vaddr:08x}")

    def on_exit(self, plugin_id: int, userdata) -> None:
        if self.pending is not None:
            self._write("".join(self.pending) + "\n")
            self.pending = None
        if self.output is not None:
            self.output.close()


def install(plugin_id: int, info: api.PluginInfo, args: list[str]) -> None:
    path = None
    for argument in args:
        key, _, value = argument.partition("=")
        if key != "file" or not value:
            raise api.PluginArgumentError(f"unknown argument {argument} (file=PATH)")
        path = value
    output = None
    if path is not None:
        try:
            output = open(path, "w", buffering=1 << 16)
        except OSError as error:
            raise api.PluginArgumentError(f"cannot open {path}: {error.strerror}") from None
    log = ExecLog(output)
    api.register_vcpu_tb_trans_cb(plugin_id, log.on_tb_translated)
    api.register_atexit_cb(plugin_id, log.on_exit)
