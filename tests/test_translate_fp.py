"""The F and D instructions: decoded (against the GNU assembler), translated, and run both in the
reference interpreter and as native x86 code, on every case recorded from qemu-riscv64
(tests/guest/expected_linux/fp_*.stdout): result register and fflags, every rounding mode
static and dyn (frm of the recording: static modes run with frm set to another, often invalid,
mode), NaN-boxing, the moves. Plus the rm field rules (reserved static modes are illegal, dyn
with frm 5-7 is illegal when it executes, checked once per block), the CSR interplay (flags
accrued natively are seen by frflags/frcsr, cleared by fsflags, frm writes change the rounding of
later blocks) and x0 destinations.

Instructions are encoded by a spec-based encoder written here, independent of the pattern table.
"""
from __future__ import annotations

import os
import random
import re
import shutil
import struct
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import fp_cases  # noqa: E402
from test_translate import (BASE, code_bytes, enc_i, enc_s, native_comparison,  # noqa: E402
                            run)

from guest.riscv.cpu import OFF_FFLAGS, OFF_FRM, OFF_INSTRET, fpr_offset, gpr_offset  # noqa: E402
from guest.riscv.decode import decode  # noqa: E402
from guest.riscv import insn_table_fp as table_fp  # noqa: E402
from jit import softfloat as sf  # noqa: E402
from jit.exits import ExitKind, decode_exit  # noqa: E402

DATA = 0x200000


def fp_patterns():
    """The F/D instructions of the table (without its reserved encodings)."""
    return [p for p in table_fp.fp_patterns() if not p.illegal]
MASK = (1 << 64) - 1

# --------------------------------------------------------------------------------------------
# Encoder, from the spec's tables (RV64F/D, "RV32/64G Instruction Set Listings")

OP_FP = 0x53
FMT = {"s": 0, "d": 1}
FMA_OPCODE = {"fmadd": 0x43, "fmsub": 0x47, "fnmsub": 0x4B, "fnmadd": 0x4F}
# name (without .fmt): (funct5, rs2 or None, funct3 or None (= rm field))
OP_FP_TABLE = {
    "fadd": (0x00, None, None), "fsub": (0x01, None, None), "fmul": (0x02, None, None),
    "fdiv": (0x03, None, None), "fsqrt": (0x0B, 0, None),
    "fsgnj": (0x04, None, 0), "fsgnjn": (0x04, None, 1), "fsgnjx": (0x04, None, 2),
    "fmin": (0x05, None, 0), "fmax": (0x05, None, 1),
    "feq": (0x14, None, 2), "flt": (0x14, None, 1), "fle": (0x14, None, 0),
    "fclass": (0x1C, 0, 1),
}
INT_RS2 = {"w": 0, "wu": 1, "l": 2, "lu": 3}


def enc_fp(mnemonic: str, rd: int, rs1: int, rs2: int = 0, rs3: int = 0, rm: int = 0) -> int:
    parts = mnemonic.split(".")
    op = parts[0]
    if op in FMA_OPCODE:
        return ((rs3 << 27) | (FMT[parts[1]] << 25) | (rs2 << 20) | (rs1 << 15) | (rm << 12)
                | (rd << 7) | FMA_OPCODE[op])
    if op == "fcvt":
        dst, src = parts[1], parts[2]
        if dst in INT_RS2:
            funct5, fmt, rs2 = 0x18, FMT[src], INT_RS2[dst]
        elif src in INT_RS2:
            funct5, fmt, rs2 = 0x1A, FMT[dst], INT_RS2[src]
        else:
            funct5, fmt, rs2 = 0x08, FMT[dst], FMT[src]
        funct3 = rm
    elif op == "fmv":
        dst, src = parts[1], parts[2]
        funct5 = 0x1C if dst == "x" else 0x1E
        fmt = FMT["s" if "w" in (dst, src) else "d"]
        rs2, funct3 = 0, 0
    else:
        funct5, fixed_rs2, fixed_funct3 = OP_FP_TABLE[op]
        fmt = FMT[parts[1]]
        rs2 = fixed_rs2 if fixed_rs2 is not None else rs2
        funct3 = fixed_funct3 if fixed_funct3 is not None else rm
    return ((funct5 << 27) | (fmt << 25) | (rs2 << 20) | (rs1 << 15) | (funct3 << 12) | (rd << 7)
            | OP_FP)


def enc_fld(rd: int, rs1: int, imm: int) -> int:
    return ((imm & 0xFFF) << 20) | (rs1 << 15) | (3 << 12) | (rd << 7) | 0x07


def enc_fsd(rs2: int, rs1: int, imm: int) -> int:
    return ((((imm >> 5) & 0x7F) << 25) | (rs2 << 20) | (rs1 << 15) | (3 << 12)
            | ((imm & 0x1F) << 7) | 0x27)


def enc_csrrw(rd: int, csr: int, rs1: int) -> int:
    return (csr << 20) | (rs1 << 15) | (1 << 12) | (rd << 7) | 0x73


def enc_csrrs(rd: int, csr: int, rs1: int) -> int:
    return (csr << 20) | (rs1 << 15) | (2 << 12) | (rd << 7) | 0x73


FFLAGS_CSR, FRM_CSR, FCSR_CSR = 1, 2, 3


def _sources(mnemonic: str) -> tuple[str, int]:
    """('f' or 'x', number of sources) and whether the result goes to an x register."""
    parts = mnemonic.split(".")
    op = parts[0]
    if op == "fcvt" and parts[2] in INT_RS2 or mnemonic in ("fmv.w.x", "fmv.d.x"):
        return "x", 1
    if op in FMA_OPCODE:
        return "f", 3
    if op in ("fsqrt", "fclass", "fcvt", "fmv"):
        return "f", 1
    return "f", 2


def _int_result(mnemonic: str) -> bool:
    parts = mnemonic.split(".")
    return (parts[0] in ("feq", "flt", "fle", "fclass") or mnemonic in ("fmv.x.w", "fmv.x.d")
            or (parts[0] == "fcvt" and parts[1] in INT_RS2))


# --------------------------------------------------------------------------------------------
# The decoder agrees with the spec encoder and with the GNU assembler


def test_spec_encoder_and_decoder_agree_on_every_fp_instruction():
    for pattern in fp_patterns():
        kind, count = _sources(pattern.name)
        rm = 3 if "rm" in pattern.format.field_names else 0
        word = enc_fp(pattern.name, 5, 6, 7 if count > 1 else 0, 8 if count > 2 else 0, rm)
        insn = decode(word)
        assert insn is not None and insn.name == pattern.name, pattern.name
        fields = insn.fields
        assert fields["rd"] == 5 and fields["rs1"] == 6
        if count > 1:
            assert fields["rs2"] == 7
        if count > 2:
            assert fields["rs3"] == 8
        if "rm" in fields:
            assert fields["rm"] == 3


needs_binutils = pytest.mark.skipif(
    shutil.which("riscv64-linux-gnu-as") is None or shutil.which("riscv64-linux-gnu-objdump")
    is None, reason="no RISC-V binutils")


@needs_binutils
def test_decoder_agrees_with_the_gnu_assembler(tmp_path):
    lines, expected = [], []
    for pattern in fp_patterns():
        for rm in ((0, 1, 2, 3, 4, 7) if "rm" in pattern.format.field_names else (None,)):
            if rm and pattern.name in table_fp.EXACT_CONVERSIONS:
                continue           # binutils writes these without rm (rm = 0)
            fields = {name: 9 + i for i, name in enumerate(pattern.format.field_names)
                      if name != "rm"}
            if rm is not None:
                fields["rm"] = rm
            lines.append(table_fp.assembly_text(pattern.name, fields))
            expected.append((pattern.name, fields))
    source = tmp_path / "fp.s"
    source.write_text(".option norvc\n.text\n" + "\n".join(lines) + "\n")
    obj, raw = tmp_path / "fp.o", tmp_path / "fp.bin"
    subprocess.run(["riscv64-linux-gnu-as", "-march=rv64gc", str(source), "-o", str(obj)],
                   check=True, capture_output=True)
    subprocess.run(["riscv64-linux-gnu-objcopy", "-O", "binary", "-j", ".text", str(obj),
                    str(raw)], check=True, capture_output=True)
    code = raw.read_bytes()
    assert len(code) == 4 * len(lines)
    for index, (text, (name, fields)) in enumerate(zip(lines, expected)):
        insn = decode(int.from_bytes(code[4 * index:4 * index + 4], "little"))
        assert insn is not None and (insn.name, insn.fields) == (name, fields), text


@needs_binutils
def test_random_fp_encodings_agree_with_objdump(tmp_path):
    """Random words inside every F/D pattern: objdump (-M no-aliases,numeric) and the decoder
    agree on the instruction and its fields; objdump's "unknown" rounding modes (5, 6) are
    reserved encodings; it does not know the exact conversions with rm != 0, which qemu runs."""
    rng = random.Random(31)
    words = [(rng.getrandbits(32) & ~p.mask) | p.match for p in fp_patterns() for _ in range(40)]
    raw = tmp_path / "words.bin"
    raw.write_bytes(b"".join(word.to_bytes(4, "little") for word in words))
    listing = subprocess.run(["riscv64-linux-gnu-objdump", "-D", "-b", "binary", "-m",
                              "riscv:rv64", "-M", "no-aliases,numeric", str(raw)],
                             check=True, capture_output=True, text=True).stdout
    decoded = [line.split("\t") for line in listing.splitlines()
               if re.match(r"^\s+[0-9a-f]+:", line)]
    assert len(decoded) == len(words)
    checked = 0
    for word, columns in zip(words, decoded):
        mnemonic, operands = columns[2].strip(), columns[3].strip() if len(columns) > 3 else ""
        insn = decode(word)
        label = f"{word:#010x}: objdump {mnemonic} {operands}, decoder {insn!r}"
        if operands.endswith("unknown"):
            assert insn is None, label
            continue
        if mnemonic == ".4byte":       # reserved rm, or an exact conversion with rm != 0
            assert insn is None or (insn.name in table_fp.EXACT_CONVERSIONS
                                    and insn.fields["rm"] != 0), label
            continue
        assert insn is not None and insn.name == mnemonic, label
        assert insn.fields == table_fp.objdump_fields(mnemonic, operands), label
        checked += 1
    assert checked > len(words) * 0.7


# --------------------------------------------------------------------------------------------
# Recorded cases, translated, interpreted and native

CASES_PER_BLOCK = 50     # at most 9 instructions each: within max_insns and one page
RECORD = 40          # bytes per case in the data area: 3 inputs, result, flags
F_SOURCES = (1, 2, 3)
X_SOURCE = 11
F_DEST, X_DEST, FLAGS_REG, POINTER = 4, 6, 5, 10


def _case_code(case: fp_cases.FpCase) -> list[int]:
    kind, count = _sources(case.mnemonic)
    words = []
    if kind == "f":
        for i in range(count):
            words.append(enc_fld(F_SOURCES[i], POINTER, 8 * i))
        sources = F_SOURCES
    else:
        words.append(enc_i("ld", X_SOURCE, POINTER, 0))
        sources = (X_SOURCE,)
    words.append(enc_csrrw(0, FFLAGS_CSR, 0))                       # fsflags zero
    dest = X_DEST if _int_result(case.mnemonic) else F_DEST
    rm = case.rm if case.rm is not None else 0
    words.append(enc_fp(case.mnemonic, dest, sources[0], sources[1] if count > 1 else 0,
                        sources[2] if count > 2 else 0, rm))
    if _int_result(case.mnemonic):
        words.append(enc_s("sd", X_DEST, POINTER, 24))
    else:
        words.append(enc_fsd(F_DEST, POINTER, 24))
    words.append(enc_csrrs(FLAGS_REG, FFLAGS_CSR, 0))               # frflags
    words.append(enc_s("sd", FLAGS_REG, POINTER, 32))
    words.append(enc_i("addi", POINTER, POINTER, RECORD))
    return words


def _run_cases(cases: list[fp_cases.FpCase], frm: int) -> list[tuple[int, int]]:
    code = code_bytes([word for case in cases for word in _case_code(case)] + [0x00000073])
    data = b"".join(struct.pack("<5Q", *((list(case.inputs) + [0, 0, 0])[:3]), 0, 0)
                    for case in cases)
    comparison = native_comparison()
    value, env = comparison.check(code, DATA, data, {POINTER: DATA},
                                  env_fields={OFF_FRM: frm})
    assert decode_exit(value)[0] is ExitKind.SYSCALL
    out = comparison.space.peek(DATA, RECORD * len(cases))
    return [struct.unpack_from("<QQ", out, RECORD * i + 24) for i in range(len(cases))]


# fp_arith and fp_fma have many cases (every one runs natively in tests/test_fp_native.py): one in
# SAMPLE of them here, all with TCGJIT_FP_FULL=1.
SAMPLE = {"fp_arith": 3, "fp_fma": 5}     # odd: static and dyn cases alternate


@pytest.mark.parametrize("program", fp_cases.FP_PROGRAMS)
def test_recorded_cases_translated(program):
    groups = defaultdict(list)
    step = 1 if os.environ.get("TCGJIT_FP_FULL") else SAMPLE.get(program, 1)
    for case in fp_cases.load(program)[::step]:
        groups[case.frm].append(case)
    errors = []
    for frm, cases in sorted(groups.items()):
        for start in range(0, len(cases), CASES_PER_BLOCK):
            chunk = cases[start:start + CASES_PER_BLOCK]
            for case, got in zip(chunk, _run_cases(chunk, frm)):
                if got != (case.value, case.flags):
                    errors.append(f"{case}\n    got {got[0]:x}/{got[1]:02x}")
    assert not errors, f"{len(errors)} differ:\n" + "\n".join(errors[:20])


# --------------------------------------------------------------------------------------------
# The rm field


ONE = 0x3FF0000000000000
THIRD_INPUTS = {1: ONE, 2: 0x4008000000000000}


def _f_env(values: dict[int, int], frm: int = 0, fflags: int = 0) -> dict[int, int]:
    fields = {fpr_offset(index): value for index, value in values.items()}
    fields.update({OFF_FRM: frm, OFF_FFLAGS: fflags})
    return fields


@pytest.mark.parametrize("rm", [5, 6])
def test_reserved_static_rm_decodes_as_illegal(rm):
    for pattern in fp_patterns():
        if "rm" in pattern.format.field_names:
            assert decode(enc_fp(pattern.name, 1, 2, 3, 4, rm)) is None, pattern.name
            assert decode(enc_fp(pattern.name, 1, 2, 3, 4, 7)).name == pattern.name


@pytest.mark.parametrize("rm", [5, 6])
def test_reserved_static_rm_is_illegal(rm):
    for mnemonic in ("fadd.d", "fsqrt.s", "fmadd.d", "fcvt.w.d", "fcvt.d.w", "fcvt.d.s",
                     "fcvt.s.d"):
        result = run([enc_fp(mnemonic, 3, 1, 2, 2, rm)], env_fields=_f_env(THIRD_INPUTS))
        assert result.kind is ExitKind.ILLEGAL and result.pc == BASE, mnemonic


@pytest.mark.parametrize("frm", [5, 6, 7])
def test_dyn_rm_with_invalid_frm_is_illegal_when_executed(frm):
    words = [enc_i("addi", 7, 0, 42), enc_fp("fdiv.d", 3, 1, 2, rm=7),
             enc_fp("fadd.d", 4, 1, 2, rm=7)]
    result = run(words, env_fields={**_f_env(THIRD_INPUTS, frm=frm), OFF_INSTRET: 100})
    assert result.kind is ExitKind.ILLEGAL and result.pc == BASE + 4
    assert result.x(7) == 42                              # the instruction before it ran
    assert result.env.read_u64(OFF_INSTRET) == 101        # and only it retired
    assert result.env.read_u64(fpr_offset(3)) == 0
    # One check per block, even with several dyn instructions.
    assert sum(op.name == "brcond" for op in result.block.ops) == 1
    # Native code exits the same way (the comparison checks the whole state).
    value, _ = native_comparison().check(code_bytes(words), DATA, b"", {},
                                         env_fields=_f_env(THIRD_INPUTS, frm=frm))
    assert decode_exit(value)[0] is ExitKind.ILLEGAL


def test_static_rm_and_no_rm_instructions_ignore_an_invalid_frm():
    words = [enc_fp("fdiv.d", 3, 1, 2, rm=1), enc_fp("fsgnjn.d", 4, 1, 1),
             enc_fp("feq.d", 5, 1, 2), 0x00000073]
    value, env = native_comparison().check(code_bytes(words), DATA, b"", {},
                                           env_fields=_f_env(THIRD_INPUTS, frm=6))
    assert decode_exit(value)[0] is ExitKind.SYSCALL
    assert env.read_u64(fpr_offset(3)) == 0x3FD5555555555555    # rtz
    assert env.read_u64(fpr_offset(4)) == 0xBFF0000000000000
    assert env.read_u64(OFF_FFLAGS) == sf.NX


# --------------------------------------------------------------------------------------------
# CSRs and the accrued flags


def test_fcsr_reads_see_flags_raised_natively_and_writes_clear_them():
    words = [enc_fp("fdiv.d", 3, 1, 0, rm=7),          # 1 / 0: DZ
             enc_csrrs(5, FFLAGS_CSR, 0),              # frflags x5
             enc_fp("fdiv.d", 3, 1, 2, rm=7),          # 1 / 3: NX
             enc_csrrs(6, FCSR_CSR, 0),                # frcsr x6
             enc_csrrw(0, FFLAGS_CSR, 0),              # fsflags zero
             enc_csrrs(7, FFLAGS_CSR, 0),
             enc_fp("fsqrt.d", 3, 2, rm=7),            # sqrt(3): NX
             0x00000073]
    value, env = native_comparison().check(code_bytes(words), DATA, b"", {},
                                           env_fields=_f_env(THIRD_INPUTS, frm=2))
    assert decode_exit(value)[0] is ExitKind.SYSCALL
    assert env.read_u64(gpr_offset(5)) == sf.DZ
    assert env.read_u64(gpr_offset(6)) == (2 << 5) | sf.DZ | sf.NX
    assert env.read_u64(gpr_offset(7)) == 0
    assert env.read_u64(OFF_FFLAGS) == sf.NX                  # folded at the exit


def test_frm_write_changes_the_rounding_of_later_code():
    comparison = native_comparison()
    results = []
    for frm in (0, 1, 2, 3, 4):
        words = [enc_i("addi", 8, 0, frm), enc_csrrw(0, FRM_CSR, 8),   # fsrm x8 (ends block)
                 enc_fp("fdiv.d", 3, 1, 2, rm=7), 0x00000073]
        value, env = comparison.check(code_bytes(words), DATA, b"", {},
                                      env_fields=_f_env(THIRD_INPUTS, frm=0))
        # The first block ends after fsrm: run on from there with the same env.
        assert decode_exit(value)[0] is ExitKind.CHAIN
        assert env.read_u64(OFF_FRM) == frm
        value, env = comparison.check(code_bytes(words[2:]), DATA, b"", {},
                                      env_fields={**_f_env(THIRD_INPUTS, frm=frm)})
        results.append(env.read_u64(fpr_offset(3)))
    assert results == [0x3FD5555555555555, 0x3FD5555555555555, 0x3FD5555555555555,
                       0x3FD5555555555556, 0x3FD5555555555555]


def test_results_for_x0_are_dropped_but_flags_raised():
    words = [enc_fp("feq.s", 0, 1, 1), enc_fp("fcvt.w.d", 0, 2, rm=1), enc_fp("fclass.d", 0, 2),
             0x00000073]
    snan_s = 0xFFFFFFFF7F800001
    value, env = native_comparison().check(code_bytes(words), DATA, b"", {},
                                           env_fields=_f_env({1: snan_s, 2: 0x41F0000000000000}))
    assert env.read_u64(OFF_FFLAGS) == sf.NV
    assert env.read_u64(gpr_offset(0)) == 0


def test_every_fp_instruction_has_a_translation_that_runs():
    """Each pattern, translated and run natively and interpreted with dyn (frm 0-4) and a static
    mode, on a few operands: both agree (the comparison checks the whole state)."""
    comparison = native_comparison()
    operands = {1: ONE, 2: 0x4008000000000000, 3: 0xFFFFFFFF40490FDB}
    for pattern in fp_patterns():
        kind, count = _sources(pattern.name)
        has_rm = "rm" in pattern.format.field_names
        for rm in ((7, 0, 4) if has_rm else (0,)):
            rd = 9 if _int_result(pattern.name) else 5
            srcs = (1, 2, 3) if kind == "f" else (12, 0, 0)
            word = enc_fp(pattern.name, rd, srcs[0], srcs[1] if count > 1 else 0,
                          srcs[2] if count > 2 else 0, rm)
            for frm in (0, 3, 4):
                value, _ = comparison.check(code_bytes([word, 0x00000073]), DATA, b"",
                                            {12: 0xFFFFFFFF80000001},
                                            env_fields=_f_env(operands, frm=frm))
                assert decode_exit(value)[0] is ExitKind.SYSCALL, pattern.name
