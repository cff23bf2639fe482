"""Differential tests of the RV64GC programs in tests/guest/bin_linux/ (glibc static and
dynamic, freestanding F/D instruction tests, self-modifying code, atomics, CSRs, faults):
under tcgjit each must produce exactly the stdout bytes and exit status recorded from
qemu-riscv64 in tests/guest/expected_linux/ (and its recorded stderr must appear in
tcgjit's stderr). Dynamically linked programs run with `-L /usr/riscv64-linux-gnu`, some
programs get `-E VAR=VALUE` options (tests/guest_runner.LINUX.run_opts), the same for
qemu-riscv64 and tcgjit.

Also checked, independently of tcgjit:
- the recordings are still what qemu-riscv64 says (when it is installed);
- the F/D results (value and fflags, every rounding mode) recorded from fp_arith, fp_fma,
  fp_cvt and fp_misc agree with an exact Python model of IEEE 754 / the RISC-V F and D
  extensions (so a qemu bug cannot silently become the expectation);
- every binary has a recording and vice versa, and the committed binaries are what the
  sources build to (when the same cross toolchain and cross glibc are installed).

Rebuild / re-record with `python -m tools.build_guests --group linux --record`.
"""

from __future__ import annotations

import math
import re
import shutil
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import guest_runner as gr  # noqa: E402


SUITE = gr.LINUX
PROGRAMS = SUITE.programs()
RERECORD = "re-record with: python -m tools.build_guests --group linux --record"


def _expected(name: str) -> gr.Expected:
    exp = SUITE.load_expected(name)
    if exp is None:
        pytest.fail(f"no recorded expectation for {name} in {SUITE.expected_dir}; {RERECORD}")
    return exp


def _skip_without_sysroot(name: str) -> None:
    if SUITE.is_dynamic(name) and not gr.sysroot_available():
        pytest.skip(f"{name} is dynamically linked and {gr.SYSROOT} has no RISC-V glibc "
                    "(apt-get install libc6-riscv64-cross)")


@pytest.mark.parametrize("name", PROGRAMS)
def test_linux_program(name: str) -> None:
    exp = _expected(name)
    _skip_without_sysroot(name)
    gr.check_tcgjit_result(name, exp, lambda: SUITE.run_tcgjit(name))


@pytest.mark.skipif(gr.qemu_path() is None, reason="qemu-riscv64 not installed")
@pytest.mark.parametrize("name", PROGRAMS)
def test_recording_matches_qemu(name: str) -> None:
    exp = _expected(name)
    _skip_without_sysroot(name)
    res = SUITE.run_qemu(name)
    assert res is not None
    gr.check_recording(name, exp, res, RERECORD)


def test_every_program_is_recorded() -> None:
    assert PROGRAMS, (f"no guest binaries in {SUITE.bin_dir}; build with "
                      "python -m tools.build_guests --group linux")
    recorded = {p.name.rsplit(".", 1)[0] for p in SUITE.expected_dir.glob("*.status")}
    assert sorted(recorded) == PROGRAMS, (
        f"binaries without recording: {sorted(set(PROGRAMS) - recorded)}; "
        f"recordings without binary: {sorted(recorded - set(PROGRAMS))}; {RERECORD}")
    for name in PROGRAMS:
        out = SUITE.load_expected(name)
        assert out is not None
        for bad in (b"WRONG", b"NEIGHBOUR-CLOBBERED", b"ORDERING-VARIANTS-DIFFER", b"not reached"):
            assert bad not in out.stdout, f"{name}: recorded output contains {bad!r}"


@pytest.mark.skipif(shutil.which("riscv64-linux-gnu-gcc") is None,
                    reason="riscv64-linux-gnu-gcc not installed")
def test_binaries_match_sources(tmp_path: Path) -> None:
    recorded_toolchain = gr.GUEST_DIR / "toolchain_linux.txt"
    version = subprocess.run([sys.executable, "-m", "tools.build_guests", "--group", "linux",
                              "--toolchain-version"], cwd=gr.REPO_ROOT, capture_output=True,
                             text=True)
    assert version.returncode == 0, version.stderr
    if not recorded_toolchain.is_file() or recorded_toolchain.read_text() != version.stdout:
        pytest.skip("the installed cross toolchain / glibc is not the one that built the binaries")
    res = subprocess.run([sys.executable, "-m", "tools.build_guests", "--group", "linux",
                          "--out-dir", str(tmp_path)], cwd=gr.REPO_ROOT, capture_output=True,
                         text=True)
    assert res.returncode == 0, res.stdout + res.stderr
    built = sorted(p.name for p in tmp_path.iterdir())
    assert built == PROGRAMS
    stale = [n for n in built if (tmp_path / n).read_bytes() != SUITE.binary_path(n).read_bytes()]
    assert not stale, f"committed binaries differ from their sources: {stale}; {RERECORD}"


def test_committed_binaries_are_modest() -> None:
    total = sum(SUITE.binary_path(n).stat().st_size for n in PROGRAMS)
    assert total < 25 * 1024 * 1024, f"tests/guest/bin_linux holds {total} bytes"


# ---------------------------------------------------------------------------
# An exact model of the F and D extensions (IEEE 754-2008 binary32 / binary64 with the
# RISC-V choices: canonical NaN results, tininess detected after rounding, fcvt
# saturation, NaN-boxing of singles), checked against the fp_* recordings.

NX, UF, OF, DZ, NV = 1, 2, 4, 8, 16
RMS = ("rne", "rtz", "rdn", "rup", "rmm")


class Fmt:
    def __init__(self, name: str, bits: int, p: int, ebits: int) -> None:
        self.name, self.bits, self.p, self.ebits = name, bits, p, ebits
        self.bias = (1 << (ebits - 1)) - 1
        self.emin = 1 - self.bias
        self.emax = self.bias
        self.mask = (1 << bits) - 1
        self.sign = 1 << (bits - 1)
        self.inf = ((1 << ebits) - 1) << (p - 1)
        self.qnan = self.inf | (1 << (p - 2))          # the canonical NaN
        self.max = Fraction((1 << p) - 1) * Fraction(2) ** (self.emax - p + 1)


S = Fmt("s", 32, 24, 8)
D = Fmt("d", 64, 53, 11)
M64 = (1 << 64) - 1


def unbox(reg: int, f: Fmt) -> int:
    """The value a register holds for format f (a single must be NaN-boxed)."""
    if f is S:
        return reg & 0xffffffff if reg >> 32 == 0xffffffff else S.qnan
    return reg


def box(bits: int, f: Fmt) -> int:
    return (0xffffffff00000000 | bits) if f is S else bits


def is_nan(b: int, f: Fmt) -> bool:
    return (b & ~f.sign & f.mask) > f.inf


def is_snan(b: int, f: Fmt) -> bool:
    return is_nan(b, f) and not b & (1 << (f.p - 2))


def is_inf(b: int, f: Fmt) -> bool:
    return (b & ~f.sign & f.mask) == f.inf


def neg(b: int, f: Fmt) -> bool:
    return bool(b & f.sign)


def value(b: int, f: Fmt) -> Fraction:
    """Exact value of a finite encoding (sign included; -0 gives 0)."""
    e = (b >> (f.p - 1)) & ((1 << f.ebits) - 1)
    m = b & ((1 << (f.p - 1)) - 1)
    if e == 0:
        v = Fraction(m) * Fraction(2) ** (f.emin - f.p + 1)
    else:
        v = Fraction(m | (1 << (f.p - 1))) * Fraction(2) ** (e - f.bias - f.p + 1)
    return -v if neg(b, f) else v


def _round_int(x: Fraction, negative: bool, rm: str) -> int:
    """Round a non-negative magnitude x to an integer, for a value of the given sign."""
    fl = x.numerator // x.denominator
    rem = x - fl
    if rem == 0:
        return fl
    if rm == "rtz":
        return fl
    if rm == "rdn":
        return fl + 1 if negative else fl
    if rm == "rup":
        return fl if negative else fl + 1
    half = Fraction(1, 2)
    if rm == "rmm":
        return fl + 1 if rem >= half else fl
    if rem > half or (rem == half and fl & 1):
        return fl + 1
    return fl


def _ilog2(x: Fraction) -> int:
    """floor(log2(x)) for x > 0."""
    e = x.numerator.bit_length() - x.denominator.bit_length()
    if Fraction(2) ** e > x:
        e -= 1
    return e


def round_to(v: Fraction, negative: bool, f: Fmt, rm: str, sticky: bool = False) -> tuple[int, int]:
    """Encode the (nonzero, or zero) magnitude v with the given sign, rounding per rm.
    sticky: the true value is slightly above v (v is a midpoint stand-in, see fsqrt)."""
    sign = f.sign if negative else 0
    if v == 0:
        return sign, 0
    e = _ilog2(v)
    q = Fraction(2) ** (max(e, f.emin) - f.p + 1)
    m = _round_int(v / q, negative, rm)
    inexact = m * q != v or sticky
    flags = NX if inexact else 0
    # tininess after rounding: round to p bits with an unbounded exponent range
    q_unb = Fraction(2) ** (e - f.p + 1)
    r_unb = _round_int(v / q_unb, negative, rm) * q_unb
    if r_unb < Fraction(2) ** f.emin and inexact:
        flags |= UF
    r = m * q
    if r > f.max:
        flags |= OF | NX
        to_inf = rm in ("rne", "rmm") or (rm == "rup" and not negative) or (rm == "rdn" and negative)
        return sign | (f.inf if to_inf else _encode(f.max, f)), flags
    return sign | _encode(r, f), flags


def _encode(r: Fraction, f: Fmt) -> int:
    if r == 0:
        return 0
    e = _ilog2(r)
    if e < f.emin:  # subnormal
        return int(r / Fraction(2) ** (f.emin - f.p + 1))
    m = r / Fraction(2) ** (e - f.p + 1)
    assert m.denominator == 1
    return ((e + f.bias) << (f.p - 1)) | (int(m) & ((1 << (f.p - 1)) - 1))


def _exact_result(v: Fraction, f: Fmt, rm: str, zero_sign: bool) -> tuple[int, int]:
    """Round an exact rational result; zero_sign is the sign of an exact zero."""
    if v == 0:
        return (f.sign if zero_sign else 0), 0
    return round_to(abs(v), v < 0, f, rm)


def _nan_result(ins: list[int], f: Fmt, invalid: bool) -> tuple[int, int]:
    flags = NV if invalid or any(is_snan(b, f) for b in ins) else 0
    return f.qnan, flags


def _zero_sum_sign(both_zero: bool, sign_a: bool, sign_b: bool, rm: str) -> bool:
    """Sign of an exact zero sum: (+0)+(+0) = +0, (-0)+(-0) = -0, otherwise +0 except
    in rdn (IEEE 754 6.3)."""
    if both_zero and sign_a == sign_b:
        return sign_a
    return rm == "rdn"


def fadd(a: int, b: int, f: Fmt, rm: str, subtract: bool = False) -> tuple[int, int]:
    if subtract and not is_nan(b, f):
        b ^= f.sign
    if is_nan(a, f) or is_nan(b, f):
        return _nan_result([a, b], f, False)
    if is_inf(a, f) or is_inf(b, f):
        if is_inf(a, f) and is_inf(b, f) and neg(a, f) != neg(b, f):
            return f.qnan, NV
        return (a if is_inf(a, f) else b), 0
    va, vb = value(a, f), value(b, f)
    zs = _zero_sum_sign(va == 0 and vb == 0, neg(a, f), neg(b, f), rm)
    return _exact_result(va + vb, f, rm, zs)


def fmul(a: int, b: int, f: Fmt, rm: str) -> tuple[int, int]:
    if is_nan(a, f) or is_nan(b, f):
        return _nan_result([a, b], f, False)
    sign = neg(a, f) != neg(b, f)
    if is_inf(a, f) or is_inf(b, f):
        other = b if is_inf(a, f) else a
        if not is_inf(other, f) and value(other, f) == 0:
            return f.qnan, NV
        return (f.sign if sign else 0) | f.inf, 0
    return _exact_result(value(a, f) * value(b, f), f, rm, sign)


def fdiv(a: int, b: int, f: Fmt, rm: str) -> tuple[int, int]:
    if is_nan(a, f) or is_nan(b, f):
        return _nan_result([a, b], f, False)
    sign = neg(a, f) != neg(b, f)
    s = f.sign if sign else 0
    if is_inf(a, f):
        return (f.qnan, NV) if is_inf(b, f) else (s | f.inf, 0)
    if is_inf(b, f):
        return s, 0
    if value(b, f) == 0:
        return (f.qnan, NV) if value(a, f) == 0 else (s | f.inf, DZ)
    return _exact_result(value(a, f) / value(b, f), f, rm, sign)


def fsqrt(a: int, f: Fmt, rm: str) -> tuple[int, int]:
    if is_nan(a, f):
        return _nan_result([a], f, False)
    if is_inf(a, f):
        return (f.qnan, NV) if neg(a, f) else (a, 0)
    v = value(a, f)
    if v == 0:
        return a, 0
    if v < 0:
        return f.qnan, NV
    t = 1200
    scaled = v * Fraction(2) ** (2 * t)
    assert scaled.denominator == 1
    n = int(scaled)
    r = math.isqrt(n)
    if r * r == n:
        return round_to(Fraction(r, 1 << t), False, f, rm)
    # strictly between r and r+1 (in units of 2^-t): a midpoint has the same rounding
    return round_to(Fraction(2 * r + 1, 1 << (t + 1)), False, f, rm, sticky=True)


def ffma(a: int, b: int, c: int, f: Fmt, rm: str, neg_prod: bool, neg_add: bool) -> tuple[int, int]:
    """(+-a*b) + (+-c) fused."""
    prod_invalid = ((is_inf(a, f) and not is_nan(b, f) and not is_inf(b, f) and value(b, f) == 0) or
                    (is_inf(b, f) and not is_nan(a, f) and not is_inf(a, f) and value(a, f) == 0))
    if prod_invalid:
        return f.qnan, NV       # even when c is a quiet NaN
    if is_nan(a, f) or is_nan(b, f) or is_nan(c, f):
        return _nan_result([a, b, c], f, False)
    psign = (neg(a, f) != neg(b, f)) != neg_prod
    csign = neg(c, f) != neg_add
    if is_inf(a, f) or is_inf(b, f):
        if is_inf(c, f) and psign != csign:
            return f.qnan, NV
        return (f.sign if psign else 0) | f.inf, 0
    if is_inf(c, f):
        return (f.sign if csign else 0) | f.inf, 0
    p = value(a, f) * value(b, f)
    p = -p if neg_prod else p
    cv = value(c, f)
    cv = -cv if neg_add else cv
    zs = _zero_sum_sign(p == 0 and cv == 0, psign, csign, rm)
    return _exact_result(p + cv, f, rm, zs)


def fcvt_to_int(a: int, f: Fmt, rm: str, bits: int, signed: bool) -> tuple[int, int]:
    lo = -(1 << (bits - 1)) if signed else 0
    hi = (1 << (bits - 1)) - 1 if signed else (1 << bits) - 1
    if is_nan(a, f):
        r, flags = hi, NV
    elif is_inf(a, f):
        r, flags = (lo if neg(a, f) else hi), NV
    else:
        v = value(a, f)
        m = _round_int(abs(v), v < 0, rm)
        r = -m if v < 0 else m
        if r < lo or r > hi:
            r, flags = (lo if v < 0 else hi), NV
        else:
            flags = NX if r != v else 0
    if bits == 32:  # results are sign-extended from 32 bits, also the unsigned ones
        r &= 0xffffffff
        if r >> 31:
            r |= 0xffffffff00000000
    return r & M64, flags


def fcvt_from_int(x: int, f: Fmt, rm: str, bits: int, signed: bool) -> tuple[int, int]:
    x &= (1 << bits) - 1
    if signed and x >> (bits - 1):
        x -= 1 << bits
    if x == 0:
        return 0, 0
    return round_to(Fraction(abs(x)), x < 0, f, rm)


def fcvt_float(a: int, src: Fmt, dst: Fmt, rm: str) -> tuple[int, int]:
    if is_nan(a, src):
        return dst.qnan, NV if is_snan(a, src) else 0
    s = dst.sign if neg(a, src) else 0
    if is_inf(a, src):
        return s | dst.inf, 0
    v = value(a, src)
    if v == 0:
        return s, 0
    return round_to(abs(v), v < 0, dst, rm)


def fclass(a: int, f: Fmt) -> int:
    n = neg(a, f)
    if is_inf(a, f):
        return 1 if n else 1 << 7
    if is_nan(a, f):
        return 1 << 8 if is_snan(a, f) else 1 << 9
    e = (a >> (f.p - 1)) & ((1 << f.ebits) - 1)
    if value(a, f) == 0:
        return 1 << 3 if n else 1 << 4
    if e == 0:
        return 1 << 2 if n else 1 << 5
    return 1 << 1 if n else 1 << 6


def fminmax(a: int, b: int, f: Fmt, is_max: bool) -> tuple[int, int]:
    flags = NV if is_snan(a, f) or is_snan(b, f) else 0
    if is_nan(a, f) and is_nan(b, f):
        return f.qnan, flags
    if is_nan(a, f):
        return b, flags
    if is_nan(b, f):
        return a, flags
    va, vb = value(a, f), value(b, f)
    if va == vb:  # only the zeros differ: -0 < +0
        pick_a = neg(a, f) != is_max
        return (a if pick_a else b), flags
    return (a if (va > vb) == is_max else b), flags


def fcmp(a: int, b: int, f: Fmt, op: str) -> tuple[int, int]:
    if is_nan(a, f) or is_nan(b, f):
        if op == "eq":
            return 0, NV if is_snan(a, f) or is_snan(b, f) else 0
        return 0, NV
    va, vb = value(a, f), value(b, f)
    return int({"eq": va == vb, "lt": va < vb, "le": va <= vb}[op]), 0


def fsgnj(a: int, b: int, f: Fmt, kind: str) -> int:
    sa, sb = a & f.sign, b & f.sign
    s = {"sgnj": sb, "sgnjn": sb ^ f.sign, "sgnjx": sa ^ sb}[kind]
    return (a & ~f.sign & f.mask) | s


# --- parsing the recordings ---------------------------------------------------------

RF = r"([0-9a-f]+)/([0-9a-f]{2})"
RM_LINE = re.compile(r"^(\S+)((?: [0-9a-f]+)+): (.*)$")
CONV_INT = {"w": (32, True), "wu": (32, False), "l": (64, True), "lu": (64, False)}


def _reg(text: str) -> int:
    """A register value as printed: 8 hex digits are a NaN-boxed single."""
    v = int(text, 16)
    return box(v, S) if len(text) == 8 else v


def _parse_results(text: str) -> list[tuple[int, int]] | None:
    """`R/F` (all modes agree) or `rne R/F ... rmm R/F`; returns 5 (result, flags)."""
    m = re.fullmatch(RF, text)
    if m:
        return [(_reg(m[1]), int(m[2], 16))] * 5
    if " | dyn" in text:  # a dynamic-rm result differs from the static one
        return None
    parts = re.findall(r"(rne|rtz|rdn|rup|rmm) " + RF, text)
    if [p[0] for p in parts] != list(RMS):
        return None
    return [(_reg(r), int(fl, 16)) for _, r, fl in parts]


def _model_rm_op(name: str, regs: list[int], rm: str) -> tuple[int, int] | None:
    op, _, suffix = name.partition(".")
    if name.startswith("fcvt."):
        dst, src = name.split(".")[1:3]
        if dst in CONV_INT and src in ("s", "d"):
            f = S if src == "s" else D
            return fcvt_to_int(unbox(regs[0], f), f, rm, *CONV_INT[dst])
        if src in CONV_INT and dst in ("s", "d"):
            f = S if dst == "s" else D
            r, fl = fcvt_from_int(regs[0], f, rm, *CONV_INT[src])
            return box(r, f), fl
        if (dst, src) == ("s", "d"):
            r, fl = fcvt_float(regs[0], D, S, rm)
            return box(r, S), fl
        if (dst, src) == ("d", "s"):
            return fcvt_float(unbox(regs[0], S), S, D, rm)
        return None
    f = {"s": S, "d": D}.get(suffix)
    if f is None:
        return None
    ins = [unbox(r, f) for r in regs]
    if op in ("fadd", "fsub"):
        r, fl = fadd(ins[0], ins[1], f, rm, subtract=op == "fsub")
    elif op == "fmul":
        r, fl = fmul(ins[0], ins[1], f, rm)
    elif op == "fdiv":
        r, fl = fdiv(ins[0], ins[1], f, rm)
    elif op == "fsqrt":
        r, fl = fsqrt(ins[0], f, rm)
    elif op in ("fmadd", "fmsub", "fnmadd", "fnmsub"):
        neg_prod = op.startswith("fnm")
        neg_add = op in ("fmsub", "fnmadd")
        r, fl = ffma(ins[0], ins[1], ins[2], f, rm, neg_prod, neg_add)
    else:
        return None
    return box(r, f), fl


def _sext32(v: int) -> int:
    v &= 0xffffffff
    return (v | 0xffffffff00000000) if v >> 31 else v


# moves: bit-exact, fmv.x.w sign-extends the low word, fmv.w.x NaN-boxes it
MOVES = {
    "fmv.x.w": lambda r: _sext32(r),
    "fmv.x.d": lambda r: r,
    "fmv.w.x": lambda r: box(r & 0xffffffff, S),
    "fmv.d.x": lambda r: r,
}


def _model_nr_op(prefix: str, op: str, regs: list[int]) -> tuple[int, int] | None:
    if prefix == "mv" and op in MOVES:
        return MOVES[op](regs[0]), 0
    fmt_hint = {"s": S, "d": D, "unboxed": S}.get(prefix)
    if fmt_hint is None:
        return None
    if op in ("fadd.s", "fadd.d", "fsqrt.s"):
        return _model_rm_op(op, regs, "rne")
    f = S if op.endswith(".s") or (fmt_hint is S and "." not in op) else D
    ins = [unbox(r, f) for r in regs]
    if op in ("sgnj", "sgnjn", "sgnjx"):
        return box(fsgnj(ins[0], ins[1], f, op), f), 0
    if op in ("min", "max"):
        r, fl = fminmax(ins[0], ins[1], f, op == "max")
        return box(r, f), fl
    if op in ("eq", "lt", "le"):
        return fcmp(ins[0], ins[1], f, op)
    if op.startswith("fclass."):
        return fclass(ins[0], f), 0
    if op.startswith(("fmv.", "fneg.", "fabs.")):
        kind = {"fmv": "sgnj", "fneg": "sgnjn", "fabs": "sgnjx"}[op.split(".")[0]]
        return box(fsgnj(ins[0], ins[0], f, kind), f), 0
    return None


def check_fp_recording(text: str) -> tuple[int, list[str]]:
    """Returns (number of results checked, disagreements)."""
    checked = 0
    errors: list[str] = []
    for line in text.splitlines():
        m = RM_LINE.match(line)
        if not m or line.startswith("#"):
            continue
        name, ops_text, rest = m[1], m[2].split(), m[3]
        regs = [_reg(t) for t in ops_text]
        if "(" in name:
            continue
        if name.startswith("f"):
            results = _parse_results(rest)
            if results is None:
                errors.append(f"{line}\n    unrecognised results")
                continue
            for rm, (got_r, got_f) in zip(RMS, results):
                want = _model_rm_op(name, regs, rm)
                if want is None:
                    break
                checked += 1
                want_r, want_f = want
                if (want_r, want_f) != (got_r, got_f):
                    errors.append(f"{line}\n    {rm}: model {want_r:x}/{want_f:02x}, "
                                  f"recorded {got_r:x}/{got_f:02x}")
            continue
        pairs = re.findall(r"(\S+) " + RF, rest)
        for op, r_text, f_text in pairs:
            want = _model_nr_op(name, op, regs)
            if want is None:
                continue
            checked += 1
            got_r = _reg(r_text)
            if want != (got_r, int(f_text, 16)):
                errors.append(f"{line}\n    {op}: model {want[0]:x}/{want[1]:02x}, "
                              f"recorded {got_r:x}/{f_text}")
    return checked, errors


LDST_RE = re.compile(r"^ldst ([0-9a-f]{16}) \+\d+ imm -?\d+: flw ([0-9a-f]{16}) fld ([0-9a-f]{16}) "
                     r"fsw ([0-9a-f]{16}) fsw-unboxed ([0-9a-f]{16}) fsd ([0-9a-f]{16}) "
                     r"before a5a5a5a5a5a5a5a5 after a5a5a5a5a5a5a5a5$")
COMPRESSED_RE = re.compile(r"^compressed ([0-9a-f]{16}): c\.fsd/c\.fld \1 mem \1 "
                           r"c\.fsdsp/c\.fldsp \1 mem \1$")


def check_loads_stores(text: str) -> tuple[int, list[str]]:
    """fp_misc's ldst / compressed lines: loads and stores never change bits, flw
    NaN-boxes, fsw stores the low word whatever the boxing, neighbours untouched."""
    checked, errors = 0, []
    for line in text.splitlines():
        if line.startswith("compressed "):
            checked += 1
            if not COMPRESSED_RE.match(line):
                errors.append(line)
        if not line.startswith("ldst "):
            continue
        checked += 1
        m = LDST_RE.match(line)
        if not m:
            errors.append(line)
            continue
        pat, flw, fld, fsw, fsw2, fsd = (int(g, 16) for g in m.groups())
        want = (box(pat & 0xffffffff, S), pat, (pat & ~0xffffffff) | 0xf0e1d2c3, pat,
                pat ^ 0x8000000000000001)
        if (flw, fld, fsw, fsw2, fsd) != want:
            errors.append(line)
    return checked, errors


FP_MODEL_FILES = {"fp_arith": 14000, "fp_fma": 21000, "fp_cvt": 3500, "fp_misc": 6000}


@pytest.mark.parametrize("name", sorted(FP_MODEL_FILES))
def test_fp_recording_matches_model(name: str) -> None:
    exp = _expected(name)
    checked, errors = check_fp_recording(exp.stdout.decode())
    assert checked >= FP_MODEL_FILES[name], (
        f"{name}: only {checked} results recognised; output format changed?")
    assert not errors, (f"{name}: {len(errors)} recorded results disagree with the model:\n"
                        + "\n".join(errors[:15]))


def test_fp_loads_stores_recording() -> None:
    checked, errors = check_loads_stores(_expected("fp_misc").stdout.decode())
    assert checked >= 100, f"fp_misc: only {checked} load/store lines recognised"
    assert not errors, "fp_misc load/store lines disagree:\n" + "\n".join(errors[:10])
