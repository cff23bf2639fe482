"""The tcgjit intermediate representation: one declarative op table and the objects ops work on.

Every pass (interpreter, optimizer, liveness, register allocator, instruction selection, dumps,
plugin injection) derives what it needs to know about an op from its `OpDef` in `OPS`; nothing
about an op's meaning is hidden in its name.

Values are 64-bit. Every value the IR manipulates is a Python int in [0, 2**64) ("u64"): signed
operations convert with `to_signed` first and results are masked back with `u64`.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Callable, Optional

MASK64 = (1 << 64) - 1
INT64_MIN = 1 << 63


def u64(value: int) -> int:
    """Wrap any Python int to the IR's value domain [0, 2**64)."""
    return value & MASK64


def to_signed(value: int) -> int:
    """Read a u64 as a two's complement signed 64-bit integer."""
    value &= MASK64
    return value - (1 << 64) if value & INT64_MIN else value


def sign_extend(value: int, bits: int) -> int:
    """Sign-extend the low `bits` of value, result as u64."""
    sign = 1 << (bits - 1)
    value &= (1 << bits) - 1
    return u64((value ^ sign) - sign)


# --------------------------------------------------------------------------------------------
# Constant argument kinds


class Cond(enum.Enum):
    """Comparison conditions of setcond/brcond. `evaluate` is the single definition of each."""

    EQ = "eq"
    NE = "ne"
    LT = "lt"     # signed
    GE = "ge"
    LE = "le"
    GT = "gt"
    LTU = "ltu"   # unsigned
    GEU = "geu"
    LEU = "leu"
    GTU = "gtu"

    # Members are singletons compared by identity: hash them by identity too (in C; Enum's own
    # __hash__ is a Python call, and conditions key the backend's form tables).
    __hash__ = object.__hash__

    def evaluate(self, a: int, b: int) -> bool:
        if self in _SIGNED_CONDS:
            a, b = to_signed(a), to_signed(b)
        return _COND_TESTS[self](a, b)

    def invert(self) -> "Cond":
        """The condition that holds exactly when this one does not."""
        return _COND_INVERSE[self]

    def swap(self) -> "Cond":
        """The condition c' with c(a, b) == c'(b, a)."""
        return _COND_SWAPPED[self]

    @property
    def is_signed(self) -> bool:
        return self in _SIGNED_CONDS


_SIGNED_CONDS = frozenset({Cond.LT, Cond.GE, Cond.LE, Cond.GT})
_COND_TESTS = {
    Cond.EQ: lambda a, b: a == b, Cond.NE: lambda a, b: a != b,
    Cond.LT: lambda a, b: a < b, Cond.GE: lambda a, b: a >= b,
    Cond.LE: lambda a, b: a <= b, Cond.GT: lambda a, b: a > b,
    Cond.LTU: lambda a, b: a < b, Cond.GEU: lambda a, b: a >= b,
    Cond.LEU: lambda a, b: a <= b, Cond.GTU: lambda a, b: a > b,
}
_COND_INVERSE = {
    Cond.EQ: Cond.NE, Cond.NE: Cond.EQ, Cond.LT: Cond.GE, Cond.GE: Cond.LT,
    Cond.LE: Cond.GT, Cond.GT: Cond.LE, Cond.LTU: Cond.GEU, Cond.GEU: Cond.LTU,
    Cond.LEU: Cond.GTU, Cond.GTU: Cond.LEU,
}
_COND_SWAPPED = {
    Cond.EQ: Cond.EQ, Cond.NE: Cond.NE, Cond.LT: Cond.GT, Cond.GT: Cond.LT,
    Cond.LE: Cond.GE, Cond.GE: Cond.LE, Cond.LTU: Cond.GTU, Cond.GTU: Cond.LTU,
    Cond.LEU: Cond.GEU, Cond.GEU: Cond.LEU,
}


@dataclass(frozen=True)
class MemOp:
    """Size and signedness of a guest memory access (little-endian, like RISC-V)."""

    size_shift: int          # 0..3: 1, 2, 4 or 8 bytes
    signed: bool = False

    @property
    def size(self) -> int:
        return 1 << self.size_shift

    @property
    def bits(self) -> int:
        return 8 << self.size_shift

    def extend(self, raw: int) -> int:
        """The u64 a load of `raw` (the loaded bytes as unsigned) produces."""
        raw &= (1 << self.bits) - 1
        return sign_extend(raw, self.bits) if self.signed else raw

    def __str__(self) -> str:
        return f"{'s' if self.signed else 'u'}{self.bits}"


MO_8, MO_16, MO_32, MO_64 = (MemOp(0), MemOp(1), MemOp(2), MemOp(3))
MO_8S, MO_16S, MO_32S = (MemOp(0, True), MemOp(1, True), MemOp(2, True))


class CallFlag(enum.Flag):
    """What a helper call may do to the CPU state; the register allocator trusts these."""

    NONE = 0
    NO_READ_GLOBALS = enum.auto()   # globals need not be written back before the call
    NO_WRITE_GLOBALS = enum.auto()  # globals cached in registers stay valid after the call
    NO_SIDE_EFFECTS = enum.auto()   # removable when its outputs are dead
    MAY_STOP = enum.auto()          # a Python callback that may ask the guest to stop


@dataclass(eq=False)
class HelperInfo:
    """A function generated code can call: a native address, or a Python function reached through
    a cffi callback made by the backend. Arguments and the result are u64 (C `uint64_t`)."""

    name: str
    n_args: int
    has_result: bool
    flags: CallFlag = CallFlag.NONE
    py_func: Optional[Callable[..., Optional[int]]] = None  # what the interpreter (and the
    # Python-callback trampoline) calls
    native_address: Optional[int] = None                    # a C function; wins when set

    def __repr__(self) -> str:
        return f"<helper {self.name}>"


class Label:
    """A branch target inside one block. Branches may go forward or backward."""

    __slots__ = ("id", "refs", "present")

    def __init__(self, label_id: int):
        self.id = label_id
        self.refs = 0        # number of branches to it
        self.present = False  # set_label emitted

    def __repr__(self) -> str:
        return f"L{self.id}"


class PluginCbFrom(enum.IntEnum):
    """Where an instrumentation point sits (plugin_cb_start's first constant)."""

    TB = 0
    INSN = 1
    MEM = 2
    AFTER_INSN = 3


class PluginCbType(enum.IntEnum):
    """Kind of empty callback between plugin_cb_start/plugin_cb_end (second constant)."""

    UDATA = 0        # regular callback with userdata
    INLINE = 1       # inline scoreboard operation
    COND = 2         # conditional callback
    MEM = 3          # memory callback
    MEM_ENABLE = 4   # enable memory callbacks for the instruction
    MEM_DISABLE = 5


# --------------------------------------------------------------------------------------------
# The op table


class OpFlag(enum.Flag):
    NONE = 0
    BB_END = enum.auto()        # ends a basic block: allocator syncs and forgets register state
    BRANCH = enum.auto()        # its Label constant is a jump target
    COND = enum.auto()          # conditional branch (falls through when not taken)
    SIDE_EFFECTS = enum.auto()  # never removed; globals are synced (written back) before it
    CALL = enum.auto()          # variadic outputs/inputs, clobbers caller-saved host registers
    CAN_FAULT = enum.auto()     # may leave the block on its own (a guest memory access that faults,
    # an exit check): the guest state must be precise before it
    EXIT = enum.auto()          # leaves the block (no fall through)
    MARKER = enum.auto()        # emits no code (insn_start, plugin markers)
    FP_ENV = enum.auto()        # uses the FP environment: reads the dynamic rounding mode and/or
    # accrues FP exception flags (see "Floating point" below; always with SIDE_EFFECTS)
    HOST_EFFECT = enum.auto()   # writes host memory that only the JIT's clients read (plugin
    # scoreboards): never removed, but it cannot fault or leave and the guest cannot see it, so
    # the guest state need not be precise before it (no global sync, unlike SIDE_EFFECTS)


_FLAG_ATTRIBUTES = (
    ("bb_end", OpFlag.BB_END), ("branch", OpFlag.BRANCH), ("cond", OpFlag.COND),
    ("side_effects", OpFlag.SIDE_EFFECTS), ("call", OpFlag.CALL),
    ("can_fault", OpFlag.CAN_FAULT), ("exit", OpFlag.EXIT), ("marker", OpFlag.MARKER),
    ("fp_env", OpFlag.FP_ENV), ("host_effect", OpFlag.HOST_EFFECT),
)


@dataclass(frozen=True, eq=False)
class OpDef:
    """One IR operation (one object per op: compared and hashed by identity, so that passes can
    key tables by it cheaply).

    outputs/inputs: number of temp arguments (None for the variadic `call`).
    consts: names of the constant (non-temp) arguments, in order.
    fold: for pure value ops, the function from input u64s (then constants) to the output u64;
    it is the op's meaning for the interpreter and for constant folding alike.
    """

    name: str
    outputs: Optional[int]
    inputs: Optional[int]
    consts: tuple[str, ...] = ()
    flags: OpFlag = OpFlag.NONE
    fold: Optional[Callable[..., int]] = None
    doc: str = ""
    # FP_ENV ops: (input u64s..., rounding mode or None) -> (output u64, exception flags); the
    # interpreter resolves a DYN rounding mode and accrues the flags (jit/softfloat.py).
    fp: Optional[Callable[..., tuple[int, int]]] = None

    def __post_init__(self):
        # Plain booleans derived from the flags: passes test them per op, and enum.Flag
        # arithmetic is far too slow for the translator's inner loops.
        flags = self.flags
        for attribute, flag in _FLAG_ATTRIBUTES:
            object.__setattr__(self, attribute, bool(flags & flag))
        object.__setattr__(self, "removable_if_unused",
                           not flags & (OpFlag.SIDE_EFFECTS | OpFlag.BB_END | OpFlag.MARKER
                                        | OpFlag.BRANCH | OpFlag.CALL | OpFlag.HOST_EFFECT))
        # The flags as a plain int, for passes that test several flags at once.
        object.__setattr__(self, "flag_bits", flags.value)


def _div_s(a: int, b: int) -> int:
    """RISC-V DIV: x / 0 = -1, INT64_MIN / -1 = INT64_MIN, else truncate toward zero."""
    sa, sb = to_signed(a), to_signed(b)
    if sb == 0:
        return MASK64
    if sa == -INT64_MIN and sb == -1:
        return INT64_MIN
    q = abs(sa) // abs(sb)
    return u64(-q if (sa < 0) != (sb < 0) else q)


def _rem_s(a: int, b: int) -> int:
    """RISC-V REM: x % 0 = x, INT64_MIN % -1 = 0, sign of the dividend."""
    sa, sb = to_signed(a), to_signed(b)
    if sb == 0:
        return a
    r = abs(sa) % abs(sb)
    return u64(-r if sa < 0 else r)


def _div_u(a: int, b: int) -> int:
    return MASK64 if b == 0 else a // b


def _rem_u(a: int, b: int) -> int:
    return a if b == 0 else a % b


def _shift_count(b: int) -> int:
    # Shift counts are taken modulo 64, as on both RISC-V (RV64) and x86-64.
    return b & 63


P = OpFlag  # short alias for the table below
_VALUE_OPS = [
    OpDef("mov", 1, 1, fold=lambda a: a, doc="d = a"),
    OpDef("add", 1, 2, fold=lambda a, b: u64(a + b)),
    OpDef("sub", 1, 2, fold=lambda a, b: u64(a - b)),
    OpDef("and", 1, 2, fold=lambda a, b: a & b),
    OpDef("or", 1, 2, fold=lambda a, b: a | b),
    OpDef("xor", 1, 2, fold=lambda a, b: a ^ b),
    OpDef("andc", 1, 2, fold=lambda a, b: a & ~b & MASK64, doc="d = a & ~b"),
    OpDef("neg", 1, 1, fold=lambda a: u64(-a)),
    OpDef("not", 1, 1, fold=lambda a: a ^ MASK64),
    OpDef("shl", 1, 2, fold=lambda a, b: u64(a << _shift_count(b)), doc="count mod 64"),
    OpDef("shr", 1, 2, fold=lambda a, b: a >> _shift_count(b), doc="logical, count mod 64"),
    OpDef("sar", 1, 2, fold=lambda a, b: u64(to_signed(a) >> _shift_count(b)),
          doc="arithmetic, count mod 64"),
    OpDef("mul", 1, 2, fold=lambda a, b: u64(a * b), doc="low 64 bits"),
    OpDef("mulsh", 1, 2, fold=lambda a, b: u64((to_signed(a) * to_signed(b)) >> 64),
          doc="high 64 bits of signed x signed"),
    OpDef("muluh", 1, 2, fold=lambda a, b: (a * b) >> 64, doc="high 64 bits of unsigned x unsigned"),
    OpDef("mulsuh", 1, 2, fold=lambda a, b: u64((to_signed(a) * b) >> 64),
          doc="high 64 bits of signed a x unsigned b (RISC-V MULHSU)"),
    OpDef("div", 1, 2, fold=_div_s, doc="signed, RISC-V results for /0 and overflow"),
    OpDef("divu", 1, 2, fold=_div_u, doc="unsigned, x/0 = all ones"),
    OpDef("rem", 1, 2, fold=_rem_s, doc="signed, RISC-V results for %0 and overflow"),
    OpDef("remu", 1, 2, fold=_rem_u, doc="unsigned, x%0 = x"),
    OpDef("ext8s", 1, 1, fold=lambda a: sign_extend(a, 8)),
    OpDef("ext8u", 1, 1, fold=lambda a: a & 0xFF),
    OpDef("ext16s", 1, 1, fold=lambda a: sign_extend(a, 16)),
    OpDef("ext16u", 1, 1, fold=lambda a: a & 0xFFFF),
    OpDef("ext32s", 1, 1, fold=lambda a: sign_extend(a, 32)),
    OpDef("ext32u", 1, 1, fold=lambda a: a & 0xFFFFFFFF),
    OpDef("setcond", 1, 2, ("cond",), fold=lambda a, b, cond: int(cond.evaluate(a, b)),
          doc="d = cond(a, b) ? 1 : 0"),
    OpDef("movcond", 1, 4, ("cond",),
          fold=lambda a, b, t, f, cond: t if cond.evaluate(a, b) else f,
          doc="d = cond(a, b) ? t : f"),
]

_OTHER_OPS = [
    # Control flow inside a block.
    OpDef("set_label", 0, 0, ("label",), P.BB_END | P.MARKER),
    OpDef("br", 0, 0, ("label",), P.BB_END | P.BRANCH | P.EXIT),
    OpDef("brcond", 0, 2, ("cond", "label"), P.BB_END | P.BRANCH | P.COND),
    # Guest memory: address = a + offset (64-bit wrap). The access faults on an address that is
    # not mapped for it in the guest address space.
    OpDef("guest_ld", 1, 1, ("offset", "memop"), P.SIDE_EFFECTS | P.CAN_FAULT,
          doc="d = extend(mem[a + offset])"),
    OpDef("guest_st", 0, 2, ("offset", "memop"), P.SIDE_EFFECTS | P.CAN_FAULT,
          doc="mem[b + offset] = low bits of a"),
    # The exit request check of a loop inside a block (the block entry has one of its own): it
    # leaves like a fault does, with the guest state precise, so it is CAN_FAULT too.
    OpDef("exit_check", 0, 0, ("pc",), P.SIDE_EFFECTS | P.CAN_FAULT,
          doc="if env.exit_request: pc = the constant, leave with ExitKind.STOP"),
    # The CPU state (env): fields that are not globals, e.g. fflags, exit_request.
    OpDef("ld_env", 1, 0, ("offset", "memop"), doc="d = extend(env[offset])"),
    OpDef("st_env", 0, 1, ("offset", "memop"), P.SIDE_EFFECTS, doc="env[offset] = low bits of a"),
    # A counter in env bumped in place (instret): one read-modify-write instruction.
    OpDef("add_env", 0, 0, ("offset", "imm"), P.SIDE_EFFECTS,
          doc="u64 env[offset] += imm (wrapping)"),
    # Host memory at an absolute address (scoreboards of inline plugin ops).
    OpDef("ld_host", 1, 1, ("offset", "memop"), P.SIDE_EFFECTS, doc="d = extend(*(a + offset))"),
    OpDef("st_host", 0, 2, ("offset", "memop"), P.SIDE_EFFECTS, doc="*(b + offset) = a"),
    # An inline plugin add in one host instruction: a scoreboard entry is not guest state.
    OpDef("plugin_add_u64", 0, 1, ("offset", "imm"), P.HOST_EFFECT,
          doc="*(u64 *)(a + offset) += imm (wrapping)"),
    OpDef("call", None, None, ("helper",), P.CALL | P.SIDE_EFFECTS,
          doc="outputs = helper(inputs); flags of the helper refine what it may do"),
    # Markers.
    OpDef("insn_start", 0, 0, ("pc",), P.MARKER, doc="a guest instruction at pc starts here"),
    OpDef("plugin_cb_start", 0, 0, ("from", "type", "rw"), P.MARKER),
    OpDef("plugin_cb_end", 0, 0, (), P.MARKER),
    # Leaving the block. `goto_tb n` is the patchable jump of exit slot n (0 and 1 for the block's
    # end, more for the side exits of a loop body; jit/exits.py MAX_EXIT_SLOTS): until it is
    # chained it falls through to the code after it, which stores the next pc and does exit_tb.
    OpDef("goto_tb", 0, 0, ("slot",), P.SIDE_EFFECTS),
    OpDef("exit_tb", 0, 0, ("value",), P.BB_END | P.EXIT | P.SIDE_EFFECTS,
          doc="return value to the dispatcher; globals written back"),
    OpDef("goto_ptr", 0, 1, (), P.BB_END | P.EXIT | P.SIDE_EFFECTS,
          doc="continue at guest pc a (already stored in env.pc): block lookup, dispatcher on miss"),
]


# --------------------------------------------------------------------------------------------
# Floating point (RISC-V F and D; the meaning of every op is in jit/softfloat.py)
#
# FP values are u64 temps holding IEEE encodings: a double's 64 bits, a single NaN-boxed (upper
# 32 bits all ones; an operand that is not properly boxed reads as the canonical NaN). The FP
# environment - the accrued exception flags and the dynamic rounding mode - is state of env at
# the offsets an `FpEnv` constant names (fflags bit order NV DZ OF UF NX, frm encoding).
#
# - Pure FP value ops (sign injection, fclass, the exact int32 -> double conversions) are ordinary
#   value ops with fold functions.
# - Every op that rounds or may raise a flag is an FP_ENV op: constants (rm, fpenv) or (fpenv),
#   `fold` None and `fp` its semantics. It is SIDE_EFFECTS, so the optimizer neither folds nor
#   removes it (a dead result still raises its flags) and globals are precise around it.
#   rm is an FpRm; DYN reads the rounding mode from env when the op executes (the frontend has
#   checked it is valid; an invalid one reads as RNE).
# - fp_get_flags / fp_set_flags / fp_set_rm are the only other accesses to the FP environment
#   (the guest's fflags/frm/fcsr CSRs): a backend may keep accrued flags elsewhere (the x86
#   backend lets them accumulate in MXCSR) and must make them visible there.


class FpRm(enum.IntEnum):
    """Rounding mode constant of an FP op (RISC-V encoding; DYN: the dynamic mode in env)."""

    RNE = 0
    RTZ = 1
    RDN = 2
    RUP = 3
    RMM = 4
    DYN = 7


@dataclass(frozen=True)
class FpEnv:
    """Where the FP environment is in env: accrued exception flags (u64, bits 4:0) and the
    dynamic rounding mode (u64, 0..7)."""

    flags_offset: int
    rm_offset: int

    def __str__(self) -> str:
        return "fpenv"


def _fp_value_ops() -> list[OpDef]:
    from jit.softfloat import PURE_SEMANTICS
    return [OpDef(name, 1, 2 if name.startswith("fsgnj") else 1, fold=fold,
                  doc=f"RISC-V {name.replace('_', '.')}")
            for name, fold in sorted(PURE_SEMANTICS.items())]


def _fp_env_ops() -> list[OpDef]:
    from jit.softfloat import FP_SEMANTICS
    ops = []
    for name, (semantics, takes_rm) in sorted(FP_SEMANTICS.items()):
        op = name.split("_")[0]
        inputs = 3 if op in ("fmadd", "fmsub", "fnmadd", "fnmsub") else \
            1 if op in ("fsqrt", "fcvt") else 2
        ops.append(OpDef(name, 1, inputs, ("rm", "fpenv") if takes_rm else ("fpenv",),
                         P.SIDE_EFFECTS | P.FP_ENV, fp=semantics,
                         doc=f"RISC-V {name.replace('_', '.')}, flags accrued"))
    ops += [
        OpDef("fp_get_flags", 1, 0, ("fpenv",), P.SIDE_EFFECTS | P.FP_ENV,
              doc="d = the accrued exception flags"),
        OpDef("fp_set_flags", 0, 1, ("fpenv",), P.SIDE_EFFECTS | P.FP_ENV,
              doc="accrued exception flags = a & 0x1f"),
        OpDef("fp_set_rm", 0, 1, ("fpenv",), P.SIDE_EFFECTS | P.FP_ENV,
              doc="dynamic rounding mode = a & 7"),
    ]
    return ops


_VALUE_OPS += _fp_value_ops()
_FP_ENV_OPS = _fp_env_ops()
FP_ENV_OPS = frozenset(op.name for op in _FP_ENV_OPS)

OPS: dict[str, OpDef] = {op.name: op for op in _VALUE_OPS + _OTHER_OPS + _FP_ENV_OPS}
VALUE_OPS = frozenset(op.name for op in _VALUE_OPS)


# --------------------------------------------------------------------------------------------
# Temps


class TempKind(enum.Enum):
    GLOBAL = "global"  # lives in the CPU state at a fixed offset (guest registers, pc)
    LOCAL = "local"    # block-local value, may live across labels within the block
    CONST = "const"    # an immutable constant


class Temp:
    # is_const / is_global: plain attributes (derived from kind, which never changes), read
    # per operand by the frontends and passes.
    __slots__ = ("index", "kind", "name", "offset", "value", "is_const", "is_global")

    def __init__(self, index: int, kind: TempKind, name: str = "",
                 offset: int = 0, value: int = 0):
        self.index = index
        self.kind = kind
        self.name = name
        self.offset = offset   # GLOBAL: byte offset in the CPU state
        self.value = value     # CONST: u64 value
        self.is_const = kind is TempKind.CONST
        self.is_global = kind is TempKind.GLOBAL

    def __repr__(self) -> str:
        if self.kind is TempKind.CONST:
            return f"${self.value:#x}"
        return self.name


class GlobalSet:
    """The globals of one guest: named 64-bit fields of the CPU state. Created once; shared by
    every block (so that global temps have the same index in every block)."""

    def __init__(self):
        self.temps: list[Temp] = []
        self.by_name: dict[str, Temp] = {}

    def add(self, name: str, offset: int) -> Temp:
        if name in self.by_name:
            raise ValueError(f"global {name} defined twice")
        temp = Temp(len(self.temps), TempKind.GLOBAL, name=name, offset=offset)
        self.temps.append(temp)
        self.by_name[name] = temp
        return temp


class Op:
    """One op instance: its definition and its output temps, input temps and constants."""

    __slots__ = ("opdef", "outs", "ins", "consts")

    def __init__(self, opdef: OpDef, outs: list[Temp], ins: list[Temp], consts: list):
        self.opdef = opdef
        self.outs = outs
        self.ins = ins
        self.consts = consts

    @property
    def name(self) -> str:
        return self.opdef.name

    def const(self, name: str):
        return self.consts[self.opdef.consts.index(name)]

    def copy(self) -> "Op":
        return Op(self.opdef, list(self.outs), list(self.ins), list(self.consts))

    def __repr__(self) -> str:
        return format_op(self)


def format_op(op: Op) -> str:
    parts = [repr(t) for t in op.outs + op.ins]
    for cname, cval in zip(op.opdef.consts, op.consts):
        if isinstance(cval, Cond):
            parts.append(cval.value)
        elif isinstance(cval, int) and not isinstance(cval, bool) and cname in ("pc", "value"):
            parts.append(f"{cval:#x}")
        elif isinstance(cval, enum.Enum):
            parts.append(cval.name.lower())
        else:
            parts.append(str(cval))
    return f"{op.name} {','.join(parts)}" if parts else op.name


class IRBlock:
    """The ops of one translation block, and the temps they use.

    temps: globals first (same index as in the GlobalSet), then locals and constants.
    """

    def __init__(self, globals_: GlobalSet, guest_pc: int = 0):
        self.globals = globals_
        self.guest_pc = guest_pc
        self.ops: list[Op] = []
        self.temps: list[Temp] = list(globals_.temps)
        self.labels: list[Label] = []
        self._consts: dict[int, Temp] = {}
        self.guest_size = 0       # bytes of guest code covered
        self.n_insns = 0          # guest instructions
        self.loops_inside = False  # a branch back to a loop head label (jit/translator.py)

    def new_temp(self, name: str = "") -> Temp:
        index = len(self.temps)
        temp = Temp(index, TempKind.LOCAL, name=name or f"tmp{index}")
        self.temps.append(temp)
        return temp

    def const(self, value: int) -> Temp:
        value &= MASK64
        temp = self._consts.get(value)
        if temp is None:
            temp = Temp(len(self.temps), TempKind.CONST, value=value)
            self.temps.append(temp)
            self._consts[value] = temp
        return temp

    def new_label(self) -> Label:
        label = Label(len(self.labels))
        self.labels.append(label)
        return label

    def dump(self) -> str:
        lines = []
        for op in self.ops:
            indent = "" if op.name == "insn_start" else " "
            lines.append(f"{indent}{format_op(op)}")
        return "\n".join(lines)
