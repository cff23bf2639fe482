"""The F and D instruction patterns (RV64F / RV64D arithmetic, conversions, moves), in the
declarative form of guest/riscv/insn_table.py, which appends them to its PATTERNS.

The FP loads and stores (flw/fsw/fld/fsd and the compressed c.fld/c.fsd/c.fldsp/c.fsdsp) are
in insn_table.py with the other memory instructions.

Operands: rd, rs1, rs2, rs3 name f registers or x registers as the instruction says (the
translate functions in trans_rvf.py / trans_rvd.py know which); rm is the 3-bit rounding-mode
field (0-4 static, 7 dynamic; 5 and 6 are reserved: carved out of every pattern with an rm field
by `reserved(...)` entries, so they decode as illegal).

The patterns are built by `fp_patterns()` (cached) rather than at import, so that this module
and insn_table.py can be imported in either order.
"""
from __future__ import annotations

from functools import lru_cache

FP_OPCODE = "1010011"                        # OP-FP
FMA_OPCODES = {"fmadd": "1000011", "fmsub": "1000111", "fnmsub": "1001011",
               "fnmadd": "1001111"}
FMT_BITS = {"s": "00", "d": "01"}            # the fmt field (bits 26:25)
EXTENSION = {"s": "F", "d": "D"}
ARITH_FUNCT5 = {"fadd": "00000", "fsub": "00001", "fmul": "00010", "fdiv": "00011"}
SGNJ_FUNCT3 = {"fsgnj": "000", "fsgnjn": "001", "fsgnjx": "010"}
MINMAX_FUNCT3 = {"fmin": "000", "fmax": "001"}
COMPARE_FUNCT3 = {"feq": "010", "flt": "001", "fle": "000"}
INT_RS2 = {"w": "00000", "wu": "00001", "l": "00010", "lu": "00011"}
RESERVED_RMS = (5, 6)
# The names of the formats (the assembler syntax of tests keys on them).
FORMAT_NAMES = ("R-fp", "R-fp-rm", "R2-fp", "R2-fp-rm", "R4-fp-rm")


@lru_cache(maxsize=None)
def fp_formats() -> dict:
    from guest.riscv.insn_table import RD, RS1, RS2, Field, Format
    rm = Field("rm", "12:3")
    rs3 = Field("rs3", "27:5")
    return {
        "R-fp": Format("R-fp", (RD, RS1, RS2)),
        "R-fp-rm": Format("R-fp-rm", (RD, RS1, RS2, rm)),
        "R2-fp": Format("R2-fp", (RD, RS1)),
        "R2-fp-rm": Format("R2-fp-rm", (RD, RS1, rm)),
        "R4-fp-rm": Format("R4-fp-rm", (RD, RS1, RS2, rs3, rm)),
    }


@lru_cache(maxsize=None)
def fp_patterns() -> tuple:
    from guest.riscv.insn_table import Pattern, reserved
    formats = fp_formats()
    patterns = []

    def op_fp(name: str, funct5: str, fmt: str, rs2: str, funct3: str, format_name: str,
              extension: str) -> None:
        bits = f"{funct5} {FMT_BITS[fmt]} {rs2} ----- {funct3} ----- {FP_OPCODE}"
        patterns.append(Pattern(name, bits, formats[format_name], extension))

    for f in ("s", "d"):
        ext = EXTENSION[f]
        for op, funct5 in ARITH_FUNCT5.items():
            op_fp(f"{op}.{f}", funct5, f, "-----", "---", "R-fp-rm", ext)
        op_fp(f"fsqrt.{f}", "01011", f, "00000", "---", "R2-fp-rm", ext)
        for op, funct3 in SGNJ_FUNCT3.items():
            op_fp(f"{op}.{f}", "00100", f, "-----", funct3, "R-fp", ext)
        for op, funct3 in MINMAX_FUNCT3.items():
            op_fp(f"{op}.{f}", "00101", f, "-----", funct3, "R-fp", ext)
        for op, funct3 in COMPARE_FUNCT3.items():
            op_fp(f"{op}.{f}", "10100", f, "-----", funct3, "R-fp", ext)
        op_fp(f"fclass.{f}", "11100", f, "00000", "001", "R2-fp", ext)
        for int_name, rs2 in INT_RS2.items():
            op_fp(f"fcvt.{int_name}.{f}", "11000", f, rs2, "---", "R2-fp-rm", ext)
            op_fp(f"fcvt.{f}.{int_name}", "11010", f, rs2, "---", "R2-fp-rm", ext)
        for op, opcode in FMA_OPCODES.items():
            patterns.append(Pattern(f"{op}.{f}", f"----- {FMT_BITS[f]} ----- ----- --- ----- "
                                    f"{opcode}", formats["R4-fp-rm"], ext))
    op_fp("fcvt.s.d", "01000", "s", "00001", "---", "R2-fp-rm", "D")
    op_fp("fcvt.d.s", "01000", "d", "00000", "---", "R2-fp-rm", "D")
    op_fp("fmv.x.w", "11100", "s", "00000", "000", "R2-fp", "F")
    op_fp("fmv.w.x", "11110", "s", "00000", "000", "R2-fp", "F")
    op_fp("fmv.x.d", "11100", "d", "00000", "000", "R2-fp", "D")
    op_fp("fmv.d.x", "11110", "d", "00000", "000", "R2-fp", "D")
    # The reserved rounding modes 5 and 6 of every instruction with an rm field (bits 14:12).
    for pattern in list(patterns):
        if "rm" in pattern.format.field_names:
            bits = pattern.bits.replace(" ", "")
            for rm in RESERVED_RMS:
                fixed = bits[:17] + format(rm, "03b") + bits[20:]
                patterns.append(reserved(f"{pattern.name} with rm={rm}", fixed,
                                         pattern.extension))
    return tuple(patterns)


# --------------------------------------------------------------------------------------------
# Assembler syntax (for tests against the GNU tools, disassembly)

RM_NAMES = {0: "rne", 1: "rtz", 2: "rdn", 3: "rup", 4: "rmm", 7: "dyn"}
# binutils knows these exact conversions only with rm = 000 (no rm operand); qemu executes (and
# we decode) every valid rm, which the result does not depend on.
EXACT_CONVERSIONS = frozenset({"fcvt.d.w", "fcvt.d.wu", "fcvt.d.s"})
_X_RD = ("feq.", "flt.", "fle.", "fclass.", "fmv.x.")
_INT_NAMES = ("w", "wu", "l", "lu")


def x_register_fields(name: str) -> frozenset:
    """The operand fields of instruction `name` that name x registers (the others name f
    registers)."""
    parts = name.split(".")
    fields = set()
    if name.startswith(_X_RD) or (parts[0] == "fcvt" and parts[1] in _INT_NAMES):
        fields.add("rd")
    if name in ("fmv.w.x", "fmv.d.x") or (parts[0] == "fcvt" and parts[2] in _INT_NAMES):
        fields.add("rs1")
    return frozenset(fields)


def _operand_order(field_names) -> list[str]:
    return [name for name in ("rd", "rs1", "rs2", "rs3") if name in field_names]


def assembly_text(name: str, fields: dict) -> str:
    """GNU assembler text with numeric register names: `fmadd.d f1, f2, f3, f4, rtz`. An exact
    conversion is written without rm (its rm must be 0)."""
    x_fields = x_register_fields(name)
    operands = [f"{'x' if field in x_fields else 'f'}{fields[field]}"
                for field in _operand_order(fields)]
    if "rm" in fields and name not in EXACT_CONVERSIONS:
        operands.append(RM_NAMES[fields["rm"]])
    return f"{name} {', '.join(operands)}"


def objdump_fields(name: str, operands: str) -> dict:
    """The fields, from `objdump -M no-aliases,numeric` operand text ("f1,f2,f3,rtz"): objdump
    leaves out rm = dyn (and rm = 0 of the exact conversions); it shows the reserved rm values
    as "unknown" (those words are reserved encodings: decoded as illegal)."""
    parts = operands.split(",")
    pattern = next(p for p in fp_patterns() if p.name == name and not p.illegal)
    field_names = pattern.format.field_names
    fields = {field: int(text[1:]) for field, text in zip(_operand_order(field_names), parts)}
    if "rm" in field_names:
        extra = parts[len(fields):]
        if extra:
            fields["rm"] = {text: rm for rm, text in RM_NAMES.items()}[extra[0]]
        else:
            fields["rm"] = 0 if name in EXACT_CONVERSIONS else 7
    return fields
