"""Translation of RV64F (single precision), the role of QEMU's trans_rvf.c.inc; the builders
here serve trans_rvd.py too, the two formats differing only in their IR op names.

Every rounding or flag-raising instruction is one FP_ENV op of the IR (jit/ir.py "Floating
point"), computing straight from the f registers' 64-bit values (NaN-boxing is part of the
ops' meaning) into the destination register; sign injection, fclass and the moves are pure
value ops. The loads and stores (flw, fsw, fld, fsd and their compressed forms) are memory
instructions of trans_rvi.py / trans_rvc.py.

An f register is an env field (not a global): reads load it, writes store it, except that a
register stored or loaded earlier in the block is read from the temp holding its value
(`fp_registers`).

The rm field: 5 and 6 are reserved (the decoder already refuses them; check_rm too). 7 (dyn)
uses frm, and frm 5-7 make the instruction illegal when it executes: the first dyn instruction
of a block checks frm once (frm cannot change later in the block: a write of frm ends the
block), with an out-of-line exit (ILLEGAL at that instruction, which does not retire).
"""
from __future__ import annotations

from typing import Optional, Sequence

from guest.riscv.cpu import fpr_offset
from guest.riscv.fp_env import RISCV_FPENV
from guest.riscv.translate import (INSTRET_COUNTER, NAN_BOX_BITS, DisasContext, TranslateFn,
                                   gen_read_frm, gen_value, get_fpr, get_gpr, set_fpr, set_gpr)
from jit.emit import (const, gen_brcond, gen_exit_tb, gen_fp_op, gen_fp_value, gen_mov,
                      gen_set_label, new_label, new_temp)
from jit.exits import ExitKind, encode_exit
from jit.ir import Cond, FpRm, Temp
from jit.softfloat import FMA_KINDS, INT_CONVERSIONS

RM_DYN = 7
RESERVED_RMS = (5, 6)
LARGEST_VALID_FRM = 4


def check_rm(ctx: DisasContext, rm: int) -> Optional[FpRm]:
    """The FpRm of an instruction's rm field, or None when the field is reserved (the
    instruction is illegal; nothing emitted). For dyn, the block checks frm (once)."""
    if rm in RESERVED_RMS:
        return None
    if rm == RM_DYN and not getattr(ctx, "fp_frm_checked", False):
        ctx.fp_frm_checked = True
        frm = gen_read_frm(ctx)
        illegal = new_label()
        gen_brcond(Cond.GTU, frm, const(LARGEST_VALID_FRM), illegal)
        insn_pc = ctx.pc_curr
        insn_index = ctx.num_insns - 1

        def emit_illegal_exit() -> None:
            gen_set_label(illegal)
            INSTRET_COUNTER.gen_rewind(ctx, insn_index)
            gen_mov(ctx.pc_global, const(insn_pc))
            gen_exit_tb(encode_exit(ExitKind.ILLEGAL))

        ctx.out_of_line.append(emit_illegal_exit)
    return FpRm(rm)


# f registers live in env, not in globals. Within a block, an F/D instruction reads a register
# that an earlier instruction of the block stored (or loaded) from the temp that holds the value
# instead of loading it again: the ops appended since the last look are scanned, and a 64-bit
# st_env to an f register records the stored temp; anything else that may change a register or
# a cached temp (a narrower st_env over f registers, a write to the temp, a call, a label: values
# from several paths) forgets. Off with instrumentation (plugin code is inserted later).
_FPR_FIRST = fpr_offset(0)
_FPR_END = fpr_offset(32)


def _fpr_cache(ctx: DisasContext) -> Optional[dict[int, Temp]]:
    if ctx.instrumentation is not None:
        return None
    cache: Optional[dict[int, Temp]] = getattr(ctx, "fp_cache", None)
    if cache is None:
        cache = ctx.fp_cache = {}
        ctx.fp_cache_seen = 0
    ops = ctx.block.ops
    for op in ops[ctx.fp_cache_seen:]:
        name = op.opdef.name
        if name == "st_env":
            offset, memop = op.consts
            if _FPR_FIRST - 8 < offset < _FPR_END:
                index = (offset - _FPR_FIRST) // 8
                value = op.ins[0]
                if memop.size == 8 and (offset - _FPR_FIRST) % 8 == 0 and not value.is_global:
                    cache[index] = value
                else:
                    cache.pop(index, None)
                    cache.pop(index + 1, None)
            continue
        if name == "set_label" or op.opdef.call:
            cache.clear()
            continue
        for out in op.outs:
            for index in [i for i, temp in cache.items() if temp is out]:
                del cache[index]
    ctx.fp_cache_seen = len(ops)
    return cache


def fp_registers(ctx: DisasContext, indices: Sequence[int]) -> list[Temp]:
    """Temps with the f registers' values."""
    cache = _fpr_cache(ctx)
    loaded: dict[int, Temp] = {} if cache is None else cache
    values = []
    for index in indices:
        if index not in loaded:
            loaded[index] = get_fpr(ctx, index)
        values.append(loaded[index])
    if cache is not None:
        ctx.fp_cache_seen = len(ctx.block.ops)     # the loads just emitted are known
    return values


def fp_to_fp(name: str, sources: tuple[str, ...], rounding: bool = True) -> TranslateFn:
    """f[rd] = op(f[sources]) for an FP_ENV op; rounding: the instruction has an rm field that
    the op uses (an op without rm still validates the field if the instruction has one)."""
    def trans(ctx: DisasContext, a) -> bool:
        rm = check_rm(ctx, a.rm) if hasattr(a, "rm") else None
        if hasattr(a, "rm") and rm is None:
            return False
        dest = new_temp()
        inputs = fp_registers(ctx, [getattr(a, source) for source in sources])
        gen_fp_op(name, dest, inputs, RISCV_FPENV, rm if rounding else None)
        set_fpr(ctx, a.rd, dest)
        return True
    return trans


def fp_compare(name: str) -> TranslateFn:
    """x[rd] = feq/flt/fle(f[rs1], f[rs2]) (the op runs even for x0: flags)."""
    def trans(ctx: DisasContext, a) -> bool:
        dest = new_temp()
        gen_fp_op(name, dest, fp_registers(ctx, [a.rs1, a.rs2]), RISCV_FPENV)
        set_gpr(ctx, a.rd, dest)
        return True
    return trans


def fp_sign_inject(name: str) -> TranslateFn:
    def trans(ctx: DisasContext, a) -> bool:
        dest = new_temp()
        gen_fp_value(name, dest, *fp_registers(ctx, [a.rs1, a.rs2]))
        set_fpr(ctx, a.rd, dest)
        return True
    return trans


def fp_class(name: str) -> TranslateFn:
    def trans(ctx: DisasContext, a) -> bool:
        if a.rd:
            dest = new_temp()
            gen_fp_value(name, dest, *fp_registers(ctx, [a.rs1]))
            set_gpr(ctx, a.rd, dest)
        return True
    return trans


def fp_to_int(name: str) -> TranslateFn:
    """x[rd] = fcvt.{w,wu,l,lu}.fmt(f[rs1])."""
    def trans(ctx: DisasContext, a) -> bool:
        rm = check_rm(ctx, a.rm)
        if rm is None:
            return False
        dest = new_temp()
        gen_fp_op(name, dest, fp_registers(ctx, [a.rs1]), RISCV_FPENV, rm)
        set_gpr(ctx, a.rd, dest)
        return True
    return trans


def int_to_fp(name: str) -> TranslateFn:
    """f[rd] = fcvt.fmt.{w,wu,l,lu}(x[rs1]); fcvt.d.w/wu are exact (pure ops)."""
    def trans(ctx: DisasContext, a) -> bool:
        rm = check_rm(ctx, a.rm)
        if rm is None:
            return False
        dest = new_temp()
        source = get_gpr(ctx, a.rs1)
        if name in ("fcvt_d_w", "fcvt_d_wu"):
            gen_fp_value(name, dest, source)
        else:
            gen_fp_op(name, dest, [source], RISCV_FPENV, rm)
        set_fpr(ctx, a.rd, dest)
        return True
    return trans


def _fmv_x_w(ctx: DisasContext, a) -> bool:
    """x[rd] = sext32(low word of f[rs1]), whatever the boxing."""
    if a.rd:
        set_gpr(ctx, a.rd, gen_value("ext32s", ctx.gprs[a.rd], *fp_registers(ctx, [a.rs1])))
    return True


def _fmv_w_x(ctx: DisasContext, a) -> bool:
    """f[rd] = the low word of x[rs1], NaN-boxed."""
    low = gen_value("ext32u", new_temp(), get_gpr(ctx, a.rs1))
    set_fpr(ctx, a.rd, gen_value("or", new_temp(), low, const(NAN_BOX_BITS)))
    return True


def format_translators(fmt: str) -> dict[str, TranslateFn]:
    """The instructions both formats have, for fmt "s" or "d"."""
    table: dict[str, TranslateFn] = {}
    for op in ("fadd", "fsub", "fmul", "fdiv"):
        table[f"{op}.{fmt}"] = fp_to_fp(f"{op}_{fmt}", ("rs1", "rs2"))
    table[f"fsqrt.{fmt}"] = fp_to_fp(f"fsqrt_{fmt}", ("rs1",))
    for op in FMA_KINDS:
        table[f"{op}.{fmt}"] = fp_to_fp(f"{op}_{fmt}", ("rs1", "rs2", "rs3"))
    for op in ("fmin", "fmax"):
        table[f"{op}.{fmt}"] = fp_to_fp(f"{op}_{fmt}", ("rs1", "rs2"), rounding=False)
    for op in ("feq", "flt", "fle"):
        table[f"{op}.{fmt}"] = fp_compare(f"{op}_{fmt}")
    for kind in ("j", "jn", "jx"):
        table[f"fsgn{kind}.{fmt}"] = fp_sign_inject(f"fsgn{kind}_{fmt}")
    table[f"fclass.{fmt}"] = fp_class(f"fclass_{fmt}")
    for int_name in INT_CONVERSIONS:
        table[f"fcvt.{int_name}.{fmt}"] = fp_to_int(f"fcvt_{int_name}_{fmt}")
        table[f"fcvt.{fmt}.{int_name}"] = int_to_fp(f"fcvt_{fmt}_{int_name}")
    return table


TRANSLATORS: dict[str, TranslateFn] = {
    **format_translators("s"),
    "fmv.x.w": _fmv_x_w,
    "fmv.w.x": _fmv_w_x,
}
