"""The IR optimizer: constant folding and propagation, copy propagation, algebraic
simplification and dead-code removal, over one block.

Knowledge (which temp holds a known constant, which temp is a copy of which) is valid only inside
a basic block: it is forgotten at every label and after every BB_END op, and knowledge about
globals is forgotten after a call that may write them. The fold functions of the op table are the
only definition of what a value op computes.
"""
from __future__ import annotations

from typing import Optional

from jit.ir import MASK64, OPS, CallFlag, IRBlock, Op, Temp, TempKind, u64

_MOV = OPS["mov"]
_BR = OPS["br"]


class _Knowledge:
    """What is known about temps at the current point of one basic block."""

    def __init__(self, n_globals: int):
        self.copy_of: dict[int, Temp] = {}        # temp index -> the temp (or const) it equals
        self.copies: dict[int, set[int]] = {}     # source index -> indexes that copy it
        self.n_globals = n_globals                # globals are the first temps of every block

    def forget_all(self) -> None:
        self.copy_of.clear()
        self.copies.clear()

    def forget_globals(self) -> None:
        for index in list(self.copy_of):
            if index < self.n_globals or self.copy_of[index].kind is TempKind.GLOBAL:
                self._forget(index)

    def _forget(self, index: int) -> None:
        source = self.copy_of.pop(index, None)
        if source is not None:
            self.copies[source.index].discard(index)

    def written(self, temp: Temp) -> None:
        """temp gets a new value: nothing may still be a copy of its old value."""
        self._forget(temp.index)
        for index in self.copies.pop(temp.index, ()):
            del self.copy_of[index]

    def canonical(self, temp: Temp) -> Temp:
        return self.copy_of.get(temp.index, temp)

    def record_copy(self, dst: Temp, source: Temp) -> None:
        if dst is not source:
            self.copy_of[dst.index] = source
            self.copies.setdefault(source.index, set()).add(dst.index)


def _simplify(op: Op, block: IRBlock) -> Optional[tuple[str, list[Temp]]]:
    """Algebraic identities: returns ("mov", [source]) when the op reduces to a copy, or None.

    Only identities that hold for every value of the non-constant inputs are used.
    """
    name = op.name
    if len(op.ins) != 2 or not op.outs:
        return None
    a, b = op.ins
    zero, ones = block.const(0), block.const(MASK64)
    if b.is_const:
        value = b.value
        if value == 0 and name in ("add", "sub", "or", "xor", "shl", "shr", "sar", "andc"):
            return "mov", [a]
        if value == 0 and name in ("and", "mul"):
            return "mov", [zero]
        if value == MASK64 and name == "and":
            return "mov", [a]
        if value == MASK64 and name == "or":
            return "mov", [ones]
        if value == 1 and name in ("mul", "div", "divu"):
            return "mov", [a]
    if a.is_const and a.value == 0 and name in ("and", "mul", "shl", "shr", "sar"):
        return "mov", [zero]
    if a.is_const and name in ("add", "or", "xor") and a.value == 0:
        return "mov", [b]
    if a is b:
        if name in ("and", "or"):
            return "mov", [a]
        if name in ("sub", "xor", "andc"):
            return "mov", [zero]
    return None


def _canonical_operand_order(op: Op) -> None:
    """Put a constant second in commutative ops, so isel and folding see `op reg, imm`."""
    if op.name in ("add", "and", "or", "xor", "mul", "mulsh", "muluh") and op.ins[0].is_const \
            and not op.ins[1].is_const:
        op.ins.reverse()
    elif op.name in ("setcond", "brcond", "movcond") and op.ins[0].is_const \
            and not op.ins[1].is_const:
        op.ins[0], op.ins[1] = op.ins[1], op.ins[0]
        op.consts[0] = op.consts[0].swap()


def propagate_and_fold(block: IRBlock) -> None:
    """Forward pass: replace inputs by known constants/copies, fold, simplify."""
    known = _Knowledge(len(block.globals.temps))
    new_ops: list[Op] = []
    for op in block.ops:
        opdef = op.opdef
        if op.name == "set_label":
            known.forget_all()
            new_ops.append(op)
            continue
        op.ins = [known.canonical(t) for t in op.ins]
        if opdef.fold is not None:
            _canonical_operand_order(op)
            if all(t.is_const for t in op.ins):
                value = u64(opdef.fold(*[t.value for t in op.ins], *op.consts))
                op = Op(_MOV, op.outs, [block.const(value)], [])
            else:
                simpler = _simplify(op, block)
                if simpler is not None:
                    op = Op(_MOV, op.outs, simpler[1], [])
                elif op.name == "movcond" and op.ins[2] is op.ins[3]:
                    op = Op(_MOV, op.outs, [op.ins[2]], [])
        elif op.name == "brcond":
            _canonical_operand_order(op)
            a, b = op.ins
            if a.is_const and b.is_const:
                cond, label = op.consts
                if cond.evaluate(a.value, b.value):
                    op = Op(_BR, [], [], [label])
                else:
                    label.refs -= 1
                    continue
        if op.name == "mov" and op.outs[0] is op.ins[0]:
            continue
        for out in op.outs:
            known.written(out)
        if op.name == "mov":
            known.record_copy(op.outs[0], op.ins[0])
        if opdef.call and not op.consts[0].flags & CallFlag.NO_WRITE_GLOBALS:
            known.forget_globals()
        if opdef.bb_end:
            known.forget_all()
        new_ops.append(op)
    block.ops = new_ops


def _is_removable(op: Op) -> bool:
    opdef = op.opdef
    if opdef.call:
        return bool(op.consts[0].flags & CallFlag.NO_SIDE_EFFECTS)
    return opdef.removable_if_unused


def remove_dead_code(block: IRBlock) -> None:
    """Backward pass: drop pure ops whose outputs are locals nobody reads afterwards.

    Globals are always live (they are the guest state). Live-in sets at labels are iterated to a
    fixed point so that backward branches inside a block are handled too.
    """
    live_at_label: dict[int, frozenset[int]] = {}
    for _ in range(len(block.labels) + 2):
        keep, live_at_label_new = _dce_pass(block, live_at_label)
        if live_at_label_new == live_at_label:
            break
        live_at_label = live_at_label_new
    block.ops = [op for op, kept in zip(block.ops, keep) if kept]
    for label in block.labels:
        label.refs = 0
    for op in block.ops:
        if op.opdef.branch:
            op.const("label").refs += 1


def _dce_pass(block: IRBlock, live_at_label: dict[int, frozenset[int]]):
    live: set[int] = set()
    keep = [True] * len(block.ops)
    new_live_at_label: dict[int, frozenset[int]] = {}
    for position in range(len(block.ops) - 1, -1, -1):
        op = block.ops[position]
        name = op.name
        if name == "set_label":
            new_live_at_label[op.consts[0].id] = frozenset(live)
            continue
        if op.opdef.branch:
            target_live = live_at_label.get(op.const("label").id, frozenset())
            if op.opdef.cond:
                live |= target_live
            else:
                live = set(target_live)
        if _is_removable(op) and all(out.kind is TempKind.LOCAL and out.index not in live
                                     for out in op.outs):
            keep[position] = False
            continue
        for out in op.outs:
            live.discard(out.index)
        for temp in op.ins:
            if temp.kind is TempKind.LOCAL:
                live.add(temp.index)
    return keep, new_live_at_label


def remove_unused_labels(block: IRBlock) -> None:
    block.ops = [op for op in block.ops
                 if not (op.name == "set_label" and op.consts[0].refs == 0)]


def optimize(block: IRBlock) -> IRBlock:
    """The optimizer pass of the pipeline (in place; returns the block for chaining)."""
    propagate_and_fold(block)
    remove_dead_code(block)
    remove_unused_labels(block)
    return block
