"""Inline instruction counting at (almost) no cost: the fused scoreboard add (`plugin_add_u64`),
the pass that merges per-instruction adds forward (`merge_inline_adds`) and the emitter that
leaves points bare (one record per hook call, templates emitted by the injector on demand).

Counts must stay exact wherever they can be observed: the blocks here fault in the middle, call
callbacks between instructions, and run both in the IR interpreter and natively.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import cffi
import pytest

from guest.errors import GuestFault
from guest.riscv.cpu import ENV_ARCH_SIZE, OFF_PC, gpr_offset, make_globals
from guest.riscv.translate import RiscvFrontend
from jit import emit as E
from jit.cpustate import CpuEnv
from jit.env import ENV_CPU_INDEX, ENV_PLUGIN_SCOREBOARDS
from jit.exits import ExitKind
from jit.ir import MASK64, MO_64, CallFlag, Cond, HelperInfo, MemOp, PluginCbFrom, PluginCbType
from jit.optimize import optimize
from jit.plugin_gen import (CallbackRequest, ConditionalCallbackRequest, CountedAhead,
                            EmptyCallbackEmitter, InlineOp, InlineRequest, InsnRequests,
                            TbRequests, TemplateMismatch, inject, merge_inline_adds)
from tests.native_fixtures import code_machine, run_counting_block

REPO = Path(__file__).resolve().parent.parent
GLOBALS = make_globals()
CODE_PC = 0x10000
DATA = 0x20000          # mapped
UNMAPPED = 0x40000      # never mapped: a load there faults
A0, A1 = 10, 11
ffi = cffi.FFI()


def _addi(rd: int, rs: int, imm: int) -> int:
    return (imm & 0xFFF) << 20 | rs << 15 | rd << 7 | 0x13


def _ld(rd: int, rs: int, imm: int) -> int:
    return (imm & 0xFFF) << 20 | rs << 15 | 3 << 12 | rd << 7 | 0x03


ECALL = 0x00000073
# Three additions, a load (faults when a0 points to unmapped memory), two more, an ecall.
PROGRAM = [_addi(A1, A1, 1), _addi(A1, A1, 2), _addi(A1, A1, 3), _ld(A1, A0, 8),
           _addi(A1, A1, 4), _addi(A1, A1, 5), ECALL]
LOAD_INDEX = 3
CODE = b"".join(word.to_bytes(4, "little") for word in PROGRAM)


def fetch(pc: int, size: int) -> bytes:
    offset = pc - CODE_PC
    if not (0 <= offset and offset + size <= len(CODE)):
        raise GuestFault(pc)
    return CODE[offset:offset + size]


def translate(emitter: EmptyCallbackEmitter):
    block = RiscvFrontend(GLOBALS, fetch, emitter).translate(CODE_PC, 1)
    return block, emitter.take(block)


def no_requests(points) -> TbRequests:
    return TbRequests(insns=[InsnRequests() for _ in points.insns])


def count_per_insn(requests: TbRequests, entry_offset: int = 0) -> None:
    for insn in requests.insns:
        insn.inline.append(InlineRequest(InlineOp.ADD_U64, entry_offset, 1))


def adds(block) -> list[tuple[int, int]]:
    return [tuple(op.consts) for op in block.ops if op.name == "plugin_add_u64"]


machine = code_machine(CODE_PC, CODE, DATA)


def run(machine, block, native: bool, a0: int, points=None):
    """Run the block with a0 = a0; (exit kind, scoreboard region, env). With the block's
    points, a fault takes back what the rewind table says, as the plugin core does for the
    dispatcher (the faulting instruction found from the host pc, or the interpreter's pc)."""
    region = ffi.new("uint64_t[]", 4)
    env = CpuEnv(ENV_ARCH_SIZE)
    env.write_u64(ENV_CPU_INDEX, 0)
    env.write_u64(ENV_PLUGIN_SCOREBOARDS, int(ffi.cast("uintptr_t", region)))
    env.write_u64(gpr_offset(A0), a0)
    env.write_u64(OFF_PC, CODE_PC)
    kind = run_counting_block(machine, block, native, env, points, region)
    return kind, region, env


# --------------------------------------------------------------------------------------------
# merge_inline_adds


def test_per_instruction_adds_merge_across_the_access_with_a_rewind_table():
    block, points = translate(EmptyCallbackEmitter())
    requests = no_requests(points)
    count_per_insn(requests)
    inject(points, requests, lambda index: 0)
    # One add for the whole block, made before the load: instructions 4-6 are counted ahead of
    # its access, and taken back if it faults.
    assert adds(block) == [(0, len(PROGRAM))]
    ahead, = points.counted_ahead
    assert ahead == CountedAhead(0, 0, tuple((index, 1) for index in range(LOAD_INDEX + 1,
                                                                            len(PROGRAM))))
    assert ahead.taken_back(LOAD_INDEX) == len(PROGRAM) - LOAD_INDEX - 1
    assert ahead.taken_back(len(PROGRAM) - 2) == 1
    assert ahead.taken_back(len(PROGRAM) - 1) == 0


def test_adds_to_other_entries_and_the_block_add_merge_independently():
    block, points = translate(EmptyCallbackEmitter())
    requests = no_requests(points)
    requests.inline = [InlineRequest(InlineOp.ADD_U64, 0, 100)]     # per block, same entry
    count_per_insn(requests, 0)
    count_per_insn(requests, 8)
    inject(points, requests, lambda index: 0)
    assert adds(block) == [(0, 100 + len(PROGRAM)), (8, len(PROGRAM))]
    # The block's own add (at its start) is never taken back, only the instructions' adds.
    assert ([(ahead.entry_offset, ahead.first_index, ahead.taken_back(LOAD_INDEX))
             for ahead in points.counted_ahead]
            == [(0, -1, len(PROGRAM) - LOAD_INDEX - 1), (8, 0, len(PROGRAM) - LOAD_INDEX - 1)])


def test_a_callback_between_instructions_stops_merging():
    seen: list[int] = []
    block, points = translate(EmptyCallbackEmitter())
    requests = no_requests(points)
    count_per_insn(requests)
    helper = HelperInfo("watch", 2, False, CallFlag.NO_READ_GLOBALS | CallFlag.NO_WRITE_GLOBALS,
                        lambda vcpu, handle: seen.append(handle))
    requests.insns[1].callbacks = [CallbackRequest(helper, 1)]
    inject(points, requests, lambda index: 0)
    assert adds(block) == [(0, 1), (0, len(PROGRAM) - 1)]
    ahead, = points.counted_ahead
    assert ahead.first_index == 1 and ahead.taken_back(LOAD_INDEX) == 3


def test_a_store_to_the_entry_stops_merging():
    block, points = translate(EmptyCallbackEmitter())
    requests = no_requests(points)
    count_per_insn(requests)
    requests.insns[1].inline.insert(0, InlineRequest(InlineOp.STORE_U64, 0, 1000))
    inject(points, requests, lambda index: 0)
    assert adds(block) == [(0, 1), (0, len(PROGRAM) - 1)]


def test_merging_wraps_modulo_two_to_the_64():
    block, points = translate(EmptyCallbackEmitter())
    requests = no_requests(points)
    for insn in requests.insns:
        insn.inline.append(InlineRequest(InlineOp.ADD_U64, 0, MASK64))     # -1 each
    inject(points, requests, lambda index: 0)
    assert adds(block) == [(0, (-len(PROGRAM)) & MASK64)]
    assert points.counted_ahead[0].taken_back(LOAD_INDEX) == (LOAD_INDEX + 1 - len(PROGRAM)) & MASK64


def test_adds_through_another_pointer_are_left_alone():
    block = E.begin_block(GLOBALS, CODE_PC)
    pointer = E.new_temp("p")
    E.gen_movi(pointer, 0x1000)
    E.gen_plugin_add_u64(pointer, 0, 1)
    E.gen_plugin_add_u64(pointer, 0, 1)
    E.gen_exit_tb(0)
    E.end_block()
    assert merge_inline_adds(block) == ()
    assert adds(block) == [(0, 1), (0, 1)]


def test_guest_state_in_env_does_not_split_a_run_but_a_region_store_does():
    block = E.begin_block(GLOBALS, CODE_PC)
    region = E.new_temp("scoreboards")
    value = E.new_temp("f")
    E.gen_insn_start(CODE_PC)
    E.gen_ld_env(region, ENV_PLUGIN_SCOREBOARDS, MO_64)
    E.gen_plugin_add_u64(region, 0, 1)
    E.gen_ld_env(value, 376, MO_64)
    E.gen_st_env(value, 384, MO_64)            # an f register written back: guest state
    E.gen_insn_start(CODE_PC + 4)
    E.gen_plugin_add_u64(region, 0, 1)
    E.gen_st_env(value, ENV_PLUGIN_SCOREBOARDS, MO_64)     # the region moves: a barrier
    E.gen_insn_start(CODE_PC + 8)
    E.gen_plugin_add_u64(region, 0, 1)
    E.gen_exit_tb(0)
    E.end_block()
    assert merge_inline_adds(block) == ()
    assert adds(block) == [(0, 2), (0, 1)]


@pytest.mark.parametrize("native", [False, True], ids=["interpreter", "native"])
@pytest.mark.parametrize("faults", [False, True], ids=["runs_through", "faults"])
def test_counts_are_exact_with_or_without_a_fault(machine, native, faults):
    block, points = translate(EmptyCallbackEmitter())
    requests = no_requests(points)
    requests.inline = [InlineRequest(InlineOp.ADD_U64, 8, 1)]    # block executions
    count_per_insn(requests)
    inject(points, requests, lambda index: 0)
    kind, region, env = run(machine, block, native, (UNMAPPED if faults else DATA) - 8, points)
    if faults:
        assert kind is ExitKind.FAULT
        assert region[0] == LOAD_INDEX + 1      # up to the faulting instruction, included
    else:
        assert kind is ExitKind.SYSCALL
        assert region[0] == len(PROGRAM)
    assert region[1] == 1
    # a1: 1+2+3 when the load faults; the loaded zero plus 4+5 otherwise.
    assert env.read_u64(gpr_offset(A1)) == (6 if faults else 9)


# --------------------------------------------------------------------------------------------
# plugin_add_u64 itself


@pytest.mark.parametrize("offset, imm", [(0, 1), (8, 0x7FFF_FFFF), (16, 0x8000_0000),
                                         (8, MASK64), (24, 1 << 63), (8, 0x1234_5678_9ABC)])
@pytest.mark.parametrize("native", [False, True], ids=["interpreter", "native"])
def test_plugin_add_u64_adds_any_u64(machine, native, offset, imm):
    block = E.begin_block(GLOBALS, CODE_PC)
    region = E.new_temp("region")
    E.gen_ld_env(region, ENV_PLUGIN_SCOREBOARDS, MemOp(3))
    E.gen_plugin_add_u64(region, offset, imm)
    E.gen_plugin_add_u64(region, offset, imm)
    E.gen_exit_tb(0)
    E.end_block()
    start = 0xFFFF_FFFF_FFFF_FFF0
    kind, region, _ = _run_with_region(machine, block, native, start)
    assert region[offset // 8] == (start + 2 * imm) & MASK64
    assert all(region[index] == start for index in range(4) if index != offset // 8)


def _run_with_region(machine, block, native, initial):
    region = ffi.new("uint64_t[]", 4)
    for index in range(4):
        region[index] = initial
    env = CpuEnv(ENV_ARCH_SIZE)
    env.write_u64(ENV_PLUGIN_SCOREBOARDS, int(ffi.cast("uintptr_t", region)))
    return run_counting_block(machine, block, native, env), region, env


def test_plugin_add_u64_is_kept_and_needs_no_guest_state_sync():
    block = E.begin_block(GLOBALS, CODE_PC)
    region = E.new_temp("region")
    E.gen_ld_env(region, ENV_PLUGIN_SCOREBOARDS, MemOp(3))
    E.gen_plugin_add_u64(region, 0, 1)
    E.gen_exit_tb(0)
    E.end_block()
    optimize(block)
    assert [op.name for op in block.ops] == ["ld_env", "plugin_add_u64", "exit_tb"]
    opdef = block.ops[1].opdef
    assert opdef.host_effect and not opdef.side_effects and not opdef.removable_if_unused


# --------------------------------------------------------------------------------------------
# Bare points: templates only for the kinds requests use


INSN_INLINE = (PluginCbFrom.INSN, PluginCbType.INLINE)


def test_a_bare_emitter_records_one_point_per_hook_call_and_emits_no_template():
    emitter = EmptyCallbackEmitter(templated_kinds=set())
    block, points = translate(emitter)
    assert all(point.bare for point in points.points)
    # Block start, each instruction's start and end, each memory access: one record each.
    accesses = sum(op.name in ("guest_ld", "guest_st")
                   for op in block.ops)
    assert len(points.points) == 1 + 2 * len(PROGRAM) + accesses
    # No template op at all: no scoreboard load, no call, no memory-helper cell store.
    assert not any(op.name == "call" or op.name in ("ld_env", "st_env")
                   and op.consts[0] < 0 for op in block.ops)
    requests = no_requests(points)
    count_per_insn(requests)
    inject(points, requests, lambda index: 0)
    assert adds(block) == [(0, len(PROGRAM))]


def test_a_partly_templated_emitter_templates_only_its_kinds():
    block, points = translate(EmptyCallbackEmitter(templated_kinds={INSN_INLINE}))
    templated = [point for point in points.points if not point.bare]
    assert len(templated) == len(PROGRAM)
    assert all(point.start.consts[:2] == list(INSN_INLINE) for point in templated)


@pytest.mark.parametrize("native", [False, True], ids=["interpreter", "native"])
@pytest.mark.parametrize("templated", [set(), {INSN_INLINE}], ids=["none", "inline"])
def test_bare_and_templated_points_give_the_same_code_and_counts(machine, native, templated):
    results = []
    for emitter in (EmptyCallbackEmitter(), EmptyCallbackEmitter(templated_kinds=templated)):
        seen: list = []
        helper = HelperInfo("insn", 2, False, CallFlag.NONE,
                            lambda vcpu, handle, seen=seen: seen.append(handle))
        on_memory = HelperInfo("mem", 4, False, CallFlag.NONE,
                               lambda vcpu, info, vaddr, handle, seen=seen:
                               seen.append((handle, vaddr)))
        block, points = translate(emitter)
        requests = no_requests(points)
        count_per_insn(requests)
        requests.inline = [InlineRequest(InlineOp.ADD_U64, 8, 1)]
        requests.insns[5].callbacks = [CallbackRequest(helper, 5)]
        requests.insns[LOAD_INDEX].mem_callbacks = [CallbackRequest(on_memory, 7)]
        requests.insns[LOAD_INDEX].conditional = [
            ConditionalCallbackRequest(helper, 6, Cond.GEU, 0, 2)]
        inject(points, requests, lambda index: 0)
        dump = [(op.name, [const for const in op.consts if isinstance(const, int)])
                for op in block.ops]
        kind, region, _ = run(machine, block, native, DATA - 8)
        results.append((dump, kind, region[0], region[1], seen))
    assert results[0] == results[1]
    assert results[0][1:] == (ExitKind.SYSCALL, len(PROGRAM), 1, [6, (7, DATA), 5])


# --------------------------------------------------------------------------------------------
# Whole programs: inline per-instruction counts equal the callback counts, faults included


def _count(program: str, plugin: str) -> int:
    result = subprocess.run([sys.executable, "-m", "tools.cli", "-plugin", plugin, program],
                            cwd=REPO, capture_output=True, text=True, timeout=300,
                            env={**os.environ, "PYTHONPATH": str(REPO)})
    lines = [line for line in result.stderr.splitlines() if line.startswith("insns: ")]
    assert lines, result.stderr
    return int(lines[-1].split()[1])


@pytest.mark.parametrize("program", ["fault_segv", "smc_store", "mem"])
def test_inline_counts_equal_callback_counts(program):
    path = f"tests/guest/bin/{program}"
    recorded = json.loads((REPO / "tests/plugins/qemu_insn_counts.json").read_text())["counts"]
    inline = _count(path, "inscount,inline=on,per=insn")
    assert inline == _count(path, "inscount,inline=off,per=insn")
    if program in recorded:
        assert inline == recorded[program]


def test_a_bare_point_whose_op_is_gone_is_reported():
    emitter = EmptyCallbackEmitter(templated_kinds=set())
    block, points = translate(emitter)
    anchor = next(point.anchor for point in points.points if point.anchor is not None)
    block.ops.remove(anchor)
    requests = no_requests(points)
    requests.inline = [InlineRequest(InlineOp.ADD_U64, 0, len(PROGRAM))]
    count_per_insn(requests)
    with pytest.raises(TemplateMismatch):
        inject(points, requests, lambda index: 0)


def test_bare_points_nobody_asked_for_are_dropped_without_a_look():
    """As a templated point nobody asked for is removed unchecked: a block without requests
    is left as translated, whatever happened to the ops the points follow."""
    emitter = EmptyCallbackEmitter(templated_kinds=set())
    block, points = translate(emitter)
    anchor = next(point.anchor for point in points.points if point.anchor is not None)
    block.ops.remove(anchor)
    translated = list(block.ops)
    inject(points, no_requests(points), lambda index: 0)
    assert block.ops == translated
