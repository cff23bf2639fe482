"""Plugin instrumentation in the op stream: QEMU's plugin-gen (2019 design) on tcgjit's IR.

Translation does not know yet what plugins will ask for: a plugin decides in its translation
callback, which needs the translated block. So, while a block is translated with plugins
active, `EmptyCallbackEmitter` (the translator's `Instrumentation`) emits an *empty callback* at
every instrumentation point:

    block start          regular callback, inline op
    instruction start    memory-helper enable, regular callback, inline op, conditional callback
    each memory access   memory callback, memory inline op (with the access's r/w and size)
    after instruction    memory-helper disable

Each empty callback is a short op sequence (its *template*) between `plugin_cb_start(from,
type, rw)` and `plugin_cb_end`; templates that call something call a unique empty helper.
After the plugins' translation callbacks ran, `inject` replaces every point: its template is
copied once per request (the copy of a call gets the plugin's helper in place of the empty
helper, found by searching the call op's constants for the empty helper object, and the
userdata handle; an inline op gets its scoreboard entry and immediate), the loads a template
starts with (the vCPU index, the vCPU's scoreboard region) are made by the first copy only and
reused by the others, and the template itself goes. A point nobody asked for disappears. Every
template is checked op by op before it is copied, so that a change in how templates are emitted
cannot silently produce wrong code: `TemplateMismatch`.

The plugin core's emitter leaves every point out of the block during translation: such points
are *bare*. One record per hook call (block start, instruction start, after the instruction,
each memory access) keeps its kinds of point, the op they follow and where that was; nothing
is emitted. After the translation callbacks, the injector drops the records whose kinds no
request of the block uses (without looking at the block), and for the others copies the kind's
template at the point: a template without arguments is emitted by the same template function
in a block of its own and checked once per process, and its copies get temps of the block
they go into (`_shared_template`); one that takes the point's arguments (a memory callback's
address) is emitted and checked at the point. An instruction counter thus costs one small
record per hook call at translation and one add per run of instructions.

An inline ADD is one `plugin_add_u64` op (`add qword ptr [region + offset], imm` on x86), a
HOST_EFFECT op: kept, but no guest register is written back for it, as the guest cannot see a
scoreboard. When the plugin core has the region at a fixed distance from env (one vCPU), it is
one `add_env` at that distance instead (`add qword ptr [rbp + d], imm`: no load of the
region's address; `inject`'s env_region). While the points are filled, the add of an
instruction is folded into the add of the same entry in an earlier instruction when nothing
between them can call, branch or leave the block (`merge_inline_adds`, here done as the ops are
made: a folded add is never made), so a per-instruction count costs one add per such run of
instructions (mostly one per block, or per iteration of a loop inside a block). Guest accesses
do not stop a run: the adds made ahead of one are the block's *rewind table* (`CountedAhead`),
which the plugin core keeps per block; when the block leaves through a fault, the dispatcher
names the faulting instruction and the core takes back the counts of the instructions after
it, the way the instret counter is rewound. The count is exact at every fault, callback and exit.

The normal optimizer, liveness and register allocator then see plain ops. No marker is left
in the block, and a block translated without an emitter (no plugin translation callback)
contains none at all.

Scoreboards: the vCPU's scoreboard region is a host memory block whose address is in the env
(ENV_PLUGIN_SCOREBOARDS); a scoreboard entry is an offset in it, the same for every vCPU. Inline
ops therefore load the region address once and address entries with a small constant offset,
or, with the region at a fixed distance from env, address entries from env directly.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Callable, Optional, Sequence

from jit.emit import (const, end_block, gen_add_env, gen_brcond, gen_call, gen_ld_env,
                      gen_ld_host, gen_plugin_add_u64, gen_plugin_cb_end, gen_plugin_cb_start,
                      gen_set_label, gen_st_env, gen_st_host, make_op, new_label, new_temp,
                      resume_block)
from jit.env import ENV_CPU_INDEX, ENV_PLUGIN_MEM_CBS, ENV_PLUGIN_SCOREBOARDS
from jit.ir import (MASK64, MO_64, OPS, CallFlag, Cond, HelperInfo, IRBlock, MemOp, Op,
                    OpFlag, PluginCbFrom, PluginCbType, Temp)
from jit.translator import DisasContextBase, Instrumentation

__all__ = ["BareKind", "BlockInstrumentation", "CallbackRequest", "ConditionalCallbackRequest",
           "CountedAhead", "EMPTY_COND_HELPER", "EMPTY_MEM_HELPER", "EMPTY_UDATA_HELPER", "EmptyCallbackEmitter",
           "INSN_CALLBACK_KINDS", "INSN_COND_KINDS", "INSN_INLINE_KINDS", "InlineOp",
           "InlineRequest", "InsnRequests", "InstrumentationPoint", "MEM_CALLBACK_KINDS",
           "MEM_INLINE_KINDS", "MemInfo", "MemRw", "TB_CALLBACK_KINDS", "TB_INLINE_KINDS",
           "TbRequests", "TemplateMismatch", "TranslatedInsn", "inject", "merge_inline_adds"]


class MemRw(enum.IntFlag):
    """Which guest memory accesses a memory callback or inline op wants (qemu_plugin_mem_rw)."""

    R = 1
    W = 2
    RW = 3


class InlineOp(enum.Enum):
    """Inline scoreboard operations (qemu_plugin_op)."""

    ADD_U64 = "add_u64"
    STORE_U64 = "store_u64"


@dataclass(frozen=True)
class MemInfo:
    """What a memory callback learns about the access (qemu_plugin_meminfo_t); travels through
    generated code as the small integer `encode` makes."""

    size_shift: int
    sign_extended: bool
    big_endian: bool
    store: bool

    def encode(self) -> int:
        return (self.size_shift | int(self.sign_extended) << 2 | int(self.big_endian) << 3
                | int(self.store) << 4)

    @classmethod
    def decode(cls, value: int) -> "MemInfo":
        return cls(value & 3, bool(value & 4), bool(value & 8), bool(value & 16))

    @classmethod
    def of_access(cls, memop: MemOp, is_store: bool) -> "MemInfo":
        return cls(memop.size_shift, memop.signed, False, is_store)

    @property
    def rw(self) -> MemRw:
        return MemRw.W if self.store else MemRw.R


# --------------------------------------------------------------------------------------------
# What plugins asked for, per block and per instruction (filled by the plugin core)


@dataclass(frozen=True)
class CallbackRequest:
    """A regular or memory callback: `helper` is called with the vCPU index (and, for memory
    callbacks, the meminfo and the virtual address) and `userdata`, a handle the helper maps
    back to the plugin's userdata."""

    helper: HelperInfo
    userdata: int
    rw: MemRw = MemRw.RW      # memory callbacks: the accesses it wants


@dataclass(frozen=True)
class ConditionalCallbackRequest:
    """A callback made only when `cond(scoreboard entry, imm)` holds (unsigned compare)."""

    helper: HelperInfo
    userdata: int
    cond: Cond
    entry_offset: int
    imm: int


@dataclass(frozen=True)
class InlineRequest:
    """entry op= imm on the running vCPU's copy of a scoreboard entry."""

    op: InlineOp
    entry_offset: int
    imm: int
    rw: MemRw = MemRw.RW      # memory inline ops: the accesses it wants


class InsnRequests:
    """What plugins asked for at one instruction. (A plain slotted class: one is made per
    instrumented instruction, at its first request.)"""

    __slots__ = ("callbacks", "inline", "conditional", "mem_callbacks", "mem_inline")

    def __init__(self):
        self.callbacks: list[CallbackRequest] = []
        self.inline: list[InlineRequest] = []
        self.conditional: list[ConditionalCallbackRequest] = []
        self.mem_callbacks: list[CallbackRequest] = []
        self.mem_inline: list[InlineRequest] = []

    def __repr__(self) -> str:
        return (f"InsnRequests(callbacks={self.callbacks}, inline={self.inline}, "
                f"conditional={self.conditional}, mem_callbacks={self.mem_callbacks}, "
                f"mem_inline={self.mem_inline})")

    @property
    def wants_memory(self) -> bool:
        return bool(self.mem_callbacks or self.mem_inline)


@dataclass
class TbRequests:
    callbacks: list[CallbackRequest] = field(default_factory=list)
    inline: list[InlineRequest] = field(default_factory=list)
    # One per instruction; None: the instruction has no requests.
    insns: list[Optional[InsnRequests]] = field(default_factory=list)
    # The (from, type) kinds of point the requests fill, when whoever adds requests keeps it
    # up to date (the plugin core does, with the *_KINDS tables below); None: `inject` finds
    # them by looking at every request.
    kinds: Optional[set] = None


# The kinds of point each sort of request fills (`TbRequests.kinds`). A memory request also
# needs the memory-helper enable and disable points of its instruction.
TB_CALLBACK_KINDS = ((PluginCbFrom.TB, PluginCbType.UDATA),)
TB_INLINE_KINDS = ((PluginCbFrom.TB, PluginCbType.INLINE),)
INSN_CALLBACK_KINDS = ((PluginCbFrom.INSN, PluginCbType.UDATA),)
INSN_INLINE_KINDS = ((PluginCbFrom.INSN, PluginCbType.INLINE),)
INSN_COND_KINDS = ((PluginCbFrom.INSN, PluginCbType.COND),)
_MEM_HELPER_KINDS = ((PluginCbFrom.INSN, PluginCbType.MEM_ENABLE),
                     (PluginCbFrom.AFTER_INSN, PluginCbType.MEM_DISABLE))
MEM_CALLBACK_KINDS = ((PluginCbFrom.MEM, PluginCbType.MEM),) + _MEM_HELPER_KINDS
MEM_INLINE_KINDS = ((PluginCbFrom.MEM, PluginCbType.INLINE),) + _MEM_HELPER_KINDS


# --------------------------------------------------------------------------------------------
# The empty helpers: their identity is what the copier looks for in a call op.


def _do_nothing(*_args: int) -> None:
    """Never called in practice: every call to an empty helper is replaced or removed."""


_EMPTY_FLAGS = CallFlag.NO_READ_GLOBALS | CallFlag.NO_WRITE_GLOBALS
# (vcpu_index, userdata)
EMPTY_UDATA_HELPER = HelperInfo("plugin_empty_udata_cb", 2, False, _EMPTY_FLAGS, _do_nothing)
EMPTY_COND_HELPER = HelperInfo("plugin_empty_cond_cb", 2, False, _EMPTY_FLAGS, _do_nothing)
# (vcpu_index, meminfo, vaddr, userdata)
EMPTY_MEM_HELPER = HelperInfo("plugin_empty_mem_cb", 4, False, _EMPTY_FLAGS, _do_nothing)

# The userdata / scoreboard / immediate constants of a template before they are patched.
_PLACEHOLDER = 0


# --------------------------------------------------------------------------------------------
# Emission during translation


@dataclass(eq=False, slots=True)
class InstrumentationPoint:
    """A templated point (its template is in the block between its markers), or the record of
    one hook call's bare points (`kinds`: nothing is emitted for them)."""

    start: Optional[Op]    # its plugin_cb_start op (None for bare points)
    insn_index: int        # the instruction it belongs to; -1 for the block start
    # How its template is emitted: emit_template(*template_args) (templated points).
    emit_template: Optional[Callable[..., None]]
    template_args: tuple = ()
    # Points of kinds whose templates are not emitted during translation are *bare*: one
    # record per hook call keeps them all, in their order (`kinds`: `BareKind`s), and the op
    # they follow (`anchor`, None at the block's start); the injector emits the template of
    # one there only if a request comes for it. template_args are those of the kinds whose
    # template takes the access's arguments (memory callbacks).
    bare: bool = False
    kinds: tuple = ()
    anchor: Optional[Op] = None
    # Where it was in the block's ops when recorded (its start marker's index; for bare
    # points the index after the anchor): ops are only appended after it, but for a loop
    # head label put at the block's start, so the injector finds it there or a little after.
    position: int = 0


@dataclass(frozen=True, slots=True, eq=False)   # (identity: the kinds are module constants)
class BareKind:
    """One kind of point a hook makes: its markers' constants and its template function."""

    from_: PluginCbFrom
    cb_type: PluginCbType
    rw: int
    emit_template: Callable[..., None]
    takes_args: bool = False     # emitted with the hook call's template_args


@dataclass(slots=True)
class TranslatedInsn:
    vaddr: int
    size: int = 0


@dataclass
class BlockInstrumentation:
    """The points of one translated block and its instructions, for the injector, and
    what the injector leaves for the plugin core."""

    block: IRBlock
    points: list[InstrumentationPoint]
    insns: list[TranslatedInsn]
    # Set by `inject`: the block's rewind table (see merge_inline_adds).
    counted_ahead: tuple["CountedAhead", ...] = ()


def _emit_udata_template() -> None:
    cpu_index = new_temp("cpu_index")
    gen_ld_env(cpu_index, ENV_CPU_INDEX, MO_64)
    gen_call(EMPTY_UDATA_HELPER, None, [cpu_index, const(_PLACEHOLDER)])


def _emit_inline_template() -> None:
    # One op per inline operation: an ADD request copies the add, a STORE the store. The
    # add_env is the ADD of a region at a fixed distance from env (`inject`'s env_region).
    region = new_temp("scoreboards")
    gen_ld_env(region, ENV_PLUGIN_SCOREBOARDS, MO_64)
    gen_plugin_add_u64(region, _PLACEHOLDER, _PLACEHOLDER)
    gen_st_host(const(_PLACEHOLDER), region, _PLACEHOLDER, MO_64)
    gen_add_env(_PLACEHOLDER, _PLACEHOLDER)


def _emit_cond_template() -> None:
    region = new_temp("scoreboards")
    cpu_index = new_temp("cpu_index")
    value = new_temp("score")
    skip = new_label()
    gen_ld_env(region, ENV_PLUGIN_SCOREBOARDS, MO_64)
    gen_ld_env(cpu_index, ENV_CPU_INDEX, MO_64)
    gen_ld_host(value, region, _PLACEHOLDER, MO_64)
    gen_brcond(Cond.NE, value, const(_PLACEHOLDER), skip)
    gen_call(EMPTY_COND_HELPER, None, [cpu_index, const(_PLACEHOLDER)])
    gen_set_label(skip)


def _emit_mem_template(vaddr: Temp, meminfo: MemInfo) -> None:
    cpu_index = new_temp("cpu_index")
    gen_ld_env(cpu_index, ENV_CPU_INDEX, MO_64)
    gen_call(EMPTY_MEM_HELPER, None,
             [cpu_index, const(meminfo.encode()), vaddr, const(_PLACEHOLDER)])


def _emit_mem_helper_template() -> None:
    gen_st_env(const(_PLACEHOLDER), ENV_PLUGIN_MEM_CBS, MO_64)


# The points each hook makes, in order. The enable point comes first, as in QEMU: it is the
# instruction's first point.
_TB_START_KINDS = (BareKind(PluginCbFrom.TB, PluginCbType.UDATA, 0, _emit_udata_template),
                   BareKind(PluginCbFrom.TB, PluginCbType.INLINE, 0, _emit_inline_template))
_INSN_START_KINDS = (
    BareKind(PluginCbFrom.INSN, PluginCbType.MEM_ENABLE, 0, _emit_mem_helper_template),
    BareKind(PluginCbFrom.INSN, PluginCbType.UDATA, 0, _emit_udata_template),
    BareKind(PluginCbFrom.INSN, PluginCbType.INLINE, 0, _emit_inline_template),
    BareKind(PluginCbFrom.INSN, PluginCbType.COND, 0, _emit_cond_template))
# The kinds of an instruction start's record an instruction counter fills.
_INSN_INLINE_ONLY = (_INSN_START_KINDS[2],)
_INSN_END_KINDS = (
    BareKind(PluginCbFrom.AFTER_INSN, PluginCbType.MEM_DISABLE, 0, _emit_mem_helper_template),)
_MEM_KINDS_LOAD, _MEM_KINDS_STORE = (
    (BareKind(PluginCbFrom.MEM, PluginCbType.MEM, rw, _emit_mem_template, takes_args=True),
     BareKind(PluginCbFrom.MEM, PluginCbType.INLINE, rw, _emit_inline_template))
    for rw in (MemRw.R, MemRw.W))


# (size_shift, signed, is_store) -> the MemInfo of such an access (immutable, shared).
_MEMINFO_OF_ACCESS = {(size_shift, signed, is_store): MemInfo(size_shift, signed, False, is_store)
                      for size_shift in range(4) for signed in (False, True)
                      for is_store in (False, True)}


class EmptyCallbackEmitter(Instrumentation):
    """The translator hooks that emit the empty callbacks of one block at a time; `take`
    hands the block's points to the injector.

    templated_kinds: the (from, type) kinds of point whose template is emitted during
    translation; the others are bare (nothing emitted; one record per hook call keeps them)
    and get their template from the injector when a request needs it. None (the default,
    QEMU's way) templates every point. The plugin core templates none: a hook call then costs
    one small record at translation, whatever plugins will ask, and the template of a kind is
    emitted and checked once per block that uses it (an instruction counter: one inline
    template per block, copied per instruction)."""

    def __init__(self, templated_kinds: Optional[set] = None):
        self._current: Optional[BlockInstrumentation] = None
        self.templated_kinds = None if templated_kinds is None else set(templated_kinds)
        # (The plugin core's case: every point bare; the per-instruction hooks then make
        # their record themselves.)
        self._all_bare = templated_kinds is not None and not templated_kinds

    def _hook(self, kinds: tuple, insn_index: int, template_args: tuple = ()) -> None:
        """The points of one hook call, in order: templated kinds get their markers and
        template; each run of the others becomes one bare record."""
        current = self._current
        templated = self.templated_kinds
        if templated is not None and not templated:
            # (The plugin core's case: every point bare, one record per hook call.)
            ops = current.block.ops
            current.points.append(InstrumentationPoint(
                None, insn_index, None, template_args, True, kinds, ops[-1] if ops else None,
                len(ops)))
            return
        bare: list[BareKind] = []
        for kind in kinds:
            if templated is not None and (kind.from_, kind.cb_type) not in templated:
                bare.append(kind)
                continue
            if bare:
                self._bare_record(tuple(bare), insn_index, template_args)
                bare = []
            args = template_args if kind.takes_args else ()
            position = len(current.block.ops)
            start = gen_plugin_cb_start(kind.from_, kind.cb_type, kind.rw)
            kind.emit_template(*args)
            gen_plugin_cb_end()
            current.points.append(InstrumentationPoint(start, insn_index, kind.emit_template,
                                                       args, position=position))
        if bare:
            self._bare_record(tuple(bare), insn_index, template_args)

    def _bare_record(self, kinds: tuple, insn_index: int, template_args: tuple) -> None:
        current = self._current
        ops = current.block.ops
        current.points.append(InstrumentationPoint(
            None, insn_index, None, template_args, True, kinds, ops[-1] if ops else None,
            len(ops)))

    def tb_start(self, ctx: DisasContextBase) -> None:
        self._current = BlockInstrumentation(ctx.block, [], [])
        self._hook(_TB_START_KINDS, -1)

    def insn_start(self, ctx: DisasContextBase) -> None:
        current = self._current
        insns = current.insns
        index = len(insns)
        insns.append(TranslatedInsn(ctx.pc_curr))
        if self._all_bare:
            ops = current.block.ops
            current.points.append(InstrumentationPoint(
                None, index, None, (), True, _INSN_START_KINDS, ops[-1] if ops else None,
                len(ops)))
            return
        self._hook(_INSN_START_KINDS, index)

    def insn_end(self, ctx: DisasContextBase) -> None:
        current = self._current
        insns = current.insns
        insns[-1].size = ctx.pc_next - ctx.pc_curr
        if self._all_bare:
            ops = current.block.ops
            current.points.append(InstrumentationPoint(
                None, len(insns) - 1, None, (), True, _INSN_END_KINDS, ops[-1] if ops else None,
                len(ops)))
            return
        self._hook(_INSN_END_KINDS, len(insns) - 1)

    def mem_after(self, ctx: DisasContextBase, vaddr: Temp, memop: MemOp,
                  is_store: bool) -> None:
        # Memory callbacks run after the access (so not for one that faults), as in QEMU.
        meminfo = _MEMINFO_OF_ACCESS.get((memop.size_shift, memop.signed, is_store))
        if meminfo is None:
            meminfo = MemInfo.of_access(memop, is_store)
        # The marker's rw (MemRw.R or W) is what requests are filtered by; the callback gets
        # the whole meminfo, a constant argument of its call.
        self._hook(_MEM_KINDS_STORE if is_store else _MEM_KINDS_LOAD,
                   len(self._current.insns) - 1, (vaddr, meminfo))

    def take(self, block: IRBlock) -> Optional[BlockInstrumentation]:
        """The points of `block` if it was translated with this emitter, else None."""
        current = self._current
        if current is None or current.block is not block:
            return None
        self._current = None
        return current


# --------------------------------------------------------------------------------------------
# Injection


class TemplateMismatch(Exception):
    """An empty callback's ops are not what the copier expects: the template changed."""


_PLUGIN_CB_START = OPS["plugin_cb_start"]
_PLUGIN_CB_END = OPS["plugin_cb_end"]
_CALL = OPS["call"]
# Ops that leave the block: a memory-helper cell still set there is cleared first.
_LEAVING_OPS = frozenset({"exit_tb", "goto_ptr", "goto_tb"})

# The op names of each template, in order; `_check_template` verifies the rest.
TEMPLATE_SHAPES: dict[PluginCbType, tuple[str, ...]] = {
    PluginCbType.UDATA: ("ld_env", "call"),
    PluginCbType.INLINE: ("ld_env", "plugin_add_u64", "st_host", "add_env"),
    PluginCbType.COND: ("ld_env", "ld_env", "ld_host", "brcond", "call", "set_label"),
    PluginCbType.MEM: ("ld_env", "call"),
    PluginCbType.MEM_ENABLE: ("st_env",),
    PluginCbType.MEM_DISABLE: ("st_env",),
}
_EMPTY_HELPER_OF = {
    PluginCbType.UDATA: EMPTY_UDATA_HELPER,
    PluginCbType.COND: EMPTY_COND_HELPER,
    PluginCbType.MEM: EMPTY_MEM_HELPER,
}


def _mismatch(cb_type: PluginCbType, template: Sequence[Op], why: str) -> TemplateMismatch:
    listing = "; ".join(repr(op) for op in template)
    return TemplateMismatch(f"{cb_type.name.lower()} template: {why} (got: {listing})")


def _expect_env_load(cb_type: PluginCbType, template: Sequence[Op], op: Op,
                     offset: int) -> None:
    if op.consts[0] != offset or op.consts[1] != MO_64:
        raise _mismatch(cb_type, template, f"ld_env of env offset {offset} expected")


def _expect_host_access(cb_type: PluginCbType, template: Sequence[Op], op: Op,
                        region: Temp) -> None:
    pointer = op.ins[0] if op.name == "ld_host" else op.ins[1]
    if pointer is not region or op.consts[1] != MO_64:
        raise _mismatch(cb_type, template,
                        f"{op.name} must address the scoreboard region loaded first, 64-bit")


def _empty_helper_position(cb_type: PluginCbType, template: Sequence[Op], call: Op) -> int:
    """Where the empty helper sits in the call op's constants (searched, not assumed)."""
    empty_helper = _EMPTY_HELPER_OF[cb_type]
    for position, value in enumerate(call.consts):
        if value is empty_helper:
            return position
    raise _mismatch(cb_type, template, f"no call to {empty_helper.name}")


def _check_template(cb_type: PluginCbType, template: Sequence[Op]) -> None:
    names = tuple(op.name for op in template)
    if names != TEMPLATE_SHAPES[cb_type]:
        raise _mismatch(cb_type, template, f"ops {TEMPLATE_SHAPES[cb_type]} expected")
    if cb_type in (PluginCbType.UDATA, PluginCbType.MEM):
        load, call = template
        _expect_env_load(cb_type, template, load, ENV_CPU_INDEX)
        _empty_helper_position(cb_type, template, call)
        if call.ins[0] is not load.outs[0] or not call.ins[-1].is_const or call.outs:
            raise _mismatch(cb_type, template,
                            "call(cpu_index, ..., userdata constant) without result expected")
    elif cb_type is PluginCbType.INLINE:
        load, add, write, env_add = template
        _expect_env_load(cb_type, template, load, ENV_PLUGIN_SCOREBOARDS)
        region = load.outs[0]
        if add.ins[0] is not region:
            raise _mismatch(cb_type, template,
                            "plugin_add_u64 must address the scoreboard region loaded first")
        _expect_host_access(cb_type, template, write, region)
        if not write.ins[0].is_const:
            raise _mismatch(cb_type, template, "st_host of a constant expected")
        if list(env_add.consts) != [_PLACEHOLDER, _PLACEHOLDER]:
            raise _mismatch(cb_type, template, "add_env of placeholders expected")
    elif cb_type is PluginCbType.COND:
        load_region, load_cpu, read, branch, call, label = template
        _expect_env_load(cb_type, template, load_region, ENV_PLUGIN_SCOREBOARDS)
        _expect_env_load(cb_type, template, load_cpu, ENV_CPU_INDEX)
        _expect_host_access(cb_type, template, read, load_region.outs[0])
        _empty_helper_position(cb_type, template, call)
        if (branch.ins[0] is not read.outs[0] or not branch.ins[1].is_const
                or branch.consts[1] is not label.consts[0]):
            raise _mismatch(cb_type, template,
                            "brcond on the score against a constant, to the template's end")
        if call.ins[0] is not load_cpu.outs[0] or not call.ins[-1].is_const:
            raise _mismatch(cb_type, template, "call(cpu_index, userdata constant) expected")
    else:  # memory-helper enable / disable
        store, = template
        if store.consts[0] != ENV_PLUGIN_MEM_CBS or not store.ins[0].is_const:
            raise _mismatch(cb_type, template,
                            f"st_env of a constant to env offset {ENV_PLUGIN_MEM_CBS} expected")


def _copy(op: Op, ins: Optional[Sequence[Temp]] = None, consts: Optional[Sequence] = None,
          own: Optional[Callable[[Sequence[Temp]], list[Temp]]] = None) -> Op:
    """A copy of op, with some arguments replaced; make_op checks the shape against the table.
    own: for a shared template's op, gives the block's temps for the template's (`_Copier`)."""
    outs = op.outs
    ins = op.ins if ins is None else ins
    if own is not None:
        outs, ins = own(outs), own(ins)
    return make_op(op.opdef, outs, ins, op.consts if consts is None else consts)


def _copy_call(cb_type: PluginCbType, template: Sequence[Op], call: Op, helper: HelperInfo,
               userdata: int, block: IRBlock,
               own: Optional[Callable[[Sequence[Temp]], list[Temp]]] = None) -> Op:
    position = _empty_helper_position(cb_type, template, call)
    if helper.n_args != len(call.ins) or helper.has_result:
        raise _mismatch(cb_type, template,
                        f"helper {helper.name} does not take the template's arguments")
    consts = list(call.consts)
    consts[position] = helper
    return _copy(call, ins=[*call.ins[:-1], block.const(userdata)], consts=consts, own=own)


def _emit_left_out_template(block: IRBlock, kind: BareKind, template_args: tuple) -> list[Op]:
    """The template of a bare point, emitted now by the emitter's own template function, and
    checked."""
    translated_ops = block.ops
    block.ops = []
    resume_block(block)
    try:
        kind.emit_template(*template_args)
    finally:
        end_block()
        template, block.ops = block.ops, translated_ops
    _check_template(kind.cb_type, template)
    return template


# The templates of the bare kinds without arguments, emitted by their kind's template function
# into a block of their own and checked once per process; their copies get temps of the block
# they go into (`_Copier`, shared=True). (Emitting and checking the template in every block was
# the largest fixed cost of instrumenting a block.)
_SHARED_TEMPLATES: dict[BareKind, tuple[Op, ...]] = {}


def _shared_template(block: IRBlock, kind: BareKind) -> tuple[Op, ...]:
    template = _SHARED_TEMPLATES.get(kind)
    if template is None:
        template = _SHARED_TEMPLATES[kind] = tuple(
            _emit_left_out_template(IRBlock(block.globals, block.guest_pc), kind, ()))
    return template


class _Copier:
    """Fills one point: copies its template once per request. `loaded` says whether a copy
    already made the template's leading loads, which later copies then reuse."""

    __slots__ = ("block", "cb_type", "template", "loaded", "checked", "ops", "own",
                 "_own_temps", "env_region")

    def __init__(self, block: IRBlock, cb_type: PluginCbType, template: Sequence[Op],
                 checked: bool = False, shared: bool = False,
                 env_region: Optional[tuple[int, int]] = None):
        self.block = block
        # (displacement from env, size) of a scoreboard region at a fixed distance from env
        # (`inject`): an inline add then adds to env memory there, without loading anything.
        self.env_region = env_region
        self.cb_type = cb_type
        self.template = template
        self.loaded = False
        self.checked = checked      # (a bare point's template is checked when emitted)
        self.ops: list[Op] = []
        # A shared template (`_shared_template`) is not in the block: its copies get temps of
        # the block for the template's local temps (one per template temp and point) and the
        # block's constants for its constants. The arguments copies replace are constants.
        self.own = self._block_temps if shared else None
        self._own_temps: dict[int, Temp] = {}

    def _block_temps(self, temps: Sequence[Temp]) -> list[Temp]:
        block = self.block
        own_temps = self._own_temps
        result = []
        for temp in temps:
            if temp.is_const:
                temp = block.const(temp.value)
            elif not temp.is_global:
                mapped = own_temps.get(temp.index)
                if mapped is None:
                    mapped = own_temps[temp.index] = block.new_temp(temp.name)
                temp = mapped
            result.append(temp)
        return result

    def _check(self) -> None:
        """Check the template before its first copy (a point that is removed needs none)."""
        if not self.checked:
            _check_template(self.cb_type, self.template)
            self.checked = True

    def _loads(self, *loads: Op) -> None:
        if not self.loaded:
            # (Verbatim copies of checked ops: nothing to check again.)
            own = self.own
            for load in loads:
                self.ops.append(load.copy() if own is None else
                                Op(load.opdef, own(load.outs), own(load.ins), list(load.consts)))
            self.loaded = True

    def callback(self, request: CallbackRequest) -> None:
        self._check()
        load, call = self.template
        self._loads(load)
        self.ops.append(_copy_call(self.cb_type, self.template, call, request.helper,
                                   request.userdata, self.block, self.own))

    def inline(self, request: InlineRequest) -> None:
        self._check()
        load, add, write, env_add = self.template
        if request.op is InlineOp.ADD_U64 and self.env_region is not None:
            self.ops.append(_copy(env_add, consts=[self.env_region[0] + request.entry_offset,
                                                   request.imm]))
            return
        self._loads(load)
        if request.op is InlineOp.ADD_U64:
            self.ops.append(_copy(add, consts=[request.entry_offset, request.imm], own=self.own))
        else:  # STORE_U64
            self.ops.append(_copy(write, ins=[self.block.const(request.imm), write.ins[1]],
                                  consts=[request.entry_offset, write.consts[1]], own=self.own))

    def conditional(self, request: ConditionalCallbackRequest) -> None:
        self._check()
        load_region, load_cpu, read, branch, call, _label = self.template
        self._loads(load_region, load_cpu)
        skip = self.block.new_label()
        skip.refs = 1
        skip.present = True
        # The branch skips the call when the condition does not hold.
        own = self.own
        self.ops.append(_copy(read, consts=[request.entry_offset, read.consts[1]], own=own))
        self.ops.append(_copy(branch, ins=[branch.ins[0], self.block.const(request.imm)],
                              consts=[request.cond.invert(), skip], own=own))
        self.ops.append(_copy_call(self.cb_type, self.template, call, request.helper,
                                   request.userdata, self.block, own))
        self.ops.append(make_op(OPS["set_label"], [], [], [skip]))

    def mem_helper(self, handle: int) -> None:
        self._check()
        store, = self.template
        self.ops.append(_copy(store, ins=[self.block.const(handle)], own=self.own))


def _insns_calling_helpers(ops: Sequence[Op]) -> set[int]:
    """Indexes of the instructions whose own code (outside plugin points) calls a helper: only
    they can access guest memory behind the memory callbacks' back (QEMU's calls_helpers)."""
    calling: set[int] = set()
    insn_index = -1
    inside_point = False
    for op in ops:
        opdef = op.opdef
        if opdef is _PLUGIN_CB_START:
            inside_point = True
        elif opdef is _PLUGIN_CB_END:
            inside_point = False
        elif op.name == "insn_start":
            insn_index += 1
        elif opdef is _CALL and not inside_point:
            calling.add(insn_index)
    return calling


def _filter_rw(requests: Sequence, rw: int) -> list:
    return [request for request in requests if request.rw & rw]


# (from, type) of the points filled from request lists -> (the requests, given the block's
# requests, the point's instruction and the point's rw; the copier method for one request).
_REQUEST_FILLERS: dict[tuple[PluginCbFrom, PluginCbType], tuple[Callable, Callable]] = {
    (PluginCbFrom.TB, PluginCbType.UDATA):
        (lambda tb, insn, rw: tb.callbacks, _Copier.callback),
    (PluginCbFrom.TB, PluginCbType.INLINE):
        (lambda tb, insn, rw: tb.inline, _Copier.inline),
    (PluginCbFrom.INSN, PluginCbType.UDATA):
        (lambda tb, insn, rw: insn.callbacks, _Copier.callback),
    (PluginCbFrom.INSN, PluginCbType.INLINE):
        (lambda tb, insn, rw: insn.inline, _Copier.inline),
    (PluginCbFrom.INSN, PluginCbType.COND):
        (lambda tb, insn, rw: insn.conditional, _Copier.conditional),
    (PluginCbFrom.MEM, PluginCbType.MEM):
        (lambda tb, insn, rw: _filter_rw(insn.mem_callbacks, rw), _Copier.callback),
    (PluginCbFrom.MEM, PluginCbType.INLINE):
        (lambda tb, insn, rw: _filter_rw(insn.mem_inline, rw), _Copier.inline),
}


class _Injection:
    """The state of one block's injection: fills one point at a time."""

    def __init__(self, block: IRBlock, requests: TbRequests,
                 mem_helper_handle: Callable[[int], int],
                 env_region: Optional[tuple[int, int]] = None):
        self.block = block
        self.env_region = env_region
        self.requests = requests
        self.mem_helper_handle = mem_helper_handle
        self.calling_helpers: Optional[set[int]] = None     # found when first needed
        self.enabled_insns: set[int] = set()
        self.mem_helper_set = False
        self.requested_kinds = _requested_kinds(requests)
        # a bare record's kinds -> those of them some request may fill
        wanted = _BARE_KINDS_WANTED.get(self.requested_kinds)
        if wanted is None:
            wanted = _BARE_KINDS_WANTED[self.requested_kinds] = {}
        self.bare_kinds_wanted: dict[tuple, tuple[BareKind, ...]] = wanted
        # Set by `inject` when the block's inline adds are merged: an add that would be
        # folded into an open add of its entry is folded at once instead of copied.
        self.merger: Optional[_AddMerger] = None

    def fill(self, insn_index: int, from_: PluginCbFrom, cb_type: PluginCbType, rw: int,
             template: Sequence[Op], bare_kind: Optional[BareKind] = None,
             template_args: tuple = ()) -> Sequence[Op]:
        """The ops that replace a point of instruction insn_index (-1: the block): its
        template copied once per request (a point without requests, the common case, is
        dropped before any copier is made). A bare point gives its kind and template_args
        instead of its template."""
        if insn_index >= 0:
            insn = self.requests.insns[insn_index]
            if insn is None:
                return ()       # (the plugin core leaves out the requests of bare instructions)
        else:
            insn = None
        kind = (from_, cb_type)
        if kind == _MEM_ENABLE_POINT:
            if not insn.wants_memory:
                return ()
            if self.calling_helpers is None:
                self.calling_helpers = _insns_calling_helpers(self.block.ops)
            if insn_index not in self.calling_helpers:
                return ()
            copier = self._copier(cb_type, template, bare_kind, template_args)
            copier.mem_helper(self.mem_helper_handle(insn_index))
            self.enabled_insns.add(insn_index)
            self.mem_helper_set = True
        elif kind == _MEM_DISABLE_POINT:
            if insn_index not in self.enabled_insns:
                return ()
            copier = self._copier(cb_type, template, bare_kind, template_args)
            copier.mem_helper(0)
        else:
            filler = _REQUEST_FILLERS.get(kind)
            if filler is None:
                raise TemplateMismatch(f"no instrumentation point {from_.name}/{cb_type.name}")
            requests_of, copy_one = filler
            wanted = requests_of(self.requests, insn, rw)
            if not wanted:
                return ()
            if copy_one is _Copier.inline and self.merger is not None:
                return self._fill_merged_inline(wanted, cb_type, template, bare_kind,
                                                template_args)
            copier = self._copier(cb_type, template, bare_kind, template_args)
            for request in wanted:
                copy_one(copier, request)
        return copier.ops

    def _fill_merged_inline(self, wanted: Sequence[InlineRequest], cb_type: PluginCbType,
                            template: Sequence[Op], bare_kind: Optional[BareKind],
                            template_args: tuple) -> Sequence[Op]:
        """An inline point's ops while adds are merged: the copy of an ADD that the merger
        would fold into the open add of its entry is folded without being made (the merger
        has seen every op before the point; once this point made a copy it has not, so the
        rest is copied and folded when fed). The template is checked at its first copy."""
        fold = self.merger.fold
        copier = None
        for request in wanted:
            if (copier is None and request.op is InlineOp.ADD_U64
                    and fold(request.entry_offset, request.imm)):
                continue
            if copier is None:
                copier = self._copier(cb_type, template, bare_kind, template_args)
            copier.inline(request)
        return () if copier is None else copier.ops

    def wanted_bare_kinds(self, point: InstrumentationPoint) -> tuple[BareKind, ...]:
        """The kinds of a bare record that requests of this block may fill."""
        kinds = self.bare_kinds_wanted.get(point.kinds)
        if kinds is None:
            kinds = tuple(kind for kind in point.kinds
                          if (kind.from_, kind.cb_type) in self.requested_kinds)
            if kinds == _INSN_INLINE_ONLY:
                kinds = _INSN_INLINE_ONLY     # (inject's fast path knows it by identity)
            self.bare_kinds_wanted[point.kinds] = kinds
        return kinds

    def fill_bare(self, point: InstrumentationPoint, kinds: Sequence[BareKind],
                  emit: Callable[[Sequence[Op]], None]) -> None:
        """Emit the ops of a bare record's points of these kinds, one point after the other
        (a point's folds see the ops of the points before it)."""
        insn_index, template_args = point.insn_index, point.template_args
        for kind in kinds:
            ops = self.fill(insn_index, kind.from_, kind.cb_type, kind.rw, (), kind,
                            template_args)
            if ops:
                emit(ops)

    def _copier(self, cb_type: PluginCbType, template: Sequence[Op],
                bare_kind: Optional[BareKind], template_args: tuple) -> _Copier:
        if bare_kind is None:
            return _Copier(self.block, cb_type, template, env_region=self.env_region)
        # (Made only for a point with requests: its template is needed now.)
        if bare_kind.takes_args:
            # (Its template uses the point's temps: emitted here, in the block.)
            return _Copier(self.block, cb_type,
                           _emit_left_out_template(self.block, bare_kind, template_args), True,
                           env_region=self.env_region)
        return _Copier(self.block, cb_type, _shared_template(self.block, bare_kind), True,
                       shared=True, env_region=self.env_region)


_MEM_ENABLE_POINT = (PluginCbFrom.INSN, PluginCbType.MEM_ENABLE)
_MEM_DISABLE_POINT = (PluginCbFrom.AFTER_INSN, PluginCbType.MEM_DISABLE)


def _requested_kinds(requests: TbRequests) -> frozenset[tuple[PluginCbFrom, PluginCbType]]:
    """The (from, type) kinds of point the block's requests may fill: the bare points of the
    other kinds are dropped without looking at their requests."""
    if requests.kinds is not None:
        return frozenset(requests.kinds)
    kinds: set = set()
    if requests.callbacks:
        kinds.update(TB_CALLBACK_KINDS)
    if requests.inline:
        kinds.update(TB_INLINE_KINDS)
    for insn in requests.insns:
        if insn is None:
            continue
        if insn.callbacks:
            kinds.update(INSN_CALLBACK_KINDS)
        if insn.inline:
            kinds.update(INSN_INLINE_KINDS)
        if insn.conditional:
            kinds.update(INSN_COND_KINDS)
        if insn.mem_callbacks:
            kinds.update(MEM_CALLBACK_KINDS)
        if insn.mem_inline:
            kinds.update(MEM_INLINE_KINDS)
    return frozenset(kinds)


# requested kinds -> {a bare record's kinds -> those of them that requests of these kinds may
# fill}: found once per process, not once per block.
_BARE_KINDS_WANTED: dict[frozenset, dict[tuple, tuple]] = {}


def _clear_mem_helper_cell_on_exits(block: IRBlock, ops: list[Op]) -> list[Op]:
    """The ops with the memory-helper cell cleared before every exit after the first store to
    it (an enable point): the cell must not stay set for the code that runs next."""
    result: list[Op] = []
    cell_set = False
    for op in ops:
        if cell_set and op.name in _LEAVING_OPS:
            result.append(make_op(_ST_ENV, [], [block.const(0)], [ENV_PLUGIN_MEM_CBS, MO_64]))
        elif op.opdef is _ST_ENV and op.consts[0] == ENV_PLUGIN_MEM_CBS:
            cell_set = True
        result.append(op)
    return result


def inject(instrumentation: BlockInstrumentation, requests: TbRequests,
           mem_helper_handle: Callable[[int], int],
           env_region: Optional[tuple[int, int]] = None) -> None:
    """Fill in or remove every point of the block (in place), then merge its inline adds
    (the block's rewind table goes to instrumentation.counted_ahead).

    Points are found where they were recorded (`InstrumentationPoint.position`), not by
    scanning the block; a bare record whose kinds no request of the block uses is dropped
    without a look, and a block without requests and without templates is left as it is.

    mem_helper_handle(insn_index): the handle a helper of that instruction finds in env to
    report its guest memory accesses to the instruction's memory callbacks.

    env_region: (displacement, size) of the scoreboard region from the env pointer, when the
    code of this block only ever runs with that env and region (one vCPU) and the region does
    not move while the block exists (the plugin core flushes the code cache when it does):
    an inline ADD then is `add_env displacement + entry offset, imm`, one instruction
    addressed from the env register (`add qword ptr [rbp + d], imm`) with no load of the
    region's address, and the host's memory renaming of env-relative accesses keeps a count
    updated in a loop out of the loop's critical path. None: the region's address is loaded
    from env."""
    block = instrumentation.block
    ops = block.ops
    injection = _Injection(block, requests, mem_helper_handle, env_region)
    requested = injection.requested_kinds
    if not requested and all(point.bare for point in instrumentation.points):
        return              # no request, nothing emitted for the points: the block stays
    # (With at most one inline op in the block there is nothing to merge.)
    merging = (len(requests.inline) > 1 or (PluginCbFrom.INSN, PluginCbType.INLINE) in requested
               or (PluginCbFrom.MEM, PluginCbType.INLINE) in requested)
    new_ops: list[Op] = []
    if merging:
        # The ops go through the merger as they are made (merge_inline_adds in the same walk).
        injection.merger = _AddMerger(env_region)
        emit = injection.merger.feed
    else:
        emit = new_ops.extend
    copied = 0      # ops[:copied] are in new_ops
    shift = 0       # ops inserted at the block's start after the points were recorded

    def locate(op: Op, recorded_position: int, what: str) -> int:
        nonlocal shift
        position = recorded_position + shift
        if position < len(ops) and ops[position] is op:
            return position
        try:
            found = ops.index(op, copied)       # (identity: ops have no __eq__)
        except ValueError:
            raise TemplateMismatch(f"the {what} of an instrumentation point (op "
                                   f"{recorded_position}) is no longer in the block") from None
        shift = found - recorded_position
        return found

    wanted_kinds = injection.bare_kinds_wanted
    insn_requests = requests.insns
    fold = injection.merger.fold if merging else None
    for point in instrumentation.points:
        if point.bare:
            kinds = wanted_kinds.get(point.kinds)
            if kinds is None:
                kinds = injection.wanted_bare_kinds(point)
            if not kinds:
                continue        # (the common case: dropped without looking for it)
            insn_index = point.insn_index
            if insn_index >= 0:
                insn = insn_requests[insn_index]
                if insn is None:
                    continue    # (an instruction without requests: nothing to fill)
            anchor = point.anchor
            at = 0 if anchor is None else locate(anchor, point.position - 1, "anchor") + 1
            if at < copied:
                raise TemplateMismatch(f"bare points at op {point.position} are out of order")
            if at > copied:
                emit(ops[copied:at])
                copied = at
            if kinds is _INSN_INLINE_ONLY and fold is not None:
                # An instruction counter's point (the common case), without the general
                # fill's dispatch: one add that the merger folds, else the general way.
                inline = insn.inline
                if (len(inline) == 1 and inline[0].op is InlineOp.ADD_U64
                        and fold(inline[0].entry_offset, inline[0].imm)):
                    continue
            injection.fill_bare(point, kinds, emit)
            continue
        start = locate(point.start, point.position, "plugin_cb_start")
        end = start + 1
        while end < len(ops) and ops[end].opdef is not _PLUGIN_CB_END:
            end += 1
        if end == len(ops) or start < copied:
            raise TemplateMismatch(f"plugin_cb_start at op {start} has no plugin_cb_end")
        emit(ops[copied:start])
        emit(injection.fill(point.insn_index, *ops[start].consts, ops[start + 1:end]))
        copied = end + 1
    emit(ops[copied:])
    if merging:
        new_ops, instrumentation.counted_ahead = injection.merger.finish()
    if injection.mem_helper_set:
        # (Not a barrier for merged adds: the stores go in after merging.)
        new_ops = _clear_mem_helper_cell_on_exits(block, new_ops)
    block.ops = new_ops


# --------------------------------------------------------------------------------------------
# Merging inline adds forward


_PLUGIN_ADD = OPS["plugin_add_u64"]
_ADD_ENV = OPS["add_env"]
_LD_ENV = OPS["ld_env"]
_ST_ENV = OPS["st_env"]
_INSN_START = OPS["insn_start"]
_EXIT_CHECK = OPS["exit_check"]
# Ops that leave the block by a path of their own, run other code or jump: a count moved across
# one could be seen (or missed) by whoever looks at the scoreboard there.
_ADD_BARRIER_FLAGS = (OpFlag.CALL | OpFlag.BB_END | OpFlag.BRANCH | OpFlag.EXIT).value
_CAN_FAULT = OpFlag.CAN_FAULT.value


@dataclass(frozen=True, slots=True)
class CountedAhead:
    """A merged inline add that counts instructions before they start: the add, in the code of
    instruction `first_index` or earlier, also makes the adds of the later instructions in
    `later` ((instruction index, imm) pairs), across guest accesses that may fault.

    When the block leaves through a fault in instruction k (first_index <= k), the adds of the
    instructions after k were made but those instructions never ran: `taken_back(k)` is what
    to subtract from the entry. Instruction k itself keeps its count (its add came before its
    access, as without merging: QEMU counts a faulting instruction too)."""

    entry_offset: int
    first_index: int
    later: tuple[tuple[int, int], ...]

    def taken_back(self, fault_index: int) -> int:
        if fault_index < self.first_index:
            return 0        # this add has not run yet in the current pass through the block
        return sum(imm for index, imm in self.later if index > fault_index) & MASK64


class _OpenAdd:
    """An add that later adds of the same entry are still folded into."""

    __slots__ = ("position", "imm", "first_index", "late", "faults_at_start", "later")

    def __init__(self, position: int, imm: int, insn_index: int, late: bool, faults: int):
        self.position = position        # in the new op list
        self.imm = imm
        # The instruction whose faults find this add made: its own if the add comes before
        # every access of its instruction, else the next one.
        self.first_index = insn_index + 1 if late else insn_index
        self.late = late                # made after an access of its own instruction
        self.faults_at_start = faults   # fault sites met before it
        self.later: list[tuple[int, int]] = []


def _add_barrier(op: Op) -> bool:
    """May a scoreboard count be observed at this op, other than by a fault?

    Barriers: calls (plugin callbacks read scoreboards and may move the scoreboard regions),
    labels and branches (another path joins or leaves), exits and the patchable goto_tb jump,
    the exit check of a loop (its STOP is not rewound; only the back edge follows it anyway),
    and host memory accesses (other inline ops and conditional callbacks read and write
    entries). Not barriers: value ops, guest memory accesses (fault sites: see
    merge_inline_adds), env loads and stores (the guest's own state; a store of the scoreboard
    region's address would be one), the FP ops (they only accrue flags, and their
    exact-arithmetic fallback is not plugin code), markers and the other inline adds, which
    touch another entry or are merged here."""
    opdef = op.opdef
    if opdef.flag_bits & _ADD_BARRIER_FLAGS or opdef is _EXIT_CHECK:
        return True
    if opdef is _ST_ENV:
        return op.consts[0] == ENV_PLUGIN_SCOREBOARDS
    if opdef.side_effects:
        return not (opdef.fp_env or opdef.can_fault)
    return False


# What the merger does with an op, by its op definition (`_add_barrier` and the fault test
# made once per op of the table rather than once per op of every block).
_OTHER, _BARRIER, _FAULT_SITE, _INSN, _ENV_LOAD, _ENV_STORE, _ADD, _ENV_ADD = range(8)


def _merge_class(opdef, special: bool = True) -> int:
    if special:
        if opdef is _PLUGIN_ADD:
            return _ADD
        if opdef is _INSN_START:
            return _INSN
        if opdef is _LD_ENV:
            return _ENV_LOAD
        if opdef is _ST_ENV:
            return _ENV_STORE       # a barrier when it stores the scoreboard region's address
        if opdef is _ADD_ENV:
            return _ENV_ADD         # an inline add when it is into the scoreboard region
    if opdef.flag_bits & _ADD_BARRIER_FLAGS or opdef is _EXIT_CHECK:
        return _BARRIER
    if opdef.side_effects and not (opdef.fp_env or opdef.can_fault):
        return _BARRIER
    if opdef.flag_bits & _CAN_FAULT:
        return _FAULT_SITE
    return _OTHER


_MERGE_CLASS = {opdef: _merge_class(opdef) for opdef in OPS.values()}
# An add through another pointer than the scoreboard region, and a store elsewhere in env:
_FOREIGN_ADD_CLASS = _merge_class(_PLUGIN_ADD, special=False)
# (A store elsewhere in env is guest state the scoreboards do not depend on: no barrier.)
_OTHER_ENV_STORE_CLASS = _FAULT_SITE if _ST_ENV.can_fault else _OTHER
# (An add_env elsewhere in env, such as the retired-instruction counter's: as any guest state
# side effect.)
_ENV_ADD_CLASS = _merge_class(_ADD_ENV, special=False)


class _AddMerger:
    """merge_inline_adds as a stream: `feed` takes the block's ops in order (the injector feeds
    them as it makes them, so the block is walked once), `fold` folds an add about to be made
    into the open add of its entry without making it, `finish` gives the new ops and the
    rewind table."""

    __slots__ = ("ops", "region_temps", "open_adds", "rewind", "insn_index", "faults",
                 "faults_at_insn_start", "late_open", "env_window")

    def __init__(self, env_region: Optional[tuple[int, int]] = None):
        # add_env ops into the scoreboard region at (displacement, size) from env are
        # inline adds too (their entry offset: env offset - displacement), the same entries
        # as adds through the region's address loaded from env.
        self.env_window = (None if env_region is None
                           else (env_region[0], env_region[0] + env_region[1]))
        self.ops: list[Op] = []
        self.region_temps: set[int] = set()   # temps holding the env's scoreboard region address
        self.open_adds: dict[int, _OpenAdd] = {}   # entry offset -> its open add
        self.rewind: list[CountedAhead] = []
        self.insn_index = -1
        self.faults = 0                        # fault sites met so far
        self.faults_at_insn_start = 0
        self.late_open = False   # an add made after an access of the current instruction is open

    def _close(self, offset: int, open_add: _OpenAdd) -> None:
        if open_add.later:
            self.rewind.append(CountedAhead(offset, open_add.first_index, tuple(open_add.later)))
        first = self.ops[open_add.position]
        if first.consts[1] != open_add.imm:
            # (An add_env addresses the entry from env.)
            address = offset + self.env_window[0] if first.opdef is _ADD_ENV else offset
            self.ops[open_add.position] = _copy(first, consts=[address, open_add.imm])

    def _close_all(self) -> None:
        for offset, open_add in self.open_adds.items():
            self._close(offset, open_add)
        self.open_adds.clear()

    def fold(self, offset: int, imm: int) -> bool:
        """An inline add of imm to the entry at offset, at this point of the stream: folded
        into the entry's open add (True), exactly as `feed` would fold the add op, or not
        (False: the caller makes the add op and feeds it)."""
        if self.faults != self.faults_at_insn_start:
            return False        # after an access of its instruction: never folded
        open_add = self.open_adds.get(offset)
        if open_add is None:
            return False
        open_add.imm = (open_add.imm + imm) & MASK64
        if self.faults != open_add.faults_at_start and self.insn_index > open_add.first_index:
            open_add.later.append((self.insn_index, imm))
        return True

    def feed(self, ops: Sequence[Op]) -> None:
        new_ops = self.ops
        region_temps = self.region_temps
        open_adds = self.open_adds
        classes = _MERGE_CLASS
        insn_index, faults = self.insn_index, self.faults
        faults_at_insn_start, late_open = self.faults_at_insn_start, self.late_open
        window = self.env_window
        for op in ops:
            kind = classes[op.opdef]
            if kind == _OTHER:
                new_ops.append(op)
                continue
            if kind == _ENV_ADD:
                kind = (_ADD if window is not None and window[0] <= op.consts[0] < window[1]
                        else _ENV_ADD_CLASS)
            if kind == _ADD:
                if op.opdef is _ADD_ENV or op.ins[0].index in region_temps:
                    offset, imm = op.consts     # (open adds are keyed by the entry's offset)
                    if op.opdef is _ADD_ENV:
                        offset -= window[0]
                    late = faults != faults_at_insn_start
                    open_add = open_adds.get(offset)
                    if open_add is not None and not late:
                        open_add.imm = (open_add.imm + imm) & MASK64
                        if faults != open_add.faults_at_start and insn_index > open_add.first_index:
                            open_add.later.append((insn_index, imm))
                        continue
                    if open_add is not None:
                        self._close(offset, open_add)
                    open_adds[offset] = _OpenAdd(len(new_ops), imm, insn_index, late, faults)
                    late_open |= late
                    new_ops.append(op)
                    continue
                kind = _FOREIGN_ADD_CLASS
            elif kind == _ENV_STORE:
                kind = (_BARRIER if op.consts[0] == ENV_PLUGIN_SCOREBOARDS
                        else _OTHER_ENV_STORE_CLASS)
            if kind == _INSN:
                insn_index += 1
                faults_at_insn_start = faults
                late_open = False
            elif kind == _ENV_LOAD:
                if op.consts[0] == ENV_PLUGIN_SCOREBOARDS:
                    region_temps.add(op.outs[0].index)
            elif kind == _BARRIER:
                if open_adds:
                    self._close_all()
            elif kind == _FAULT_SITE:
                if late_open:
                    # An add made after an earlier access of this instruction is not moved
                    # across another: the instruction's faults would see different counts.
                    for offset, open_add in list(open_adds.items()):
                        if open_add.late and open_add.first_index == insn_index + 1:
                            self._close(offset, open_add)
                            del open_adds[offset]
                    late_open = False
                faults += 1
            new_ops.append(op)
        self.insn_index, self.faults = insn_index, faults
        self.faults_at_insn_start, self.late_open = faults_at_insn_start, late_open

    def finish(self) -> tuple[list[Op], tuple[CountedAhead, ...]]:
        self._close_all()
        return self.ops, tuple(self.rewind)


def merge_inline_adds(block: IRBlock,
                      env_region: Optional[tuple[int, int]] = None) -> tuple[CountedAhead, ...]:
    """Fold every inline add into an earlier add to the same scoreboard entry when no op
    between them is a barrier (`_add_barrier`), in place; returns the block's *rewind table*:
    the merged adds that count instructions ahead of a guest access that may fault.

    A per-instruction count then costs one host instruction per run of instructions without
    a call, branch or exit, instead of one per instruction. The count is exact wherever it can
    be observed: at a callback, an exit or a branch elsewhere every instruction whose add was
    moved forward has started, exactly as without merging; at a fault in instruction k the
    adds of the instructions after k were made too early, and the rewind table says how much
    (`CountedAhead.taken_back(k)`): the dispatcher reports each fault with the index of its
    instruction, and the plugin core subtracts that before anyone reads the scoreboards.

    Faults are known only by their instruction, so every fault site (guest access) of one
    instruction must see the same adds made ahead: an add made after an access of its own
    instruction (a memory inline op) is never folded into an earlier add, and later adds are
    folded into it only up to the next access of that instruction. Adds through a pointer
    other than the scoreboard region loaded from env are left alone, as are add_env ops
    outside env_region ((displacement, size) of the region from env, see `inject`).

    `inject` does the same while it fills the points (`_AddMerger`): the add of a point that
    would be folded is not even made."""
    merger = _AddMerger(env_region)
    merger.feed(block.ops)
    block.ops, rewind = merger.finish()
    return rewind
