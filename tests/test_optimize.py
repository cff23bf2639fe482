"""The optimizer: every value op with every interesting constant in every operand position (and
the same temp twice) computes the same after optimization as before; and the optimizer does the
folding, propagation and dead-code removal it promises."""
from __future__ import annotations

import itertools

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis import example, given

from guest.riscv.cpu import ENV_ARCH_SIZE, make_globals
from jit import emit as E
from jit.cpustate import CpuEnv
from jit.interp import run_block
from jit.ir import (INT64_MIN, MASK64, MO_8, MO_16, MO_32, MO_64, OPS, VALUE_OPS, CallFlag, Cond,
                    HelperInfo, MemOp)
from jit.optimize import optimize

G = make_globals()
A0, A1, A2, A3 = (G.by_name[name] for name in ("a0", "a1", "a2", "a3"))
INTERESTING = (0, 1, 2, 3, 31, 32, 63, 64, 0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFF,
               INT64_MIN, INT64_MIN - 1, MASK64, MASK64 - 1)
# Values the non-constant operand takes at run time.
RUNTIME_VALUES = (0, 1, 7, MASK64, INT64_MIN, 0x1234_5678_9ABC_DEF0)


def _operand_shapes(n_inputs: int):
    """Per input: "x" = global a1 (runtime value), "y" = global a2, or an int constant."""
    choices = ["x", "y"] + list(INTERESTING)
    if n_inputs <= 2:
        return list(itertools.product(choices, repeat=n_inputs))
    # movcond: vary the compared operands fully, the selected ones a little.
    return [(a, b, "x", "y") for a, b in itertools.product(choices, repeat=2)] + \
        [("x", "y", t, f) for t, f in itertools.product(["x", 0, MASK64], repeat=2)]


def _block_for(name: str, shape, cond):
    E.begin_block(G, 0x1000)
    E.gen_insn_start(0x1000)
    inputs = [A1 if part == "x" else A2 if part == "y" else E.const(part) for part in shape]
    opdef = OPS[name]
    E.current_block().ops.append(E.make_op(opdef, [A0], inputs, [cond] if opdef.consts else []))
    # A use of the result through a local, so that copy propagation has work to do too.
    temp = E.new_temp()
    E.gen_mov(temp, A0)
    E.gen_add(A3, temp, E.const(1))
    E.gen_exit_tb(0)
    return E.end_block()


def _run(block, x: int, y: int):
    env = CpuEnv(ENV_ARCH_SIZE)
    env.write_u64(A1.offset, x)
    env.write_u64(A2.offset, y)
    run_block(block, env, memory=None)
    return env.read_u64(A0.offset), env.read_u64(A3.offset)


CASES = [(name, cond) for name in sorted(VALUE_OPS) if name != "mov"
         for cond in (list(Cond) if OPS[name].consts else [None])]


@pytest.mark.parametrize("name, cond", CASES,
                         ids=[f"{n}-{c.value}" if c else n for n, c in CASES])
def test_optimized_value_ops_compute_the_same(name, cond):
    for shape in _operand_shapes(OPS[name].inputs):
        for x, y in [(x, y) for x in RUNTIME_VALUES for y in (x, 3)]:
            reference = _run(_block_for(name, shape, cond), x, y)
            optimized_block = optimize(_block_for(name, shape, cond))
            assert _run(optimized_block, x, y) == reference, (name, cond, shape, x, y,
                                                                optimized_block.dump())


def test_constants_fold_and_propagate_through_locals_and_globals():
    E.begin_block(G, 0)
    t = E.new_temp()
    E.gen_movi(t, 6)
    E.gen_mul(A0, t, E.const(7))
    E.gen_add(A1, A0, E.const(1))
    E.gen_exit_tb(0)
    block = optimize(E.end_block())
    assert block.dump().splitlines() == [" mov a0,$0x2a", " mov a1,$0x2b", " exit_tb 0x0"]


def test_copies_propagate_until_the_source_is_written():
    E.begin_block(G, 0)
    t = E.new_temp()
    E.gen_mov(t, A1)
    E.gen_add(A1, A1, E.const(1))      # t still holds the old a1: must not become a1
    E.gen_add(A0, t, E.const(2))
    E.gen_exit_tb(0)
    block = optimize(E.end_block())
    env_before = {A1.offset: 10}
    env = CpuEnv(ENV_ARCH_SIZE)
    for offset, value in env_before.items():
        env.write_u64(offset, value)
    run_block(block, env, memory=None)
    assert env.read_u64(A0.offset) == 12 and env.read_u64(A1.offset) == 11


def test_dead_locals_are_removed_but_globals_and_effects_stay():
    E.begin_block(G, 0)
    dead = E.new_temp()
    E.gen_add(dead, A1, A2)                   # never read: removed
    loaded = E.new_temp()
    E.gen_guest_ld(loaded, A1, 0, MO_64)
    E.gen_add(A0, A1, A2)                     # global: kept
    E.gen_exit_tb(0)
    block = optimize(E.end_block())
    names = [op.name for op in block.ops]
    assert names == ["guest_ld", "add", "exit_tb"]   # the load may fault: never removed


def test_constant_branches_become_jumps_or_disappear():
    E.begin_block(G, 0)
    taken, not_taken = E.new_label(), E.new_label()
    E.gen_brcond(Cond.LT, E.const(1), E.const(2), taken)
    E.gen_brcond(Cond.GTU, E.const(1), E.const(2), not_taken)
    E.gen_set_label(not_taken)
    E.gen_exit_tb(1)
    E.gen_set_label(taken)
    E.gen_exit_tb(2)
    block = optimize(E.end_block())
    assert [op.name for op in block.ops] == ["br", "exit_tb", "set_label", "exit_tb"]
    assert run_block(block, CpuEnv(ENV_ARCH_SIZE), memory=None) == 2


# --------------------------------------------------------------------------------------------
# Guest store-to-load forwarding: a load of bytes the basic block stored is computed from the
# stored values (the stores stay)


class _BytesMemory:
    """Guest memory for the interpreter: a dict of bytes (unwritten bytes read as 0xA5)."""

    def __init__(self):
        self.data: dict[int, int] = {}

    def read(self, addr: int, size: int) -> bytes:
        return bytes(self.data.get(addr + i, 0xA5) for i in range(size))

    def write(self, addr: int, data: bytes) -> None:
        for i, byte in enumerate(data):
            self.data[addr + i] = byte


_MEMOPS = [MemOp(shift, signed) for shift in range(4) for signed in (False, True)
           if not (shift == 3 and signed)]
_BASE = 0x8000
# Accesses within 12 bytes, mostly at offsets where accesses of several sizes meet.
_ACCESS = st.tuples(st.sampled_from([0, 0, 0, 1, 2, 3, 4, 4, 6, 8]), st.sampled_from(_MEMOPS))
_STORE = st.tuples(st.just("store"), _ACCESS,
                   st.sampled_from(["a1", "a2", "a3", 0x1122334455667788]))
# One step of a block: a store of a global (or a constant), a load into a global (which may be
# a stored one), a change of a global's value (which may be a stored value or the base), or a
# call that writes memory. Stores come more often, so that loads find their bytes stored.
_STEP = st.one_of(
    _STORE, _STORE, _STORE,
    st.tuples(st.just("load"), _ACCESS, st.sampled_from(["a2", "a3", "a4", "a5"])),
    st.tuples(st.just("change"), st.sampled_from(["a1", "a2", "a3", "a0"]), st.integers(0, 3)),
    st.tuples(st.just("call"), st.none(), st.none()),
)


def _memory_block(steps):
    E.begin_block(G, 0x1000)
    E.gen_insn_start(0x1000)
    for kind, first, second in steps:
        if kind == "store":
            (offset, memop), value = first, second
            source = G.by_name[value] if isinstance(value, str) else E.const(value)
            E.gen_guest_st(source, G.by_name["a0"], offset, memop)
        elif kind == "load":
            offset, memop = first
            E.gen_guest_ld(G.by_name[second], G.by_name["a0"], offset, memop)
        elif kind == "change":
            E.gen_add(G.by_name[first], G.by_name[first], E.const(second * 0x0101_0101 + 8))
        else:
            E.gen_call(_MEMORY_WRITING_HELPER, None, [])
    E.gen_exit_tb(0)
    return E.end_block()


_CALL_MEMORY: list = [None]


def _write_memory_behind_the_blocks_back():
    _CALL_MEMORY[0].write(_BASE + 4, b"\x5a\x5b")


_MEMORY_WRITING_HELPER = HelperInfo("writes_guest_memory", 0, False, CallFlag.NONE,
                                    py_func=_write_memory_behind_the_blocks_back)
_MEMORY_NAMES = ("a0", "a1", "a2", "a3", "a4", "a5")


def _run_memory_block(block):
    env = CpuEnv(ENV_ARCH_SIZE)
    memory = _BytesMemory()
    _CALL_MEMORY[0] = memory
    for index, name in enumerate(_MEMORY_NAMES):
        env.write_u64(G.by_name[name].offset, _BASE if name == "a0" else
                      (0x8877_6655_4433_2211 * (index + 3)) & MASK64)
    run_block(block, env, memory)
    return [env.read_u64(G.by_name[name].offset) for name in _MEMORY_NAMES], memory.data


@settings(max_examples=400, deadline=None)
@given(st.lists(_STEP, min_size=1, max_size=14))
@example([("store", (0, MO_8), "a2"), ("store", (0, MO_8), "a1"), ("change", "a1", 0),
          ("load", (0, MO_8), "a2")])       # the latest store's value changed: no forwarding
def test_loads_forwarded_from_stores_compute_what_memory_gives(steps):
    assert _run_memory_block(optimize(_memory_block(steps))) == \
        _run_memory_block(_memory_block(steps))


@pytest.mark.parametrize("stores, load, forwarded", [
    ([(0, MO_64)], (0, MO_64), True),                           # a spill and its reload
    ([(0, MO_8), (1, MO_8), (2, MO_8), (3, MO_8)], (0, MemOp(2, True)), True),   # bytes, then lw
    ([(4, MO_32), (0, MO_32)], (0, MO_64), True),
    ([(0, MO_8), (1, MO_8)], (0, MO_32), False),                # bytes 2 and 3 not stored
    ([(0, MO_64), (2, MO_8)], (0, MO_32), True),                # a later byte over a wider store
    ([(0, MO_32), (1, MO_8)], (0, MO_32), True),                # the same inside the load
    ([(0, MO_32), (0, MO_8)], (0, MO_8), True),                 # the latest store wins
    ([(0, MO_32)], (2, MO_16), True),                           # the middle of a store
    ([(2, MO_32)], (0, MO_32), False),                          # bytes 0 and 1 not stored
])
def test_which_loads_are_forwarded(stores, load, forwarded):
    steps = [("store", access, "a1") for access in stores] + [("load", load, "a4")]
    block = optimize(_memory_block(steps))
    assert (sum(op.name == "guest_ld" for op in block.ops) == 0) == forwarded
    assert _run_memory_block(block) == _run_memory_block(_memory_block(steps))


@pytest.mark.parametrize("barrier", [("change", "a0", 0), ("change", "a1", 0),
                                     ("call", None, None)])
def test_no_forwarding_past_a_new_base_a_new_value_or_a_call(barrier):
    steps = [("store", (0, MO_64), "a1"), barrier, ("load", (0, MO_64), "a4")]
    block = optimize(_memory_block(steps))
    assert sum(op.name == "guest_ld" for op in block.ops) == 1
