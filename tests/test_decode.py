"""The RISC-V decoder against independent encoders and disassemblers.

Oracles, strongest first:
* the GNU cross assembler (riscv64-linux-gnu-as/ld/objcopy, -march=rv64gc): instructions written
  as text with chosen operands are assembled, and each word must decode to that instruction and
  operands (compressed ones to the operands of their expansion);
* GNU objdump (`-M no-aliases,numeric`): random encodings inside every pattern, random words of
  the table's major opcodes, and random 16-bit words must decode exactly when objdump decodes
  them, with the same mnemonic and operands (reserved compressed encodings are rejected);
* capstone (always installed): random encodings of every pattern carry capstone's mnemonic;
* hand-computed encodings and the spec's immediate bit layouts and reserved encodings.
"""
from __future__ import annotations

import random
import re
import shutil
import subprocess
from pathlib import Path

import capstone
import pytest

from guest.riscv.decode import DECODER, Decoder, decode, insn_size
from guest.riscv import insn_table_fp
from guest.riscv.insn_table import FMT_NONE, FMT_R, PATTERNS, Pattern, reserved

AS = shutil.which("riscv64-linux-gnu-as")
LD = shutil.which("riscv64-linux-gnu-ld")
OBJCOPY = shutil.which("riscv64-linux-gnu-objcopy")
OBJDUMP = shutil.which("riscv64-linux-gnu-objdump")
needs_binutils = pytest.mark.skipif(not (AS and LD and OBJCOPY),
                                    reason="riscv64-linux-gnu binutils not installed")
needs_objdump = pytest.mark.skipif(not OBJDUMP, reason="riscv64-linux-gnu-objdump not installed")

INSTRUCTIONS = [p for p in PATTERNS if not p.illegal]
RESERVED = [p for p in PATTERNS if p.illegal]
TABLE_NAMES = {p.name for p in INSTRUCTIONS}
PATTERNS_32 = [p for p in INSTRUCTIONS if p.size == 4]
PATTERNS_16 = [p for p in INSTRUCTIONS if p.size == 2]
TEXT_BASE = 0x10000
FENCE_BITS = "iorw"   # pred/succ bit 3..0
ORDERING_SUFFIXES = {(0, 0): "", (1, 0): ".aq", (0, 1): ".rl", (1, 1): ".aqrl"}   # (aq, rl)


def sext(value: int, bits: int) -> int:
    value &= (1 << bits) - 1
    return value - (1 << bits) if value >> (bits - 1) else value


def random_encoding(pattern: Pattern, rng: random.Random) -> int:
    """A random word inside the pattern: its fixed bits, anything elsewhere."""
    width = 8 * pattern.size
    return (rng.getrandbits(width) & ~pattern.mask) | pattern.match


# --------------------------------------------------------------------------------------------
# Operands for the assembler: random values per format, with the edges always included


def random_operands(pattern: Pattern, rng: random.Random, edge: int) -> dict[str, int]:
    fields = {}
    for fld in pattern.format.fields:
        if fld.name in ("rd", "rs1", "rs2", "rs3"):
            value = (0, 31, rng.randrange(32))[edge % 3]
        elif fld.name == "imm":
            low = -(1 << (fld.width - 1))
            high = (1 << (fld.width - 1)) - 1
            value = (low, high, 0, -1, rng.randint(low, high))[edge % 5] << fld.shift
        elif fld.name == "shamt":
            value = (0, (1 << fld.width) - 1, rng.randrange(1 << fld.width))[edge % 3]
        elif fld.name in ("pred", "succ"):
            value = (15, 1, rng.randrange(1, 16))[edge % 3]   # 0 is not writable in assembly
        elif fld.name in ("aq", "rl"):
            value = rng.randrange(2)
        elif fld.name == "csr":
            value = (0x001, 0x002, 0x003, 0xC00, 0xC01, 0xC02, 0, 0xFFF,
                     rng.randrange(4096))[edge % 9]
        elif fld.name == "uimm":
            value = (0, 31, rng.randrange(32))[edge % 3]
        elif fld.name == "rm":      # binutils writes the exact conversions only with rm 0
            value = (0 if pattern.name in insn_table_fp.EXACT_CONVERSIONS
                     else (0, 1, 2, 3, 4, 7)[edge % 6])
        else:
            raise AssertionError(f"no operand generator for field {fld.name}")
        fields[fld.name] = value
    return fields


def fence_set(bits: int) -> str:
    return "".join(letter for index, letter in enumerate(FENCE_BITS) if bits & (8 >> index))


def assembly_text(pattern: Pattern, f: dict[str, int]) -> str:
    name = pattern.name
    fmt = pattern.format.name
    if fmt in insn_table_fp.FORMAT_NAMES:
        return insn_table_fp.assembly_text(name, f)
    if fmt == "R":
        return f"{name} x{f['rd']}, x{f['rs1']}, x{f['rs2']}"
    if fmt.startswith("I-shift"):
        return f"{name} x{f['rd']}, x{f['rs1']}, {f['shamt']}"
    if fmt == "I":
        if name in ("jalr",) or name.startswith("l"):
            return f"{name} x{f['rd']}, {f['imm']}(x{f['rs1']})"
        return f"{name} x{f['rd']}, x{f['rs1']}, {f['imm']}"
    if fmt == "S":
        return f"{name} x{f['rs2']}, {f['imm']}(x{f['rs1']})"
    if fmt == "B":
        return f"{name} x{f['rs1']}, x{f['rs2']}, .{f['imm']:+d}"
    if fmt == "J":
        return f"{name} x{f['rd']}, .{f['imm']:+d}"
    if fmt == "U":
        return f"{name} x{f['rd']}, {(f['imm'] >> 12) & 0xFFFFF:#x}"
    if fmt == "fence":
        return f"{name} {fence_set(f['pred'])}, {fence_set(f['succ'])}"
    if fmt == "none":
        return name
    if fmt == "AMO":
        suffix = ORDERING_SUFFIXES[f["aq"], f["rl"]]
        return f"{name}{suffix} x{f['rd']}, x{f['rs2']}, (x{f['rs1']})"
    if fmt == "LR":
        return f"{name}{ORDERING_SUFFIXES[f['aq'], f['rl']]} x{f['rd']}, (x{f['rs1']})"
    if fmt == "CSR":
        return f"{name} x{f['rd']}, {f['csr']:#x}, x{f['rs1']}"
    if fmt == "CSR-imm":
        return f"{name} x{f['rd']}, {f['csr']:#x}, {f['uimm']}"
    if fmt == "I-fp":
        return f"{name} f{f['rd']}, {f['imm']}(x{f['rs1']})"
    if fmt == "S-fp":
        return f"{name} f{f['rs2']}, {f['imm']}(x{f['rs1']})"
    raise AssertionError(f"no assembly syntax for format {fmt}")


def assemble(lines: list[str], tmp_path: Path, compressed: bool = False) -> bytes:
    """The code of the lines; without `compressed` the assembler may not compress them."""
    source = tmp_path / "insns.s"
    option = ".option rvc" if compressed else ".option norvc"
    source.write_text(f"{option}\n.option norelax\n.text\n" + "\n".join(lines) + "\n")
    obj, elf, raw = tmp_path / "insns.o", tmp_path / "insns.elf", tmp_path / "insns.bin"
    subprocess.run([AS, "-march=rv64gc_zifencei", str(source), "-o", str(obj)],
                   check=True, capture_output=True)
    subprocess.run([LD, "--no-relax", f"-Ttext={TEXT_BASE:#x}", "-e", f"{TEXT_BASE:#x}",
                    str(obj), "-o", str(elf)], check=True, capture_output=True)
    subprocess.run([OBJCOPY, "-O", "binary", "-j", ".text", str(elf), str(raw)],
                   check=True, capture_output=True)
    return raw.read_bytes()


@needs_binutils
def test_every_pattern_decodes_what_the_assembler_encodes(tmp_path):
    rng = random.Random(1234)
    cases = []
    for pattern in PATTERNS_32:
        for edge in range(12):
            operands = random_operands(pattern, rng, edge)
            cases.append((pattern.name, operands, assembly_text(pattern, operands)))
    code = assemble([text for _, _, text in cases], tmp_path)
    assert len(code) == 4 * len(cases)
    for index, (name, operands, text) in enumerate(cases):
        word = int.from_bytes(code[4 * index:4 * index + 4], "little")
        insn = decode(word)
        assert insn is not None, f"{text}: {word:#010x} not decoded"
        assert (insn.name, insn.fields) == (name, operands), f"{text}: {word:#010x}"
        assert insn.size == 4 and insn.raw == word


# --------------------------------------------------------------------------------------------
# Compressed instructions through the assembler

CREGS = tuple(range(8, 16))
XREGS_NONZERO = tuple(range(1, 32))
ALL_REGS = tuple(range(32))


def nonzero(values: range) -> tuple[int, ...]:
    return tuple(value for value in values if value)


# name: the values each shown operand may take (C_SYNTAX gives the order and the implied fields)
C_OPERANDS: dict[str, dict[str, tuple[int, ...]]] = {
    "c.addi4spn": {"rd": CREGS, "rs1": (2,), "imm": tuple(range(4, 1021, 4))},
    "c.fld": {"rd": CREGS, "rs1": CREGS, "imm": tuple(range(0, 249, 8))},
    "c.lw": {"rd": CREGS, "rs1": CREGS, "imm": tuple(range(0, 125, 4))},
    "c.ld": {"rd": CREGS, "rs1": CREGS, "imm": tuple(range(0, 249, 8))},
    "c.fsd": {"rs2": CREGS, "rs1": CREGS, "imm": tuple(range(0, 249, 8))},
    "c.sw": {"rs2": CREGS, "rs1": CREGS, "imm": tuple(range(0, 125, 4))},
    "c.sd": {"rs2": CREGS, "rs1": CREGS, "imm": tuple(range(0, 249, 8))},
    "c.addi": {"rd": XREGS_NONZERO, "imm": nonzero(range(-32, 32))},
    "c.addiw": {"rd": XREGS_NONZERO, "imm": tuple(range(-32, 32))},
    "c.li": {"rd": XREGS_NONZERO, "imm": tuple(range(-32, 32))},
    "c.addi16sp": {"rd": (2,), "imm": nonzero(range(-512, 497, 16))},
    "c.lui": {"rd": tuple(r for r in XREGS_NONZERO if r != 2), "hi20": nonzero(range(-32, 32))},
    "c.srli": {"rd": CREGS, "shamt": tuple(range(1, 64))},
    "c.srai": {"rd": CREGS, "shamt": tuple(range(1, 64))},
    "c.andi": {"rd": CREGS, "imm": tuple(range(-32, 32))},
    "c.sub": {"rd": CREGS, "rs2": CREGS},
    "c.xor": {"rd": CREGS, "rs2": CREGS},
    "c.or": {"rd": CREGS, "rs2": CREGS},
    "c.and": {"rd": CREGS, "rs2": CREGS},
    "c.subw": {"rd": CREGS, "rs2": CREGS},
    "c.addw": {"rd": CREGS, "rs2": CREGS},
    "c.j": {"target": tuple(range(-2048, 2047, 2))},
    "c.beqz": {"rs1": CREGS, "target": tuple(range(-256, 255, 2))},
    "c.bnez": {"rs1": CREGS, "target": tuple(range(-256, 255, 2))},
    "c.slli": {"rd": XREGS_NONZERO, "shamt": tuple(range(1, 64))},
    "c.fldsp": {"rd": ALL_REGS, "rs1": (2,), "imm": tuple(range(0, 505, 8))},
    "c.lwsp": {"rd": XREGS_NONZERO, "rs1": (2,), "imm": tuple(range(0, 253, 4))},
    "c.ldsp": {"rd": XREGS_NONZERO, "rs1": (2,), "imm": tuple(range(0, 505, 8))},
    "c.jr": {"rs1": XREGS_NONZERO},
    "c.mv": {"rd": XREGS_NONZERO, "rs2": XREGS_NONZERO},
    "c.ebreak": {},
    "c.jalr": {"rs1": XREGS_NONZERO},
    "c.add": {"rd": XREGS_NONZERO, "rs2": XREGS_NONZERO},
    "c.fsdsp": {"rs2": ALL_REGS, "rs1": (2,), "imm": tuple(range(0, 505, 8))},
    "c.swsp": {"rs2": ALL_REGS, "rs1": (2,), "imm": tuple(range(0, 253, 4))},
    "c.sdsp": {"rs2": ALL_REGS, "rs1": (2,), "imm": tuple(range(0, 505, 8))},
}
# The data register of these is an f register.
C_FP_INSNS = {"c.fld", "c.fsd", "c.fldsp", "c.fsdsp"}


def compressed_case(name: str, rng: random.Random, edge: int) -> tuple[str, dict[str, int]]:
    """Assembly text with operands from the edges of their ranges or random, and the fields it
    must decode to."""
    chosen = {operand: (values[0], values[-1], rng.choice(values))[edge % 3]
              for operand, values in C_OPERANDS[name].items()}
    texts = []
    for slot in C_SYNTAX[name][0]:
        if slot == "imm(rs1)":
            texts.append(f"{chosen['imm']}(x{chosen['rs1']})")
        elif slot == "hi20":
            texts.append(f"{chosen['hi20'] & 0xFFFFF:#x}")
        elif slot == "target":
            texts.append(f".{chosen['target']:+d}")
        elif slot in ("imm", "shamt"):
            texts.append(str(chosen[slot]))
        else:
            is_fp = name in C_FP_INSNS and slot in ("rd", "rs2")
            texts.append(f"{'f' if is_fp else 'x'}{chosen[slot]}")
    shown = dict(chosen)
    if "hi20" in shown:
        shown["imm"] = shown.pop("hi20") << 12
    if "target" in shown:
        shown["imm"] = shown.pop("target")
    return f"{name} {', '.join(texts)}".rstrip(), with_implied_fields(name, shown)


def test_compressed_syntax_tables_cover_the_compressed_patterns():
    assert set(C_SYNTAX) == set(C_OPERANDS) == {p.name for p in PATTERNS_16}


@needs_binutils
def test_every_compressed_pattern_decodes_what_the_assembler_encodes(tmp_path):
    rng = random.Random(4321)
    cases = []
    for pattern in PATTERNS_16:
        for edge in range(12):
            text, fields = compressed_case(pattern.name, rng, edge)
            cases.append((pattern.name, fields, text))
    code = assemble([text for _, _, text in cases], tmp_path, compressed=True)
    assert len(code) == 2 * len(cases)
    for index, (name, fields, text) in enumerate(cases):
        word = int.from_bytes(code[2 * index:2 * index + 2], "little")
        insn = decode(word)
        assert insn is not None, f"{text}: {word:#06x} not decoded"
        assert (insn.name, insn.fields) == (name, fields), f"{text}: {word:#06x}"
        assert insn.size == 2 and insn.raw == word


@needs_binutils
def test_assembler_aliases_of_compressed_instructions(tmp_path):
    """c.nop is C.ADDI x0, 0; the assembler compresses base instructions when it may."""
    lines = ["c.nop", "addi x8, x2, 16", "ld x10, 8(x2)", "ret", "mv x10, x11", "sext.w x9, x9",
             "addi x2, x2, -64", "li x5, -3", "ebreak"]
    expected = [("c.addi", {"rd": 0, "rs1": 0, "imm": 0}),
                ("c.addi4spn", {"rd": 8, "rs1": 2, "imm": 16}),
                ("c.ldsp", {"rd": 10, "rs1": 2, "imm": 8}),
                ("c.jr", {"rd": 0, "rs1": 1, "imm": 0}),
                ("c.mv", {"rd": 10, "rs1": 0, "rs2": 11}),
                ("c.addiw", {"rd": 9, "rs1": 9, "imm": 0}),
                ("c.addi16sp", {"rd": 2, "rs1": 2, "imm": -64}),
                ("c.li", {"rd": 5, "rs1": 0, "imm": -3}),
                ("c.ebreak", {})]
    code = assemble(lines, tmp_path, compressed=True)
    assert len(code) == 2 * len(lines)
    for index, (name, fields) in enumerate(expected):
        insn = decode(int.from_bytes(code[2 * index:2 * index + 2], "little"))
        assert insn is not None and (insn.name, insn.fields) == (name, fields), lines[index]
        assert insn.pattern.expands_to is not None


# --------------------------------------------------------------------------------------------
# objdump as a differential oracle


def objdump_words(words: list[int], tmp_path: Path, size: int = 4) -> list[tuple[str, str]]:
    """(mnemonic, operands) per word of `size` bytes; mnemonic ".4byte"/".2byte" for what
    objdump cannot decode."""
    raw = tmp_path / "words.bin"
    raw.write_bytes(b"".join(word.to_bytes(size, "little") for word in words))
    listing = subprocess.run(
        [OBJDUMP, "-D", "-b", "binary", "-m", "riscv:rv64", "-M", "no-aliases,numeric",
         f"--adjust-vma={TEXT_BASE:#x}", str(raw)],
        check=True, capture_output=True, text=True).stdout
    results = {}
    line_re = re.compile(r"^\s*([0-9a-f]+):\s+([0-9a-f]+)\s+(\S+)\s*([^#<]*)")
    for line in listing.splitlines():
        match = line_re.match(line)
        if match:
            results[int(match.group(1), 16)] = (match.group(3), match.group(4).strip())
    return [results.get(TEXT_BASE + size * index, ("?", "")) for index in range(len(words))]


def parse_fence_set(text: str) -> int:
    if text == "unknown":
        return 0
    return sum(8 >> FENCE_BITS.index(letter) for letter in text)


_csr_numbers: dict[str, int] = {}


def csr_number(text: str, tmp_path: Path) -> int:
    """A CSR operand of objdump: a number, or a name objdump gives that number (learnt by
    disassembling `csrrs x0, N, x0` for every N once)."""
    if text.startswith("0x") or text.isdigit():
        return int(text, 0)
    if not _csr_numbers:
        words = [(number << 20) | (2 << 12) | 0x73 for number in range(4096)]
        for number, (_, operands) in enumerate(objdump_words(words, tmp_path)):
            _csr_numbers.setdefault(operands.split(",")[1], number)
    return _csr_numbers[text]


def split_ordering_suffix(mnemonic: str) -> tuple[str, dict[str, int]]:
    """"amoadd.w.aqrl" -> ("amoadd.w", {"aq": 1, "rl": 1})."""
    for (aq, rl), suffix in ORDERING_SUFFIXES.items():
        if suffix and mnemonic.endswith(suffix):
            return mnemonic[:-len(suffix)], {"aq": aq, "rl": rl}
    return mnemonic, {"aq": 0, "rl": 0}


def reg(text: str) -> int:
    """"x12" / "f12" -> 12."""
    return int(text[1:])


def num(text: str) -> int:
    return int(text, 0)


def objdump_fields(pattern: Pattern, operands: str, pc: int, tmp_path: Path,
                   ordering: dict[str, int]) -> dict[str, int]:
    """The fields of our formats, read back from objdump's operand text."""
    if pattern.size == 2:
        return compressed_fields(pattern.name, operands, pc)
    parts = [p for p in re.split(r"[,()]", operands) if p]
    fmt = pattern.format.name
    if fmt in insn_table_fp.FORMAT_NAMES:
        return insn_table_fp.objdump_fields(pattern.name, operands)
    if fmt == "R":
        return {"rd": reg(parts[0]), "rs1": reg(parts[1]), "rs2": reg(parts[2])}
    if fmt.startswith("I-shift"):
        return {"rd": reg(parts[0]), "rs1": reg(parts[1]), "shamt": num(parts[2])}
    if fmt in ("I", "I-fp"):
        if pattern.name == "jalr" or pattern.name.startswith(("l", "f")):
            return {"rd": reg(parts[0]), "rs1": reg(parts[2]), "imm": num(parts[1])}
        return {"rd": reg(parts[0]), "rs1": reg(parts[1]), "imm": num(parts[2])}
    if fmt in ("S", "S-fp"):
        return {"rs1": reg(parts[2]), "rs2": reg(parts[0]), "imm": num(parts[1])}
    if fmt == "B":
        return {"rs1": reg(parts[0]), "rs2": reg(parts[1]), "imm": sext(num(parts[2]) - pc, 64)}
    if fmt == "J":
        return {"rd": reg(parts[0]), "imm": sext(num(parts[1]) - pc, 64)}
    if fmt == "U":
        return {"rd": reg(parts[0]), "imm": sext(num(parts[1]) << 12, 32)}
    if fmt == "fence":
        return {"pred": parse_fence_set(parts[0]), "succ": parse_fence_set(parts[1])}
    if fmt == "none":
        return {}
    if fmt == "AMO":
        return {"rd": reg(parts[0]), "rs2": reg(parts[1]), "rs1": reg(parts[2]), **ordering}
    if fmt == "LR":
        return {"rd": reg(parts[0]), "rs1": reg(parts[1]), **ordering}
    if fmt == "CSR":
        return {"rd": reg(parts[0]), "csr": csr_number(parts[1], tmp_path),
                "rs1": reg(parts[2])}
    if fmt == "CSR-imm":
        return {"rd": reg(parts[0]), "csr": csr_number(parts[1], tmp_path),
                "uimm": num(parts[2])}
    raise AssertionError(f"no objdump syntax for format {fmt}")


# --------------------------------------------------------------------------------------------
# Compressed instructions: their assembler/objdump syntax, and what they expand to (from the
# spec's RVC tables, independently of the pattern table)

# name: (operand slots in the order of the syntax, fields the syntax does not show - a value,
# or the name of a shown field they equal). Slots: "rd", "rs1", "rs2", "imm", "shamt",
# "imm(rs1)" (a memory operand), "hi20" (c.lui's 20-bit operand: imm = hi20 << 12), "target"
# (an absolute branch target in objdump, `.+offset` in assembly: imm = offset).
C_SYNTAX: dict[str, tuple[tuple[str, ...], dict]] = {
    "c.addi4spn": (("rd", "rs1", "imm"), {}),
    "c.fld": (("rd", "imm(rs1)"), {}),
    "c.lw": (("rd", "imm(rs1)"), {}),
    "c.ld": (("rd", "imm(rs1)"), {}),
    "c.fsd": (("rs2", "imm(rs1)"), {}),
    "c.sw": (("rs2", "imm(rs1)"), {}),
    "c.sd": (("rs2", "imm(rs1)"), {}),
    "c.addi": (("rd", "imm"), {"rs1": "rd"}),
    "c.addiw": (("rd", "imm"), {"rs1": "rd"}),
    "c.li": (("rd", "imm"), {"rs1": 0}),
    "c.addi16sp": (("rd", "imm"), {"rs1": "rd"}),
    "c.lui": (("rd", "hi20"), {}),
    "c.srli": (("rd", "shamt"), {"rs1": "rd"}),
    "c.srai": (("rd", "shamt"), {"rs1": "rd"}),
    "c.andi": (("rd", "imm"), {"rs1": "rd"}),
    "c.sub": (("rd", "rs2"), {"rs1": "rd"}),
    "c.xor": (("rd", "rs2"), {"rs1": "rd"}),
    "c.or": (("rd", "rs2"), {"rs1": "rd"}),
    "c.and": (("rd", "rs2"), {"rs1": "rd"}),
    "c.subw": (("rd", "rs2"), {"rs1": "rd"}),
    "c.addw": (("rd", "rs2"), {"rs1": "rd"}),
    "c.j": (("target",), {"rd": 0}),
    "c.beqz": (("rs1", "target"), {"rs2": 0}),
    "c.bnez": (("rs1", "target"), {"rs2": 0}),
    "c.slli": (("rd", "shamt"), {"rs1": "rd"}),
    "c.fldsp": (("rd", "imm(rs1)"), {}),
    "c.lwsp": (("rd", "imm(rs1)"), {}),
    "c.ldsp": (("rd", "imm(rs1)"), {}),
    "c.jr": (("rs1",), {"rd": 0, "imm": 0}),
    "c.mv": (("rd", "rs2"), {"rs1": 0}),
    "c.ebreak": ((), {}),
    "c.jalr": (("rs1",), {"rd": 1, "imm": 0}),
    "c.add": (("rd", "rs2"), {"rs1": "rd"}),
    "c.fsdsp": (("rs2", "imm(rs1)"), {}),
    "c.swsp": (("rs2", "imm(rs1)"), {}),
    "c.sdsp": (("rs2", "imm(rs1)"), {}),
}
# Shifts by 0 are HINTs objdump names c.<shift>64 and prints without the amount.
OBJDUMP_SHIFT64 = {"c.slli64": "c.slli", "c.srli64": "c.srli", "c.srai64": "c.srai"}
# Where objdump 2.40 decodes an encoding the spec reserves: C.ADDI16SP with nzimm=0.
OBJDUMP_ACCEPTS_RESERVED = {0x6101}


def with_implied_fields(name: str, shown: dict[str, int]) -> dict[str, int]:
    fields = dict(shown)
    for field_name, value in C_SYNTAX[name][1].items():
        fields[field_name] = shown[value] if isinstance(value, str) else value
    return fields


def compressed_fields(name: str, operands: str, pc: int) -> dict[str, int]:
    """The (expanded) fields of a compressed instruction, from objdump's operand text."""
    parts = [p for p in re.split(r"[,()]", operands) if p]
    shown: dict[str, int] = {}
    for slot in C_SYNTAX[name][0]:
        if slot == "imm(rs1)":
            shown["imm"], shown["rs1"] = num(parts.pop(0)), reg(parts.pop(0))
        elif slot == "hi20":
            shown["imm"] = sext(num(parts.pop(0)) << 12, 32)
        elif slot == "target":
            shown["imm"] = sext(num(parts.pop(0)) - pc, 64)
        elif slot in ("imm", "shamt"):
            shown[slot] = num(parts.pop(0))
        else:
            shown[slot] = reg(parts.pop(0))
    assert not parts, operands
    return with_implied_fields(name, shown)


# objdump prints these FENCE encodings under names of their own.
OBJDUMP_FENCE_ALIASES = {"fence.tso": {"pred": 3, "succ": 3}, "pause": {"pred": 1, "succ": 0}}


def check_against_objdump(words: list[int], tmp_path: Path, size: int = 4) -> int:
    """Compare decoder and objdump on every word; return how many decoded."""
    decoded_count = 0
    listing = objdump_words(words, tmp_path, size)
    for index, (word, (mnemonic, operands)) in enumerate(zip(words, listing)):
        insn = decode(word)
        label = f"{word:#0{2 + 2 * size}x}: objdump says {mnemonic} {operands}, decoder {insn!r}"
        mnemonic, ordering = split_ordering_suffix(mnemonic)
        fields = None
        if mnemonic in OBJDUMP_FENCE_ALIASES:
            mnemonic, fields = "fence", OBJDUMP_FENCE_ALIASES[mnemonic]
        elif mnemonic in OBJDUMP_SHIFT64:
            mnemonic, operands = OBJDUMP_SHIFT64[mnemonic], operands + ",0"
        elif operands.endswith(",unknown"):
            # F/D with a reserved rounding mode (5, 6): reserved encodings of the table.
            assert insn is None, label
            continue
        elif mnemonic == ".4byte" and insn is not None and (
                insn.name in insn_table_fp.EXACT_CONVERSIONS and insn.fields["rm"] != 0):
            # objdump knows fcvt.d.w/wu/s only with rm 0; qemu runs (and checks) every rm.
            continue
        elif mnemonic not in TABLE_NAMES:
            # Reserved encodings, and other extensions' instructions (Zba, Zbb, ...). Only the
            # fences differ: the spec reserves their fm/imm, rs1 and rd fields for future
            # fences and asks implementations to ignore them; objdump refuses nonzero ones.
            is_fence = insn is not None and insn.name in ("fence", "fence.i")
            assert insn is None or is_fence, label
            continue
        if word in OBJDUMP_ACCEPTS_RESERVED and size == 2:
            assert insn is None, label
            continue
        assert insn is not None and insn.name == mnemonic, label
        if fields is None:
            fields = objdump_fields(insn.pattern, operands, TEXT_BASE + size * index, tmp_path,
                                    ordering)
        assert insn.fields == fields, label
        decoded_count += 1
    return decoded_count


@needs_objdump
def test_random_encodings_of_every_pattern_agree_with_objdump(tmp_path):
    rng = random.Random(99)
    words = [random_encoding(p, rng) for p in PATTERNS_32 for _ in range(64)]
    # (2 in 8 random F/D words with an rm field have a reserved rounding mode: illegal)
    assert check_against_objdump(words, tmp_path) > len(words) * 0.85


@needs_objdump
def test_random_words_of_the_table_opcodes_agree_with_objdump(tmp_path):
    """Words that share a major opcode with the table but are otherwise random: reserved funct
    fields, other extensions' instructions and ours must be told apart as objdump does."""
    rng = random.Random(7)
    opcodes = sorted({p.match & 0x7F for p in PATTERNS_32})
    words = [(rng.getrandbits(25) << 7) | rng.choice(opcodes) for _ in range(20000)]
    assert check_against_objdump(words, tmp_path) > 1000


@needs_objdump
def test_random_encodings_of_every_compressed_pattern_agree_with_objdump(tmp_path):
    rng = random.Random(98)
    words = [random_encoding(p, rng) for p in PATTERNS_16 for _ in range(200)]
    assert check_against_objdump(words, tmp_path, size=2) > len(words) * 0.95


@needs_objdump
def test_random_halfwords_agree_with_objdump(tmp_path):
    """Every 16-bit encoding space at once: names, expanded operands, and the reserved
    encodings (which objdump prints as .2byte, or c.unimp for the all-zero halfword)."""
    rng = random.Random(11)
    words = [rng.getrandbits(16) for _ in range(40000)]
    words = [word for word in words if word & 3 != 3]
    words += [0x0000, 0x6101, 0x6001, 0x2001, 0x4002, 0x6002, 0x8002, 0x8000, 0x9C41, 0x9C61]
    decoded = check_against_objdump(words, tmp_path, size=2)
    assert decoded > len(words) * 0.8


@needs_objdump
def test_every_halfword_of_the_reserved_spaces_agrees_with_objdump(tmp_path):
    """Exhaustively, the major opcodes where the reserved compressed encodings are."""
    words = [word for word in range(1 << 16) if word & 3 != 3
             and (word >> 13, word & 3) in ((0, 0), (4, 0), (1, 1), (3, 1), (4, 1), (2, 2),
                                            (3, 2), (4, 2))]
    assert check_against_objdump(words, tmp_path, size=2) > len(words) * 0.8


# --------------------------------------------------------------------------------------------
# capstone: always available


_CAPSTONE = capstone.Cs(capstone.CS_ARCH_RISCV,
                        capstone.CS_MODE_RISCV64 | capstone.CS_MODE_RISCVC)


def capstone_name(word: int, size: int) -> str | None:
    """The instruction capstone decodes (its real name even when it prints an alias such as
    nop, mv, ret, fsflags), without an .aq/.rl suffix; c.nop is C.ADDI."""
    for insn in _CAPSTONE.disasm(word.to_bytes(size, "little"), TEXT_BASE):
        if insn.size != size:
            return None
        name, _ = split_ordering_suffix(_CAPSTONE.insn_name(insn.id))
        return "c.addi" if name == "c.nop" else name
    return None


def is_compressed_hint(name: str, fields: dict[str, int]) -> bool:
    """The spec's RVC HINTs (which capstone rejects): encodings that write x0, shifts by 0,
    c.addi with imm 0."""
    if name in ("c.addi", "c.li", "c.lui", "c.mv", "c.add", "c.slli") and fields["rd"] == 0:
        return True
    return fields.get("shamt") == 0 or (name == "c.addi" and fields["imm"] == 0)


def test_random_encodings_of_every_pattern_carry_capstones_mnemonic():
    rng = random.Random(5)
    for pattern in INSTRUCTIONS:
        for _ in range(200):
            word = random_encoding(pattern, rng)
            insn = decode(word)
            label = f"{word:#0{2 + 2 * pattern.size}x}"
            carved_out_by = [r for r in RESERVED if word & r.mask == r.match]
            assert (insn is None) == bool(carved_out_by), label
            winner = insn.pattern if insn is not None else max(
                carved_out_by, key=lambda r: bin(r.mask).count("1"))
            if winner is not pattern:
                # Inside a more specific pattern (c.addi16sp in c.lui, c.jr in c.mv, ...) or a
                # reserved encoding carved out of this one.
                assert winner.mask & pattern.mask == pattern.mask != winner.mask, label
                continue
            oracle = capstone_name(word, pattern.size)
            if pattern.name in ("fence", "fence.i") and oracle != pattern.name:
                # capstone rejects nonzero reserved fields (fm/imm, rs1, rd) and names fence.tso.
                assert oracle in (None, "fence.tso"), f"{label}: capstone {oracle}"
                continue
            if oracle is None and is_compressed_hint(insn.name, insn.fields):
                continue
            if (oracle is None and pattern.name in insn_table_fp.EXACT_CONVERSIONS
                    and insn.fields["rm"] != 0):
                continue    # capstone knows fcvt.d.w/wu/s only with rm 0, like objdump
            assert oracle == pattern.name, f"{label}: capstone says {oracle}"


# --------------------------------------------------------------------------------------------
# Hand-computed encodings and the spec's immediate layouts

KNOWN = [
    (0xFFB10093, "addi", {"rd": 1, "rs1": 2, "imm": -5}),
    (0x00000013, "addi", {"rd": 0, "rs1": 0, "imm": 0}),
    (0x404001B3, "sub", {"rd": 3, "rs1": 0, "rs2": 4}),
    (0x00008067, "jalr", {"rd": 0, "rs1": 1, "imm": 0}),
    (0xFE0008E3, "beq", {"rs1": 0, "rs2": 0, "imm": -16}),
    (0x0000006F, "jal", {"rd": 0, "imm": 0}),
    (0xFFF00537, "lui", {"rd": 10, "imm": -0x100000}),
    (0x80000517, "auipc", {"rd": 10, "imm": -0x80000000}),
    (0x7FFFF517, "auipc", {"rd": 10, "imm": 0x7FFFF000}),
    (0xFE553C23, "sd", {"rs1": 10, "rs2": 5, "imm": -8}),
    (0x0005C503, "lbu", {"rd": 10, "rs1": 11, "imm": 0}),
    (0x03F51513, "slli", {"rd": 10, "rs1": 10, "shamt": 63}),
    (0x43F15093, "srai", {"rd": 1, "rs1": 2, "shamt": 63}),
    (0x41F5D51B, "sraiw", {"rd": 10, "rs1": 11, "shamt": 31}),
    (0x02A5053B, "mulw", {"rd": 10, "rs1": 10, "rs2": 10}),
    (0x0FF0000F, "fence", {"pred": 15, "succ": 15}),
    (0x8330000F, "fence", {"pred": 3, "succ": 3}),        # fence.tso
    (0x0000100F, "fence.i", {}),
    (0x00000073, "ecall", {}),
    (0x00100073, "ebreak", {}),
    (0x0621A0AF, "amoadd.w", {"rd": 1, "rs1": 3, "rs2": 2, "aq": 1, "rl": 1}),
    (0x0C21B0AF, "amoswap.d", {"rd": 1, "rs1": 3, "rs2": 2, "aq": 1, "rl": 0}),
    (0x1201B0AF, "lr.d", {"rd": 1, "rs1": 3, "aq": 0, "rl": 1}),
    (0x1821A0AF, "sc.w", {"rd": 1, "rs1": 3, "rs2": 2, "aq": 0, "rl": 0}),
    (0x001110F3, "csrrw", {"rd": 1, "rs1": 2, "csr": 0x001}),
    (0xC0002573, "csrrs", {"rd": 10, "rs1": 0, "csr": 0xC00}),      # rdcycle a0
    (0x002FD0F3, "csrrwi", {"rd": 1, "uimm": 31, "csr": 0x002}),
    (0xC0007073, "csrrci", {"rd": 0, "uimm": 0, "csr": 0xC00}),
    (0xFFC1A087, "flw", {"rd": 1, "rs1": 3, "imm": -4}),
    (0x7FF1BFA7, "fsd", {"rs1": 3, "rs2": 31, "imm": 2047}),
]

# Compressed: hand-checked against the spec's RVC tables (and objdump).
KNOWN_COMPRESSED = [
    (0x1FE0, "c.addi4spn", {"rd": 8, "rs1": 2, "imm": 1020}),
    (0x0040, "c.addi4spn", {"rd": 8, "rs1": 2, "imm": 4}),
    (0x3FE0, "c.fld", {"rd": 8, "rs1": 15, "imm": 248}),
    (0x5FE0, "c.lw", {"rd": 8, "rs1": 15, "imm": 124}),
    (0x7FE0, "c.ld", {"rd": 8, "rs1": 15, "imm": 248}),
    (0xBFE0, "c.fsd", {"rs1": 15, "rs2": 8, "imm": 248}),
    (0xDFE0, "c.sw", {"rs1": 15, "rs2": 8, "imm": 124}),
    (0xFFE0, "c.sd", {"rs1": 15, "rs2": 8, "imm": 248}),
    (0x0001, "c.addi", {"rd": 0, "rs1": 0, "imm": 0}),             # c.nop
    (0x1281, "c.addi", {"rd": 5, "rs1": 5, "imm": -32}),
    (0x22FD, "c.addiw", {"rd": 5, "rs1": 5, "imm": 31}),
    (0x52FD, "c.li", {"rd": 5, "rs1": 0, "imm": -1}),
    (0x7101, "c.addi16sp", {"rd": 2, "rs1": 2, "imm": -512}),
    (0x6141, "c.addi16sp", {"rd": 2, "rs1": 2, "imm": 16}),
    (0x7281, "c.lui", {"rd": 5, "imm": -0x20000}),
    (0x6285, "c.lui", {"rd": 5, "imm": 0x1000}),
    (0x907D, "c.srli", {"rd": 8, "rs1": 8, "shamt": 63}),
    (0x8405, "c.srai", {"rd": 8, "rs1": 8, "shamt": 1}),
    (0x9801, "c.andi", {"rd": 8, "rs1": 8, "imm": -32}),
    (0x8C1D, "c.sub", {"rd": 8, "rs1": 8, "rs2": 15}),
    (0x8C3D, "c.xor", {"rd": 8, "rs1": 8, "rs2": 15}),
    (0x8C5D, "c.or", {"rd": 8, "rs1": 8, "rs2": 15}),
    (0x8C7D, "c.and", {"rd": 8, "rs1": 8, "rs2": 15}),
    (0x9C1D, "c.subw", {"rd": 8, "rs1": 8, "rs2": 15}),
    (0x9C3D, "c.addw", {"rd": 8, "rs1": 8, "rs2": 15}),
    (0xB001, "c.j", {"rd": 0, "imm": -2048}),
    (0xAFFD, "c.j", {"rd": 0, "imm": 2046}),
    (0xD001, "c.beqz", {"rs1": 8, "rs2": 0, "imm": -256}),
    (0xEC7D, "c.bnez", {"rs1": 8, "rs2": 0, "imm": 254}),
    (0x12FE, "c.slli", {"rd": 5, "rs1": 5, "shamt": 63}),
    (0x32FE, "c.fldsp", {"rd": 5, "rs1": 2, "imm": 504}),
    (0x52FE, "c.lwsp", {"rd": 5, "rs1": 2, "imm": 252}),
    (0x72FE, "c.ldsp", {"rd": 5, "rs1": 2, "imm": 504}),
    (0x8282, "c.jr", {"rd": 0, "rs1": 5, "imm": 0}),
    (0x8082, "c.jr", {"rd": 0, "rs1": 1, "imm": 0}),                # ret
    (0x829A, "c.mv", {"rd": 5, "rs1": 0, "rs2": 6}),
    (0x9002, "c.ebreak", {}),
    (0x9282, "c.jalr", {"rd": 1, "rs1": 5, "imm": 0}),
    (0x929A, "c.add", {"rd": 5, "rs1": 5, "rs2": 6}),
    (0xBF96, "c.fsdsp", {"rs1": 2, "rs2": 5, "imm": 504}),
    (0xDF96, "c.swsp", {"rs1": 2, "rs2": 5, "imm": 252}),
    (0xFF96, "c.sdsp", {"rs1": 2, "rs2": 5, "imm": 504}),
]


@pytest.mark.parametrize("word,name,fields", KNOWN_COMPRESSED,
                         ids=[f"{w:#06x}" for w, _, _ in KNOWN_COMPRESSED])
def test_known_compressed_encodings(word, name, fields):
    insn = decode(word | 0xABCD0000)      # the bits past a compressed instruction are ignored
    assert insn is not None
    assert (insn.name, insn.fields, insn.size, insn.raw) == (name, fields, 2, word)


@pytest.mark.parametrize("word,name,fields", KNOWN, ids=[f"{w:#010x}" for w, _, _ in KNOWN])
def test_known_encodings(word, name, fields):
    insn = decode(word)
    assert insn is not None
    assert (insn.name, insn.fields, insn.size, insn.raw) == (name, fields, 4, word)


# Instruction bit -> immediate bit, from the spec's encoding figures.
B_IMM_BITS = {31: 12, 7: 11, **{25 + i: 5 + i for i in range(6)},
              **{8 + i: 1 + i for i in range(4)}}
J_IMM_BITS = {31: 20, 20: 11, **{12 + i: 12 + i for i in range(8)},
              **{21 + i: 1 + i for i in range(10)}}
S_IMM_BITS = {**{7 + i: i for i in range(5)}, **{25 + i: 5 + i for i in range(7)}}


@pytest.mark.parametrize("base,layout,sign_bit", [
    (0x00000063, B_IMM_BITS, 12),   # beq x0, x0
    (0x0000006F, J_IMM_BITS, 20),   # jal x0
    (0x00002023, S_IMM_BITS, 11),   # sw x0, 0(x0)
], ids=["B", "J", "S"])
def test_immediate_bit_scrambling(base, layout, sign_bit):
    for insn_bit, imm_bit in layout.items():
        insn = decode(base | (1 << insn_bit))
        expected = -(1 << imm_bit) if imm_bit == sign_bit else 1 << imm_bit
        assert insn.args.imm == expected, f"instruction bit {insn_bit}"


ILLEGAL = {
    "all zeros": 0x00000000,
    "all ones": 0xFFFFFFFF,
    "slliw with shamt bit 5": 0x0200101B,
    "srliw with shamt bit 5": 0x0200501B,
    "sraiw with shamt bit 5": 0x4200501B,
    "srai with funct6 010001": 0x4400D013,
    "slli with funct6 000001": 0x0400_1013 | (1 << 26),
    "add with funct7 0000010": 0x04000033,
    "sub with funct7 0100001": 0x42000033,
    "addw with funct7 0000010": 0x0400003B,
    "ecall with rd": 0x000000F3,
    "ecall with rs1": 0x00008073,
    "SYSTEM funct3 100": 0x00104073,
    "branch funct3 010": 0x00002063,
    "load funct3 111": 0x00007003,
    "store funct3 100": 0x00004023,
    "jalr funct3 001": 0x00001067,
    "OP-IMM-32 funct3 010": 0x0000201B,
    "48-bit prefix": 0x0000001F,
    "64-bit prefix": 0x0000003F,
    "wfi": 0x10500073,
    "sret": 0x10200073,
    "mret": 0x30200073,
    "sfence.vma": 0x12000073,
    "lr.w with rs2": 0x1021A0AF,
    "AMO funct5 00110": 0x3021A0AF,
    "AMO funct3 000 (byte atomics)": 0x002180AF,
    "FP load funct3 001 (flh)": 0x00019087,
    "FP load funct3 000 (vector)": 0x00018007,
    "FP store funct3 100 (fsq)": 0x0021C027,
}

# The spec's reserved RVC encodings (and RV32/RV128-only or other-extension ones).
ILLEGAL_COMPRESSED = {
    "all-zero halfword": 0x0000,
    "c.addi4spn nzuimm=0, rd'=x9": 0x0004,
    "c.addiw rd=x0": 0x2001,
    "c.addiw rd=x0 imm=-31": 0x3005,
    "c.lui x0 nzimm=0": 0x6001,
    "c.lui x1 nzimm=0": 0x6081,
    "c.addi16sp nzimm=0": 0x6101,
    "c.lwsp rd=x0": 0x4002,
    "c.ldsp rd=x0": 0x6002,
    "c.jr rs1=x0": 0x8002,
    "quadrant 0 funct3 100": 0x8000,
    "CA bit12=1 funct2=10": 0x9C41,
    "CA bit12=1 funct2=11": 0x9C61,
}


@pytest.mark.parametrize("word", ILLEGAL_COMPRESSED.values(), ids=ILLEGAL_COMPRESSED.keys())
def test_reserved_compressed_encodings_are_rejected(word):
    assert decode(word) is None


@pytest.mark.parametrize("word", ILLEGAL.values(), ids=ILLEGAL.keys())
def test_illegal_encodings_are_rejected(word):
    assert decode(word) is None


def test_instruction_size_from_the_low_bits():
    assert insn_size(0x0013) == 4 and insn_size(0x1141) == 2 and insn_size(0x0000) == 2
    assert decode(0x0013 | (0xABCD << 32)).raw == 0x0013   # bits past the word are ignored
    assert decode(0x1141).size == 2 and decode(0x1141).name == "c.addi"


def test_table_covers_rv64gc_and_every_bit_is_accounted_for():
    expected = {
        "lui", "auipc", "jal", "jalr", "beq", "bne", "blt", "bge", "bltu", "bgeu",
        "lb", "lh", "lw", "ld", "lbu", "lhu", "lwu", "sb", "sh", "sw", "sd",
        "addi", "slti", "sltiu", "xori", "ori", "andi", "slli", "srli", "srai",
        "add", "sub", "sll", "slt", "sltu", "xor", "srl", "sra", "or", "and",
        "addiw", "slliw", "srliw", "sraiw", "addw", "subw", "sllw", "srlw", "sraw",
        "fence", "fence.i", "ecall", "ebreak",
        "mul", "mulh", "mulhsu", "mulhu", "div", "divu", "rem", "remu",
        "mulw", "divw", "divuw", "remw", "remuw",
        "lr.w", "sc.w", "amoswap.w", "amoadd.w", "amoxor.w", "amoand.w", "amoor.w",
        "amomin.w", "amomax.w", "amominu.w", "amomaxu.w",
        "lr.d", "sc.d", "amoswap.d", "amoadd.d", "amoxor.d", "amoand.d", "amoor.d",
        "amomin.d", "amomax.d", "amominu.d", "amomaxu.d",
        "csrrw", "csrrs", "csrrc", "csrrwi", "csrrsi", "csrrci",
        "flw", "fsw", "fld", "fsd",
        "c.addi4spn", "c.fld", "c.lw", "c.ld", "c.fsd", "c.sw", "c.sd",
        "c.addi", "c.addiw", "c.li", "c.addi16sp", "c.lui", "c.srli", "c.srai", "c.andi",
        "c.sub", "c.xor", "c.or", "c.and", "c.subw", "c.addw", "c.j", "c.beqz", "c.bnez",
        "c.slli", "c.fldsp", "c.lwsp", "c.ldsp", "c.jr", "c.mv", "c.ebreak", "c.jalr", "c.add",
        "c.fsdsp", "c.swsp", "c.sdsp",
    }
    for fmt in ("s", "d"):
        expected |= {f"{op}.{fmt}" for op in (
            "fadd", "fsub", "fmul", "fdiv", "fsqrt", "fsgnj", "fsgnjn", "fsgnjx", "fmin", "fmax",
            "feq", "flt", "fle", "fclass", "fmadd", "fmsub", "fnmsub", "fnmadd")}
        expected |= {f"fcvt.{i}.{fmt}" for i in ("w", "wu", "l", "lu")}
        expected |= {f"fcvt.{fmt}.{i}" for i in ("w", "wu", "l", "lu")}
    expected |= {"fcvt.s.d", "fcvt.d.s", "fmv.x.w", "fmv.w.x", "fmv.x.d", "fmv.d.x"}
    assert TABLE_NAMES == expected
    # Bits neither fixed nor read by a field are the reserved-and-ignored ones of the fences.
    for pattern in INSTRUCTIONS:
        field_bits = 0
        for fld in pattern.format.fields:
            field_bits |= fld.bit_mask
        ignored = (1 << (8 * pattern.size)) - 1 & ~(pattern.mask | field_bits)
        assert ignored == 0 or pattern.name in ("fence", "fence.i"), pattern.name
    # A compressed pattern's fields are those of the instruction it expands to.
    by_name = {p.name: p for p in INSTRUCTIONS}
    for pattern in PATTERNS_16:
        base = by_name[pattern.expands_to]
        assert set(pattern.format.field_names) == set(base.format.field_names), pattern.name


def test_decoder_dispatches_on_the_major_opcode_first():
    root = DECODER._root32
    assert root.mask == 0x7F
    assert len(root.children) == len({p.match & 0x7F for p in PATTERNS_32})
    # Compressed: funct3 and the quadrant.
    assert DECODER._root16.mask == 0xE003


def test_extension_subset():
    base_only = Decoder(extensions={"I", "Zifencei"})
    assert base_only.decode(0x02A5053B) is None           # mulw
    assert base_only.decode(0xFFB10093).name == "addi"
    assert base_only.decode(0x1141) is None               # c.addi: no C
    without_fp = Decoder(extensions={"I", "M", "A", "C", "Zicsr"})
    assert without_fp.decode(0x3FE0) is None              # c.fld needs Zcd
    assert without_fp.decode(0x7FE0).name == "c.ld"
    assert without_fp.decode(0x0000) is None              # still reserved


def test_more_specific_pattern_wins_and_ambiguity_is_refused():
    general = Pattern("general", "------- ----- ----- 000 ----- 0110011", FMT_R, "X")
    special = Pattern("special", "0000000 00000 00000 000 00000 0110011", FMT_NONE, "X")
    decoder = Decoder([general, special])
    assert decoder.decode(0x00000033).name == "special"
    assert decoder.decode(0x00100033).name == "general"
    crossing = Pattern("crossing", "1------ ----- ----- 000 ----- 0110011", FMT_R, "X")
    other = Pattern("other", "------- ----- ----- 000 ----1 0110011", FMT_R, "X")
    with pytest.raises(ValueError, match="ambiguous"):
        Decoder([crossing, other])
    # Crossing patterns are fine when their intersection is a pattern (here a reserved one).
    both = reserved("crossing and other", "1------ ----- ----- 000 ----1 0110011", "X")
    decoder = Decoder([crossing, other, both])
    assert decoder.decode(0x80000033).name == "crossing"
    assert decoder.decode(0x000000B3).name == "other"
    assert decoder.decode(0x800000B3) is None
    with pytest.raises(ValueError, match="same encoding"):
        Decoder([general, Pattern("twin", general.bits, FMT_R, "X")])
