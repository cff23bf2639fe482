"""The x86 backend as a whole: faults, helpers, exit requests, chaining, the ABI of generated code,
the code cache, the encoder's cache and liveness facts."""
from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from keystone import KS_ARCH_X86, KS_MODE_64, Ks

from guest.riscv.cpu import (ENV_ARCH_SIZE, GPR_NAMES, OFF_FFLAGS, OFF_FRM, OFF_PC,
                             make_globals)
from host_x86 import encoder as enc
from host_x86.libc import PROT_NONE, PROT_READ, ffi
from host_x86.testing import HostMemory, NativeCode
from jit import emit as E
from jit.cpustate import CpuEnv
from jit.env import ENV_EXIT_REQUEST, ENV_FAULT_ADDR, ENV_FAULT_HOST_PC, ENV_FAULT_IS_WRITE
from jit.exits import ExitKind, decode_exit, encode_exit
from jit.interp import run_block
from jit.ir import (MASK64, MO_8, MO_8S, MO_16, MO_16S, MO_32, MO_32S, MO_64, CallFlag, Cond,
                    HelperInfo, PluginCbFrom, PluginCbType)
from jit.liveness import analyze
from jit.regalloc import RegallocError
from tests.native_fixtures import space_and_backend

G = make_globals()
R = G.by_name
DATA = 0x10000          # 64 KiB read+write
READ_ONLY = 0x30000     # one read-only page
UNMAPPED = 0x40000
LOOKUP = encode_exit(ExitKind.LOOKUP)


space, backend = space_and_backend([(DATA, 0x10000), (READ_ONLY, 0x1000, PROT_READ)],
                                   guard_variants=True)


@pytest.fixture
def env():
    return CpuEnv(ENV_ARCH_SIZE)


@pytest.fixture(scope="module")
def native_code():
    return NativeCode()


def set_globals(env, **values):
    for name, value in values.items():
        env.write_u64(R[name].offset, value & MASK64)


def get(env, name):
    return env.read_u64(R[name].offset)


def run_both(backend, space, block, env_values, host_memory=None):
    """Run block natively and in the interpreter from the same globals and guest memory; check
    they agree on exit value, globals and the data area; return (exit value, native env)."""
    before = space.peek(DATA, 0x10000)
    native_env, reference_env = CpuEnv(ENV_ARCH_SIZE), CpuEnv(ENV_ARCH_SIZE)
    for current in (native_env, reference_env):
        set_globals(current, **env_values)
    native = backend.compile(block, 0)
    value = backend.execute(native, native_env.addr)
    native_data = space.peek(DATA, 0x10000)
    space.poke(DATA, before)
    reference_value = run_block(block, reference_env, space, host_memory or HostMemory())
    assert value == reference_value
    for temp in G.temps:
        assert native_env.read_u64(temp.offset) == reference_env.read_u64(temp.offset), temp.name
    assert native_data == space.peek(DATA, 0x10000)
    return value, native_env


# --------------------------------------------------------------------------------------------
# Guest memory faults


def _faulting_load_block(offset=8, memop=MO_64):
    E.begin_block(G, 0x1000)
    E.gen_insn_start(0x1000)
    E.gen_add(R["a0"], R["a0"], E.const(1))        # dirty when the fault hits
    E.gen_insn_start(0x1004)
    loaded = E.new_temp()
    E.gen_guest_ld(loaded, R["a1"], offset, memop)
    E.gen_insn_start(0x1008)
    E.gen_mov(R["a2"], loaded)
    E.gen_goto_tb(0)
    E.gen_mov(R["pc"], E.const(0x100C))
    E.gen_exit_tb(encode_exit(ExitKind.CHAIN, 0, 0))
    return E.end_block()


@pytest.mark.parametrize("base, offset, fault_address", [
    (UNMAPPED, 8, UNMAPPED + 8),                      # unmapped page: host SIGSEGV
    (1 << 40, 8, (1 << 40) + 8),                      # above the limit: explicit check
    ((1 << 38) - 8, 8, 1 << 38),                      # first address above the limit
    (MASK64 - 3, 8, 4),                               # 64-bit wrap to page 0 (unmapped)
    (0x7000_0000_0000_0000, 0, 0x7000_0000_0000_0000),
    (5, -(1 << 40), (5 - (1 << 40)) & MASK64),        # offset that does not fit 32 bits
])
def test_guest_load_fault_reports_address_pc_and_precise_state(backend, space, env, base,
                                                                  offset, fault_address):
    block = _faulting_load_block(offset & MASK64)
    set_globals(env, a0=41, a1=base, a2=7)
    native = backend.compile(block, 3)
    kind, _, _ = decode_exit(backend.execute(native, env.addr))
    assert kind is ExitKind.FAULT
    assert env.read_u64(ENV_FAULT_ADDR) == fault_address
    assert env.read_u64(ENV_FAULT_IS_WRITE) == 0
    assert backend.host_pc_to_guest_pc(env.read_u64(ENV_FAULT_HOST_PC)) == 0x1004
    assert (get(env, "a0"), get(env, "a1"), get(env, "a2")) == (42, base, 7)

    reference = CpuEnv(ENV_ARCH_SIZE)
    set_globals(reference, a0=41, a1=base, a2=7)
    assert decode_exit(run_block(block, reference, space))[0] is ExitKind.FAULT
    assert reference.read_u64(ENV_FAULT_ADDR) == fault_address
    for temp in G.temps:
        assert reference.read_u64(temp.offset) == env.read_u64(temp.offset)


@pytest.mark.parametrize("address", [READ_ONLY + 16, UNMAPPED, 1 << 38, MASK64 - 1])
@pytest.mark.parametrize("memop", [MO_8, MO_16, MO_32, MO_64])
def test_guest_store_fault_is_a_write_and_changes_nothing(backend, space, env, address, memop):
    E.begin_block(G, 0x2000)
    E.gen_insn_start(0x2000)
    E.gen_mov(R["a3"], E.const(0x1234))
    E.gen_insn_start(0x2004)
    E.gen_guest_st(R["a0"], R["a1"], 0, memop)
    E.gen_exit_tb(LOOKUP)
    block = E.end_block()
    before = space.peek(READ_ONLY, 0x1000)
    set_globals(env, a0=0xFFFF_FFFF_FFFF_FFFF, a1=address)
    native = backend.compile(block, 0)
    assert decode_exit(backend.execute(native, env.addr))[0] is ExitKind.FAULT
    assert env.read_u64(ENV_FAULT_ADDR) == address
    assert env.read_u64(ENV_FAULT_IS_WRITE) == 1
    assert backend.host_pc_to_guest_pc(env.read_u64(ENV_FAULT_HOST_PC)) == 0x2004
    assert get(env, "a3") == 0x1234
    assert space.peek(READ_ONLY, 0x1000) == before


def test_loads_from_read_only_page_and_wrapped_addresses_work(backend, space):
    space.poke(DATA, (0x1122334455667788).to_bytes(8, "little"))
    E.begin_block(G, 0x1000)
    E.gen_insn_start(0x1000)
    E.gen_guest_ld(R["a0"], R["a1"], 0, MO_64)
    E.gen_guest_ld(R["a2"], R["a3"], DATA + 16, MO_32S)     # a3 + offset wraps to DATA
    E.gen_exit_tb(LOOKUP)
    block = E.end_block()
    _, env = run_both(backend, space, block, {"a1": READ_ONLY, "a3": MASK64 - 15})
    assert get(env, "a2") == 0x55667788


WRITABLE_GPRS = [name for name in GPR_NAMES[1:] if name not in ("t5", "t6")]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(WRITABLE_GPRS), st.sampled_from(["add", "const", "load"]),
                          st.integers(0, MASK64)), min_size=1, max_size=24),
       st.sampled_from([(UNMAPPED, False), (UNMAPPED, True), (1 << 40, False), (1 << 40, True),
                        (MASK64 - 0x800, False), (READ_ONLY, True)]))
# Every allocatable register (rax is the last choice) holds a dirty global at the fault.
@example(writes=[(name, "add", 3) for name in WRITABLE_GPRS[:14]], fault=(1 << 40, False))
@example(writes=[(name, "add", 3) for name in WRITABLE_GPRS[:14]], fault=(UNMAPPED, True))
def test_a_fault_after_many_dirty_globals_leaves_env_exactly_as_the_interpreter(
        backend, space, writes, fault):
    """Accesses do not write dirty globals back: at a fault they come back from the host
    registers saved by the fault path (any register, rax included) or from known constants."""
    fault_base, store = fault
    E.begin_block(G, 0x1300)
    pc = 0x1300
    for name, how, value in writes:
        E.gen_insn_start(pc)
        pc += 4
        if how == "add":
            E.gen_add(R[name], R[name], E.const(value))
        elif how == "const":
            E.gen_mov(R[name], E.const(value))
        else:   # a good access in between: the dirty set at a fault differs per access
            E.gen_guest_ld(R[name], R["t6"], value & 0xFF8, MO_64)
    E.gen_insn_start(pc)
    if store:
        E.gen_guest_st(R["t0"], R["t5"], 0, MO_32)
    else:
        E.gen_guest_ld(R["t0"], R["t5"], 0, MO_16)
    E.gen_exit_tb(LOOKUP)
    block = E.end_block()
    start = {name: index * 0x1_0000_0001 for index, name in enumerate(WRITABLE_GPRS)}
    start.update(t5=fault_base, t6=DATA)
    value, native_env = run_both(backend, space, block, start)
    assert decode_exit(value)[0] is ExitKind.FAULT
    assert backend.host_pc_to_guest_pc(native_env.read_u64(ENV_FAULT_HOST_PC)) == pc


TOP_PAGE = (1 << 38) - 0x1000      # the last page below the guest limit


def _repeated_base_block(first_offset, second_offset, store=False):
    """Two accesses through the same base: with guards the second one is not checked."""
    E.begin_block(G, 0x1200)
    E.gen_insn_start(0x1200)
    E.gen_guest_ld(R["a0"], R["a1"], first_offset & MASK64, MO_64)
    E.gen_insn_start(0x1204)
    if store:
        E.gen_guest_st(R["a2"], R["a1"], second_offset & MASK64, MO_64)
    else:
        E.gen_guest_ld(R["a2"], R["a1"], second_offset & MASK64, MO_64)
    E.gen_exit_tb(LOOKUP)
    return E.end_block()


@pytest.mark.parametrize("store", [False, True], ids=["load", "store"])
@pytest.mark.parametrize("base, first, second, fault_address", [
    (DATA, 0, 8, None),                                   # both inside: no fault
    (DATA, 0, -DATA - 16, MASK64 - 15),                   # second below address 0: lower guard
    (DATA, 0, (1 << 31) - 8, DATA + (1 << 31) - 8),      # far above, unmapped
    (TOP_PAGE, 0, 0x1000, 1 << 38),                       # just above the limit: upper guard
    (TOP_PAGE, 0, (1 << 31) - 1, TOP_PAGE + (1 << 31) - 1),
    (MASK64 - 15, DATA + 16, DATA + 24, None),            # a wrapping base, both valid
    (MASK64 - 15, DATA + 16, -32, MASK64 - 47),           # a wrapping base, then a fault
])
def test_accesses_through_one_base_fault_exactly_where_they_should(backend, space, env, store,
                                                                    base, first, second,
                                                                    fault_address):
    """The guard areas make a checked base good for any 32-bit displacement: every address
    outside the guest limit still faults, with its exact guest address and pc."""
    space.map(TOP_PAGE, 0x1000)
    try:
        block = _repeated_base_block(first, second, store)
        set_globals(env, a0=0, a1=base, a2=0x5A5A)
        native = backend.compile(block, 0)
        kind = decode_exit(backend.execute(native, env.addr))[0]
        if fault_address is None:
            assert kind is ExitKind.LOOKUP
        else:
            assert kind is ExitKind.FAULT
            assert env.read_u64(ENV_FAULT_ADDR) == fault_address
            assert env.read_u64(ENV_FAULT_IS_WRITE) == int(store)
            assert backend.host_pc_to_guest_pc(env.read_u64(ENV_FAULT_HOST_PC)) == 0x1204
        reference = CpuEnv(ENV_ARCH_SIZE)
        set_globals(reference, a0=0, a1=base, a2=0x5A5A)
        assert decode_exit(run_block(block, reference, space))[0] is kind
        for temp in G.temps:
            assert reference.read_u64(temp.offset) == env.read_u64(temp.offset), temp.name
    finally:
        space.map(TOP_PAGE, 0x1000, PROT_NONE)


def test_only_the_first_access_through_a_base_is_checked(backend, space):
    """With guards, one check per base value: a second access adds no compare."""
    if not backend.guest_guarded:
        pytest.skip("unguarded spaces check every access")
    one = _count_checks(backend, _repeated_base_block(0, 8))
    E.begin_block(G, 0x1200)
    E.gen_insn_start(0x1200)
    E.gen_guest_ld(R["a0"], R["a1"], 0, MO_64)
    E.gen_add(R["a1"], R["a1"], E.const(8))               # a new base value: checked again
    E.gen_guest_ld(R["a2"], R["a1"], 0, MO_64)
    E.gen_exit_tb(LOOKUP)
    two = _count_checks(backend, E.end_block())
    # A checked access shifts its base once inline and its address once in the out-of-line path.
    assert (one, two) == (2, 4)


def _count_checks(backend, block):
    native = backend.compile(block, 0)
    return sum(1 for line in backend.disassemble(native).splitlines()
               if re.search(r"shr \w+, 0x26$", line))


def test_accesses_at_constant_addresses(backend, space, env):
    """Known addresses below 2**31 need no check; others take the checked path."""
    space.poke(DATA + 0x100, (0xFEDC_BA98_7654_8210).to_bytes(8, "little"))

    def block(load_address, store_address):
        E.begin_block(G, 0x1100)
        E.gen_insn_start(0x1100)
        E.gen_guest_ld(R["a0"], E.const(load_address), 0x10, MO_16S)
        E.gen_insn_start(0x1104)
        E.gen_guest_st(R["a1"], E.const(store_address - 8), 8, MO_32)
        E.gen_insn_start(0x1108)
        E.gen_guest_st(E.const(0x7F), E.const(store_address), 4, MO_8)
        E.gen_exit_tb(LOOKUP)
        return E.end_block()

    _, native_env = run_both(backend, space, block(DATA + 0xF0, DATA + 0x200),
                             {"a1": 0x1234_5678_9ABC})
    assert get(native_env, "a0") == 0xFFFF_FFFF_FFFF_8210
    for load_address, store_address, fault_address, pc in [
            (UNMAPPED, DATA, UNMAPPED + 0x10, 0x1100),
            (DATA, READ_ONLY, READ_ONLY, 0x1104),
            (DATA, 1 << 40, 1 << 40, 0x1104),
            (DATA, 0x9000_0000, 0x9000_0000, 0x1104)]:
        native = backend.compile(block(load_address, store_address), 0)
        assert decode_exit(backend.execute(native, env.addr))[0] is ExitKind.FAULT
        assert env.read_u64(ENV_FAULT_ADDR) == fault_address
        assert backend.host_pc_to_guest_pc(env.read_u64(ENV_FAULT_HOST_PC)) == pc


def test_many_faults_leave_the_process_and_handler_intact(backend, space, env):
    native = backend.compile(_faulting_load_block(), 0)
    for round_number in range(300):
        set_globals(env, a1=UNMAPPED if round_number % 2 else 1 << 50)
        assert decode_exit(backend.execute(native, env.addr))[0] is ExitKind.FAULT
    space.poke(DATA + 8, (99).to_bytes(8, "little"))
    set_globals(env, a1=DATA)
    assert decode_exit(backend.execute(native, env.addr))[0] is ExitKind.CHAIN
    assert get(env, "a2") == 99
    assert backend.fault_handler.is_installed(11)


def test_fault_outside_generated_code_still_kills_the_process():
    """The handler chains to the previous action for faults that are not the guest's."""
    program = textwrap.dedent("""
        import ctypes
        from host_x86.backend import X86Backend
        from host_x86.libc import SS_DISABLE, ffi, lib
        from host_x86.testing import GuestSpace
        X86Backend(GuestSpace().base)
        stack = ffi.new("stack_t *")
        assert lib.sigaltstack(ffi.NULL, stack) == 0 and not stack.ss_flags & SS_DISABLE
        ctypes.string_at(16)
    """)
    for flags in ([], ["-X", "faulthandler"]):
        result = subprocess.run([sys.executable, *flags, "-c", program], capture_output=True,
                                timeout=60, cwd=_repo_root())
        assert result.returncode == -11, result.stderr.decode()


def _repo_root() -> str:
    import pathlib
    return str(pathlib.Path(__file__).resolve().parents[1])


# --------------------------------------------------------------------------------------------
# Exit requests and helpers


def _simple_block(pc=0x3000):
    E.begin_block(G, pc)
    E.gen_insn_start(pc)
    E.gen_add(R["a0"], R["a0"], E.const(1))
    E.gen_goto_tb(0)
    E.gen_mov(R["pc"], E.const(pc + 4))
    E.gen_exit_tb(encode_exit(ExitKind.CHAIN, 0, 1))
    return E.end_block()


def test_exit_request_at_block_entry_returns_stop_with_the_block_pc(backend, env):
    native = backend.compile(_simple_block(0x7777_0000_0000), 1)
    set_globals(env, a0=5, pc=0)
    ffi.cast("uint32_t *", env.addr + ENV_EXIT_REQUEST)[0] = 1
    assert decode_exit(backend.execute(native, env.addr))[0] is ExitKind.STOP
    assert get(env, "a0") == 5
    assert env.read_u64(OFF_PC) == 0x7777_0000_0000
    ffi.cast("uint32_t *", env.addr + ENV_EXIT_REQUEST)[0] = 0
    assert decode_exit(backend.execute(native, env.addr)) == (ExitKind.CHAIN, 0, 1)
    assert get(env, "a0") == 6


def test_exception_in_python_helper_is_kept_and_stops_the_guest(backend, env):
    def failing(value):
        raise ValueError(f"bad {value}")

    helper = HelperInfo("failing", 1, True, py_func=failing)
    E.begin_block(G, 0x4000)
    E.gen_insn_start(0x4000)
    E.gen_call(helper, R["a0"], [R["a1"]])
    E.gen_exit_tb(LOOKUP)
    native = backend.compile(E.end_block(), 0)
    set_globals(env, a0=3, a1=9)
    backend.pending_exception = None
    backend.execute(native, env.addr)
    assert isinstance(backend.pending_exception, ValueError)
    assert str(backend.pending_exception) == "bad 9"
    assert get(env, "a0") == 0
    assert ffi.cast("uint32_t *", env.addr + ENV_EXIT_REQUEST)[0] == 1
    other = backend.compile(_simple_block(), 0)
    assert decode_exit(backend.execute(other, env.addr))[0] is ExitKind.STOP
    backend.pending_exception = None


@pytest.mark.parametrize("flags", [CallFlag.MAY_STOP,
                                   CallFlag.MAY_STOP | CallFlag.NO_READ_GLOBALS
                                   | CallFlag.NO_WRITE_GLOBALS,
                                   CallFlag.MAY_STOP | CallFlag.NO_WRITE_GLOBALS])
def test_may_stop_helper_leaves_right_after_the_call(backend, env, flags):
    calls = []

    def stop_now(value):
        calls.append(value)
        ffi.cast("uint32_t *", env.addr + ENV_EXIT_REQUEST)[0] = 1
        return value + 1

    helper = HelperInfo("stop_now", 1, True, flags, py_func=stop_now)
    E.begin_block(G, 0x5000)
    E.gen_insn_start(0x5000)
    E.gen_mov(R["s1"], E.const(0x1234_5678_9ABC))   # dirty constant
    E.gen_add(R["a1"], R["a1"], E.const(1))          # dirty register
    E.gen_insn_start(0x5004)
    E.gen_call(helper, R["a0"], [R["a1"]])
    E.gen_insn_start(0x5008)
    E.gen_mov(R["a2"], E.const(7))
    E.gen_exit_tb(LOOKUP)
    native = backend.compile(E.end_block(), 0)
    set_globals(env, a1=10, a2=0)
    assert decode_exit(backend.execute(native, env.addr))[0] is ExitKind.STOP
    assert calls == [11]
    assert (get(env, "s1"), get(env, "a1"), get(env, "a2")) == (0x1234_5678_9ABC, 11, 0)
    assert env.read_u64(OFF_PC) == 0x5004
    ffi.cast("uint32_t *", env.addr + ENV_EXIT_REQUEST)[0] = 0


def test_helper_arguments_results_and_many_arguments(backend, space, native_code):
    weights = list(range(3, 3 + 14))

    def weighted(*args):
        return sum(weight * arg for weight, arg in zip(weights, args))

    python_helper = HelperInfo("weighted", 14, True, CallFlag.NO_READ_GLOBALS
                               | CallFlag.NO_WRITE_GLOBALS, py_func=weighted)
    # rdi + 2 * rsi, and a void native helper.
    native_address = native_code.add("lea rax, [rdi + rsi*2]; ret")
    native_helper = HelperInfo("lea", 2, True, CallFlag.NO_READ_GLOBALS
                               | CallFlag.NO_WRITE_GLOBALS,
                               py_func=lambda a, b: (a + 2 * b) & MASK64,
                               native_address=native_address)
    E.begin_block(G, 0x6000)
    E.gen_insn_start(0x6000)
    arguments = [R["a1"], R["a2"], E.const(5), R["a3"], R["s2"], E.const(0x7FFF_FFFF_FFFF),
                 R["a1"], E.const(MASK64), R["s3"], E.new_temp(), R["a2"], E.const(1),
                 R["a3"], R["s4"]]
    E.gen_add(arguments[9], R["a1"], R["a2"])
    E.gen_call(python_helper, R["a0"], arguments)
    E.gen_call(native_helper, R["a4"], [R["a0"], R["a3"]])
    E.gen_add(R["a5"], R["a1"], R["a4"])           # a1 survives both calls
    E.gen_exit_tb(LOOKUP)
    block = E.end_block()
    run_both(backend, space, block, {"a1": 11, "a2": MASK64, "a3": 1 << 63, "s2": 3,
                                     "s3": 0x1234, "s4": 17})


def test_helpers_see_and_change_globals_according_to_their_flags(backend, space, env):
    seen = []

    def reads_and_writes():
        seen.append(get(env, "a1"))
        set_globals(env, a2=0xABCD)

    helper = HelperInfo("rw", 0, False, CallFlag.NONE, py_func=reads_and_writes)
    E.begin_block(G, 0x6100)
    E.gen_insn_start(0x6100)
    E.gen_add(R["a1"], R["a1"], E.const(1))
    E.gen_add(R["a2"], R["a2"], E.const(1))
    E.gen_call(helper, None, [])
    E.gen_add(R["a3"], R["a2"], E.const(1))
    E.gen_exit_tb(LOOKUP)
    native = backend.compile(E.end_block(), 0)
    set_globals(env, a1=1, a2=2)
    backend.execute(native, env.addr)
    assert seen == [2]
    assert (get(env, "a2"), get(env, "a3")) == (0xABCD, 0xABCE)


def test_a_helper_may_run_guest_code_and_faults_still_exit_cleanly(backend, env):
    """Nested execute on the same env: the outer run's fault exit must still find its frame."""
    inner = backend.compile(_simple_block(0x6400), 0)

    def run_inner():
        backend.execute(inner, env.addr)

    helper = HelperInfo("run_inner", 0, False, py_func=run_inner)
    E.begin_block(G, 0x6500)
    E.gen_insn_start(0x6500)
    E.gen_call(helper, None, [])
    E.gen_insn_start(0x6504)
    E.gen_guest_ld(R["a2"], R["a1"], 0, MO_64)
    E.gen_exit_tb(LOOKUP)
    outer = backend.compile(E.end_block(), 0)
    set_globals(env, a0=0, a1=UNMAPPED)
    assert decode_exit(backend.execute(outer, env.addr))[0] is ExitKind.FAULT
    assert get(env, "a0") == 1
    assert backend.host_pc_to_guest_pc(env.read_u64(ENV_FAULT_HOST_PC)) == 0x6504


def test_stack_is_aligned_at_helper_calls(backend, env, native_code):
    rsp_low_bits = native_code.add("mov rax, rsp; and rax, 15; ret")
    helper = HelperInfo("rsp", 0, True, CallFlag.NO_READ_GLOBALS | CallFlag.NO_WRITE_GLOBALS,
                        native_address=rsp_low_bits)
    E.begin_block(G, 0x6200)
    E.gen_insn_start(0x6200)
    E.gen_call(helper, R["a0"], [])
    E.gen_exit_tb(LOOKUP)
    native = backend.compile(E.end_block(), 0)
    set_globals(env, a0=99)
    backend.execute(native, env.addr)
    assert get(env, "a0") == 8     # the call pushed the return address onto a 16-aligned rsp


_PROBE = """
    push rbx; push rbp; push r12; push r13; push r14; push r15; sub rsp, 8
    mov r11, rcx
    movabs rbx, 0x1111111111111111; movabs rbp, 0x2222222222222222
    movabs r12, 0x3333333333333333; movabs r13, 0x4444444444444444
    movabs r14, 0x5555555555555555; movabs r15, 0x6666666666666666
    call r11
    xor eax, eax
    movabs rcx, 0x1111111111111111; cmp rbx, rcx; setne cl; or al, cl
    movabs rcx, 0x2222222222222222; cmp rbp, rcx; setne cl; shl cl, 1; or al, cl
    movabs rcx, 0x3333333333333333; cmp r12, rcx; setne cl; shl cl, 2; or al, cl
    movabs rcx, 0x4444444444444444; cmp r13, rcx; setne cl; shl cl, 3; or al, cl
    movabs rcx, 0x5555555555555555; cmp r14, rcx; setne cl; shl cl, 4; or al, cl
    movabs rcx, 0x6666666666666666; cmp r15, rcx; setne cl; shl cl, 5; or al, cl
    add rsp, 8; pop r15; pop r14; pop r13; pop r12; pop rbp; pop rbx
    ret
"""


def test_generated_code_preserves_callee_saved_registers(backend, space, env, native_code):
    """A native caller checks rbx, rbp, r12-r15 after normal exits and after a fault exit."""
    probe = ffi.cast("uint64_t (*)(uint64_t, uint64_t, uint64_t, uint64_t)",
                     native_code.add(_PROBE))
    entry = int(ffi.cast("uintptr_t", backend.runtime.entry))
    helper = HelperInfo("twice", 1, True, py_func=lambda value: 2 * value)
    E.begin_block(G, 0x6300)
    E.gen_insn_start(0x6300)
    temps = [E.new_temp() for _ in range(20)]
    for index, temp in enumerate(temps):
        E.gen_add(temp, R["a1"], E.const(index))
    E.gen_call(helper, R["a0"], [temps[0]])
    total = E.new_temp()
    E.gen_mov(total, R["a0"])
    for temp in temps:
        E.gen_add(total, total, temp)
    E.gen_and(total, total, E.const(0xFF))
    E.gen_add(total, total, R["a1"])
    E.gen_guest_ld(R["a2"], total, 0, MO_8)
    E.gen_exit_tb(LOOKUP)
    native = backend.compile(E.end_block(), 0)
    for a1, expected_kind in [(DATA, ExitKind.LOOKUP), (UNMAPPED, ExitKind.FAULT),
                              (1 << 45, ExitKind.FAULT)]:
        set_globals(env, a1=a1)
        ffi.cast("uint64_t *", env.addr + ENV_FAULT_ADDR)[0] = 0
        assert probe(env.addr, native.host_addr, space.base, entry) == 0
        assert (env.read_u64(ENV_FAULT_ADDR) != 0) == (expected_kind is ExitKind.FAULT)


# --------------------------------------------------------------------------------------------
# Code cache, chaining, maps


def test_many_blocks_are_placed_in_order_and_all_run(backend, env):
    natives = []
    start_used = backend.code_buffer.used
    for index in range(1500):
        E.begin_block(G, 0x10_0000 + 4 * index)
        E.gen_insn_start(0x10_0000 + 4 * index)
        E.gen_add(R["a0"], R["a0"], E.const(index))
        E.gen_exit_tb(encode_exit(ExitKind.CHAIN, 1, index))
        natives.append(backend.compile(E.end_block(), index))
    for previous, following in zip(natives, natives[1:]):
        assert previous.host_addr + previous.host_size <= following.host_addr
    assert backend.code_buffer.used - start_used >= sum(n.host_size for n in natives)
    for index in (0, 1, 777, 1499):
        set_globals(env, a0=1000)
        assert decode_exit(backend.execute(natives[index], env.addr)) == (ExitKind.CHAIN, 1,
                                                                         index)
        assert get(env, "a0") == 1000 + index


def test_chain_unchain_and_stop_in_a_chained_loop(backend, env):
    first = backend.compile(_simple_block(0x8000), 1)
    second = backend.compile(_simple_block(0x9000), 2)
    set_globals(env, a0=0)
    assert decode_exit(backend.execute(first, env.addr)) == (ExitKind.CHAIN, 0, 1)
    backend.chain(first, 0, second)
    assert decode_exit(backend.execute(first, env.addr)) == (ExitKind.CHAIN, 0, 1)
    assert get(env, "a0") == 3 and env.read_u64(OFF_PC) == 0x9004
    backend.unchain(first, 0)
    assert decode_exit(backend.execute(first, env.addr)) == (ExitKind.CHAIN, 0, 1)
    assert get(env, "a0") == 4 and env.read_u64(OFF_PC) == 0x8004
    assert second.incoming == [] and first.chained == {}

    def count(value):
        if value >= 1000:
            ffi.cast("uint32_t *", env.addr + ENV_EXIT_REQUEST)[0] = 1

    counter = HelperInfo("count", 1, False, CallFlag.NO_READ_GLOBALS | CallFlag.NO_WRITE_GLOBALS,
                         py_func=count)
    E.begin_block(G, 0xA000)
    E.gen_insn_start(0xA000)
    E.gen_add(R["a0"], R["a0"], E.const(1))
    E.gen_call(counter, None, [R["a0"]])
    E.gen_goto_tb(0)
    E.gen_mov(R["pc"], E.const(0xA000))
    E.gen_exit_tb(encode_exit(ExitKind.CHAIN, 0, 3))
    loop = backend.compile(E.end_block(), 3)
    backend.chain(loop, 0, loop)
    set_globals(env, a0=0, pc=0)
    assert decode_exit(backend.execute(loop, env.addr))[0] is ExitKind.STOP
    assert get(env, "a0") == 1000 and env.read_u64(OFF_PC) == 0xA000
    ffi.cast("uint32_t *", env.addr + ENV_EXIT_REQUEST)[0] = 0
    backend.unchain_incoming(loop)
    assert loop.incoming == []


def test_a_forked_child_has_a_code_cache_of_its_own(backend, env):
    """After os.fork() the child's new blocks and patches must not reach the parent's code."""
    first = backend.compile(_simple_block(0x8100), 1)
    pid = os.fork()
    if pid == 0:
        status = 1
        try:
            child_block = backend.compile(_simple_block(0x8200), 2)
            backend.chain(first, 0, child_block)
            set_globals(env, a0=0)
            backend.execute(first, env.addr)
            status = 0 if env.read_u64(OFF_PC) == 0x8204 and get(env, "a0") == 2 else 3
        finally:
            os._exit(status)
    _, wait_status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(wait_status) == 0
    parent_block = backend.compile(_simple_block(0x8300), 3)
    set_globals(env, a0=0)
    assert decode_exit(backend.execute(first, env.addr)) == (ExitKind.CHAIN, 0, 1)
    assert env.read_u64(OFF_PC) == 0x8104 and get(env, "a0") == 1
    assert decode_exit(backend.execute(parent_block, env.addr)) == (ExitKind.CHAIN, 0, 1)


def test_goto_tb_jump_is_patchable_in_place(backend):
    native = backend.compile(_simple_block(), 0)
    jump = native.host_addr + native.slot_jumps[0]
    assert backend.code_buffer.read(jump, 5) == b"\xE9\x00\x00\x00\x00"
    assert (jump + 1) % 4 == 0


def test_host_pc_maps_back_to_guest_pc(backend):
    E.begin_block(G, 0xB000)
    for index in range(3):
        E.gen_insn_start(0xB000 + 4 * index)
        E.gen_add(R["a0"], R["a0"], R[f"a{index + 1}"])
    E.gen_exit_tb(LOOKUP)
    native = backend.compile(E.end_block(), 0)
    assert [pc for _, pc in native.insn_map] == [0xB000, 0xB004, 0xB008]
    for offset, pc in native.insn_map:
        assert backend.host_pc_to_guest_pc(native.host_addr + offset) == pc
    last_offset = native.insn_map[-1][0]
    assert backend.host_pc_to_guest_pc(native.host_addr + last_offset + 1) == 0xB008
    assert backend.host_pc_to_guest_pc(native.host_addr + native.host_size) is None
    assert backend.host_pc_to_guest_pc(16) is None


def test_disassembly_has_one_instruction_per_line(backend):
    native = backend.compile(_simple_block(), 0)
    lines = backend.disassemble(native).splitlines()
    assert lines[0].endswith("cmp dword ptr [rbp - 8], 0")
    assert all(re.match(r"^0x[0-9a-f]+:  [a-z]", line) for line in lines)
    assert int(lines[0].split(":")[0], 16) == native.host_addr
    annotated = backend.disassemble(native, annotate=True)
    assert "  -- guest pc 0x3000" in annotated.splitlines()


# --------------------------------------------------------------------------------------------
# Ops with memory other than guest memory, register pressure, control flow


def test_env_loads_and_stores_of_every_size_and_global_overlap(backend, space):
    E.begin_block(G, 0xC000)
    E.gen_insn_start(0xC000)
    E.gen_st_env(R["a1"], OFF_FFLAGS, MO_64)
    E.gen_st_env(R["a2"], OFF_FFLAGS + 1, MO_8)
    E.gen_st_env(R["a2"], OFF_FRM + 2, MO_16)
    E.gen_st_env(E.const(0xFFFF_FFF0), OFF_FRM + 4, MO_32)
    for index, memop in enumerate([MO_8, MO_8S, MO_16, MO_16S, MO_32, MO_32S, MO_64]):
        E.gen_ld_env(R[f"s{index + 2}"], OFF_FRM, memop)
    E.gen_ld_env(R["t0"], OFF_FFLAGS, MO_64)
    # A dirty global read through ld_env, and a global written through st_env.
    E.gen_add(R["a3"], R["a3"], E.const(1))
    E.gen_ld_env(R["t1"], R["a3"].offset, MO_32)
    E.gen_add(R["a4"], R["a4"], E.const(1))
    E.gen_st_env(E.const(0x77), R["a4"].offset, MO_8)
    E.gen_add(R["t2"], R["a4"], E.const(0))
    E.gen_exit_tb(LOOKUP)
    block = E.end_block()
    _, env = run_both(backend, space, block, {"a1": 0x1122334455667788, "a2": 0x8899AABB,
                                              "a3": 0xFFFF_FFFF, "a4": 0x1_0000_0100})
    assert get(env, "t1") == 0 and get(env, "t2") == 0x1_0000_0177


def test_host_memory_loads_and_stores(backend, space):
    buffer = ffi.new("uint8_t[64]")
    address = int(ffi.cast("uintptr_t", buffer))
    E.begin_block(G, 0xC100)
    E.gen_insn_start(0xC100)
    pointer = E.const(address)
    E.gen_st_host(R["a1"], pointer, 8, MO_64)
    E.gen_st_host(E.const(0xFF), pointer, 3, MO_8)
    E.gen_st_host(R["a2"], R["a3"], 20, MO_16)
    E.gen_ld_host(R["a4"], pointer, 8, MO_32S)
    E.gen_ld_host(R["a5"], R["a3"], 0, MO_64)
    E.gen_ld_host(R["a6"], R["a3"], (1 << 40), MO_16)     # offset that needs a register
    E.gen_exit_tb(LOOKUP)
    block = E.end_block()
    native_env = CpuEnv(ENV_ARCH_SIZE)
    set_globals(native_env, a1=0x8000_0000_F000_0001, a2=0xBEEF, a3=address,)
    # a6 reads buffer + 2**40 - 2**40 ... keep it in the buffer: a3 = address - 2**40.
    set_globals(native_env, a3=address - (1 << 40))
    block.ops[3].consts[0] = 20 + (1 << 40)
    block.ops[5].consts[0] = 1 << 40
    native = backend.compile(block, 0)
    backend.execute(native, native_env.addr)
    native_bytes = bytes(ffi.buffer(buffer))
    ffi.memmove(buffer, bytes(64), 64)
    reference_env = CpuEnv(ENV_ARCH_SIZE)
    set_globals(reference_env, a1=0x8000_0000_F000_0001, a2=0xBEEF, a3=address - (1 << 40))
    run_block(block, reference_env, space, HostMemory())
    assert bytes(ffi.buffer(buffer)) == native_bytes
    for name in ("a4", "a5", "a6"):
        assert get(native_env, name) == get(reference_env, name)
    assert get(native_env, "a4") == 0xFFFF_FFFF_F000_0001


def test_register_pressure_spills_and_reloads(backend, space):
    E.begin_block(G, 0xD000)
    E.gen_insn_start(0xD000)
    temps = []
    for index in range(60):
        temp = E.new_temp()
        E.gen_guest_ld(temp, E.const(DATA), 8 * index, MO_64)
        temps.append(temp)
    accumulator = E.new_temp()
    E.gen_mov(accumulator, R["a0"])
    for index, temp in enumerate(temps):
        E.gen_mul(accumulator, accumulator, E.const(3))
        E.gen_xor(accumulator, accumulator, temp)
        E.gen_guest_st(accumulator, E.const(DATA), 0x8000 + 8 * index, MO_64)
    for index, temp in enumerate(reversed(temps)):
        E.gen_sub(R[f"s{2 + index % 10}"], temp, accumulator)
    E.gen_exit_tb(LOOKUP)
    block = E.end_block()
    space.poke(DATA, bytes(range(256)) * 2)
    run_both(backend, space, block, {"a0": 12345})


def test_loop_with_backward_branch_inside_a_block(backend, space):
    """sum = 0; i = a1; do { sum += mem[DATA + 8*i]; i -= 1 } while (i != 0)"""
    E.begin_block(G, 0xE000)
    E.gen_insn_start(0xE000)
    total, index, address, value = (E.new_temp() for _ in range(4))
    E.gen_mov(total, E.const(0))
    E.gen_mov(index, R["a1"])
    top = E.new_label()
    E.gen_set_label(top)
    E.gen_shl(address, index, E.const(3))
    E.gen_guest_ld(value, address, DATA, MO_64)
    E.gen_add(total, total, value)
    E.gen_sub(index, index, E.const(1))
    E.gen_brcond(Cond.NE, index, E.const(0), top)
    E.gen_mov(R["a0"], total)
    E.gen_exit_tb(LOOKUP)
    block = E.end_block()
    space.poke(DATA, b"".join((i * i).to_bytes(8, "little") for i in range(40)))
    _, env = run_both(backend, space, block, {"a1": 30})
    assert get(env, "a0") == sum(i * i for i in range(1, 31))


def test_goto_ptr_returns_lookup_with_the_stored_pc(backend, space):
    E.begin_block(G, 0xF000)
    E.gen_insn_start(0xF000)
    E.gen_add(R["pc"], R["ra"], E.const(8))
    E.gen_goto_ptr(R["pc"])
    block = E.end_block()
    value, env = run_both(backend, space, block, {"ra": 0x4242})
    assert value == LOOKUP and env.read_u64(OFF_PC) == 0x424A


def test_a_block_needing_too_many_spill_slots_is_refused(backend):
    E.begin_block(G, 0xF100)
    temps = [E.new_temp() for _ in range(600)]
    for index, temp in enumerate(temps):
        E.gen_guest_ld(temp, R["a0"], 8 * index, MO_64)
    for temp in temps:
        E.gen_guest_st(temp, R["a1"], 0, MO_64)
    E.gen_exit_tb(LOOKUP)
    with pytest.raises(RegallocError):
        backend.compile(E.end_block(), 0)


def test_markers_emit_no_code(backend):
    def block(with_markers):
        E.begin_block(G, 0xF300)
        E.gen_insn_start(0xF300)
        if with_markers:
            E.gen_plugin_cb_start(PluginCbFrom.INSN, PluginCbType.UDATA, 0)
            E.gen_plugin_cb_end()
        E.gen_add(R["a0"], R["a0"], R["a1"])
        if with_markers:
            E.gen_insn_start(0xF304)
        E.gen_exit_tb(LOOKUP)
        return E.end_block()

    plain, marked = backend.compile(block(False), 0), backend.compile(block(True), 0)
    assert plain.host_size == marked.host_size
    assert len(marked.insn_map) == 2 and marked.insn_map[1][0] > marked.insn_map[0][0]


def test_dead_code_after_an_exit_emits_nothing(backend):
    E.begin_block(G, 0xF200)
    E.gen_insn_start(0xF200)
    E.gen_exit_tb(LOOKUP)
    for _ in range(50):
        E.gen_add(R["a0"], R["a0"], R["a1"])
    E.gen_exit_tb(LOOKUP)
    native = backend.compile(E.end_block(), 0)
    assert len(backend.disassemble(native).splitlines()) <= 8


# --------------------------------------------------------------------------------------------
# Encoder


_KEYSTONE = Ks(KS_ARCH_X86, KS_MODE_64)
_TEMPLATES = ["mov rax, qword ptr [rbp + %]", "mov qword ptr [rsp + %], r13",
              "add r9, %", "lea rdx, [r12 + %]", "cmp rbx, %", "imul rsi, r8, %",
              "mov qword ptr [rbp + %], %", "mov byte ptr [r14 + rax + %], %",
              "shl r10, %", "movzx eax, word ptr [r14 + rdi + %]", "mov dword ptr [rcx + %], %"]


def _signed_range(bits):
    return st.integers(-(1 << (bits - 1)), (1 << (bits - 1)) - 1)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(_TEMPLATES), st.data())
def test_encoder_patched_encodings_equal_keystone(template, data):
    numbers = []
    for index in range(template.count("%")):
        if template.startswith("shl"):
            numbers.append(data.draw(st.integers(0, 63)))
        elif template.startswith("mov byte") and index == 1:
            numbers.append(data.draw(_signed_range(8)))
        else:
            numbers.append(data.draw(st.one_of(_signed_range(8), _signed_range(32))))
    encoder = enc.shared_encoder()
    text = template
    for number in numbers:
        text = text.replace("%", f"-{-number:#x}" if number < 0 else f"{number:#x}", 1)
    assert encoder.encode(template, tuple(numbers)) == bytes(_KEYSTONE.asm(text)[0])


def test_encoder_handles_the_64_bit_and_unsigned_classes():
    encoder = enc.shared_encoder()
    for value in (0x8000_0000, 0xFFFF_FFFF, 0x1_0000_0000, 0x7FFF_FFFF_FFFF_FFFF, MASK64,
                  1 << 63, 0x1234_5678_9ABC):
        assert encoder.encode("movabs rcx, %", (value,)) == bytes(
            _KEYSTONE.asm(f"movabs rcx, {value:#x}")[0])
        if value <= 0xFFFF_FFFF:
            assert encoder.encode("mov ecx, %", (value,)) == bytes(
                _KEYSTONE.asm(f"mov ecx, {value:#x}")[0])


def test_encoder_stops_calling_keystone_once_warm(backend):
    def block(pc):
        E.begin_block(G, pc)
        E.gen_insn_start(pc)
        temp = E.new_temp()
        E.gen_guest_ld(temp, R["sp"], pc % 2000, MO_32S)
        E.gen_add(R["a0"], temp, E.const(pc % 1000))
        E.gen_guest_st(R["a0"], R["sp"], 64 + pc % 512, MO_64)
        E.gen_goto_tb(0)
        E.gen_mov(R["pc"], E.const(pc + 4))
        E.gen_exit_tb(encode_exit(ExitKind.CHAIN, 0, pc))
        return E.end_block()

    # Warm up with every width class of the numbers that vary (pcs, offsets, exit values).
    for pc in [0x1_0000_0004] + list(range(0x2000, 0x2000 + 4 * 600, 4)):
        backend.compile(block(pc), 0)
    calls = backend.encoder.keystone_calls
    for pc in range(0x40_0000, 0x40_0000 + 4 * 300, 4):
        backend.compile(block(pc), 0)
    assert backend.encoder.keystone_calls == calls


def test_hand_encoded_branches_check_their_range():
    assert enc.jmp_rel32(-5) == b"\xE9\xFB\xFF\xFF\xFF"
    assert enc.jcc_rel32("ne", 0x10) == b"\x0F\x85\x10\x00\x00\x00"
    with pytest.raises(enc.EncodingError):
        enc.jmp_rel32(1 << 31)
    with pytest.raises(enc.EncodingError):
        enc.jcc_rel8("e", 128)
    with pytest.raises(enc.EncodingError):
        enc.Encoder().encode("mov eax, %, %", (1,))


# --------------------------------------------------------------------------------------------
# Liveness


def test_liveness_marks_last_uses_and_dead_outputs():
    E.begin_block(G, 0)
    a, b = E.new_temp(), E.new_temp()
    E.gen_add(a, R["a1"], R["a2"])          # 0: a1, a2 stay live (globals)
    E.gen_mul(b, a, a)                       # 1: a dies here
    E.gen_mov(R["a3"], b)                    # 2: b dies; a3 is overwritten by op 3
    E.gen_mov(R["a3"], E.const(5))           # 3
    E.gen_guest_ld(R["a4"], R["a5"], 0, MO_64)   # 4: a sync point
    E.gen_exit_tb(LOOKUP)
    liveness = analyze(E.end_block())
    assert liveness.dead_inputs[:4] == [0, 0b01, 0b1, 0b1]
    assert liveness.dead_outputs[:4] == [0, 0, 0b1, 0]
    assert liveness.dead_inputs[4] == 0      # a5 is live after (end of block)


def test_liveness_of_locals_across_a_backward_branch():
    E.begin_block(G, 0)
    counter, unused = E.new_temp(), E.new_temp()
    E.gen_mov(counter, E.const(3))
    E.gen_mov(unused, E.const(1))
    top = E.new_label()
    E.gen_set_label(top)
    E.gen_sub(counter, counter, E.const(1))
    E.gen_brcond(Cond.NE, counter, E.const(0), top)
    E.gen_exit_tb(LOOKUP)
    liveness = analyze(E.end_block())
    live_at_top = liveness.live_at_label[top.id]
    assert live_at_top >> counter.index & 1
    assert not live_at_top >> unused.index & 1
    assert liveness.cross_label_locals == 1 << counter.index
    assert liveness.dead_inputs[3] == 0b01   # sub: the old counter dies, the new one is written
    assert not liveness.dead_inputs[4] & 1   # brcond: counter is read again after the branch


def _indirect_block(pc: int, target_register: str) -> object:
    """a0 += 1; jump to the address held in target_register (goto_ptr)."""
    E.begin_block(G, pc)
    E.gen_insn_start(pc)
    E.gen_add(R["a0"], R["a0"], E.const(1))
    E.gen_mov(R["pc"], R[target_register])
    E.gen_goto_ptr(R["pc"])
    return E.end_block()


def test_goto_ptr_jumps_through_the_jump_cache_and_misses_to_the_dispatcher(backend, env):
    jumper = backend.compile(_indirect_block(0xB000, "a1"), 1)
    landing = backend.compile(_simple_block(0xC000), 2)
    set_globals(env, a0=0, a1=0xC000)
    # Empty cache: a miss returns LOOKUP with env.pc = the target.
    assert decode_exit(backend.execute(jumper, env.addr))[0] is ExitKind.LOOKUP
    assert get(env, "a0") == 1 and env.read_u64(OFF_PC) == 0xC000
    # Filled: the jump goes straight on into the landing block, which exits through its slot.
    backend.jump_cache.set(0xC000, landing.host_addr)
    assert decode_exit(backend.execute(jumper, env.addr)) == (ExitKind.CHAIN, 0, 1)
    assert get(env, "a0") == 3 and env.read_u64(OFF_PC) == 0xC004
    # A pc with the same cache index but another value must miss, not jump to the landing.
    set_globals(env, a1=0xC000 + 2 * backend.jump_cache.ENTRIES)
    assert decode_exit(backend.execute(jumper, env.addr))[0] is ExitKind.LOOKUP
    assert env.read_u64(OFF_PC) == 0xC000 + 2 * backend.jump_cache.ENTRIES
    # Removed entries miss again.
    backend.jump_cache.remove(0xC000)
    set_globals(env, a1=0xC000)
    assert decode_exit(backend.execute(jumper, env.addr))[0] is ExitKind.LOOKUP


def test_goto_ptr_to_the_empty_marker_pc_takes_the_miss_path(backend, env):
    """An empty jump-cache entry holds an odd marker pc; an IR block may still jump to that very
    value (the IR allows any u64): the probe then matches and must land on the miss path."""
    jumper = backend.compile(_indirect_block(0xB100, "a1"), 1)
    set_globals(env, a0=0, a1=backend.jump_cache.EMPTY_PC)
    assert decode_exit(backend.execute(jumper, env.addr))[0] is ExitKind.LOOKUP
    assert env.read_u64(OFF_PC) == backend.jump_cache.EMPTY_PC
