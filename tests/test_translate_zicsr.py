"""Zicsr, translated and interpreted (jit/interp.py), against a model of the spec written here:
the FP CSRs (fflags, frm, fcsr: masking, the six instructions, which accesses happen), the
counters (instret exact at every point of a block; cycle and time from the host clock; all three
read-only), and illegal CSR numbers."""
from __future__ import annotations

import random
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_translate import (BASE, EBREAK, ECALL, GLOBALS, MASK, SparseMemory,  # noqa: E402
                            code_bytes, enc_i, native_comparison, run, run_code)

from guest.riscv.cpu import (ENV_ARCH_SIZE, OFF_FFLAGS, OFF_FRM, OFF_INSTRET,  # noqa: E402
                             gpr_offset)
from guest.riscv.trans_zicsr import CYCLE_HELPER, TIME_HELPER  # noqa: E402
from guest.riscv.translate import RiscvFrontend  # noqa: E402
from jit.cpustate import CpuEnv  # noqa: E402
from jit.exits import ExitKind, decode_exit  # noqa: E402
from jit.ir import CallFlag  # noqa: E402
from jit.optimize import optimize  # noqa: E402

DATA = 0x300000

FUNCT3 = {"csrrw": 1, "csrrs": 2, "csrrc": 3, "csrrwi": 5, "csrrsi": 6, "csrrci": 7}
FFLAGS, FRM, FCSR = 0x001, 0x002, 0x003
CYCLE, TIME, INSTRET = 0xC00, 0xC01, 0xC02


def enc_csr(name: str, rd: int, csr: int, source: int) -> int:
    """source: rs1 for the register forms, the 5-bit uimm for the immediate ones."""
    return (csr << 20) | (source << 15) | (FUNCT3[name] << 12) | (rd << 7) | 0x73


def csrr(rd: int, csr: int) -> int:
    return enc_csr("csrrs", rd, csr, 0)


# --------------------------------------------------------------------------------------------
# Model of the FP CSRs: fcsr = frm (3 bits) << 5 | fflags (5 bits)


def model_csr_instruction(name: str, csr: int, fflags: int, frm: int, operand: int,
                          writes: bool) -> tuple[int, int, int]:
    """(value read, fflags after, frm after)."""
    views = {FFLAGS: fflags, FRM: frm, FCSR: (frm << 5) | fflags}
    old = views[csr]
    if not writes:
        return old, fflags, frm
    base = name.rstrip("i")
    new = {"csrrw": operand, "csrrs": old | operand, "csrrc": old & ~operand}[base] & MASK
    if csr == FFLAGS:
        return old, new & 0x1F, frm
    if csr == FRM:
        return old, fflags, new & 0x7
    return old, new & 0x1F, (new >> 5) & 0x7


OPERANDS = [0, 1, 0x1F, 0x20, 0xE0, 0xFF, 0x100, 0x1234, MASK, 0x8000000000000000, 0x15, 0xAA]


@pytest.mark.parametrize("name", sorted(FUNCT3))
@pytest.mark.parametrize("csr", [FFLAGS, FRM, FCSR], ids=["fflags", "frm", "fcsr"])
def test_fp_csrs(name, csr):
    rng = random.Random(f"{name}{csr}")
    immediate = name.endswith("i")
    for index in range(60):
        fflags, frm = rng.randrange(32), rng.randrange(8)
        rd = (10, 0, 11, 12)[index % 4]                # 11: rd == rs1
        if immediate:
            source = operand = (0, 31, rng.randrange(32))[index % 3]
            writes = name == "csrrwi" or operand != 0
        else:
            source = (11, 0, 11)[index % 3]
            operand = rng.choice(OPERANDS) if source else 0
            writes = name == "csrrw" or source != 0
        read, fflags_after, frm_after = model_csr_instruction(name, csr, fflags, frm, operand,
                                                              writes)
        regs = {11: operand} if source == 11 else {}
        regs[10] = regs[12] = 0x5555
        result = run([enc_csr(name, rd, csr, source)], regs,
                     env_fields={OFF_FFLAGS: fflags, OFF_FRM: frm})
        label = (f"{name} x{rd}, {csr:#x}, {source} (operand {operand:#x}) "
                 f"fflags={fflags:#x} frm={frm}")
        assert result.kind is ExitKind.CHAIN and result.pc == BASE + 4, label
        assert result.env.read_u64(OFF_FFLAGS) == fflags_after, label
        assert result.env.read_u64(OFF_FRM) == frm_after, label
        if rd:
            assert result.x(rd) == read, label
        if rd != 11 and source == 11:
            assert result.x(11) == operand, label


def env_accesses(block, offset: int) -> tuple[int, int]:
    """(reads, writes) of the env field at offset: ld_env/st_env ops, and for fflags the FP
    environment ops (fp_get_flags/fp_set_flags: FP ops may keep accrued flags elsewhere)."""
    if offset == OFF_FFLAGS:
        return (sum(1 for op in block.ops if op.name == "fp_get_flags"),
                sum(1 for op in block.ops if op.name == "fp_set_flags"))
    loads = sum(1 for op in block.ops if op.name == "ld_env" and op.consts[0] == offset)
    stores = sum(1 for op in block.ops
                 if (op.name == "st_env" and op.consts[0] == offset)
                 or (op.name == "fp_set_rm" and offset == OFF_FRM))
    return loads, stores


def test_which_accesses_happen():
    # csrrw with rd=x0 does not read; csrrs/csrrc with x0 and csrrsi/csrrci with 0 do not write.
    assert env_accesses(run([enc_csr("csrrw", 0, FFLAGS, 5)]).block, OFF_FFLAGS) == (0, 1)
    assert env_accesses(run([enc_csr("csrrwi", 0, FFLAGS, 5)]).block, OFF_FFLAGS) == (0, 1)
    assert env_accesses(run([enc_csr("csrrs", 5, FFLAGS, 0)]).block, OFF_FFLAGS) == (1, 0)
    assert env_accesses(run([enc_csr("csrrc", 5, FFLAGS, 0)]).block, OFF_FFLAGS) == (1, 0)
    assert env_accesses(run([enc_csr("csrrsi", 5, FFLAGS, 0)]).block, OFF_FFLAGS) == (1, 0)
    assert env_accesses(run([enc_csr("csrrs", 0, FFLAGS, 0)]).block, OFF_FFLAGS) == (0, 0)
    assert env_accesses(run([enc_csr("csrrs", 0, FFLAGS, 6)]).block, OFF_FFLAGS) == (1, 1)
    # fcsr is both fields.
    block = run([enc_csr("csrrw", 5, FCSR, 6)]).block
    assert env_accesses(block, OFF_FFLAGS) == (1, 1) and env_accesses(block, OFF_FRM) == (1, 1)


def test_writing_frm_or_fcsr_ends_the_block_and_fflags_does_not():
    follow = enc_i("addi", 5, 0, 7)
    cases = [(enc_csr("csrrwi", 0, FRM, 3), True), (enc_csr("csrrw", 0, FCSR, 6), True),
             (enc_csr("csrrsi", 0, FRM, 1), True), (enc_csr("csrrwi", 0, FFLAGS, 3), False),
             (csrr(10, FRM), False), (csrr(10, FCSR), False)]
    for word, ends in cases:
        result = run([word, follow])
        assert result.block.n_insns == (1 if ends else 2), f"{word:#010x}"
        assert (result.kind, result.slot) == (ExitKind.CHAIN, 0)
        assert result.pc == BASE + (4 if ends else 8)
        assert result.x(5) == (0 if ends else 7)


def test_fcsr_write_then_read_back_in_one_block():
    words = [enc_csr("csrrwi", 0, FFLAGS, 0x1F), csrr(10, FCSR), enc_csr("csrrci", 11, FFLAGS, 5),
             csrr(12, FFLAGS)]
    result = run(words, env_fields={OFF_FRM: 6})
    assert (result.x(10), result.x(11), result.x(12)) == (0xDF, 0x1F, 0x1A)
    # qemu-riscv64: csrrw fcsr with 0x1234 reads back 0x34.
    result = run([enc_i("addi", 5, 0, 0x234), enc_i("addi", 5, 5, 0x234),
                  enc_csr("csrrw", 0, FCSR, 5)], max_insns=3)
    assert (result.env.read_u64(OFF_FRM) << 5) | result.env.read_u64(OFF_FFLAGS) == 0x68


# --------------------------------------------------------------------------------------------
# Counters


def test_instret_is_exact_at_every_point_of_a_block():
    rng = random.Random(3)
    for _ in range(30):
        length = rng.randrange(1, 40)
        reads = sorted(rng.sample(range(length), rng.randrange(1, min(length, 6) + 1)))
        words, destinations = [], {}
        for index in range(length):
            if index in reads:
                rd = 5 + len(destinations)
                destinations[rd] = index
                words.append(csrr(rd, INSTRET))
            else:
                words.append(enc_i("addi", 31, 31, 1))
        start = rng.getrandbits(48)
        result = run(words, env_fields={OFF_INSTRET: start})
        for rd, index in destinations.items():
            assert result.x(rd) == start + index, (reads, rd)
        assert result.env.read_u64(OFF_INSTRET) == start + length


def test_instret_rdinstret_pseudo_and_csrrsi_forms():
    words = [enc_i("addi", 5, 0, 1), enc_csr("csrrsi", 10, INSTRET, 0),
             enc_csr("csrrc", 11, INSTRET, 0), enc_csr("csrrci", 12, INSTRET, 0)]
    result = run(words, env_fields={OFF_INSTRET: 7})
    assert (result.x(10), result.x(11), result.x(12)) == (8, 9, 10)


def test_instret_across_blocks_and_wrapping():
    memory = SparseMemory()
    first = run([enc_i("addi", 5, 0, 1)] * 3, memory=memory, env_fields={OFF_INSTRET: MASK - 1})
    assert first.env.read_u64(OFF_INSTRET) == 1
    second = run_code(code_bytes([csrr(6, INSTRET)]), memory=memory, pc=BASE + 0x100,
                      env=first.env)
    assert second.x(6) == 1 and second.env.read_u64(OFF_INSTRET) == 2


@pytest.mark.parametrize("last,kind,retired", [
    (ECALL, ExitKind.SYSCALL, 3), (EBREAK, ExitKind.BREAK, 2), (0xFFFFFFFF, ExitKind.ILLEGAL, 2),
    (enc_csr("csrrw", 0, 0x7C0, 0), ExitKind.ILLEGAL, 2),
])
def test_instret_counts_an_ecall_but_not_a_trapping_instruction(last, kind, retired):
    result = run([enc_i("addi", 5, 0, 1), csrr(10, INSTRET), last], env_fields={OFF_INSTRET: 40})
    assert result.kind is kind and result.x(10) == 41
    assert result.env.read_u64(OFF_INSTRET) == 40 + retired


def test_a_block_of_one_illegal_instruction_retires_nothing():
    result = run([0x00000000], env_fields={OFF_INSTRET: 9})
    assert result.kind is ExitKind.ILLEGAL and result.env.read_u64(OFF_INSTRET) == 9


def test_instret_costs_one_add_per_block():
    block = run([enc_i("addi", 5, 5, 1)] * 5).block
    counter_ops = [op for op in block.ops if op.consts and op.consts[0] == OFF_INSTRET]
    assert [repr(op) for op in counter_ops] == [f"add_env {OFF_INSTRET},5"]
    assert block.ops[0] is counter_ops[0]


def test_time_and_cycle_read_the_host_clock():
    before = time.monotonic_ns()
    result = run([csrr(10, TIME), csrr(11, CYCLE), enc_csr("csrrsi", 12, TIME, 0), csrr(13, CYCLE)])
    after = time.monotonic_ns()
    assert before // 100 <= result.x(10) <= result.x(12) <= after // 100
    assert before <= result.x(11) <= result.x(13) <= after
    for helper in (TIME_HELPER, CYCLE_HELPER):
        assert helper.flags & CallFlag.NO_READ_GLOBALS and helper.flags & CallFlag.NO_WRITE_GLOBALS
        assert helper.n_args == 0 and helper.has_result


def test_a_counter_read_into_x0_calls_nothing():
    block = run([csrr(0, TIME), csrr(0, CYCLE), csrr(0, INSTRET)]).block
    assert not any(op.name in ("call", "sub") for op in block.ops)


# --------------------------------------------------------------------------------------------
# Illegal accesses

COUNTER_WRITES = [
    ("csrrw", 0, 5), ("csrrw", 10, 0), ("csrrs", 10, 5), ("csrrc", 0, 5),
    ("csrrwi", 10, 0), ("csrrsi", 10, 1), ("csrrci", 0, 31),
]


@pytest.mark.parametrize("csr", [CYCLE, TIME, INSTRET], ids=["cycle", "time", "instret"])
@pytest.mark.parametrize("name,rd,source", COUNTER_WRITES)
def test_writing_a_counter_is_illegal(csr, name, rd, source):
    result = run([enc_i("addi", 6, 0, 1), enc_csr(name, rd, csr, source)],
                 {5: 0x77, 10: 0x1234}, env_fields={OFF_INSTRET: 5})
    assert (result.kind, result.pc) == (ExitKind.ILLEGAL, BASE + 4)
    assert result.x(10) == 0x1234 and result.x(6) == 1
    assert result.env.read_u64(OFF_INSTRET) == 6


# User-visible CSR numbers qemu-user (7.2, RV64GC) refuses too: privileged ones, the RV32-only
# high halves, hpmcounters, vector and custom CSRs, Zkr's seed, and unallocated numbers.
ILLEGAL_CSRS = [0x000, 0x004, 0x008, 0x009, 0x00F, 0x015, 0x100, 0x105, 0x140, 0x180, 0x300,
                0x301, 0x7C0, 0xB00, 0xC03, 0xC1F, 0xC20, 0xC21, 0xC22, 0xC80, 0xC82, 0xDA0,
                0xF11, 0xFFF]


@pytest.mark.parametrize("csr", ILLEGAL_CSRS, ids=[f"{c:#05x}" for c in ILLEGAL_CSRS])
def test_unknown_and_privileged_csrs_are_illegal(csr):
    for word in (csrr(10, csr), enc_csr("csrrw", 0, csr, 5), enc_csr("csrrsi", 10, csr, 0)):
        result = run([word], {10: 0x99}, env_fields={OFF_FFLAGS: 3})
        assert (result.kind, result.pc) == (ExitKind.ILLEGAL, BASE), f"{word:#010x}"
        assert result.x(10) == 0x99 and result.env.read_u64(OFF_FFLAGS) == 3


def test_every_csr_number_is_legal_exactly_for_the_known_ones():
    known = {FFLAGS, FRM, FCSR, CYCLE, TIME, INSTRET}
    for csr in range(4096):
        result = run([csrr(10, csr)])
        assert (result.kind is not ExitKind.ILLEGAL) == (csr in known), f"{csr:#x}"


def test_privileged_system_instructions_are_illegal():
    for word in (0x10500073, 0x10200073, 0x30200073, 0x12000073, 0x7B200073):
        # wfi, sret, mret, sfence.vma, dret
        result = run([enc_i("addi", 5, 0, 1), word])
        assert (result.kind, result.pc, result.x(5)) == (ExitKind.ILLEGAL, BASE + 4, 1)


# --------------------------------------------------------------------------------------------
# Native code agrees with the interpreter


def test_native_csr_code_agrees_with_the_interpreter():
    rng = random.Random(12)
    for _ in range(20):
        words = []
        for _ in range(12):
            choice = rng.random()
            if choice < 0.3:
                words.append(csrr(rng.choice([5, 6, 7]), INSTRET))
            elif choice < 0.7:
                name = rng.choice(sorted(FUNCT3))
                csr = rng.choice([FFLAGS, FCSR, FFLAGS, FRM])
                source = rng.choice([0, 11, 12]) if not name.endswith("i") else rng.randrange(32)
                words.append(enc_csr(name, rng.choice([0, 10, 11]), csr, source))
            else:
                words.append(enc_i("addi", rng.choice([11, 12]), 11, rng.randint(-2048, 2047)))
        words.append(rng.choice([ECALL, EBREAK, csrr(0, 0x7C0), enc_i("addi", 0, 0, 0)]))
        regs = {11: rng.getrandbits(64), 12: rng.getrandbits(64)}
        fields = {OFF_FFLAGS: rng.randrange(32), OFF_FRM: rng.randrange(8),
                  OFF_INSTRET: rng.getrandbits(64)}
        native_comparison().check(code_bytes(words), DATA, bytes(64), regs, fields)


def test_native_time_and_cycle_calls():
    before = time.monotonic_ns()
    words = [csrr(10, TIME), csrr(11, CYCLE), enc_i("addi", 12, 11, 1), ECALL]
    comparison = native_comparison()
    memory_words = code_bytes(words)
    comparison.space.map(BASE, 0x1000)
    comparison.space.poke(BASE, memory_words)
    frontend = RiscvFrontend(GLOBALS, comparison.space.read)
    block = frontend.translate(BASE, 0)
    optimize(block)
    env = CpuEnv(ENV_ARCH_SIZE)
    value = comparison.backend.execute(comparison.backend.compile(block, 0), env.addr)
    after = time.monotonic_ns()
    assert decode_exit(value)[0] is ExitKind.SYSCALL
    x = lambda index: env.read_u64(gpr_offset(index))   # noqa: E731
    assert before // 100 <= x(10) <= after // 100
    assert before <= x(11) <= after and x(12) == x(11) + 1
