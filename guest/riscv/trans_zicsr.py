"""Translation of Zicsr, with the CSRs a user-mode program can reach: the role of QEMU's
trans_rvzicsr.c.inc and, for its few registers, of csr.c.

The CSRs are those qemu-user (7.2) gives an RV64GC program: fflags, frm and fcsr (kept in env,
through translate.py's gen_read/write_fflags/frm) and the Zicntr counters cycle, time and
instret, which are read-only. Any other CSR number - unknown, privileged, or of an extension
we do not have - makes the instruction illegal, and so does a write to a read-only CSR.

Which accesses happen follows the spec: CSRRW/CSRRWI with rd=x0 do not read the CSR; CSRRS/CSRRC
with rs1=x0 and CSRRSI/CSRRCI with uimm=0 do not write it (so they may read a read-only CSR).

Counters. qemu-user returns host ticks for all three; we keep instret exact (the count of
instructions retired before the reading one, see translate.INSTRET_COUNTER). time counts at
10 MHz (the timebase of QEMU's virt machine and of common RISC-V boards) and cycle at a nominal
1 GHz, both from the host's monotonic clock, read through a helper call that touches no
guest state.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, Optional

from guest.riscv.translate import (INSTRET_COUNTER, DisasContext, TranslateFn, gen_read_fflags,
                                   gen_read_frm, gen_value, gen_write_fflags, gen_write_frm,
                                   get_gpr, set_gpr)
from jit.emit import const, gen_call, new_temp
from jit.ir import CallFlag, HelperInfo, Temp

CSR_FFLAGS = 0x001
CSR_FRM = 0x002
CSR_FCSR = 0x003
CSR_CYCLE = 0xC00
CSR_TIME = 0xC01
CSR_INSTRET = 0xC02

FCSR_FRM_SHIFT = 5
TIME_TICKS_PER_SECOND = 10_000_000
NANOSECONDS_PER_TIME_TICK = 1_000_000_000 // TIME_TICKS_PER_SECOND


def host_time_ticks() -> int:
    """The time CSR: host monotonic time in 10 MHz ticks."""
    return time.monotonic_ns() // NANOSECONDS_PER_TIME_TICK


def host_cycles() -> int:
    """The cycle CSR: host monotonic time in nanoseconds (a nominal 1 GHz clock)."""
    return time.monotonic_ns()


_COUNTER_HELPER_FLAGS = (CallFlag.NO_READ_GLOBALS | CallFlag.NO_WRITE_GLOBALS
                         | CallFlag.NO_SIDE_EFFECTS)
TIME_HELPER = HelperInfo("riscv_read_time", 0, True, _COUNTER_HELPER_FLAGS,
                         py_func=host_time_ticks)
CYCLE_HELPER = HelperInfo("riscv_read_cycle", 0, True, _COUNTER_HELPER_FLAGS,
                          py_func=host_cycles)


# --------------------------------------------------------------------------------------------
# The CSRs


@dataclass(frozen=True)
class Csr:
    """How to read and write one CSR: read(ctx) -> temp with its value; write(ctx, value) with
    the new value (the CSR keeps the bits it implements). write is None for a read-only CSR."""

    name: str
    read: Callable[[DisasContext], Temp]
    write: Optional[Callable[[DisasContext, Temp], None]]


def _read_fcsr(ctx: DisasContext) -> Temp:
    frm_bits = gen_value("shl", new_temp(), gen_read_frm(ctx), const(FCSR_FRM_SHIFT))
    return gen_value("or", new_temp(), frm_bits, gen_read_fflags(ctx))


def _write_fcsr(ctx: DisasContext, value: Temp) -> None:
    # Bits above frm are reserved: dropped, as gen_write_frm keeps only its 3 bits.
    gen_write_fflags(ctx, value)
    gen_write_frm(ctx, gen_value("shr", new_temp(), value, const(FCSR_FRM_SHIFT)))


def _read_helper(helper: HelperInfo) -> Callable[[DisasContext], Temp]:
    def read(ctx: DisasContext) -> Temp:
        value = new_temp()
        gen_call(helper, value, [])
        return value
    return read


def _read_instret(ctx: DisasContext) -> Temp:
    return INSTRET_COUNTER.gen_count_before(ctx, ctx.num_insns - 1)


CSRS: dict[int, Csr] = {
    CSR_FFLAGS: Csr("fflags", gen_read_fflags, gen_write_fflags),
    CSR_FRM: Csr("frm", gen_read_frm, gen_write_frm),
    CSR_FCSR: Csr("fcsr", _read_fcsr, _write_fcsr),
    CSR_CYCLE: Csr("cycle", _read_helper(CYCLE_HELPER), None),
    CSR_TIME: Csr("time", _read_helper(TIME_HELPER), None),
    CSR_INSTRET: Csr("instret", _read_instret, None),
}


# --------------------------------------------------------------------------------------------
# The instructions


def _combine_write(ctx: DisasContext, old: Optional[Temp], operand: Temp) -> Temp:
    return operand


def _combine_set(ctx: DisasContext, old: Optional[Temp], operand: Temp) -> Temp:
    return gen_value("or", new_temp(), old, operand)


def _combine_clear(ctx: DisasContext, old: Optional[Temp], operand: Temp) -> Temp:
    return gen_value("andc", new_temp(), old, operand)


def gen_csr_access(ctx: DisasContext, rd: int, csr_number: int, operand: Temp, writes: bool,
                   combine: Callable[[DisasContext, Optional[Temp], Temp], Temp]) -> bool:
    """x[rd] = csr; if writes: csr = combine(old value, operand). False (nothing emitted) when
    the access is illegal: an unknown CSR, or a write to a read-only one."""
    csr = CSRS.get(csr_number)
    if csr is None or (writes and csr.write is None):
        return False
    # CSRRW with rd=x0 neither needs nor reads the old value.
    needs_old = rd != 0 or (writes and combine is not _combine_write)
    old = csr.read(ctx) if needs_old else None
    if writes:
        csr.write(ctx, combine(ctx, old, operand))
    if rd:
        set_gpr(ctx, rd, old)
    return True


def _csr_register(combine) -> TranslateFn:
    """CSRRW/CSRRS/CSRRC: the operand is x[rs1]; set/clear with rs1=x0 do not write."""
    always_writes = combine is _combine_write

    def trans(ctx: DisasContext, a) -> bool:
        return gen_csr_access(ctx, a.rd, a.csr, get_gpr(ctx, a.rs1),
                              always_writes or a.rs1 != 0, combine)
    return trans


def _csr_immediate(combine) -> TranslateFn:
    """CSRRWI/CSRRSI/CSRRCI: the operand is the 5-bit uimm; set/clear with uimm=0 do not
    write."""
    always_writes = combine is _combine_write

    def trans(ctx: DisasContext, a) -> bool:
        return gen_csr_access(ctx, a.rd, a.csr, const(a.uimm), always_writes or a.uimm != 0,
                              combine)
    return trans


TRANSLATORS: dict[str, TranslateFn] = {
    "csrrw": _csr_register(_combine_write),
    "csrrs": _csr_register(_combine_set),
    "csrrc": _csr_register(_combine_clear),
    "csrrwi": _csr_immediate(_combine_write),
    "csrrsi": _csr_immediate(_combine_set),
    "csrrci": _csr_immediate(_combine_clear),
}
