"""The plugin core (the role of QEMU's plugins/core.c and api.c): installed plugins, their
callbacks, what each translated block asks for, scoreboards, and the ways callbacks are reached.

Execution callbacks (block, instruction, memory, conditional) are Python functions that generated
code calls directly, through the backend's cffi trampolines: each becomes a `HelperInfo` whose
Python function unpacks the call's arguments (the vCPU index, for memory callbacks the meminfo
and the virtual address, and a userdata *handle*: an index into `CallbackRecord`s, which hold the
plugin's userdata and the guest pc of the callback's instruction). One HelperInfo per plugin
function and register flags, so the number of cffi callbacks stays small however many
instructions a plugin instruments.

An exception a plugin raises, wherever it is called from, becomes `PluginError(name, error)`;
the machine reports it and ends the run with status 1. From generated code, the backend records
it and raises env's exit_request: the guest stops at the next block entry (or at its next
syscall, before the syscall runs), the plugin's later callbacks are skipped. Callbacks are
deliberately not MAY_STOP (which would leave the block right after the call): the guest would
then resume in the middle of a block, in a new block whose block-level instrumentation would run
a second time for the instructions already counted.

Uninstall and reset may be called at any time, even from a callback: the plugin's callbacks are
unregistered at once, and the rest waits for the next *safe point*, when the dispatcher has
control and no generated code is running: the code cache is flushed (blocks that call the
plugin are dropped, nothing is freed under running code), then the plugin is removed (uninstall)
and its completion callback runs.

jit/plugin_gen.py does the op-level work; this module does not know the guest: what it needs
from it (registers, memory, disassembly, symbols) comes through `PluginHost`.
"""
from __future__ import annotations

import enum
import itertools
import mmap
from dataclasses import dataclass, field
from typing import Callable, Optional, Protocol, Sequence

import _cffi_backend

from jit.env import ENV_CPU_INDEX, ENV_PLUGIN_MEM_CBS, ENV_PLUGIN_SCOREBOARDS
from jit.ir import MASK64, CallFlag, Cond, HelperInfo, IRBlock
from jit.plugin_gen import (INSN_CALLBACK_KINDS, INSN_COND_KINDS, INSN_INLINE_KINDS,
                            MEM_CALLBACK_KINDS, MEM_INLINE_KINDS, TB_CALLBACK_KINDS,
                            TB_INLINE_KINDS, CallbackRequest, ConditionalCallbackRequest,
                            CountedAhead, EmptyCallbackEmitter, InlineOp, InlineRequest,
                            InsnRequests, MemInfo, MemRw, TbRequests, TranslatedInsn, inject)

# cffi's run-time FFI without C declarations (only new/cast/buffer are used): unlike
# cffi.FFI(), creating it does not import cffi's C parser, a large start-up cost.
_ffi = _cffi_backend.FFI()

PLUGIN_API_VERSION = 1


class CbFlags(enum.IntEnum):
    """Whether a callback reads or writes the guest registers (qemu_plugin_cb_flags)."""

    NO_REGS = 0
    R_REGS = 1
    RW_REGS = 2


# What each register flag lets the register allocator assume about the call (as QEMU's
# TCG_CALL_NO_RWG / TCG_CALL_NO_WG / none): the guest registers are written back to env before
# R_REGS and RW_REGS callbacks, and reloaded after RW_REGS ones.
_CALL_FLAGS = {
    CbFlags.NO_REGS: CallFlag.NO_READ_GLOBALS | CallFlag.NO_WRITE_GLOBALS,
    CbFlags.R_REGS: CallFlag.NO_WRITE_GLOBALS,
    CbFlags.RW_REGS: CallFlag.NONE,
}


class PluginCond(enum.Enum):
    """Conditions of conditional callbacks: scoreboard entry vs immediate, unsigned."""

    NEVER = "never"
    ALWAYS = "always"
    EQ = "eq"
    NE = "ne"
    LT = "lt"
    LE = "le"
    GT = "gt"
    GE = "ge"


_IR_CONDS = {PluginCond.EQ: Cond.EQ, PluginCond.NE: Cond.NE, PluginCond.LT: Cond.LTU,
             PluginCond.LE: Cond.LEU, PluginCond.GT: Cond.GTU, PluginCond.GE: Cond.GEU}


class Event(enum.Enum):
    """Callbacks registered per plugin (one each), not per block or instruction."""

    VCPU_INIT = "vcpu_init"
    VCPU_EXIT = "vcpu_exit"
    VCPU_TB_TRANS = "vcpu_tb_trans"
    VCPU_SYSCALL = "vcpu_syscall"
    VCPU_SYSCALL_RET = "vcpu_syscall_ret"
    FLUSH = "flush"
    ATEXIT = "atexit"


class PluginError(Exception):
    """A plugin's code raised `error`: the guest stops and the run ends with status 1."""

    def __init__(self, plugin_name: str, error: BaseException):
        super().__init__(f"plugin {plugin_name} raised {type(error).__name__}: {error}")
        self.plugin_name = plugin_name
        self.error = error


class PluginLoadError(Exception):
    """A plugin cannot be loaded or installed (bad name, bad arguments): one-line message."""


class PluginArgumentError(Exception):
    """Raised by a plugin's install() for arguments it does not accept: reported as one line
    naming the plugin, exit status 1."""


class PluginApiError(Exception):
    """The API was used where it cannot be (raised into the plugin's code)."""


# --------------------------------------------------------------------------------------------
# What the core needs from the guest


class PluginHost(Protocol):
    target_name: str
    pc_register: str     # the name plugins read the program counter by

    def register_names(self) -> Sequence[str]: ...
    def read_register(self, env, name: str) -> int: ...
    def write_register(self, env, name: str, value: int) -> None: ...
    def read_memory(self, vaddr: int, size: int) -> bytes: ...
    def fetch_code(self, vaddr: int, size: int) -> bytes: ...
    def host_address(self, vaddr: int) -> Optional[int]: ...
    def disassemble(self, code: bytes, vaddr: int) -> str: ...
    def symbolize(self, vaddr: int) -> Optional[str]: ...


@dataclass(frozen=True)
class PluginVersion:
    min: int
    cur: int


@dataclass(frozen=True)
class PluginInfo:
    """What install() learns about the emulator (qemu_info_t)."""

    target_name: str
    version: PluginVersion
    system_emulation: bool = False


# --------------------------------------------------------------------------------------------
# Plugins and their callbacks


@dataclass(eq=False)
class PluginContext:
    id: int
    name: str
    module: object
    args: list[str]
    callbacks: dict[Event, tuple[Callable, object]] = field(default_factory=dict)
    uninstalling: bool = False
    # uninstall/reset waiting for the next safe point: (remove the plugin?, completion cb)
    completion: Optional[tuple[bool, Optional[Callable]]] = None


class CallbackRecord:
    """What a userdata handle stands for: the plugin, its userdata, the guest pc of the
    instruction (or block) the callback belongs to, and the callback's register flags."""

    __slots__ = ("plugin", "userdata", "pc", "regs")

    def __init__(self, plugin: PluginContext, userdata, pc: int, regs: CbFlags):
        self.plugin = plugin
        self.userdata = userdata
        self.pc = pc
        self.regs = regs


class CallbackState:
    """The execution or syscall callback running now (None outside callbacks), and the vCPU."""

    __slots__ = ("current", "vcpu_index")

    def __init__(self):
        self.current: Optional[CallbackRecord] = None
        self.vcpu_index = 0


_MEMINFO_BY_CODE = [MemInfo.decode(code) for code in range(32)]


# --------------------------------------------------------------------------------------------
# Scoreboards: per-vCPU copies of u64 entries in host memory


# mmap flags of tcgjit's x86-64 Linux hosts that Python's mmap module does not name.
_MAP_NORESERVE = 0x4000
_MAP_FIXED_NOREPLACE = 0x100000
_S32_REACH = 1 << 31        # a sign-extended 32-bit displacement reaches [-2**31, 2**31)
_NEAR_STEP = 128 << 20      # candidate distances from the wanted address: multiples of it


def _map_near(near: int, size: int) -> Optional[int]:
    """The address of a new anonymous mapping of size bytes (reserved, backed on use) whose
    every byte is within a 32-bit displacement of `near`, or None if none was found."""
    import ctypes       # (only for a plugin core that has a vCPU)
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mmap.restype = ctypes.c_void_p
    libc.mmap.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int,
                          ctypes.c_int, ctypes.c_long)
    libc.munmap.argtypes = (ctypes.c_void_p, ctypes.c_size_t)
    flags = mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS | _MAP_NORESERVE | _MAP_FIXED_NOREPLACE
    steps = _S32_REACH // _NEAR_STEP - 1
    for step in (sign * distance for distance in range(1, steps) for sign in (1, -1)):
        hint = (near + step * _NEAR_STEP) & ~(mmap.PAGESIZE - 1)
        if hint <= 0:
            continue
        address = libc.mmap(hint, size, mmap.PROT_READ | mmap.PROT_WRITE, flags, -1, 0)
        if address is None or address == ctypes.c_void_p(-1).value:
            continue
        if -_S32_REACH <= address - near and address + size - near < _S32_REACH:
            return address
        libc.munmap(address, size)    # (a kernel that took the address as a mere hint)
    return None


def _new_region(n_entries: int, near: Optional[int] = None):
    """n_entries zeroed u64 entries (cdata) in an anonymous mapping of their own: address
    space reserved, pages backed only once touched, so a large region costs nothing unused.
    Within a 32-bit displacement of `near` (the vCPU's env) where possible: generated code
    then adds to an entry with one env-relative instruction (`PluginCore.env_region`)."""
    if near is not None:
        address = _map_near(near, n_entries * 8)
        if address is not None:
            return _ffi.cast("uint64_t *", address)     # (never unmapped)
    try:
        mapping = mmap.mmap(-1, n_entries * 8, flags=mmap.MAP_PRIVATE | _MAP_NORESERVE)
    except OSError:
        return _ffi.new("uint64_t[]", n_entries)
    return _ffi.from_buffer("uint64_t[]", mapping)    # (keeps the mapping alive)


class ScoreboardArena:
    """One region of u64 entries per vCPU; a scoreboard entry is the same byte offset in every
    region. A region's address is in its vCPU's env, which is where generated code reads it;
    with a single vCPU whose region is near its env, generated code addresses the region from
    the env pointer instead (`PluginCore.env_region`).

    Regions are large mappings backed on use, so they practically never grow. When one does
    (copied into a bigger one), the code with the old address goes at the next code flush,
    which the core asks for; until then that code still counts into the old region, kept
    allocated: `fold_moved` adds what it counted there since the copy into the new region."""

    INITIAL_ENTRIES = 1 << 23     # 64 MiB of address space per vCPU, backed where used

    def __init__(self):
        self.capacity = self.INITIAL_ENTRIES    # u64 entries per region
        self.used = 0
        self.regions: list = []                  # cdata (u64 entries) per vCPU
        self._near: list[Optional[int]] = []     # per vCPU: where its region should be
        self._retired: list = []                 # moved-out-of regions, kept alive
        # (vCPU index, old region, its first `used` entries when copied) per move not folded
        self._moved: list[tuple[int, object, bytes]] = []
        self._free: list[tuple[int, int]] = []   # (first entry, entries) reusable now
        self._freed: list[tuple[int, int]] = []  # freed, reusable after the next flush

    def add_vcpu(self, near: Optional[int] = None) -> int:
        """A region for one more vCPU, near `near` if possible; its address."""
        self._near.append(near)
        self.regions.append(_new_region(self.capacity, near))
        return self.region_address(len(self.regions) - 1)

    def region_address(self, vcpu_index: int) -> int:
        return int(_ffi.cast("uintptr_t", self.regions[vcpu_index]))

    def allocate(self, n_entries: int) -> tuple[int, bool]:
        """(first entry index, whether the regions moved) of n_entries zeroed entries."""
        for position, (first, count) in enumerate(self._free):
            if count >= n_entries:
                self._free[position] = (first + n_entries, count - n_entries)
                for region in self.regions:
                    for index in range(first, first + n_entries):
                        region[index] = 0
                return first, False
        moved = False
        if self.used + n_entries > self.capacity:
            self._grow(self.used + n_entries)
            moved = bool(self.regions)
        first = self.used
        self.used += n_entries
        return first, moved

    def _grow(self, needed: int) -> None:
        capacity = self.capacity
        while capacity < needed:
            capacity *= 2
        for position, old in enumerate(self.regions):
            new = _new_region(capacity, self._near[position])
            copied = _ffi.buffer(old, self.used * 8)[:]
            _ffi.memmove(new, copied, len(copied))
            self._moved.append((position, old, copied))
            self._retired.append(old)
            self.regions[position] = new
        self.capacity = capacity

    def fold_moved(self) -> None:
        """No code with the address of a moved-out-of region runs any more: add what was
        counted there after the move into the current regions."""
        for vcpu_index, old, copied in self._moved:
            now = _ffi.buffer(old, len(copied))[:]
            if now == copied:
                continue
            region = self.regions[vcpu_index]
            before, after = memoryview(copied).cast("Q"), memoryview(now).cast("Q")
            for entry in range(len(before)):
                if before[entry] != after[entry]:
                    region[entry] = (region[entry] + after[entry] - before[entry]) & MASK64
        self._moved.clear()

    def free(self, first: int, n_entries: int) -> None:
        self._freed.append((first, n_entries))

    def code_flushed(self) -> None:
        """No code refers to freed entries or to moved-out-of regions any more: the entries
        can be reused, and what was counted in the old regions is folded in."""
        self.fold_moved()
        self._free.extend(self._freed)
        self._freed.clear()


class Scoreboard:
    """n_entries u64 entries per vCPU (qemu_plugin_scoreboard)."""

    def __init__(self, core: "PluginCore", first: int, n_entries: int):
        self.core = core
        self.first = first
        self.n_entries = n_entries
        self.freed = False

    def __repr__(self) -> str:
        return f"<scoreboard of {self.n_entries} u64 entries>"


class ScoreboardEntry:
    """One u64 entry of a scoreboard, per vCPU (qemu_plugin_u64)."""

    __slots__ = ("scoreboard", "index")

    def __init__(self, scoreboard: Scoreboard, index: int):
        if not 0 <= index < scoreboard.n_entries:
            raise PluginApiError(f"scoreboard entry {index} out of range "
                                 f"(the scoreboard has {scoreboard.n_entries})")
        self.scoreboard = scoreboard
        self.index = index

    @property
    def entry(self) -> int:
        """The entry's index in every vCPU region."""
        if self.scoreboard.freed:
            raise PluginApiError("scoreboard used after scoreboard_free")
        return self.scoreboard.first + self.index

    @property
    def offset(self) -> int:
        """The entry's byte offset in every vCPU region (what inline ops address)."""
        return 8 * self.entry

    def _region(self, vcpu_index: int):
        regions = self.scoreboard.core.arena.regions
        if not 0 <= vcpu_index < len(regions):
            raise PluginApiError(f"no vCPU {vcpu_index}")
        return regions[vcpu_index]

    def get(self, vcpu_index: int) -> int:
        return self._region(vcpu_index)[self.entry]

    def set(self, vcpu_index: int, value: int) -> None:
        self._region(vcpu_index)[self.entry] = value & MASK64

    def add(self, vcpu_index: int, value: int) -> None:
        region = self._region(vcpu_index)
        region[self.entry] = (region[self.entry] + value) & MASK64

    def sum(self) -> int:
        entry = self.entry
        return sum(region[entry] for region in self.scoreboard.core.arena.regions) & MASK64


# --------------------------------------------------------------------------------------------
# Handles given to translation callbacks


class PluginInsn:
    """One translated instruction (qemu_plugin_insn). Its bytes are read from guest memory
    when first asked for, and its requests made at its first registration: a plugin that
    only counts pays for neither."""

    __slots__ = ("tb", "index", "vaddr", "size", "_data")

    def __init__(self, tb: "PluginTb", index: int, vaddr: int, size: int):
        self.tb = tb
        self.index = index
        self.vaddr = vaddr
        self.size = size
        self._data: Optional[bytes] = None

    @property
    def data(self) -> bytes:
        """The instruction's bytes (those translated: the block is dropped if they change)."""
        if self._data is None:
            self._data = self.tb.core.host.fetch_code(self.vaddr, self.size)
        return self._data

    @property
    def requests(self) -> InsnRequests:
        requests = self.tb.requests.insns[self.index]
        if requests is None:
            requests = self.tb.requests.insns[self.index] = InsnRequests()
        return requests

    def __repr__(self) -> str:
        return f"<insn {self.vaddr:#x}>"


class PluginTb:
    """One translated block (qemu_plugin_tb): valid only during the translation callbacks.
    requests.insns[i] stays None until instruction i gets a request."""

    def __init__(self, core: "PluginCore", block: IRBlock, insns: Sequence[TranslatedInsn]):
        self.core = core
        self.vaddr = block.guest_pc
        self.n_insns = len(insns)
        # (kinds: kept up to date by the core's register_* methods, for the injector.)
        self.requests = TbRequests(insns=[None] * self.n_insns, kinds=set())
        self._translated = insns
        self._handles: list[Optional[PluginInsn]] = [None] * self.n_insns   # made when asked
        self.valid = True

    def insn(self, index: int) -> PluginInsn:
        """The handle of instruction `index` (0 <= index < n_insns)."""
        handle = self._handles[index]
        if handle is None:
            translated = self._translated[index]
            handle = self._handles[index] = PluginInsn(self, index, translated.vaddr,
                                                       translated.size)
        return handle

    def __repr__(self) -> str:
        return f"<tb {self.vaddr:#x}, {self.n_insns} insns>"


# --------------------------------------------------------------------------------------------
# The core


_active_core: Optional["PluginCore"] = None
_plugin_ids = itertools.count(1)


def active_core() -> "PluginCore":
    """The core the plugin API talks to (the machine's)."""
    if _active_core is None:
        raise PluginApiError("no plugin core is running")
    return _active_core


@dataclass
class VcpuState:
    index: int
    env: object      # the CpuEnv


class PluginCore:
    # How many distinct inline requests register_exec_inline keeps for reuse.
    _INLINE_REQUESTS_KEPT = 4096

    def __init__(self, host: PluginHost, outs: Callable[[str], None] = lambda text: None):
        global _active_core
        _active_core = self
        self.host = host
        self.outs = outs
        self.plugins: dict[int, PluginContext] = {}      # by id, in install order
        self.failed: set[int] = set()                    # plugins that raised
        # Every point bare: one record per hook call during translation, a template (emitted
        # once per block and kind) only where a request comes (see jit/plugin_gen.py).
        self.emitter = EmptyCallbackEmitter(templated_kinds=set())
        self.arena = ScoreboardArena()
        self.vcpus: list[VcpuState] = []
        self.state = CallbackState()
        # Handle 0 is the templates' placeholder: no callback ever gets it.
        self._records: list[Optional[CallbackRecord]] = [None]
        self._mem_helper_insns: list[Optional[PluginInsn]] = [None]
        self._helpers: dict[tuple, HelperInfo] = {}
        self._inline_requests: dict[tuple, InlineRequest] = {}
        # (id(op), id(entry), imm, rw) as registered -> (its request, op, entry)
        self._inline_requests_by_args: dict[tuple, tuple] = {}
        # Guest pc of a translated block -> its rewind table (jit/plugin_gen.py
        # merge_inline_adds), for the blocks that count instructions ahead of an access.
        self._counted_ahead: dict[int, tuple[CountedAhead, ...]] = {}
        self._translating: Optional[PluginContext] = None
        self._installing: Optional[PluginContext] = None
        self._vcpus_shared_code = False    # set when a second vCPU starts
        self._instrumenting = False
        self._flush_pending = False
        self._translated_since_flush = False
        # Set by the machine (attach); harmless defaults for a core used on its own.
        self._request_safe_point: Callable[[], None] = lambda: None
        self._flush_code: Callable[[], None] = lambda: None
        self._set_instrumentation: Callable[[Optional[EmptyCallbackEmitter]], None] = \
            lambda emitter: None

    # ---- wiring -------------------------------------------------------------------------

    def attach(self, request_safe_point: Callable[[], None], flush_code: Callable[[], None],
               set_instrumentation: Callable[[Optional[EmptyCallbackEmitter]], None]) -> None:
        """request_safe_point(): have `at_safe_point` called as soon as no generated code
        runs; flush_code(): drop every translated block; set_instrumentation(emitter or None):
        what the frontend translates blocks with."""
        self._request_safe_point = request_safe_point
        self._flush_code = flush_code
        self._set_instrumentation = set_instrumentation
        self._update_instrumentation()

    @property
    def info(self) -> PluginInfo:
        return PluginInfo(self.host.target_name, PluginVersion(PLUGIN_API_VERSION,
                                                               PLUGIN_API_VERSION))

    # ---- installation -------------------------------------------------------------------

    def install(self, name: str, module, args: list[str]) -> PluginContext:
        """Install a loaded plugin module: call its install(plugin_id, info, args)."""
        install = getattr(module, "install", None)   # the plugin's one required entry point
        if not callable(install):
            raise PluginLoadError(f"plugin {name} has no install(plugin_id, info, args)")
        context = PluginContext(next(_plugin_ids), name, module, list(args))
        self.plugins[context.id] = context
        self._installing = context
        try:
            result = install(context.id, self.info, list(args))
        except PluginArgumentError as error:
            del self.plugins[context.id]
            raise PluginLoadError(f"plugin {name}: {error}") from None
        except Exception as error:
            del self.plugins[context.id]
            raise PluginError(name, error) from None
        finally:
            self._installing = None
        if result not in (None, 0):
            del self.plugins[context.id]
            raise PluginLoadError(f"plugin {name} failed to install (install returned {result})")
        return context

    def context(self, plugin_id: int) -> PluginContext:
        context = self.plugins.get(plugin_id)
        if context is None:
            raise PluginApiError(f"invalid plugin id {plugin_id}")
        return context

    # ---- per-plugin callbacks -----------------------------------------------------------

    def register(self, plugin_id: int, event: Event, func: Optional[Callable],
                 userdata=None) -> None:
        """Set (or with func None, remove) the plugin's callback for event."""
        context = self.context(plugin_id)
        if context.uninstalling:
            return      # on its way out: ignored, as in QEMU
        if func is None:
            context.callbacks.pop(event, None)
        else:
            if not callable(func):
                raise PluginApiError(f"{event.value} callback {func!r} is not callable")
            context.callbacks[event] = (func, userdata)
        if event is Event.VCPU_TB_TRANS:
            self._update_instrumentation(flush=True)

    def _subscribers(self, event: Event) -> list[PluginContext]:
        return [context for context in self.plugins.values() if event in context.callbacks]

    def _call(self, context: PluginContext, func: Callable, *args):
        """Call plugin code; an exception becomes PluginError (the run ends)."""
        try:
            return func(*args)
        except PluginError:
            raise
        except Exception as error:
            self.failed.add(context.id)
            raise PluginError(context.name, error) from None

    def _notify(self, event: Event, *args) -> None:
        for context in self._subscribers(event):
            entry = context.callbacks.get(event)
            if entry is not None:     # an earlier callback may have unregistered it
                self._call(context, entry[0], context.id, *args)

    def _update_instrumentation(self, flush: bool = False) -> None:
        """Blocks get empty callbacks exactly when some plugin has a translation callback."""
        wanted = self.emitter if self._subscribers(Event.VCPU_TB_TRANS) else None
        self._set_instrumentation(wanted)
        if flush and self._translated_since_flush:
            # Blocks translated before (or with callbacks of a plugin on its way out) go.
            self._flush_pending = True
            self._request_safe_point()

    # ---- vCPUs, syscalls, exit ----------------------------------------------------------

    def start_vcpu(self, env) -> int:
        """A vCPU is about to run guest code on env: give it its index and scoreboards, and
        call the vcpu_init callbacks."""
        index = len(self.vcpus)
        if index == 1:
            # The code translated so far may address vCPU 0's scoreboard region as a constant:
            # from now on adds load their vCPU's region from env, and that code goes.
            self._vcpus_shared_code = True
            if self._translated_since_flush:
                self._flush_pending = True
                self._request_safe_point()
        self.vcpus.append(VcpuState(index, env))
        env.write_u64(ENV_CPU_INDEX, index)
        env.write_u64(ENV_PLUGIN_SCOREBOARDS, self.arena.add_vcpu(env.addr))
        env.write_u64(ENV_PLUGIN_MEM_CBS, 0)
        self._notify(Event.VCPU_INIT, index)
        return index

    def on_syscall(self, vcpu_index: int, number: int, args: Sequence[int], pc: int) -> None:
        """Before a guest syscall (args: the syscall's arguments, as many as the ABI has)."""
        subscribers = self._subscribers(Event.VCPU_SYSCALL)
        if not subscribers:
            return
        padded = (list(args) + [0] * 8)[:8]   # qemu passes eight
        for context in subscribers:
            entry = context.callbacks.get(Event.VCPU_SYSCALL)
            if entry is not None:
                self._in_syscall_callback(context, pc, entry[0], context.id, vcpu_index, number,
                                          *padded)

    def on_syscall_return(self, vcpu_index: int, number: int, result: int, pc: int) -> None:
        for context in self._subscribers(Event.VCPU_SYSCALL_RET):
            entry = context.callbacks.get(Event.VCPU_SYSCALL_RET)
            if entry is not None:
                self._in_syscall_callback(context, pc, entry[0], context.id, vcpu_index, number,
                                          result)

    def _in_syscall_callback(self, context: PluginContext, pc: int, func: Callable,
                             plugin_id: int, vcpu_index: int, *args):
        # The guest state is all in env during a syscall: registers may be read.
        state = self.state
        state.current = CallbackRecord(context, None, pc, CbFlags.R_REGS)
        state.vcpu_index = vcpu_index
        try:
            self._call(context, func, plugin_id, vcpu_index, *args)
        finally:
            state.current = None

    def finish(self) -> list[PluginError]:
        """The guest ended: vcpu_exit then atexit callbacks of every plugin that has not
        failed. Returns the errors of those that raised (each is still reported)."""
        errors: list[PluginError] = []
        self.arena.fold_moved()     # (no generated code runs any more)
        for event in (Event.VCPU_EXIT, Event.ATEXIT):
            for context in self._subscribers(event):
                if context.id in self.failed:
                    continue
                func, userdata = context.callbacks[event]
                targets = ([(context.id, vcpu.index) for vcpu in self.vcpus]
                           if event is Event.VCPU_EXIT else [(context.id, userdata)])
                for args in targets:
                    try:
                        self._call(context, func, *args)
                    except PluginError as error:
                        errors.append(error)
                        break
        return errors

    # ---- uninstall and reset ------------------------------------------------------------

    def uninstall(self, plugin_id: int, callback: Optional[Callable] = None) -> None:
        self._remove_callbacks(plugin_id, remove_plugin=True, callback=callback)

    def reset(self, plugin_id: int, callback: Optional[Callable] = None) -> None:
        self._remove_callbacks(plugin_id, remove_plugin=False, callback=callback)

    def _remove_callbacks(self, plugin_id: int, remove_plugin: bool,
                          callback: Optional[Callable]) -> None:
        context = self.context(plugin_id)
        if context is self._installing:
            raise PluginApiError("uninstall/reset cannot be called from install()")
        if context.uninstalling or context.completion is not None:
            return
        context.uninstalling = remove_plugin
        context.callbacks.clear()
        context.completion = (remove_plugin, callback)
        self._flush_pending = True
        self._update_instrumentation()
        self._request_safe_point()

    def at_safe_point(self) -> None:
        """No generated code runs: flush if asked, then finish uninstalls and resets."""
        if self._flush_pending:
            self._flush_pending = False
            self._flush_code()
            self.code_cache_flushed()
        for context in list(self.plugins.values()):
            if context.completion is None:
                continue
            remove_plugin, callback = context.completion
            context.completion = None
            if remove_plugin:
                del self.plugins[context.id]
            if callback is not None:
                self._call(context, callback, context.id)

    def code_cache_flushed(self) -> None:
        """No generated code refers to callbacks or scoreboard entries of blocks translated
        before: reuse their handles and entries, then call the flush callbacks. Also called by
        the dispatcher when it flushed a full code cache."""
        self._translated_since_flush = False
        self._records[1:] = []
        self._mem_helper_insns[1:] = []
        self._counted_ahead.clear()
        self.arena.code_flushed()
        self._notify(Event.FLUSH)

    # ---- translation --------------------------------------------------------------------

    def instrument_block(self, block: IRBlock) -> None:
        """The pipeline's instrumentation pass: call the translation callbacks with the block
        just translated, then fill in or remove its empty callbacks."""
        self._translated_since_flush = True
        # (A block retranslated at this pc replaces the one the table was for.)
        self._counted_ahead.pop(block.guest_pc, None)
        points = self.emitter.take(block)
        if points is None:
            return
        tb = PluginTb(self, block, points.insns)
        try:
            for context in self._subscribers(Event.VCPU_TB_TRANS):
                entry = context.callbacks.get(Event.VCPU_TB_TRANS)
                if entry is None:
                    continue
                self._translating = context
                self._call(context, entry[0], context.id, tb)
        finally:
            self._translating = None
            tb.valid = False
        inject(points, tb.requests, lambda index: self._mem_helper_handle(tb.insn(index)),
               self.env_region())
        if points.counted_ahead:
            self._counted_ahead[block.guest_pc] = points.counted_ahead

    def env_region(self) -> Optional[tuple[int, int]]:
        """(displacement from the env pointer, size in bytes) of the scoreboard region, for
        inline adds to address it from env (jit/plugin_gen.py `inject`), or None: they load
        its address from env. Only with a single vCPU (the code is shared by every vCPU, each
        with its env and region) whose region is within a 32-bit displacement of its env; a
        region that moves (`scoreboard_new`) has the code cache flushed."""
        if len(self.vcpus) != 1 or self._vcpus_shared_code:
            return None
        displacement = self.arena.region_address(0) - self.vcpus[0].env.addr
        size = self.arena.capacity * 8
        if -_S32_REACH <= displacement and displacement + size < _S32_REACH:
            return displacement, size
        return None

    def block_faulted(self, env, block_pc: int, insn_index: int) -> None:
        """The block at guest pc block_pc left through a fault in its instruction insn_index
        (a guest access), on the vCPU of env: the instructions after it did not run, so the
        inline adds that counted them ahead are taken back (their instruction's own counts
        stay: it started). Called by the dispatcher before anything reads the scoreboards."""
        table = self._counted_ahead.get(block_pc)
        if not table:
            return
        region = self.arena.regions[env.read_u64(ENV_CPU_INDEX)]
        for ahead in table:
            amount = ahead.taken_back(insn_index)
            if amount:
                entry = ahead.entry_offset // 8
                region[entry] = (region[entry] - amount) & MASK64

    def _registering(self, handle) -> PluginContext:
        tb = handle.tb if isinstance(handle, PluginInsn) else handle
        if not tb.valid or self._translating is None:
            raise PluginApiError("blocks and instructions can only be instrumented from the "
                                 "translation callback that received them")
        return self._translating

    def _record(self, context: PluginContext, userdata, pc: int, regs: CbFlags) -> int:
        self._records.append(CallbackRecord(context, userdata, pc, regs))
        return len(self._records) - 1

    def _udata_helper(self, context: PluginContext, func: Callable, flags: CbFlags) -> HelperInfo:
        key = ("udata", context.id, func, flags)
        helper = self._helpers.get(key)
        if helper is None:
            records, state, name, failed = self._records, self.state, context.name, self.failed

            def call_udata(vcpu_index: int, handle: int) -> None:
                record = records[handle]
                if record.plugin.id in failed:
                    return      # raised earlier: the guest stops at the next block entry
                state.current = record
                state.vcpu_index = vcpu_index
                try:
                    func(vcpu_index, record.userdata)
                except Exception as error:
                    failed.add(record.plugin.id)
                    raise PluginError(name, error) from None
                finally:
                    state.current = None

            helper = HelperInfo(f"plugin_{name}_udata_cb", 2, False, _CALL_FLAGS[flags],
                                call_udata)
            self._helpers[key] = helper
        return helper

    def _mem_helper(self, context: PluginContext, func: Callable, flags: CbFlags) -> HelperInfo:
        key = ("mem", context.id, func, flags)
        helper = self._helpers.get(key)
        if helper is None:
            records, state, name, failed = self._records, self.state, context.name, self.failed
            meminfos = _MEMINFO_BY_CODE

            def call_mem(vcpu_index: int, meminfo: int, vaddr: int, handle: int) -> None:
                record = records[handle]
                if record.plugin.id in failed:
                    return
                state.current = record
                state.vcpu_index = vcpu_index
                try:
                    func(vcpu_index, meminfos[meminfo], vaddr, record.userdata)
                except Exception as error:
                    failed.add(record.plugin.id)
                    raise PluginError(name, error) from None
                finally:
                    state.current = None

            helper = HelperInfo(f"plugin_{name}_mem_cb", 4, False, _CALL_FLAGS[flags], call_mem)
            self._helpers[key] = helper
        return helper

    @staticmethod
    def _check_flags(flags) -> CbFlags:
        try:
            return CbFlags(flags)
        except ValueError:
            raise PluginApiError(f"{flags!r} is not a CbFlags value") from None

    def _check_callable(self, func) -> None:
        if not callable(func):
            raise PluginApiError(f"callback {func!r} is not callable")

    def register_exec_cb(self, handle, func: Callable, flags, userdata) -> None:
        """A block (PluginTb) or instruction (PluginInsn) execution callback."""
        context = self._registering(handle)
        flags = self._check_flags(flags)
        self._check_callable(func)
        pc = handle.vaddr
        self._requests_of(handle).callbacks.append(
            CallbackRequest(self._udata_helper(context, func, flags),
                            self._record(context, userdata, pc, flags)))
        if type(handle) is PluginInsn:
            handle.tb.requests.kinds.update(INSN_CALLBACK_KINDS)
        else:
            handle.requests.kinds.update(TB_CALLBACK_KINDS)

    def register_exec_inline(self, handle, op: InlineOp, entry: ScoreboardEntry, imm: int,
                             rw: MemRw = MemRw.RW, memory: bool = False) -> None:
        """An inline op at a block or instruction start, or (memory) at its accesses."""
        if type(handle) is not PluginInsn or not handle.tb.valid or self._translating is None:
            self._registering(handle)     # (raises, unless a valid block handle)
        # Requests are immutable: one object for all the registrations that ask the same (an
        # instruction counter asks the same for every instruction), found by the identity of
        # the op and entry objects (kept alive beside it) without recomputing anything.
        reused = self._inline_requests_by_args.get((id(op), id(entry), imm, rw))
        if reused is not None and not reused[2].scoreboard.freed:
            request = reused[0]
        else:
            request = self._inline_request(op, entry, imm, rw)
        if type(handle) is PluginInsn:
            tb_requests = handle.tb.requests
            requests = tb_requests.insns[handle.index]
            if requests is None:
                requests = tb_requests.insns[handle.index] = InsnRequests()
            kinds = MEM_INLINE_KINDS if memory else INSN_INLINE_KINDS
        else:
            requests = tb_requests = self._requests_of(handle)
            kinds = TB_INLINE_KINDS
        (requests.mem_inline if memory else requests.inline).append(request)
        tb_requests.kinds.update(kinds)

    def _inline_request(self, op: InlineOp, entry: ScoreboardEntry, imm: int,
                        rw: MemRw) -> InlineRequest:
        """The request for these arguments (checked), made or reused."""
        if not isinstance(op, InlineOp):
            raise PluginApiError(f"{op!r} is not an InlineOp")
        if not isinstance(entry, ScoreboardEntry):
            raise PluginApiError(f"{entry!r} is not a scoreboard entry")
        key = (op, entry.offset, imm & MASK64, rw if type(rw) is MemRw else MemRw(rw))
        # Requests are immutable: one object for all the registrations that ask the same
        # (an instruction counter asks the same for every instruction).
        request = self._inline_requests.get(key)
        if request is None:
            if len(self._inline_requests) >= self._INLINE_REQUESTS_KEPT:
                self._inline_requests.clear()
            request = self._inline_requests[key] = InlineRequest(*key)
        if len(self._inline_requests_by_args) >= self._INLINE_REQUESTS_KEPT:
            self._inline_requests_by_args.clear()
        self._inline_requests_by_args[(id(op), id(entry), imm, rw)] = (request, op, entry)
        return request

    def register_cond_cb(self, insn: PluginInsn, func: Callable, flags, cond: PluginCond,
                         entry: ScoreboardEntry, imm: int, userdata) -> None:
        context = self._registering(insn)
        flags = self._check_flags(flags)
        self._check_callable(func)
        if not isinstance(cond, PluginCond):
            raise PluginApiError(f"{cond!r} is not a PluginCond")
        if cond is PluginCond.NEVER:
            return
        if cond is PluginCond.ALWAYS:
            self.register_exec_cb(insn, func, flags, userdata)
            return
        insn.requests.conditional.append(ConditionalCallbackRequest(
            self._udata_helper(context, func, flags),
            self._record(context, userdata, insn.vaddr, flags),
            _IR_CONDS[cond], entry.offset, imm & MASK64))
        insn.tb.requests.kinds.update(INSN_COND_KINDS)

    def register_mem_cb(self, insn: PluginInsn, func: Callable, flags, rw,
                        userdata) -> None:
        context = self._registering(insn)
        flags = self._check_flags(flags)
        self._check_callable(func)
        insn.requests.mem_callbacks.append(CallbackRequest(
            self._mem_helper(context, func, flags),
            self._record(context, userdata, insn.vaddr, flags), MemRw(rw)))
        insn.tb.requests.kinds.update(MEM_CALLBACK_KINDS)

    @staticmethod
    def _requests_of(handle):
        if isinstance(handle, PluginTb):
            return handle.requests
        if isinstance(handle, PluginInsn):
            return handle.requests
        raise PluginApiError(f"{handle!r} is neither a block nor an instruction")

    # ---- memory accesses made by helpers -----------------------------------------------

    def _mem_helper_handle(self, insn: PluginInsn) -> int:
        self._mem_helper_insns.append(insn)
        return len(self._mem_helper_insns) - 1

    def helper_memory_access(self, vcpu_index: int, vaddr: int, meminfo: MemInfo) -> None:
        """A helper accessed guest memory for the instruction running on the vCPU: run that
        instruction's memory callbacks and inline ops (QEMU's qemu_plugin_vcpu_mem_cb). Does
        nothing unless the instruction has some (its enable point set the env cell)."""
        handle = self.vcpus[vcpu_index].env.read_u64(ENV_PLUGIN_MEM_CBS)
        if not handle:
            return
        requests = self._mem_helper_insns[handle].requests
        code = meminfo.encode()
        for request in requests.mem_callbacks:
            if request.rw & meminfo.rw:
                request.helper.py_func(vcpu_index, code, vaddr, request.userdata)
        region = self.arena.regions[vcpu_index]
        for inline in requests.mem_inline:
            if inline.rw & meminfo.rw:
                entry = inline.entry_offset // 8
                if inline.op is InlineOp.ADD_U64:
                    region[entry] = (region[entry] + inline.imm) & MASK64
                else:
                    region[entry] = inline.imm

    # ---- scoreboards --------------------------------------------------------------------

    def scoreboard_new(self, n_entries: int) -> Scoreboard:
        if n_entries < 1:
            raise PluginApiError("a scoreboard has at least one entry")
        first, moved = self.arena.allocate(n_entries)
        if moved:
            for vcpu in self.vcpus:
                vcpu.env.write_u64(ENV_PLUGIN_SCOREBOARDS, self.arena.region_address(vcpu.index))
            # Code translated before may use the old address as a constant (and a block
            # running now, whose callback grew the arena, may hold it until the block ends):
            # that code goes at the next safe point, and what it counted in the old region
            # (still allocated) is added to the new one then (ScoreboardArena.fold_moved).
            if self._translated_since_flush:
                self._flush_pending = True
                self._request_safe_point()
        return Scoreboard(self, first, n_entries)

    def scoreboard_free(self, scoreboard: Scoreboard) -> None:
        if scoreboard.freed:
            return
        scoreboard.freed = True
        self.arena.free(scoreboard.first, scoreboard.n_entries)

    # ---- guest state from callbacks -----------------------------------------------------

    def _callback_vcpu(self, what: str, needed: CbFlags) -> tuple[CallbackRecord, VcpuState]:
        record = self.state.current
        if record is None:
            raise PluginApiError(f"{what}: only from an execution or syscall callback")
        if record.regs < needed:
            raise PluginApiError(f"{what}: the callback was registered with "
                                 f"{record.regs.name}; it needs {needed.name} or more")
        return record, self.vcpus[self.state.vcpu_index]

    def register_names(self) -> list[str]:
        return list(self.host.register_names())

    def read_register(self, name: str) -> int:
        record, vcpu = self._callback_vcpu("read_register", CbFlags.R_REGS)
        if name == self.host.pc_register:
            return record.pc    # env's pc is only stored at block exits
        return self.host.read_register(vcpu.env, name)

    def write_register(self, name: str, value: int) -> None:
        record, vcpu = self._callback_vcpu("write_register", CbFlags.RW_REGS)
        if name == self.host.pc_register:
            raise PluginApiError("the pc cannot be written from a callback")
        self.host.write_register(vcpu.env, name, value & MASK64)

    def read_memory(self, vaddr: int, size: int) -> bytes:
        return self.host.read_memory(vaddr, size)
