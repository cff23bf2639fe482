"""The generic translation loop (the role of QEMU's accel/tcg/translator.c).

A guest frontend supplies a `TranslatorOps` (its hooks) and a context derived from
`DisasContextBase`; `translator_loop` drives them:

    tb_start
    repeat:  fetch_insn -> insn_start (insn_start marker) -> translate_insn
    until the instruction ended the block, the next instruction is on another guest page, or
    max_insns instructions were translated
    tb_stop (emits the block's exit unless the last instruction already did)

Plugin instrumentation is injected through an optional `Instrumentation` object; with None,
nothing at all is emitted for it.
"""
from __future__ import annotations

import enum
from typing import Optional

from jit.emit import (const, gen_add_env, gen_add_in_place_of, gen_insn_start, gen_ld_env,
                      gen_loop_head, gen_st_env, gen_sub, new_label, new_temp)
from jit.ir import MO_64, OPS, IRBlock, Label, MemOp, Op, Temp

_ADD_ENV = OPS["add_env"]


def _global_at(block: IRBlock, env_offset: int) -> Optional[Temp]:
    """The global whose env field is at env_offset, if there is one."""
    for temp in block.globals.temps:
        if temp.offset == env_offset:
            return temp
    return None

GUEST_PAGE_SIZE = 4096


class DisasJump(enum.Enum):
    """Why translation stops after the current instruction (QEMU's DisasJumpType)."""

    NEXT = enum.auto()      # keep translating
    TOO_MANY = enum.auto()  # stop here; tb_stop emits a direct exit to pc_next
    NORETURN = enum.auto()  # the instruction emitted the block's exit itself; tb_stop adds nothing


class Instrumentation:
    """Where plugin instrumentation is inserted. Every hook may emit ops (normally empty
    plugin_cb_start/plugin_cb_end markers to be filled in later). This base class emits nothing;
    a plugin layer subclasses it. The translator skips all hook calls when no instrumentation
    object is given."""

    def tb_start(self, ctx: "DisasContextBase") -> None:
        """At the start of the block, before its first instruction."""

    def insn_start(self, ctx: "DisasContextBase") -> None:
        """After the insn_start marker of the instruction at ctx.pc_curr, before its code."""

    def insn_end(self, ctx: "DisasContextBase") -> None:
        """After the code of the instruction at ctx.pc_curr. When the instruction ended the
        block (ctx.is_jmp is NORETURN) its exit ops are already emitted, so code placed here is
        only reached by instructions that fall through."""

    def mem_before(self, ctx: "DisasContextBase", vaddr: Temp, memop: MemOp,
                   is_store: bool) -> None:
        """Before a guest memory access; vaddr holds the full virtual address."""

    def mem_after(self, ctx: "DisasContextBase", vaddr: Temp, memop: MemOp,
                  is_store: bool) -> None:
        """After a guest memory access (vaddr is still the accessed address)."""


class DisasContextBase:
    """State of one block's translation shared by every guest frontend."""

    def __init__(self, block: IRBlock, block_id: int, pc_first: int, max_insns: int,
                 instrumentation: Optional[Instrumentation] = None,
                 page_size: int = GUEST_PAGE_SIZE):
        self.block = block
        self.block_id = block_id
        self.pc_first = pc_first
        self.pc_curr = pc_first          # pc of the instruction being translated
        self.pc_next = pc_first          # pc after it (set by fetch_insn)
        self.max_insns = max_insns
        self.num_insns = 0
        self.is_jmp = DisasJump.NEXT
        self.instrumentation = instrumentation
        self.page_size = page_size
        # (op, instruction index): the constants RetiredInsnCounter patches when the block ends.
        self.insn_count_patches: list[tuple[Op, int]] = []
        self._loop_head: Optional[Label] = None

    def loop_head(self) -> Optional[Label]:
        """The label at the block's start, for a branch back to the block's own first
        instruction: the loop then runs inside the block (its registers stay in host
        registers across iterations, see jit/regalloc.py plan_labels) instead of leaving
        through a chained exit on every iteration. None for one-instruction blocks (the
        interpreter's single steps), which must not loop."""
        if self.max_insns <= 1:
            return None
        if self._loop_head is None:
            self._loop_head = new_label()
            gen_loop_head(self._loop_head)
            self.block.loops_inside = True
        return self._loop_head

    @property
    def has_loop_head(self) -> bool:
        return self._loop_head is not None

    def same_page(self, addr: int) -> bool:
        """Whether addr is on the page of the block's first instruction."""
        return (addr ^ self.pc_first) < self.page_size


class RetiredInsnCounter:
    """An exact count of retired guest instructions in a u64 env field (RISC-V's instret), for
    one add per block (the way QEMU's icount counts).

    A block adds the number of instructions it retires to the field when it starts: one add_env
    (a single read-modify-write instruction) whose constant is known only when the block has
    been translated, so it is emitted with a placeholder that `finish` patches. Code inside the block that needs
    the count as it was before instruction k (a read of the counter, an exit in the middle of
    the block) subtracts the instructions from k on, a constant patched the same way. A host
    fault in the middle of a block leaves the whole block counted; code that resumes the guest
    after one can rewind by the block's instructions from the faulting one on."""

    def __init__(self, env_offset: int):
        self.env_offset = env_offset

    def gen_block_start(self, ctx: DisasContextBase) -> None:
        """Add the block's retired instructions (patched by finish) to the counter."""
        ctx.insn_count_patches.append((gen_add_env(self.env_offset, 0), 0))

    def gen_count_before(self, ctx: DisasContextBase, insn_index: int) -> Temp:
        """A temp holding the count before the block's instruction insn_index (0: the first)
        retires."""
        count = new_temp("insn_count")
        gen_ld_env(count, self.env_offset, MO_64)
        ctx.insn_count_patches.append((gen_sub(count, count, const(0)), insn_index))
        return count

    def gen_rewind(self, ctx: DisasContextBase, insn_index: int) -> None:
        """Set the counter to its value before instruction insn_index, for an exit there that
        does not retire it."""
        gen_st_env(self.gen_count_before(ctx, insn_index), self.env_offset, MO_64)

    def finish(self, ctx: DisasContextBase, retired: int) -> None:
        """Patch the constants once the block is translated: `retired` of its instructions
        retire when it runs to its end (all of them, or all but a trapping last one).

        In a block that loops inside itself, the counter is a global instead (when the guest
        has one at env_offset): an add_env per iteration is a read-modify-write of memory,
        and each iteration would wait for the previous one's store; a global stays in a host
        register across iterations and is written back where the block leaves."""
        block = ctx.block
        counter = _global_at(block, self.env_offset) if ctx.has_loop_head else None
        for index, (op, insn_index) in enumerate(ctx.insn_count_patches):
            if counter is not None and op.opdef is _ADD_ENV:
                add = gen_add_in_place_of(op, counter, counter, const(0))
                ctx.insn_count_patches[index] = (add, insn_index)
        for op, insn_index in ctx.insn_count_patches:
            # The instructions from insn_index to the block's end: added at the block start,
            # not retired yet when instruction insn_index starts.
            if op.opdef is _ADD_ENV:
                op.consts[1] = retired - insn_index
            else:
                op.ins[1] = block.const(retired - insn_index)
        ctx.insn_count_patches.clear()


class TranslatorOps:
    """The hooks a guest frontend implements. `insn_start` has a default: the marker op that
    maps the following code to the guest instruction."""

    def tb_start(self, ctx: DisasContextBase) -> None:
        """Emit whatever every block of this guest starts with."""

    def fetch_insn(self, ctx: DisasContextBase) -> bool:
        """Read the instruction at ctx.pc_next into the context and set ctx.pc_curr/pc_next.
        Return False if it cannot be fetched and is not the first instruction (the block then
        ends before it); a fetch fault on the first instruction propagates."""
        raise NotImplementedError

    def insn_start(self, ctx: DisasContextBase) -> None:
        gen_insn_start(ctx.pc_curr)

    def translate_insn(self, ctx: DisasContextBase) -> None:
        """Emit the instruction's code; set ctx.is_jmp if it ends the block."""
        raise NotImplementedError

    def tb_stop(self, ctx: DisasContextBase) -> None:
        """Emit the block's exit for DisasJump.TOO_MANY (NORETURN: already emitted)."""
        raise NotImplementedError


def translator_loop(ops: TranslatorOps, ctx: DisasContextBase, max_insns: int) -> IRBlock:
    """Translate one block into ctx.block and return it (guest_size and n_insns set)."""
    if max_insns < 1:
        raise ValueError("a block holds at least one instruction")
    ctx.max_insns = max_insns
    instrumentation = ctx.instrumentation
    ops.tb_start(ctx)
    if instrumentation is not None:
        # Plugin hook: block start.
        instrumentation.tb_start(ctx)
    fetch_insn, insn_start, translate_insn = ops.fetch_insn, ops.insn_start, ops.translate_insn
    # The default insn_start hook is its marker alone: emitted without the hook's own call.
    default_insn_start = type(ops).insn_start is TranslatorOps.insn_start
    next_insn = DisasJump.NEXT
    pc_first, page_size = ctx.pc_first, ctx.page_size
    while True:
        if not fetch_insn(ctx):
            ctx.is_jmp = DisasJump.TOO_MANY
            break
        ctx.num_insns += 1
        if default_insn_start:
            gen_insn_start(ctx.pc_curr)
        else:
            insn_start(ctx)
        if instrumentation is not None:
            # Plugin hook: instruction start.
            instrumentation.insn_start(ctx)
        translate_insn(ctx)
        if instrumentation is not None:
            # Plugin hook: after the instruction.
            instrumentation.insn_end(ctx)
        if ctx.is_jmp is not next_insn:
            break
        # (ctx.same_page(ctx.pc_next), inlined)
        if ctx.num_insns >= max_insns or (ctx.pc_next ^ pc_first) >= page_size:
            ctx.is_jmp = DisasJump.TOO_MANY
            break
    ops.tb_stop(ctx)
    block = ctx.block
    block.guest_pc = ctx.pc_first
    block.guest_size = ctx.pc_next - ctx.pc_first
    block.n_insns = ctx.num_insns
    return block


__all__ = ["DisasContextBase", "DisasJump", "GUEST_PAGE_SIZE", "Instrumentation",
           "RetiredInsnCounter", "TranslatorOps", "translator_loop"]
