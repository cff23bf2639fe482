"""The RISC-V FP environment (fflags, frm) as the IR's FP environment, and the IR of the guest's
accesses to it.

fflags and frm are env fields (guest/riscv/cpu.py OFF_FFLAGS / OFF_FRM) with the IR's own FP
conventions (jit/ir.py "Floating point": flag bits NV DZ OF UF NX = 16 8 4 2 1, frm encoding), so
`RISCV_FPENV` just names them. FP ops accrue flags into it; a backend may keep the accrued flags
elsewhere for a while (the x86 backend in MXCSR), so a guest read of fflags must be an
fp_get_flags op, a write an fp_set_flags op, and a write of frm an fp_set_rm op (a backend keeps
its host rounding mode in step). frm itself is always exact in env: reading it is a plain load.
translate.py's gen_read_fflags / gen_write_fflags / gen_write_frm use these.
"""
from __future__ import annotations

from guest.riscv.cpu import OFF_FFLAGS, OFF_FRM
from jit.emit import gen_fp_get_flags, gen_fp_set_flags, gen_fp_set_rm, new_temp
from jit.ir import FpEnv, Temp

RISCV_FPENV = FpEnv(OFF_FFLAGS, OFF_FRM)


def gen_fflags_read() -> Temp:
    """A temp with the accrued exception flags (fcsr bits 4:0)."""
    flags = new_temp()
    gen_fp_get_flags(flags, RISCV_FPENV)
    return flags


def gen_fflags_write(value: Temp) -> None:
    """fflags = the low 5 bits of value."""
    gen_fp_set_flags(value, RISCV_FPENV)


def gen_frm_write(value: Temp) -> None:
    """frm = the low 3 bits of value."""
    gen_fp_set_rm(value, RISCV_FPENV)
