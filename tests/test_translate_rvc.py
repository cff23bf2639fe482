"""Compressed instructions, translated and interpreted (jit/interp.py): each one must leave the
same state as the 32-bit instruction it expands to, where the expansion is computed here from the
spec's RVC tables (independently of the pattern table) and encoded by test_translate's encoder.
Also: block ends with 2-byte instructions at page boundaries, and the FP loads and stores the
compressed FP instructions expand to.
"""
from __future__ import annotations

import random
import sys
from collections import Counter
from pathlib import Path
from typing import Optional

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_translate import (BASE, EDGES, SparseMemory, code_bytes,  # noqa: E402
                            enc_b, enc_i, enc_jal, enc_r, enc_s, enc_shift, enc_u, frontend_for,
                            native_comparison, new_env, run, run_code)

from guest.riscv.cpu import OFF_INSTRET, fpr_offset  # noqa: E402
from guest.riscv.decode import decode  # noqa: E402
from guest.riscv.insn_table import PATTERNS  # noqa: E402
from jit.exits import ExitKind, decode_exit  # noqa: E402
from jit.interp import run_block  # noqa: E402

DATA = 0x200000
DATA_SIZE = 0x1000
BASE_ADDRESS = DATA + 0x200     # base registers of loads and stores point here
NAN_BOX = 0xFFFFFFFF_00000000


# --------------------------------------------------------------------------------------------
# The spec's expansion of every RVC instruction (RV64C tables), to a 32-bit encoding


def bit(word: int, position: int) -> int:
    return (word >> position) & 1


def bits(word: int, high: int, low: int) -> int:
    return (word >> low) & ((1 << (high - low + 1)) - 1)


def sext(value: int, width: int) -> int:
    return value - (1 << width) if value >> (width - 1) else value


def creg(three_bits: int) -> int:
    return 8 + three_bits


def enc_fp_load(name: str, rd: int, rs1: int, imm: int) -> int:
    funct3 = {"flw": 2, "fld": 3}[name]
    return ((imm & 0xFFF) << 20) | (rs1 << 15) | (funct3 << 12) | (rd << 7) | 0x07


def enc_fp_store(name: str, rs2: int, rs1: int, imm: int) -> int:
    funct3 = {"fsw": 2, "fsd": 3}[name]
    return (((imm >> 5) & 0x7F) << 25) | (rs2 << 20) | (rs1 << 15) | (funct3 << 12) \
        | ((imm & 0x1F) << 7) | 0x27


EBREAK = 0x00100073


class Expansion:
    """A compressed instruction's 32-bit equivalent, and how control leaves it: "next" (falls
    through), "branch" (conditional: falls through when not taken), "jump" (writes the link
    register `link`), "trap"."""

    def __init__(self, word: int, flow: str = "next", link: int = 0, base: Optional[int] = None):
        self.word = word
        self.flow = flow
        self.link = link
        self.base = base          # the base register of a load or store


def expand(word: int) -> Optional[Expansion]:
    """The expansion of a 16-bit word, or None for a reserved encoding."""
    quadrant, funct3 = word & 3, word >> 13
    rd = bits(word, 11, 7)
    rs2 = bits(word, 6, 2)
    rd_low, rs1_high = creg(bits(word, 4, 2)), creg(bits(word, 9, 7))
    imm6 = sext((bit(word, 12) << 5) | bits(word, 6, 2), 6)
    shamt = (bit(word, 12) << 5) | bits(word, 6, 2)
    if quadrant == 0:
        uimm_w = (bits(word, 12, 10) << 3) | (bit(word, 6) << 2) | (bit(word, 5) << 6)
        uimm_d = (bits(word, 12, 10) << 3) | (bits(word, 6, 5) << 6)
        if funct3 == 0:
            nzuimm = ((bits(word, 10, 7) << 6) | (bits(word, 12, 11) << 4) | (bit(word, 5) << 3)
                      | (bit(word, 6) << 2))
            return Expansion(enc_i("addi", rd_low, 2, nzuimm)) if nzuimm else None
        if funct3 == 1:
            return Expansion(enc_fp_load("fld", rd_low, rs1_high, uimm_d), base=rs1_high)
        if funct3 == 2:
            return Expansion(enc_i("lw", rd_low, rs1_high, uimm_w), base=rs1_high)
        if funct3 == 3:
            return Expansion(enc_i("ld", rd_low, rs1_high, uimm_d), base=rs1_high)
        if funct3 == 5:
            return Expansion(enc_fp_store("fsd", rd_low, rs1_high, uimm_d), base=rs1_high)
        if funct3 == 6:
            return Expansion(enc_s("sw", rd_low, rs1_high, uimm_w), base=rs1_high)
        if funct3 == 7:
            return Expansion(enc_s("sd", rd_low, rs1_high, uimm_d), base=rs1_high)
        return None
    if quadrant == 1:
        if funct3 == 0:
            return Expansion(enc_i("addi", rd, rd, imm6))
        if funct3 == 1:
            return Expansion(enc_i("addiw", rd, rd, imm6)) if rd else None
        if funct3 == 2:
            return Expansion(enc_i("addi", rd, 0, imm6))
        if funct3 == 3:
            if rd == 2:
                nzimm = sext((bit(word, 12) << 9) | (bits(word, 4, 3) << 7) | (bit(word, 5) << 6)
                             | (bit(word, 2) << 5) | (bit(word, 6) << 4), 10)
                return Expansion(enc_i("addi", 2, 2, nzimm)) if nzimm else None
            return Expansion(enc_u("lui", rd, imm6 & 0xFFFFF)) if imm6 else None
        if funct3 == 4:
            funct2 = bits(word, 11, 10)
            if funct2 == 0:
                return Expansion(enc_shift("srli", rs1_high, rs1_high, shamt))
            if funct2 == 1:
                return Expansion(enc_shift("srai", rs1_high, rs1_high, shamt))
            if funct2 == 2:
                return Expansion(enc_i("andi", rs1_high, rs1_high, imm6))
            names = (("sub", "xor", "or", "and"), ("subw", "addw", None, None))[bit(word, 12)]
            name = names[bits(word, 6, 5)]
            return Expansion(enc_r(name, rs1_high, rs1_high, rd_low)) if name else None
        if funct3 == 5:
            offset = sext((bit(word, 12) << 11) | (bit(word, 11) << 4) | (bits(word, 10, 9) << 8)
                          | (bit(word, 8) << 10) | (bit(word, 7) << 6) | (bit(word, 6) << 7)
                          | (bits(word, 5, 3) << 1) | (bit(word, 2) << 5), 12)
            return Expansion(enc_jal(0, offset), "jump", link=0)
        offset = sext((bit(word, 12) << 8) | (bits(word, 11, 10) << 3) | (bits(word, 6, 5) << 6)
                      | (bits(word, 4, 3) << 1) | (bit(word, 2) << 5), 9)
        return Expansion(enc_b("beq" if funct3 == 6 else "bne", rs1_high, 0, offset), "branch")
    # quadrant 2
    uimm_dsp = (bit(word, 12) << 5) | (bits(word, 6, 5) << 3) | (bits(word, 4, 2) << 6)
    uimm_wsp = (bit(word, 12) << 5) | (bits(word, 6, 4) << 2) | (bits(word, 3, 2) << 6)
    uimm_sdsp = (bits(word, 12, 10) << 3) | (bits(word, 9, 7) << 6)
    uimm_swsp = (bits(word, 12, 9) << 2) | (bits(word, 8, 7) << 6)
    if funct3 == 0:
        return Expansion(enc_shift("slli", rd, rd, shamt))
    if funct3 == 1:
        return Expansion(enc_fp_load("fld", rd, 2, uimm_dsp), base=2)
    if funct3 == 2:
        return Expansion(enc_i("lw", rd, 2, uimm_wsp), base=2) if rd else None
    if funct3 == 3:
        return Expansion(enc_i("ld", rd, 2, uimm_dsp), base=2) if rd else None
    if funct3 == 4:
        if bit(word, 12) == 0:
            if rs2 == 0:
                return Expansion(enc_i("jalr", 0, rd, 0), "jump", link=0) if rd else None
            return Expansion(enc_r("add", rd, 0, rs2))
        if rs2 == 0:
            if rd == 0:
                return Expansion(EBREAK, "trap")
            return Expansion(enc_i("jalr", 1, rd, 0), "jump", link=1)
        return Expansion(enc_r("add", rd, rd, rs2))
    if funct3 == 5:
        return Expansion(enc_fp_store("fsd", rs2, 2, uimm_sdsp), base=2)
    if funct3 == 6:
        return Expansion(enc_s("sw", rs2, 2, uimm_swsp), base=2)
    return Expansion(enc_s("sd", rs2, 2, uimm_sdsp), base=2)


# --------------------------------------------------------------------------------------------
# Compressed instruction == its expansion


def data_memory(seed: int) -> SparseMemory:
    memory = SparseMemory()
    memory.map(DATA, random.Random(seed).randbytes(DATA_SIZE))
    return memory


def random_state(rng: random.Random, base: Optional[int]) -> tuple[dict[int, int], dict]:
    regs = {index: rng.choice(EDGES + [rng.getrandbits(64)] * 4) for index in range(1, 32)}
    if base is not None:
        regs[base] = BASE_ADDRESS
    fprs = {fpr_offset(index): rng.getrandbits(64) for index in range(32)}
    return regs, {**fprs, OFF_INSTRET: rng.getrandbits(40)}


def check_same_state(word: int, expansion: Expansion, rng: random.Random) -> None:
    regs, env_fields = random_state(rng, expansion.base)
    seed = rng.getrandbits(32)
    compressed_memory, full_memory = data_memory(seed), data_memory(seed)
    # One-instruction blocks: a branch to itself then leaves instead of looping in the block.
    compressed = run_code(word.to_bytes(2, "little"), regs, compressed_memory, max_insns=1,
                          env_fields=env_fields)
    full = run([expansion.word], regs, full_memory, max_insns=1, env_fields=env_fields)
    label = f"{word:#06x} ({decode(word)!r}) vs {expansion.word:#010x}\n{compressed.block.dump()}"
    assert compressed.kind is full.kind, label
    # The compressed instruction is 2 bytes long: it falls through, and links, to pc + 2.
    sequential = (expansion.flow == "next"
                  or (expansion.flow == "branch" and full.slot == 0))
    assert compressed.pc == (full.pc - 2 if sequential else full.pc), label
    for index in range(32):
        expected = full.x(index)
        if expansion.flow == "jump" and index == expansion.link and index:
            expected -= 2
        assert compressed.x(index) == expected, f"x{index}: {label}"
    for offset in [fpr_offset(index) for index in range(32)] + [OFF_INSTRET]:
        assert compressed.env.read_u64(offset) == full.env.read_u64(offset), label
    assert compressed_memory.read(DATA, DATA_SIZE) == full_memory.read(DATA, DATA_SIZE), label
    assert compressed.block.guest_size == 2 and compressed.block.n_insns == 1


def test_every_compressed_instruction_matches_its_expansion():
    rng = random.Random(2718)
    seen: Counter = Counter()
    reserved = 0
    # Uniformly random halfwords, and random ones inside each compressed pattern so that the
    # rare instructions get their share.
    words = [rng.getrandbits(16) for _ in range(8000)]
    words += [(rng.getrandbits(16) & ~pattern.mask) | pattern.match
              for pattern in PATTERNS if pattern.size == 2 for _ in range(40)]
    for word in words:
        if word & 3 == 3:
            continue
        expansion = expand(word)
        insn = decode(word)
        if expansion is None:
            assert insn is None, f"{word:#06x} is reserved, decoder says {insn!r}"
            reserved += 1
            continue
        assert insn is not None, f"{word:#06x} expands to {expansion.word:#010x}"
        seen[insn.name] += 1
        check_same_state(word, expansion, rng)
    compressed_names = {"c.addi4spn", "c.fld", "c.lw", "c.ld", "c.fsd", "c.sw", "c.sd",
                        "c.addi", "c.addiw", "c.li", "c.addi16sp", "c.lui", "c.srli", "c.srai",
                        "c.andi", "c.sub", "c.xor", "c.or", "c.and", "c.subw", "c.addw", "c.j",
                        "c.beqz", "c.bnez", "c.slli", "c.fldsp", "c.lwsp", "c.ldsp", "c.jr",
                        "c.mv", "c.jalr", "c.add", "c.fsdsp", "c.swsp", "c.sdsp"}
    assert compressed_names <= set(seen), compressed_names - set(seen)
    assert min(seen[name] for name in compressed_names) >= 30 and reserved > 50


@pytest.mark.parametrize("word", [0x9002, 0x0001, 0x8082, 0x9082, 0x8D1D, 0x0000, 0x6101])
def test_special_compressed_words(word):
    """c.ebreak, c.nop, ret, c.jalr ra, c.sub, and two reserved words."""
    expansion = expand(word)
    if expansion is None:
        result = run_code(word.to_bytes(2, "little"))
        assert (result.kind, result.pc) == (ExitKind.ILLEGAL, BASE)
        return
    check_same_state(word, expansion, random.Random(word))


def test_compressed_and_full_instructions_mix_in_one_block():
    """c.li a0, 5; addi a0, a0, 1 (32-bit, at an address that is 2 mod 4); c.slli a0, 2;
    c.mv a1, a0; c.j .+4 (over a c.nop)."""
    code = (bytes.fromhex("1545") + code_bytes([enc_i("addi", 10, 10, 1)])
            + bytes.fromhex("0a05") + bytes.fromhex("aa85") + bytes.fromhex("11a0")
            + bytes.fromhex("0100"))
    result = run_code(code, env_fields={OFF_INSTRET: 100})
    assert result.x(10) == 24 and result.x(11) == 24
    assert (result.kind, result.pc) == (ExitKind.CHAIN, BASE + 10 + 4)
    assert result.block.n_insns == 5 and result.block.guest_size == 12
    assert result.env.read_u64(OFF_INSTRET) == 105
    starts = [op.consts[0] for op in result.block.ops if op.name == "insn_start"]
    assert starts == [BASE, BASE + 2, BASE + 6, BASE + 8, BASE + 10]


def test_compressed_jal_links_to_the_next_halfword():
    # c.jalr a5 at an odd multiple of 2, then c.jr ra.
    code = bytes.fromhex("0100") + bytes.fromhex("8297")
    result = run_code(code, {15: 0x4000}, max_insns=2)
    assert (result.kind, result.pc, result.x(1)) == (ExitKind.LOOKUP, 0x4000, BASE + 4)


# --------------------------------------------------------------------------------------------
# Page boundaries with 2-byte instructions

PAGE_END = 0x11000
C_NOP = bytes.fromhex("0100")
C_LI_A0_1 = bytes.fromhex("0545")


def translate_at(memory: SparseMemory, pc: int, max_insns: int = 512):
    return frontend_for(memory).translate(pc, 0, max_insns)


def test_compressed_instructions_fill_the_page_up_to_its_end():
    memory = SparseMemory()
    memory.map(PAGE_END - 4, C_NOP + C_LI_A0_1 + C_NOP * 4)
    block = translate_at(memory, PAGE_END - 4)
    assert (block.n_insns, block.guest_size) == (2, 4)
    env = new_env()
    kind, slot, _ = decode_exit(run_block(block, env, memory))
    assert (kind, env.read_u64(256)) == (ExitKind.CHAIN, PAGE_END)


def test_a_compressed_instruction_in_the_last_halfword_before_unreadable_code():
    """The 4-byte fetch fails; the 2-byte one succeeds and the instruction is compressed."""
    memory = SparseMemory()
    memory.map(PAGE_END - 2, C_LI_A0_1)
    block = translate_at(memory, PAGE_END - 2)
    assert (block.n_insns, block.guest_size) == (1, 2)
    memory.map(PAGE_END - 6, C_NOP * 2)
    block = translate_at(memory, PAGE_END - 6)
    assert (block.n_insns, block.guest_size) == (3, 6)


def test_a_32_bit_instruction_straddling_the_page_after_compressed_ones():
    memory = SparseMemory()
    straddler = code_bytes([enc_i("addi", 5, 0, 9)])
    memory.map(PAGE_END - 6, C_NOP + C_NOP + straddler + C_NOP)
    block = translate_at(memory, PAGE_END - 6)
    assert (block.n_insns, block.guest_size) == (2, 4)     # stops before the straddler
    block = translate_at(memory, PAGE_END - 2)
    assert (block.n_insns, block.guest_size) == (1, 4)     # the straddler alone
    env = new_env()
    run_block(block, env, memory)
    assert env.read_u64(8 * 5) == 9 and env.read_u64(256) == PAGE_END + 2


def test_a_compressed_instruction_in_the_last_halfword_is_not_a_straddler():
    memory = SparseMemory()
    memory.map(PAGE_END - 8, code_bytes([enc_i("addi", 6, 0, 1)]) + C_NOP + C_LI_A0_1 + C_NOP)
    block = translate_at(memory, PAGE_END - 8)
    assert (block.n_insns, block.guest_size) == (3, 8)


# --------------------------------------------------------------------------------------------
# FP loads and stores (what c.fld & co expand to): bit moves between memory and f registers


def fp_memory() -> SparseMemory:
    memory = SparseMemory()
    memory.map(DATA, bytes.fromhex("0123456789abcdef fedcba9876543210") + bytes(48))
    return memory


def test_flw_nan_boxes_and_fld_loads_64_bits():
    words = [enc_fp_load("flw", 1, 10, 0), enc_fp_load("flw", 2, 10, 12),
             enc_fp_load("fld", 3, 10, 8), enc_fp_load("fld", 0, 10, 0)]
    result = run(words, {10: DATA}, fp_memory())
    f = lambda index: result.env.read_u64(fpr_offset(index))   # noqa: E731
    assert f(1) == NAN_BOX | 0x67452301
    assert f(2) == NAN_BOX | 0x10325476
    assert f(3) == 0x1032547698BADCFE
    assert f(0) == 0xEFCDAB8967452301                           # f0 is a real register


def test_fsw_stores_the_low_32_bits_and_fsd_all_64():
    memory = fp_memory()
    fields = {fpr_offset(4): 0xAAAAAAAA_11223344, fpr_offset(31): 0x5566778899AABBCC}
    words = [enc_fp_store("fsw", 4, 10, 16), enc_fp_store("fsd", 31, 10, 24),
             enc_fp_store("fsw", 31, 10, -16 + 48)]
    run(words, {10: DATA}, memory, env_fields=fields)
    assert memory.read(DATA + 16, 8) == bytes.fromhex("4433221100000000")
    assert memory.read(DATA + 24, 8) == (0x5566778899AABBCC).to_bytes(8, "little")
    assert memory.read(DATA + 32, 4) == (0x99AABBCC).to_bytes(4, "little")


def test_fp_load_fault_leaves_the_f_register():
    fields = {fpr_offset(7): 0x1234}
    result = run([enc_fp_load("fld", 7, 10, 0)], {10: 0x900000}, env_fields=fields)
    assert result.kind is ExitKind.FAULT
    assert result.env.read_u64(fpr_offset(7)) == 0x1234


def test_compressed_fp_loads_and_stores_round_trip():
    # c.fldsp f9, 8(sp); c.fsdsp f9, 24(sp); c.fld f8, 0(a0); c.fsd f8, 32(a0)
    code = (bytes.fromhex("a224") + bytes.fromhex("26ac") + bytes.fromhex("0021")
            + bytes.fromhex("00b1"))
    memory = fp_memory()
    result = run_code(code, {2: DATA, 10: DATA + 8}, memory)
    assert [decode(word).name for word in (0x24A2, 0xAC26, 0x2100, 0xB100)] == [
        "c.fldsp", "c.fsdsp", "c.fld", "c.fsd"]
    assert result.env.read_u64(fpr_offset(9)) == 0x1032547698BADCFE
    assert memory.read(DATA + 24, 8) == memory.read(DATA + 8, 8)
    assert memory.read(DATA + 40, 8) == memory.read(DATA + 8, 8)


def test_disassembly_lists_compressed_instructions():
    memory = SparseMemory()
    memory.map(BASE, C_LI_A0_1 + code_bytes([enc_i("addi", 10, 10, 1)]) + bytes.fromhex("8280")
               + bytes.fromhex("0000"))
    frontend = frontend_for(memory)
    block = frontend.translate(BASE, 0)
    lines = frontend.disassemble(BASE, block.guest_size).splitlines()
    assert len(lines) == 3 and block.guest_size == 8
    assert lines[0].startswith(f"0x{BASE:016x}:  4505 ") and "c.li" in lines[0]
    assert "addi" in lines[1] and "c.jr" in lines[2]
    lines = frontend.disassemble(BASE + 6, 4).splitlines()
    assert "c.jr" in lines[0] and "c.unimp" in lines[1]


def test_max_insns_counts_compressed_instructions():
    result = run_code(C_NOP * 10, max_insns=3)
    assert (result.block.n_insns, result.block.guest_size, result.pc) == (3, 6, BASE + 6)


# --------------------------------------------------------------------------------------------
# Native code agrees with the interpreter


def test_native_code_of_compressed_programs_agrees_with_the_interpreter():
    rng = random.Random(5)
    for _ in range(25):
        halfwords = []
        while len(halfwords) < 30:
            word = rng.getrandbits(16)
            expansion = expand(word) if word & 3 != 3 else None
            if expansion is not None and expansion.flow == "next":
                halfwords.append(word)
        halfwords.append(rng.choice([0x9002, 0x8082, 0xA001, 0xC001]))  # ebreak, ret, j, beqz
        code = b"".join(word.to_bytes(2, "little") for word in halfwords)
        regs = {index: rng.choice(EDGES) for index in range(1, 32)}
        for base in (2, *range(8, 16)):
            regs[base] = BASE_ADDRESS + 8 * rng.randrange(4)
        fields = {fpr_offset(index): rng.getrandbits(64) for index in range(32)}
        native_comparison().check(code, DATA, random.Random(1).randbytes(DATA_SIZE), regs,
                                  fields)
