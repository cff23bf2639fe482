"""x86-64 instruction selection of the IR's floating-point ops (jit/ir.py "Floating point").

FP values are u64 temps in general-purpose registers (the register allocator only knows those):
an op moves its operands into xmm0-xmm3 (scratch inside the op, never live across ops), computes
with SSE2 / SSE4.1 / FMA3 and moves the result back. Results must be exactly jit/softfloat.py's,
flags included; the flag scheme (exceptions accumulate in MXCSR) is host_x86/fpu.py's.

Native paths (the common case), with their out-of-line fix-ups:
- add/sub/mul/div/sqrt/fma, fcvt.s.d, fcvt.d.s: the SSE instruction; a NaN result (checked with
  ucomis x,x) becomes the canonical NaN (the FMAs call the exact helper on a NaN result, for
  the RISC-V NV of inf*0+qNaN);
- fmin/fmax: ucomis (raises IE for a signalling NaN only: exactly NV) and cmov; equal operands
  (the zeros) merge their sign bits; NaN operands are sorted out of line;
- feq/flt/fle: cmpeq (quiet), cmplt/cmple (signalling) - exactly the RISC-V flags;
- float -> integer: DYN converts with cvt (MXCSR rounding), RTZ with cvtt; the other static
  modes (RMM included) first round to an integral value (SSE4.1 roundsd/ss with the precision
  exception suppressed; RMM: trunc plus sign(x) when the exact fraction x - trunc(x) is at least
  one half) and convert that exactly with cvtt, raising NX themselves. x86's "integer
  indefinite" result is fixed up to RISC-V's saturation out of line; unsigned results are range
  checked (NV raised explicitly);
- integer -> float: cvtsi2sd/ss; unsigned 64-bit sources with the top bit set are halved with
  a sticky bit, converted and doubled (exact in every rounding mode); with RMM, sources that
  convert exactly (any mode gives the same) stay native;
- sign injection, fclass, fmv: integer code.

Rounding modes: an op with rm = DYN checks frm <= 3 (MXCSR.RC is frm's then) in line; an op
with a static RNE/RTZ/RDN/RUP that depends on MXCSR compares frm with it and, when they differ,
switches MXCSR.RC out of line before the op and back after it (flags kept).

The exact helper (jit/softfloat.py through host_x86/fpu.fp_helper, a Python callback) runs out of
line for: a DYN op while frm is RMM, a static RMM (but the conversions above), singles that are
not properly NaN-boxed, NaN results of the FMAs, and ops whose CPU feature is missing (FMA3;
SSE4.1 for the unsigned conversions; without SSE4.1 the signed ones switch MXCSR, RMM ones use
the helper). The out-of-line call saves every caller-saved register but the result's and runs
Python with the host's MXCSR, so the ops' constraints need no clobbers.
"""
from __future__ import annotations

from typing import Callable, Optional

from host_x86 import regs as R
from host_x86.codebuf import shared_code_buffer
from host_x86.fpu import (MXCSR_DEFAULT, MXCSR_RC_MASK, MXCSR_RC_SHIFT, X86_RC, Features,
                          detect_features, fp_helper, fp_runtime)
from jit.env import ENV_SCRATCH
from jit.ir import OPS, FpEnv, FpRm, Op
from jit.regalloc import Constraint, InSpec, OpForm, Operands, OutSpec
from jit.softfloat import (CANONICAL_NAN_D, CANONICAL_NAN_S, FLAGS_MASK, FMA_KINDS,
                           INT_CONVERSIONS, NV, NX, RMM, RTZ)

FEATURES: Features = detect_features()

ANY = R.ALLOCATABLE_MASK
REG = InSpec(ANY)
OUT = OutSpec(ANY, fresh=True)
BOXED_NAN_S = 0xFFFF_FFFF_0000_0000 | CANONICAL_NAN_S
TWO_63 = {"d": 0x43E0_0000_0000_0000, "s": 0x5F00_0000}
TWO_64 = {"d": 0x43F0_0000_0000_0000, "s": 0x5F80_0000}
DYN = int(FpRm.DYN)
ROUND_WITH_MXCSR = 4          # roundsd immediate: use MXCSR.RC
ROUND_NO_PRECISION = 8        # roundsd immediate: suppress the precision exception


class _Emission:
    """The code of one op: main path in line, fix-ups collected as the target's stubs."""

    def __init__(self, target, op: Op, operands: Operands):
        self.target = target
        self.asm = target.asm
        self.op = op
        self.ins = operands.ins
        self.out = operands.outs[0] if operands.outs else None
        self.scratch = operands.scratch
        self.fpenv: Optional[FpEnv] = op.consts[-1] if op.consts else None
        self.end = self.asm.new_label()
        self._helper_label = None
        self._restore_rm: Optional[int] = None

    # Registers as text.
    def r64(self, reg: int) -> str:
        return R.r64(reg)

    def r32(self, reg: int) -> str:
        return R.r32(reg)

    @property
    def o64(self) -> str:
        return R.r64(self.out)

    @property
    def o32(self) -> str:
        return R.r32(self.out)

    def emit(self, text: str, *numbers: int) -> None:
        self.asm.emit(text, *numbers)

    def stub(self, body: Callable[[], None]):
        """An out-of-line piece of code: returns its label (the code is placed after the
        block's main code)."""
        label = self.asm.new_label()

        def place() -> None:
            self.asm.bind(label)
            body()
        self.target.stubs.append(place)
        return label

    # The exact helper ---------------------------------------------------------------------

    def helper_label(self):
        if self._helper_label is None:
            op = self.op
            rm = int(op.consts[0]) if len(op.consts) == 2 else None
            helper = fp_helper(op.opdef.name, rm, self.fpenv)
            address = self.target.helper_address(helper)
            self._helper_label = self.stub(lambda: self._call_helper(address))
        return self._helper_label

    def to_helper(self, condition: Optional[str] = None) -> None:
        label = self.helper_label()
        if condition is None:
            self.asm.jmp(label)
        else:
            self.asm.jcc(condition, label)

    def _call_helper(self, address: int) -> None:
        """out = helper(env, inputs...) with the host's default MXCSR; registers preserved."""
        asm = self.asm
        saved = [reg for reg in R.CALLER_SAVED if reg != self.out]
        for reg in saved:
            asm.emit(f"push {R.r64(reg)}")
        frame = 16 + (8 if len(saved) % 2 else 0)
        asm.emit("sub rsp, %", frame)
        asm.emit("stmxcsr dword ptr [rsp]")
        asm.emit("mov dword ptr [rsp + %], %", 4, MXCSR_DEFAULT)
        asm.emit("ldmxcsr dword ptr [rsp + %]", 4)
        for reg in self.ins:
            asm.emit(f"push {R.r64(reg)}")
        for arg in reversed(R.ARGUMENT_REGS[1:1 + len(self.ins)]):
            asm.emit(f"pop {R.r64(arg)}")
        asm.emit("mov rdi, rbp")
        asm.emit("movabs rax, %", address)
        asm.emit("call rax")
        asm.emit("ldmxcsr dword ptr [rsp]")
        asm.emit("add rsp, %", frame)
        if self.out != R.RAX:
            asm.emit(f"mov {self.o64}, rax")
        for reg in reversed(saved):
            asm.emit(f"pop {R.r64(reg)}")
        asm.jmp(self.end)

    # Common checks ------------------------------------------------------------------------

    def rm_guard(self, rm: int) -> bool:
        """Make MXCSR round as rm says for the op's code: DYN goes to the helper for RMM
        (frm 4); a static mode other than frm's switches MXCSR.RC out of line for the op and
        back after it (finish). False when the op always needs the helper (static RMM)."""
        if rm == RMM:
            self.to_helper()
            return False
        if rm == DYN:
            self.emit("cmp dword ptr [rbp + %], %", self.fpenv.rm_offset, 3)
            self.to_helper("a")
            return True
        resume = self.asm.new_label()

        def switch() -> None:
            # MXCSR.RC = rm, the accrued flags kept.
            self.emit("stmxcsr dword ptr [rbp + %]", ENV_SCRATCH)
            self.emit("and dword ptr [rbp + %], %", ENV_SCRATCH, ~MXCSR_RC_MASK)
            self.emit("or dword ptr [rbp + %], %", ENV_SCRATCH, X86_RC[rm] << MXCSR_RC_SHIFT)
            self.emit("ldmxcsr dword ptr [rbp + %]", ENV_SCRATCH)
            self.asm.jmp(resume)

        self.emit("cmp dword ptr [rbp + %], %", self.fpenv.rm_offset, rm)
        self.asm.jcc("ne", self.stub(switch))
        self.asm.bind(resume)
        self._restore_rm = rm
        return True

    def box_guard(self, regs) -> None:
        """Go to the helper unless every single in regs is properly NaN-boxed."""
        s = self.scratch[0]
        self.emit(f"mov {self.r64(s)}, {self.r64(regs[0])}")
        for reg in regs[1:]:
            self.emit(f"and {self.r64(s)}, {self.r64(reg)}")
        self.emit(f"shr {self.r64(s)}, %", 32)
        self.emit(f"cmp {self.r32(s)}, %", -1)
        self.to_helper("ne")

    def load_xmm(self, *regs) -> None:
        for index, reg in enumerate(regs):
            self.emit(f"movq xmm{index}, {self.r64(reg)}")

    def canonical_nan_check(self, fmt: str, xmm: str = "xmm0") -> None:
        """A NaN in xmm becomes the canonical NaN (in out, jumping to the end)."""
        canonical = CANONICAL_NAN_D if fmt == "d" else BOXED_NAN_S

        def body() -> None:
            self.emit(f"movabs {self.o64}, %", canonical)
            self.asm.jmp(self.end)
        self.emit(f"ucomis{fmt} {xmm}, {xmm}")
        self.asm.jcc("p", self.stub(body))

    def store_result(self, fmt: str, xmm: str = "xmm0") -> None:
        if fmt == "d":
            self.emit(f"movq {self.o64}, {xmm}")
        else:           # NaN-box: upper 32 bits all ones
            self.emit(f"movd {self.o32}, {xmm}")
            self.emit(f"not {self.o32}")
            self.emit(f"not {self.o64}")

    def raise_flags(self, flags: int) -> None:
        self.emit("or qword ptr [rbp + %], %", self.fpenv.flags_offset, flags)

    def finish(self) -> None:
        self.asm.bind(self.end)
        rm = self._restore_rm
        if rm is not None:
            # MXCSR.RC was switched for a static mode: back to frm's (the flags kept).
            done = self.asm.new_label()

            def restore() -> None:
                self.asm.call_absolute(self.target.fpu.set_rm_address)
                self.asm.jmp(done)

            self.emit("cmp dword ptr [rbp + %], %", self.fpenv.rm_offset, rm)
            self.asm.jcc("ne", self.stub(restore))
            self.asm.bind(done)


def _fmt(name: str) -> str:
    return name.rsplit("_", 1)[1]


# --------------------------------------------------------------------------------------------
# Arithmetic

_ARITH = {"fadd": "add", "fsub": "sub", "fmul": "mul", "fdiv": "div"}
# RISC-V fused op -> x86 213 form (xmm0 = xmm0 * xmm1 +- xmm2, product negated or not).
_FMA_X86 = {"fmadd": "vfmadd213", "fmsub": "vfmsub213", "fnmsub": "vfnmadd213",
            "fnmadd": "vfnmsub213"}


def _emit_arith(e: _Emission) -> None:
    name = e.op.opdef.name
    op, fmt = name.split("_")
    if not e.rm_guard(int(e.op.consts[0])):
        return
    if fmt == "s":
        e.box_guard(e.ins)
    e.load_xmm(*e.ins)
    if op == "fsqrt":
        e.emit(f"sqrts{fmt} xmm0, xmm0")
    else:
        e.emit(f"{_ARITH[op]}s{fmt} xmm0, xmm1")
    e.canonical_nan_check(fmt)
    e.store_result(fmt)


def _emit_fma(e: _Emission) -> None:
    op, fmt = e.op.opdef.name.split("_")
    if not FEATURES.fma:
        e.to_helper()
        return
    if not e.rm_guard(int(e.op.consts[0])):
        return
    if fmt == "s":
        e.box_guard(e.ins)
    e.load_xmm(*e.ins)
    e.emit(f"{_FMA_X86[op]}s{fmt} xmm0, xmm1, xmm2")
    # A NaN result: the helper (x86 leaves NV out for inf * 0 + qNaN; RISC-V raises it).
    e.emit(f"ucomis{fmt} xmm0, xmm0")
    e.to_helper("p")
    e.store_result(fmt)


def _emit_minmax(e: _Emission) -> None:
    op, fmt = e.op.opdef.name.split("_")
    a, b = e.ins
    if fmt == "s":
        e.box_guard(e.ins)
    e.load_xmm(a, b)
    canonical = CANONICAL_NAN_D if fmt == "d" else BOXED_NAN_S

    def nan_operands() -> None:
        a_nan = e.asm.new_label()
        both = e.asm.new_label()
        e.emit(f"ucomis{fmt} xmm0, xmm0")
        e.asm.jcc("p", a_nan)
        e.emit(f"mov {e.o64}, {e.r64(a)}")          # b is the NaN
        e.asm.jmp(e.end)
        e.asm.bind(a_nan)
        e.emit(f"ucomis{fmt} xmm1, xmm1")
        e.asm.jcc("p", both)
        e.emit(f"mov {e.o64}, {e.r64(b)}")
        e.asm.jmp(e.end)
        e.asm.bind(both)
        e.emit(f"movabs {e.o64}, %", canonical)
        e.asm.jmp(e.end)

    e.emit(f"ucomis{fmt} xmm0, xmm1")               # IE for a signalling NaN only
    e.asm.jcc("p", e.stub(nan_operands))
    e.emit(f"mov {e.o64}, {e.r64(a)}")
    # min: b when a > b; max: b when a < b. Equal: only the zeros differ, merge the signs.
    e.emit(f"{'cmova' if op == 'fmin' else 'cmovb'} {e.o64}, {e.r64(b)}")
    e.asm.jcc("ne", e.end)
    e.emit(f"{'or' if op == 'fmin' else 'and'} {e.o64}, {e.r64(b)}")


_COMPARE_PREDICATE = {"feq": 0, "flt": 1, "fle": 2}     # EQ_OQ, LT_OS, LE_OS


def _emit_compare(e: _Emission) -> None:
    op, fmt = e.op.opdef.name.split("_")
    if fmt == "s":
        e.box_guard(e.ins)
    e.load_xmm(*e.ins)
    e.emit(f"cmps{fmt} xmm0, xmm1, %", _COMPARE_PREDICATE[op])
    e.emit(f"movd {e.o32}, xmm0")
    e.emit(f"and {e.o32}, %", 1)


# --------------------------------------------------------------------------------------------
# Conversions


_ABS_MASK = {"d": 0x7FFF_FFFF_FFFF_FFFF, "s": 0x7FFF_FFFF}
_HALF = {"d": 0x3FE0_0000_0000_0000, "s": 0x3F00_0000}
_ONE = {"d": 0x3FF0_0000_0000_0000, "s": 0x3F80_0000}
_SIGN_BIT = {"d": 63, "s": 31}


def _load_constant(e: _Emission, fmt: str, value: int, xmm: str) -> None:
    """xmm = the FP constant value (bits), through the scratch register."""
    s = e.scratch[0]
    if fmt == "d":
        e.emit(f"movabs {e.r64(s)}, %", value)
        e.emit(f"movq {xmm}, {e.r64(s)}")
    else:
        e.emit(f"mov {e.r32(s)}, %", value)
        e.emit(f"movd {xmm}, {e.r32(s)}")


def _round_to_integral(e: _Emission, fmt: str, rm: int) -> None:
    """xmm1 = x (xmm0) rounded to an integral value per rm (DYN: MXCSR), without the precision
    exception (IE for a signalling NaN only). SSE4.1. RMM: trunc(x), plus sign(x) when the
    dropped fraction (exact: x - trunc(x)) is at least one half."""
    if rm != RMM:
        mode = ROUND_WITH_MXCSR if rm == DYN else X86_RC[rm]
        e.emit(f"rounds{fmt} xmm1, xmm0, %", mode | ROUND_NO_PRECISION)
        return
    (a,) = e.ins
    done = e.asm.new_label()
    e.emit(f"rounds{fmt} xmm1, xmm0, %", X86_RC[RTZ] | ROUND_NO_PRECISION)
    e.emit("movaps xmm2, xmm0")
    e.emit(f"subs{fmt} xmm2, xmm1")                 # exact (NaN for a NaN or an infinity)
    _load_constant(e, fmt, _ABS_MASK[fmt], "xmm3")
    e.emit("andps xmm2, xmm3")
    _load_constant(e, fmt, _HALF[fmt], "xmm3")
    e.emit(f"ucomis{fmt} xmm2, xmm3")
    e.asm.jcc("b", done)                            # below one half, or unordered
    _load_constant(e, fmt, _ONE[fmt], "xmm3")
    e.emit(f"bt {e.r64(a)}, %", _SIGN_BIT[fmt])
    e.asm.jcc("ae", _add_one(e, fmt, done))         # positive: + 1 (out of line)
    e.emit(f"subs{fmt} xmm1, xmm3")                 # exact: |trunc(x)| < 2**p here
    e.asm.bind(done)


def _add_one(e: _Emission, fmt: str, done):
    """Out of line: xmm1 += xmm3 (the positive side of RMM's adjustment)."""
    def body() -> None:
        e.emit(f"adds{fmt} xmm1, xmm3")
        e.asm.jmp(done)
    return e.stub(body)


def _emit_to_signed(e: _Emission, fmt: str, bits: int, rm: int) -> None:
    (a,) = e.ins
    width = e.o32 if bits == 32 else e.o64
    sign_test = e.r64(a) if fmt == "d" else e.r32(a)
    # DYN and RTZ convert directly (cvt rounds per MXCSR, cvtt truncates); the other static
    # modes round to an integral value first (SSE4.1) and convert that exactly, raising NX
    # themselves; without SSE4.1 they switch MXCSR (RMM: the helper).
    integral = rm not in (DYN, RTZ) and FEATURES.sse41
    if rm == RTZ or integral:
        instruction, source = f"cvtts{fmt}2si", "xmm1" if integral else "xmm0"
    else:
        if not e.rm_guard(rm):
            return
        instruction, source = f"cvts{fmt}2si", "xmm0"
    if fmt == "s":
        e.box_guard([a])
    e.load_xmm(a)
    if integral:
        _round_to_integral(e, fmt, rm)
    e.emit(f"{instruction} {width}, {source}")
    fixed = e.asm.new_label()
    in_range = e.asm.new_label()

    def indefinite() -> None:
        # x86's "integer indefinite" (the most negative value): RISC-V saturates, and a NaN
        # gives the largest positive value. A negative non-NaN keeps it (saturated or exact).
        e.emit(f"ucomis{fmt} xmm0, xmm0")
        largest = e.asm.new_label()
        e.asm.jcc("p", largest)
        e.emit(f"test {sign_test}, {sign_test}")
        e.asm.jcc("ns", largest)
        if integral:
            # Exactly the most negative integer (valid; inexact if x was not) or below.
            e.emit(f"cvtsi2s{fmt} xmm3, {width}")
            e.emit(f"ucomis{fmt} xmm1, xmm3")
            e.asm.jcc("e", in_range)
        e.asm.jmp(fixed)
        e.asm.bind(largest)
        e.emit(f"not {width}")                       # INT_MIN -> INT_MAX
        e.asm.jmp(fixed)

    e.emit(f"cmp {width}, %", 1)                      # overflows only for INT_MIN
    e.asm.jcc("o", e.stub(indefinite))
    e.asm.bind(in_range)
    if integral:
        def inexact() -> None:
            e.raise_flags(NX)
            e.asm.jmp(fixed)
        e.emit(f"ucomis{fmt} xmm0, xmm1")
        e.asm.jcc("ne", e.stub(inexact))
    e.asm.bind(fixed)
    if bits == 32:
        e.emit(f"movsxd {e.o64}, {e.o32}")


def _emit_to_unsigned(e: _Emission, fmt: str, bits: int, rm: int) -> None:
    (a,) = e.ins
    if not FEATURES.sse41:
        e.to_helper()
        return
    if rm == DYN and not e.rm_guard(rm):
        return
    s = e.scratch[0]
    if fmt == "s":
        e.box_guard([a])
    e.load_xmm(a)
    _round_to_integral(e, fmt, rm)                   # IE for an sNaN only
    sign_test = e.r64(a) if fmt == "d" else e.r32(a)

    def out_of_range() -> None:
        # NV; a NaN or a positive value saturates to all ones, a negative one to 0.
        e.raise_flags(NV)
        zero = e.asm.new_label()
        e.emit(f"ucomis{fmt} xmm0, xmm0")
        largest = e.asm.new_label()
        e.asm.jcc("p", largest)
        e.emit(f"test {sign_test}, {sign_test}")
        e.asm.jcc("s", zero)
        e.asm.bind(largest)
        e.emit(f"mov {e.o64}, %", -1)
        e.asm.jmp(e.end)
        e.asm.bind(zero)
        e.emit(f"xor {e.o32}, {e.o32}")
        e.asm.jmp(e.end)

    checked = e.asm.new_label()

    def inexact() -> None:
        e.raise_flags(NX)
        e.asm.jmp(checked)

    if bits == 32:
        # The rounded value converted exactly to 64 bits (IE for a NaN or |r| >= 2**63, which
        # are out of range anyway), then range checked.
        e.emit(f"cvtts{fmt}2si {e.o64}, xmm1")
        e.emit(f"mov {e.r64(s)}, {e.o64}")
        e.emit(f"shr {e.r64(s)}, %", 32)
        e.asm.jcc("ne", e.stub(out_of_range))
        e.emit(f"ucomis{fmt} xmm0, xmm1")
        e.asm.jcc("ne", e.stub(inexact))
        e.asm.bind(checked)
        e.emit(f"movsxd {e.o64}, {e.o32}")
        return

    def load_constant(value: int, xmm: str) -> None:
        _load_constant(e, fmt, value, xmm)

    def high_half() -> None:
        # 2**63 <= r: r - 2**63 converts exactly unless r >= 2**64.
        load_constant(TWO_64[fmt], "xmm3")
        e.emit(f"ucomis{fmt} xmm1, xmm3")
        e.asm.jcc("ae", e.stub(out_of_range))
        exact = e.asm.new_label()
        e.emit(f"ucomis{fmt} xmm0, xmm1")
        e.asm.jcc("e", exact)
        e.raise_flags(NX)
        e.asm.bind(exact)
        e.emit(f"subs{fmt} xmm1, xmm2")
        e.emit(f"cvtts{fmt}2si {e.o64}, xmm1")
        e.emit(f"btc {e.o64}, %", 63)
        e.asm.jmp(e.end)

    load_constant(TWO_63[fmt], "xmm2")
    e.emit(f"ucomis{fmt} xmm1, xmm2")
    e.asm.jcc("ae", e.stub(high_half))                # not taken for a NaN
    e.emit(f"cvtts{fmt}2si {e.o64}, xmm1")           # r < 2**63: exact, or IE (NaN, < -2**63)
    e.emit(f"test {e.o64}, {e.o64}")
    e.asm.jcc("s", e.stub(out_of_range))
    e.emit(f"ucomis{fmt} xmm0, xmm1")
    e.asm.jcc("ne", e.stub(inexact))
    e.asm.bind(checked)


def _emit_to_int(e: _Emission) -> None:
    _, int_name, fmt = e.op.opdef.name.split("_")
    bits, signed = INT_CONVERSIONS[int_name]
    rm = int(e.op.consts[0])
    if signed:
        _emit_to_signed(e, fmt, bits, rm)
    else:
        _emit_to_unsigned(e, fmt, bits, rm)


def _emit_from_int(e: _Emission) -> None:
    _, fmt, int_name = e.op.opdef.name.split("_")
    bits, signed = INT_CONVERSIONS[int_name]
    (a,) = e.ins
    s = e.scratch[0] if e.scratch else None
    rm = int(e.op.consts[0])
    if rm == RMM:
        # Only an inexact conversion depends on the rounding mode: integers that convert
        # exactly (|a| < 2**p) do so natively, the others go to the helper.
        precision = 53 if fmt == "d" else 24
        if bits == 32 and fmt == "d":
            pass
        elif signed:
            if bits == 32:
                e.emit(f"movsxd {e.r64(s)}, {e.r32(a)}")
            else:
                e.emit(f"mov {e.r64(s)}, {e.r64(a)}")
            e.emit(f"sar {e.r64(s)}, %", precision)
            e.emit(f"add {e.r64(s)}, %", 1)           # -1 or 0 -> 0 or 1
            e.emit(f"cmp {e.r64(s)}, %", 1)
            e.to_helper("a")
        else:
            if bits == 32:
                e.emit(f"mov {e.r32(s)}, {e.r32(a)}")
            else:
                e.emit(f"mov {e.r64(s)}, {e.r64(a)}")
            e.emit(f"shr {e.r64(s)}, %", precision)
            e.to_helper("ne")
    elif not e.rm_guard(rm):
        return
    e.emit("pxor xmm0, xmm0")
    if bits == 32 and signed:
        e.emit(f"cvtsi2s{fmt} xmm0, {e.r32(a)}")
    elif bits == 32:
        e.emit(f"mov {e.r32(s)}, {e.r32(a)}")          # zero-extended: exact in 64 bits
        e.emit(f"cvtsi2s{fmt} xmm0, {e.r64(s)}")
    elif signed:
        e.emit(f"cvtsi2s{fmt} xmm0, {e.r64(a)}")
    else:
        converted = e.asm.new_label()

        def top_bit_set() -> None:
            # (a >> 1) | (a & 1): the lost bit stays as a sticky bit below the rounding point,
            # so the conversion rounds as a would; doubling is exact.
            e.emit(f"mov {e.r64(s)}, {e.r64(a)}")
            e.emit(f"shr {e.r64(s)}, %", 1)
            e.emit(f"mov {e.o64}, {e.r64(a)}")
            e.emit(f"and {e.o32}, %", 1)
            e.emit(f"or {e.r64(s)}, {e.o64}")
            e.emit(f"cvtsi2s{fmt} xmm0, {e.r64(s)}")
            e.emit(f"adds{fmt} xmm0, xmm0")
            e.asm.jmp(converted)

        e.emit(f"test {e.r64(a)}, {e.r64(a)}")
        e.asm.jcc("s", e.stub(top_bit_set))
        e.emit(f"cvtsi2s{fmt} xmm0, {e.r64(a)}")
        e.asm.bind(converted)
    e.store_result(fmt)


def _emit_narrow(e: _Emission) -> None:
    """fcvt.s.d"""
    if not e.rm_guard(int(e.op.consts[0])):
        return
    e.load_xmm(*e.ins)
    e.emit("cvtsd2ss xmm0, xmm0")
    e.canonical_nan_check("s")
    e.store_result("s")


def _emit_widen(e: _Emission) -> None:
    """fcvt.d.s (exact: no rounding mode)"""
    e.box_guard(e.ins)
    e.load_xmm(*e.ins)
    e.emit("cvtss2sd xmm0, xmm0")
    e.canonical_nan_check("d")
    e.store_result("d")


# --------------------------------------------------------------------------------------------
# Pure value ops (no flags): integer code


def _emit_sign_inject(e: _Emission) -> None:
    name = e.op.opdef.name
    kind, fmt = name[len("fsgn"):].split("_")
    a, b = e.ins
    s = e.scratch[0]
    if fmt == "d":
        e.emit(f"mov {e.r64(s)}, {e.r64(b)}")
        if kind == "jn":
            e.emit(f"not {e.r64(s)}")
        e.emit(f"shr {e.r64(s)}, %", 63)
        e.emit(f"shl {e.r64(s)}, %", 63)
        e.emit(f"mov {e.o64}, {e.r64(a)}")
        if kind != "jx":
            e.emit(f"btr {e.o64}, %", 63)
            e.emit(f"or {e.o64}, {e.r64(s)}")
        else:
            e.emit(f"xor {e.o64}, {e.r64(s)}")
        return
    e.box_guard([a, b])
    e.emit(f"mov {e.r32(s)}, {e.r32(b)}")
    if kind == "jn":
        e.emit(f"not {e.r32(s)}")
    e.emit(f"and {e.r32(s)}, %", -0x8000_0000)
    e.emit(f"mov {e.o64}, {e.r64(a)}")
    if kind != "jx":
        e.emit(f"btr {e.o64}, %", 31)
        e.emit(f"or {e.o64}, {e.r64(s)}")
    else:
        e.emit(f"xor {e.o64}, {e.r64(s)}")


def _emit_fclass(e: _Emission) -> None:
    fmt = _fmt(e.op.opdef.name)
    (a,) = e.ins
    s, t = e.scratch
    if fmt == "s":
        def not_boxed() -> None:
            e.emit(f"mov {e.o32}, %", 1 << 9)        # the canonical NaN: a quiet NaN
            e.asm.jmp(e.end)
        e.emit(f"mov {e.r64(s)}, {e.r64(a)}")
        e.emit(f"shr {e.r64(s)}, %", 32)
        e.emit(f"cmp {e.r32(s)}, %", -1)
        e.asm.jcc("ne", e.stub(not_boxed))
        exp_shift, exp_mask, frac_shift, quiet_bit, sign_bit = 23, 0xFF, 41, 22, 31
    else:
        exp_shift, exp_mask, frac_shift, quiet_bit, sign_bit = 52, 0x7FF, 12, 51, 63
    # out = class index 0..9 (positive: zero 4, subnormal 5, normal 6, inf 7; NaN 8/9),
    # then mirrored for negatives (7 - index) and turned into a bit.
    zero_exp = e.asm.new_label()
    max_exp = e.asm.new_label()
    signed = e.asm.new_label()
    done = e.asm.new_label()
    e.emit(f"mov {e.r64(s)}, {e.r64(a)}")
    e.emit(f"shr {e.r64(s)}, %", exp_shift)
    e.emit(f"and {e.r32(s)}, %", exp_mask)
    e.emit(f"mov {e.r64(t)}, {e.r64(a)}")
    e.emit(f"shl {e.r64(t)}, %", frac_shift)                 # fraction bits only (nonzero?)
    e.emit(f"mov {e.o32}, %", 6)
    e.emit(f"test {e.r32(s)}, {e.r32(s)}")
    e.asm.jcc("e", zero_exp, short=True)
    e.emit(f"cmp {e.r32(s)}, %", exp_mask)
    e.asm.jcc("e", max_exp, short=True)
    e.asm.jmp(signed, short=True)
    e.asm.bind(zero_exp)
    e.emit(f"mov {e.o32}, %", 4)
    e.emit(f"test {e.r64(t)}, {e.r64(t)}")
    e.asm.jcc("e", signed, short=True)
    e.emit(f"mov {e.o32}, %", 5)
    e.asm.jmp(signed, short=True)
    e.asm.bind(max_exp)
    e.emit(f"mov {e.o32}, %", 7)
    e.emit(f"test {e.r64(t)}, {e.r64(t)}")
    e.asm.jcc("e", signed, short=True)
    e.emit(f"mov {e.o32}, %", 8)                             # NaN: bit 8 or (quiet) 9
    e.emit(f"bt {e.r64(a)}, %", quiet_bit)
    e.emit(f"adc {e.o32}, %", 0)
    e.asm.jmp(done, short=True)
    e.asm.bind(signed)
    e.emit(f"bt {e.r64(a)}, %", sign_bit)
    e.asm.jcc("ae", done, short=True)
    e.emit(f"xor {e.o32}, %", 7)                              # 7 - index for 0..7
    e.asm.bind(done)
    e.emit(f"mov {e.r32(s)}, {e.o32}")
    e.emit(f"xor {e.o32}, {e.o32}")
    e.emit(f"bts {e.o32}, {e.r32(s)}")


def _emit_exact_from_int32(e: _Emission) -> None:
    """fcvt.d.w / fcvt.d.wu: exact, no flags."""
    (a,) = e.ins
    e.emit("pxor xmm0, xmm0")
    if e.op.opdef.name == "fcvt_d_w":
        e.emit(f"cvtsi2sd xmm0, {e.r32(a)}")
    else:
        s = e.scratch[0]
        e.emit(f"mov {e.r32(s)}, {e.r32(a)}")
        e.emit(f"cvtsi2sd xmm0, {e.r64(s)}")
    e.emit(f"movq {e.o64}, xmm0")


# --------------------------------------------------------------------------------------------
# The FP environment


def _emit_get_flags(e: _Emission) -> None:
    e.asm.call_absolute(e.target.fpu.fold_address)
    e.emit(f"mov {e.o64}, qword ptr [rbp + %]", e.fpenv.flags_offset)


def _emit_set_flags(e: _Emission) -> None:
    s = e.scratch[0]
    e.emit(f"mov {e.r64(s)}, {e.r64(e.ins[0])}")
    e.emit(f"and {e.r32(s)}, %", FLAGS_MASK)
    e.emit(f"mov qword ptr [rbp + %], {e.r64(s)}", e.fpenv.flags_offset)
    e.emit("stmxcsr dword ptr [rbp + %]", ENV_SCRATCH)
    e.emit("and dword ptr [rbp + %], %", ENV_SCRATCH, -0x40)
    e.emit("ldmxcsr dword ptr [rbp + %]", ENV_SCRATCH)


def _emit_set_rm(e: _Emission) -> None:
    s = e.scratch[0]
    e.emit(f"mov {e.r64(s)}, {e.r64(e.ins[0])}")
    e.emit(f"and {e.r32(s)}, %", 7)
    e.emit(f"mov qword ptr [rbp + %], {e.r64(s)}", e.fpenv.rm_offset)
    e.asm.call_absolute(e.target.fpu.set_rm_address)


# --------------------------------------------------------------------------------------------
# Selection

def _family(name: str) -> tuple[Callable[[_Emission], None], int]:
    """(emitter, scratch registers) of an FP op."""
    op = name.split("_")[0]
    fmt = name.rsplit("_", 1)[1] if "_" in name else ""
    single = 1 if fmt == "s" else 0
    if op in _ARITH or op == "fsqrt":
        return _emit_arith, single
    if op in FMA_KINDS:
        return _emit_fma, single
    if op in ("fmin", "fmax"):
        return _emit_minmax, single
    if op in _COMPARE_PREDICATE:
        return _emit_compare, single
    if op.startswith("fsgn"):
        return _emit_sign_inject, 1
    if op == "fclass":
        return _emit_fclass, 2
    if name in ("fcvt_d_w", "fcvt_d_wu"):
        return _emit_exact_from_int32, 1
    if name == "fcvt_s_d":
        return _emit_narrow, 0
    if name == "fcvt_d_s":
        return _emit_widen, 1
    if op == "fcvt":
        _, first, second = name.split("_")
        if first in INT_CONVERSIONS:
            return _emit_to_int, 1
        return _emit_from_int, 1
    if name == "fp_get_flags":
        return _emit_get_flags, 0
    if name in ("fp_set_flags", "fp_set_rm"):
        return (_emit_set_flags if name == "fp_set_flags" else _emit_set_rm), 1
    raise NotImplementedError(name)


def _make_form(name: str) -> OpForm:
    emitter, n_scratch = _family(name)
    opdef = OPS[name]
    outs = (OUT,) * opdef.outputs

    def emit(target, op: Op, operands: Operands) -> None:
        emission = _Emission(target, op, operands)
        emitter(emission)
        emission.finish()
    return OpForm(Constraint((REG,) * opdef.inputs, outs, 0, (ANY,) * n_scratch), emit)


_FORMS: dict[str, OpForm] = {}


def select_fp(target, op: Op, known: list, dead: int) -> OpForm:
    name = op.opdef.name
    if op.opdef.fp_env:
        fpenv = op.consts[-1]
        fpu = getattr(target, "fpu", None)
        if fpu is None or fpu.fpenv != fpenv:
            if fpu is not None:
                raise NotImplementedError("one FP environment layout per backend")
            target.fpu = fp_runtime(shared_code_buffer(), target.encoder,
                                    target.runtime.entry_address, fpenv)
    form = _FORMS.get(name)
    if form is None:
        form = _FORMS[name] = _make_form(name)
    return form


def fp_selectors() -> dict[str, Callable]:
    """Selectors of every FP op, for host_x86/isel.py's table."""
    from jit.softfloat import FP_SEMANTICS, PURE_SEMANTICS
    names = list(FP_SEMANTICS) + list(PURE_SEMANTICS) + ["fp_get_flags", "fp_set_flags",
                                                         "fp_set_rm"]
    return {name: select_fp for name in names}
