"""The F/D results recorded from qemu-riscv64 (tests/guest/expected_linux/fp_*.stdout, made by
the programs in tests/guest/src/fp/) as a list of single-instruction cases, for the tests of
jit/softfloat.py, of the native FP code and of the F/D translation.

A case: the instruction's mnemonic (`fadd.s`, `fcvt.w.d`, `fmv.x.w`, ...), its operand register
values (f registers as 64-bit patterns, NaN-boxed singles included; x registers for the
integer sources), the rm field (0-4 static, 7 dyn, None for instructions without one), the frm
value while it ran, and the recorded result register value and fflags.

Lines with results per rounding mode give one static case per mode (run with frm = 7 - mode, as
the programs do, so that a static mode must ignore frm) and one dyn case per mode (frm = mode):
the recordings contain no `| dyn` part, so dyn results equal the static ones.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Optional

EXPECTED_DIR = Path(__file__).resolve().parent / "guest" / "expected_linux"
FP_PROGRAMS = ("fp_arith", "fp_fma", "fp_cvt", "fp_misc")
RM_NAMES = ("rne", "rtz", "rdn", "rup", "rmm")
DYN = 7
BOX = 0xFFFF_FFFF_0000_0000


@dataclass(frozen=True)
class FpCase:
    mnemonic: str
    inputs: tuple[int, ...]
    rm: Optional[int]
    frm: int
    value: int
    flags: int
    line: str

    def __str__(self) -> str:
        rm = "-" if self.rm is None else ("dyn" if self.rm == DYN else RM_NAMES[self.rm])
        operands = " ".join(f"{x:x}" for x in self.inputs)
        return (f"{self.mnemonic} {operands} rm={rm} frm={self.frm}: "
                f"{self.value:x}/{self.flags:02x}  [{self.line}]")


_RF = r"([0-9a-f]+)/([0-9a-f]{2})"
_LINE = re.compile(r"^(\S+(?:\(no rm\))?)((?: [0-9a-f]+)+)(?: frm (\d))?: (.*)$")


def _register(text: str) -> int:
    """A register as printed: 8 hex digits are a NaN-boxed single."""
    value = int(text, 16)
    return BOX | value if len(text) == 8 else value


def _result(text: str, mnemonic: str) -> int:
    """A result: f-register results of 8 digits are boxed singles; x-register results (fcvt to
    integer, comparisons, fclass, fmv.x) are plain numbers."""
    integer_result = (mnemonic.split(".")[0] in ("feq", "flt", "fle", "fclass")
                      or mnemonic.startswith("fmv.x")
                      or (mnemonic.startswith("fcvt.") and mnemonic.split(".")[1]
                          in ("w", "wu", "l", "lu")))
    return int(text, 16) if integer_result else _register(text)


# The ops of the `PREFIX OPERANDS: op R/F ...` lines: op name -> (mnemonic template, operand
# positions). {f} is the prefix's format.
_NR_OPS = {
    "sgnj": ("fsgnj.{f}", (0, 1)), "sgnjn": ("fsgnjn.{f}", (0, 1)),
    "sgnjx": ("fsgnjx.{f}", (0, 1)), "min": ("fmin.{f}", (0, 1)), "max": ("fmax.{f}", (0, 1)),
    "eq": ("feq.{f}", (0, 1)), "lt": ("flt.{f}", (0, 1)), "le": ("fle.{f}", (0, 1)),
    "fclass.s": ("fclass.s", (0,)), "fclass.d": ("fclass.d", (0,)),
    "fmv.s": ("fsgnj.s", (0, 0)), "fneg.s": ("fsgnjn.s", (0, 0)), "fabs.s": ("fsgnjx.s", (0, 0)),
    "fmv.d": ("fsgnj.d", (0, 0)), "fneg.d": ("fsgnjn.d", (0, 0)), "fabs.d": ("fsgnjx.d", (0, 0)),
    "fsqrt.s": ("fsqrt.s", (0,)), "fadd.s": ("fadd.s", (0, 1)), "fadd.d": ("fadd.d", (0, 1)),
    "fmv.x.w": ("fmv.x.w", (0,)), "fmv.x.d": ("fmv.x.d", (0,)),
    "fmv.w.x": ("fmv.w.x", (0,)), "fmv.d.x": ("fmv.d.x", (0,)),
}
# nr ops that round: statically with rne in the programs.
_NR_RNE = frozenset({"fsqrt.s", "fadd.s", "fadd.d"})
_NR_FRM = 7     # fp_misc runs its nr lines with frm = 7


def _rm_field(mnemonic: str) -> bool:
    """Whether the instruction has an rm field."""
    op = mnemonic.split(".")[0]
    return op in ("fadd", "fsub", "fmul", "fdiv", "fsqrt", "fmadd", "fmsub", "fnmadd",
                  "fnmsub", "fcvt")


def parse(text: str, program: str = "") -> Iterator[FpCase]:
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        match = _LINE.match(line)
        if not match:
            continue
        name, operand_text, frm_text, rest = match.groups()
        operands = [_register(t) for t in operand_text.split()]
        tag = f"{program}: {line}" if program else line
        if name.endswith("(no rm)"):
            mnemonic = name[:-len("(no rm)")]
            if frm_text is not None:        # dyn, with frm given
                m = re.fullmatch(_RF, rest)
                yield FpCase(mnemonic, tuple(operands), DYN, int(frm_text),
                             _result(m[1], mnemonic), int(m[2], 16), tag)
            else:                           # the exact ones: the assembler encodes rne
                for op, r, f in re.findall(r"(\S+) " + _RF, rest):
                    yield FpCase(mnemonic, tuple(operands), 0, _NR_FRM, _result(r, mnemonic),
                                 int(f, 16), tag)
            continue
        if name.startswith("f"):
            yield from _rm_cases(name, operands, rest, tag)
            continue
        fmt = {"s": "s", "d": "d", "unboxed": "s", "mv": None}.get(name)
        if name not in ("s", "d", "unboxed", "mv"):
            continue
        for op, r, f in re.findall(r"(\S+) " + _RF, rest):
            template, positions = _NR_OPS[op]
            mnemonic = template.format(f=fmt)
            inputs = tuple(operands[i] for i in positions)
            if mnemonic.startswith(("fmv.w.x", "fmv.d.x")) or op == "fmv.x.d":
                value = int(r, 16)
            elif op == "fmv.x.w":
                value = int(r, 16)
            else:
                value = _result(r, mnemonic)
            rm = 0 if op in _NR_RNE else None
            yield FpCase(mnemonic, inputs, rm, _NR_FRM, value, int(f, 16), tag)


def _rm_cases(mnemonic: str, operands: list[int], rest: str, tag: str) -> Iterator[FpCase]:
    single = re.fullmatch(_RF, rest)
    if single:
        results = [(single[1], single[2])] * 5
    else:
        if "| dyn" in rest:
            raise ValueError(f"dyn results differ from static ones: {tag}")
        parts = re.findall(r"(rne|rtz|rdn|rup|rmm) " + _RF, rest)
        if [p[0] for p in parts] != list(RM_NAMES):
            raise ValueError(f"unrecognised results: {tag}")
        results = [(r, f) for _, r, f in parts]
    for mode, (r, f) in enumerate(results):
        value, flags = _result(r, mnemonic), int(f, 16)
        yield FpCase(mnemonic, tuple(operands), mode, 7 - mode, value, flags, tag)
        yield FpCase(mnemonic, tuple(operands), DYN, mode, value, flags, tag)


def load(program: str) -> list[FpCase]:
    return list(parse((EXPECTED_DIR / f"{program}.stdout").read_text(), program))


def load_all() -> list[FpCase]:
    return [case for program in FP_PROGRAMS for case in load(program)]


def has_rm_field(mnemonic: str) -> bool:
    return _rm_field(mnemonic)
