"""The IR's FP ops as native x86 code (host_x86/isel_fp.py, host_x86/fpu.py) against the reference
interpreter (jit/interp.py, i.e. jit/softfloat.py) and against the qemu recordings: result values
and accrued fflags, every rounding mode, static and dynamic, with frm equal to the static mode
(native path) and different from it (exact helper), NaN-boxing, the helper fallbacks for hosts
without FMA3/SSE4.1, and the flag scheme itself (flags accumulate in MXCSR, are folded at guest
reads and at every exit, cleared by guest writes; the host MXCSR is restored).
"""
from __future__ import annotations

import os
import random
import struct
import sys
from collections import defaultdict
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parent))
import fp_cases  # noqa: E402

from guest.riscv.cpu import ENV_ARCH_SIZE, OFF_FFLAGS, OFF_FRM, make_globals  # noqa: E402
from host_x86 import fpu, isel_fp  # noqa: E402
from host_x86.testing import HostMemory, NativeCode  # noqa: E402
from jit import emit as E  # noqa: E402
from jit import softfloat as sf  # noqa: E402
from jit.cpustate import CpuEnv  # noqa: E402
from jit.exits import ExitKind, encode_exit  # noqa: E402
from jit.interp import run_block  # noqa: E402
from jit.ir import MO_64, OPS, FpEnv, FpRm  # noqa: E402
from tests.native_fixtures import space_and_backend  # noqa: E402

FPENV = FpEnv(OFF_FFLAGS, OFF_FRM)
GLOBALS = make_globals()
INPUT_TABLE = 0x10000
OUTPUT_TABLE = 0x80000
TABLE_SIZE = 0x60000
EXIT_VALUE = encode_exit(ExitKind.LOOKUP)
FP_OPS = sorted(sf.FP_SEMANTICS)
PURE_OPS = sorted(sf.PURE_SEMANTICS)
CHUNK = 150
# More with TCGJIT_FP_EXAMPLES=400 (a few minutes).
RANDOM_EXAMPLES = int(os.environ.get("TCGJIT_FP_EXAMPLES", "25"))


space, backend = space_and_backend([(INPUT_TABLE, TABLE_SIZE), (OUTPUT_TABLE, TABLE_SIZE)])


# --------------------------------------------------------------------------------------------
# One block per list of cases: every case sets frm, clears fflags, runs its op on operands
# loaded from a guest table and stores the result and the flags it raised.


def _emit_case(name: str, index: int, inputs, rm, frm: int, table, out, clear: bool = True,
               flags_out: bool = True, dead_result: bool = False):
    opdef = OPS[name]
    if frm is not None:
        E.gen_fp_set_rm(E.const(frm), FPENV)
    if clear:
        E.gen_fp_set_flags(E.const(0), FPENV)
    temps = []
    for position in range(opdef.inputs):
        temp = E.new_temp()
        E.gen_guest_ld(temp, table, 8 * (3 * index + position), MO_64)
        temps.append(temp)
    result = E.new_temp()
    if opdef.fp is None:
        E.gen_fp_value(name, result, *temps)
    else:
        E.gen_fp_op(name, result, temps, FPENV, None if "rm" not in opdef.consts else FpRm(rm))
    if not dead_result:
        E.gen_guest_st(result, out, 16 * index, MO_64)
    if flags_out:
        flags = E.new_temp()
        E.gen_fp_get_flags(flags, FPENV)
        E.gen_guest_st(flags, out, 16 * index + 8, MO_64)


def build_block(cases, **options):
    """cases: (op name, inputs, rm, frm)."""
    E.begin_block(GLOBALS, 0x1000)
    E.gen_insn_start(0x1000)
    table = E.const(INPUT_TABLE)
    out = E.const(OUTPUT_TABLE)
    for index, (name, inputs, rm, frm) in enumerate(cases):
        _emit_case(name, index, inputs, rm, frm, table, out, **options)
    E.gen_exit_tb(EXIT_VALUE)
    return E.end_block()


def _poke_inputs(space, cases):
    table = b"".join(b"".join(v.to_bytes(8, "little") for v in (list(inputs) + [0, 0, 0])[:3])
                     for _, inputs, _, _ in cases)
    assert len(table) <= TABLE_SIZE
    space.poke(INPUT_TABLE, table)


def run_both(backend, space, cases, initial_fflags: int = 0, initial_frm: int = 0, **options):
    """Run the block natively and interpreted: ([(value, flags)] per case, env fflags), after
    checking that both agree on the output table and env's FP state."""
    block = build_block(cases, **options)
    size = 16 * len(cases)
    _poke_inputs(space, cases)
    results = []
    for runner in ("native", "interp"):
        space.poke(OUTPUT_TABLE, bytes(size))
        env = CpuEnv(ENV_ARCH_SIZE)
        env.write_u64(OFF_FFLAGS, initial_fflags)
        env.write_u64(OFF_FRM, initial_frm)
        if runner == "native":
            native = backend.compile(block, 0)
            assert backend.execute(native, env.addr) == EXIT_VALUE
        else:
            assert run_block(block, env, space, HostMemory()) == EXIT_VALUE
        data = space.peek(OUTPUT_TABLE, size)
        rows = [struct.unpack_from("<QQ", data, 16 * i) for i in range(len(cases))]
        results.append((rows, env.read_u64(OFF_FFLAGS), env.read_u64(OFF_FRM)))
    (native_rows, native_flags, native_frm), (interp_rows, interp_flags, interp_frm) = results
    for case, native_row, interp_row in zip(cases, native_rows, interp_rows):
        assert native_row == interp_row, (
            f"{case[0]} {[hex(v) for v in case[1]]} rm={case[2]} frm={case[3]}: native "
            f"{native_row[0]:x}/{native_row[1]:02x}, interpreter {interp_row[0]:x}/"
            f"{interp_row[1]:02x}")
    assert (native_flags, native_frm) == (interp_flags, interp_frm)
    return native_rows, native_flags


# --------------------------------------------------------------------------------------------
# The recorded cases


def _ir_cases(program: str):
    """(op name, inputs, rm, frm, expected value, expected flags) of a recording; static cases
    also run with frm = their own mode (the native path; the recording had another frm)."""
    out = []
    for case in fp_cases.load(program):
        name = case.mnemonic.replace(".", "_")
        if name not in OPS:
            continue                 # fmv.*: plain integer IR ops
        rm = case.rm if "rm" in OPS[name].consts else None
        out.append((name, case.inputs, rm, case.frm, case.value, case.flags))
        if rm is not None and rm != fp_cases.DYN and rm != case.frm:
            out.append((name, case.inputs, rm, rm, case.value, case.flags))
    return out


@pytest.mark.parametrize("program", fp_cases.FP_PROGRAMS)
def test_recorded_cases_natively(backend, space, program):
    by_op = defaultdict(list)
    for case in _ir_cases(program):
        by_op[case[0]].append(case)
    errors = []
    for name, cases in sorted(by_op.items()):
        for start in range(0, len(cases), CHUNK):
            chunk = cases[start:start + CHUNK]
            rows, _ = run_both(backend, space, [c[:4] for c in chunk])
            for case, (value, flags) in zip(chunk, rows):
                if (value, flags) != case[4:]:
                    errors.append(f"{name} {[hex(v) for v in case[1]]} rm={case[2]} frm={case[3]}"
                                  f": {value:x}/{flags:02x}, recorded {case[4]:x}/{case[5]:02x}")
    assert not errors, f"{len(errors)} differ:\n" + "\n".join(errors[:20])


# --------------------------------------------------------------------------------------------
# Random operands (hypothesis), every op, every rounding mode and frm


def _special(bits: int):
    if bits == 32:
        values = [0, 0x80000000, 1, 0x80000001, 0x007FFFFF, 0x00800000, 0x3F800000, 0xBF800000,
                  0x7F7FFFFF, 0xFF7FFFFF, 0x7F800000, 0xFF800000, 0x7FC00000, 0xFFC00001,
                  0x7F800001, 0x4F000000, 0xCF000000, 0x4F800000, 0x5F000000, 0xDF000000,
                  0x5F800000, 0x3F000000, 0x3FC00000, 0x40200000, 0x4EFFFFFF, 0x5EFFFFFF]
        return st.one_of(st.sampled_from(values), st.integers(0, 2 ** 32 - 1)).map(sf.box32)
    values = [0, 1 << 63, 1, (1 << 63) | 1, 0x000FFFFFFFFFFFFF, 0x0010000000000000,
              0x3FF0000000000000, 0xBFF0000000000000, 0x7FEFFFFFFFFFFFFF, 0xFFEFFFFFFFFFFFFF,
              0x7FF0000000000000, 0xFFF0000000000000, 0x7FF8000000000000, 0xFFF8000000000001,
              0x7FF0000000000001, 0x41E0000000000000, 0xC1E0000000000000, 0x41EFFFFFFFE00000,
              0x41F0000000000000, 0x43E0000000000000, 0xC3E0000000000000, 0x43F0000000000000,
              0x3FE0000000000000, 0x3FF8000000000000, 0x4004000000000000, 0x43EFFFFFFFFFFFFF,
              0x41DFFFFFFFC00000, 0xC1E0000000100000, 0x41EFFFFFFFF00000]
    return st.one_of(st.sampled_from(values), st.integers(0, 2 ** 64 - 1))


_INTS = st.one_of(st.sampled_from([0, 1, 2 ** 63, 2 ** 64 - 1, 2 ** 31, 2 ** 31 - 1, 2 ** 32 - 1,
                                   2 ** 32, (1 << 24) + 1, (1 << 53) + 1, (1 << 63) + 1025,
                                   (1 << 64) - 1025, 0xFFFFFFFF80000000, 0x8000000000000400]),
                  st.integers(0, 2 ** 64 - 1))


def _operand_strategy(name: str, position: int):
    parts = name.split("_")
    if parts[0] == "fcvt" and parts[2] in sf.INT_CONVERSIONS:
        return _INTS
    fmt = parts[-1] if parts[0] != "fcvt" else parts[2]
    operand = _special(32 if fmt == "s" else 64)
    if fmt == "s":
        # Now and then a single that is not properly NaN-boxed.
        operand = st.one_of(operand, operand, operand, st.integers(0, 2 ** 64 - 1))
    return operand


def _case_strategy(name: str):
    opdef = OPS[name]
    takes_rm = "rm" in opdef.consts
    return st.tuples(st.just(name),
                     st.tuples(*[_operand_strategy(name, i) for i in range(opdef.inputs)]),
                     st.sampled_from([0, 1, 2, 3, 4, 7]) if takes_rm else st.none(),
                     st.integers(0, 4))


@pytest.mark.parametrize("name", FP_OPS + PURE_OPS)
@settings(max_examples=RANDOM_EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                   HealthCheck.data_too_large])
@given(data=st.data())
def test_random_operands_native_equals_interpreter(backend, space, name, data):
    cases = data.draw(st.lists(_case_strategy(name), min_size=1, max_size=40))
    rows, _ = run_both(backend, space, cases)
    for (op_name, inputs, rm, frm), (value, flags) in zip(cases, rows):
        if OPS[op_name].fp is None:
            assert (value, flags) == (OPS[op_name].fold(*inputs), 0)
        else:
            semantics = OPS[op_name].fp
            mode = None if rm is None else sf.resolve_rm(rm, frm)
            assert (value, flags) == semantics(*inputs, mode)


# --------------------------------------------------------------------------------------------
# The flag scheme


def _random_cases(rng: random.Random, count: int):
    cases = []
    specials = [0, 0x7FF0000000000001, 0x7FF0000000000000, 0x3FF0000000000000,
                0x0000000000000001, 0x7FEFFFFFFFFFFFFF, 0xC000000000000000]
    for _ in range(count):
        name = rng.choice(FP_OPS)
        inputs = tuple(rng.choice([rng.getrandbits(64), rng.choice(specials),
                                   sf.box32(rng.getrandbits(32))]) for _ in range(3))
        rm = rng.choice([0, 1, 2, 3, 4, 7]) if "rm" in OPS[name].consts else None
        cases.append((name, inputs[:OPS[name].inputs], rm, None))
    return cases


def test_flags_accumulate_and_are_folded_at_the_exit(backend, space):
    rng = random.Random(5)
    for initial in (0, sf.NX, 0x1F):
        for frm in range(5):
            cases = _random_cases(rng, 30)
            _, flags = run_both(backend, space, cases, initial_fflags=initial,
                                initial_frm=frm, clear=False, flags_out=False)
            assert flags & initial == initial


def test_dead_results_still_raise_flags(backend, space):
    cases = [("fadd_d", (0x7FF0000000000001, 0), 7, None),      # NV
             ("fdiv_d", (0x3FF0000000000000, 0), 0, None),      # DZ (with frm 0: native)
             ("feq_s", (sf.box32(0x7F800001), 0), None, None)]   # NV
    for case in cases:
        block_cases = [case]
        _, flags = run_both(backend, space, block_cases, clear=False, flags_out=False,
                            dead_result=True)
        assert flags, case


def test_flags_written_by_the_guest_clear_the_accumulated_ones(backend, space):
    # A case raises NX; fp_set_flags(0) must clear it also in MXCSR: the next case's flags
    # (read after it) show only its own.
    cases = [("fadd_d", (0x3FF0000000000000, 1), 7, 0), ("fadd_d", (0, 0), 7, 0)]
    rows, flags = run_both(backend, space, cases)
    assert rows[0][1] == sf.NX and rows[1][1] == 0 and flags == 0


def _mxcsr_reader():
    code = NativeCode()
    return code, fpu.ffi.cast("uint64_t (*)(void)",
                              code.add("sub rsp, 8; stmxcsr dword ptr [rsp]; "
                                       "mov eax, dword ptr [rsp]; add rsp, 8; ret"))


def test_host_mxcsr_is_restored_and_guest_rounding_does_not_leak(backend, space):
    code, read_mxcsr = _mxcsr_reader()
    before = read_mxcsr() & ~0x3F
    # frm = RTZ, an inexact op: the host's MXCSR must come back unchanged (rounding control).
    cases = [("fdiv_d", (0x3FF0000000000000, 0x4008000000000000), 7, None)]
    run_both(backend, space, cases, initial_frm=1, clear=False, flags_out=False)
    assert read_mxcsr() & ~0x3F == before
    assert 1.0 / 3.0 == 0.3333333333333333


def test_dynamic_rounding_follows_frm_written_in_the_block(backend, space):
    third = (0x3FF0000000000000, 0x4008000000000000)
    cases = [("fdiv_d", third, 7, frm) for frm in (0, 1, 2, 3, 4, 0)]
    rows, _ = run_both(backend, space, cases)
    assert len({row[0] for row in rows[:5]}) == 2      # 1/3 rounds down or up
    assert rows[0] == rows[5]


def test_fallbacks_without_fma_and_sse41(backend, space, monkeypatch):
    """The helper (FMA, unsigned conversions) and MXCSR switching (signed conversions with a
    static mode) where the native sequences need FMA3 / SSE4.1."""
    monkeypatch.setattr(isel_fp, "FEATURES", fpu.Features(sse41=False, fma=False))
    rng = random.Random(9)
    names = [n for n in FP_OPS if n.split("_")[0] in sf.FMA_KINDS or n.startswith("fcvt")]
    specials = [0x3FE0000000000000, 0xC004000000000000, 0x43E0000000000000, 0x7FF8000000000000,
                sf.box32(0x3F000000), sf.box32(0xCF000000), sf.box32(0x4F800000)]
    cases = []
    for name in names:
        for _ in range(20):
            inputs = tuple(rng.choice([rng.getrandbits(64), sf.box32(rng.getrandbits(32)),
                                       rng.choice(specials)])
                           for _ in range(OPS[name].inputs))
            cases.append((name, inputs, rng.choice([0, 1, 2, 3, 4, 7]), rng.randint(0, 4)))
    for start in range(0, len(cases), CHUNK):
        run_both(backend, space, cases[start:start + CHUNK])


def test_constant_operands(backend, space):
    """Constant inputs (the allocator materializes them) compute like loaded ones."""
    E.begin_block(GLOBALS, 0x1000)
    E.gen_insn_start(0x1000)
    out = E.const(OUTPUT_TABLE)
    result = E.new_temp()
    E.gen_fp_op("fmul_d", result, [E.const(0x4000000000000000), E.const(0x4008000000000000)],
                FPENV, FpRm.DYN)
    E.gen_guest_st(result, out, 0, MO_64)
    E.gen_fp_value("fsgnjn_d", result, result, result)
    E.gen_guest_st(result, out, 8, MO_64)
    E.gen_exit_tb(EXIT_VALUE)
    block = E.end_block()
    env = CpuEnv(ENV_ARCH_SIZE)
    assert backend.execute(backend.compile(block, 0), env.addr) == EXIT_VALUE
    assert struct.unpack("<QQ", space.peek(OUTPUT_TABLE, 16)) == (0x4018000000000000,
                                                                  0xC018000000000000)


def test_python_helpers_see_the_flags_and_run_with_the_host_mxcsr(backend, space):
    """A Python helper called from generated code (a plugin callback, say) reads the guest's
    accrued flags in env, computes with the host's rounding mode without leaking its own FP
    exceptions into the guest, and may write fflags."""
    from jit.ir import CallFlag, HelperInfo
    seen = {}

    def helper(env_address: int) -> int:
        seen["fflags"] = fpu.ffi.cast("uint64_t *", env_address + OFF_FFLAGS)[0]
        ten = float(sum([4, 6]))                       # at run time (no constant folding)
        seen["tenth"] = struct.unpack("<Q", struct.pack("<d", 1.0 / ten))[0]
        seen["huge"] = 1e308 * 10.0                    # OE + PE on the host
        fpu.ffi.cast("uint64_t *", env_address + OFF_FFLAGS)[0] = sf.DZ
        return 0

    info = HelperInfo("read_fflags", 1, False, CallFlag.NONE, py_func=helper)
    env = CpuEnv(ENV_ARCH_SIZE)
    env.write_u64(OFF_FRM, sf.RTZ)
    E.begin_block(GLOBALS, 0x1000)
    E.gen_insn_start(0x1000)
    result = E.new_temp()
    E.gen_fp_op("fdiv_d", result, [E.const(0x3FF0000000000000), E.const(0x4008000000000000)],
                FPENV, FpRm.DYN)                                       # 1/3: NX
    E.gen_call(info, None, [E.const(env.addr)])
    E.gen_fp_op("fadd_d", result, [E.const(0x3FF0000000000000), E.const(0x3FF0000000000000)],
                FPENV, FpRm.DYN)                                       # exact
    E.gen_exit_tb(EXIT_VALUE)
    block = E.end_block()
    assert backend.execute(backend.compile(block, 0), env.addr) == EXIT_VALUE
    assert backend.pending_exception is None
    assert seen["fflags"] == sf.NX
    assert seen["tenth"] == 0x3FB999999999999A                # rounded to nearest, not RTZ
    assert env.read_u64(OFF_FFLAGS) == sf.DZ                  # the helper's write; no OF/NX
