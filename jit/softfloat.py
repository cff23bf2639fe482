"""Exact IEEE 754-2008 binary32 / binary64 arithmetic with the RISC-V F and D choices.

This module is the definition of what the IR's floating-point ops compute (jit/ir.py takes its
op semantics from here, the reference interpreter runs them, and the x86 backend calls them for
the cases its native sequences do not cover: RMM, improperly boxed singles, a static rounding
mode other than the current one, hosts without FMA3/SSE4.1).

The RISC-V choices (which the IR adopts as its own FP conventions):
- results that are NaN are always the canonical NaN (0x7ff8000000000000 / 0x7fc00000), never a
  propagated payload;
- tininess is detected after rounding; UF is raised only for a tiny *and* inexact result;
- exception flags in fflags bit order: NV DZ OF UF NX = 16 8 4 2 1;
- rounding modes in frm encoding: RNE RTZ RDN RUP RMM = 0..4 (DYN = 7 in an instruction);
- float -> integer conversions saturate and raise NV (only NV) when the rounded value is out of
  range; a NaN converts to the largest positive integer; 32-bit results are sign-extended to 64
  bits (the unsigned ones too);
- min/max are IEEE 754-2019 minimumNumber/maximumNumber (-0 < +0, a quiet NaN operand loses,
  a signalling NaN raises NV, two NaNs give the canonical NaN);
- feq is a quiet comparison (NV only for a signalling NaN), flt/fle are signalling (NV for any
  NaN operand);
- a single lives NaN-boxed in a 64-bit register (upper 32 bits all ones); a register that is not
  properly boxed reads as the canonical single NaN. `box32`/`unbox32` and the `rv_*` functions
  work on register values.

Everything is computed with Python integers: a finite operand is m * 2**e (m, e integers), the
exact result of the operation is formed (sums are aligned exactly, quotients and square roots
carry two guard bits and a sticky bit) and rounded once by `round_pack`. Results are
(bits, flags) pairs.
"""
from __future__ import annotations

from math import isqrt
from typing import Callable

MASK64 = (1 << 64) - 1

# Exception flags (fflags bits).
NX, UF, OF, DZ, NV = 1, 2, 4, 8, 16
FLAGS_MASK = 0x1F
# Rounding modes (frm encoding; DYN = "use frm" in an instruction's rm field).
RNE, RTZ, RDN, RUP, RMM = 0, 1, 2, 3, 4
DYN = 7
RM_NAMES = {RNE: "rne", RTZ: "rtz", RDN: "rdn", RUP: "rup", RMM: "rmm", DYN: "dyn"}
VALID_RMS = (RNE, RTZ, RDN, RUP, RMM)


class Format:
    """An IEEE binary format: `p` bits of precision (hidden bit included), `ebits` exponent
    bits."""

    def __init__(self, name: str, bits: int, p: int, ebits: int):
        self.name = name
        self.bits = bits
        self.p = p
        self.ebits = ebits
        self.bias = (1 << (ebits - 1)) - 1
        self.emin = 1 - self.bias
        self.emax = self.bias
        self.mask = (1 << bits) - 1
        self.sign = 1 << (bits - 1)
        self.abs_mask = self.mask ^ self.sign
        self.frac_mask = (1 << (p - 1)) - 1
        self.hidden = 1 << (p - 1)
        self.exp_mask = (1 << ebits) - 1
        self.inf = self.exp_mask << (p - 1)
        self.quiet = 1 << (p - 2)
        self.qnan = self.inf | self.quiet           # the canonical NaN
        self.max_finite = self.inf - 1
        self.min_quantum = self.emin - p + 1        # exponent of the least subnormal

    def __repr__(self) -> str:
        return f"<Format {self.name}>"


F32 = Format("s", 32, 24, 8)
F64 = Format("d", 64, 53, 11)


# --------------------------------------------------------------------------------------------
# Classification


def is_nan(f: Format, x: int) -> bool:
    return (x & f.abs_mask) > f.inf


def is_snan(f: Format, x: int) -> bool:
    return (x & f.abs_mask) > f.inf and not x & f.quiet


def is_inf(f: Format, x: int) -> bool:
    return (x & f.abs_mask) == f.inf


def is_zero(f: Format, x: int) -> bool:
    return not x & f.abs_mask


def _unpack(f: Format, x: int) -> tuple[int, int]:
    """(m, e) with |x| = m * 2**e, for a finite x."""
    biased = (x >> (f.p - 1)) & f.exp_mask
    frac = x & f.frac_mask
    if biased:
        return frac | f.hidden, biased - f.bias - f.p + 1
    return frac, f.min_quantum


def _nan_result(f: Format, *operands: int) -> tuple[int, int]:
    """The canonical NaN, with NV when an operand is a signalling NaN."""
    return f.qnan, NV if any(is_snan(f, x) for x in operands) else 0


# --------------------------------------------------------------------------------------------
# Rounding


def _shift_round(m: int, shift: int, rm: int, negative: bool) -> tuple[int, bool]:
    """m / 2**shift rounded to an integer per rm (for a value of the given sign); (result,
    inexact). shift > 0."""
    q = m >> shift
    rem = m - (q << shift)
    if not rem:
        return q, False
    if rm == RNE:
        half = 1 << (shift - 1)
        if rem > half or (rem == half and q & 1):
            q += 1
    elif rm == RDN:
        if negative:
            q += 1
    elif rm == RUP:
        if not negative:
            q += 1
    elif rm == RMM:
        if rem >= 1 << (shift - 1):
            q += 1
    # RTZ: truncate
    return q, True


def _overflow_result(f: Format, negative: bool, rm: int) -> int:
    sign = f.sign if negative else 0
    if rm in (RNE, RMM) or (rm == RUP and not negative) or (rm == RDN and negative):
        return sign | f.inf
    return sign | f.max_finite


def round_pack(f: Format, negative: bool, m: int, e: int, rm: int) -> tuple[int, int]:
    """Encode (-1)**negative * m * 2**e (m > 0) in format f, rounded per rm: (bits, flags)."""
    p = f.p
    top = e + m.bit_length() - 1              # exponent of the leading bit
    q = (top if top > f.emin else f.emin) - p + 1
    shift = q - e
    flags = 0
    if shift <= 0:
        mr = m << -shift
    else:
        mr, inexact = _shift_round(m, shift, rm, negative)
        if inexact:
            flags = NX
            if top < f.emin:
                # Tininess after rounding: tiny unless rounding to p bits with an unbounded
                # exponent range carries up to 2**emin.
                tiny = True
                if top == f.emin - 1:
                    unbounded_shift = top - p + 1 - e
                    if unbounded_shift > 0:
                        mu, _ = _shift_round(m, unbounded_shift, rm, negative)
                        tiny = mu >> p == 0
                if tiny:
                    flags |= UF
    if mr >> p:                                # rounding carried out: 2**p
        mr >>= 1
        q += 1
    sign = f.sign if negative else 0
    if mr >> (p - 1):                          # normal
        biased = q + p - 1 + f.bias
        if biased >= f.exp_mask:
            return _overflow_result(f, negative, rm), OF | NX
        return sign | (biased << (p - 1)) | (mr & f.frac_mask), flags
    return sign | mr, flags                    # subnormal (q is the least quantum) or zero


# --------------------------------------------------------------------------------------------
# Arithmetic on format bits


def _zero_sum_sign(both_zero: bool, neg_a: bool, neg_b: bool, rm: int) -> bool:
    """Sign of an exact zero sum (IEEE 754 6.3): x + x keeps x's sign for zeros of one sign;
    any other exact zero is +0, except -0 when rounding down."""
    if both_zero and neg_a == neg_b:
        return neg_a
    return rm == RDN


def _signed_sum(f: Format, neg_a: bool, ma: int, ea: int, neg_b: bool, mb: int, eb: int,
                rm: int) -> tuple[int, int]:
    """Round (+-ma * 2**ea) + (+-mb * 2**eb), both finite."""
    if not ma and not mb:
        return (f.sign if _zero_sum_sign(True, neg_a, neg_b, rm) else 0), 0
    e = ea if ea < eb else eb
    a = ma << (ea - e)
    b = mb << (eb - e)
    total = (-a if neg_a else a) + (-b if neg_b else b)
    if not total:
        return (f.sign if _zero_sum_sign(False, neg_a, neg_b, rm) else 0), 0
    if total < 0:
        return round_pack(f, True, -total, e, rm)
    return round_pack(f, False, total, e, rm)


def add(f: Format, a: int, b: int, rm: int) -> tuple[int, int]:
    if is_nan(f, a) or is_nan(f, b):
        return _nan_result(f, a, b)
    neg_a, neg_b = bool(a & f.sign), bool(b & f.sign)
    if is_inf(f, a):
        if is_inf(f, b) and neg_a != neg_b:
            return f.qnan, NV
        return a, 0
    if is_inf(f, b):
        return b, 0
    ma, ea = _unpack(f, a)
    mb, eb = _unpack(f, b)
    if not ma and mb:
        return b, 0
    if not mb and ma:
        return a, 0
    return _signed_sum(f, neg_a, ma, ea, neg_b, mb, eb, rm)


def sub(f: Format, a: int, b: int, rm: int) -> tuple[int, int]:
    return add(f, a, b ^ f.sign, rm)


def mul(f: Format, a: int, b: int, rm: int) -> tuple[int, int]:
    if is_nan(f, a) or is_nan(f, b):
        return _nan_result(f, a, b)
    negative = bool((a ^ b) & f.sign)
    sign = f.sign if negative else 0
    if is_inf(f, a) or is_inf(f, b):
        if is_zero(f, a) or is_zero(f, b):
            return f.qnan, NV
        return sign | f.inf, 0
    ma, ea = _unpack(f, a)
    mb, eb = _unpack(f, b)
    if not ma or not mb:
        return sign, 0
    return round_pack(f, negative, ma * mb, ea + eb, rm)


def div(f: Format, a: int, b: int, rm: int) -> tuple[int, int]:
    if is_nan(f, a) or is_nan(f, b):
        return _nan_result(f, a, b)
    negative = bool((a ^ b) & f.sign)
    sign = f.sign if negative else 0
    if is_inf(f, a):
        return (f.qnan, NV) if is_inf(f, b) else (sign | f.inf, 0)
    if is_inf(f, b):
        return sign, 0
    if is_zero(f, b):
        return (f.qnan, NV) if is_zero(f, a) else (sign | f.inf, DZ)
    if is_zero(f, a):
        return sign, 0
    ma, ea = _unpack(f, a)
    mb, eb = _unpack(f, b)
    # A quotient of at least p + 3 bits, then a sticky bit for the remainder.
    k = f.p + 3 + mb.bit_length() - ma.bit_length()
    if k < 0:
        k = 0
    q, r = divmod(ma << k, mb)
    return round_pack(f, negative, (q << 1) | (r != 0), ea - eb - k - 1, rm)


def sqrt(f: Format, a: int, rm: int) -> tuple[int, int]:
    if is_nan(f, a):
        return _nan_result(f, a)
    if is_zero(f, a):
        return a, 0
    if a & f.sign:
        return f.qnan, NV
    if is_inf(f, a):
        return a, 0
    m, e = _unpack(f, a)
    if e & 1:
        m <<= 1
        e -= 1
    # A root of at least p + 3 bits, then a sticky bit.
    k = (2 * (f.p + 3) - m.bit_length() + 2) // 2
    if k < 0:
        k = 0
    scaled = m << (2 * k)
    r = isqrt(scaled)
    return round_pack(f, False, (r << 1) | (r * r != scaled), (e - 2 * k) // 2 - 1, rm)


def fma(f: Format, a: int, b: int, c: int, rm: int, negate_product: bool = False,
        negate_addend: bool = False) -> tuple[int, int]:
    """(+-a*b) + (+-c) with one rounding (RISC-V FMADD/FMSUB/FNMSUB/FNMADD)."""
    if (is_inf(f, a) and is_zero(f, b)) or (is_zero(f, a) and is_inf(f, b)):
        return f.qnan, NV          # invalid even when c is a quiet NaN (RISC-V)
    if is_nan(f, a) or is_nan(f, b) or is_nan(f, c):
        return _nan_result(f, a, b, c)
    neg_p = bool((a ^ b) & f.sign) != negate_product
    neg_c = bool(c & f.sign) != negate_addend
    if is_inf(f, a) or is_inf(f, b):
        if is_inf(f, c) and neg_p != neg_c:
            return f.qnan, NV
        return (f.sign if neg_p else 0) | f.inf, 0
    if is_inf(f, c):
        return (f.sign if neg_c else 0) | f.inf, 0
    ma, ea = _unpack(f, a)
    mb, eb = _unpack(f, b)
    mc, ec = _unpack(f, c)
    mp = ma * mb
    if not mp and mc:
        return (c & f.abs_mask) | (f.sign if neg_c else 0), 0
    if not mc and mp:
        return round_pack(f, neg_p, mp, ea + eb, rm)
    return _signed_sum(f, neg_p, mp, ea + eb, neg_c, mc, ec, rm)


def _order_key(f: Format, x: int) -> int:
    """Totally ordered key of a non-NaN value, with -0 < +0."""
    magnitude = x & f.abs_mask
    return -magnitude - 1 if x & f.sign else magnitude


def _value_key(f: Format, x: int) -> int:
    """Key of a non-NaN value for IEEE comparisons (-0 == +0)."""
    magnitude = x & f.abs_mask
    return -magnitude if x & f.sign else magnitude


def minmax(f: Format, a: int, b: int, is_max: bool) -> tuple[int, int]:
    flags = NV if is_snan(f, a) or is_snan(f, b) else 0
    nan_a, nan_b = is_nan(f, a), is_nan(f, b)
    if nan_a and nan_b:
        return f.qnan, flags
    if nan_a:
        return b, flags
    if nan_b:
        return a, flags
    a_larger = _order_key(f, a) > _order_key(f, b)
    return (a if a_larger == is_max else b), flags


def compare(f: Format, a: int, b: int, relation: str) -> tuple[int, int]:
    """feq ("eq", quiet), flt ("lt") and fle ("le", signalling): (0 or 1, flags)."""
    if is_nan(f, a) or is_nan(f, b):
        if relation == "eq":
            return 0, NV if is_snan(f, a) or is_snan(f, b) else 0
        return 0, NV
    ka, kb = _value_key(f, a), _value_key(f, b)
    if relation == "eq":
        return int(ka == kb), 0
    if relation == "lt":
        return int(ka < kb), 0
    return int(ka <= kb), 0


def classify(f: Format, x: int) -> int:
    """RISC-V FCLASS: one bit of 0..9."""
    negative = bool(x & f.sign)
    if is_inf(f, x):
        return 1 << 0 if negative else 1 << 7
    if is_nan(f, x):
        return 1 << 8 if is_snan(f, x) else 1 << 9
    if is_zero(f, x):
        return 1 << 3 if negative else 1 << 4
    if not (x >> (f.p - 1)) & f.exp_mask:
        return 1 << 2 if negative else 1 << 5
    return 1 << 1 if negative else 1 << 6


def sign_inject(f: Format, a: int, b: int, kind: str) -> int:
    """FSGNJ ("j"), FSGNJN ("jn"), FSGNJX ("jx"): a's magnitude with a sign from b."""
    if kind == "j":
        sign = b & f.sign
    elif kind == "jn":
        sign = (b ^ f.sign) & f.sign
    else:
        sign = (a ^ b) & f.sign
    return (a & f.abs_mask) | sign


def to_int(f: Format, a: int, rm: int, bits: int, signed: bool) -> tuple[int, int]:
    """FCVT.{W,WU,L,LU}: the u64 result register value (32-bit results sign-extended)."""
    lo = -(1 << (bits - 1)) if signed else 0
    hi = (1 << (bits - 1)) - 1 if signed else (1 << bits) - 1
    negative = bool(a & f.sign)
    if is_nan(f, a):
        value, flags = hi, NV
    elif is_inf(f, a):
        value, flags = (lo if negative else hi), NV
    else:
        m, e = _unpack(f, a)
        if e >= 0:
            n, inexact = m << e, False
        else:
            n, inexact = _shift_round(m, -e, rm, negative)
        value = -n if negative else n
        if value < lo or value > hi:
            value, flags = (lo if negative else hi), NV
        else:
            flags = NX if inexact else 0
    if bits == 32:
        value &= 0xFFFF_FFFF
        if value >> 31:
            value |= 0xFFFF_FFFF_0000_0000
    return value & MASK64, flags


def from_int(f: Format, x: int, rm: int, bits: int, signed: bool) -> tuple[int, int]:
    """FCVT.{S,D}.{W,WU,L,LU} of the low `bits` of x."""
    x &= (1 << bits) - 1
    if signed and x >> (bits - 1):
        x -= 1 << bits
    if not x:
        return 0, 0
    if x < 0:
        return round_pack(f, True, -x, 0, rm)
    return round_pack(f, False, x, 0, rm)


def convert(src: Format, dst: Format, a: int, rm: int) -> tuple[int, int]:
    """FCVT.S.D / FCVT.D.S."""
    if is_nan(src, a):
        return _nan_result(dst) if not is_snan(src, a) else (dst.qnan, NV)
    negative = bool(a & src.sign)
    sign = dst.sign if negative else 0
    if is_inf(src, a):
        return sign | dst.inf, 0
    if is_zero(src, a):
        return sign, 0
    m, e = _unpack(src, a)
    return round_pack(dst, negative, m, e, rm)


# --------------------------------------------------------------------------------------------
# RISC-V register values: NaN-boxing of singles


BOX_BITS = 0xFFFF_FFFF_0000_0000
CANONICAL_NAN_S = 0x7FC0_0000
CANONICAL_NAN_D = 0x7FF8_0000_0000_0000


def unbox32(reg: int) -> int:
    """The single a register holds: its low half if NaN-boxed, else the canonical NaN."""
    return reg & 0xFFFF_FFFF if reg >> 32 == 0xFFFF_FFFF else CANONICAL_NAN_S


def box32(bits: int) -> int:
    return BOX_BITS | bits


def resolve_rm(rm: int, frm: int) -> int:
    """The rounding mode an instruction uses: its static mode, or frm for DYN. An invalid frm
    (5-7) never reaches an FP op (the frontend makes the instruction illegal first); it is read
    as RNE here so that every path computes the same thing."""
    if rm != DYN:
        return rm
    return frm if frm <= RMM else RNE


# Semantics of the IR's FP ops on register values: name -> (function(*inputs, rm) ->
# (value, flags), whether the op takes a rounding mode). Ops without a rounding mode get rm=None.
FpSemantics = Callable[..., tuple[int, int]]


def _fmt_of(suffix: str) -> Format:
    return F32 if suffix == "s" else F64


def _reader(f: Format) -> Callable[[int], int]:
    return unbox32 if f is F32 else (lambda reg: reg)


def _writer(f: Format) -> Callable[[int], int]:
    return box32 if f is F32 else (lambda bits: bits)


def _arith2(f: Format, function) -> FpSemantics:
    read, write = _reader(f), _writer(f)

    def semantics(a: int, b: int, rm: int) -> tuple[int, int]:
        value, flags = function(f, read(a), read(b), rm)
        return write(value), flags
    return semantics


def _sqrt(f: Format) -> FpSemantics:
    read, write = _reader(f), _writer(f)

    def semantics(a: int, rm: int) -> tuple[int, int]:
        value, flags = sqrt(f, read(a), rm)
        return write(value), flags
    return semantics


def _fma(f: Format, negate_product: bool, negate_addend: bool) -> FpSemantics:
    read, write = _reader(f), _writer(f)

    def semantics(a: int, b: int, c: int, rm: int) -> tuple[int, int]:
        value, flags = fma(f, read(a), read(b), read(c), rm, negate_product, negate_addend)
        return write(value), flags
    return semantics


def _minmax(f: Format, is_max: bool) -> FpSemantics:
    read, write = _reader(f), _writer(f)

    def semantics(a: int, b: int, rm=None) -> tuple[int, int]:
        value, flags = minmax(f, read(a), read(b), is_max)
        return write(value), flags
    return semantics


def _compare(f: Format, relation: str) -> FpSemantics:
    read = _reader(f)

    def semantics(a: int, b: int, rm=None) -> tuple[int, int]:
        return compare(f, read(a), read(b), relation)
    return semantics


def _to_int(f: Format, bits: int, signed: bool) -> FpSemantics:
    read = _reader(f)

    def semantics(a: int, rm: int) -> tuple[int, int]:
        return to_int(f, read(a), rm, bits, signed)
    return semantics


def _from_int(f: Format, bits: int, signed: bool) -> FpSemantics:
    write = _writer(f)

    def semantics(x: int, rm: int) -> tuple[int, int]:
        value, flags = from_int(f, x, rm, bits, signed)
        return write(value), flags
    return semantics


def _convert(src: Format, dst: Format) -> FpSemantics:
    read, write = _reader(src), _writer(dst)

    def semantics(a: int, rm=RNE) -> tuple[int, int]:
        value, flags = convert(src, dst, read(a), RNE if rm is None else rm)
        return write(value), flags
    return semantics


INT_CONVERSIONS = {"w": (32, True), "wu": (32, False), "l": (64, True), "lu": (64, False)}
FMA_KINDS = {"fmadd": (False, False), "fmsub": (False, True), "fnmsub": (True, False),
             "fnmadd": (True, True)}


def _build_semantics() -> dict[str, tuple[FpSemantics, bool]]:
    table: dict[str, tuple[FpSemantics, bool]] = {}
    for suffix in ("s", "d"):
        f = _fmt_of(suffix)
        for name, function in (("fadd", add), ("fsub", sub), ("fmul", mul), ("fdiv", div)):
            table[f"{name}_{suffix}"] = (_arith2(f, function), True)
        table[f"fsqrt_{suffix}"] = (_sqrt(f), True)
        for name, (negate_product, negate_addend) in FMA_KINDS.items():
            table[f"{name}_{suffix}"] = (_fma(f, negate_product, negate_addend), True)
        table[f"fmin_{suffix}"] = (_minmax(f, False), False)
        table[f"fmax_{suffix}"] = (_minmax(f, True), False)
        for relation in ("eq", "lt", "le"):
            table[f"f{relation}_{suffix}"] = (_compare(f, relation), False)
        for int_name, (bits, signed) in INT_CONVERSIONS.items():
            table[f"fcvt_{int_name}_{suffix}"] = (_to_int(f, bits, signed), True)
            if suffix == "d" and bits == 32:
                continue   # fcvt.d.w / fcvt.d.wu are exact: pure value ops (PURE_SEMANTICS)
            table[f"fcvt_{suffix}_{int_name}"] = (_from_int(f, bits, signed), True)
    table["fcvt_s_d"] = (_convert(F64, F32), True)
    table["fcvt_d_s"] = (_convert(F32, F64), False)
    return table


FP_SEMANTICS: dict[str, tuple[FpSemantics, bool]] = _build_semantics()


# Pure FP value ops (no rounding, no flags): name -> fold function of register values.
def _sgnj(f: Format, kind: str) -> Callable[[int, int], int]:
    read, write = _reader(f), _writer(f)
    return lambda a, b: write(sign_inject(f, read(a), read(b), kind))


def _fclass(f: Format) -> Callable[[int], int]:
    read = _reader(f)
    return lambda a: classify(f, read(a))


def _exact_from_int(signed: bool) -> Callable[[int], int]:
    return lambda x: from_int(F64, x, RNE, 32, signed)[0]


PURE_SEMANTICS: dict[str, Callable[..., int]] = {
    **{f"fsgn{kind}_{suffix}": _sgnj(_fmt_of(suffix), kind)
       for suffix in ("s", "d") for kind in ("j", "jn", "jx")},
    "fclass_s": _fclass(F32),
    "fclass_d": _fclass(F64),
    "fcvt_d_w": _exact_from_int(True),
    "fcvt_d_wu": _exact_from_int(False),
}
