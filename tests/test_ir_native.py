"""Every value op of jit/ir.py OPS, run as native x86 code on edge values, against its fold
function and the reference interpreter.

One block per (op, operand shape): it loads the operands of many value pairs from a guest table
(so that they are unknown at compile time), applies the op and stores the result. Operand shapes
cover what instruction selection distinguishes: operands in globals or in locals, a constant
first or second operand, the same temp twice, the destination equal to an input, and inputs
that stay live after the op (three-address forms, copies before two-address forms).
"""
from __future__ import annotations

import itertools

import pytest

from guest.riscv.cpu import ENV_ARCH_SIZE, make_globals
from host_x86.testing import HostMemory
from jit import emit as E
from jit.cpustate import CpuEnv
from jit.exits import ExitKind, encode_exit
from jit.interp import run_block
from jit.ir import INT64_MIN, MASK64, MO_64, OPS, VALUE_OPS, Cond
from tests.native_fixtures import space_and_backend

EDGE_VALUES = (0, 1, 2, 3, MASK64, MASK64 - 1, INT64_MIN, INT64_MIN - 1, 0x8000_0000,
               0x7FFF_FFFF, 0xFFFF_FFFF, 0x1_0000_0000, 31, 32, 63, 64, 0x80,
               0x1234_5678_9ABC_DEF0)
COMPARE_VALUES = (0, 1, MASK64, INT64_MIN, INT64_MIN - 1, 0x8000_0000, 0x7FFF_FFFF)
MOVCOND_VALUES = (0xAAAA, 0x5555_0000_0000_0001)

INPUT_TABLE = 0x10000
OUTPUT_TABLE = 0x40000
TABLE_SIZE = 0x30000
EXIT_VALUE = encode_exit(ExitKind.LOOKUP)

GLOBALS = make_globals()
OPERAND_GLOBALS = [GLOBALS.by_name[name] for name in ("a1", "a2", "a3", "a4")]
RESULT_GLOBAL = GLOBALS.by_name["a0"]



def emit_op(name, outs, ins, consts=()):
    """Append any op of the table by name (through make_op, which checks its shape)."""
    E.current_block().ops.append(E.make_op(OPS[name], outs, ins, consts))

space, backend = space_and_backend([(INPUT_TABLE, TABLE_SIZE), (OUTPUT_TABLE, TABLE_SIZE)])


def _operand_temps(kind: str, count: int):
    if kind == "global":
        return OPERAND_GLOBALS[:count]
    return [E.new_temp() for _ in range(count)]


def build_block(opname: str, cases, shape: str, kind: str, consts=()):
    """A block computing opname on every case (a tuple of input values) per `shape`:

    regs: all inputs loaded; const0/const1/const3: that input is a constant of the block;
    same: input 0 is also input 1; dest_is_input: the result goes into input 0's temp;
    live: the inputs are used again after the op (their sum is stored too).
    """
    opdef = OPS[opname]
    E.begin_block(GLOBALS, 0x1000)
    E.gen_insn_start(0x1000)
    table = E.const(INPUT_TABLE)
    out = E.const(OUTPUT_TABLE)
    for index, values in enumerate(cases):
        temps = _operand_temps(kind, opdef.inputs)
        inputs = list(temps)
        for position, (temp, value) in enumerate(zip(temps, values)):
            E.gen_guest_ld(temp, table, 8 * (opdef.inputs * index + position), MO_64)
        if shape.startswith("const"):
            position = int(shape[-1])
            inputs[position] = E.const(values[position])
        if shape == "same":
            inputs[1] = inputs[0]
        if shape == "dest_is_input":
            result = inputs[0]
        elif kind == "global":
            result = RESULT_GLOBAL
        else:
            result = E.new_temp()
        emit_op(opname, [result], inputs, list(consts))
        E.gen_guest_st(result, out, 16 * index, MO_64)
        if shape == "live":
            total = E.new_temp()
            E.gen_add(total, temps[0], temps[-1])
            E.gen_guest_st(total, out, 16 * index + 8, MO_64)
    E.gen_exit_tb(EXIT_VALUE)
    return E.end_block()


def expected_value(opname: str, values, shape: str, consts):
    if shape == "same":
        values = (values[0], values[0]) + tuple(values[2:])
    return OPS[opname].fold(*values, *consts)


def run_native_and_interp(backend, space, block, cases, n_inputs):
    table = b"".join(value.to_bytes(8, "little") for values in cases for value in values)
    assert len(table) <= TABLE_SIZE and 16 * len(cases) <= TABLE_SIZE
    space.poke(INPUT_TABLE, table)
    space.poke(OUTPUT_TABLE, bytes(16 * len(cases)))
    env = CpuEnv(ENV_ARCH_SIZE)
    native = backend.compile(block, 0)
    assert backend.execute(native, env.addr) == EXIT_VALUE
    native_out = space.peek(OUTPUT_TABLE, 16 * len(cases))
    native_globals = [env.read_u64(temp.offset) for temp in GLOBALS.temps]

    space.poke(OUTPUT_TABLE, bytes(16 * len(cases)))
    reference_env = CpuEnv(ENV_ARCH_SIZE)
    assert run_block(block, reference_env, space, HostMemory()) == EXIT_VALUE
    assert space.peek(OUTPUT_TABLE, 16 * len(cases)) == native_out
    assert [reference_env.read_u64(temp.offset) for temp in GLOBALS.temps] == native_globals
    return [int.from_bytes(native_out[16 * i:16 * i + 8], "little") for i in range(len(cases))]


def _check(backend, space, opname, cases, shape, kind, consts=()):
    block = build_block(opname, cases, shape, kind, consts)
    results = run_native_and_interp(backend, space, block, cases, OPS[opname].inputs)
    for values, result in zip(cases, results):
        expected = expected_value(opname, values, shape, consts)
        assert result == expected, (
            f"{opname} {shape} {kind} {[hex(v) for v in values]}: native {result:#x}, "
            f"fold {expected:#x}")


PLAIN_VALUE_OPS = sorted(name for name in VALUE_OPS if not OPS[name].consts)
BINARY_OPS = [name for name in PLAIN_VALUE_OPS if OPS[name].inputs == 2]
UNARY_OPS = [name for name in PLAIN_VALUE_OPS if OPS[name].inputs == 1]


@pytest.mark.parametrize("shape", ["regs", "const0", "const1", "same", "dest_is_input", "live"])
@pytest.mark.parametrize("opname", BINARY_OPS)
def test_binary_op_on_edge_values(backend, space, opname, shape):
    cases = list(itertools.product(EDGE_VALUES, EDGE_VALUES))
    for kind in ("global", "local"):
        if shape == "dest_is_input" and kind == "local":
            continue
        _check(backend, space, opname, cases, shape, kind)


@pytest.mark.parametrize("shape", ["regs", "dest_is_input", "live"])
@pytest.mark.parametrize("opname", UNARY_OPS)
def test_unary_op_on_edge_values(backend, space, opname, shape):
    cases = [(value,) for value in EDGE_VALUES]
    for kind in ("global", "local"):
        _check(backend, space, opname, cases, shape, kind)


@pytest.mark.parametrize("cond", list(Cond), ids=lambda cond: cond.value)
def test_setcond_on_edge_values(backend, space, cond):
    cases = list(itertools.product(COMPARE_VALUES, COMPARE_VALUES))
    for shape, kind in [("regs", "global"), ("regs", "local"), ("const0", "local"),
                        ("const1", "global"), ("same", "local"), ("live", "local")]:
        _check(backend, space, "setcond", cases, shape, kind, (cond,))


@pytest.mark.parametrize("cond", list(Cond), ids=lambda cond: cond.value)
def test_movcond_on_edge_values(backend, space, cond):
    cases = [(a, b, t, f) for a, b in itertools.product(COMPARE_VALUES, COMPARE_VALUES)
             for t, f in [MOVCOND_VALUES]]
    for shape, kind in [("regs", "global"), ("regs", "local"), ("const0", "local"),
                        ("const1", "global"), ("const3", "local"), ("same", "local"),
                        ("dest_is_input", "global"), ("live", "local")]:
        _check(backend, space, "movcond", cases, shape, kind, (cond,))


def test_all_value_ops_are_covered():
    covered = set(BINARY_OPS) | set(UNARY_OPS) | {"setcond", "movcond"}
    assert covered == set(VALUE_OPS)


@pytest.mark.parametrize("cond", list(Cond), ids=lambda cond: cond.value)
def test_brcond_on_edge_values(backend, space, cond):
    """brcond a, b -> label: stores 1 when taken, 2 when not, for every pair."""
    cases = list(itertools.product(COMPARE_VALUES, COMPARE_VALUES))
    for constant_position in (None, 0, 1):
        E.begin_block(GLOBALS, 0x1000)
        E.gen_insn_start(0x1000)
        table, out = E.const(INPUT_TABLE), E.const(OUTPUT_TABLE)
        for index, values in enumerate(cases):
            a, b = E.new_temp(), E.new_temp()
            E.gen_guest_ld(a, table, 16 * index, MO_64)
            E.gen_guest_ld(b, table, 16 * index + 8, MO_64)
            inputs = [a, b]
            if constant_position is not None:
                inputs[constant_position] = E.const(values[constant_position])
            taken, done = E.new_label(), E.new_label()
            E.gen_brcond(cond, inputs[0], inputs[1], taken)
            E.gen_guest_st(E.const(2), out, 16 * index, MO_64)
            E.gen_br(done)
            E.gen_set_label(taken)
            E.gen_guest_st(E.const(1), out, 16 * index, MO_64)
            E.gen_set_label(done)
        E.gen_exit_tb(EXIT_VALUE)
        block = E.end_block()
        results = run_native_and_interp(backend, space, block, cases, 2)
        for (a_value, b_value), result in zip(cases, results):
            assert result == (1 if cond.evaluate(a_value, b_value) else 2), (
                cond, hex(a_value), hex(b_value), constant_position)


def test_division_corner_cases_with_constant_divisors(backend, space):
    """Constant divisors take dedicated forms (no checks, x/0, x/-1)."""
    for opname in ("div", "divu", "rem", "remu"):
        for divisor in (0, 1, MASK64, 2, 7, INT64_MIN, 0xFFFF_FFFF_0000_0000):
            cases = [(dividend, divisor) for dividend in EDGE_VALUES]
            for kind in ("global", "local"):
                _check(backend, space, opname, cases, "const1", kind)
