"""RISC-V translation: guest code is translated to IR and run in the reference IR interpreter
(jit/interp.py); register, memory, pc and exit results are compared with a model of the RV64IM
semantics written here from the spec, independently of the frontend. Instructions are encoded by
a small spec-based encoder of this file, independent of the decoder's pattern table.
"""
from __future__ import annotations

import random
from typing import Callable

import pytest

from guest.errors import GuestFault
from guest.riscv.cpu import (ENV_ARCH_SIZE, INITIAL_FIELD_VALUES, OFF_INSTRET, OFF_PC,
                             gpr_offset, make_globals)
from guest.riscv.insn_table import PATTERNS
from guest.riscv.translate import RiscvFrontend, translator_registry
from host_x86.backend import X86Backend
from host_x86.libc import PROT_READ, PROT_WRITE
from host_x86.testing import GuestSpace
from jit.cpustate import CpuEnv
from jit.emit import gen_plugin_cb_end, gen_plugin_cb_start
from jit.env import ENV_EXIT_REQUEST, ENV_FAULT_ADDR, ENV_FAULT_HOST_PC, ENV_FAULT_IS_WRITE
from jit.exits import ExitKind, decode_exit, encode_exit
from jit.interp import run_block
from jit.ir import PluginCbFrom, PluginCbType
from jit.optimize import optimize
from jit.translator import Instrumentation

MASK = (1 << 64) - 1
BASE = 0x10000
BLOCK_ID = 7
GLOBALS = make_globals()


# --------------------------------------------------------------------------------------------
# Encoder (from the spec's base instruction formats)

R_TYPE = {  # name: (funct7, funct3, opcode)
    "add": (0x00, 0, 0x33), "sub": (0x20, 0, 0x33), "sll": (0x00, 1, 0x33),
    "slt": (0x00, 2, 0x33), "sltu": (0x00, 3, 0x33), "xor": (0x00, 4, 0x33),
    "srl": (0x00, 5, 0x33), "sra": (0x20, 5, 0x33), "or": (0x00, 6, 0x33),
    "and": (0x00, 7, 0x33),
    "addw": (0x00, 0, 0x3B), "subw": (0x20, 0, 0x3B), "sllw": (0x00, 1, 0x3B),
    "srlw": (0x00, 5, 0x3B), "sraw": (0x20, 5, 0x3B),
    "mul": (0x01, 0, 0x33), "mulh": (0x01, 1, 0x33), "mulhsu": (0x01, 2, 0x33),
    "mulhu": (0x01, 3, 0x33), "div": (0x01, 4, 0x33), "divu": (0x01, 5, 0x33),
    "rem": (0x01, 6, 0x33), "remu": (0x01, 7, 0x33),
    "mulw": (0x01, 0, 0x3B), "divw": (0x01, 4, 0x3B), "divuw": (0x01, 5, 0x3B),
    "remw": (0x01, 6, 0x3B), "remuw": (0x01, 7, 0x3B),
}
I_TYPE = {  # name: (funct3, opcode)
    "addi": (0, 0x13), "slti": (2, 0x13), "sltiu": (3, 0x13), "xori": (4, 0x13),
    "ori": (6, 0x13), "andi": (7, 0x13), "addiw": (0, 0x1B), "jalr": (0, 0x67),
    "lb": (0, 0x03), "lh": (1, 0x03), "lw": (2, 0x03), "ld": (3, 0x03),
    "lbu": (4, 0x03), "lhu": (5, 0x03), "lwu": (6, 0x03),
}
SHIFT_IMM = {  # name: (upper bits above the shamt, shamt width, funct3, opcode)
    "slli": (0x00, 6, 1, 0x13), "srli": (0x00, 6, 5, 0x13), "srai": (0x10, 6, 5, 0x13),
    "slliw": (0x00, 5, 1, 0x1B), "srliw": (0x00, 5, 5, 0x1B), "sraiw": (0x20, 5, 5, 0x1B),
}
S_TYPE = {"sb": 0, "sh": 1, "sw": 2, "sd": 3}
B_TYPE = {"beq": 0, "bne": 1, "blt": 4, "bge": 5, "bltu": 6, "bgeu": 7}


def bits(value: int, high: int, low: int) -> int:
    return (value >> low) & ((1 << (high - low + 1)) - 1)


def enc_r(name: str, rd: int, rs1: int, rs2: int) -> int:
    funct7, funct3, opcode = R_TYPE[name]
    return (funct7 << 25) | (rs2 << 20) | (rs1 << 15) | (funct3 << 12) | (rd << 7) | opcode


def enc_i(name: str, rd: int, rs1: int, imm: int) -> int:
    funct3, opcode = I_TYPE[name]
    return (bits(imm, 11, 0) << 20) | (rs1 << 15) | (funct3 << 12) | (rd << 7) | opcode


def enc_shift(name: str, rd: int, rs1: int, shamt: int) -> int:
    upper, width, funct3, opcode = SHIFT_IMM[name]
    imm = (upper << width) | shamt
    return (imm << 20) | (rs1 << 15) | (funct3 << 12) | (rd << 7) | opcode


def enc_s(name: str, rs2: int, rs1: int, imm: int) -> int:
    return ((bits(imm, 11, 5) << 25) | (rs2 << 20) | (rs1 << 15) | (S_TYPE[name] << 12)
            | (bits(imm, 4, 0) << 7) | 0x23)


def enc_b(name: str, rs1: int, rs2: int, imm: int) -> int:
    return ((bits(imm, 12, 12) << 31) | (bits(imm, 10, 5) << 25) | (rs2 << 20) | (rs1 << 15)
            | (B_TYPE[name] << 12) | (bits(imm, 4, 1) << 8) | (bits(imm, 11, 11) << 7) | 0x63)


def enc_u(name: str, rd: int, imm20: int) -> int:
    return (bits(imm20, 19, 0) << 12) | (rd << 7) | {"lui": 0x37, "auipc": 0x17}[name]


def enc_jal(rd: int, imm: int) -> int:
    return ((bits(imm, 20, 20) << 31) | (bits(imm, 10, 1) << 21) | (bits(imm, 11, 11) << 20)
            | (bits(imm, 19, 12) << 12) | (rd << 7) | 0x6F)


ECALL, EBREAK, FENCE, FENCE_I, NOP = 0x00000073, 0x00100073, 0x0FF0000F, 0x0000100F, 0x00000013

# --------------------------------------------------------------------------------------------
# Model of the semantics (RISC-V unprivileged spec, RV64IM)


def s64(x: int) -> int:
    x &= MASK
    return x - (1 << 64) if x >> 63 else x


def s32(x: int) -> int:
    x &= 0xFFFFFFFF
    return x - (1 << 32) if x >> 31 else x


def sext32(x: int) -> int:
    return s32(x) & MASK


def trunc_div(a: int, b: int) -> int:
    quotient = abs(a) // abs(b)
    return quotient if (a >= 0) == (b > 0) else -quotient


def div_signed(a: int, b: int, bits_: int) -> int:
    if b == 0:
        return -1
    if a == -(1 << (bits_ - 1)) and b == -1:
        return a                               # overflow: the dividend
    return trunc_div(a, b)


def rem_signed(a: int, b: int, bits_: int) -> int:
    if b == 0:
        return a
    if a == -(1 << (bits_ - 1)) and b == -1:
        return 0
    return a - b * trunc_div(a, b)


def div_unsigned(a: int, b: int, bits_: int) -> int:
    return (1 << bits_) - 1 if b == 0 else a // b


def rem_unsigned(a: int, b: int) -> int:
    return a if b == 0 else a % b


LOW32 = 0xFFFFFFFF
BINARY: dict[str, Callable[[int, int], int]] = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "sll": lambda a, b: a << (b & 63),
    "slt": lambda a, b: int(s64(a) < s64(b)),
    "sltu": lambda a, b: int(a < b),
    "xor": lambda a, b: a ^ b,
    "srl": lambda a, b: a >> (b & 63),
    "sra": lambda a, b: s64(a) >> (b & 63),
    "or": lambda a, b: a | b,
    "and": lambda a, b: a & b,
    "addw": lambda a, b: sext32(a + b),
    "subw": lambda a, b: sext32(a - b),
    "sllw": lambda a, b: sext32(a << (b & 31)),
    "srlw": lambda a, b: sext32((a & LOW32) >> (b & 31)),
    "sraw": lambda a, b: sext32(s32(a) >> (b & 31)),
    "mul": lambda a, b: a * b,
    "mulh": lambda a, b: (s64(a) * s64(b)) >> 64,
    "mulhsu": lambda a, b: (s64(a) * b) >> 64,
    "mulhu": lambda a, b: (a * b) >> 64,
    "div": lambda a, b: div_signed(s64(a), s64(b), 64),
    "divu": lambda a, b: div_unsigned(a, b, 64),
    "rem": lambda a, b: rem_signed(s64(a), s64(b), 64),
    "remu": rem_unsigned,
    "mulw": lambda a, b: sext32(a * b),
    "divw": lambda a, b: sext32(div_signed(s32(a), s32(b), 32)),
    "divuw": lambda a, b: sext32(div_unsigned(a & LOW32, b & LOW32, 32)),
    "remw": lambda a, b: sext32(rem_signed(s32(a), s32(b), 32)),
    "remuw": lambda a, b: sext32(rem_unsigned(a & LOW32, b & LOW32)),
}
# Register-immediate instructions: the immediate is sign-extended to 64 bits first.
IMMEDIATE = {"addi": "add", "slti": "slt", "sltiu": "sltu", "xori": "xor", "ori": "or",
             "andi": "and", "addiw": "addw", "slli": "sll", "srli": "srl", "srai": "sra",
             "slliw": "sllw", "srliw": "srlw", "sraiw": "sraw"}
BRANCH = {"beq": lambda a, b: a == b, "bne": lambda a, b: a != b,
          "blt": lambda a, b: s64(a) < s64(b), "bge": lambda a, b: s64(a) >= s64(b),
          "bltu": lambda a, b: a < b, "bgeu": lambda a, b: a >= b}
LOADS = {"lb": (1, True), "lh": (2, True), "lw": (4, True), "ld": (8, False),
         "lbu": (1, False), "lhu": (2, False), "lwu": (4, False)}
STORES = {"sb": 1, "sh": 2, "sw": 4, "sd": 8}


class ModelCpu:
    """Straight-line execution of ALU instructions, for random-program comparisons."""

    def __init__(self, regs: dict[int, int], pc: int):
        self.x = [0] * 32
        for index, value in regs.items():
            if index:
                self.x[index] = value & MASK
        self.pc = pc

    def write(self, rd: int, value: int) -> None:
        if rd:
            self.x[rd] = value & MASK

    def step(self, insn: tuple) -> None:
        kind, name, rd, rs1, operand = insn
        if kind == "reg":
            self.write(rd, BINARY[name](self.x[rs1], self.x[operand]))
        elif kind == "imm":
            self.write(rd, BINARY[IMMEDIATE[name]](self.x[rs1], operand & MASK))
        elif name == "lui":
            self.write(rd, s32(operand << 12))
        elif name == "auipc":
            self.write(rd, self.pc + s32(operand << 12))
        self.pc += 4


# --------------------------------------------------------------------------------------------
# Harness


class DictEnv:
    def __init__(self):
        self.words: dict[int, int] = {}

    def read_u64(self, offset: int) -> int:
        return self.words.get(offset, 0)

    def write_u64(self, offset: int, value: int) -> None:
        self.words[offset] = value & MASK


class SparseMemory:
    """Guest memory made of mapped ranges; anything else faults."""

    def __init__(self):
        self.ranges: list[tuple[int, bytearray]] = []

    def map(self, addr: int, data: bytes) -> None:
        self.ranges.append((addr, bytearray(data)))

    def _locate(self, addr: int, size: int) -> tuple[bytearray, int]:
        for start, data in self.ranges:
            if start <= addr and addr + size <= start + len(data):
                return data, addr - start
        raise GuestFault(addr)

    def read(self, addr: int, size: int) -> bytes:
        data, offset = self._locate(addr, size)
        return bytes(data[offset:offset + size])

    def write(self, addr: int, data: bytes) -> None:
        target, offset = self._locate(addr, len(data))
        target[offset:offset + len(data)] = data


def code_bytes(words: list[int]) -> bytes:
    return b"".join(word.to_bytes(4, "little") for word in words)


def frontend_for(memory: SparseMemory, instrumentation=None) -> RiscvFrontend:
    return RiscvFrontend(GLOBALS, memory.read, instrumentation)


class Run:
    def __init__(self, block, env: DictEnv, exit_value: int):
        self.block = block
        self.env = env
        self.exit_value = exit_value
        self.kind, self.slot, self.block_id = decode_exit(exit_value)

    def x(self, index: int) -> int:
        return self.env.read_u64(gpr_offset(index)) if index else 0

    @property
    def pc(self) -> int:
        return self.env.read_u64(OFF_PC)


def run(words: list[int], regs: dict[int, int] | None = None, memory: SparseMemory | None = None,
        pc: int = BASE, max_insns: int = 512, env_fields: dict[int, int] | None = None) -> Run:
    """Translate the 32-bit instructions `words` placed at pc and interpret the block."""
    return run_code(code_bytes(words), regs, memory, pc, max_insns, env_fields)


def new_env(regs: dict[int, int] | None = None, pc: int = BASE,
            env_fields: dict[int, int] | None = None) -> DictEnv:
    """An env as a process starts with it (INITIAL_FIELD_VALUES), then the given registers and
    fields (offset -> u64)."""
    env = DictEnv()
    for offset, value in {**INITIAL_FIELD_VALUES, **(env_fields or {})}.items():
        env.write_u64(offset, value)
    for index, value in (regs or {}).items():
        if index:
            env.write_u64(gpr_offset(index), value & MASK)
    env.write_u64(OFF_PC, pc)
    return env


def run_code(code: bytes, regs: dict[int, int] | None = None, memory: SparseMemory | None = None,
             pc: int = BASE, max_insns: int = 512, env_fields: dict[int, int] | None = None,
             env: DictEnv | None = None) -> Run:
    """Translate the guest code placed at pc and interpret the block, in `env` or a new one."""
    memory = memory or SparseMemory()
    memory.map(pc, code)
    block = frontend_for(memory).translate(pc, BLOCK_ID, max_insns)
    if env is None:
        env = new_env(regs, pc, env_fields)
    else:
        env.write_u64(OFF_PC, pc)
    return Run(block, env, run_block(block, env, memory))


# Every block starts by adding its retired instructions to instret (RetiredInsnCounter).
INSTRET_PROLOGUE = [f"add_env {OFF_INSTRET},{{}}"]


def after_prologue(block) -> list:
    """The block's ops after its instret prologue, which is checked (with the count it adds:
    the block's instructions that retire)."""
    prologue = [repr(op) for op in block.ops[:1]]
    retired = block.ops[0].consts[1]
    assert prologue == [line.format(retired) for line in INSTRET_PROLOGUE]
    return block.ops[1:]


class NativeComparison:
    """Runs a block natively (host_x86 backend, after the optimizer, as the pipeline does) and
    in the interpreter (as translated) from the same state, and checks that they agree on the
    exit, the whole guest state in env, the fault report and the data area."""

    DATA_SIZE = 0x2000
    STATE_SIZE = 1024     # bytes of guest state compared (guest/riscv/cpu.py ENV_ARCH_SIZE)

    def __init__(self):
        self.space = GuestSpace()
        self.backend = X86Backend(self.space.base)

    def _fetch_from(self, start: int, code: bytes):
        """Code fetch limited to the code given, as the interpreted runs of this file do: the
        block ends where the code does."""
        def fetch(pc: int, size: int) -> bytes:
            if not (start <= pc and pc + size <= start + len(code)):
                raise GuestFault(max(pc, start + len(code)))
            return self.space.read(pc, size)
        return fetch

    def check(self, code: bytes, data_addr: int, data: bytes, regs: dict[int, int],
              env_fields: dict[int, int] | None = None, pc: int = BASE,
              read_only_data: bool = False) -> tuple[int, CpuEnv]:
        """Return (exit value, the native env) once both runs agree."""
        space = self.space
        space.map(pc & ~0xFFF, (len(code) + (pc & 0xFFF) + 0xFFF) & ~0xFFF)
        space.poke(pc, code)
        space.map(data_addr, self.DATA_SIZE)
        space.poke(data_addr, data.ljust(self.DATA_SIZE, b"\0"))
        frontend = RiscvFrontend(GLOBALS, self._fetch_from(pc, code))
        reference_block = frontend.translate(pc, BLOCK_ID)
        native_block = frontend.translate(pc, BLOCK_ID)
        optimize(native_block)
        envs = []
        for _ in range(2):
            env = CpuEnv(ENV_ARCH_SIZE)
            source = new_env(regs, pc, env_fields)
            for offset, value in source.words.items():
                env.write_u64(offset, value)
            envs.append(env)
        native_env, reference_env = envs
        if read_only_data:
            space.map(data_addr, self.DATA_SIZE, PROT_READ)
        try:
            value = self.backend.execute(self.backend.compile(native_block, BLOCK_ID),
                                         native_env.addr)
            native_data = space.peek(data_addr, self.DATA_SIZE)
            space.map(data_addr, self.DATA_SIZE)
            space.poke(data_addr, data.ljust(self.DATA_SIZE, b"\0"))
            if read_only_data:
                space.map(data_addr, self.DATA_SIZE, PROT_READ)
            reference_value = run_block(reference_block, reference_env, space)
        finally:
            space.map(data_addr, self.DATA_SIZE, PROT_READ | PROT_WRITE)
        assert value == reference_value, reference_block.dump()
        assert native_env.read(0, self.STATE_SIZE) == reference_env.read(0, self.STATE_SIZE), (
            reference_block.dump())
        assert native_data == space.peek(data_addr, self.DATA_SIZE)
        if decode_exit(value)[0] is ExitKind.FAULT:
            for offset in (ENV_FAULT_ADDR, ENV_FAULT_IS_WRITE):
                assert native_env.read_u64(offset) == reference_env.read_u64(offset)
            # A host fault reports its host pc (the interpreter has none); an exit the frontend
            # emits has none either, and env.pc is exact.
            if native_env.read_u64(ENV_FAULT_HOST_PC) == 0:
                assert native_env.read_u64(OFF_PC) == reference_env.read_u64(OFF_PC)
        return value, native_env


_native_comparison: NativeComparison | None = None


def native_comparison() -> NativeComparison:
    """One guest space and backend for every test of the session."""
    global _native_comparison
    if _native_comparison is None:
        _native_comparison = NativeComparison()
    return _native_comparison


def op_names(block) -> list[str]:
    """The names of the block's ops after its instret prologue."""
    return [op.name for op in after_prologue(block)]


EDGES = [0, 1, 2, 0x7F, 0x80, 0xFF, 0x7FFF, 0x8000, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF,
         0x100000000, 0x7FFFFFFFFFFFFFFF, 0x8000000000000000, MASK, MASK - 1,
         0xFFFFFFFF80000000, 0x123456789ABCDEF0, 31, 32, 33, 63, 64, 65]
# (rd, rs1, rs2): distinct registers, every aliasing, and x0 as a source.
REGISTER_CHOICES = [(10, 11, 12), (11, 11, 12), (12, 11, 12), (10, 11, 11), (11, 11, 11),
                    (10, 0, 12), (10, 11, 0)]


# --------------------------------------------------------------------------------------------
# ALU instructions


@pytest.mark.parametrize("name", sorted(R_TYPE))
def test_register_register_instruction(name):
    rng = random.Random(name)
    pairs = [(a, b) for a in EDGES for b in EDGES]
    pairs += [(rng.getrandbits(64), rng.getrandbits(64)) for _ in range(50)]
    for index, (a, b) in enumerate(pairs):
        rd, rs1, rs2 = REGISTER_CHOICES[index % len(REGISTER_CHOICES)]
        regs = {rs1: a, rs2: b}     # with rs1 == rs2 the register holds b
        source1, source2 = (regs[rs1] if rs1 else 0), (regs[rs2] if rs2 else 0)
        expected = BINARY[name](source1, source2) & MASK
        result = run([enc_r(name, rd, rs1, rs2)], regs)
        assert result.x(rd) == expected, (
            f"{name} x{rd}, x{rs1}, x{rs2} with {source1:#x}, {source2:#x}\n{result.block.dump()}")
        assert (result.kind, result.slot, result.pc) == (ExitKind.CHAIN, 0, BASE + 4)


IMMEDIATES = [0, 1, -1, 2047, -2048, 0x7FF, 31, 32, -32, 0x555, -0x556]


@pytest.mark.parametrize("name", sorted(n for n in IMMEDIATE if n in I_TYPE))
def test_register_immediate_instruction(name):
    for index, (a, imm) in enumerate((a, imm) for a in EDGES for imm in IMMEDIATES):
        rd, rs1, _ = REGISTER_CHOICES[index % len(REGISTER_CHOICES)]
        source = a if rs1 else 0
        expected = BINARY[IMMEDIATE[name]](source, imm & MASK) & MASK
        result = run([enc_i(name, rd, rs1, imm)], {rs1: a})
        assert result.x(rd) == expected, f"{name} x{rd}, x{rs1}, {imm} with {source:#x}"


@pytest.mark.parametrize("name", sorted(SHIFT_IMM))
def test_shift_immediate_instruction(name):
    width = SHIFT_IMM[name][1]
    for index, (a, shamt) in enumerate((a, s) for a in EDGES for s in range(1 << width)):
        rd, rs1, _ = REGISTER_CHOICES[index % len(REGISTER_CHOICES)]
        source = a if rs1 else 0
        expected = BINARY[IMMEDIATE[name]](source, shamt) & MASK
        result = run([enc_shift(name, rd, rs1, shamt)], {rs1: a})
        assert result.x(rd) == expected, f"{name} x{rd}, x{rs1}, {shamt} with {source:#x}"


@pytest.mark.parametrize("name,a,b,expected", [
    ("divw", 0x80000000, MASK, 0xFFFFFFFF80000000),         # INT32_MIN / -1
    ("remw", 0x80000000, MASK, 0),
    ("divw", 0x1234_80000000, 0xFFFF_FFFFFFFF, 0xFFFFFFFF80000000),  # upper bits ignored
    ("div", 1 << 63, MASK, 1 << 63),                          # INT64_MIN / -1
    ("rem", 1 << 63, MASK, 0),
    ("div", 5, 0, MASK), ("divu", 5, 0, MASK), ("rem", 5, 0, 5), ("remu", 5, 0, 5),
    ("divw", 5, 0x1_00000000, MASK),                          # divisor's low word is 0
    ("divuw", 5, 0, MASK), ("remw", 0x1_80000000, 0, 0xFFFFFFFF80000000),
    ("remuw", 0xFFFFFFFF, 0, MASK), ("divuw", 0xFFFFFFFF, 1, MASK),
    ("div", s64(-7) & MASK, 2, s64(-3) & MASK), ("rem", s64(-7) & MASK, 2, MASK),
    ("mulh", MASK, MASK, 0), ("mulhu", MASK, MASK, MASK - 1), ("mulhsu", MASK, MASK, MASK),
    ("sraw", 0x80000000, 0x3F, MASK), ("sllw", 1, 0x3F, 0xFFFFFFFF80000000),
])
def test_spec_corner_cases(name, a, b, expected):
    assert run([enc_r(name, 10, 11, 12)], {11: a, 12: b}).x(10) == expected


def test_lui_and_auipc():
    for imm20 in (0, 1, 0x7FFFF, 0x80000, 0xFFFFF, 0x12345):
        upper = s32(imm20 << 12) & MASK
        assert run([enc_u("lui", 5, imm20)]).x(5) == upper
        for pc in (BASE, 0x7FFFFFF000, 0x1000):
            assert run([enc_u("auipc", 5, imm20)], pc=pc).x(5) == (pc + upper) & MASK


def test_random_straight_line_programs_match_the_model():
    """Random sequences of ALU instructions over a few registers (so that sources, destinations
    and x0 alias often) in one block against the model run instruction by instruction."""
    rng = random.Random(2024)
    pool = [0, 1, 5, 10, 11, 31]
    reg_names = sorted(R_TYPE)
    imm_names = sorted(n for n in IMMEDIATE if n in I_TYPE)
    for _ in range(150):
        program = []
        for _ in range(40):
            rd, rs1, rs2 = (rng.choice(pool) for _ in range(3))
            choice = rng.random()
            if choice < 0.45:
                insn = ("reg", rng.choice(reg_names), rd, rs1, rs2)
                word = enc_r(insn[1], rd, rs1, rs2)
            elif choice < 0.8:
                name = rng.choice(imm_names)
                imm = rng.choice([rng.randint(-2048, 2047), 0, -1, 1])
                insn, word = ("imm", name, rd, rs1, imm), enc_i(name, rd, rs1, imm)
            elif choice < 0.93:
                name = rng.choice(sorted(SHIFT_IMM))
                shamt = rng.randrange(1 << SHIFT_IMM[name][1])
                insn, word = ("imm", name, rd, rs1, shamt), enc_shift(name, rd, rs1, shamt)
            else:
                name = rng.choice(["lui", "auipc"])
                imm20 = rng.getrandbits(20)
                insn, word = ("upper", name, rd, 0, imm20), enc_u(name, rd, imm20)
            program.append((insn, word))
        regs = {r: rng.choice(EDGES + [rng.getrandbits(64)]) for r in pool}
        model = ModelCpu(regs, BASE)
        for insn, _ in program:
            model.step(insn)
        result = run([word for _, word in program], regs, max_insns=len(program))
        for index in range(32):
            assert result.x(index) == model.x[index], (
                f"x{index} after {[insn for insn, _ in program]}\n{result.block.dump()}")
        assert (result.kind, result.pc) == (ExitKind.CHAIN, model.pc)


# --------------------------------------------------------------------------------------------
# Loads and stores

DATA = 0x200000


def data_memory() -> SparseMemory:
    memory = SparseMemory()
    memory.map(DATA, bytes(range(0x80, 0x100)) + bytes(range(0x00, 0x80)))
    return memory


@pytest.mark.parametrize("name", sorted(LOADS))
def test_loads_extend_as_specified(name):
    size, signed = LOADS[name]
    memory_image = bytes(range(0x80, 0x100)) + bytes(range(0x00, 0x80))
    for offset in (0, 1, 8, 0x7F, 0x80, 0xF0):
        for base_reg, rd, imm in ((11, 10, 0), (11, 11, 8), (11, 10, -8)):
            addr = DATA + offset
            raw = int.from_bytes(memory_image[offset:offset + size], "little")
            expected = raw - (1 << (8 * size)) if signed and raw >> (8 * size - 1) else raw
            result = run([enc_i(name, rd, base_reg, imm)], {base_reg: addr - imm},
                         memory=data_memory())
            assert result.x(rd) == expected & MASK, f"{name} at {addr:#x}"


@pytest.mark.parametrize("name", sorted(STORES))
def test_stores_write_the_low_bytes(name):
    size = STORES[name]
    value = 0x1122334455667788
    for imm in (0, 5, -3, 2047, -2048):
        memory = data_memory()
        target = DATA + 0x40
        before = memory.read(target - 16, 48)
        run([enc_s(name, 12, 11, imm)], {11: target - imm, 12: value}, memory=memory)
        after = memory.read(target - 16, 48)
        expected = bytearray(before)
        expected[16:16 + size] = value.to_bytes(8, "little")[:size]
        assert after == bytes(expected), f"{name} imm={imm}"


def test_store_then_load_in_one_block_and_x0_sources():
    memory = data_memory()
    words = [enc_s("sd", 12, 11, 8), enc_s("sw", 0, 11, 16), enc_i("ld", 13, 11, 8),
             enc_i("lwu", 14, 11, 16), enc_i("lb", 15, 0, DATA + 8 - DATA)]
    result = run(words, {11: DATA, 12: 0xDEADBEEFCAFEF00D}, memory=memory)
    assert result.x(13) == 0xDEADBEEFCAFEF00D and result.x(14) == 0


def test_absolute_address_from_x0():
    memory = SparseMemory()
    memory.map(0x700, bytes([0xAB]) * 16)
    assert run([enc_i("lbu", 10, 0, 0x700)], memory=memory).x(10) == 0xAB


def test_load_to_x0_still_faults_and_state_is_precise():
    words = [enc_i("addi", 5, 0, 42), enc_i("lw", 0, 11, 4), enc_i("addi", 6, 0, 1)]
    result = run(words, {11: 0x900000})
    assert result.kind is ExitKind.FAULT
    assert result.env.read_u64(ENV_FAULT_ADDR) == 0x900004
    assert result.env.read_u64(ENV_FAULT_IS_WRITE) == 0
    assert result.x(5) == 42 and result.x(6) == 0


def test_store_fault():
    result = run([enc_s("sd", 12, 11, -16)], {11: 0x900000})
    assert result.kind is ExitKind.FAULT
    assert result.env.read_u64(ENV_FAULT_ADDR) == 0x900000 - 16
    assert result.env.read_u64(ENV_FAULT_IS_WRITE) == 1


def test_load_offset_is_folded_into_the_memory_op():
    result = run([enc_i("ld", 10, 2, -24)], {2: DATA + 64}, memory=data_memory())
    loads = [op for op in result.block.ops if op.name == "guest_ld"]
    assert len(loads) == 1 and loads[0].consts[0] == -24
    assert [name for name in op_names(result.block)
            if name not in ("insn_start", "goto_tb", "mov", "exit_tb")] == ["guest_ld"]


# --------------------------------------------------------------------------------------------
# Control flow

BRANCH_VALUES = [0, 1, MASK, 1 << 63, (1 << 63) - 1, 0x80000000]


@pytest.mark.parametrize("name", sorted(B_TYPE))
def test_branches(name):
    for a in BRANCH_VALUES:
        for b in BRANCH_VALUES:
            for offset in (8, -4096, 4094, -2):
                result = run([enc_b(name, 11, 12, offset)], {11: a, 12: b})
                taken = BRANCH[name](a, b)
                target = (BASE + offset) if taken else BASE + 4
                assert (result.kind, result.pc) == (ExitKind.CHAIN, target), f"{name} {a} {b}"
                assert result.slot == (1 if taken else 0)
                assert result.block_id == BLOCK_ID
    # Operands known at translation time: a single direct exit, no brcond.
    for rs1, rs2 in ((0, 0), (11, 11)):
        result = run([enc_b(name, rs1, rs2, 64)], {11: 5})
        taken = BRANCH[name](0, 0)
        assert "brcond" not in op_names(result.block)
        assert result.pc == (BASE + 64 if taken else BASE + 4)
    # x0 against a register.
    result = run([enc_b(name, 0, 12, 64)], {12: MASK})
    assert result.pc == (BASE + 64 if BRANCH[name](0, MASK) else BASE + 4)


def test_branch_exit_structure():
    block = run([enc_b("bne", 11, 12, 16)], {11: 1}).block
    assert op_names(block) == ["insn_start", "brcond", "goto_tb", "mov", "exit_tb", "set_label",
                               "goto_tb", "mov", "exit_tb"]
    exits = [op.consts[0] for op in block.ops if op.name == "exit_tb"]
    assert exits == [encode_exit(ExitKind.CHAIN, 0, BLOCK_ID), encode_exit(ExitKind.CHAIN, 1,
                                                                           BLOCK_ID)]


def test_jal():
    for offset in (8, -8, (1 << 20) - 2, -(1 << 20)):
        for rd in (0, 1, 5):
            result = run([enc_jal(rd, offset)], pc=0x200000)
            assert (result.kind, result.slot, result.pc) == (ExitKind.CHAIN, 0, 0x200000 + offset)
            assert result.x(rd) == (0x200004 if rd else 0)
            assert result.block.n_insns == 1


def test_a_jump_to_the_block_start_loops_inside_the_block_until_an_exit_request():
    """`j .` loops inside its block (no chained exit per iteration); the exit check on the
    back edge stops it with env.pc at the loop and the jump's effects done."""
    for rd in (0, 1, 5):
        result = run([enc_jal(rd, 0)], pc=0x200000, env_fields={ENV_EXIT_REQUEST: 1})
        assert (result.kind, result.pc) == (ExitKind.STOP, 0x200000)
        assert result.x(rd) == (0x200004 if rd else 0)
        assert [op.name for op in result.block.ops[-2:]] == ["exit_check", "br"]
    # One-instruction blocks (the interpreter's single steps) never loop.
    result = run([enc_jal(1, 0)], pc=0x200000, max_insns=1)
    assert (result.kind, result.slot, result.pc) == (ExitKind.CHAIN, 0, 0x200000)


def test_a_loop_body_passes_its_other_branches_with_side_exits():
    """loop: addi a0,a0,-1; beq a0,a2,out; addi a1,a1,1; bne a0,zero,loop; out: ...
    The forward branch inside the loop body leaves through a side exit (goto_tb 2) that gives
    back the instructions it did not run; the whole body loops inside one block. Both ways
    out agree with the interpreter, instret included."""
    code = code_bytes([enc_i("addi", 10, 10, -1), enc_b("beq", 10, 12, 12),
                       enc_i("addi", 11, 11, 1), enc_b("bne", 10, 0, -12)])
    block = run_code(code, {10: 5, 12: 99}).block
    assert block.n_insns == 4
    assert sorted(op.consts[0] for op in block.ops if op.name == "goto_tb") == [0, 2]
    instret = INITIAL_FIELD_VALUES.get(OFF_INSTRET, 0)
    for a2, (exit_slot, a0, a1, pc, retired) in {
            99: (0, 0, 7 + 5, BASE + 16, 5 * 4),         # runs out: the loop's own exit
            2: (2, 2, 7 + 2, BASE + 16, 2 * 4 + 2)}.items():   # the side exit, 3rd iteration
        value, env = native_comparison().check(code, DATA, b"", {10: 5, 11: 7, 12: a2})
        assert decode_exit(value)[:2] == (ExitKind.CHAIN, exit_slot)
        assert (env.read_u64(gpr_offset(10)), env.read_u64(gpr_offset(11))) == (a0, a1)
        assert env.read_u64(OFF_PC) == pc
        assert env.read_u64(OFF_INSTRET) == instret + retired


def test_a_branch_outside_a_loop_body_still_ends_the_block():
    code = code_bytes([enc_i("addi", 10, 10, -1), enc_b("beq", 10, 12, 12),
                       enc_i("addi", 11, 11, 1), enc_b("bne", 10, 0, 16)])
    block = run_code(code, {10: 5, 12: 99}).block
    assert block.n_insns == 2
    assert [op.consts[0] for op in block.ops if op.name == "goto_tb"] == [0, 1]


def test_a_counted_loop_inside_one_block_runs_natively_like_the_interpreter():
    """addi a0,a0,-1; add a1,a1,a0; bne a0,zero,start: the loop stays inside the block, with
    instret counting every iteration, natively (registers kept across the back edge) and in
    the interpreter alike."""
    code = code_bytes([enc_i("addi", 10, 10, -1), enc_r("add", 11, 11, 10),
                       enc_b("bne", 10, 0, -8)])
    value, env = native_comparison().check(code, DATA, b"", {10: 100, 11: 7})
    assert decode_exit(value)[:2] == (ExitKind.CHAIN, 0)
    assert env.read_u64(gpr_offset(10)) == 0
    assert env.read_u64(gpr_offset(11)) == 7 + sum(range(100))
    assert env.read_u64(OFF_PC) == BASE + 12
    assert env.read_u64(OFF_INSTRET) == INITIAL_FIELD_VALUES.get(OFF_INSTRET, 0) + 300


def test_jalr():
    cases = [  # rd, rs1, rs1 value, imm, target
        (1, 5, 0x30000, 8, 0x30008),
        (5, 5, 0x30000, -4, 0x2FFFC),       # rd == rs1: the old value is the base
        (0, 1, 0x30001, 0, 0x30000),        # ret to an odd address: bit 0 cleared
        (1, 1, 0x30000, 3, 0x30002),
        (10, 0, 0, 0x7F4, 0x7F4),           # absolute, through x0
        (1, 5, MASK, 1, 0),
    ]
    for rd, rs1, value, imm, target in cases:
        result = run([enc_i("jalr", rd, rs1, imm)], {rs1: value})
        assert result.pc == target, (rd, rs1, value, imm)
        assert result.x(rd) == (BASE + 4 if rd else 0)
        expected_kind = ExitKind.CHAIN if rs1 == 0 else ExitKind.LOOKUP
        assert result.kind is expected_kind


@pytest.mark.parametrize("word,kind,pc_offset,size", [
    (ECALL, ExitKind.SYSCALL, 4, 4), (EBREAK, ExitKind.BREAK, 4, 4),
    (0xFFFFFFFF, ExitKind.ILLEGAL, 4, 4),
    (0x00000000, ExitKind.ILLEGAL, 4, 2),     # a 16-bit encoding, illegal
    (FENCE_I, ExitKind.SYNC_ICACHE, 8, 4),
])
def test_block_ending_instructions(word, kind, pc_offset, size):
    """After one ordinary instruction; env.pc is the instruction's own pc, or the next one for
    FENCE.I, which continues through the dispatcher."""
    result = run([enc_i("addi", 5, 0, 1), word, NOP])
    assert result.kind is kind and result.pc == BASE + pc_offset
    assert result.block.n_insns == 2 and result.block.guest_size == 4 + size
    assert result.x(5) == 1


def test_fence_is_a_no_op():
    result = run([FENCE, enc_i("addi", 5, 0, 3)], max_insns=2)
    assert result.x(5) == 3 and result.block.n_insns == 2
    assert op_names(result.block)[:3] == ["insn_start", "insn_start", "mov"]


# --------------------------------------------------------------------------------------------
# Block boundaries


def test_max_insns_ends_with_a_direct_exit():
    result = run([enc_i("addi", 5, 5, 1)] * 10, max_insns=4)
    assert result.block.n_insns == 4 and result.block.guest_size == 16
    assert (result.kind, result.slot, result.pc) == (ExitKind.CHAIN, 0, BASE + 16)
    assert result.x(5) == 4
    assert [op.consts[0] for op in result.block.ops if op.name == "insn_start"] == [
        BASE, BASE + 4, BASE + 8, BASE + 12]


def test_block_stops_at_the_page_boundary():
    start = 0x10FF0
    result = run([NOP] * 8, pc=start)
    assert result.block.guest_size == 0x10 and result.block.n_insns == 4
    assert result.pc == 0x11000


def test_instruction_straddling_a_page_starts_its_own_block():
    memory = SparseMemory()
    # At 0x10ffa a nop, then at page offset 0xffe a 32-bit addi that crosses into the next page.
    memory.map(0x10FFA, code_bytes([NOP, enc_i("addi", 5, 0, 9), NOP]))
    frontend = frontend_for(memory)
    block = frontend.translate(0x10FFA, 1)
    assert (block.n_insns, block.guest_size) == (1, 4)    # stops before the straddler
    block = frontend.translate(0x10FFE, 1)
    assert (block.n_insns, block.guest_size) == (1, 4)    # the straddler alone


def test_fetch_fault_ends_the_block_before_the_instruction():
    memory = SparseMemory()
    memory.map(0x5FF8, code_bytes([enc_i("addi", 5, 0, 1), enc_i("addi", 6, 0, 2)]))
    frontend = frontend_for(memory)
    block = frontend.translate(0x5FF8, 3)
    assert (block.n_insns, block.guest_size) == (2, 8)
    env = DictEnv()
    kind, slot, block_id = decode_exit(run_block(block, env, memory))
    assert (kind, slot, block_id) == (ExitKind.CHAIN, 0, 3)
    assert env.read_u64(OFF_PC) == 0x6000


def test_fetch_fault_on_the_first_instruction_propagates():
    memory = SparseMemory()
    memory.map(0x5FFE, bytes([0x13, 0x00]))           # half of a 32-bit instruction
    frontend = frontend_for(memory)
    with pytest.raises(GuestFault) as info:
        frontend.translate(0x8000, 0)
    assert info.value.addr == 0x8000
    with pytest.raises(GuestFault) as info:
        frontend.translate(0x5FFE, 0)
    assert info.value.addr == 0x6000
    # The frontend is still usable afterwards.
    memory.map(0x9000, code_bytes([ECALL]))
    assert frontend.translate(0x9000, 0).n_insns == 1


# --------------------------------------------------------------------------------------------
# Lean IR


def body(block) -> list[str]:
    """The ops of a one-instruction block without its instret prologue, its marker and its
    trailing direct exit."""
    ops = [repr(op) for op in after_prologue(block)]
    assert ops[0].startswith("insn_start")
    return ops[1:-3]


def test_lean_ir_for_common_idioms():
    cases = [
        (enc_i("addi", 10, 11, 0), ["mov a0,a1"]),            # mv
        (enc_i("addi", 10, 10, 0), []),                       # nop through a register
        (enc_i("addi", 10, 0, -3), ["mov a0,$0xfffffffffffffffd"]),   # li
        (NOP, []),
        (enc_i("addi", 10, 10, 8), ["add a0,a0,$0x8"]),
        (enc_r("sub", 10, 0, 11), ["neg a0,a1"]),            # neg
        (enc_r("add", 10, 0, 11), ["mov a0,a1"]),
        (enc_i("addiw", 10, 11, 0), ["ext32s a0,a1"]),        # sext.w
        (enc_i("sltiu", 10, 11, 1), ["setcond a0,a1,$0x1,ltu"]),   # seqz
        (enc_r("sltu", 10, 0, 11), ["setcond a0,a1,$0x0,gtu"]),    # snez: constant second
        (enc_u("lui", 10, 0x12345), ["mov a0,$0x12345000"]),
        (enc_r("sraw", 10, 11, 12), ["and tmp{},a2,$0x1f", "ext32s a0,a1", "sar a0,a0,tmp{}"]),
    ]
    for word, expected in cases:
        block = run([word], {11: 1, 12: 2}).block
        got = body(block)
        temp_names = [t.name for t in block.temps
                      if t.kind.value == "local" and t.name != "insn_count"]
        expected = [line.format(*[n[3:] for n in temp_names] * 2) for line in expected]
        assert got == expected, f"{word:#010x}"


@pytest.mark.parametrize("name", sorted(R_TYPE) + sorted(SHIFT_IMM) + sorted(
    n for n in IMMEDIATE if n in I_TYPE) + ["lui", "auipc"])
def test_writes_to_x0_emit_nothing(name):
    if name in R_TYPE:
        word = enc_r(name, 0, 11, 12)
    elif name in SHIFT_IMM:
        word = enc_shift(name, 0, 11, 3)
    elif name in I_TYPE:
        word = enc_i(name, 0, 11, -7)
    else:
        word = enc_u(name, 0, 0x12345)
    assert body(run([word]).block) == []


# --------------------------------------------------------------------------------------------
# Instrumentation hooks, disassembly, registry


class MarkerInstrumentation(Instrumentation):
    """Emits an empty plugin callback at every hook, and records the calls."""

    def __init__(self):
        self.calls = []

    def _mark(self, where: PluginCbFrom, rw: int = 0) -> None:
        gen_plugin_cb_start(where, PluginCbType.UDATA, rw)
        gen_plugin_cb_end()

    def tb_start(self, ctx):
        self.calls.append(("tb_start", ctx.pc_first))
        self._mark(PluginCbFrom.TB)

    def insn_start(self, ctx):
        self.calls.append(("insn_start", ctx.pc_curr))
        self._mark(PluginCbFrom.INSN)

    def insn_end(self, ctx):
        self.calls.append(("insn_end", ctx.pc_curr))
        self._mark(PluginCbFrom.AFTER_INSN)

    def mem_before(self, ctx, vaddr, memop, is_store):
        self.calls.append(("mem_before", ctx.pc_curr, is_store))

    def mem_after(self, ctx, vaddr, memop, is_store):
        self.calls.append(("mem_after", ctx.pc_curr, is_store))
        self._mark(PluginCbFrom.MEM, 2 if is_store else 1)


def test_instrumentation_hooks_are_called_in_order():
    memory = data_memory()
    memory.map(BASE, code_bytes([enc_i("ld", 11, 11, 8), enc_s("sd", 11, 12, 0), ECALL]))
    instrumentation = MarkerInstrumentation()
    block = frontend_for(memory, instrumentation).translate(BASE, 1)
    assert instrumentation.calls == [
        ("tb_start", BASE),
        ("insn_start", BASE), ("mem_before", BASE, False), ("mem_after", BASE, False),
        ("insn_end", BASE),
        ("insn_start", BASE + 4), ("mem_before", BASE + 4, True), ("mem_after", BASE + 4, True),
        ("insn_end", BASE + 4),
        ("insn_start", BASE + 8), ("insn_end", BASE + 8),
    ]
    names = op_names(block)
    assert names[:3] == ["plugin_cb_start", "plugin_cb_end", "insn_start"]   # after instret
    first_load = names.index("guest_ld")
    assert names[first_load + 1] == "plugin_cb_start"
    # The instrumented block still computes the same thing.
    env = DictEnv()
    env.write_u64(gpr_offset(11), DATA)
    env.write_u64(gpr_offset(12), DATA + 0x20)
    assert decode_exit(run_block(block, env, memory))[0] is ExitKind.SYSCALL
    assert memory.read(DATA + 0x20, 8) == memory.read(DATA + 8, 8)


def test_without_instrumentation_no_plugin_ops():
    block = run([enc_i("ld", 11, 11, 8), ECALL], {11: DATA}, memory=data_memory()).block
    assert not any(name.startswith("plugin") for name in op_names(block))
    assert "add" not in op_names(block)   # no address copies either


def test_disassemble_lists_the_block():
    memory = SparseMemory()
    memory.map(BASE, code_bytes([enc_i("addi", 10, 11, 5), enc_r("mulw", 5, 6, 7), 0xFFFFFFFF]))
    frontend = frontend_for(memory)
    block = frontend.translate(BASE, 0)
    lines = frontend.disassemble(BASE, block.guest_size).splitlines()
    assert len(lines) == 3
    assert lines[0].startswith(f"0x{BASE:016x}:") and "addi" in lines[0] and "a0, a1, 5" in lines[0]
    assert "mulw" in lines[1] and ".insn 0xffffffff" in lines[2]


def test_every_table_instruction_has_a_translate_function():
    """And every translate function serves an instruction: compressed ones name theirs."""
    instructions = [p for p in PATTERNS if not p.illegal]
    assert set(translator_registry()) == {p.translate_name for p in instructions}
    for pattern in instructions:
        if pattern.size == 2:
            assert pattern.expands_to is not None and pattern.name.startswith("c.")


# --------------------------------------------------------------------------------------------
# Native code agrees with the interpreter


def test_native_code_of_random_programs_agrees_with_the_interpreter():
    rng = random.Random(77)
    for _ in range(10):
        words = []
        for _ in range(30):
            rd, rs1, rs2 = (rng.choice([0, 5, 10, 11, 31]) for _ in range(3))
            if rng.random() < 0.5:
                words.append(enc_r(rng.choice(sorted(R_TYPE)), rd, rs1, rs2))
            else:
                words.append(enc_i(rng.choice(["addi", "xori", "sltiu", "addiw"]), rd, rs1,
                                   rng.randint(-2048, 2047)))
        words += [enc_s("sd", 10, 2, 8), enc_i("ld", 12, 2, 8), ECALL]
        regs = {r: rng.getrandbits(64) for r in (5, 10, 11, 31)}
        regs[2] = DATA
        value, _ = native_comparison().check(code_bytes(words), DATA, bytes(64), regs)
        assert decode_exit(value)[0] is ExitKind.SYSCALL
