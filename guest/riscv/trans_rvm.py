"""Translation of RV64M: the role of QEMU's trans_rvm.c.inc.

The IR's mul*/div/rem ops have the RISC-V meaning in 64 bits (division by zero and signed
overflow give the results the spec defines, without trapping), so the 64-bit instructions map to
one op each. The W forms run the 64-bit op on 32-bit operands extended the way the instruction
reads them and sign-extend the low 32 bits of the result: divw of INT32_MIN by -1 divides
-2**31 by -1 in 64 bits, giving 2**31, whose sign-extended low half is INT32_MIN as required;
a 32-bit division by zero gives all ones (or the dividend, for rem) just as in 64 bits.
"""
from __future__ import annotations

from typing import Optional

from guest.riscv.translate import DisasContext, TranslateFn, gen_arith, gen_word_op, get_gpr


def _arith(opname: str) -> TranslateFn:
    def trans(ctx: DisasContext, a) -> bool:
        gen_arith(ctx, a.rd, opname, get_gpr(ctx, a.rs1), get_gpr(ctx, a.rs2))
        return True
    return trans


def _arith_word(opname: str, extend_inputs: Optional[str] = None) -> TranslateFn:
    def trans(ctx: DisasContext, a) -> bool:
        gen_word_op(ctx, a.rd, opname, get_gpr(ctx, a.rs1), get_gpr(ctx, a.rs2), extend_inputs)
        return True
    return trans


TRANSLATORS: dict[str, TranslateFn] = {
    "mul": _arith("mul"),
    "mulh": _arith("mulsh"),
    "mulhsu": _arith("mulsuh"),
    "mulhu": _arith("muluh"),
    "div": _arith("div"),
    "divu": _arith("divu"),
    "rem": _arith("rem"),
    "remu": _arith("remu"),
    # The low 32 bits of a product depend only on the low 32 bits of the operands.
    "mulw": _arith_word("mul"),
    "divw": _arith_word("div", "ext32s"),
    "divuw": _arith_word("divu", "ext32u"),
    "remw": _arith_word("rem", "ext32s"),
    "remuw": _arith_word("remu", "ext32u"),
}
