"""What instrumenting a block costs at translation (jit/plugins.py, jit/plugin_gen.py): the
plugin core pays only for what plugins ask. Instruction bytes are read when a plugin asks for
them, instructions without requests get no request lists, a block whose plugins asked for
nothing stays exactly as translated, and an instruction counter's identical requests are one
object.
"""
from __future__ import annotations

from types import SimpleNamespace

import plugin_api as api
from guest.errors import GuestFault
from guest.riscv.cpu import ENV_ARCH_SIZE, make_globals
from guest.riscv.translate import RiscvFrontend
from jit.cpustate import CpuEnv
from jit.env import ENV_PLUGIN_MEM_CBS
from jit.plugins import PluginCore

GLOBALS = make_globals()
CODE_PC = 0x10000
A0, A1 = 10, 11
CODE = b"".join(word.to_bytes(4, "little") for word in (
    0x00150513,                                                        # addi a0, a0, 1
    (8 << 20) | (A0 << 15) | (3 << 12) | (A1 << 7) | 0x03,             # ld a1, 8(a0)
    0x00158593,                                                        # addi a1, a1, 1
    0x00000073,                                                        # ecall
))
N_INSNS = 4


class CountingHost:
    """The little of a guest the core needs; counts the reads of instruction bytes."""

    target_name = "riscv64"
    pc_register = "pc"

    def __init__(self):
        self.fetches: list[tuple[int, int]] = []

    def fetch_code(self, vaddr: int, size: int) -> bytes:
        self.fetches.append((vaddr, size))
        return fetch(vaddr, size)


def fetch(pc: int, size: int) -> bytes:
    offset = pc - CODE_PC
    if not (0 <= offset and offset + size <= len(CODE)):
        raise GuestFault(pc)
    return CODE[offset:offset + size]


def core_with(on_tb) -> tuple[PluginCore, CountingHost]:
    host = CountingHost()
    core = PluginCore(host)
    core.start_vcpu(CpuEnv(ENV_ARCH_SIZE))
    core.install("probe", SimpleNamespace(install=lambda plugin_id, info, args:
                                          api.register_vcpu_tb_trans_cb(plugin_id, on_tb)), [])
    return core, host


def inline_adds(core: PluginCore, block) -> list[tuple[int, int]]:
    """(entry offset, imm) of the block's inline adds, whether they load the region's address
    from env (plugin_add_u64) or add at its distance from env (add_env, `env_region`)."""
    region = core.env_region()
    adds = []
    for op in block.ops:
        if op.name == "plugin_add_u64":
            adds.append(tuple(op.consts))
        elif op.name == "add_env" and region and region[0] <= op.consts[0] < sum(region):
            adds.append((op.consts[0] - region[0], op.consts[1]))
    return adds


def instrumented_block(core: PluginCore):
    block = RiscvFrontend(GLOBALS, fetch, core.emitter).translate(CODE_PC, 1)
    translated = list(block.ops)
    core.instrument_block(block)
    return block, translated


def test_a_block_nobody_instruments_stays_as_translated_and_its_bytes_unread():
    seen = []
    core, host = core_with(lambda plugin_id, tb: seen.append(api.tb_n_insns(tb)))
    block, translated = instrumented_block(core)
    assert seen == [N_INSNS]
    assert block.ops == translated
    assert host.fetches == []


def test_instruction_bytes_are_read_when_asked_for_once():
    data = []

    def on_tb(plugin_id, tb):
        insn = api.tb_get_insn(tb, 1)
        data.append(api.insn_data(insn))
        data.append(api.insn_data(insn))
        data.append((api.insn_vaddr(insn), api.insn_size(insn)))

    core, host = core_with(on_tb)
    instrumented_block(core)
    assert data == [CODE[4:8], CODE[4:8], (CODE_PC + 4, 4)]
    assert host.fetches == [(CODE_PC + 4, 4)]


def test_counting_per_instruction_fetches_nothing_and_shares_one_request():
    tbs = []

    def on_tb(plugin_id, tb):
        tbs.append(tb)
        for index in range(api.tb_n_insns(tb)):
            if index != 2:
                api.register_vcpu_insn_exec_inline_per_vcpu(
                    api.tb_get_insn(tb, index), api.InlineOp.ADD_U64, entry, 1)

    core, host = core_with(on_tb)
    entry = api.scoreboard_u64(core.scoreboard_new(1))
    block, _ = instrumented_block(core)
    assert host.fetches == []
    requests = tbs[0].requests.insns
    assert requests[2] is None                    # no request: no request lists
    inline = [insn.inline[0] for insn in requests if insn is not None]
    assert len(inline) == N_INSNS - 1 and all(request is inline[0] for request in inline)
    # The three adds before the ecall's exit are one (the ecall has none).
    assert inline_adds(core, block) == [(entry.offset, N_INSNS - 1)]


def test_memory_requests_of_one_instruction_fill_only_its_points():
    def on_tb(plugin_id, tb):
        api.register_vcpu_mem_inline_per_vcpu(api.tb_get_insn(tb, 1), api.MemRw.R,
                                              api.InlineOp.ADD_U64, entry, 7)

    core, _host = core_with(on_tb)
    entry = api.scoreboard_u64(core.scoreboard_new(1))
    block, _ = instrumented_block(core)
    names = [op.name for op in block.ops]
    assert inline_adds(core, block) == [(entry.offset, 7)]
    # After the load, not before it: a load that faults is not counted.
    region = core.env_region()
    add_index = next(index for index, op in enumerate(block.ops)
                     if op.name == "plugin_add_u64" or op.name == "add_env"
                     and region and region[0] <= op.consts[0] < sum(region))
    assert names.index("guest_ld") < add_index
    # The load does not call a helper: no memory-helper cell is set.
    assert not any(op.name == "st_env" and op.consts[0] == ENV_PLUGIN_MEM_CBS
                   for op in block.ops)
