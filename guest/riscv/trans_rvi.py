"""Translation of RV64I (and Zifencei): the role of QEMU's trans_rvi.c.inc.

The ALU, load/store and branch families are made by small factories from their IR op, memory
access kind or condition; TRANSLATORS lists every instruction explicitly.
"""
from __future__ import annotations

from typing import Optional

from guest.riscv.translate import (DisasContext, TranslateFn, dest_gpr, gen_arith, gen_branch,
                                   gen_exception, gen_exit_to_dispatcher, gen_goto_tb,
                                   gen_jump_indirect, gen_load, gen_setcond_value, gen_store,
                                   gen_value, gen_word_op, get_gpr, set_gpr)
from jit.emit import const
from jit.exits import ExitKind
from jit.ir import MASK64, MO_8, MO_8S, MO_16, MO_16S, MO_32, MO_32S, MO_64, Cond, MemOp

# --------------------------------------------------------------------------------------------
# Upper immediates, jumps


def trans_lui(ctx: DisasContext, a) -> bool:
    set_gpr(ctx, a.rd, const(a.imm))
    return True


def trans_auipc(ctx: DisasContext, a) -> bool:
    set_gpr(ctx, a.rd, const(ctx.pc_curr + a.imm))
    return True


def trans_jal(ctx: DisasContext, a) -> bool:
    set_gpr(ctx, a.rd, const(ctx.pc_next))
    gen_goto_tb(ctx, 0, ctx.pc_curr + a.imm)
    return True


def trans_jalr(ctx: DisasContext, a) -> bool:
    # The target is computed into pc before rd is written: rd may be rs1.
    pc = ctx.pc_global
    target = gen_value("add", pc, get_gpr(ctx, a.rs1), const(a.imm))
    target = gen_value("and", pc, target, const(MASK64 ^ 1))
    set_gpr(ctx, a.rd, const(ctx.pc_next))
    gen_jump_indirect(ctx, target)
    return True


# --------------------------------------------------------------------------------------------
# Families


def _branch(cond: Cond) -> TranslateFn:
    def trans(ctx: DisasContext, a) -> bool:
        gen_branch(ctx, cond, get_gpr(ctx, a.rs1), get_gpr(ctx, a.rs2), ctx.pc_curr + a.imm)
        return True
    return trans


def _load(memop: MemOp) -> TranslateFn:
    def trans(ctx: DisasContext, a) -> bool:
        gen_load(ctx, a.rd, a.rs1, a.imm, memop)
        return True
    return trans


def _store(memop: MemOp) -> TranslateFn:
    def trans(ctx: DisasContext, a) -> bool:
        gen_store(ctx, a.rs2, a.rs1, a.imm, memop)
        return True
    return trans


def _alu_imm(opname: str) -> TranslateFn:
    def trans(ctx: DisasContext, a) -> bool:
        gen_arith(ctx, a.rd, opname, get_gpr(ctx, a.rs1), const(a.imm))
        return True
    return trans


def _shift_imm(opname: str) -> TranslateFn:
    def trans(ctx: DisasContext, a) -> bool:
        gen_arith(ctx, a.rd, opname, get_gpr(ctx, a.rs1), const(a.shamt))
        return True
    return trans


def _alu_reg(opname: str) -> TranslateFn:
    def trans(ctx: DisasContext, a) -> bool:
        gen_arith(ctx, a.rd, opname, get_gpr(ctx, a.rs1), get_gpr(ctx, a.rs2))
        return True
    return trans


def _setcond_imm(cond: Cond) -> TranslateFn:
    def trans(ctx: DisasContext, a) -> bool:
        if a.rd:
            # SLTIU compares with the sign-extended immediate as an unsigned number.
            set_gpr(ctx, a.rd, gen_setcond_value(cond, dest_gpr(ctx, a.rd),
                                                 get_gpr(ctx, a.rs1), const(a.imm)))
        return True
    return trans


def _setcond_reg(cond: Cond) -> TranslateFn:
    def trans(ctx: DisasContext, a) -> bool:
        if a.rd:
            set_gpr(ctx, a.rd, gen_setcond_value(cond, dest_gpr(ctx, a.rd),
                                                 get_gpr(ctx, a.rs1), get_gpr(ctx, a.rs2)))
        return True
    return trans


def _word_imm(opname: str, extend_inputs: Optional[str] = None) -> TranslateFn:
    def trans(ctx: DisasContext, a) -> bool:
        gen_word_op(ctx, a.rd, opname, get_gpr(ctx, a.rs1), const(a.imm), extend_inputs)
        return True
    return trans


def _word_shift_imm(opname: str, extend_inputs: Optional[str] = None) -> TranslateFn:
    def trans(ctx: DisasContext, a) -> bool:
        gen_word_op(ctx, a.rd, opname, get_gpr(ctx, a.rs1), const(a.shamt), extend_inputs)
        return True
    return trans


def _word_reg(opname: str, extend_inputs: Optional[str] = None,
              mask_count: bool = False) -> TranslateFn:
    def trans(ctx: DisasContext, a) -> bool:
        gen_word_op(ctx, a.rd, opname, get_gpr(ctx, a.rs1), get_gpr(ctx, a.rs2), extend_inputs,
                    mask_count)
        return True
    return trans


# --------------------------------------------------------------------------------------------
# Ordering and environment


def trans_fence(ctx: DisasContext, a) -> bool:
    # A single guest thread on one host thread: memory is already ordered as the guest sees it.
    return True


def trans_fence_i(ctx: DisasContext, a) -> bool:
    # The guest may have written code: the dispatcher drops stale translations and continues.
    gen_exit_to_dispatcher(ctx, ctx.pc_next, ExitKind.SYNC_ICACHE)
    return True


def trans_ecall(ctx: DisasContext, a) -> bool:
    gen_exception(ctx, ExitKind.SYSCALL)
    return True


def trans_ebreak(ctx: DisasContext, a) -> bool:
    gen_exception(ctx, ExitKind.BREAK)
    return True


TRANSLATORS: dict[str, TranslateFn] = {
    "lui": trans_lui,
    "auipc": trans_auipc,
    "jal": trans_jal,
    "jalr": trans_jalr,
    "beq": _branch(Cond.EQ),
    "bne": _branch(Cond.NE),
    "blt": _branch(Cond.LT),
    "bge": _branch(Cond.GE),
    "bltu": _branch(Cond.LTU),
    "bgeu": _branch(Cond.GEU),
    "lb": _load(MO_8S),
    "lh": _load(MO_16S),
    "lw": _load(MO_32S),
    "ld": _load(MO_64),
    "lbu": _load(MO_8),
    "lhu": _load(MO_16),
    "lwu": _load(MO_32),
    "sb": _store(MO_8),
    "sh": _store(MO_16),
    "sw": _store(MO_32),
    "sd": _store(MO_64),
    "addi": _alu_imm("add"),
    "slti": _setcond_imm(Cond.LT),
    "sltiu": _setcond_imm(Cond.LTU),
    "xori": _alu_imm("xor"),
    "ori": _alu_imm("or"),
    "andi": _alu_imm("and"),
    "slli": _shift_imm("shl"),
    "srli": _shift_imm("shr"),
    "srai": _shift_imm("sar"),
    "add": _alu_reg("add"),
    "sub": _alu_reg("sub"),
    "sll": _alu_reg("shl"),
    "slt": _setcond_reg(Cond.LT),
    "sltu": _setcond_reg(Cond.LTU),
    "xor": _alu_reg("xor"),
    "srl": _alu_reg("shr"),
    "sra": _alu_reg("sar"),
    "or": _alu_reg("or"),
    "and": _alu_reg("and"),
    "addiw": _word_imm("add"),
    "slliw": _word_shift_imm("shl"),
    "srliw": _word_shift_imm("shr", "ext32u"),
    "sraiw": _word_shift_imm("sar", "ext32s"),
    "addw": _word_reg("add"),
    "subw": _word_reg("sub"),
    "sllw": _word_reg("shl", mask_count=True),
    "srlw": _word_reg("shr", "ext32u", mask_count=True),
    "sraw": _word_reg("sar", "ext32s", mask_count=True),
    "fence": trans_fence,
    "fence.i": trans_fence_i,
    "ecall": trans_ecall,
    "ebreak": trans_ebreak,
}
