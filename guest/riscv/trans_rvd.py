"""Translation of RV64D (double precision), the role of QEMU's trans_rvd.c.inc: the builders of
trans_rvf.py with the D ops, the conversions between the formats and the 64-bit moves."""
from __future__ import annotations

from guest.riscv.trans_rvf import format_translators, fp_registers, fp_to_fp
from guest.riscv.translate import DisasContext, TranslateFn, get_gpr, set_fpr, set_gpr


def _fmv_x_d(ctx: DisasContext, a) -> bool:
    """x[rd] = the 64 bits of f[rs1]."""
    if a.rd:
        set_gpr(ctx, a.rd, *fp_registers(ctx, [a.rs1]))
    return True


def _fmv_d_x(ctx: DisasContext, a) -> bool:
    """f[rd] = the 64 bits of x[rs1]."""
    set_fpr(ctx, a.rd, get_gpr(ctx, a.rs1))
    return True


TRANSLATORS: dict[str, TranslateFn] = {
    **format_translators("d"),
    "fcvt.s.d": fp_to_fp("fcvt_s_d", ("rs1",)),
    # Exact: the op takes no rounding mode, but the rm field is checked all the same.
    "fcvt.d.s": fp_to_fp("fcvt_d_s", ("rs1",), rounding=False),
    "fmv.x.d": _fmv_x_d,
    "fmv.d.x": _fmv_d_x,
}
