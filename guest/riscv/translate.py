"""RISC-V frontend: guest instructions -> IR, through the generic loop of jit/translator.py.

This module holds what every extension's translate functions share (the role of QEMU's
target/riscv/translate.c): the disassembly context, register access with x0 hidden, exits,
guest memory access, and `RiscvFrontend`, which fetches, decodes and dispatches each instruction
to the translate function registered for its name. The translate functions themselves live in
one module per extension (trans_rvi.py, trans_rvm.py, ...), each exporting `TRANSLATORS`.

A translate function has the signature `trans(ctx, args) -> bool`: `args` are the operands the
decoder extracted (guest/riscv/insn_table.py formats). Returning False, before emitting anything,
makes the instruction illegal (for encodings that are reserved only for some operand values).

Emitted IR is kept lean at the source: results are computed straight into the destination
register's global, constant operands are folded with the op table's fold functions, identities
(`addi rd, rs, 0`) become moves, and writes to x0 emit nothing.

Compressed instructions run the translate function of the instruction they expand to (the
pattern's `expands_to`); ctx.pc_next is then pc + 2, which is all jumps and links need.

Every block keeps the instret CSR exact: it starts by adding the number of instructions it
retires to env's instret (jit/translator.py RetiredInsnCounter). Instructions that trap
(illegal, ebreak, a misaligned atomic) do not retire. A guest memory fault in the middle of a
block is the one imprecision: instret then also counts the rest of the block (faults are fatal
to the guest for now; see RetiredInsnCounter for how a handler would rewind it).
"""
from __future__ import annotations

from typing import Callable, Optional

from guest.errors import GuestFault
from guest.riscv.cpu import GPR_NAMES, OFF_FRM, OFF_INSTRET, fpr_offset
from guest.riscv.decode import DECODE_CACHE_LIMIT, DECODER, DecodedInsn, Decoder, insn_size
from guest.riscv.insn_table import FMT_B, FMT_C_BRANCH, FMT_C_J, FMT_C_JALR, FMT_C_JR, FMT_J
from guest.riscv.disas import format_listing
from guest.riscv.fp_env import gen_fflags_read, gen_fflags_write, gen_frm_write
from jit.emit import (begin_block, const, end_block, gen_add, gen_and, gen_andc, gen_andi,
                      gen_br, gen_brcond, gen_div, gen_divu, gen_exit_tb, gen_exit_check,
                      gen_ext8s, gen_ext8u,
                      gen_ext16s, gen_ext16u, gen_ext32s, gen_ext32u, gen_goto_ptr,
                      gen_guest_ld, gen_guest_st, gen_ld_env, gen_mov, gen_movcond,
                      gen_mul, gen_mulsh, gen_mulsuh, gen_muluh, gen_neg, gen_not, gen_or,
                      gen_rem, gen_remu, gen_sar, gen_set_label, gen_setcond, gen_shl, gen_shr,
                      gen_st_env, gen_sub, gen_xor, new_label, new_temp)
from jit.emit import gen_goto_tb as gen_goto_tb_op
from jit.env import ENV_FAULT_ADDR, ENV_FAULT_HOST_PC, ENV_FAULT_IS_WRITE
from jit.exits import MAX_EXIT_SLOTS, ExitKind, encode_exit
from jit.ir import MASK64, MO_64, OPS, Cond, GlobalSet, IRBlock, MemOp, Temp, u64
from jit.translator import (GUEST_PAGE_SIZE, DisasContextBase, DisasJump, Instrumentation,
                            RetiredInsnCounter, TranslatorOps, translator_loop)

__all__ = ["DisasContext", "FCSR_FFLAGS_MASK", "FCSR_FRM_MASK", "GuestFault", "INSTRET_COUNTER",
           "NAN_BOX_BITS", "RiscvFrontend", "TranslateFn", "dest_gpr", "gen_arith",
           "gen_atomic_cmpxchg", "gen_atomic_rmw", "gen_branch", "gen_check_aligned",
           "gen_exception", "gen_exit_to_dispatcher", "gen_fp_load", "gen_fp_store",
           "gen_goto_tb", "gen_guest_load", "gen_guest_store", "gen_jump_indirect", "gen_load",
           "gen_read_fflags", "gen_read_frm", "gen_setcond_value", "gen_store", "gen_value",
           "gen_word_op", "gen_write_fflags", "gen_write_frm", "get_fpr", "get_gpr", "set_fpr",
           "set_gpr", "translator_registry"]

# The instret CSR: env's u64 at OFF_INSTRET, maintained by every block.
INSTRET_COUNTER = RetiredInsnCounter(OFF_INSTRET)


class DisasContext(DisasContextBase):
    """Translation state of one RISC-V block."""

    def __init__(self, frontend: "RiscvFrontend", block: IRBlock, block_id: int, pc_first: int,
                 max_insns: int, instrumentation: Optional[Instrumentation]):
        super().__init__(block, block_id, pc_first, max_insns, instrumentation)
        self.gprs = frontend.gprs            # index -> global temp; index 0 is None
        self.pc_global = frontend.pc_global
        self.insn_word = 0                   # bits of the current instruction (16 or 32)
        self.insn: Optional[DecodedInsn] = None   # the decoded instruction (None: illegal)
        self.last_insn_traps = False         # the block ends with an instruction that traps
        # Rarely taken exits (misaligned atomics, side exits), emitted after the block's main
        # exit so that the common path runs straight: functions called by tb_stop.
        self.out_of_line: list[Callable[[], None]] = []
        # Whether the block is a loop body (see RiscvFrontend.back_edge_follows): its
        # conditional branches other than the back edge then leave through side exits and
        # translation goes on after them. None: not known yet (asked at the first such branch);
        # False when side exits are off for this block.
        self.loop_body: Optional[bool] = None if frontend.side_exits_allowed(self) else False
        self._frontend = frontend
        self.side_exits = 0


    def find_loop_body(self) -> bool:
        """At the block's first conditional branch that is not a back edge: whether a branch
        back to the block's start follows (the instructions before this one had none)."""
        self.loop_body = self._frontend.back_edge_follows(self.pc_next, self.pc_first,
                                                          self.max_insns - self.num_insns)
        return self.loop_body


TranslateFn = Callable[[DisasContext, object], bool]


# --------------------------------------------------------------------------------------------
# Registers


def get_gpr(ctx: DisasContext, index: int) -> Temp:
    """The temp holding x[index] (the constant 0 for x0)."""
    return ctx.gprs[index] if index else const(0)


def dest_gpr(ctx: DisasContext, index: int) -> Temp:
    """Where to compute a value for x[index]: its global, or a scratch temp for x0 (whose
    result is discarded; used when the computation must happen anyway, e.g. a load)."""
    return ctx.gprs[index] if index else new_temp()


def set_gpr(ctx: DisasContext, index: int, value: Temp) -> None:
    """x[index] = value; nothing for x0, nothing when value already is x[index]."""
    if index and value is not ctx.gprs[index]:
        gen_mov(ctx.gprs[index], value)


# --------------------------------------------------------------------------------------------
# Value ops with folding at the source

_VALUE_EMITTERS = {
    "mov": gen_mov, "add": gen_add, "sub": gen_sub, "and": gen_and, "or": gen_or,
    "xor": gen_xor, "andc": gen_andc, "neg": gen_neg, "not": gen_not, "shl": gen_shl,
    "shr": gen_shr, "sar": gen_sar, "mul": gen_mul, "mulsh": gen_mulsh, "muluh": gen_muluh,
    "mulsuh": gen_mulsuh, "div": gen_div, "divu": gen_divu, "rem": gen_rem, "remu": gen_remu,
    "ext8s": gen_ext8s, "ext8u": gen_ext8u, "ext16s": gen_ext16s, "ext16u": gen_ext16u,
    "ext32s": gen_ext32s, "ext32u": gen_ext32u,
}
# b such that op(a, b) == a, and a such that op(a, b) == b.
_RIGHT_IDENTITY = {"add": 0, "sub": 0, "or": 0, "xor": 0, "andc": 0, "shl": 0, "shr": 0,
                   "sar": 0, "and": MASK64, "mul": 1, "div": 1, "divu": 1}
_LEFT_IDENTITY = {"add": 0, "or": 0, "xor": 0, "and": MASK64, "mul": 1}
# Commutative ops get a constant operand second, where host instructions take immediates.
_COMMUTATIVE = frozenset({"add", "and", "or", "xor", "mul", "mulsh", "muluh"})


def gen_value(opname: str, dest: Temp, *inputs: Temp) -> Temp:
    """Compute opname(*inputs) (a pure value op without constants) and return the temp holding
    the result: dest after emitting the op, or - emitting nothing - a folded constant when every
    input is constant, or an input when the op is an identity for the other one. The caller
    stores the returned temp where the result belongs (set_gpr)."""
    if len(inputs) == 2:
        first, second = inputs
        if first.is_const and second.is_const:
            return const(OPS[opname].fold(first.value, second.value))
        if second.is_const and _RIGHT_IDENTITY.get(opname) == second.value:
            return first
        if first.is_const:
            if _LEFT_IDENTITY.get(opname) == first.value:
                return second
            if opname == "sub" and first.value == 0:
                gen_neg(dest, second)
                return dest
            if opname in _COMMUTATIVE:
                inputs = (second, first)
    elif all(temp.is_const for temp in inputs):
        return const(OPS[opname].fold(*[temp.value for temp in inputs]))
    _VALUE_EMITTERS[opname](dest, *inputs)
    return dest


def gen_setcond_value(cond: Cond, dest: Temp, first: Temp, second: Temp) -> Temp:
    """Like gen_value, for `cond(first, second) ? 1 : 0`."""
    if first.is_const and second.is_const:
        return const(int(cond.evaluate(first.value, second.value)))
    if first is second:
        return const(int(cond.evaluate(0, 0)))
    if first.is_const:
        first, second, cond = second, first, cond.swap()
    gen_setcond(cond, dest, first, second)
    return dest


def gen_arith(ctx: DisasContext, rd: int, opname: str, first: Temp, second: Temp) -> None:
    """x[rd] = opname(first, second) for an IR op with the RISC-V meaning (64-bit shifts count
    mod 64; divisions by zero and overflow give the RISC-V results); nothing for x0."""
    if rd:
        set_gpr(ctx, rd, gen_value(opname, ctx.gprs[rd], first, second))


def gen_word_op(ctx: DisasContext, rd: int, opname: str, first: Temp, second: Temp,
                extend_inputs: Optional[str] = None, mask_count: bool = False) -> None:
    """x[rd] = sext32(opname(ext(first), ext(second))): the RV64 "W" instructions.

    extend_inputs: "ext32s"/"ext32u" applied to both inputs first (divisions, right shifts);
    mask_count: the second input is a shift count, taken modulo 32 (and is not extended).
    """
    if rd == 0:
        return
    dest = ctx.gprs[rd]
    # The second operand is prepared first, in a temp of its own: computing into dest may
    # overwrite a source register (rd == rs2).
    if mask_count:
        second = gen_value("and", new_temp(), second, const(31))
    elif extend_inputs is not None:
        second = gen_value(extend_inputs, new_temp(), second)
    if extend_inputs is not None:
        first = gen_value(extend_inputs, dest, first)
    result = gen_value(opname, dest, first, second)
    # An arithmetic right shift of a sign-extended 32-bit value is still one; so is a logical
    # right shift of a zero-extended one by a constant count of at least 1 (bit 31 is 0).
    if not (opname == "sar" and extend_inputs == "ext32s"
            or opname == "shr" and extend_inputs == "ext32u" and second.is_const
            and second.value & 31):
        result = gen_value("ext32s", dest, result)
    set_gpr(ctx, rd, result)


# --------------------------------------------------------------------------------------------
# Leaving the block


def gen_goto_tb(ctx: DisasContext, slot: int, target: int) -> None:
    """Direct exit through goto_tb slot `slot` to the guest pc `target` (chainable). A jump
    back to the block's own start loops inside the block instead (checking for an exit
    request on each iteration, as the block entry does)."""
    if target == ctx.pc_first:
        loop_head = ctx.loop_head()
        if loop_head is not None:
            gen_exit_check(target)
            gen_br(loop_head)
            ctx.is_jmp = DisasJump.NORETURN
            return
    gen_goto_tb_op(slot)
    gen_mov(ctx.pc_global, const(target))       # (const wraps to u64)
    gen_exit_tb(encode_exit(ExitKind.CHAIN, slot, ctx.block_id))
    ctx.is_jmp = DisasJump.NORETURN


def gen_jump_indirect(ctx: DisasContext, target: Temp) -> None:
    """Exit to the guest pc held in `target`; a constant target becomes a direct exit."""
    if target.is_const:
        gen_goto_tb(ctx, 0, target.value)
        return
    if target is not ctx.pc_global:
        gen_mov(ctx.pc_global, target)
    gen_goto_ptr(ctx.pc_global)
    ctx.is_jmp = DisasJump.NORETURN


def gen_exit_to_dispatcher(ctx: DisasContext, next_pc: int,
                           kind: ExitKind = ExitKind.LOOKUP) -> None:
    """Return to the dispatcher, which continues at next_pc: no chaining. FENCE.I passes
    SYNC_ICACHE so that code the guest modified is retranslated."""
    gen_mov(ctx.pc_global, const(u64(next_pc)))
    gen_exit_tb(encode_exit(kind))
    ctx.is_jmp = DisasJump.NORETURN


def gen_exception(ctx: DisasContext, kind: ExitKind) -> None:
    """Leave with env.pc = this instruction's pc (SYSCALL, BREAK, ILLEGAL). An ecall retires
    (the syscall is its effect: execution continues after it); ebreak and an illegal
    instruction trap without retiring, which instret reflects."""
    gen_mov(ctx.pc_global, const(ctx.pc_curr))
    gen_exit_tb(encode_exit(kind))
    ctx.is_jmp = DisasJump.NORETURN
    ctx.last_insn_traps = kind is not ExitKind.SYSCALL


def gen_branch(ctx: DisasContext, cond: Cond, first: Temp, second: Temp, target: int) -> None:
    """Conditional branch to `target`: taken leaves through slot 1, not taken through slot 0.
    An outcome known at translation time (constant operands, a register against itself) leaves
    a single direct exit."""
    if first.is_const and second.is_const:
        taken: Optional[bool] = cond.evaluate(first.value, second.value)
    elif first is second:
        taken = cond.evaluate(0, 0)
    else:
        taken = None
    if taken is not None:
        gen_goto_tb(ctx, 1 if taken else 0, target if taken else ctx.pc_next)
        return
    if first.is_const:
        first, second, cond = second, first, cond.swap()
    if target == ctx.pc_first and ctx.loop_head() is not None:
        # The back edge of a loop inside the block: looping is the straight path, leaving
        # the loop is out of line.
        leave = new_label()
        gen_brcond(cond.invert(), first, second, leave)
        next_pc = ctx.pc_next

        def emit_loop_exit() -> None:
            gen_set_label(leave)
            gen_goto_tb(ctx, 0, next_pc)

        ctx.out_of_line.append(emit_loop_exit)
        gen_goto_tb(ctx, 1, target)
        return
    taken_label = new_label()
    gen_brcond(cond, first, second, taken_label)
    if (target != ctx.pc_first and ctx.side_exits < MAX_SIDE_EXITS
            and (ctx.loop_body if ctx.loop_body is not None else ctx.find_loop_body())):
        _gen_side_exit(ctx, taken_label, target)
        return
    gen_goto_tb(ctx, 0, ctx.pc_next)
    gen_set_label(taken_label)
    gen_goto_tb(ctx, 1, target)


def _insn_in_window(window: bytes, offset: int) -> Optional[tuple[int, int]]:
    """(bits, size) of the instruction at window[offset:], or None unless the window holds 4
    bytes there (a 32-bit instruction, or a compressed one and what follows it)."""
    if 0 <= offset <= len(window) - 4:
        word = int.from_bytes(window[offset:offset + 4], "little")
        return (word, 4) if word & 3 == 3 else (word & 0xFFFF, 2)
    return None


# What back_edge_follows sees in an instruction besides a conditional branch's offset (an int).
_NO_LANDMARK = object()     # an instruction that neither branches nor jumps
_END_OF_SCAN = object()     # a jump, or an illegal encoding: the scan stops
_UNCLASSIFIED = object()    # (not in the cache yet)

# goto_tb slots 0 and 1 are the block's last exits; side exits take the next ones.
MAX_SIDE_EXITS = MAX_EXIT_SLOTS - 2


def _gen_side_exit(ctx: DisasContext, taken_label, target: int) -> None:
    """The taken side of a conditional branch inside a loop body: out of line, the block
    leaves (or loops) from there, after taking back the instructions it counted but did not
    run; translation goes on with the fall-through instruction."""
    slot = 2 + ctx.side_exits
    ctx.side_exits += 1
    retired = ctx.num_insns          # the branch itself retires

    def emit_side_exit() -> None:
        gen_set_label(taken_label)
        INSTRET_COUNTER.gen_rewind(ctx, retired)
        gen_goto_tb(ctx, slot, target)

    ctx.out_of_line.append(emit_side_exit)


# --------------------------------------------------------------------------------------------
# Guest memory


def _hook_vaddr(base: Temp, offset: int) -> Temp:
    """The accessed address in a temp of its own, for instrumentation hooks (the access may
    overwrite the base register)."""
    if base.is_const:
        return const(base.value + offset)
    vaddr = new_temp()
    gen_add(vaddr, base, const(offset))
    return vaddr


def gen_guest_load(ctx: DisasContext, dest: Temp, base: Temp, offset: int,
                   memop: MemOp) -> None:
    """dest = extend(mem[base + offset]), between the instrumentation's memory hooks."""
    instrumentation = ctx.instrumentation
    if instrumentation is None:
        gen_guest_ld(dest, base, offset, memop)
        return
    vaddr = _hook_vaddr(base, offset)
    instrumentation.mem_before(ctx, vaddr, memop, False)
    gen_guest_ld(dest, base, offset, memop)
    instrumentation.mem_after(ctx, vaddr, memop, False)


def gen_guest_store(ctx: DisasContext, value: Temp, base: Temp, offset: int,
                    memop: MemOp) -> None:
    """mem[base + offset] = low bits of value, between the instrumentation's memory hooks."""
    instrumentation = ctx.instrumentation
    if instrumentation is None:
        gen_guest_st(value, base, offset, memop)
        return
    vaddr = _hook_vaddr(base, offset)
    instrumentation.mem_before(ctx, vaddr, memop, True)
    gen_guest_st(value, base, offset, memop)
    instrumentation.mem_after(ctx, vaddr, memop, True)


def gen_load(ctx: DisasContext, rd: int, rs1: int, offset: int, memop: MemOp) -> None:
    """x[rd] = extend(mem[x[rs1] + offset]); the access happens (and may fault) even for x0."""
    gen_guest_load(ctx, dest_gpr(ctx, rd), get_gpr(ctx, rs1), offset, memop)


def gen_store(ctx: DisasContext, rs2: int, rs1: int, offset: int, memop: MemOp) -> None:
    """mem[x[rs1] + offset] = low bits of x[rs2]."""
    gen_guest_store(ctx, get_gpr(ctx, rs2), get_gpr(ctx, rs1), offset, memop)


# --------------------------------------------------------------------------------------------
# Floating-point registers (env fields, not globals: only loads, stores and moves touch them
# so far). NaN-boxing: a single-precision value lives in the low half of an f register whose
# upper 32 bits are all ones.

NAN_BOX_BITS = 0xFFFFFFFF_00000000


def get_fpr(ctx: DisasContext, index: int) -> Temp:
    """A temp holding the 64 bits of f[index]."""
    value = new_temp()
    gen_ld_env(value, fpr_offset(index), MO_64)
    return value


def set_fpr(ctx: DisasContext, index: int, value: Temp) -> None:
    """f[index] = the 64 bits of value."""
    gen_st_env(value, fpr_offset(index), MO_64)


def gen_fp_load(ctx: DisasContext, rd: int, rs1: int, offset: int, memop: MemOp) -> None:
    """f[rd] = mem[x[rs1] + offset]: 64 bits (FLD), or 32 bits NaN-boxed (FLW)."""
    value = new_temp()
    gen_guest_load(ctx, value, get_gpr(ctx, rs1), offset, memop)
    if memop.bits == 32:
        gen_or(value, value, const(NAN_BOX_BITS))
    set_fpr(ctx, rd, value)


def gen_fp_store(ctx: DisasContext, rs2: int, rs1: int, offset: int, memop: MemOp) -> None:
    """mem[x[rs1] + offset] = the low memop bits of f[rs2] (FSW stores them as they are, boxed
    or not, as the spec says)."""
    gen_guest_store(ctx, get_fpr(ctx, rs2), get_gpr(ctx, rs1), offset, memop)


# --------------------------------------------------------------------------------------------
# Atomics. One guest thread for now: an atomic operation is a load, the operation and a store,
# each emitted by the functions below only, so that they can become atomic IR ops (and host
# lock-prefixed instructions) when guest threads run in parallel.


def gen_check_aligned(ctx: DisasContext, addr: Temp, memop: MemOp, is_write: bool) -> None:
    """Atomics need naturally aligned addresses: a misaligned one raises the address-misaligned
    exception. Linux delivers SIGBUS (BUS_ADRALN) and qemu-user does the same: the exit is
    ExitKind.MISALIGNED (SIGBUS in the dispatcher) with env.fault_addr = addr and env.pc = the
    instruction, which does not retire. The exit is out of line."""
    alignment_mask = memop.size - 1
    if alignment_mask == 0 or (addr.is_const and addr.value & alignment_mask == 0):
        return    # a constant address comes from x0: it is 0
    low_bits = new_temp()
    gen_andi(low_bits, addr, alignment_mask)
    misaligned = new_label()
    gen_brcond(Cond.NE, low_bits, const(0), misaligned)
    insn_pc = ctx.pc_curr
    insn_index = ctx.num_insns - 1

    def emit_misaligned_exit() -> None:
        gen_set_label(misaligned)
        INSTRET_COUNTER.gen_rewind(ctx, insn_index)
        gen_st_env(addr, ENV_FAULT_ADDR, MO_64)
        gen_st_env(const(int(is_write)), ENV_FAULT_IS_WRITE, MO_64)
        gen_st_env(const(0), ENV_FAULT_HOST_PC, MO_64)   # no host pc: env.pc is exact
        gen_mov(ctx.pc_global, const(insn_pc))
        gen_exit_tb(encode_exit(ExitKind.MISALIGNED))

    ctx.out_of_line.append(emit_misaligned_exit)


def _combine_exchange(dest: Temp, old: Temp, value: Temp) -> Temp:
    """new = value (AMOSWAP)."""
    return value


def _combine_minmax(cond: Cond):
    """new = cond(old, value) ? old : value (the min/max AMOs)."""
    def combine(dest: Temp, old: Temp, value: Temp) -> Temp:
        gen_movcond(cond, dest, old, value, old, value)
        return dest
    return combine


def _combine_value(opname: str):
    def combine(dest: Temp, old: Temp, value: Temp) -> Temp:
        return gen_value(opname, dest, old, value)
    return combine


# How each read-modify-write operation (TCG's atomic_fetch_<op> / atomic_xchg) combines the old
# memory value with the operand. For 32-bit operations both are sign-extended 32-bit values,
# which compare in the same order as the 32-bit values do, signed and unsigned.
ATOMIC_COMBINE = {
    "xchg": _combine_exchange,
    "add": _combine_value("add"),
    "xor": _combine_value("xor"),
    "and": _combine_value("and"),
    "or": _combine_value("or"),
    "smin": _combine_minmax(Cond.LT),
    "smax": _combine_minmax(Cond.GT),
    "umin": _combine_minmax(Cond.LTU),
    "umax": _combine_minmax(Cond.GTU),
}


def gen_atomic_rmw(ctx: DisasContext, dest: Temp, addr: Temp, value: Temp, operation: str,
                   memop: MemOp) -> None:
    """dest = mem[addr]; mem[addr] = operation(dest, value), atomically (one guest thread: a
    load, the operation and a store). memop: MO_32S or MO_64; value is then a sign-extended
    32-bit value or a 64-bit one. The address must be aligned (gen_check_aligned first).

    The load faults first; dest must not be a register the guest sees, so that a store fault
    leaves the guest state as it was before the instruction."""
    combine = ATOMIC_COMBINE[operation]
    gen_guest_load(ctx, dest, addr, 0, memop)
    new_value = combine(new_temp(), dest, value)
    gen_guest_store(ctx, new_value, addr, 0, _store_memop(memop))


def gen_atomic_cmpxchg(ctx: DisasContext, dest: Temp, addr: Temp, expected: Temp, new_value: Temp,
                       memop: MemOp) -> None:
    """dest = mem[addr]; if dest == expected: mem[addr] = new_value, atomically (one guest
    thread: a load, a compare and a store). memop and alignment as for gen_atomic_rmw."""
    gen_guest_load(ctx, dest, addr, 0, memop)
    differs = new_label()
    gen_brcond(Cond.NE, dest, expected, differs)
    gen_guest_store(ctx, new_value, addr, 0, _store_memop(memop))
    gen_set_label(differs)


def _store_memop(load_memop: MemOp) -> MemOp:
    """The store of an atomic's load: same size (a store has no extension)."""
    return MemOp(load_memop.size_shift)


# --------------------------------------------------------------------------------------------
# Floating-point control: every access to fflags and frm goes through these four functions, so
# that how they are kept (env fields now; accrued natively later) changes in one place.

FCSR_FFLAGS_MASK = 0x1F   # NV DZ OF UF NX
FCSR_FRM_MASK = 0x7


def gen_read_fflags(ctx: DisasContext) -> Temp:
    """The accrued exception flags, fcsr bits 4:0."""
    return gen_fflags_read()     # FP ops may keep accrued flags elsewhere (guest/riscv/fp_env.py)


def gen_write_fflags(ctx: DisasContext, value: Temp) -> None:
    """fflags = the low 5 bits of value."""
    gen_fflags_write(value)


def gen_read_frm(ctx: DisasContext) -> Temp:
    """The dynamic rounding mode, fcsr bits 7:5."""
    mode = new_temp()
    gen_ld_env(mode, OFF_FRM, MO_64)
    return mode


def gen_write_frm(ctx: DisasContext, value: Temp) -> None:
    """frm = the low 3 bits of value. Ends the block after the current instruction: the
    translation of FP instructions may depend on the rounding mode."""
    gen_frm_write(value)         # keeps only the low 3 bits
    if ctx.is_jmp is DisasJump.NEXT:
        ctx.is_jmp = DisasJump.TOO_MANY


# --------------------------------------------------------------------------------------------
# The registry of translate functions

_registry: Optional[dict[str, TranslateFn]] = None


def translator_registry() -> dict[str, TranslateFn]:
    """Instruction name -> translate function, over every extension module."""
    global _registry
    if _registry is None:
        # Imported here, not at the top: the extension modules use this module's helpers.
        from guest.riscv import (trans_rva, trans_rvc, trans_rvd, trans_rvf, trans_rvi, trans_rvm,
                                 trans_zicsr)
        registry: dict[str, TranslateFn] = {}
        for extension_table in (trans_rvi.TRANSLATORS, trans_rvm.TRANSLATORS,
                                trans_rva.TRANSLATORS, trans_zicsr.TRANSLATORS,
                                trans_rvc.TRANSLATORS, trans_rvf.TRANSLATORS,
                                trans_rvd.TRANSLATORS):
            for name, function in extension_table.items():
                if name in registry:
                    raise ValueError(f"two translate functions for {name}")
                registry[name] = function
        _registry = registry
    return _registry


# --------------------------------------------------------------------------------------------
# The frontend


class RiscvFrontend(TranslatorOps):
    """Translates RV64 guest code, read through `fetch(pc, size) -> bytes` (which raises
    GuestFault for code that cannot be read), into IR blocks."""

    def __init__(self, globals_: GlobalSet, fetch: Callable[[int, int], bytes],
                 instrumentation: Optional[Instrumentation] = None,
                 decoder: Decoder = DECODER):
        self.globals = globals_
        self.fetch = fetch
        self.instrumentation = instrumentation
        self.decoder = decoder
        self.gprs: tuple[Optional[Temp], ...] = (None,) + tuple(
            globals_.by_name[name] for name in GPR_NAMES[1:])
        self.pc_global = globals_.by_name["pc"]
        registry = translator_registry()
        missing = [p.name for p in decoder.instructions if p.translate_name not in registry]
        if missing:
            raise ValueError(f"no translate function for {', '.join(missing)}")
        # Keyed by pattern object: one dict look-up per instruction. A compressed instruction
        # maps to the translate function of the instruction it expands to.
        self._translate_by_pattern = {p: registry[p.translate_name]
                                      for p in decoder.instructions}
        self._decoded = decoder.cached     # (fetch cuts words to their size, like decode)
        # Instruction word -> (decoded instruction, translate function): see _dispatch_entry.
        self._dispatch_cache: dict[int, tuple] = {}
        self._dispatch = self._dispatch_cache.get
        # Instruction word -> what the loop-body scan sees in it (see _classify_landmark).
        self._landmarks: dict[int, object] = {}

    # ---- public API

    def translate(self, pc: int, block_id: int = 0, max_insns: int = 512) -> IRBlock:
        """Translate the block starting at pc. A fetch fault on its first instruction raises
        GuestFault; later instructions that cannot be fetched end the block before them."""
        block = begin_block(self.globals, pc)
        self._window = b""          # guest code bytes read ahead (see _fetch_insn_bits)
        self._window_start = pc
        self._window_ok = True
        try:
            ctx = DisasContext(self, block, block_id, pc, max_insns, self.instrumentation)
            translator_loop(self, ctx, max_insns)
        finally:
            end_block()
        return block

    # How far ahead `back_edge_follows` looks for the back edge, in instructions.
    LOOP_SCAN_INSNS = 32

    def side_exits_allowed(self, ctx: DisasContext) -> bool:
        """Plugins see qemu's blocks (a block runs to its end unless it faults), so loop
        bodies with side exits are for uninstrumented code only; and one-instruction blocks
        (the interpreter's single steps) have no room for them."""
        return self.instrumentation is None and ctx.max_insns > 1

    def back_edge_follows(self, start: int, pc: int, max_insns: int) -> bool:
        """Whether a conditional branch back to pc follows from `start` on, within the page
        and before any jump: then the code from pc to it is (likely) a loop body, whose other
        conditional branches the block may pass with side exits, so that the whole body loops
        inside one block (its fall-through paths are not join points that other blocks would
        translate again). Only a heuristic: translation itself decides where the block really
        ends. (The landmarks are formats: conditional branches, and jumps; jalr shares FMT_I
        with other instructions and is not one.)"""
        limit = min(max_insns, self.LOOP_SCAN_INSNS)
        page_end = (pc | (GUEST_PAGE_SIZE - 1)) + 1
        landmarks = self._landmarks.get
        window, window_start = self._window, self._window_start
        insn_pc = start
        # (The loop reads the fetch window itself: this scan decodes up to LOOP_SCAN_INSNS
        # instructions per block, most of them thrown away, so it must cost little.)
        for _ in range(limit):
            in_window = _insn_in_window(window, insn_pc - window_start)
            if in_window is not None:
                word, size = in_window
            else:
                try:
                    word, size = self._fetch_insn_bits(insn_pc)
                except GuestFault:
                    return False
                window, window_start = self._window, self._window_start
            if insn_pc + size > page_end:
                return False
            landmark = landmarks(word, _UNCLASSIFIED)
            if landmark is _UNCLASSIFIED:
                landmark = self._classify_landmark(word)
            if landmark is not _NO_LANDMARK:
                if landmark is _END_OF_SCAN:
                    return False
                if insn_pc + landmark == pc:    # a conditional branch's offset
                    return True
            insn_pc += size
        return False

    def _classify_landmark(self, word: int):
        """What back_edge_follows sees in an instruction word (cached by word, like decoding):
        a conditional branch's offset, _END_OF_SCAN (a jump, or an illegal encoding), or
        _NO_LANDMARK."""
        insn = self._decoded(word) or self.decoder.decode(word)
        if insn is None:
            landmark = _END_OF_SCAN
        else:
            fmt = insn.pattern.format
            # (Formats are compared by identity: hashing their dataclass costs more.)
            if fmt is FMT_B or fmt is FMT_C_BRANCH:
                landmark = insn.args.imm
            elif fmt is FMT_J or fmt is FMT_C_J or fmt is FMT_C_JR or fmt is FMT_C_JALR:
                landmark = _END_OF_SCAN
            else:
                landmark = _NO_LANDMARK
        if len(self._landmarks) >= DECODE_CACHE_LIMIT:
            self._landmarks.clear()
        self._landmarks[word] = landmark
        return landmark

    def disassemble(self, pc: int, size: int) -> str:
        """Listing of the guest code in [pc, pc + size) (a block's guest_pc and guest_size)."""
        return format_listing(self.fetch(pc, size), pc)

    # ---- translator hooks

    def tb_start(self, ctx: DisasContext) -> None:
        INSTRET_COUNTER.gen_block_start(ctx)

    def fetch_insn(self, ctx: DisasContext) -> bool:
        pc = ctx.pc_next
        # (_fetch_insn_bits's common case first: the instruction is in the fetch window.)
        in_window = _insn_in_window(self._window, pc - self._window_start)
        if in_window is not None:
            word, size = in_window
        else:
            try:
                word, size = self._fetch_insn_bits(pc)
            except GuestFault:
                if ctx.num_insns == 0:
                    raise
                return False
        ctx.pc_curr = pc
        ctx.pc_next = pc + size
        ctx.insn_word = word
        return True

    def translate_insn(self, ctx: DisasContext) -> None:
        word = ctx.insn_word
        entry = self._dispatch(word)
        if entry is None:
            entry = self._dispatch_entry(word)
        insn, translate = entry
        ctx.insn = insn
        if translate is None or not translate(ctx, insn.args):
            gen_exception(ctx, ExitKind.ILLEGAL)
            return
        # (The rare page position first: it decides nearly every instruction at once.)
        if ctx.pc_next & (ctx.page_size - 1) == ctx.page_size - 2 \
                and ctx.is_jmp is DisasJump.NEXT and self._next_insn_straddles_page(ctx):
            ctx.is_jmp = DisasJump.TOO_MANY

    def _dispatch_entry(self, word: int) -> tuple[Optional[DecodedInsn], Optional[TranslateFn]]:
        """(decoded instruction, its translate function), both None for an illegal word;
        cached by word like decoding."""
        insn = self._decoded(word) or self.decoder.decode(word)
        entry = (None, None) if insn is None else (insn, self._translate_by_pattern[insn.pattern])
        if len(self._dispatch_cache) >= DECODE_CACHE_LIMIT:
            self._dispatch_cache.clear()
        self._dispatch_cache[word] = entry
        return entry

    def tb_stop(self, ctx: DisasContext) -> None:
        if ctx.is_jmp is DisasJump.TOO_MANY:
            gen_goto_tb(ctx, 0, ctx.pc_next)
        for emit_exit in ctx.out_of_line:
            emit_exit()
        # (The closures refer to ctx: dropping them breaks the cycle, so that the translation's
        # objects are freed at once by reference counting, not by the cyclic collector.)
        ctx.out_of_line.clear()
        INSTRET_COUNTER.finish(ctx, ctx.num_insns - int(ctx.last_insn_traps))

    # ---- fetching

    # Bytes read ahead per fetch call (within the page): most blocks are a few instructions.
    FETCH_WINDOW = 128

    def _fetch_insn_bits(self, pc: int) -> tuple[int, int]:
        """The instruction's bits and size.

        Code is read ahead, up to FETCH_WINDOW bytes but never past the page, and the
        instructions are taken from those bytes: a read that succeeded covers every 4-byte
        read inside it (fetch is a function of guest memory, which does not change during a
        translation). When it cannot be used (the instruction's 4 bytes are not all in it, the
        read-ahead failed), the instruction is read on its own as below."""
        offset = pc - self._window_start
        window = self._window
        if offset < 0 or offset + 4 > len(window):
            if not self._window_ok:
                return self._fetch_insn_bits_alone(pc)
            size = min(self.FETCH_WINDOW, GUEST_PAGE_SIZE - (pc & (GUEST_PAGE_SIZE - 1)))
            if size < 4:
                return self._fetch_insn_bits_alone(pc)
            try:
                window = self.fetch(pc, size)
            except Exception:       # noqa: BLE001 - reported by the read of the instruction
                self._window_ok = False
                return self._fetch_insn_bits_alone(pc)
            if len(window) != size:
                self._window_ok = False
                return self._fetch_insn_bits_alone(pc)
            self._window = window
            self._window_start = pc
            offset = 0
        return _insn_in_window(window, offset)

    def _fetch_insn_bits_alone(self, pc: int) -> tuple[int, int]:
        """The common case is one 4-byte read; a read that fails (a compressed instruction at
        the end of readable code, or a 32-bit instruction crossing into an unreadable page) is
        redone halfword by halfword so that the fault reported is the first byte that really
        cannot be read."""
        try:
            data = self.fetch(pc, 4)
        except GuestFault:
            low = int.from_bytes(self.fetch(pc, 2), "little")
            if insn_size(low) == 2:
                return low, 2
            high = int.from_bytes(self.fetch(pc + 2, 2), "little")
            return low | (high << 16), 4
        word = int.from_bytes(data, "little")
        size = insn_size(word)
        return (word if size == 4 else word & 0xFFFF), size

    def _next_insn_straddles_page(self, ctx: DisasContext) -> bool:
        """Whether the instruction at pc_next would start in the last halfword of this page and
        continue on the next: such an instruction starts a block of its own, so that only a
        block's first instruction may cross a page."""
        page_offset = ctx.pc_next & (ctx.page_size - 1)
        if page_offset != ctx.page_size - 2 or not ctx.same_page(ctx.pc_next):
            return False
        try:
            low = int.from_bytes(self.fetch(ctx.pc_next, 2), "little")
        except GuestFault:
            return False  # fetch_insn will end the block there
        return insn_size(low) == 4
