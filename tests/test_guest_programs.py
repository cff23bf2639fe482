"""Differential tests: every guest program in tests/guest/bin/ under tcgjit must
produce exactly the stdout bytes and exit status recorded from qemu-riscv64 in
tests/guest/expected/ (and its recorded stderr must appear in tcgjit's stderr).

Also checked, independently of tcgjit:
- the recordings are still what qemu-riscv64 says (when it is installed);
- the ALU / branch / mul-div results in the recordings agree with a Python model
  of the RV64IM semantics (so a wrong recording cannot go unnoticed);
- every binary has a recording and vice versa, and the committed binaries are
  what the sources build to (when the cross compiler is installed).

Rebuild / re-record with `python -m tools.build_guests --record`.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import guest_runner as gr  # noqa: E402

PROGRAMS = gr.list_programs()
RERECORD = "re-record with: python -m tools.build_guests --record"


def _expected(name: str) -> gr.Expected:
    exp = gr.load_expected(name)
    if exp is None:
        pytest.fail(f"no recorded expectation for {name} in {gr.EXPECTED_DIR}; {RERECORD}")
    return exp


@pytest.mark.parametrize("name", PROGRAMS)
def test_guest_program(name: str) -> None:
    gr.check_tcgjit_result(name, _expected(name), lambda: gr.run_tcgjit(
        gr.binary_path(name), gr.guest_args(name), timeout=gr.timeout_for(name)))


@pytest.mark.skipif(gr.qemu_path() is None, reason="qemu-riscv64 not installed")
@pytest.mark.parametrize("name", PROGRAMS)
def test_recording_matches_qemu(name: str) -> None:
    exp = _expected(name)
    res = gr.run_qemu(gr.binary_path(name), gr.guest_args(name))
    assert res is not None
    gr.check_recording(name, exp, res, RERECORD)


def test_every_program_is_recorded() -> None:
    assert PROGRAMS, f"no guest binaries in {gr.BIN_DIR}; build with python -m tools.build_guests"
    recorded = {p.name.rsplit(".", 1)[0] for p in gr.EXPECTED_DIR.glob("*.status")}
    assert sorted(recorded) == PROGRAMS, (
        f"binaries without recording: {sorted(set(PROGRAMS) - recorded)}; "
        f"recordings without binary: {sorted(recorded - set(PROGRAMS))}; {RERECORD}")
    for name in PROGRAMS:
        out = gr.load_expected(name)
        assert out is not None
        for bad in (b"ALIAS-FAIL", b"MISMATCH", b"roundtrip-FAIL"):
            assert bad not in out.stdout, f"{name}: recorded output contains {bad!r}"


@pytest.mark.skipif(shutil.which("riscv64-linux-gnu-gcc") is None,
                    reason="riscv64-linux-gnu-gcc not installed")
def test_binaries_match_sources(tmp_path: Path) -> None:
    recorded_toolchain = gr.GUEST_DIR / "toolchain.txt"
    version = subprocess.run([sys.executable, "-m", "tools.build_guests", "--toolchain-version"],
                             cwd=gr.REPO_ROOT, capture_output=True, text=True)
    assert version.returncode == 0, version.stderr
    if not recorded_toolchain.is_file() or recorded_toolchain.read_text() != version.stdout:
        pytest.skip("the installed cross toolchain is not the one that built the binaries")
    res = subprocess.run([sys.executable, "-m", "tools.build_guests", "--out-dir", str(tmp_path)],
                         cwd=gr.REPO_ROOT, capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr
    built = sorted(p.name for p in tmp_path.iterdir())
    assert built == PROGRAMS
    stale = [n for n in built if (tmp_path / n).read_bytes() != gr.binary_path(n).read_bytes()]
    assert not stale, f"committed binaries differ from their sources: {stale}; {RERECORD}"


# ---------------------------------------------------------------------------
# A Python model of the RV64IM integer semantics, checked against the values
# printed by the assembly programs (CROSS / CROSSI / TRR / TRI / BRCROSS / TBR
# macros in tests/guest/src/asm/include/macros.inc) and by muldiv_table.

M64 = (1 << 64) - 1
M32 = (1 << 32) - 1

# must match `vals` in tests/guest/src/asm/include/asmlib.S
VALS = [0, 1, M64, 2, (-7) & M64, 31, 32, 63, 1 << 63, (1 << 63) - 1,
        0xffffffff80000000, 0x7fffffff, 0xffffffff, 0x80000000, 0x123456789abcdef0]


def s64(v: int) -> int:
    v &= M64
    return v - (1 << 64) if v >> 63 else v


def s32(v: int) -> int:
    v &= M32
    return v - (1 << 32) if v >> 31 else v


def sx32(v: int) -> int:
    return s32(v) & M64


def _tdiv(a: int, b: int) -> int:
    """C-style division truncating toward zero."""
    q = abs(a) // abs(b)
    return q if (a < 0) == (b < 0) else -q


def _div(a: int, b: int) -> int:
    a, b = s64(a), s64(b)
    if b == 0:
        return M64
    return _tdiv(a, b) & M64  # INT64_MIN / -1 wraps to INT64_MIN


def _rem(a: int, b: int) -> int:
    sa, sb = s64(a), s64(b)
    if sb == 0:
        return a
    return (sa - sb * _tdiv(sa, sb)) & M64


def _divw(a: int, b: int) -> int:
    a, b = s32(a), s32(b)
    if b == 0:
        return M64
    return sx32(_tdiv(a, b))


def _remw(a: int, b: int) -> int:
    sa, sb = s32(a), s32(b)
    if sb == 0:
        return sx32(sa)
    return sx32(sa - sb * _tdiv(sa, sb))


RR = {
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
    "addw": lambda a, b: sx32(a + b),
    "subw": lambda a, b: sx32(a - b),
    "sllw": lambda a, b: sx32(a << (b & 31)),
    "srlw": lambda a, b: sx32((a & M32) >> (b & 31)),
    "sraw": lambda a, b: sx32(s32(a) >> (b & 31)),
    "mul": lambda a, b: a * b,
    "mulh": lambda a, b: (s64(a) * s64(b)) >> 64,
    "mulhsu": lambda a, b: (s64(a) * b) >> 64,
    "mulhu": lambda a, b: (a * b) >> 64,
    "div": _div,
    "divu": lambda a, b: M64 if b == 0 else a // b,
    "rem": _rem,
    "remu": lambda a, b: a if b == 0 else a % b,
    "mulw": lambda a, b: sx32(a * b),
    "divw": _divw,
    "divuw": lambda a, b: M64 if b & M32 == 0 else sx32((a & M32) // (b & M32)),
    "remw": _remw,
    "remuw": lambda a, b: sx32(a) if b & M32 == 0 else sx32((a & M32) % (b & M32)),
}
# immediate forms: the 12-bit immediate is sign-extended to 64 bits first
RI = {
    "addi": RR["add"], "slti": RR["slt"], "sltiu": RR["sltu"], "xori": RR["xor"],
    "ori": RR["or"], "andi": RR["and"], "slli": RR["sll"], "srli": RR["srl"],
    "srai": RR["sra"], "addiw": RR["addw"], "slliw": RR["sllw"], "srliw": RR["srlw"],
    "sraiw": RR["sraw"],
}
BR = {
    "beq": lambda a, b: a == b,
    "bne": lambda a, b: a != b,
    "blt": lambda a, b: s64(a) < s64(b),
    "bge": lambda a, b: s64(a) >= s64(b),
    "bltu": lambda a, b: a < b,
    "bgeu": lambda a, b: a >= b,
}
ALL = {**RR, **RI}

CROSS_RE = re.compile(r"^(\w+) ([0-9a-f]{16}):((?: [0-9a-f]{16})+)$")
CROSSI_RE = re.compile(r"^(\w+) (-?(?:0x)?[0-9a-f]{1,8}):((?: [0-9a-f]{16})+)$")
BRCROSS_RE = re.compile(r"^(\w+) ([0-9a-f]{16}):((?: [01]{2})+)$")
CONST_RE = re.compile(r"^(\w+) (\S+) (\S+): ([0-9a-f]{16})$")
TABLE_RE = re.compile(r"^([0-9a-f]{16}) ([0-9a-f]{16}):((?: [0-9a-f]{16})+)$")

MODEL_FILES = ["alu_imm", "alu_reg", "alu_word", "branch", "muldiv", "muldiv_const",
               "muldiv_table_O0", "muldiv_table_O2"]


def _num(text: str) -> int | None:
    try:
        return int(text, 0) & M64
    except ValueError:
        return None


def check_against_model(text: str) -> tuple[int, list[str]]:
    """Returns (number of results checked, list of disagreements)."""
    checked = 0
    errors: list[str] = []
    rows: dict[str, list[int]] = {}
    table_ops: list[str] | None = None

    def expect(what: str, want: int, got: int) -> None:
        nonlocal checked
        checked += 1
        if want & M64 != got:
            errors.append(f"{what}: model {want & M64:016x}, recorded {got:016x}")

    for line in text.splitlines():
        if line.startswith("a b: "):
            table_ops = line[5:].split()
            continue
        if m := TABLE_RE.match(line):
            assert table_ops, "muldiv_table header missing"
            a, b = int(m[1], 16), int(m[2], 16)
            for op, r in zip(table_ops, m[3].split()):
                expect(f"{op} {a:#x} {b:#x}", RR[op](a, b), int(r, 16))
            continue
        if (m := CROSS_RE.match(line)) and m[1] in RR:
            op, a = m[1], int(m[2], 16)
            rows.setdefault(op, []).append(a)
            results = [int(r, 16) for r in m[3].split()]
            assert len(results) == len(VALS), line
            for b, r in zip(VALS, results):
                expect(f"{op} {a:#x} {b:#x}", RR[op](a, b), r)
            continue
        if (m := CROSSI_RE.match(line)) and m[1] in RI:
            op, imm = m[1], int(m[2], 0) & M64
            results = [int(r, 16) for r in m[3].split()]
            assert len(results) == len(VALS), line
            for a, r in zip(VALS, results):
                expect(f"{op} {a:#x} imm {m[2]}", RI[op](a, imm), r)
            continue
        if (m := BRCROSS_RE.match(line)) and m[1] in BR:
            op, a = m[1], int(m[2], 16)
            rows.setdefault(op, []).append(a)
            pairs = m[3].split()
            assert len(pairs) == len(VALS), line
            for b, pair in zip(VALS, pairs):
                want = "11" if BR[op](a, b) else "00"
                checked += 1
                if pair != want:
                    errors.append(f"{op} {a:#x} {b:#x}: model {want}, recorded {pair}")
            continue
        if m := CONST_RE.match(line):
            op, a, b, r = m[1], _num(m[2]), _num(m[3]), int(m[4], 16)
            if a is None or b is None:
                continue
            if op in ALL:
                expect(f"{op} {m[2]} {m[3]}", ALL[op](a, b), r)
            elif op in BR:
                expect(f"{op} {m[2]} {m[3]}", int(BR[op](a, b)), r)
    for op, seen in rows.items():
        if seen != VALS:
            errors.append(f"{op}: row operands {[hex(v) for v in seen]} are not the VALS table")
    return checked, errors


@pytest.mark.parametrize("name", MODEL_FILES)
def test_recording_matches_model(name: str) -> None:
    exp = _expected(name)
    checked, errors = check_against_model(exp.stdout.decode())
    assert checked >= 100, f"{name}: only {checked} results recognised; output format changed?"
    assert not errors, f"{name}: {len(errors)} results disagree with the model:\n" + "\n".join(errors[:20])
