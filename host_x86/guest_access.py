"""Which guest memory accesses of a block need an explicit address check.

The guest region is reserved with guard areas of GUEST_GUARD_SIZE bytes on both sides (see
guest/memory.py). An access `base + displacement` with a 32-bit signed displacement therefore
touches host memory inside the reservation whenever `base < guest_limit`: below the region or
above it, it hits a PROT_NONE guard page and faults in hardware, exactly like an unmapped guest
page, and the fault handler reports the guest address `base + displacement` (mod 2**64).

So generated code checks the *base register*, not each address, and only once per base value:
after an access with base temp t has checked t, later accesses through t need no check until t
is written again. The facts are dropped at labels (another path may join there) and, for
globals, at every op that may write globals behind the allocator's back (calls that may write
globals, stores into env).

A base that fails the check may still form a valid address (a "negative" base plus a positive
displacement wraps around 2**64): the out-of-line path checks the whole address and, if it is a
guest address, does the access after all. Later accesses through such a base are still safe:
their addresses differ from that valid one by less than 2**32, which the guards cover.

Accesses with a displacement that is not a 32-bit signed value add it into a scratch register
and check the sum: they neither use nor establish a fact.
"""
from __future__ import annotations

from host_x86.encoder import fits_s32
from jit.ir import OPS, IRBlock, Op
from jit.liveness import call_writes_globals

# Guard bytes needed below and above the guest region: two s32 displacements apart from a guest
# address, plus the widest access (8 bytes), stay inside.
GUEST_GUARD_SIZE = 1 << 33

_GUEST_LD = OPS["guest_ld"]
_GUEST_ST = OPS["guest_st"]
_SET_LABEL = OPS["set_label"]
_MOV = OPS["mov"]
_ST_ENV = OPS["st_env"]
_CALL = OPS["call"]


# What the scan does at each op definition (others only drop the facts of their outputs).
_SCAN_LD, _SCAN_ST, _SCAN_LABEL, _SCAN_MOV, _SCAN_ST_ENV, _SCAN_CALL = range(1, 7)
_SCAN_ACTIONS = {_GUEST_LD: _SCAN_LD, _GUEST_ST: _SCAN_ST, _SET_LABEL: _SCAN_LABEL,
                 _MOV: _SCAN_MOV, _ST_ENV: _SCAN_ST_ENV, _CALL: _SCAN_CALL}


def accesses_without_check(block: IRBlock) -> set[Op]:
    """The guest_ld/guest_st ops of `block` whose base temp an earlier access already checked."""
    unchecked: set[Op] = set()
    checked: set[int] = set()           # temp indices whose value is known < guest_limit
    checked_globals = False             # whether `checked` holds a global (cheap drop test)
    action_of = _SCAN_ACTIONS.get
    for op in block.ops:
        action = action_of(op.opdef)
        if action is None:
            if checked:
                for out in op.outs:
                    checked.discard(out.index)
            continue
        if action <= _SCAN_ST:
            base = op.ins[0] if action == _SCAN_LD else op.ins[1]
            if not base.is_const and fits_s32(op.consts[0]):
                if base.index in checked:
                    unchecked.add(op)
                else:
                    checked.add(base.index)
                    checked_globals = checked_globals or base.is_global
        elif action == _SCAN_LABEL:
            checked.clear()
            checked_globals = False
            continue
        elif action == _SCAN_MOV:
            source, dest = op.ins[0], op.outs[0]
            if source.index in checked:
                checked.add(dest.index)
                checked_globals = checked_globals or dest.is_global
                continue
        elif checked_globals and (action == _SCAN_ST_ENV or call_writes_globals(op)):
            globals_ = block.globals.temps
            checked.difference_update(temp.index for temp in globals_)
            checked_globals = False
        for out in op.outs:
            checked.discard(out.index)
    return unchecked
