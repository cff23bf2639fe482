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



def env_overlap_mask(block: IRBlock, offset: int, size: int) -> int:
    """Bitset (by temp index) of the globals whose 8 bytes in env overlap [offset, offset+size)."""
    globals_ = block.globals
    temps = globals_.temps
    cache = getattr(globals_, "_env_overlap_masks", None)
    if cache is None:
        cache = globals_._env_overlap_masks = {}      # (n globals, offset, size) -> mask
    key = (len(temps), offset, size)
    mask = cache.get(key)
    if mask is None:
        mask = 0
        for temp in temps:
            if temp.offset < offset + size and offset < temp.offset + 8:
                mask |= 1 << temp.index
        cache[key] = mask
    return mask


@dataclass
class Liveness:
    dead_inputs: list[int]       # per op: bit i set when input i's temp is not used afterwards
    dead_outputs: list[int]      # per op: bit i set when output i's value is never used
    live_at_label: dict[int, int]   # label id -> bitset (by temp index) of temps live there
    cross_label_locals: int      # bitset of locals live at some label


# What the backward walk does at each op, by op definition: a bitset of the actions below.
_ACT_EXIT = 1          # nothing but the globals is live after it
_ACT_BRANCH = 2        # what is live at its label is live after it
_ACT_READS_ALL = 4     # every global is read (synced) by it
_ACT_CALL = 8          # reads every global depending on its helper's flags
_ACT_LD_ENV = 16       # reads the globals its bytes overlap
_ACT_SET_LABEL = 32
_ACTIONS = {}
for _opdef in OPS.values():
    _bits = _opdef.flags.value
    _ACTIONS[_opdef] = ((_ACT_EXIT if _bits & EXIT else 0) | (_ACT_BRANCH if _bits & BRANCH else 0)
                        | (_ACT_READS_ALL if _READS_ALL_GLOBALS[_opdef.name] else 0)
                        | (_ACT_CALL if _bits & CALL else 0)
                        | (_ACT_LD_ENV if _opdef.name == "ld_env" else 0)
                        | (_ACT_SET_LABEL if _opdef.name == "set_label" else 0))
del _opdef, _bits


def analyze(block: IRBlock) -> Liveness:
    ops = block.ops
    n_ops = len(ops)
    globals_mask = (1 << len(block.globals.temps)) - 1
    actions_of = _ACTIONS

    label_live: dict[int, int] = {}
    while True:
        changed = False
        read_before_set: set[int] = set()   # labels of backward branches seen in this pass
        dead_inputs = [0] * n_ops
        dead_outputs = [0] * n_ops
        live = globals_mask
        for index in range(n_ops - 1, -1, -1):
            op = ops[index]
            action = actions_of[op.opdef]
            if action:
                # What is live right after the op (control flow).
                if action & _ACT_EXIT:
                    live = globals_mask
                if action & _ACT_BRANCH:
                    target_id = op.consts[-1].id
                    live |= label_live.get(target_id, 0)
                    read_before_set.add(target_id)
            # The op's own writes happen after any write-back it needs.
            outs = op.outs
            if outs:
                dead_out = 0
                position = 1
                for temp in outs:
                    bit = 1 << temp.index
                    if live & bit:
                        live ^= bit
                    else:
                        dead_out |= position
                    position <<= 1
                dead_outputs[index] = dead_out
            if action:
                if action & _ACT_READS_ALL or action & _ACT_CALL and call_reads_globals(op):
                    live |= globals_mask
                elif action & _ACT_LD_ENV:
                    live |= env_overlap_mask(block, op.consts[0], op.consts[1].size)
            ins = op.ins
            if ins:
                dead_in = 0
                position = 1
                for temp in ins:
                    bit = 1 << temp.index
                    if not live & bit:
                        dead_in |= position
                        live |= bit
                    position <<= 1
                dead_inputs[index] = dead_in
            if action & _ACT_SET_LABEL:
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
    if label_live:
        live_somewhere = 0
        for live_set in label_live.values():
            live_somewhere |= live_set
        candidates = live_somewhere & ~globals_mask     # locals and constants
        temps = block.temps
        local = TempKind.LOCAL
        while candidates:
            low = candidates & -candidates
            candidates ^= low
            if temps[low.bit_length() - 1].kind is local:
                cross |= low
    return Liveness(dead_inputs, dead_outputs, label_live, cross)
