"""What the compressed instructions need beyond the integer translate functions.

Every RV64C instruction is an expansion: its pattern (guest/riscv/insn_table.py) computes the
operands of a 32-bit instruction and names it in `expands_to`, and that instruction's translate
function runs. Nothing is compressed-specific at translation, except the size, which reaches the
translate functions as ctx.pc_next.

C.FLD/C.FSD/C.FLDSP/C.FSDSP (Zcd) expand to FLD/FSD, so the FP loads and stores are translated
here, together with their single-precision forms FLW/FSW: they only move bits between memory
and the f registers (FLW NaN-boxes), with no FP arithmetic. They move to the F/D translation
module when it comes.
"""
from __future__ import annotations

from guest.riscv.translate import DisasContext, TranslateFn, gen_fp_load, gen_fp_store
from jit.ir import MO_32, MO_64, MemOp


def _fp_load(memop: MemOp) -> TranslateFn:
    def trans(ctx: DisasContext, a) -> bool:
        gen_fp_load(ctx, a.rd, a.rs1, a.imm, memop)
        return True
    return trans


def _fp_store(memop: MemOp) -> TranslateFn:
    def trans(ctx: DisasContext, a) -> bool:
        gen_fp_store(ctx, a.rs2, a.rs1, a.imm, memop)
        return True
    return trans


TRANSLATORS: dict[str, TranslateFn] = {
    "flw": _fp_load(MO_32),
    "fsw": _fp_store(MO_32),
    "fld": _fp_load(MO_64),
    "fsd": _fp_store(MO_64),
}
