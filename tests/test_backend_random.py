"""Property test: random IR blocks give the same exit value, globals, env fields and guest memory
natively as in the reference interpreter (jit/interp.py), with the optimizer off and on.

Blocks mix every value op over globals, locals and constants, guest loads and stores (8 to 64
bits, signed and unsigned) into a mapped area, env loads and stores, forward branches to labels,
calls to Python helpers with every combination of call flags (one of them reads and writes
globals in env, one has more than six arguments), and end with one of the exit patterns.
"""
from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from guest.riscv.cpu import ENV_ARCH_SIZE, OFF_FFLAGS, OFF_FRM, make_globals
from host_x86.testing import HostMemory
from jit import emit as E
from jit.cpustate import CpuEnv
from jit.exits import ExitKind, encode_exit
from jit.interp import run_block
from jit.optimize import optimize
from jit.ir import (INT64_MIN, MASK64, OPS, VALUE_OPS, CallFlag, Cond, HelperInfo, MemOp)
from tests.native_fixtures import space_and_backend

G = make_globals()
VALUE_GLOBALS = [G.by_name[name] for name in
                 ("ra", "sp", "a0", "a1", "a2", "a3", "a4", "a5", "s2", "s3", "s4", "t3")]
DATA_POINTER = G.by_name["gp"]       # holds DATA, never written by the blocks
HELPER_WRITES = G.by_name["s6"]      # written in env by a helper
HELPER_READS = G.by_name["s7"]
DATA = 0x20000
DATA_SIZE = 0x1000
ENV_FIELDS = (OFF_FFLAGS, OFF_FRM)
INTERESTING = (0, 1, 2, 31, 32, 63, 64, 0x7F, 0x80, 0xFFFF, 0x7FFF_FFFF, 0x8000_0000,
               0xFFFF_FFFF, 0x1_0000_0000, INT64_MIN, INT64_MIN - 1, MASK64, MASK64 - 1)
MEMOPS = [MemOp(size_shift, signed) for size_shift in range(4) for signed in (False, True)]


class _CurrentEnv:
    env = None


CURRENT = _CurrentEnv()


def _mix(a, b):
    return (a * 0x9E37_79B9 + (b ^ (b >> 7))) & MASK64


def _sum7(*args):
    return sum((index + 1) * value for index, value in enumerate(args)) & MASK64


def _write_global(value):
    CURRENT.env.write_u64(HELPER_WRITES.offset, value ^ 0x5555)


def _read_global():
    return (CURRENT.env.read_u64(HELPER_READS.offset) + 1) & MASK64


_ALL_FLAG_SETS = [CallFlag.NONE, CallFlag.NO_READ_GLOBALS, CallFlag.NO_WRITE_GLOBALS,
                  CallFlag.NO_READ_GLOBALS | CallFlag.NO_WRITE_GLOBALS]
PURE_HELPERS = [HelperInfo(f"mix_{index}", 2, True, flags, py_func=_mix)
                for index, flags in enumerate(_ALL_FLAG_SETS)]
PURE_HELPERS.append(HelperInfo("sum7", 7, True, CallFlag.NO_READ_GLOBALS
                               | CallFlag.NO_WRITE_GLOBALS, py_func=_sum7))
GLOBAL_WRITER = HelperInfo("write_global", 1, False, CallFlag.NONE, py_func=_write_global)
GLOBAL_READER = HelperInfo("read_global", 0, True, CallFlag.NO_WRITE_GLOBALS,
                           py_func=_read_global)

VALUE_OP_NAMES = sorted(VALUE_OPS)



def emit_op(name, outs, ins, consts=()):
    """Append any op of the table by name (through make_op, which checks its shape)."""
    E.current_block().ops.append(E.make_op(OPS[name], outs, ins, consts))

space, backend = space_and_backend([(DATA, DATA_SIZE)], guard_variants=True)


class BlockBuilder:
    """Draws a random block with hypothesis; locals are read only where they are defined."""

    def __init__(self, data):
        self.draw = data.draw
        self.defined: list = []          # locals with a value on every path to here
        self.open_branch = None          # (label, defined locals at the branch)

    def value_operand(self):
        choice = self.draw(st.integers(0, 9))
        if choice < 2 or (choice < 5 and not self.defined):
            return E.const(self.draw(st.one_of(st.sampled_from(INTERESTING),
                                               st.integers(0, MASK64))))
        if choice < 5:
            return self.draw(st.sampled_from(self.defined))
        return self.draw(st.sampled_from(VALUE_GLOBALS))

    def destination(self):
        choice = self.draw(st.integers(0, 3))
        if choice == 0 and self.defined:
            return self.draw(st.sampled_from(self.defined))
        if choice <= 1:
            temp = E.new_temp()
            self.defined.append(temp)
            return temp
        return self.draw(st.sampled_from(VALUE_GLOBALS))

    def guest_address(self):
        """(address temp, offset) of an access inside DATA."""
        memop = self.draw(st.sampled_from(MEMOPS))
        if self.draw(st.booleans()):
            offset = self.draw(st.integers(0, DATA_SIZE - 8))
            return DATA_POINTER, offset, memop
        index = self.value_operand()
        address = E.new_temp()
        E.gen_and(address, index, E.const(DATA_SIZE - 8))
        E.gen_add(address, address, DATA_POINTER)
        return address, 0, memop

    def op(self):
        kind = self.draw(st.sampled_from(
            ["value"] * 8 + ["load", "store", "env", "call", "branch"]))
        if kind == "value":
            name = self.draw(st.sampled_from(VALUE_OP_NAMES))
            opdef = OPS[name]
            inputs = [self.value_operand() for _ in range(opdef.inputs)]
            consts = [self.draw(st.sampled_from(list(Cond)))] if opdef.consts else []
            emit_op(name, [self.destination()], inputs, consts)
        elif kind == "load":
            address, offset, memop = self.guest_address()
            E.gen_guest_ld(self.destination(), address, offset, memop)
        elif kind == "store":
            value = self.value_operand()
            address, offset, memop = self.guest_address()
            E.gen_guest_st(value, address, offset, memop)
        elif kind == "env":
            offset = self.draw(st.sampled_from(ENV_FIELDS)) + self.draw(st.sampled_from(
                [0, 1, 2, 4]))
            memop = self.draw(st.sampled_from(MEMOPS))
            if (offset & 7) + memop.size > 8:
                memop = MemOp(0, memop.signed)
            if self.draw(st.booleans()):
                E.gen_st_env(self.value_operand(), offset, memop)
            else:
                E.gen_ld_env(self.destination(), offset, memop)
        elif kind == "call":
            helper = self.draw(st.sampled_from(PURE_HELPERS + [GLOBAL_WRITER, GLOBAL_READER]))
            arguments = [self.value_operand() for _ in range(helper.n_args)]
            E.gen_call(helper, self.destination() if helper.has_result else None, arguments)
        elif kind == "branch":
            self.branch()

    def branch(self):
        if self.open_branch is not None:
            label, defined = self.open_branch
            E.gen_set_label(label)
            self.defined = [temp for temp in self.defined if temp in defined]
            self.open_branch = None
            return
        label = E.new_label()
        if self.draw(st.integers(0, 4)) == 0:
            E.gen_br(label)
        else:
            cond = self.draw(st.sampled_from(list(Cond)))
            E.gen_brcond(cond, self.value_operand(), self.value_operand(), label)
        self.open_branch = (label, list(self.defined))

    def exit(self):
        if self.open_branch is not None:
            self.branch()
        kind = self.draw(st.integers(0, 3))
        if kind == 0:
            E.gen_exit_tb(self.draw(st.integers(0, MASK64)))
        elif kind == 1:
            E.gen_mov(G.by_name["pc"], self.value_operand())
            E.gen_goto_ptr(G.by_name["pc"])
        elif kind == 2:
            E.gen_goto_tb(0)
            E.gen_mov(G.by_name["pc"], E.const(0x1234))
            E.gen_exit_tb(encode_exit(ExitKind.CHAIN, 0, 9))
        else:
            # Two exits behind a conditional branch.
            label = E.new_label()
            E.gen_brcond(Cond.LTU, self.value_operand(), self.value_operand(), label)
            E.gen_goto_tb(0)
            E.gen_mov(G.by_name["pc"], E.const(0x2000))
            E.gen_exit_tb(encode_exit(ExitKind.CHAIN, 0, 4))
            E.gen_set_label(label)
            E.gen_goto_tb(1)
            E.gen_mov(G.by_name["pc"], E.const(0x3000))
            E.gen_exit_tb(encode_exit(ExitKind.CHAIN, 1, 4))


def _memory_image(seed: bytes) -> bytes:
    """DATA_SIZE bytes: a fixed pattern with the drawn seed over its start."""
    pattern = bytes((index * 37 + 11) & 0xFF for index in range(DATA_SIZE))
    return seed + pattern[len(seed):]


def _run(space, block, runner, global_values, memory, env_fields):
    env = CpuEnv(ENV_ARCH_SIZE)
    for temp, value in zip(VALUE_GLOBALS, global_values):
        env.write_u64(temp.offset, value)
    env.write_u64(DATA_POINTER.offset, DATA)
    env.write_u64(HELPER_READS.offset, 0x777)
    for offset, value in zip(ENV_FIELDS, env_fields):
        env.write_u64(offset, value)
    space.poke(DATA, memory)
    CURRENT.env = env
    value = runner(env)
    state = ([env.read_u64(temp.offset) for temp in G.temps],
             [env.read_u64(offset) for offset in ENV_FIELDS])
    return value, state, space.peek(DATA, DATA_SIZE)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.data_too_large])
@given(st.data())
def test_random_blocks_agree_with_the_interpreter(backend, space, data):
    global_values = data.draw(st.lists(st.one_of(st.sampled_from(INTERESTING),
                                                 st.integers(0, MASK64)),
                                       min_size=len(VALUE_GLOBALS), max_size=len(VALUE_GLOBALS)))
    memory = _memory_image(data.draw(st.binary(max_size=64)))
    env_fields = data.draw(st.lists(st.integers(0, MASK64), min_size=2, max_size=2))

    E.begin_block(G, 0x1000)
    builder = BlockBuilder(data)
    n_ops = data.draw(st.integers(1, 40))
    for index in range(n_ops):
        E.gen_insn_start(0x1000 + 4 * index)
        builder.op()
    builder.exit()
    block = E.end_block()

    native = backend.compile(block, 0)
    native_result = _run(space, block, lambda env: backend.execute(native, env.addr),
                         global_values, memory, env_fields)
    reference_result = _run(space, block,
                            lambda env: run_block(block, env, space, HostMemory()),
                            global_values, memory, env_fields)
    assert native_result == reference_result, block.dump()

    # The optimizer must not change what the block computes, interpreted or native.
    unoptimized_dump = block.dump()
    optimize(block)
    optimized_interpreted = _run(space, block,
                                 lambda env: run_block(block, env, space, HostMemory()),
                                 global_values, memory, env_fields)
    assert optimized_interpreted == reference_result, (unoptimized_dump, block.dump())
    optimized_native = backend.compile(block, 0)
    assert _run(space, block, lambda env: backend.execute(optimized_native, env.addr),
                global_values, memory, env_fields) == reference_result, block.dump()
