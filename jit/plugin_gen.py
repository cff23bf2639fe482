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

The normal optimizer, liveness and register allocator then see plain ops. No marker is left
in the block, and a block translated without an emitter (no plugin translation callback)
contains none at all.

Scoreboards: the vCPU's scoreboard region is a host memory block whose address is in the env
(ENV_PLUGIN_SCOREBOARDS); a scoreboard entry is an offset in it, the same for every vCPU. Inline
ops therefore load the region address once and address entries with a small constant offset.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Callable, Optional, Sequence

from jit.emit import (const, gen_add, gen_brcond, gen_call, gen_ld_env, gen_ld_host,
                      gen_plugin_cb_end, gen_plugin_cb_start, gen_set_label, gen_st_env,
                      gen_st_host, make_op, new_label, new_temp)
from jit.env import ENV_CPU_INDEX, ENV_PLUGIN_MEM_CBS, ENV_PLUGIN_SCOREBOARDS
from jit.ir import (MO_64, OPS, CallFlag, Cond, HelperInfo, IRBlock, MemOp, Op,
                    PluginCbFrom, PluginCbType, Temp)
from jit.translator import DisasContextBase, Instrumentation

__all__ = ["BlockInstrumentation", "CallbackRequest", "ConditionalCallbackRequest",
           "EMPTY_COND_HELPER", "EMPTY_MEM_HELPER", "EMPTY_UDATA_HELPER", "EmptyCallbackEmitter",
           "InlineOp", "InlineRequest", "InsnRequests", "InstrumentationPoint", "MemInfo",
           "MemRw", "TbRequests", "TemplateMismatch", "TranslatedInsn", "inject"]


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


@dataclass
class InsnRequests:
    callbacks: list[CallbackRequest] = field(default_factory=list)
    inline: list[InlineRequest] = field(default_factory=list)
    conditional: list[ConditionalCallbackRequest] = field(default_factory=list)
    mem_callbacks: list[CallbackRequest] = field(default_factory=list)
    mem_inline: list[InlineRequest] = field(default_factory=list)

    @property
    def wants_memory(self) -> bool:
        return bool(self.mem_callbacks or self.mem_inline)


@dataclass
class TbRequests:
    callbacks: list[CallbackRequest] = field(default_factory=list)
    inline: list[InlineRequest] = field(default_factory=list)
    insns: list[InsnRequests] = field(default_factory=list)


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


@dataclass(eq=False)
class InstrumentationPoint:
    start: Op              # its plugin_cb_start op
    insn_index: int        # the instruction it belongs to; -1 for the block start


@dataclass
class TranslatedInsn:
    vaddr: int
    size: int = 0


@dataclass
class BlockInstrumentation:
    """The points of one translated block and its instructions, for the injector."""

    block: IRBlock
    points: list[InstrumentationPoint]
    insns: list[TranslatedInsn]


def _emit_udata_template() -> None:
    cpu_index = new_temp("cpu_index")
    gen_ld_env(cpu_index, ENV_CPU_INDEX, MO_64)
    gen_call(EMPTY_UDATA_HELPER, None, [cpu_index, const(_PLACEHOLDER)])


def _emit_inline_template() -> None:
    region = new_temp("scoreboards")
    value = new_temp("score")
    gen_ld_env(region, ENV_PLUGIN_SCOREBOARDS, MO_64)
    gen_ld_host(value, region, _PLACEHOLDER, MO_64)
    gen_add(value, value, const(_PLACEHOLDER))
    gen_st_host(value, region, _PLACEHOLDER, MO_64)


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


class EmptyCallbackEmitter(Instrumentation):
    """The translator hooks that emit the empty callbacks of one block at a time; `take`
    hands the block's points to the injector."""

    def __init__(self):
        self._current: Optional[BlockInstrumentation] = None

    def _point(self, from_: PluginCbFrom, cb_type: PluginCbType, rw: int, insn_index: int,
               emit_template: Callable[[], None]) -> None:
        start = gen_plugin_cb_start(from_, cb_type, rw)
        emit_template()
        gen_plugin_cb_end()
        self._current.points.append(InstrumentationPoint(start, insn_index))

    def tb_start(self, ctx: DisasContextBase) -> None:
        self._current = BlockInstrumentation(ctx.block, [], [])
        self._point(PluginCbFrom.TB, PluginCbType.UDATA, 0, -1, _emit_udata_template)
        self._point(PluginCbFrom.TB, PluginCbType.INLINE, 0, -1, _emit_inline_template)

    def insn_start(self, ctx: DisasContextBase) -> None:
        insns = self._current.insns
        index = len(insns)
        insns.append(TranslatedInsn(ctx.pc_curr))
        # The enable point comes first, as in QEMU: it is the instruction's first point.
        self._point(PluginCbFrom.INSN, PluginCbType.MEM_ENABLE, 0, index,
                    _emit_mem_helper_template)
        self._point(PluginCbFrom.INSN, PluginCbType.UDATA, 0, index, _emit_udata_template)
        self._point(PluginCbFrom.INSN, PluginCbType.INLINE, 0, index, _emit_inline_template)
        self._point(PluginCbFrom.INSN, PluginCbType.COND, 0, index, _emit_cond_template)

    def insn_end(self, ctx: DisasContextBase) -> None:
        insns = self._current.insns
        insns[-1].size = ctx.pc_next - ctx.pc_curr
        self._point(PluginCbFrom.AFTER_INSN, PluginCbType.MEM_DISABLE, 0, len(insns) - 1,
                    _emit_mem_helper_template)

    def mem_after(self, ctx: DisasContextBase, vaddr: Temp, memop: MemOp,
                  is_store: bool) -> None:
        # Memory callbacks run after the access (so not for one that faults), as in QEMU.
        meminfo = MemInfo.of_access(memop, is_store)
        index = len(self._current.insns) - 1
        # The marker's rw (MemRw.R or W) is what requests are filtered by; the callback gets
        # the whole meminfo, a constant argument of its call.
        self._point(PluginCbFrom.MEM, PluginCbType.MEM, meminfo.rw, index,
                    lambda: _emit_mem_template(vaddr, meminfo))
        self._point(PluginCbFrom.MEM, PluginCbType.INLINE, meminfo.rw, index,
                    _emit_inline_template)

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
    PluginCbType.INLINE: ("ld_env", "ld_host", "add", "st_host"),
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
        load, read, add, write = template
        _expect_env_load(cb_type, template, load, ENV_PLUGIN_SCOREBOARDS)
        region = load.outs[0]
        _expect_host_access(cb_type, template, read, region)
        _expect_host_access(cb_type, template, write, region)
        value = read.outs[0]
        if (add.ins[0] is not value or add.outs[0] is not value or not add.ins[1].is_const
                or write.ins[0] is not value):
            raise _mismatch(cb_type, template, "value = value + constant, stored back expected")
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


def _copy(op: Op, ins: Optional[Sequence[Temp]] = None, consts: Optional[Sequence] = None) -> Op:
    """A copy of op, with some arguments replaced; make_op checks the shape against the table."""
    return make_op(op.opdef, op.outs, op.ins if ins is None else ins,
                   op.consts if consts is None else consts)


def _copy_call(cb_type: PluginCbType, template: Sequence[Op], call: Op, helper: HelperInfo,
               userdata: int, block: IRBlock) -> Op:
    position = _empty_helper_position(cb_type, template, call)
    if helper.n_args != len(call.ins) or helper.has_result:
        raise _mismatch(cb_type, template,
                        f"helper {helper.name} does not take the template's arguments")
    consts = list(call.consts)
    consts[position] = helper
    return _copy(call, ins=[*call.ins[:-1], block.const(userdata)], consts=consts)


class _Copier:
    """Fills one point: copies its template once per request. `loaded` says whether a copy
    already made the template's leading loads, which later copies then reuse."""

    def __init__(self, block: IRBlock, cb_type: PluginCbType, template: Sequence[Op]):
        self.block = block
        self.cb_type = cb_type
        self.template = template
        self.loaded = False
        self.checked = False
        self.ops: list[Op] = []

    def _check(self) -> None:
        """Check the template before its first copy (a point that is removed needs none)."""
        if not self.checked:
            _check_template(self.cb_type, self.template)
            self.checked = True

    def _loads(self, *loads: Op) -> None:
        if not self.loaded:
            self.ops.extend(_copy(load) for load in loads)
            self.loaded = True

    def callback(self, request: CallbackRequest) -> None:
        self._check()
        load, call = self.template
        self._loads(load)
        self.ops.append(_copy_call(self.cb_type, self.template, call, request.helper,
                                   request.userdata, self.block))

    def inline(self, request: InlineRequest) -> None:
        self._check()
        load, read, add, write = self.template
        self._loads(load)
        offset_consts = [request.entry_offset, write.consts[1]]
        if request.op is InlineOp.ADD_U64:
            self.ops.append(_copy(read, consts=[request.entry_offset, read.consts[1]]))
            self.ops.append(_copy(add, ins=[add.ins[0], self.block.const(request.imm)]))
            self.ops.append(_copy(write, consts=offset_consts))
        else:  # STORE_U64: the store alone, of the immediate
            self.ops.append(_copy(write, ins=[self.block.const(request.imm), write.ins[1]],
                                  consts=offset_consts))

    def conditional(self, request: ConditionalCallbackRequest) -> None:
        self._check()
        load_region, load_cpu, read, branch, call, _label = self.template
        self._loads(load_region, load_cpu)
        skip = self.block.new_label()
        skip.refs = 1
        skip.present = True
        # The branch skips the call when the condition does not hold.
        self.ops.append(_copy(read, consts=[request.entry_offset, read.consts[1]]))
        self.ops.append(_copy(branch, ins=[branch.ins[0], self.block.const(request.imm)],
                              consts=[request.cond.invert(), skip]))
        self.ops.append(_copy_call(self.cb_type, self.template, call, request.helper,
                                   request.userdata, self.block))
        self.ops.append(make_op(OPS["set_label"], [], [], [skip]))

    def mem_helper(self, handle: int) -> None:
        self._check()
        store, = self.template
        self.ops.append(_copy(store, ins=[self.block.const(handle)]))


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


def inject(instrumentation: BlockInstrumentation, requests: TbRequests,
           mem_helper_handle: Callable[[int], int]) -> None:
    """Fill in or remove every point of the block (in place).

    mem_helper_handle(insn_index): the handle a helper of that instruction finds in env to
    report its guest memory accesses to the instruction's memory callbacks."""
    block = instrumentation.block
    point_of = {id(point.start): point for point in instrumentation.points}
    calling_helpers: Optional[set[int]] = None     # found when first needed
    enabled_insns: set[int] = set()
    mem_helper_set = False
    new_ops: list[Op] = []
    ops = block.ops
    position = 0
    while position < len(ops):
        op = ops[position]
        if op.opdef is not _PLUGIN_CB_START:
            if mem_helper_set and op.name in _LEAVING_OPS:
                new_ops.append(make_op(OPS["st_env"], [], [block.const(0)],
                                       [ENV_PLUGIN_MEM_CBS, MO_64]))
            new_ops.append(op)
            position += 1
            continue
        point = point_of.get(id(op))
        end = position + 1
        while end < len(ops) and ops[end].opdef is not _PLUGIN_CB_END:
            end += 1
        if point is None or end == len(ops):
            raise TemplateMismatch(f"plugin_cb_start at op {position} is not a known point "
                                   f"or has no plugin_cb_end")
        from_, cb_type, rw = op.consts
        template = ops[position + 1:end]
        copier = _Copier(block, cb_type, template)
        insn = requests.insns[point.insn_index] if point.insn_index >= 0 else None
        kind = (from_, cb_type)
        if kind == (PluginCbFrom.INSN, PluginCbType.MEM_ENABLE):
            if insn.wants_memory and calling_helpers is None:
                calling_helpers = _insns_calling_helpers(ops)
            if insn.wants_memory and point.insn_index in calling_helpers:
                copier.mem_helper(mem_helper_handle(point.insn_index))
                enabled_insns.add(point.insn_index)
                mem_helper_set = True
        elif kind == (PluginCbFrom.AFTER_INSN, PluginCbType.MEM_DISABLE):
            if point.insn_index in enabled_insns:
                copier.mem_helper(0)
        elif kind in _REQUEST_FILLERS:
            requests_of, copy_one = _REQUEST_FILLERS[kind]
            for request in requests_of(requests, insn, rw):
                copy_one(copier, request)
        else:
            raise TemplateMismatch(f"no instrumentation point {from_.name}/{cb_type.name}")
        new_ops.extend(copier.ops)
        position = end + 1
    block.ops = new_ops
