"""Plugin injection at the IR level (jit/plugin_gen.py): empty callbacks emitted during
translation, filled in by copying their templates, or removed.

The guest code is a small RISC-V block (a load, a store, an ecall); requests are made by hand
(no plugin core), and the injected blocks run in the IR interpreter and natively.
"""
from __future__ import annotations

from types import SimpleNamespace

import cffi
import pytest

import plugin_api

from guest.errors import GuestFault
from guest.riscv.cpu import ENV_ARCH_SIZE, OFF_PC, gpr_offset, make_globals
from guest.riscv.translate import RiscvFrontend
from host_x86.testing import HostMemory
from jit.cpustate import CpuEnv
from jit.env import ENV_CPU_INDEX, ENV_PLUGIN_MEM_CBS, ENV_PLUGIN_SCOREBOARDS
from jit.exits import ExitKind, decode_exit
from jit.interp import run_block
from jit.ir import MO_32, CallFlag, Cond, HelperInfo, OpFlag
from jit.optimize import optimize
from jit.plugin_gen import (EMPTY_MEM_HELPER, EMPTY_UDATA_HELPER, CallbackRequest,
                            ConditionalCallbackRequest, EmptyCallbackEmitter, InlineOp,
                            InlineRequest, InsnRequests, MemInfo, MemRw, TbRequests, TemplateMismatch, inject)
from jit.plugins import _CALL_FLAGS, CbFlags, PluginCore
from tests.native_fixtures import code_machine

GLOBALS = make_globals()
CODE_PC = 0x10000
DATA = 0x20000
A0, A1 = 10, 11
CODE = b"".join(word.to_bytes(4, "little") for word in (
    0x00150513,                                                        # addi a0, a0, 1
    (8 << 20) | (A0 << 15) | (3 << 12) | (A1 << 7) | 0x03,             # ld a1, 8(a0)
    (A1 << 20) | (A0 << 15) | (3 << 12) | (16 << 7) | 0x23,            # sd a1, 16(a0)
    0x00000073,                                                        # ecall
))
N_INSNS = 4
ffi = cffi.FFI()


def fetch(pc: int, size: int) -> bytes:
    offset = pc - CODE_PC
    if not (0 <= offset and offset + size <= len(CODE)):
        raise GuestFault(pc)
    return CODE[offset:offset + size]


def translate(emitter=None):
    block = RiscvFrontend(GLOBALS, fetch, emitter).translate(CODE_PC, 1)
    return block, emitter.take(block) if emitter is not None else None


def requests_for(points) -> TbRequests:
    """No requests yet, for the block's instructions."""
    return TbRequests(insns=[InsnRequests() for _ in points.insns])


def names(block) -> list[str]:
    return [op.name for op in block.ops]


class Recorder:
    """Python helpers standing for plugin callbacks: they record their calls."""

    def __init__(self):
        self.calls: list[tuple] = []

    def helper(self, name: str, n_args: int, flags=CallFlag.MAY_STOP) -> HelperInfo:
        return HelperInfo(name, n_args, False, flags,
                          lambda *args: self.calls.append((name, *args)))


def test_no_translation_callback_means_no_markers_and_identical_ops():
    plain, _ = translate()
    again, _ = translate()
    assert plain.dump() == again.dump()
    assert not any(op.opdef.flags & OpFlag.MARKER and op.name.startswith("plugin")
                   for op in plain.ops)


def test_points_are_emitted_at_every_instrumentation_point():
    block, points = translate(EmptyCallbackEmitter())
    starts = [tuple(op.consts) for op in block.ops if op.name == "plugin_cb_start"]
    kinds = [(f.name, t.name) for f, t, _rw in starts]
    per_insn = [("INSN", "MEM_ENABLE"), ("INSN", "UDATA"), ("INSN", "INLINE"), ("INSN", "COND")]
    memory = [("MEM", "MEM"), ("MEM", "INLINE")]
    after = [("AFTER_INSN", "MEM_DISABLE")]
    assert kinds == ([("TB", "UDATA"), ("TB", "INLINE")]
                     + per_insn + after                      # addi
                     + per_insn + memory + after             # ld
                     + per_insn + memory + after             # sd
                     + per_insn + after)                     # ecall (after its exit: dead)
    assert [rw for f, t, rw in starts if f.name == "MEM"] == [MemRw.R] * 2 + [MemRw.W] * 2
    mem_calls = [op for op in block.ops if op.name == "call" and op.consts[0] is EMPTY_MEM_HELPER]
    assert [MemInfo.decode(op.ins[1].value) for op in mem_calls] == [
        MemInfo(3, False, False, False), MemInfo(3, False, False, True)]
    assert len(points.points) == len(starts) and [i.vaddr for i in points.insns] == [
        CODE_PC, CODE_PC + 4, CODE_PC + 8, CODE_PC + 12]
    assert all(insn.size == 4 for insn in points.insns)


def test_block_without_requests_equals_the_uninstrumented_block():
    plain, _ = translate()
    block, points = translate(EmptyCallbackEmitter())
    inject(points, requests_for(points), lambda index: 0)
    assert not any(op.name.startswith("plugin_cb") for op in block.ops)
    optimize(plain)
    optimize(block)
    assert block.dump() == plain.dump()


def test_one_and_two_callbacks_per_point():
    recorder = Recorder()
    first = recorder.helper("first", 2)
    second = recorder.helper("second", 2)
    block, points = translate(EmptyCallbackEmitter())
    requests = requests_for(points)
    requests.callbacks = [CallbackRequest(first, 11)]
    requests.insns[1].callbacks = [CallbackRequest(first, 21), CallbackRequest(second, 22)]
    inject(points, requests, lambda index: 0)
    calls = [op for op in block.ops if op.name == "call"]
    assert [(op.consts[0].name, op.ins[-1].value) for op in calls] == [
        ("first", 11), ("first", 21), ("second", 22)]
    # Each point loads the vCPU index once: the second copy reuses the first copy's load.
    cpu_loads = [op for op in block.ops if op.name == "ld_env" and op.consts[0] == ENV_CPU_INDEX]
    assert len(cpu_loads) == 2
    position = block.ops.index(calls[1])
    assert [op.name for op in block.ops[position - 1:position + 2]] == ["ld_env", "call", "call"]
    assert calls[2].ins[0] is calls[1].ins[0]
    assert EMPTY_UDATA_HELPER not in [op.consts[0] for op in calls]


def test_inline_add_and_store_copies():
    block, points = translate(EmptyCallbackEmitter())
    requests = requests_for(points)
    requests.inline = [InlineRequest(InlineOp.ADD_U64, 8, 5),
                       InlineRequest(InlineOp.STORE_U64, 16, 7)]
    inject(points, requests, lambda index: 0)
    first = next(position for position, op in enumerate(block.ops)
                 if op.name == "ld_env" and op.consts[0] == ENV_PLUGIN_SCOREBOARDS)
    ops = [repr(op) for op in block.ops[first:first + 4]]     # the block start's point
    assert ops == [f"ld_env scoreboards,{ENV_PLUGIN_SCOREBOARDS},u64",
                   "plugin_add_u64 scoreboards,8,5",
                   "st_host $0x7,scoreboards,16,u64",
                   "insn_start 0x10000"]


def test_memory_requests_are_filtered_by_access_kind():
    recorder = Recorder()
    on_read = recorder.helper("read", 4)
    on_any = recorder.helper("any", 4)
    block, points = translate(EmptyCallbackEmitter())
    requests = requests_for(points)
    for insn in requests.insns:
        insn.mem_callbacks = [CallbackRequest(on_read, 1, MemRw.R),
                              CallbackRequest(on_any, 2, MemRw.RW)]
        insn.mem_inline = [InlineRequest(InlineOp.ADD_U64, 0, 1, MemRw.W)]
    inject(points, requests, lambda index: 0)
    calls = [(op.consts[0].name, MemInfo.decode(op.ins[1].value).store)
             for op in block.ops if op.name == "call"]
    assert calls == [("read", False), ("any", False), ("any", True)]
    assert sum(op.name == "plugin_add_u64" for op in block.ops) == 1    # the store's inline op
    # No instruction calls a helper: the memory-helper cell is never touched.
    assert not any(op.name == "st_env" and op.consts[0] == ENV_PLUGIN_MEM_CBS
                   for op in block.ops)


def test_conditional_callback_copy():
    recorder = Recorder()
    helper = recorder.helper("cond", 2)
    block, points = translate(EmptyCallbackEmitter())
    requests = requests_for(points)
    requests.insns[0].conditional = [ConditionalCallbackRequest(helper, 3, Cond.GEU, 24, 10)]
    inject(points, requests, lambda index: 0)
    text = block.dump()
    assert "brcond score,$0xa,ltu,L" in text      # skips the call unless score >= 10
    position = names(block).index("brcond")
    assert names(block)[position - 3:position + 3] == [
        "ld_env", "ld_env", "ld_host", "brcond", "call", "set_label"]


@pytest.mark.parametrize("damage", ["drop_op", "swap_helper", "narrow_load", "reorder"])
def test_copier_rejects_a_changed_template(damage):
    recorder = Recorder()
    block, points = translate(EmptyCallbackEmitter())
    requests = requests_for(points)
    requests.callbacks = [CallbackRequest(recorder.helper("cb", 2), 1)]
    requests.inline = [InlineRequest(InlineOp.ADD_U64, 0, 1)]
    start = block.ops.index(points.points[0].start)    # the block's udata point
    udata_load, udata_call = block.ops[start + 1], block.ops[start + 2]
    inline_start = block.ops.index(points.points[1].start)
    if damage == "drop_op":
        del block.ops[start + 1]
    elif damage == "swap_helper":
        udata_call.consts[0] = EMPTY_MEM_HELPER
    elif damage == "narrow_load":
        block.ops[inline_start + 3].consts[1] = MO_32       # a 32-bit store of the score
    else:
        block.ops[start + 1], block.ops[start + 2] = udata_call, udata_load
    with pytest.raises(TemplateMismatch):
        inject(points, requests, lambda index: 0)


def test_removed_points_need_no_check():
    """A damaged template nobody asked for is just removed, as QEMU does."""
    block, points = translate(EmptyCallbackEmitter())
    start = block.ops.index(points.points[0].start)
    del block.ops[start + 1]
    inject(points, requests_for(points), lambda index: 0)
    assert not any(op.name.startswith("plugin_cb") for op in block.ops)


def test_register_flags_map_to_call_flags():
    assert _CALL_FLAGS[CbFlags.NO_REGS] & CallFlag.NO_READ_GLOBALS
    assert _CALL_FLAGS[CbFlags.NO_REGS] & CallFlag.NO_WRITE_GLOBALS
    assert not _CALL_FLAGS[CbFlags.R_REGS] & CallFlag.NO_READ_GLOBALS
    assert _CALL_FLAGS[CbFlags.R_REGS] & CallFlag.NO_WRITE_GLOBALS
    assert not _CALL_FLAGS[CbFlags.RW_REGS] & (CallFlag.NO_READ_GLOBALS
                                               | CallFlag.NO_WRITE_GLOBALS)
    # Not MAY_STOP: leaving in the middle of a block would run block-level instrumentation
    # again when the guest resumes there.
    assert not any(flags & CallFlag.MAY_STOP for flags in _CALL_FLAGS.values())


# --------------------------------------------------------------------------------------------
# Running injected blocks


machine = code_machine(CODE_PC, CODE, DATA)


def _instrumented_block(recorder: Recorder):
    block, points = translate(EmptyCallbackEmitter())
    requests = requests_for(points)
    requests.inline = [InlineRequest(InlineOp.ADD_U64, 0, N_INSNS)]
    for index, insn in enumerate(requests.insns):
        insn.inline = [InlineRequest(InlineOp.ADD_U64, 8, 1)]
        insn.callbacks = [CallbackRequest(recorder.helper("insn", 2), 100 + index)]
        # Called only while the per-instruction counter is >= 3 (after 2 instructions).
        insn.conditional = [ConditionalCallbackRequest(recorder.helper("cond", 2), index,
                                                       Cond.GEU, 8, 3)]
        insn.mem_callbacks = [CallbackRequest(recorder.helper("mem", 4), 200 + index)]
    inject(points, requests, lambda index: 0)
    return block


def _env_with_scoreboards(regions: list):
    region = ffi.new("uint64_t[]", 4)
    regions.append(region)
    env = CpuEnv(ENV_ARCH_SIZE)
    env.write_u64(ENV_CPU_INDEX, 0)
    env.write_u64(ENV_PLUGIN_SCOREBOARDS, int(ffi.cast("uintptr_t", region)))
    env.write_u64(gpr_offset(A0), DATA - 1)
    env.write_u64(OFF_PC, CODE_PC)
    return env, region


@pytest.mark.parametrize("native", [False, True], ids=["interpreter", "native"])
def test_injected_block_runs(machine, native):
    space, backend = machine
    space.poke(DATA + 8, (0x1234).to_bytes(8, "little"))
    recorder = Recorder()
    block = _instrumented_block(recorder)
    regions: list = []
    env, region = _env_with_scoreboards(regions)
    if native:
        optimize(block)
        value = backend.execute(backend.compile(block, 1), env.addr)
        assert backend.pending_exception is None
    else:
        value = run_block(block, env, space, host_memory=HostMemory())
    assert decode_exit(value)[0] is ExitKind.SYSCALL
    assert region[0] == N_INSNS and region[1] == N_INSNS
    load, store = MemInfo(3, False, False, False).encode(), MemInfo(3, False, False, True).encode()
    assert recorder.calls == [
        ("insn", 0, 100), ("insn", 0, 101), ("mem", 0, load, DATA + 8, 201),
        ("insn", 0, 102), ("cond", 0, 2), ("mem", 0, store, DATA + 16, 202),
        ("insn", 0, 103), ("cond", 0, 3)]
    assert env.read_u64(gpr_offset(A1)) == 0x1234
    assert int.from_bytes(space.peek(DATA + 16, 8), "little") == 0x1234


# --------------------------------------------------------------------------------------------
# Memory accesses made by helpers

RDTIME_CODE = b"".join(word.to_bytes(4, "little") for word in (
    0xC0102573,      # csrr a0, time: the frontend calls a helper
    0x00000073,      # ecall
))


def fetch_rdtime(pc: int, size: int) -> bytes:
    offset = pc - CODE_PC
    if not (0 <= offset and offset + size <= len(RDTIME_CODE)):
        raise GuestFault(pc)
    return RDTIME_CODE[offset:offset + size]


def test_memory_helper_cell_is_set_around_instructions_that_call_helpers():
    emitter = EmptyCallbackEmitter()
    block = RiscvFrontend(GLOBALS, fetch_rdtime, emitter).translate(CODE_PC, 1)
    points = emitter.take(block)
    requests = requests_for(points)
    for insn in requests.insns:      # both instructions want memory callbacks
        insn.mem_inline = [InlineRequest(InlineOp.ADD_U64, 0, 1)]
    inject(points, requests, lambda index: 40 + index)
    cell_stores = [(position, op.ins[0].value) for position, op in enumerate(block.ops)
                   if op.name == "st_env" and op.consts[0] == ENV_PLUGIN_MEM_CBS]
    # Only the csrr calls a helper: set before it, cleared after it and before the exit.
    assert [value for _position, value in cell_stores] == [40, 0, 0]
    helper_call = next(position for position, op in enumerate(block.ops) if op.name == "call")
    assert cell_stores[0][0] < helper_call < cell_stores[1][0]
    assert block.ops[cell_stores[2][0] + 1].name == "exit_tb"


class FetchOnlyHost:
    """The little of a guest the core needs to instrument a block."""

    target_name = "riscv64"
    pc_register = "pc"

    @staticmethod
    def fetch_code(vaddr: int, size: int) -> bytes:
        return fetch_rdtime(vaddr, size)


def test_helper_memory_access_runs_the_instruction_memory_requests():
    """A helper that accesses guest memory reports it: the instruction's memory callbacks and
    memory inline ops run (filtered by r/w), found through the env cell its enable point set."""
    core = PluginCore(FetchOnlyHost())
    env = CpuEnv(ENV_ARCH_SIZE)
    core.start_vcpu(env)
    seen = []
    entry = plugin_api.scoreboard_u64(core.scoreboard_new(1))

    def on_tb(plugin_id, tb):
        insn = plugin_api.tb_get_insn(tb, 0)
        plugin_api.register_vcpu_mem_cb(
            insn, lambda vcpu, info, vaddr, data: seen.append((vcpu, info.store, vaddr, data)),
            plugin_api.CbFlags.NO_REGS, plugin_api.MemRw.W, "udata")
        plugin_api.register_vcpu_mem_inline_per_vcpu(insn, plugin_api.MemRw.RW,
                                                     plugin_api.InlineOp.ADD_U64, entry, 5)

    core.install("probe", SimpleNamespace(install=lambda plugin_id, info, args:
                                          plugin_api.register_vcpu_tb_trans_cb(plugin_id, on_tb)),
                 [])
    block = RiscvFrontend(GLOBALS, fetch_rdtime, core.emitter).translate(CODE_PC, 1)
    core.instrument_block(block)
    handle = next(op.ins[0].value for op in block.ops
                  if op.name == "st_env" and op.consts[0] == ENV_PLUGIN_MEM_CBS)
    store = MemInfo(2, False, False, True)
    core.helper_memory_access(0, 0x1234, store)        # the cell is clear: nothing happens
    env.write_u64(ENV_PLUGIN_MEM_CBS, handle)          # what the enable point does
    core.helper_memory_access(0, 0x1234, store)
    core.helper_memory_access(0, 0x1238, MemInfo(2, False, False, False))   # a read
    assert seen == [(0, True, 0x1234, "udata")]
    assert entry.get(0) == 10
