"""Architecture-neutral register allocation of one IR block, in the style of TCG's tcg_reg_alloc_op.

The allocator walks the ops once, keeping for every temp where its current value is:

- DEAD: no value (locals before their first write and after their last use),
- IN_REG: in a host register (`coherent` says whether its memory home holds the same value),
- IN_MEM: in its memory home only (a global's field in env, a local's stack slot),
- IS_CONST: a known constant (constant temps always; other temps after `mov t, const`;
  `coherent` says whether the memory home already holds it).

For each op the target describes, in a `Constraint`, which registers each input may be in and
whether a constant input may stay an immediate, which output must reuse an input's register
(x86's two-address forms), which registers the op clobbers and how many scratch registers it
needs. The allocator moves values to satisfy that, frees inputs that die, spills the least
useful register when it runs out, and then asks the target to emit the op's code with the
chosen registers. Constants are materialised in a register only when a constraint refuses the
immediate. All register moves, loads, spills and stores are emitted *before* the op's own code.

Guest state precision: before an op with SIDE_EFFECTS the dirty globals are synced (stored, kept
in registers). A guest memory access (CAN_FAULT, no other effect) leaves them where they are and
tells the target, through `set_fault_state`, where each dirty global's value is at that point:
the target's fault path writes them into env, so the state is precise there all the same; around calls globals are written back / dropped according to the
helper's CallFlags; at labels and branches every global and every live local is saved to memory
and the register state is forgotten; before an exit every global is written back.
"""
from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass
from functools import cached_property
from typing import Callable, Optional

from jit.ir import OPS, VALUE_OPS, IRBlock, Op, OpFlag, TempKind
from jit.liveness import (_SYNC_BITS, BB_END, BRANCH, CALL, EXIT, MARKER, Liveness, analyze,
                          call_reads_globals, call_writes_globals, env_overlap_mask)

DEAD, IN_REG, IN_MEM, IS_CONST = range(4)
NO_TEMP = -1
OP_COPY = -2   # the register holds a value only for the current op (a copy of an input, scratch)

_NO_OWNERS = [NO_TEMP] * 16
_NEVER = 1 << 30     # the "next use" of a temp that is not read again
_KIND_GLOBAL, _KIND_LOCAL, _KIND_CONST = range(3)


class RegallocError(Exception):
    """The block cannot be allocated (impossible constraint, out of spill slots)."""


# --------------------------------------------------------------------------------------------
# What the target tells the allocator about one op


class Imm:
    """An input operand left as an immediate."""

    __slots__ = ("value",)

    def __init__(self, value: int):
        self.value = value

    def __repr__(self) -> str:
        return f"Imm({self.value:#x})"


@dataclass(frozen=True)
class InSpec:
    regs: int                                      # bitmask of registers the input may be in
    imm: Optional[Callable[[int], bool]] = None    # a constant input stays an immediate if true
    ignore: bool = False                           # the op's code does not read this input


@dataclass(frozen=True)
class OutSpec:
    regs: int                    # bitmask of registers the output may be in
    alias: Optional[int] = None  # the output is written into the register of this input
    # The output must not share a register with any input. Without it the output may reuse
    # the register of an input that dies here (or of the input's temp copy): right for code that
    # reads every input before it writes the output.
    fresh: bool = False


@dataclass(frozen=True)
class Constraint:
    ins: tuple[InSpec, ...]
    outs: tuple[OutSpec, ...] = ()
    clobbers: int = 0                 # registers the op's code destroys
    scratch: tuple[int, ...] = ()     # one allowed-register mask per scratch register

    # Derived facts, computed once per constraint object (targets keep them in tables).
    @cached_property
    def needed_regs(self) -> int:
        """Registers the op uses for itself (clobbers, fixed-register operands): values moved
        out of the way should not be moved there."""
        mask = self.clobbers
        for spec in self.ins + self.outs:
            if spec.regs & (spec.regs - 1) == 0:
                mask |= spec.regs
        return mask

    @cached_property
    def input_order(self) -> tuple[int, ...]:
        """Most constrained inputs first, so that a value already in its fixed register is not
        pushed around by a less constrained input."""
        return tuple(sorted(range(len(self.ins)), key=lambda i: _popcount(self.ins[i].regs)))

    @cached_property
    def aliased_inputs(self) -> frozenset:
        return frozenset(spec.alias for spec in self.outs if spec.alias is not None)

    @cached_property
    def input_plan(self) -> tuple:
        """Per input, in `input_order`: (index, spec, aliased) - the allocator's walk."""
        aliased = self.aliased_inputs
        return tuple((i, self.ins[i], i in aliased) for i in self.input_order)

    @cached_property
    def alloc_plan(self) -> tuple:
        """(needed_regs, input_plan, clobbers, scratch, output_plan): the allocator's view."""
        return (self.needed_regs, self.input_plan, self.clobbers, self.scratch,
                self.output_plan)

    @cached_property
    def output_plan(self) -> tuple:
        """Per output: (alias, regs, fresh, free choice of several registers)."""
        return tuple((spec.alias, spec.regs, spec.fresh, bool(spec.regs & (spec.regs - 1)))
                     for spec in self.outs)


class Operands:
    """The allocation of one op, handed to the target's emitter."""

    __slots__ = ("ins", "outs", "scratch")

    def __init__(self, ins: list, outs: list[int], scratch: list[int]):
        self.ins = ins            # per input: register number, Imm, or None (ignored input)
        self.outs = outs
        self.scratch = scratch


# The operands of an op without inputs, outputs or scratch registers (shared: emitters only
# read operands).
_NO_OPERANDS = Operands((), (), ())


@dataclass(frozen=True)
class OpForm:
    """How the target implements one op: the operand constraint and the code emitter, called
    as emit(target, op, operands)."""

    constraint: Constraint
    emit: Callable[[object, Op, Operands], None]


@dataclass(frozen=True)
class Location:
    """A temp's memory home: `in_env` (offset from the env pointer) or a frame spill slot."""

    in_env: bool
    offset: int    # env: byte offset; frame: slot number


# The target description (host_x86/isel.py:X86Target) provides:
#   allocation_order: tuple[int, ...]      registers the allocator may use, preferred first
#   spill_slots: int                       number of frame slots
#   emit_mov(dst, src), emit_movi(dst, value), emit_load(dst, Location), emit_store(src, Location),
#   emit_store_imm(value, Location) -> bool   (False: the value needs a register)
#   selector_for(opdef) -> select(target, op, known_constants, dying_inputs_mask) -> OpForm
#   selectors: dict        opdef -> its selector, for the ones selector_for gave already
#   bind_label(label), insn_start(pc)
#   set_fault_state(entries)   before a CAN_FAULT op's code: where the dirty globals are
#                              (see _BlockAllocator._dirty_globals_except)


def allocate_block(block: IRBlock, target, liveness: Optional[Liveness] = None) -> None:
    """Allocate registers for every op of `block` and emit its code through `target`."""
    _BlockAllocator(block, target, liveness or analyze(block)).run()


CAN_FAULT = OpFlag.CAN_FAULT.value
# Flags beside CAN_FAULT that would make an op's guest state matter to something other than the
# fault path (guest memory accesses carry SIDE_EFFECTS only so that they are never removed).
_SIDE_EFFECTS_OTHER_THAN_FAULTING = (OpFlag.CALL | OpFlag.FP_ENV | OpFlag.EXIT).value

# How the walk treats each op definition: (kind, value op, sync before, after).
_RUN_OP, _RUN_MOV, _RUN_INSN_START, _RUN_SET_LABEL, _RUN_MARKER = range(5)
# The guest state around an op (step 3 of _op).
_SYNC_NONE, _SYNC_CALL, _SYNC_LABEL, _SYNC_ALL, _SYNC_LD_ENV, _SYNC_FAULT = range(6)
# After the op (step 8 of _op).
_AFTER_NONE, _AFTER_EXIT, _AFTER_ST_ENV = range(3)


def _op_info(opdef) -> tuple[int, bool, int, int]:
    name = opdef.name
    bits = opdef.flags.value
    if name == "insn_start":
        kind = _RUN_INSN_START
    elif name == "set_label":
        kind = _RUN_SET_LABEL
    elif bits & MARKER:
        kind = _RUN_MARKER
    elif name == "mov":
        kind = _RUN_MOV
    else:
        kind = _RUN_OP
    if bits & CALL:
        sync = _SYNC_CALL
    elif bits & BB_END:
        sync = _SYNC_LABEL if bits & BRANCH else _SYNC_ALL
    elif bits & CAN_FAULT and not bits & _SIDE_EFFECTS_OTHER_THAN_FAULTING:
        sync = _SYNC_FAULT
    elif name == "ld_env" or name == "st_env" or name == "add_env":
        # Only the globals its bytes overlap (a store's partial overlap must merge with
        # them); no other guest state can see an env field that is not a global.
        sync = _SYNC_LD_ENV
    elif bits & _SYNC_BITS:
        sync = _SYNC_ALL
    else:
        sync = _SYNC_NONE
    after = (_AFTER_EXIT if bits & EXIT
             else _AFTER_ST_ENV if name == "st_env" or name == "add_env" else _AFTER_NONE)
    return kind, name in VALUE_OPS, sync, after


_OP_INFO = {opdef: _op_info(opdef) for opdef in OPS.values()}

# The first register of an allocation order in a mask: (order, mask) -> register.
_FIRST_IN_ORDER: dict[tuple, int] = {}


def _first_in_order(order: tuple, mask: int) -> int:
    reg = _FIRST_IN_ORDER.get((order, mask))
    if reg is None:
        reg = next(r for r in order if mask >> r & 1)
        _FIRST_IN_ORDER[(order, mask)] = reg
    return reg


# Memory homes as Location objects (immutable), made once: env fields by offset, frame slots by
# slot number.
_ENV_LOCATIONS: dict[int, Location] = {}
_SLOT_LOCATIONS: dict[int, Location] = {}
# allocation order -> (order as a tuple, its register mask)
_ORDERS: dict = {}


def _global_locations(globals_) -> list:
    """The env Location of every global, by temp index (kept on the GlobalSet, whose globals
    are shared by every block)."""
    temps = globals_.temps
    locations = getattr(globals_, "_regalloc_locations", None)
    if locations is None or len(locations) != len(temps):
        locations = []
        for temp in temps:
            location = _ENV_LOCATIONS.get(temp.offset)
            if location is None:
                location = _ENV_LOCATIONS[temp.offset] = Location(True, temp.offset)
            locations.append(location)
        globals_._regalloc_locations = locations
    return locations


# Label plans (plan_labels): how the register state reaches a label.
INHERIT = "inherit"
# Globals a loop head keeps in registers across its back edges, at most.
LOOP_HEAD_GLOBALS = 8
_SET_LABEL_DEF = OPS["set_label"]
_BR_DEF = OPS["br"]
_GOTO_TB_DEF = OPS["goto_tb"]
_ADD_ENV_DEF = OPS["add_env"]
_ST_ENV_DEF = OPS["st_env"]


def _env_span(op: Op) -> tuple[int, int]:
    """(offset, size) of the env bytes an ld_env/st_env/add_env op touches."""
    offset, second = op.consts
    return offset, 8 if op.opdef is _ADD_ENV_DEF else second.size


def plan_labels(block: IRBlock, allocation_order) -> dict:
    """label id -> plan, for labels that need not start with every value in memory:

    - INHERIT: a label with a single branch to it, ahead of it, and no fall through into it
      (the op before it leaves): it starts with the register state of that branch, so the
      branch writes nothing back (the taken side of a block's last conditional branch).
    - a contract ((global temp index, register, written), ...): a loop head, reached only by
      the fall through into it and by unconditional branches back to it. The globals the loop
      uses most stay in fixed registers across the back edges, instead of being stored before
      each branch and loaded after the label; every back edge moves them into place. Those the
      loop never writes (`written` False) stay coherent with env: exits need not store them.
    Any other label gets None: the usual rule (everything in memory at the label).
    """
    if not block.labels:       # (labels are made only by block.new_label)
        return {}
    ops = block.ops
    set_at: dict[int, int] = {}
    branches: dict[int, list] = {}
    for index, op in enumerate(ops):
        opdef = op.opdef
        if opdef is _SET_LABEL_DEF:
            set_at[op.consts[0].id] = index
        elif opdef.flag_bits & BRANCH:
            branches.setdefault(op.consts[-1].id, []).append((index, opdef is _BR_DEF))
    plans: dict = {}
    n_globals = len(block.globals.temps)
    for label_id, where in set_at.items():
        refs = branches.get(label_id)
        if not refs:
            continue
        if len(refs) == 1 and refs[0][0] < where and not _falls_through_to(ops, where):
            plans[label_id] = INHERIT
        elif all(index > where and is_br for index, is_br in refs):
            uses: dict[int, int] = {}
            written: set[int] = set()
            leaving = False
            for op in ops[where + 1:refs[-1][0]]:
                # The code of a direct exit (goto_tb to exit_tb) only stores the next pc.
                opdef = op.opdef
                if opdef is _GOTO_TB_DEF:
                    leaving = True
                elif opdef.flag_bits & EXIT:
                    leaving = False
                if leaving:
                    continue
                for temp in op.ins:
                    if temp.index < n_globals:
                        uses[temp.index] = uses.get(temp.index, 0) + 1
                for temp in op.outs:
                    if temp.index < n_globals:
                        uses[temp.index] = uses.get(temp.index, 0) + 1
                        written.add(temp.index)
                if opdef.flag_bits & CALL:
                    written.update(range(n_globals))    # may write globals behind our back
                elif opdef is _ST_ENV_DEF or opdef is _ADD_ENV_DEF:
                    written.update(_bits(env_overlap_mask(block, *_env_span(op))))
            chosen = sorted(uses, key=lambda t: (-uses[t], t))[:LOOP_HEAD_GLOBALS]
            if chosen:
                # (global, register, whether the loop writes it: if not, env stays coherent)
                plans[label_id] = tuple((t, reg, t in written)
                                        for t, reg in zip(chosen, allocation_order))
    return plans


def _falls_through_to(ops: list, where: int) -> bool:
    """Whether control can fall through into the op at `where` from the op before it."""
    index = where - 1
    while index >= 0:
        opdef = ops[index].opdef
        if opdef.flag_bits & MARKER and opdef is not _SET_LABEL_DEF:
            index -= 1
            continue
        return not opdef.flag_bits & EXIT
    return True


class _BlockAllocator:
    def __init__(self, block: IRBlock, target, liveness: Liveness):
        self.block = block
        self.target = target
        self.liveness = liveness
        self.dead_inputs = liveness.dead_inputs
        self.dead_outputs = liveness.dead_outputs
        self.cross_label_locals = liveness.cross_label_locals
        temps = block.temps
        n_temps = len(temps)
        self.temps = temps
        n_globals = len(block.globals.temps)   # globals come first, then locals and constants
        kind = [_KIND_GLOBAL] * n_globals
        state = [IN_MEM] * n_globals
        const_of = [0] * n_temps
        local_indices = []
        const_indices = []
        local_kind = TempKind.LOCAL
        for t in range(n_globals, n_temps):
            temp = temps[t]
            if temp.kind is local_kind:
                kind.append(_KIND_LOCAL)
                state.append(DEAD)
                local_indices.append(t)
            else:
                kind.append(_KIND_CONST)
                state.append(IS_CONST)
                const_indices.append(t)
                const_of[t] = temp.value
        self.kind = kind
        self.state = state
        self.reg_of = [NO_TEMP] * n_temps
        self.const_of = const_of
        self.coherent = [True] * n_temps
        self.slot_of = [-1] * n_temps
        self.owner = list(_NO_OWNERS)
        self.occupied = 0          # registers with owner != NO_TEMP
        self.last_use = [0] * 16
        self.locked = 0            # registers the current op's operands use
        self.copies = 0            # registers holding input copies for the current op
        order = target.allocation_order
        cached = _ORDERS.get(order)
        if cached is None:
            allocatable = 0
            for reg in order:
                allocatable |= 1 << reg
            cached = _ORDERS[order] = (tuple(order), allocatable)
        self.order, self.allocatable = cached
        self.global_locations = _global_locations(block.globals)
        self.free_slots: list[int] = []
        self.next_slot = 0
        self.n_globals = n_globals
        self.local_indices = local_indices
        self.const_indices = const_indices
        self.dirty = 0             # bitset of globals whose env copy is stale
        self.op_index = 0
        self.reachable = True
        self.uses_by_temp: Optional[list] = None    # made by _next_use when first needed
        self.selectors = target.selectors    # op definition -> the target's selector
        # (The state above is what _reset_state(0) sets up.)

    # ----------------------------------------------------------------------------------------
    # State changes

    def _reset_state(self, live_mask: int) -> None:
        """Forget all registers: globals in env, live locals in their slots, the rest dead."""
        n_temps = len(self.kind)
        self.owner[:] = _NO_OWNERS
        self.occupied = 0
        self.dirty = 0
        self.reg_of[:] = [NO_TEMP] * n_temps
        self.coherent[:] = [True] * n_temps
        state = self.state
        state[:self.n_globals] = [IN_MEM] * self.n_globals
        for t in self.const_indices:
            state[t] = IS_CONST
        cross = self.cross_label_locals
        slot_of = self.slot_of
        for t in self.local_indices:
            if live_mask >> t & 1:
                state[t] = IN_MEM
                self._slot(t)
            else:
                state[t] = DEAD
                slot = slot_of[t]
                if slot >= 0 and not cross >> t & 1:
                    self.free_slots.append(slot)
                    slot_of[t] = -1

    def _assign(self, reg: int, t: int) -> None:
        self.owner[reg] = t
        self.occupied |= 1 << reg
        self.last_use[reg] = self.op_index
        if t >= 0:
            self.reg_of[t] = reg
            self.state[t] = IN_REG

    def _release(self, reg: int) -> None:
        self.owner[reg] = NO_TEMP
        self.occupied &= ~(1 << reg)

    def _slot(self, t: int) -> int:
        slot = self.slot_of[t]
        if slot < 0:
            if self.free_slots:
                slot = self.free_slots.pop()
            else:
                slot = self.next_slot
                if slot >= self.target.spill_slots:
                    raise RegallocError(f"block needs more than {slot} spill slots")
                self.next_slot += 1
            self.slot_of[t] = slot
        return slot

    def _location(self, t: int) -> Location:
        if t < self.n_globals:
            return self.global_locations[t]
        slot = self._slot(t)
        location = _SLOT_LOCATIONS.get(slot)
        if location is None:
            location = _SLOT_LOCATIONS[slot] = Location(False, slot)
        return location

    def _drop_reg(self, t: int) -> None:
        """Detach t from its register (its value stays valid in memory or as a constant)."""
        reg = self.reg_of[t]
        self.owner[reg] = NO_TEMP
        self.occupied &= ~(1 << reg)
        self.reg_of[t] = NO_TEMP
        if self.kind[t] == _KIND_CONST:
            self.state[t] = IS_CONST
        else:
            self.state[t] = IN_MEM

    def _temp_dead(self, t: int) -> None:
        """t's value is not needed any more."""
        state = self.state
        if state[t] == IN_REG:
            reg = self.reg_of[t]
            self.owner[reg] = NO_TEMP
            self.occupied &= ~(1 << reg)
            self.reg_of[t] = NO_TEMP
        kind = self.kind[t]
        if kind == _KIND_GLOBAL:
            state[t] = IN_MEM
            self.coherent[t] = True
            self.dirty &= ~(1 << t)
        elif kind == _KIND_CONST:
            state[t] = IS_CONST
        else:
            state[t] = DEAD
            self.coherent[t] = True
            slot = self.slot_of[t]
            if slot >= 0 and not self.cross_label_locals >> t & 1:
                self.free_slots.append(slot)
                self.slot_of[t] = -1

    def _sync(self, t: int) -> None:
        """Make t's memory home hold its value (registers unchanged)."""
        if self.coherent[t] or self.kind[t] == _KIND_CONST:
            return
        state = self.state[t]
        if state == IN_REG:
            self.target.emit_store(self.reg_of[t], self._location(t))
        elif state == IS_CONST:
            value = self.const_of[t]
            location = self._location(t)
            if not self.target.emit_store_imm(value, location):
                reg = self._alloc_reg(self.allocatable, 0)
                self.target.emit_movi(reg, value)
                self.target.emit_store(reg, location)
                self._assign(reg, t)
        else:
            return
        self.coherent[t] = True
        if self.kind[t] == _KIND_GLOBAL:
            self.dirty &= ~(1 << t)

    def _save(self, t: int) -> None:
        """Store t to memory if needed and drop its register."""
        self._sync(t)
        if self.state[t] == IN_REG:
            self._drop_reg(t)

    # ----------------------------------------------------------------------------------------
    # Registers

    def _alloc_reg(self, allowed: int, avoid: int, exclude: Optional[int] = None) -> int:
        """A register in `allowed`, not in `exclude` (default: the op's locked registers), free
        if possible (preferring ones outside `avoid`), else freed by spilling its value."""
        if exclude is None:
            exclude = self.locked
        candidates = allowed & self.allocatable & ~exclude
        free = candidates & ~self.occupied
        if free:
            preferred = free & ~avoid or free
            reg = _FIRST_IN_ORDER.get((self.order, preferred))
            return reg if reg is not None else _first_in_order(self.order, preferred)
        # Spill the value read again last (Belady's choice: fewest reloads), and among
        # equals the cheapest to give up (a constant, then a value memory holds already).
        best = -1
        best_key = None
        owners = self.owner
        next_use = self._next_use
        for reg in self.order:
            if candidates >> reg & 1:
                owner = owners[reg]
                if owner == OP_COPY:
                    continue
                if self.kind[owner] == _KIND_CONST:
                    cost = 0
                elif self.coherent[owner]:
                    cost = 1
                else:
                    cost = 2
                key = (-next_use(owner), cost, self.last_use[reg])
                if best_key is None or key < best_key:
                    best, best_key = reg, key
        if best < 0:
            raise RegallocError("no register satisfies the constraint")
        self._evict(best, avoid)
        return best

    def _next_use(self, t: int) -> int:
        """Index of the next op after the current one that reads t (a large number if none):
        the read positions of every temp are listed on the block's first spill."""
        uses = self.uses_by_temp
        if uses is None:
            uses = self.uses_by_temp = [[] for _ in self.kind]
            for index, op in enumerate(self.block.ops):
                for temp in op.ins:
                    positions = uses[temp.index]
                    if not positions or positions[-1] != index:
                        positions.append(index)
        positions = uses[t]
        at = bisect_right(positions, self.op_index)
        return positions[at] if at < len(positions) else _NEVER

    def _evict(self, reg: int, avoid: int) -> None:
        """Free `reg`, keeping its temp's value: moved to a free register when there is one
        (outside `avoid` and the locked ones), else saved to memory."""
        t = self.owner[reg]
        if t < 0:
            self._release(reg)
            return
        if self.kind[t] != _KIND_CONST:
            free = self.allocatable & ~self.occupied & ~self.locked & ~avoid & ~(1 << reg)
            if free:
                new_reg = _first_in_order(self.order, free)
                self.target.emit_mov(new_reg, reg)
                self._release(reg)
                self._assign(new_reg, t)
                return
        self._save(t)

    def _copy_into(self, reg: int, t: int) -> None:
        """Put t's value into `reg` without making reg t's home."""
        state = self.state[t]
        if state == IN_REG:
            self.target.emit_mov(reg, self.reg_of[t])
        elif state == IS_CONST:
            self.target.emit_movi(reg, self.const_of[t])
        elif state == IN_MEM:
            self.target.emit_load(reg, self._location(t))
        # DEAD: an uninitialised local; any value will do.

    def _load_into_home(self, reg: int, t: int) -> None:
        """Load t (in memory or constant) into `reg`, which becomes its home."""
        state = self.state[t]
        if state == IS_CONST:
            self.target.emit_movi(reg, self.const_of[t])
        elif state == IN_MEM:
            self.target.emit_load(reg, self._location(t))
            self.coherent[t] = True
        else:  # DEAD local read before any write: garbage, but give it a home
            self.coherent[t] = False
        self._assign(reg, t)

    # ----------------------------------------------------------------------------------------
    # The walk

    def run(self) -> None:
        self.label_plans = plan_labels(self.block, self.target.allocation_order)
        self.snapshots: dict[int, tuple] = {}
        self.homes: dict[int, int] = {}     # global -> its register at the last loop head
        target = self.target
        op_info = _OP_INFO
        insn_start = target.insn_start
        index = 0
        for op in self.block.ops:
            self.op_index = index
            info = op_info.get(op.opdef)
            if info is None:
                info = op_info[op.opdef] = _op_info(op.opdef)
            kind = info[0]
            if kind == _RUN_OP:
                if self.reachable:
                    if op.ins or op.outs:
                        self._op(op, index, info)
                    else:
                        self._bare_op(op, index, info)
            elif kind == _RUN_MOV:
                if self.reachable:
                    self._mov(op, index)
            elif kind == _RUN_INSN_START:
                insn_start(op.consts[0])
            elif kind == _RUN_SET_LABEL:
                self._set_label(op)
            # other markers emit nothing
            index += 1

    def _set_label(self, op: Op) -> None:
        label = op.consts[0]
        plan = self.label_plans.get(label.id)
        live = self.liveness.live_at_label.get(label.id, 0)
        if plan is None:
            if self.reachable:
                self._sync_for_label(label.id)
            self._reset_state(live)
        elif plan is INHERIT:
            snapshot = self.snapshots.pop(label.id, None)
            if snapshot is None:       # its branch was unreachable: so is the label
                self._reset_state(live)
            else:
                self._restore(snapshot, live)
        else:
            if self.reachable:
                self._conform(plan, label.id)
            self._reset_state(live)
            self.homes = {t: reg for t, reg, _ in plan}
            for t, reg, written in plan:
                self._assign(reg, t)
                if written:
                    self.coherent[t] = False
                    self.dirty |= 1 << t
        self.target.bind_label(label)
        self.reachable = True

    def _branch(self, op: Op) -> None:
        """The register state a branch hands to its label (step 3 of a BRANCH op)."""
        label_id = op.consts[-1].id
        plan = self.label_plans.get(label_id)
        if plan is None:
            self._sync_for_label(label_id)
        elif plan is INHERIT:
            owner, occupied = list(self.owner), self.occupied
            if OP_COPY in owner:
                for reg in range(16):
                    if owner[reg] == OP_COPY:       # the branch's own operand copies
                        owner[reg] = NO_TEMP
                        occupied &= ~(1 << reg)
            self.snapshots[label_id] = (list(self.state), list(self.reg_of), list(self.const_of),
                                        list(self.coherent), owner, occupied, self.dirty,
                                        list(self.slot_of))
        else:
            self._conform(plan, label_id)

    def _restore(self, snapshot: tuple, live: int) -> None:
        """Take the state of the label's only branch; locals dead at the label let go of
        their registers (not of their slots: the fall-through path may have reused those)."""
        (self.state, self.reg_of, self.const_of, self.coherent, self.owner, self.occupied,
         self.dirty, self.slot_of) = snapshot
        state, slot_of = self.state, self.slot_of
        for t in self.local_indices:
            if not live >> t & 1 and state[t] != DEAD:
                if state[t] == IN_REG:
                    self._release(self.reg_of[t])
                    self.reg_of[t] = NO_TEMP
                state[t] = DEAD
                self.coherent[t] = True
                if not self.cross_label_locals >> t & 1:
                    slot_of[t] = -1

    def _conform(self, contract: tuple, label_id: int) -> None:
        """Before an unconditional branch to (or the fall through into) a loop head: the
        contract's globals into their registers, everything else in memory (see
        plan_labels)."""
        contract_globals = contract_regs = 0
        for t, reg, _ in contract:
            contract_globals |= 1 << t
            contract_regs |= 1 << reg
        self._sync_for_label(label_id, ~contract_globals)
        state, owner = self.state, self.owner
        for reg in range(16):
            t = owner[reg]
            if t >= 0 and not contract_globals >> t & 1:
                self._drop_reg(t)
        pending = [(t, reg) for t, reg, _ in contract
                   if not (state[t] == IN_REG and self.reg_of[t] == reg)]
        while pending:
            placed = False
            for item in list(pending):
                t, reg = item
                if owner[reg] != NO_TEMP:
                    continue
                if state[t] == IN_REG:
                    self.target.emit_mov(reg, self.reg_of[t])
                    self._release(self.reg_of[t])
                elif state[t] == IS_CONST:
                    self.target.emit_movi(reg, self.const_of[t])
                else:
                    self.target.emit_load(reg, self.global_locations[t])
                    self.coherent[t] = True
                self._assign(reg, t)
                pending.remove(item)
                placed = True
            if not placed:
                # A cycle: every wanted register holds another contract global. Move one of
                # them to a register outside the contract.
                reg = pending[0][1]
                spare = _first_in_order(self.order,
                                        self.allocatable & ~self.occupied & ~contract_regs)
                other = owner[reg]
                self.target.emit_mov(spare, reg)
                self._release(reg)
                self._assign(spare, other)

    def _sync_for_label(self, label_id: int, globals_mask: int = -1) -> None:
        """Before a branch to (or the fall through into) a label: every global (of
        globals_mask) and every local live at the label must be in memory, where the code after
        the label finds them. Registers stay valid for the fall-through path of a conditional
        branch."""
        if self.dirty & globals_mask:
            self._sync_globals(globals_mask)
        live = self.liveness.live_at_label.get(label_id, 0)
        state = self.state
        for t in self.local_indices:
            if live >> t & 1 and (state[t] == IN_REG or state[t] == IS_CONST):
                self._sync(t)

    def _sync_globals(self, mask: int = -1) -> None:
        dirty = self.dirty & mask
        coherent, state = self.coherent, self.state
        while dirty:
            low = dirty & -dirty
            dirty ^= low
            t = low.bit_length() - 1
            if coherent[t]:
                continue
            if state[t] == IN_REG:
                # _sync(t), inlined for a global in a register
                self.target.emit_store(self.reg_of[t], self.global_locations[t])
                coherent[t] = True
                self.dirty &= ~low
            elif state[t] == IS_CONST and self.target.emit_store_imm(self.const_of[t],
                                                                     self.global_locations[t]):
                # _sync(t), inlined for a constant the store takes as an immediate
                coherent[t] = True
                self.dirty &= ~low
            else:
                self._sync(t)

    def _save_globals(self) -> None:
        self._sync_globals()
        state = self.state
        for t in range(self.n_globals):
            if state[t] == IN_REG:
                self._drop_reg(t)

    def _dirty_globals_except(self, outs: list) -> tuple:
        """Where the values of the dirty globals are, as ((env offset, register, None) or
        (env offset, None, constant), ...), leaving out `outs` (whose env copy is still the
        value before the op). Writing these into env makes the guest state precise."""
        entries = []
        skip = 0
        for temp in outs:
            skip |= 1 << temp.index
        dirty = self.dirty & ~skip
        state, coherent = self.state, self.coherent
        while dirty:
            low = dirty & -dirty
            dirty ^= low
            t = low.bit_length() - 1
            if coherent[t]:
                continue
            offset = self.global_locations[t].offset
            if state[t] == IN_REG:
                entries.append((offset, self.reg_of[t], None))
            elif state[t] == IS_CONST:
                entries.append((offset, None, self.const_of[t]))
        return tuple(entries)

    def _set_output(self, t: int) -> None:
        """t is about to receive a new value: forget where its old one was."""
        if self.state[t] == IN_REG:
            reg = self.reg_of[t]
            self.owner[reg] = NO_TEMP
            self.occupied &= ~(1 << reg)
            self.reg_of[t] = NO_TEMP
        self.coherent[t] = False
        if t < self.n_globals:
            self.dirty |= 1 << t

    def _mov(self, op: Op, index: int) -> None:
        out_t = op.outs[0].index
        in_t = op.ins[0].index
        if out_t == in_t:
            return
        dying = self.dead_inputs[index] & 1
        if self.dead_outputs[index] & 1:
            if dying:
                self._temp_dead(in_t)
            return
        state = self.state[in_t]
        if state == IS_CONST:
            value = self.const_of[in_t]
            if dying:
                self._temp_dead(in_t)
            self._set_output(out_t)
            self.state[out_t] = IS_CONST
            self.const_of[out_t] = value
            return
        if state == IN_REG and dying:
            reg = self.reg_of[in_t]
            self._temp_dead(in_t)
            self._set_output(out_t)
            self._assign(reg, out_t)
            return
        self._set_output(out_t)
        keep = (1 << self.reg_of[in_t]) if state == IN_REG else 0
        reg = self._alloc_reg(self.allocatable, 0, exclude=keep)
        self._copy_into(reg, in_t)
        if dying:
            self._temp_dead(in_t)
        self._assign(reg, out_t)

    def _op(self, op: Op, index: int, info: tuple) -> None:
        _, is_value_op, sync, after = info
        dead_inputs = self.dead_inputs[index]
        dead_outputs = self.dead_outputs[index]
        state, const_of = self.state, self.const_of
        ins = op.ins

        # The known constant of each input (None: not a constant); one and two inputs spelled
        # out, since they are nearly all ops.
        n_ins = len(ins)
        if n_ins == 2:
            first, second = ins[0].index, ins[1].index
            known = [const_of[first] if state[first] == IS_CONST else None,
                     const_of[second] if state[second] == IS_CONST else None]
        elif n_ins == 1:
            first = ins[0].index
            known = [const_of[first] if state[first] == IS_CONST else None]
        elif n_ins:
            known = [const_of[temp.index] if state[temp.index] == IS_CONST else None
                     for temp in ins]
        else:
            known = []
        if dead_inputs:
            # The temps of the inputs that die here (each once), in input order.
            dying = []
            bits = dead_inputs
            for temp in ins:
                if bits & 1 and temp.index not in dying:
                    dying.append(temp.index)
                bits >>= 1
                if not bits:
                    break
        else:
            dying = ()
        if is_value_op:
            all_outputs_dead = dead_outputs == (1 << len(op.outs)) - 1
            if all_outputs_dead or None not in known:
                value = None if all_outputs_dead else op.opdef.fold(*known, *op.consts)
                for t in dying:
                    self._temp_dead(t)
                if value is not None:
                    out_t = op.outs[0].index
                    self._set_output(out_t)
                    state[out_t] = IS_CONST
                    const_of[out_t] = value
                return

        selector = self.selectors.get(op.opdef)
        if selector is None:
            selector = self.target.selector_for(op.opdef)
        form = selector(self.target, op, known, dead_inputs)
        avoid, input_plan, clobbers, scratch_masks, output_plan = form.constraint.alloc_plan
        self.copies = 0

        # 1. Inputs.
        locked = 0
        reg_of = self.reg_of
        last_use = self.last_use
        if ins:
            in_operands: list = [None] * len(ins)
            for i, spec, aliased in input_plan:
                if spec.ignore:
                    continue
                t = ins[i].index
                if not aliased and state[t] == IN_REG:
                    reg = reg_of[t]
                    if spec.regs >> reg & 1:
                        locked |= 1 << reg
                        last_use[reg] = index
                        in_operands[i] = reg
                        continue
                self.locked = locked
                in_operands[i] = self._input(t, spec, aliased, t in dying, avoid)
                locked = self.locked
        else:
            in_operands = []
        self.locked = input_regs = locked

        # 2. Inputs that die here free their registers (outputs may reuse them).
        for t in dying:
            self._temp_dead(t)

        # 3. The guest state around the op.
        old_values: list = []      # _SYNC_FAULT: where the old values of its outputs are
        if sync:
            if sync != _SYNC_FAULT:
                self._guest_state_before(op, sync)
            else:
                # The fault path restores env from the dirty globals' registers (step 7). A
                # global this op writes keeps its old value's register out of the op's hands
                # (the access writes the new value only if it does not fault).
                if self.dirty:
                    for temp in op.outs:
                        t = temp.index
                        if self.dirty >> t & 1 and not self.coherent[t]:
                            offset = self.global_locations[t].offset
                            if state[t] == IN_REG:
                                old_reg = reg_of[t]
                                self.locked |= 1 << old_reg
                                input_regs |= 1 << old_reg
                                old_values.append((offset, old_reg, None))
                            elif state[t] == IS_CONST:
                                old_values.append((offset, None, const_of[t]))

        # 4. Clobbered registers give up their live values.
        if clobbers:
            owners = self.owner
            busy = clobbers & self.occupied
            while busy:
                low = busy & -busy
                busy ^= low
                reg = low.bit_length() - 1
                if owners[reg] != OP_COPY:     # input copies are the op's own
                    self._evict(reg, avoid | clobbers)

        # 5. Scratch registers.
        scratch = []
        scratch_regs = 0
        if scratch_masks:
            for mask in scratch_masks:
                reg = self._alloc_reg(mask, avoid)
                self._assign(reg, OP_COPY)
                self.locked |= 1 << reg
                scratch.append(reg)
                scratch_regs |= 1 << reg

        # 6. Outputs. Copies of inputs are released: an output may be written over them.
        copies = self.copies
        if copies:
            while copies:
                low = copies & -copies
                copies ^= low
                self._release(low.bit_length() - 1)
        out_regs = []
        if output_plan:
            taken = scratch_regs
            owners = self.owner
            homes = self.homes
            coherent = self.coherent
            outs = op.outs
            n_globals = self.n_globals
            position = 0
            for alias, allowed, fresh, free_choice in output_plan:
                t = outs[position].index
                position += 1
                if alias is None:
                    exclude = taken | (input_regs if fresh else input_regs & self.occupied)
                    if free_choice:
                        allowed &= ~clobbers   # a free choice keeps out of registers the code uses
                # self._set_output(t), inlined:
                if state[t] == IN_REG:
                    old = reg_of[t]
                    owners[old] = NO_TEMP
                    self.occupied &= ~(1 << old)
                    reg_of[t] = NO_TEMP
                coherent[t] = False
                if t < n_globals:
                    self.dirty |= 1 << t
                if alias is None:
                    # A loop's global goes back to its register at the loop head when that
                    # register is free: the back edge then has nothing to move.
                    home = homes.get(t, -1) if homes else -1
                    if (home >= 0 and allowed >> home & 1 and not (exclude | avoid) >> home & 1
                            and owners[home] == NO_TEMP):
                        reg = home
                    else:
                        reg = self._alloc_reg(allowed, avoid, exclude)
                else:
                    reg = in_operands[alias]
                if owners[reg] >= 0:
                    self._save(owners[reg])
                # self._assign(reg, t), inlined:
                owners[reg] = t
                self.occupied |= 1 << reg
                last_use[reg] = index
                reg_of[t] = reg
                state[t] = IN_REG
                taken |= 1 << reg
                out_regs.append(reg)

        # 7. The op's code.
        if sync == _SYNC_FAULT:
            entries = self._dirty_globals_except(op.outs) if self.dirty else ()
            self.target.set_fault_state(entries + tuple(old_values) if old_values else entries)
        form.emit(self.target, op, Operands(in_operands, out_regs, scratch))

        # 8. After the op.
        if scratch:
            for reg in scratch:
                self._release(reg)
        self.locked = 0
        if dead_outputs:
            position = 0
            for temp in op.outs:
                if dead_outputs >> position & 1:
                    self._temp_dead(temp.index)
                position += 1
        if after:
            self._after(op, after)

    def _guest_state_before(self, op: Op, sync: int) -> None:
        """Step 3 of _op for the sync kinds other than _SYNC_FAULT."""
        if sync == _SYNC_ALL:
            if self.dirty:
                self._sync_globals()
        elif sync == _SYNC_CALL:
            if call_reads_globals(op):
                if call_writes_globals(op):
                    self._save_globals()
                else:
                    self._sync_globals()
        elif sync == _SYNC_LABEL:
            self._branch(op)
        elif self.dirty:   # _SYNC_LD_ENV
            self._sync_globals(env_overlap_mask(self.block, *_env_span(op)))

    def _bare_op(self, op: Op, index: int, info: tuple) -> None:
        """_op for an op without inputs or outputs (goto_tb, exit_tb, add_env, br, exit_check):
        no operands to place, so only the guest state around it and its code."""
        _, _, sync, after = info
        selector = self.selectors.get(op.opdef)
        if selector is None:
            selector = self.target.selector_for(op.opdef)
        form = selector(self.target, op, [], self.dead_inputs[index])
        constraint = form.constraint
        if constraint.clobbers or constraint.scratch:
            self._op(op, index, info)    # registers to take: the general path
            return
        self.copies = 0
        self.locked = 0
        if sync:
            if sync != _SYNC_FAULT:
                self._guest_state_before(op, sync)
            else:
                self.target.set_fault_state(self._dirty_globals_except(())
                                            if self.dirty else ())
        form.emit(self.target, op, _NO_OPERANDS)
        if after:
            if after == _AFTER_EXIT:
                self.reachable = False   # the next label resets the state
            else:
                self._after(op, after)

    def _after(self, op: Op, after: int) -> None:
        """Step 8 of _op: what the op did to the allocator's state."""
        if after == _AFTER_EXIT:
            self.reachable = False   # the next label resets the state
            return
        # st_env / add_env: the globals it overwrote are in env now
        state = self.state
        overlap = env_overlap_mask(self.block, *_env_span(op))
        while overlap:
            low = overlap & -overlap
            overlap ^= low
            t = low.bit_length() - 1
            if state[t] != IN_MEM:
                if state[t] == IN_REG:
                    self._release(self.reg_of[t])
                    self.reg_of[t] = NO_TEMP
                state[t] = IN_MEM
                self.coherent[t] = True
                self.dirty &= ~(1 << t)

    def _input(self, t: int, spec: InSpec, aliased: bool, dies: bool, avoid: int):
        if spec.ignore:
            return None
        state = self.state[t]
        if state == IS_CONST and spec.imm is not None and spec.imm(self.const_of[t]):
            return Imm(self.const_of[t])
        allowed = spec.regs
        if aliased:
            # The op overwrites this register: use t's own only if t dies here.
            if state == IN_REG and dies and allowed >> self.reg_of[t] & 1:
                reg = self.reg_of[t]
            else:
                reg = self._alloc_reg(allowed, avoid)
                self._copy_into(reg, t)
                self._assign(reg, OP_COPY)
                self.copies |= 1 << reg
            self.locked |= 1 << reg
            self.last_use[reg] = self.op_index
            return reg
        if state == IN_REG:
            reg = self.reg_of[t]
            if allowed >> reg & 1:
                self.locked |= 1 << reg
                self.last_use[reg] = self.op_index
                return reg
            new_reg = self._alloc_reg(allowed, avoid)
            self.target.emit_mov(new_reg, reg)
            if self.locked >> reg & 1:
                # Another input of this op reads t in `reg`: keep it there, use a copy.
                self._assign(new_reg, OP_COPY)
                self.copies |= 1 << new_reg
            else:
                self._release(reg)
                self._assign(new_reg, t)
            self.locked |= 1 << new_reg
            return new_reg
        reg = self._alloc_reg(allowed, avoid)
        self._load_into_home(reg, t)
        self.locked |= 1 << reg
        return reg


def _popcount(mask: int) -> int:
    return bin(mask).count("1")


def _bits(mask: int):
    """Indices of the set bits of a non-negative mask, lowest first."""
    while mask:
        low = mask & -mask
        yield low.bit_length() - 1
        mask ^= low
