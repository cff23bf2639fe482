"""Loops inside one block (a back edge to a loop head at the block start, as the frontend emits
for a branch to the block's own first instruction): the register allocator keeps the loop's
globals in registers across back edges (jit/regalloc.py plan_labels); native runs must agree
with the interpreter on every global, on memory and on the exit, also when the loop faults in
the middle, calls helpers, or is asked to stop."""
from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from guest.riscv.cpu import ENV_ARCH_SIZE, GPR_NAMES, make_globals
from host_x86.testing import HostMemory
from jit import emit as E
from jit.cpustate import CpuEnv
from jit.env import ENV_EXIT_REQUEST, ENV_FAULT_ADDR
from jit.exits import ExitKind, decode_exit, encode_exit
from jit.interp import run_block
from jit.ir import MO_32S, MO_64, CallFlag, Cond, HelperInfo
from jit.optimize import optimize
from jit.regalloc import INHERIT, plan_labels
from tests.native_fixtures import space_and_backend

G = make_globals()
R = G.by_name
DATA = 0x10000
DATA_SIZE = 0x1000          # the page after it is unmapped: a loop walking off its end faults
LOOP_PC = 0x4000
NAMES = [name for name in GPR_NAMES[1:] if name not in ("s11", "t6")]   # s11 counts, t6 walks


space, backend = space_and_backend([(DATA, DATA_SIZE)], guard_variants=True)


calls_seen: list[int] = []
running_env: list[CpuEnv] = []


def _request_stop(value: int) -> int:
    """What the dispatcher does from a signal handler or a plugin callback."""
    running_env[-1].write_u64(ENV_EXIT_REQUEST, 1)
    return value


def _bump(value: int) -> int:
    calls_seen.append(value)
    return (value * 3 + 1) & (2**64 - 1)


# A helper that reads and writes globals (no flags): registers are written back and dropped.
BUMP = HelperInfo("bump", 1, True, CallFlag.NONE, py_func=_bump)
# A pure one: only caller-saved registers are lost.
PURE_BUMP = HelperInfo("pure_bump", 1, True,
                       CallFlag.NO_READ_GLOBALS | CallFlag.NO_WRITE_GLOBALS, py_func=_bump)
# Asks generated code to stop: the loop leaves at its next back edge.
REQUEST_STOP = HelperInfo("request_stop", 1, True,
                          CallFlag.NO_READ_GLOBALS | CallFlag.NO_WRITE_GLOBALS,
                          py_func=_request_stop)

STEP = st.one_of(
    st.tuples(st.just("add"), st.sampled_from(NAMES), st.sampled_from(NAMES),
              st.sampled_from(NAMES)),
    st.tuples(st.just("addi"), st.sampled_from(NAMES), st.sampled_from(NAMES),
              st.integers(-2048, 2047)),
    st.tuples(st.just("xor"), st.sampled_from(NAMES), st.sampled_from(NAMES),
              st.sampled_from(NAMES)),
    st.tuples(st.just("li"), st.sampled_from(NAMES), st.integers(0, 2**64 - 1), st.none()),
    st.tuples(st.just("load"), st.sampled_from(NAMES), st.integers(0, 31), st.none()),
    st.tuples(st.just("store"), st.sampled_from(NAMES), st.integers(0, 31), st.none()),
    st.tuples(st.just("call"), st.sampled_from(NAMES),
              st.sampled_from([BUMP, PURE_BUMP, REQUEST_STOP]), st.none()),
    st.tuples(st.just("exit_if"), st.sampled_from(NAMES), st.integers(0, 7), st.none()),
)


def loop_block(steps, walk_stride: int):
    """do { steps; t6 += walk_stride; s11 -= 1 } while (s11 != 0), as the frontend builds it:
    a loop head at the block start, the back edge through an exit check."""
    E.begin_block(G, LOOP_PC)
    head = E.new_label()
    E.gen_set_label(head)
    E.gen_add_env(0x218, 1)
    pc = LOOP_PC
    for kind, a, b, c in steps:
        E.gen_insn_start(pc)
        pc += 4
        if kind == "add":
            E.gen_add(R[a], R[b], R[c])
        elif kind == "addi":
            E.gen_add(R[a], R[b], E.const(c & (2**64 - 1)))
        elif kind == "xor":
            E.gen_xor(R[a], R[b], R[c])
        elif kind == "li":
            E.gen_mov(R[a], E.const(b))
        elif kind == "load":
            E.gen_guest_ld(R[a], R["t6"], 8 * b, MO_64 if b % 2 else MO_32S)
        elif kind == "store":
            E.gen_guest_st(R[a], R["t6"], 8 * b, MO_64)
        elif kind == "call":
            E.gen_call(b, R[a], [R[a]])
        else:   # leave the loop when the low bits of a register match
            low, stay = E.new_temp(), E.new_label()
            E.gen_and(low, R[a], E.const(7))
            E.gen_brcond(Cond.NE, low, E.const(b), stay)
            E.gen_goto_tb(0)
            E.gen_mov(R["pc"], E.const(pc))
            E.gen_exit_tb(encode_exit(ExitKind.CHAIN, 0, 1))
            E.gen_set_label(stay)
    E.gen_insn_start(pc)
    E.gen_add(R["t6"], R["t6"], E.const(walk_stride))
    E.gen_add(R["s11"], R["s11"], E.const(2**64 - 1))
    back = E.new_label()
    E.gen_brcond(Cond.NE, R["s11"], E.const(0), back)
    E.gen_goto_tb(1)
    E.gen_mov(R["pc"], E.const(pc + 4))
    E.gen_exit_tb(encode_exit(ExitKind.CHAIN, 1, 1))
    E.gen_set_label(back)
    E.gen_exit_check(LOOP_PC)
    E.gen_br(head)
    return E.end_block()


def run_both(backend, space, build, start: dict):
    """Native (after the optimizer, as the pipeline runs it) and interpreted runs of the block
    `build()` makes, from the same state, agree on the exit, every global, the instruction
    counter and the data."""
    data = bytes((i * 37 + 11) & 0xFF for i in range(DATA_SIZE))
    envs, results = [], []
    for native in (True, False):
        space.poke(DATA, data)
        env = CpuEnv(ENV_ARCH_SIZE)
        for name, value in start.items():
            env.write_u64(R[name].offset, value)
        running_env.append(env)
        calls_seen.clear()
        if native:
            value = backend.execute(backend.compile(optimize(build()), 1), env.addr)
        else:
            value = run_block(build(), env, space, HostMemory())
        results.append((value, list(calls_seen), space.peek(DATA, DATA_SIZE)))
        envs.append(env)
    (native_value, native_calls, native_data), (value, calls, reference_data) = results
    assert decode_exit(native_value)[0] is decode_exit(value)[0]
    assert native_value == value
    assert native_calls == calls
    for temp in G.temps:
        assert envs[0].read_u64(temp.offset) == envs[1].read_u64(temp.offset), temp.name
    assert envs[0].read_u64(0x218) == envs[1].read_u64(0x218)
    if decode_exit(value)[0] is ExitKind.FAULT:
        assert envs[0].read_u64(ENV_FAULT_ADDR) == envs[1].read_u64(ENV_FAULT_ADDR)
    assert native_data == reference_data
    return value, envs[0]


@settings(max_examples=150, deadline=None)
@given(st.lists(STEP, min_size=1, max_size=14), st.integers(1, 40),
       st.sampled_from([0, 8, 64, 256]))
def test_random_loops_inside_a_block_agree_with_the_interpreter(backend, space, steps,
                                                                iterations, stride):
    start = {name: (index * 0x9E37_79B9_7F4A_7C15) & (2**64 - 1)
             for index, name in enumerate(NAMES)}
    start.update(s11=iterations, t6=DATA)
    run_both(backend, space, lambda: loop_block(steps, stride), start)


def test_a_loop_that_walks_off_its_data_faults_with_the_state_of_that_iteration(backend,
                                                                                 space):
    steps = [("load", "a0", 0, None), ("add", "a1", "a1", "a0"), ("addi", "a2", "a2", 1)]
    value, env = run_both(backend, space, lambda: loop_block(steps, 64),
                         {"s11": 1000, "t6": DATA})
    assert decode_exit(value)[0] is ExitKind.FAULT
    assert env.read_u64(R["a2"].offset) == DATA_SIZE // 64     # iterations that completed
    assert env.read_u64(ENV_FAULT_ADDR) == DATA + DATA_SIZE


def test_an_exit_request_stops_the_loop_at_its_back_edge_with_precise_globals(backend, space):
    steps = [("addi", "a0", "a0", 5), ("call", "a3", REQUEST_STOP, None),
             ("xor", "a1", "a1", "a0")]
    value, env = run_both(backend, space, lambda: loop_block(steps, 0),
                          {"s11": 10, "a0": 1, "a1": 2})
    assert decode_exit(value)[0] is ExitKind.STOP
    assert env.read_u64(R["pc"].offset) == LOOP_PC
    assert (env.read_u64(R["a0"].offset), env.read_u64(R["s11"].offset)) == (6, 9)


def test_label_plans():
    """The loop head gets a contract of the globals it uses most; the taken side of a
    conditional branch followed by an exit inherits the branch's registers."""
    block = loop_block([("add", "a0", "a0", "a1"), ("xor", "a2", "a0", "a0")], 8)
    plans = plan_labels(block, (3, 12, 13, 15, 10, 11, 9, 8))
    head, back = block.ops[0].consts[0].id, block.ops[-3].consts[0].id
    assert plans[back] is INHERIT
    contract = plans[head]
    assert {t for t, _, _ in contract} == {R[n].index for n in ("a0", "a1", "a2", "t6", "s11")}
    assert {t for t, _, written in contract if not written} == {R["a1"].index}
    assert len({reg for _, reg, _ in contract}) == len(contract)
