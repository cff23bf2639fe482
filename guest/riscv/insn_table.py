"""The RISC-V instruction patterns: one declarative table, in the spirit of QEMU's decodetree files.

Three kinds of declarations, each written once:

* `Field`: how one operand is extracted from the instruction bits. Its layout lists bit segments
  "pos:len" from the most significant part of the value to the least; "pos:sLEN" marks the
  segment that carries the sign (immediates are sign-extended from it). `shift` appends zero bits
  (B/J offsets are multiples of 2, U immediates are `imm << 12`) and `adjust` maps the result
  (the compressed register fields: x8 + rs1'). `Field.fixed` is an operand no bits carry.
* `Format`: a named set of fields (R, I, S, B, U, J, the shift-immediate forms, ...).
* `Pattern`: one instruction: its name, its fixed bits written as a bit string with '-' for the
  bits the fields use, its format and the extension that defines it. The length of the bit string
  gives the instruction size: 32 characters for a 32-bit instruction, 16 for a compressed one.

The decoder (guest/riscv/decode.py) builds its dispatch tree from PATTERNS at import time, so an
extension is added by appending formats and patterns here and registering its translate
functions; nothing else needs to know about it.

Compressed instructions are patterns of 16 characters whose format computes the operands of the
32-bit instruction they expand to (decodetree's insn16.decode): `c.addi4spn` has the fields
rd = x8 + rd', rs1 = 2 (`Field.fixed`) and imm = nzuimm, and names `addi` in `expands_to`, whose
translate function then runs unchanged.

Patterns may overlap only when one is strictly more specific than the other (it fixes a superset
of the other's bits); the more specific one wins. Reserved encodings inside a defined pattern are
carved out by `reserved(...)` entries, which decode as illegal (e.g. c.addi4spn with a zero
immediate). Two patterns that cross (each fixes a bit the other leaves free) are allowed only when
their intersection is itself a pattern of the table, which then decides those words.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Optional


@dataclass(frozen=True)
class Field:
    """One operand: bit segments concatenated most significant first, then shifted and adjusted."""

    name: str
    layout: str                                  # e.g. "31:s1 7:1 25:6 8:4"; "" for a constant
    shift: int = 0
    adjust: Optional[Callable[[int], int]] = None
    constant: Optional[int] = None               # the operand's value when no bits carry it
    segments: tuple[tuple[int, int], ...] = field(init=False)
    signed: bool = field(init=False)
    width: int = field(init=False)               # bits taken from the instruction

    def __post_init__(self):
        segments = []
        signed = False
        for index, part in enumerate(self.layout.split()):
            pos_text, len_text = part.split(":")
            if len_text.startswith("s"):
                if index != 0:
                    raise ValueError(f"field {self.name}: only the first segment carries the sign")
                signed = True
                len_text = len_text[1:]
            segments.append((int(pos_text), int(len_text)))
        if (self.constant is None) == (not segments):
            raise ValueError(f"field {self.name}: give either a bit layout or a constant")
        object.__setattr__(self, "segments", tuple(segments))
        object.__setattr__(self, "signed", signed)
        object.__setattr__(self, "width", sum(length for _, length in segments))

    @classmethod
    def fixed(cls, name: str, value: int) -> "Field":
        """An operand the format implies (decodetree's `rs1=2`): c.addi4spn's base register."""
        return cls(name, "", constant=value)

    @property
    def bit_mask(self) -> int:
        """The instruction bits this field reads."""
        mask = 0
        for pos, length in self.segments:
            mask |= ((1 << length) - 1) << pos
        return mask

    def extract(self, word: int) -> int:
        if self.constant is not None:
            return self.constant
        value = 0
        for pos, length in self.segments:
            value = (value << length) | ((word >> pos) & ((1 << length) - 1))
        if self.signed and value >> (self.width - 1):
            value -= 1 << self.width
        value <<= self.shift
        return self.adjust(value) if self.adjust is not None else value


@dataclass(frozen=True)
class Format:
    """An instruction format: the fields its instructions carry, in operand order."""

    name: str
    fields: tuple[Field, ...]

    @property
    def field_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)


@dataclass(frozen=True, eq=False)
class Pattern:
    """One instruction of the table (compared and hashed by identity: each is unique)."""

    name: str
    bits: str            # fixed bits: '0'/'1'; '-' where the fields (or ignored bits) are
    format: Format
    extension: str       # "I", "M", "A", "F", "D", "C", "Zcd", "Zicsr", "Zifencei"
    expands_to: Optional[str] = None   # compressed: the instruction whose translation runs
    illegal: bool = False              # a reserved encoding carved out of another pattern
    mask: int = field(init=False)
    match: int = field(init=False)
    size: int = field(init=False)  # bytes

    def __post_init__(self):
        bits = self.bits.replace(" ", "")
        if len(bits) not in (16, 32) or set(bits) - set("01-"):
            raise ValueError(f"{self.name}: bad bit pattern {self.bits!r}")
        mask = match = 0
        for char in bits:
            mask = (mask << 1) | (char != "-")
            match = (match << 1) | (char == "1")
        object.__setattr__(self, "mask", mask)
        object.__setattr__(self, "match", match)
        object.__setattr__(self, "size", len(bits) // 8)

    @property
    def translate_name(self) -> str:
        """The name of the translate function that implements this instruction."""
        return self.expands_to or self.name


def reserved(what: str, bits: str, extension: str) -> Pattern:
    """A reserved encoding: the words it matches decode as illegal."""
    return Pattern(f"reserved: {what}", bits, FMT_NONE, extension, illegal=True)


# --------------------------------------------------------------------------------------------
# Fields of the 32-bit formats

RD = Field("rd", "7:5")
RS1 = Field("rs1", "15:5")
RS2 = Field("rs2", "20:5")
IMM_I = Field("imm", "20:s12")
IMM_S = Field("imm", "25:s7 7:5")
IMM_B = Field("imm", "31:s1 7:1 25:6 8:4", shift=1)
IMM_U = Field("imm", "12:s20", shift=12)
IMM_J = Field("imm", "31:s1 12:8 20:1 21:10", shift=1)
SHAMT_6 = Field("shamt", "20:6")   # RV64 shifts: bit 25 is part of the amount
SHAMT_5 = Field("shamt", "20:5")   # the W forms: bit 25 must be 0 (fixed in their patterns)
FENCE_PRED = Field("pred", "24:4")
FENCE_SUCC = Field("succ", "20:4")
AQ = Field("aq", "26:1")           # atomics: acquire / release ordering bits
RL = Field("rl", "25:1")
CSR = Field("csr", "20:12")
CSR_UIMM = Field("uimm", "15:5")   # csrr*i: the rs1 field holds a 5-bit unsigned immediate

# --------------------------------------------------------------------------------------------
# Formats

FMT_R = Format("R", (RD, RS1, RS2))
FMT_I = Format("I", (RD, RS1, IMM_I))
FMT_S = Format("S", (RS1, RS2, IMM_S))
FMT_B = Format("B", (RS1, RS2, IMM_B))
FMT_U = Format("U", (RD, IMM_U))
FMT_J = Format("J", (RD, IMM_J))
FMT_SHIFT64 = Format("I-shift64", (RD, RS1, SHAMT_6))
FMT_SHIFT32 = Format("I-shift32", (RD, RS1, SHAMT_5))
# FENCE's fm, rs1 and rd fields are reserved for future fences and ignored (as the spec asks);
# fence.tso and pause are FENCEs with particular pred/succ/fm values.
FMT_FENCE = Format("fence", (FENCE_PRED, FENCE_SUCC))
FMT_NONE = Format("none", ())
FMT_AMO = Format("AMO", (RD, RS1, RS2, AQ, RL))
FMT_LR = Format("LR", (RD, RS1, AQ, RL))
FMT_CSR = Format("CSR", (RD, RS1, CSR))
FMT_CSR_IMM = Format("CSR-imm", (RD, CSR_UIMM, CSR))
# FP loads and stores: the I and S layouts, with rd / rs2 naming an f register.
FMT_FP_LOAD = Format("I-fp", (RD, RS1, IMM_I))
FMT_FP_STORE = Format("S-fp", (RS1, RS2, IMM_S))

# --------------------------------------------------------------------------------------------
# Compressed formats. Field names are those of the 32-bit format the instruction expands to, so
# that its translate function reads them unchanged.


def _compressed_register(value: int) -> int:
    """rd', rs1', rs2': the 3-bit register fields of CIW/CL/CS/CA/CB name x8..x15 (f8..f15)."""
    return value + 8


C_RD_FULL = Field("rd", "7:5")                                      # bits 11:7
C_RS1_FULL = Field("rs1", "7:5")                                    # the same bits, read
C_RS2_FULL = Field("rs2", "2:5")                                    # bits 6:2
C_RD_LOW = Field("rd", "2:3", adjust=_compressed_register)          # rd' in bits 4:2
C_RS2_LOW = Field("rs2", "2:3", adjust=_compressed_register)        # rs2' in bits 4:2
C_RS1_HIGH = Field("rs1", "7:3", adjust=_compressed_register)       # rs1' in bits 9:7
C_RD_HIGH = Field("rd", "7:3", adjust=_compressed_register)         # rd' = rs1' (CB, CA)
C_X0_RS1, C_X0_RS2, C_X0_RD = Field.fixed("rs1", 0), Field.fixed("rs2", 0), Field.fixed("rd", 0)
C_SP_RS1, C_SP_RD = Field.fixed("rs1", 2), Field.fixed("rd", 2)
C_RA_RD = Field.fixed("rd", 1)
C_ZERO_IMM = Field.fixed("imm", 0)
# Immediates, written as the spec's bit lists (most significant immediate bits first):
C_IMM_ADDI4SPN = Field("imm", "7:4 11:2 5:1 6:1", shift=2)          # nzuimm[9:6|5:4|3|2]
C_IMM_LW = Field("imm", "5:1 10:3 6:1", shift=2)                    # uimm[6|5:3|2]
C_IMM_LD = Field("imm", "5:2 10:3", shift=3)                        # uimm[7:6|5:3]
C_IMM_6 = Field("imm", "12:s1 2:5")                                 # imm[5|4:0]
C_SHAMT = Field("shamt", "12:1 2:5")                                # shamt[5|4:0]
C_IMM_LUI = Field("imm", "12:s1 2:5", shift=12)                     # nzimm[17|16:12]
C_IMM_ADDI16SP = Field("imm", "12:s1 3:2 5:1 2:1 6:1", shift=4)     # nzimm[9|8:7|6|5|4]
C_IMM_J = Field("imm", "12:s1 8:1 9:2 6:1 7:1 2:1 11:1 3:3", shift=1)   # [11|10|9:8|7|6|5|4|3:1]
C_IMM_B = Field("imm", "12:s1 5:2 2:1 10:2 3:2", shift=1)           # offset[8|7:6|5|4:3|2:1]
C_IMM_LWSP = Field("imm", "2:2 12:1 4:3", shift=2)                  # uimm[7:6|5|4:2]
C_IMM_LDSP = Field("imm", "2:3 12:1 5:2", shift=3)                  # uimm[8:6|5|4:3]
C_IMM_SWSP = Field("imm", "7:2 9:4", shift=2)                       # uimm[7:6|5:2]
C_IMM_SDSP = Field("imm", "7:3 10:3", shift=3)                      # uimm[8:6|5:3]

FMT_C_ADDI4SPN = Format("CIW", (C_RD_LOW, C_SP_RS1, C_IMM_ADDI4SPN))
FMT_C_LW = Format("CL-w", (C_RD_LOW, C_RS1_HIGH, C_IMM_LW))
FMT_C_LD = Format("CL-d", (C_RD_LOW, C_RS1_HIGH, C_IMM_LD))
FMT_C_SW = Format("CS-w", (C_RS1_HIGH, C_RS2_LOW, C_IMM_LW))
FMT_C_SD = Format("CS-d", (C_RS1_HIGH, C_RS2_LOW, C_IMM_LD))
FMT_C_ADDI = Format("CI", (C_RD_FULL, C_RS1_FULL, C_IMM_6))          # rd = rd op imm
FMT_C_LI = Format("CI-li", (C_RD_FULL, C_X0_RS1, C_IMM_6))
FMT_C_LUI = Format("CI-lui", (C_RD_FULL, C_IMM_LUI))
FMT_C_ADDI16SP = Format("CI-addi16sp", (C_SP_RD, C_SP_RS1, C_IMM_ADDI16SP))
FMT_C_SLLI = Format("CI-shift", (C_RD_FULL, C_RS1_FULL, C_SHAMT))
FMT_C_LWSP = Format("CI-lwsp", (C_RD_FULL, C_SP_RS1, C_IMM_LWSP))
FMT_C_LDSP = Format("CI-ldsp", (C_RD_FULL, C_SP_RS1, C_IMM_LDSP))
FMT_C_SWSP = Format("CSS-w", (C_SP_RS1, C_RS2_FULL, C_IMM_SWSP))
FMT_C_SDSP = Format("CSS-d", (C_SP_RS1, C_RS2_FULL, C_IMM_SDSP))
FMT_C_SHIFT = Format("CB-shift", (C_RD_HIGH, C_RS1_HIGH, C_SHAMT))
FMT_C_ANDI = Format("CB-andi", (C_RD_HIGH, C_RS1_HIGH, C_IMM_6))
FMT_C_ALU = Format("CA", (C_RD_HIGH, C_RS1_HIGH, C_RS2_LOW))
FMT_C_J = Format("CJ", (C_X0_RD, C_IMM_J))
FMT_C_BRANCH = Format("CB-branch", (C_RS1_HIGH, C_X0_RS2, C_IMM_B))
FMT_C_JR = Format("CR-jr", (C_X0_RD, C_RS1_FULL, C_ZERO_IMM))
FMT_C_JALR = Format("CR-jalr", (C_RA_RD, C_RS1_FULL, C_ZERO_IMM))
FMT_C_MV = Format("CR-mv", (C_RD_FULL, C_X0_RS1, C_RS2_FULL))
FMT_C_ADD = Format("CR-add", (C_RD_FULL, C_RS1_FULL, C_RS2_FULL))

# --------------------------------------------------------------------------------------------
# The table. Bit strings are grouped like the spec's encoding figures:
#   R: funct7 rs2 rs1 funct3 rd opcode          I: imm[11:0] rs1 funct3 rd opcode

PATTERNS: tuple[Pattern, ...] = (
    # ---- RV64I: upper immediates and jumps
    Pattern("lui",    "-------------------- ----- 0110111", FMT_U, "I"),
    Pattern("auipc",  "-------------------- ----- 0010111", FMT_U, "I"),
    Pattern("jal",    "-------------------- ----- 1101111", FMT_J, "I"),
    Pattern("jalr",   "------------ ----- 000 ----- 1100111", FMT_I, "I"),
    # ---- branches
    Pattern("beq",    "------- ----- ----- 000 ----- 1100011", FMT_B, "I"),
    Pattern("bne",    "------- ----- ----- 001 ----- 1100011", FMT_B, "I"),
    Pattern("blt",    "------- ----- ----- 100 ----- 1100011", FMT_B, "I"),
    Pattern("bge",    "------- ----- ----- 101 ----- 1100011", FMT_B, "I"),
    Pattern("bltu",   "------- ----- ----- 110 ----- 1100011", FMT_B, "I"),
    Pattern("bgeu",   "------- ----- ----- 111 ----- 1100011", FMT_B, "I"),
    # ---- loads and stores
    Pattern("lb",     "------------ ----- 000 ----- 0000011", FMT_I, "I"),
    Pattern("lh",     "------------ ----- 001 ----- 0000011", FMT_I, "I"),
    Pattern("lw",     "------------ ----- 010 ----- 0000011", FMT_I, "I"),
    Pattern("ld",     "------------ ----- 011 ----- 0000011", FMT_I, "I"),
    Pattern("lbu",    "------------ ----- 100 ----- 0000011", FMT_I, "I"),
    Pattern("lhu",    "------------ ----- 101 ----- 0000011", FMT_I, "I"),
    Pattern("lwu",    "------------ ----- 110 ----- 0000011", FMT_I, "I"),
    Pattern("sb",     "------- ----- ----- 000 ----- 0100011", FMT_S, "I"),
    Pattern("sh",     "------- ----- ----- 001 ----- 0100011", FMT_S, "I"),
    Pattern("sw",     "------- ----- ----- 010 ----- 0100011", FMT_S, "I"),
    Pattern("sd",     "------- ----- ----- 011 ----- 0100011", FMT_S, "I"),
    # ---- register-immediate
    Pattern("addi",   "------------ ----- 000 ----- 0010011", FMT_I, "I"),
    Pattern("slti",   "------------ ----- 010 ----- 0010011", FMT_I, "I"),
    Pattern("sltiu",  "------------ ----- 011 ----- 0010011", FMT_I, "I"),
    Pattern("xori",   "------------ ----- 100 ----- 0010011", FMT_I, "I"),
    Pattern("ori",    "------------ ----- 110 ----- 0010011", FMT_I, "I"),
    Pattern("andi",   "------------ ----- 111 ----- 0010011", FMT_I, "I"),
    Pattern("slli",   "000000 ------ ----- 001 ----- 0010011", FMT_SHIFT64, "I"),
    Pattern("srli",   "000000 ------ ----- 101 ----- 0010011", FMT_SHIFT64, "I"),
    Pattern("srai",   "010000 ------ ----- 101 ----- 0010011", FMT_SHIFT64, "I"),
    # ---- register-register
    Pattern("add",    "0000000 ----- ----- 000 ----- 0110011", FMT_R, "I"),
    Pattern("sub",    "0100000 ----- ----- 000 ----- 0110011", FMT_R, "I"),
    Pattern("sll",    "0000000 ----- ----- 001 ----- 0110011", FMT_R, "I"),
    Pattern("slt",    "0000000 ----- ----- 010 ----- 0110011", FMT_R, "I"),
    Pattern("sltu",   "0000000 ----- ----- 011 ----- 0110011", FMT_R, "I"),
    Pattern("xor",    "0000000 ----- ----- 100 ----- 0110011", FMT_R, "I"),
    Pattern("srl",    "0000000 ----- ----- 101 ----- 0110011", FMT_R, "I"),
    Pattern("sra",    "0100000 ----- ----- 101 ----- 0110011", FMT_R, "I"),
    Pattern("or",     "0000000 ----- ----- 110 ----- 0110011", FMT_R, "I"),
    Pattern("and",    "0000000 ----- ----- 111 ----- 0110011", FMT_R, "I"),
    # ---- 32-bit ("W") operations of RV64I
    Pattern("addiw",  "------------ ----- 000 ----- 0011011", FMT_I, "I"),
    Pattern("slliw",  "0000000 ----- ----- 001 ----- 0011011", FMT_SHIFT32, "I"),
    Pattern("srliw",  "0000000 ----- ----- 101 ----- 0011011", FMT_SHIFT32, "I"),
    Pattern("sraiw",  "0100000 ----- ----- 101 ----- 0011011", FMT_SHIFT32, "I"),
    Pattern("addw",   "0000000 ----- ----- 000 ----- 0111011", FMT_R, "I"),
    Pattern("subw",   "0100000 ----- ----- 000 ----- 0111011", FMT_R, "I"),
    Pattern("sllw",   "0000000 ----- ----- 001 ----- 0111011", FMT_R, "I"),
    Pattern("srlw",   "0000000 ----- ----- 101 ----- 0111011", FMT_R, "I"),
    Pattern("sraw",   "0100000 ----- ----- 101 ----- 0111011", FMT_R, "I"),
    # ---- ordering and environment
    Pattern("fence",  "---- ---- ---- ----- 000 ----- 0001111", FMT_FENCE, "I"),
    Pattern("ecall",  "000000000000 00000 000 00000 1110011", FMT_NONE, "I"),
    Pattern("ebreak", "000000000001 00000 000 00000 1110011", FMT_NONE, "I"),
    # imm, rs1 and rd of FENCE.I are reserved for finer-grained fences and ignored.
    Pattern("fence.i", "------------ ----- 001 ----- 0001111", FMT_NONE, "Zifencei"),
    # ---- RV64M
    Pattern("mul",    "0000001 ----- ----- 000 ----- 0110011", FMT_R, "M"),
    Pattern("mulh",   "0000001 ----- ----- 001 ----- 0110011", FMT_R, "M"),
    Pattern("mulhsu", "0000001 ----- ----- 010 ----- 0110011", FMT_R, "M"),
    Pattern("mulhu",  "0000001 ----- ----- 011 ----- 0110011", FMT_R, "M"),
    Pattern("div",    "0000001 ----- ----- 100 ----- 0110011", FMT_R, "M"),
    Pattern("divu",   "0000001 ----- ----- 101 ----- 0110011", FMT_R, "M"),
    Pattern("rem",    "0000001 ----- ----- 110 ----- 0110011", FMT_R, "M"),
    Pattern("remu",   "0000001 ----- ----- 111 ----- 0110011", FMT_R, "M"),
    Pattern("mulw",   "0000001 ----- ----- 000 ----- 0111011", FMT_R, "M"),
    Pattern("divw",   "0000001 ----- ----- 100 ----- 0111011", FMT_R, "M"),
    Pattern("divuw",  "0000001 ----- ----- 101 ----- 0111011", FMT_R, "M"),
    Pattern("remw",   "0000001 ----- ----- 110 ----- 0111011", FMT_R, "M"),
    Pattern("remuw",  "0000001 ----- ----- 111 ----- 0111011", FMT_R, "M"),
    # ---- RV64A:  funct5 aq rl rs2 rs1 funct3 rd opcode (the aq/rl ordering bits are operands)
    Pattern("lr.w",      "00010 - - 00000 ----- 010 ----- 0101111", FMT_LR, "A"),
    Pattern("sc.w",      "00011 - - ----- ----- 010 ----- 0101111", FMT_AMO, "A"),
    Pattern("amoswap.w", "00001 - - ----- ----- 010 ----- 0101111", FMT_AMO, "A"),
    Pattern("amoadd.w",  "00000 - - ----- ----- 010 ----- 0101111", FMT_AMO, "A"),
    Pattern("amoxor.w",  "00100 - - ----- ----- 010 ----- 0101111", FMT_AMO, "A"),
    Pattern("amoand.w",  "01100 - - ----- ----- 010 ----- 0101111", FMT_AMO, "A"),
    Pattern("amoor.w",   "01000 - - ----- ----- 010 ----- 0101111", FMT_AMO, "A"),
    Pattern("amomin.w",  "10000 - - ----- ----- 010 ----- 0101111", FMT_AMO, "A"),
    Pattern("amomax.w",  "10100 - - ----- ----- 010 ----- 0101111", FMT_AMO, "A"),
    Pattern("amominu.w", "11000 - - ----- ----- 010 ----- 0101111", FMT_AMO, "A"),
    Pattern("amomaxu.w", "11100 - - ----- ----- 010 ----- 0101111", FMT_AMO, "A"),
    Pattern("lr.d",      "00010 - - 00000 ----- 011 ----- 0101111", FMT_LR, "A"),
    Pattern("sc.d",      "00011 - - ----- ----- 011 ----- 0101111", FMT_AMO, "A"),
    Pattern("amoswap.d", "00001 - - ----- ----- 011 ----- 0101111", FMT_AMO, "A"),
    Pattern("amoadd.d",  "00000 - - ----- ----- 011 ----- 0101111", FMT_AMO, "A"),
    Pattern("amoxor.d",  "00100 - - ----- ----- 011 ----- 0101111", FMT_AMO, "A"),
    Pattern("amoand.d",  "01100 - - ----- ----- 011 ----- 0101111", FMT_AMO, "A"),
    Pattern("amoor.d",   "01000 - - ----- ----- 011 ----- 0101111", FMT_AMO, "A"),
    Pattern("amomin.d",  "10000 - - ----- ----- 011 ----- 0101111", FMT_AMO, "A"),
    Pattern("amomax.d",  "10100 - - ----- ----- 011 ----- 0101111", FMT_AMO, "A"),
    Pattern("amominu.d", "11000 - - ----- ----- 011 ----- 0101111", FMT_AMO, "A"),
    Pattern("amomaxu.d", "11100 - - ----- ----- 011 ----- 0101111", FMT_AMO, "A"),
    # ---- Zicsr: csr rs1/uimm funct3 rd opcode. Every CSR number decodes; which CSRs exist,
    # and which are read-only, is decided at translation (trans_zicsr.py), as in QEMU.
    Pattern("csrrw",  "------------ ----- 001 ----- 1110011", FMT_CSR, "Zicsr"),
    Pattern("csrrs",  "------------ ----- 010 ----- 1110011", FMT_CSR, "Zicsr"),
    Pattern("csrrc",  "------------ ----- 011 ----- 1110011", FMT_CSR, "Zicsr"),
    Pattern("csrrwi", "------------ ----- 101 ----- 1110011", FMT_CSR_IMM, "Zicsr"),
    Pattern("csrrsi", "------------ ----- 110 ----- 1110011", FMT_CSR_IMM, "Zicsr"),
    Pattern("csrrci", "------------ ----- 111 ----- 1110011", FMT_CSR_IMM, "Zicsr"),
    # ---- F and D loads and stores (the FP arithmetic comes with the F/D translation)
    Pattern("flw",    "------------ ----- 010 ----- 0000111", FMT_FP_LOAD, "F"),
    Pattern("fsw",    "------- ----- ----- 010 ----- 0100111", FMT_FP_STORE, "F"),
    Pattern("fld",    "------------ ----- 011 ----- 0000111", FMT_FP_LOAD, "D"),
    Pattern("fsd",    "------- ----- ----- 011 ----- 0100111", FMT_FP_STORE, "D"),

    # ---- RV64C, quadrant 0:  funct3 | immediate and registers | op
    Pattern("c.addi4spn", "000 -------- --- 00", FMT_C_ADDI4SPN, "C", "addi"),
    reserved("c.addi4spn with nzuimm=0 (includes the all-zero halfword)",
             "000 00000000 --- 00", "C"),
    Pattern("c.fld",      "001 --- --- -- --- 00", FMT_C_LD, "Zcd", "fld"),
    Pattern("c.lw",       "010 --- --- -- --- 00", FMT_C_LW, "C", "lw"),
    Pattern("c.ld",       "011 --- --- -- --- 00", FMT_C_LD, "C", "ld"),
    Pattern("c.fsd",      "101 --- --- -- --- 00", FMT_C_SD, "Zcd", "fsd"),
    Pattern("c.sw",       "110 --- --- -- --- 00", FMT_C_SW, "C", "sw"),
    Pattern("c.sd",       "111 --- --- -- --- 00", FMT_C_SD, "C", "sd"),
    # ---- quadrant 1. rd=x0 forms of c.addi (c.nop and HINTs), c.li and c.lui, and
    # c.addi with imm=0, are HINTs: they execute as the base instruction, which writes nothing.
    Pattern("c.addi",     "000 - ----- ----- 01", FMT_C_ADDI, "C", "addi"),
    Pattern("c.addiw",    "001 - ----- ----- 01", FMT_C_ADDI, "C", "addiw"),
    reserved("c.addiw with rd=x0", "001 - 00000 ----- 01", "C"),
    Pattern("c.li",       "010 - ----- ----- 01", FMT_C_LI, "C", "addi"),
    Pattern("c.lui",      "011 - ----- ----- 01", FMT_C_LUI, "C", "lui"),
    Pattern("c.addi16sp", "011 - 00010 ----- 01", FMT_C_ADDI16SP, "C", "addi"),
    reserved("c.lui with nzimm=0", "011 0 ----- 00000 01", "C"),
    reserved("c.addi16sp with nzimm=0", "011 0 00010 00000 01", "C"),
    # c.srli/c.srai with shamt=0 are HINTs in RV64 (shifts by 0).
    Pattern("c.srli",     "100 - 00 --- ----- 01", FMT_C_SHIFT, "C", "srli"),
    Pattern("c.srai",     "100 - 01 --- ----- 01", FMT_C_SHIFT, "C", "srai"),
    Pattern("c.andi",     "100 - 10 --- ----- 01", FMT_C_ANDI, "C", "andi"),
    Pattern("c.sub",      "100 0 11 --- 00 --- 01", FMT_C_ALU, "C", "sub"),
    Pattern("c.xor",      "100 0 11 --- 01 --- 01", FMT_C_ALU, "C", "xor"),
    Pattern("c.or",       "100 0 11 --- 10 --- 01", FMT_C_ALU, "C", "or"),
    Pattern("c.and",      "100 0 11 --- 11 --- 01", FMT_C_ALU, "C", "and"),
    Pattern("c.subw",     "100 1 11 --- 00 --- 01", FMT_C_ALU, "C", "subw"),
    Pattern("c.addw",     "100 1 11 --- 01 --- 01", FMT_C_ALU, "C", "addw"),
    Pattern("c.j",        "101 ----------- 01", FMT_C_J, "C", "jal"),
    Pattern("c.beqz",     "110 --- --- ----- 01", FMT_C_BRANCH, "C", "beq"),
    Pattern("c.bnez",     "111 --- --- ----- 01", FMT_C_BRANCH, "C", "bne"),
    # ---- quadrant 2. c.slli with rd=x0 or shamt=0, c.mv and c.add with rd=x0 are HINTs.
    Pattern("c.slli",     "000 - ----- ----- 10", FMT_C_SLLI, "C", "slli"),
    Pattern("c.fldsp",    "001 - ----- ----- 10", FMT_C_LDSP, "Zcd", "fld"),
    Pattern("c.lwsp",     "010 - ----- ----- 10", FMT_C_LWSP, "C", "lw"),
    reserved("c.lwsp with rd=x0", "010 - 00000 ----- 10", "C"),
    Pattern("c.ldsp",     "011 - ----- ----- 10", FMT_C_LDSP, "C", "ld"),
    reserved("c.ldsp with rd=x0", "011 - 00000 ----- 10", "C"),
    Pattern("c.jr",       "100 0 ----- 00000 10", FMT_C_JR, "C", "jalr"),
    reserved("c.jr with rs1=x0", "100 0 00000 00000 10", "C"),
    Pattern("c.mv",       "100 0 ----- ----- 10", FMT_C_MV, "C", "add"),
    Pattern("c.ebreak",   "100 1 00000 00000 10", FMT_NONE, "C", "ebreak"),
    Pattern("c.jalr",     "100 1 ----- 00000 10", FMT_C_JALR, "C", "jalr"),
    Pattern("c.add",      "100 1 ----- ----- 10", FMT_C_ADD, "C", "add"),
    Pattern("c.fsdsp",    "101 ------ ----- 10", FMT_C_SDSP, "Zcd", "fsd"),
    Pattern("c.swsp",     "110 ------ ----- 10", FMT_C_SWSP, "C", "sw"),
    Pattern("c.sdsp",     "111 ------ ----- 10", FMT_C_SDSP, "C", "sd"),
)

# The F and D arithmetic, conversions and moves (guest/riscv/insn_table_fp.py).
from guest.riscv.insn_table_fp import fp_patterns  # noqa: E402

PATTERNS = PATTERNS + fp_patterns()
