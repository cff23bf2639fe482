"""The IR optimizer: constant folding and propagation, copy propagation, algebraic
simplification and dead-code removal, over one block.

Knowledge (which temp holds a known constant, which temp is a copy of which) is valid only inside
a basic block: it is forgotten at every label and after every BB_END op, and knowledge about
globals is forgotten after a call that may write them. The fold functions of the op table are the
only definition of what a value op computes.
"""
from __future__ import annotations

from typing import Optional

from jit.ir import MASK64, OPS, CallFlag, IRBlock, Op, Temp, TempKind

_MOV = OPS["mov"]
_BR = OPS["br"]
_SET_LABEL = OPS["set_label"]
_BRCOND = OPS["brcond"]
_MOVCOND = OPS["movcond"]
_CONST = TempKind.CONST
_GLOBAL = TempKind.GLOBAL
_LOCAL = TempKind.LOCAL

# Op definitions grouped for the passes below (identity tests are cheaper than name compares).
_COMMUTATIVE = frozenset(OPS[name] for name in ("add", "and", "or", "xor", "mul", "mulsh",
                                                 "muluh"))
_COMPARES = frozenset(OPS[name] for name in ("setcond", "brcond", "movcond"))
# _simplified's identities, by op definition.
_RIGHT_ZERO_IS_A = frozenset(OPS[n] for n in ("add", "sub", "or", "xor", "shl", "shr", "sar",
                                               "andc"))
_RIGHT_ZERO_IS_ZERO = frozenset(OPS[n] for n in ("and", "mul"))
_RIGHT_ONE_IS_A = frozenset(OPS[n] for n in ("mul", "div", "divu"))
_LEFT_ZERO_IS_ZERO = frozenset(OPS[n] for n in ("and", "mul", "shl", "shr", "sar"))
_LEFT_ZERO_IS_B = frozenset(OPS[n] for n in ("add", "or", "xor"))
_SAME_IS_A = frozenset(OPS[n] for n in ("and", "or"))
_SAME_IS_ZERO = frozenset(OPS[n] for n in ("sub", "xor", "andc"))
_AND = OPS["and"]
_OR = OPS["or"]
_SHL = OPS["shl"]
_SHR = OPS["shr"]
_GUEST_LD = OPS["guest_ld"]
_GUEST_ST = OPS["guest_st"]
_ST_HOST = OPS["st_host"]
_PLUGIN_ADD = OPS["plugin_add_u64"]
# The sign extension of the low 1, 2 or 4 bytes, by size.
_SIGN_EXTEND = {1: OPS["ext8s"], 2: OPS["ext16s"], 4: OPS["ext32s"]}


def _forwarded_load(block: IRBlock, stores: list, load: Op, emit) -> Optional[Op]:
    """The ops computing a guest load from the stores of its basic block that wrote every byte
    it reads (store-to-load forwarding: a load of bytes just stored in several pieces waits
    for the stores to drain, about 12 cycles on x86): `emit` gets the ops that gather the
    bytes and the op giving the load's result is returned; None when some loaded byte was not
    stored in the block.

    stores: the block's guest stores since the last barrier, oldest first, all through the
    same base temp: [offset, size, value temp, or None once that temp has changed]. Each loaded
    byte comes from the latest store that wrote it: that store's value, moved to the byte's
    place in the load and masked."""
    offset, memop = load.consts
    size = memop.size
    wanted = (1 << size) - 1            # bit i: byte offset + i still to find
    pieces = []
    for store_offset, store_size, value in reversed(stores):
        first = store_offset - offset   # where the store's first byte is in the load
        covered = wanted & ((((1 << store_size) - 1) << first) if first >= 0
                            else ((1 << store_size) - 1) >> -first)
        if covered:
            if value is None:           # its value temp changed since
                return None
            pieces.append((first, covered, value))
            wanted &= ~covered
            if not wanted:
                break
    if wanted:
        return None
    total = None
    for first, covered, value in pieces:
        if first:
            moved = block.new_temp()
            emit(Op(_SHL if first > 0 else _SHR, [moved], [value, block.const(8 * abs(first))],
                    []))
            value = moved
        byte_mask = 0
        for byte in range(size):
            if covered >> byte & 1:
                byte_mask |= 0xFF << (8 * byte)
        if byte_mask != MASK64:
            masked = block.new_temp()
            emit(Op(_AND, [masked], [value, block.const(byte_mask)], []))
            value = masked
        if total is None:
            total = value
        else:
            combined = block.new_temp()
            emit(Op(_OR, [combined], [total, value], []))
            total = combined
    if memop.signed:
        return Op(_SIGN_EXTEND[size], [load.outs[0]], [total], [])
    return Op(_MOV, [load.outs[0]], [total], [])


def _forget_globals(copy_of: dict, copies: dict, n_globals: int) -> None:
    for index in list(copy_of):
        source = copy_of[index]
        if index < n_globals or source.kind is _GLOBAL:
            del copy_of[index]
            copies[source.index].discard(index)


def _written(copy_of: dict, copies: dict, index: int) -> None:
    source = copy_of.pop(index, None)
    if source is not None:
        copies[source.index].discard(index)
    dependents = copies.pop(index, None)
    if dependents:
        for dependent in dependents:
            del copy_of[dependent]


def _simplified(opdef, a: Temp, b: Temp, const) -> Optional[Temp]:
    """Algebraic identities: the input (or constant, made with `const`) that `opdef a, b` always
    equals, or None. Only identities that hold for every value of the non-constant inputs are
    used."""
    if b.kind is _CONST:
        value = b.value
        if value == 0:
            if opdef in _RIGHT_ZERO_IS_A:
                return a
            if opdef in _RIGHT_ZERO_IS_ZERO:
                return const(0)
        elif value == MASK64:
            if opdef is _AND:
                return a
            if opdef is _OR:
                return const(MASK64)
        elif value == 1 and opdef in _RIGHT_ONE_IS_A:
            return a
    if a.kind is _CONST and a.value == 0:
        if opdef in _LEFT_ZERO_IS_ZERO:
            return const(0)
        if opdef in _LEFT_ZERO_IS_B:
            return b
    if a is b:
        if opdef in _SAME_IS_A:
            return a
        if opdef in _SAME_IS_ZERO:
            return const(0)
    return None


# What propagate_and_fold does with an op, by op definition (one dict look-up per op instead of
# several flag tests).
_PF_MARKER = 0        # no temps: kept as is (a label also ends what is known)
_PF_LABEL = 1
_PF_MOV = 2           # records a copy
_PF_VALUE = 3         # a pure value op with a fold function
_PF_BRCOND = 4
_PF_OTHER = 5         # its outputs get new values; a call may write globals; BB_END forgets all


def _pf_kind(opdef) -> int:
    if opdef is _SET_LABEL:
        return _PF_LABEL
    if opdef.marker:
        return _PF_MARKER
    if opdef is _MOV:
        return _PF_MOV
    if opdef.fold is not None:
        return _PF_VALUE
    if opdef is _BRCOND:
        return _PF_BRCOND
    return _PF_OTHER


_PF_KINDS = {opdef: _pf_kind(opdef) for opdef in OPS.values()}


def propagate_and_fold(block: IRBlock) -> None:
    """Forward pass: replace inputs by known constants/copies, fold, simplify."""
    n_globals = len(block.globals.temps)
    copy_of: dict[int, Temp] = {}        # temp index -> the temp (or const) it equals
    copies: dict[int, set[int]] = {}     # source index -> indexes that copy it
    new_ops: list[Op] = []
    append = new_ops.append
    # The guest stores of the basic block so far ([offset, size, value temp or None], oldest
    # first), all through store_base (see _forwarded_load).
    stores: list = []
    store_base: Optional[Temp] = None
    const = block.const
    mov, commutative, compares = _MOV, _COMMUTATIVE, _COMPARES
    kinds = _PF_KINDS
    marker, label_kind, mov_kind, value_kind, brcond_kind = (
        _PF_MARKER, _PF_LABEL, _PF_MOV, _PF_VALUE, _PF_BRCOND)
    const_kind = _CONST
    for op in block.ops:
        opdef = op.opdef
        kind = kinds[opdef]
        if kind is marker:
            append(op)
            continue
        if kind is label_kind:
            copy_of.clear()
            copies.clear()
            stores.clear()
            append(op)
            continue
        ins = op.ins
        if copy_of:
            for t in ins:
                if t.index in copy_of:
                    ins = op.ins = [copy_of.get(t.index, t) for t in ins]
                    break
        if kind is value_kind:
            if len(ins) >= 2:
                first, second = ins[0], ins[1]
                if first.kind is const_kind:
                    if second.kind is not const_kind:
                        if opdef in commutative:
                            ins.reverse()
                        elif opdef in compares:
                            ins[0], ins[1] = second, first
                            op.consts[0] = op.consts[0].swap()
                        first, second = ins[0], ins[1]
                    elif len(ins) == 2:
                        value = opdef.fold(first.value, second.value, *op.consts) & MASK64
                        op = Op(mov, op.outs, [const(value)], [])
                        ins = op.ins
                        kind = mov_kind
                if kind is value_kind:
                    if len(ins) == 2:
                        if second.kind is const_kind or first.kind is const_kind \
                                or first is second:
                            source = _simplified(opdef, first, second, const)
                            if source is not None:
                                op = Op(mov, op.outs, [source], [])
                                ins = op.ins
                                kind = mov_kind
                    else:
                        for t in ins:
                            if t.kind is not const_kind:
                                break
                        else:
                            value = opdef.fold(*[t.value for t in ins], *op.consts) & MASK64
                            op = Op(mov, op.outs, [const(value)], [])
                            ins = op.ins
                            kind = mov_kind
                        if kind is value_kind and opdef is _MOVCOND and ins[2] is ins[3]:
                            op = Op(mov, op.outs, [ins[2]], [])
                            ins = op.ins
                            kind = mov_kind
            elif ins[0].kind is const_kind:
                value = opdef.fold(ins[0].value, *op.consts) & MASK64
                op = Op(mov, op.outs, [const(value)], [])
                ins = op.ins
                kind = mov_kind
        elif opdef is _GUEST_LD:
            if stores and ins[0] is store_base:
                forwarded = _forwarded_load(block, stores, op, append)
                if forwarded is not None:
                    op = forwarded
                    opdef = op.opdef
                    ins = op.ins
                    kind = kinds[opdef]
        elif kind is brcond_kind:
            a, b = ins
            if a.kind is const_kind:
                if b.kind is not const_kind:
                    ins[0], ins[1] = b, a
                    op.consts[0] = op.consts[0].swap()
                else:
                    cond, label = op.consts
                    if cond.evaluate(a.value, b.value):
                        op = Op(_BR, [], [], [label])
                    else:
                        label.refs -= 1
                        continue
        outs = op.outs
        if stores:
            for out in outs:
                if out is store_base:
                    stores.clear()
                    break
                for store in stores:
                    if store[2] is out:
                        store[2] = None     # (its bytes are still the latest: not forwardable)
        if kind is mov_kind:
            out = outs[0]
            source = ins[0]
            if out is source:
                continue
            index = out.index
            if index in copy_of or index in copies:
                _written(copy_of, copies, index)
            copy_of[index] = source
            dependents = copies.get(source.index)
            if dependents is None:
                copies[source.index] = {index}
            else:
                dependents.add(index)
            append(op)
            continue
        if copy_of:
            for out in outs:
                index = out.index
                if index in copy_of or index in copies:
                    _written(copy_of, copies, index)
        elif copies:
            for out in outs:
                copies.pop(out.index, None)
        if opdef.call and copy_of and not op.consts[0].flags & CallFlag.NO_WRITE_GLOBALS:
            _forget_globals(copy_of, copies, n_globals)
        if opdef is _GUEST_ST:
            value, base = ins
            if base is not store_base:
                stores.clear()          # (another base may point anywhere)
                store_base = base
            stores.append([op.consts[0], op.consts[1].size, value])
        elif stores and (opdef.call or opdef is _ST_HOST or opdef is _PLUGIN_ADD):
            stores.clear()              # may write guest memory
        if opdef.bb_end:
            copy_of.clear()
            copies.clear()
            stores.clear()
        append(op)
    block.ops = new_ops


def _is_removable(op: Op) -> bool:
    opdef = op.opdef
    if opdef.call:
        return bool(op.consts[0].flags & CallFlag.NO_SIDE_EFFECTS)
    return opdef.removable_if_unused


def remove_dead_code(block: IRBlock) -> None:
    """Backward pass: drop pure ops whose outputs are locals nobody reads afterwards.

    Globals are always live (they are the guest state). A branch to a label later in the block
    sees the label's live set of the same pass; backward branches (which see the previous
    pass's set) make the pass repeat until their labels' sets stop changing - one pass for the
    usual block, whose branches all go forward.
    """
    live_at_label: dict[int, int] = {}
    while True:
        keep, stale = _dce_pass(block, live_at_label)
        if not stale:
            break
    if keep is not None:
        block.ops = [op for op, kept in zip(block.ops, keep) if kept]
    if block.labels:
        for label in block.labels:
            label.refs = 0
        for op in block.ops:
            if op.opdef.branch:
                op.consts[-1].refs += 1


def _dce_pass(block: IRBlock, live_at_label: dict[int, int]):
    """One backward pass, updating live_at_label (label id -> bitset of the locals live there):
    (keep flags per op, or None when every op is kept; whether a backward branch used a label
    set that this pass changed)."""
    live = 0
    ops = block.ops
    keep = None
    read_before_set: set[int] = set()     # labels of the backward branches seen so far
    stale = False
    local = _LOCAL
    for position in range(len(ops) - 1, -1, -1):
        op = ops[position]
        opdef = op.opdef
        if opdef.marker:
            if opdef is _SET_LABEL:
                label_id = op.consts[0].id
                if live_at_label.get(label_id) != live:
                    live_at_label[label_id] = live
                    if label_id in read_before_set:
                        stale = True
            continue
        if opdef.branch:
            label_id = op.consts[-1].id
            read_before_set.add(label_id)
            if opdef.cond:
                live |= live_at_label.get(label_id, 0)
            else:
                live = live_at_label.get(label_id, 0)
        outs = op.outs
        if opdef.removable_if_unused or opdef.call and _is_removable(op):
            for out in outs:
                if out.kind is not local or live >> out.index & 1:
                    break
            else:
                if keep is None:
                    keep = [True] * len(ops)
                keep[position] = False
                continue
        for out in outs:
            if live >> out.index & 1:
                live ^= 1 << out.index
        for temp in op.ins:
            if temp.kind is local:
                live |= 1 << temp.index
    return keep, stale


def remove_unused_labels(block: IRBlock) -> None:
    for label in block.labels:
        if label.refs == 0:
            break
    else:
        return      # (the usual block: every label is used, no pass over the ops)
    block.ops = [op for op in block.ops
                 if not (op.opdef is _SET_LABEL and op.consts[0].refs == 0)]


def optimize(block: IRBlock) -> IRBlock:
    """The optimizer pass of the pipeline (in place; returns the block for chaining)."""
    propagate_and_fold(block)
    remove_dead_code(block)
    remove_unused_labels(block)
    return block
