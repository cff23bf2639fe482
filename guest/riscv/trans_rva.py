"""Translation of RV64A: the role of QEMU's trans_rva.c.inc.

One guest thread for now, so the aq/rl ordering bits need no code. The memory side of every
instruction goes through translate.py's gen_atomic_rmw / gen_atomic_cmpxchg, the future atomic
IR ops.

LR/SC follow qemu-user: LR records the address and the value it loaded (env reservation
fields); SC succeeds when the reservation is for its address and memory still holds the value
LR loaded (a compare-and-store), writes 0 to rd on success and 1 on failure, and clears the
reservation either way. An SC whose address is not the reserved one fails without touching
memory - so it neither faults nor checks alignment, as in qemu-user (qemu 7.2: `sc.w` to
address 0 with no reservation returns 1).

Natural alignment is required (misaligned -> address-misaligned exception, see
translate.gen_check_aligned). rd is written last, after the store, so that a fault on the
load or the store leaves the guest registers as they were before the instruction.
"""
from __future__ import annotations

from guest.riscv.cpu import NO_RESERVATION, OFF_RESERVATION, OFF_RESERVATION_VALUE
from guest.riscv.translate import (DisasContext, TranslateFn, gen_atomic_cmpxchg, gen_atomic_rmw,
                                   gen_check_aligned, gen_guest_load, gen_value, get_gpr,
                                   set_gpr)
from jit.emit import (const, gen_brcond, gen_ld_env, gen_movi, gen_set_label, gen_setcond,
                      gen_st_env, new_label, new_temp)
from jit.ir import MO_32S, MO_64, Cond, MemOp


def _load_reserved(memop: MemOp) -> TranslateFn:
    def trans(ctx: DisasContext, a) -> bool:
        addr = get_gpr(ctx, a.rs1)
        gen_check_aligned(ctx, addr, memop, is_write=False)
        value = new_temp()
        gen_guest_load(ctx, value, addr, 0, memop)
        gen_st_env(addr, OFF_RESERVATION, MO_64)
        gen_st_env(value, OFF_RESERVATION_VALUE, MO_64)
        set_gpr(ctx, a.rd, value)
        return True
    return trans


def _store_conditional(memop: MemOp) -> TranslateFn:
    def trans(ctx: DisasContext, a) -> bool:
        addr = get_gpr(ctx, a.rs1)
        failed = new_temp()         # rd's value: 0 on success, 1 on failure
        gen_movi(failed, 1)
        done = new_label()
        reservation = new_temp()
        gen_ld_env(reservation, OFF_RESERVATION, MO_64)
        gen_brcond(Cond.NE, reservation, addr, done)
        gen_check_aligned(ctx, addr, memop, is_write=True)
        reserved_value = new_temp()
        gen_ld_env(reserved_value, OFF_RESERVATION_VALUE, MO_64)
        current = new_temp()
        gen_atomic_cmpxchg(ctx, current, addr, reserved_value, get_gpr(ctx, a.rs2), memop)
        gen_setcond(Cond.NE, failed, current, reserved_value)
        gen_set_label(done)
        gen_st_env(const(NO_RESERVATION), OFF_RESERVATION, MO_64)
        set_gpr(ctx, a.rd, failed)
        return True
    return trans


def _amo(operation: str, memop: MemOp) -> TranslateFn:
    """AMO<op>.W/D: rd = mem[x[rs1]]; mem[x[rs1]] = op(that value, x[rs2])."""
    # The 32-bit min/max compare sign-extended 32-bit values (the loaded one is, by MO_32S).
    extend_operand = memop.size == 4 and operation in ("smin", "smax", "umin", "umax")

    def trans(ctx: DisasContext, a) -> bool:
        addr = get_gpr(ctx, a.rs1)
        operand = get_gpr(ctx, a.rs2)
        if extend_operand:
            operand = gen_value("ext32s", new_temp(), operand)
        gen_check_aligned(ctx, addr, memop, is_write=True)
        old = new_temp()
        gen_atomic_rmw(ctx, old, addr, operand, operation, memop)
        set_gpr(ctx, a.rd, old)
        return True
    return trans


TRANSLATORS: dict[str, TranslateFn] = {
    "lr.w": _load_reserved(MO_32S),
    "sc.w": _store_conditional(MO_32S),
    "amoswap.w": _amo("xchg", MO_32S),
    "amoadd.w": _amo("add", MO_32S),
    "amoxor.w": _amo("xor", MO_32S),
    "amoand.w": _amo("and", MO_32S),
    "amoor.w": _amo("or", MO_32S),
    "amomin.w": _amo("smin", MO_32S),
    "amomax.w": _amo("smax", MO_32S),
    "amominu.w": _amo("umin", MO_32S),
    "amomaxu.w": _amo("umax", MO_32S),
    "lr.d": _load_reserved(MO_64),
    "sc.d": _store_conditional(MO_64),
    "amoswap.d": _amo("xchg", MO_64),
    "amoadd.d": _amo("add", MO_64),
    "amoxor.d": _amo("xor", MO_64),
    "amoand.d": _amo("and", MO_64),
    "amoor.d": _amo("or", MO_64),
    "amomin.d": _amo("smin", MO_64),
    "amomax.d": _amo("smax", MO_64),
    "amominu.d": _amo("umin", MO_64),
    "amomaxu.d": _amo("umax", MO_64),
}
