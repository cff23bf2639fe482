"""Liveness of temps in one IR block (TCG's liveness pass), for the register allocator.

A backward pass over the ops computes, for every op, which of its inputs are not used afterwards
("die" there: the allocator frees their registers) and which of its outputs are never used (the
allocator drops them at once; pure ops with only dead outputs emit nothing).

Globals are live at the end of the block and wherever their values must be in env: at every op
with SIDE_EFFECTS or CAN_FAULT (the guest state is made precise there), at calls that read or
write globals, at basic-block ends (labels, branches, exits), and `ld_env` reads the globals its
bytes overlap. Locals are dead at the end of the block.

Branches inside a block are handled exactly: the live set at a label is the union over every
branch to it and the fall through, iterated to a fixed point for backward branches (blocks rarely
have labels, so the extra passes cost little). `cross_label_locals` are the locals live at some
label: the allocator gives them a stack slot for the whole block, since their value must be in
memory at the label whichever path reaches it.
"""
from __future__ import annotations

from dataclasses import dataclass

from jit.ir import OPS, CallFlag, IRBlock, Op, OpFlag, TempKind

# Op flags as plain ints: enum.Flag arithmetic is slow on the per-op path of both passes.
FLAG_BITS = {name: opdef.flags.value for name, opdef in OPS.items()}
BB_END = OpFlag.BB_END.value
BRANCH = OpFlag.BRANCH.value
EXIT = OpFlag.EXIT.value
CALL = OpFlag.CALL.value
MARKER = OpFlag.MARKER.value
_SYNC_BITS = OpFlag.SIDE_EFFECTS.value | OpFlag.CAN_FAULT.value | OpFlag.BB_END.value
# Ops (other than calls, which depend on their helper) that need every global in env.
_READS_ALL_GLOBALS = {name: bool(bits & _SYNC_BITS) and not bits & CALL
                      for name, bits in FLAG_BITS.items()}


def call_reads_globals(op: Op) -> bool:
    """Must every global be written back to env before this call?

    A helper that may write globals is also given written-back globals: after the call the
    allocator reloads globals from env, and env must then hold every global the helper did not
    write. A MAY_STOP helper may make the block leave right after it returns, with the guest
    state in env."""
    flags = op.consts[0].flags
    if flags & CallFlag.MAY_STOP:
        return True
    return not (flags & CallFlag.NO_READ_GLOBALS and flags & CallFlag.NO_WRITE_GLOBALS)


def call_writes_globals(op: Op) -> bool:
    """May this call change globals in env (so registers caching them are stale after it)?"""
    return not op.consts[0].flags & CallFlag.NO_WRITE_GLOBALS


def reads_all_globals(op: Op) -> bool:
    """Does the op need the value of every global in env when it executes?"""
    flags = FLAG_BITS[op.opdef.name]
    if flags & CALL:
        return call_reads_globals(op)
    return bool(flags & _SYNC_BITS)


def env_overlap_mask(block: IRBlock, offset: int, size: int) -> int:
    """Bitset (by temp index) of the globals whose 8 bytes in env overlap [offset, offset+size)."""
    mask = 0
    for temp in block.globals.temps:
        if temp.offset < offset + size and offset < temp.offset + 8:
            mask |= 1 << temp.index
    return mask


@dataclass
class Liveness:
    dead_inputs: list[int]       # per op: bit i set when input i's temp is not used afterwards
    dead_outputs: list[int]      # per op: bit i set when output i's value is never used
    live_at_label: dict[int, int]   # label id -> bitset (by temp index) of temps live there
    cross_label_locals: int      # bitset of locals live at some label


def analyze(block: IRBlock) -> Liveness:
    ops = block.ops
    globals_mask = (1 << len(block.globals.temps)) - 1
    local_mask = 0
    for temp in block.temps:
        if temp.kind is TempKind.LOCAL:
            local_mask |= 1 << temp.index
    ld_env_reads = {}
    for index, op in enumerate(ops):
        if op.name == "ld_env":
            ld_env_reads[index] = env_overlap_mask(block, op.consts[0], op.consts[1].size)

    label_live: dict[int, int] = {}
    while True:
        changed = False
        read_before_set: set[int] = set()   # labels of backward branches seen in this pass
        dead_inputs = [0] * len(ops)
        dead_outputs = [0] * len(ops)
        live = globals_mask
        for index in range(len(ops) - 1, -1, -1):
            op = ops[index]
            flags = FLAG_BITS[op.opdef.name]
            # What is live right after the op (control flow).
            if flags & EXIT:
                live = globals_mask
            if flags & BRANCH:
                target_id = op.consts[-1].id
                live |= label_live.get(target_id, 0)
                read_before_set.add(target_id)
            # The op's own writes happen after any write-back it needs.
            dead_out = 0
            for position, temp in enumerate(op.outs):
                bit = 1 << temp.index
                if not live & bit:
                    dead_out |= 1 << position
                live &= ~bit
            if _READS_ALL_GLOBALS[op.opdef.name] or flags & CALL and call_reads_globals(op):
                live |= globals_mask
            elif index in ld_env_reads:
                live |= ld_env_reads[index]
            dead_in = 0
            for position, temp in enumerate(op.ins):
                bit = 1 << temp.index
                if not live & bit:
                    dead_in |= 1 << position
                    live |= bit
            dead_inputs[index] = dead_in
            dead_outputs[index] = dead_out
            if flags & MARKER and op.opdef.name == "set_label":
                label_id = op.consts[0].id
                if label_live.get(label_id) != live:
                    label_live[label_id] = live
                    # Only a backward branch (processed before its label in this backward
                    # pass) has used a stale set; forward branches see this one.
                    if label_id in read_before_set:
                        changed = True
        if not changed:
            break

    cross = 0
    for live_set in label_live.values():
        cross |= live_set & local_mask
    return Liveness(dead_inputs, dead_outputs, label_live, cross)
