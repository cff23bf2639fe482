"""Inline adds addressed from env (jit/plugins.py `PluginCore.env_region`, jit/plugin_gen.py
`inject`): with a single vCPU, the plugin core maps the scoreboard region within a 32-bit
displacement of the vCPU's env, and an inline ADD becomes one `add_env` at that distance (no
load of the region's address). The counts are those of the env-loading form, faults included;
the merger folds such adds as any other; a second vCPU, or a region that moves, has the code
flushed and what was counted through the old address kept.
"""
from __future__ import annotations

import pytest

import jit.emit as E
from guest.riscv.cpu import ENV_ARCH_SIZE, OFF_PC, gpr_offset, make_globals
from guest.riscv.translate import RiscvFrontend
from jit.cpustate import CpuEnv
from jit.env import ENV_CPU_INDEX, ENV_PLUGIN_SCOREBOARDS
from jit.exits import ExitKind
from jit.ir import MO_64
from jit.plugin_gen import (EmptyCallbackEmitter, InlineOp, InlineRequest, InsnRequests,
                            TbRequests, inject, merge_inline_adds)
from jit.plugins import PluginCore, ScoreboardArena
from tests.native_fixtures import code_machine, run_counting_block
# The counting program: additions, a load that faults when a0 is unmapped, an ecall.
from tests.test_plugin_inline_counting import (CODE, CODE_PC, DATA, LOAD_INDEX, PROGRAM,
                                               UNMAPPED, A0, fetch)

GLOBALS = make_globals()
ENTRY = 1               # the counted scoreboard entry (byte offset 8)


machine = code_machine(CODE_PC, CODE, DATA)


def vcpu() -> tuple[CpuEnv, ScoreboardArena, tuple[int, int]]:
    """An env, an arena with its region near the env, and the region's (displacement, size)."""
    env = CpuEnv(ENV_ARCH_SIZE)
    arena = ScoreboardArena()
    env.write_u64(ENV_CPU_INDEX, 0)
    env.write_u64(ENV_PLUGIN_SCOREBOARDS, arena.add_vcpu(env.addr))
    displacement = arena.region_address(0) - env.addr
    assert -(1 << 31) <= displacement and displacement + arena.capacity * 8 < 1 << 31
    return env, arena, (displacement, arena.capacity * 8)


def counted_block(env_region):
    emitter = EmptyCallbackEmitter(templated_kinds=set())
    block = RiscvFrontend(GLOBALS, fetch, emitter).translate(CODE_PC, 1)
    points = emitter.take(block)
    requests = TbRequests(insns=[InsnRequests() for _ in points.insns])
    for insn in requests.insns:
        insn.inline.append(InlineRequest(InlineOp.ADD_U64, 8 * ENTRY, 1))
    inject(points, requests, lambda index: 0, env_region)
    return block, points


def run(machine, native: bool, env_region_wanted: bool, a0: int) -> tuple[ExitKind, int, list]:
    """Run the counting block with a0 = a0: (exit kind, the count, the block's op names), the
    counts made ahead of a fault taken back as the plugin core does."""
    env, arena, env_region = vcpu()
    block, points = counted_block(env_region if env_region_wanted else None)
    names = [op.name for op in block.ops]
    env.write_u64(gpr_offset(A0), a0)
    env.write_u64(OFF_PC, CODE_PC)
    region = arena.regions[0]
    kind = run_counting_block(machine, block, native, env, points, region)
    return kind, region[ENTRY], names


@pytest.mark.parametrize("native", [True, False])
def test_adds_from_env_count_as_the_loaded_region_does(machine, native):
    for a0, expected in ((DATA - 8, (ExitKind.SYSCALL, len(PROGRAM))),
                         (UNMAPPED, (ExitKind.FAULT, LOAD_INDEX + 1))):
        kind, count, names = run(machine, native, True, a0)
        assert (kind, count) == expected
        # No load of the region's address, no add through it: add_env alone.
        assert "plugin_add_u64" not in names and names.count("ld_env") == 0
        assert run(machine, native, False, a0)[:2] == expected


def test_the_merger_folds_add_envs_of_the_region_only():
    displacement, size = 1 << 20, 1 << 16
    block = E.begin_block(GLOBALS)
    E.gen_add_env(536, 1)                       # guest state (the retired counter): kept
    E.gen_insn_start(CODE_PC)
    E.gen_add_env(displacement + 8, 1)
    E.gen_insn_start(CODE_PC + 4)
    E.gen_add_env(displacement + 8, 2)
    E.gen_add_env(displacement + size, 5)       # past the region: kept
    E.gen_exit_tb(0)
    E.end_block()
    assert merge_inline_adds(block, (displacement, size)) == ()
    assert [(op.name, list(op.consts)) for op in block.ops if op.name == "add_env"] == [
        ("add_env", [536, 1]), ("add_env", [displacement + 8, 3]),
        ("add_env", [displacement + size, 5])]


def test_rewind_entries_are_offsets_in_the_region():
    displacement, size = -(1 << 24), 1 << 16
    block = E.begin_block(GLOBALS)
    base = E.new_temp("base")
    E.gen_insn_start(CODE_PC)
    E.gen_add_env(displacement + 16, 1)
    E.gen_guest_ld(E.new_temp(), base, 0, MO_64)
    E.gen_insn_start(CODE_PC + 4)
    E.gen_add_env(displacement + 16, 1)
    E.gen_exit_tb(0)
    E.end_block()
    rewind = merge_inline_adds(block, (displacement, size))
    assert [(ahead.entry_offset, ahead.first_index, ahead.later) for ahead in rewind] == [
        (16, 0, ((1, 1),))]


class Host:
    target_name = "riscv64"
    pc_register = "pc"


def attached_core() -> tuple[PluginCore, list]:
    events: list = []
    core = PluginCore(Host())
    core.attach(lambda: events.append("safe point"), lambda: events.append("flush"),
                lambda emitter: None)
    return core, events


def test_a_second_vcpu_loads_its_region_from_env_again():
    core, events = attached_core()
    core.start_vcpu(CpuEnv(ENV_ARCH_SIZE))
    assert core.env_region() is not None
    core._translated_since_flush = True     # (blocks of vCPU 0 may use its region's distance)
    core.start_vcpu(CpuEnv(ENV_ARCH_SIZE))
    assert core.env_region() is None
    assert events == ["safe point"]
    core.at_safe_point()
    assert events == ["safe point", "flush"]


def test_a_moved_region_keeps_what_code_counted_through_the_old_address():
    core, events = attached_core()
    env = CpuEnv(ENV_ARCH_SIZE)
    core.arena.capacity = 4                 # (a small region, so that it moves)
    core.start_vcpu(env)
    scoreboard = core.scoreboard_new(2)
    old = core.arena.regions[0]
    old[scoreboard.first + 1] = 5
    core._translated_since_flush = True
    core.scoreboard_new(4)                  # does not fit: the region moves
    assert events == ["safe point"]         # the code with the old distance goes...
    new = core.arena.regions[0]
    assert env.read_u64(ENV_PLUGIN_SCOREBOARDS) == core.arena.region_address(0)
    assert new[scoreboard.first + 1] == 5
    old[scoreboard.first + 1] += 3          # ... but runs until then, counting in the old one
    new[scoreboard.first] = 9               # (a plugin's own write, to the current region)
    core.at_safe_point()
    assert events == ["safe point", "flush"]
    assert (new[scoreboard.first], new[scoreboard.first + 1]) == (9, 8)
    old[scoreboard.first + 1] += 100        # nothing runs with the old address any more
    core.arena.fold_moved()
    assert new[scoreboard.first + 1] == 8


def test_the_region_is_reserved_not_backed():
    # 64 MiB of address space per vCPU costs nothing until used: the region is an anonymous
    # mapping of its own, not Python heap.
    env, arena, (displacement, size) = vcpu()
    assert size == ScoreboardArena.INITIAL_ENTRIES * 8
    region = arena.regions[0]
    region[ScoreboardArena.INITIAL_ENTRIES - 1] = 7     # the last entry is usable
    assert region[ScoreboardArena.INITIAL_ENTRIES - 1] == 7
    assert arena.region_address(0) % 4096 == 0
