"""x86-64 instruction selection: the target description the register allocator works with.

For each IR op, a selector (one table entry per op name) looks at which inputs are known
constants and which die, picks a form (operand constraints + code emitter) and the allocator does
the rest. Simple ALU ops share one table-driven selector. Every form implements the op's `fold`
function exactly (RISC-V division semantics included; no host trap is possible).

Conventions of the emitted code: rbp = env, r14 = guest base, rsp = the shared frame
(host_x86/assembler.py). Exits jump to the runtime's epilogue with the exit value in rax.
Out-of-line code (fault exits of guest accesses, the exit_request exits) is collected as "stubs"
and placed after the block's main code, so the common paths fall through.
"""
from __future__ import annotations

from typing import Callable, Optional

from host_x86 import regs as R
from host_x86.assembler import (MAX_HELPER_ARGS, SPILL_SLOTS, Assembler, AsmLabel, Runtime,
                                outgoing_arg_offset, spill_slot_offset)
from host_x86.encoder import Encoder, fits_s32
from host_x86.guest_access import accesses_without_check
from jit.env import ENV_EXIT_REQUEST, ENV_FAULT_ADDR, ENV_FAULT_REGS
from jit.exits import ExitKind, encode_exit
from jit.ir import MASK64, CallFlag, Cond, IRBlock, Label, MemOp, Op, sign_extend, to_signed
from jit.regalloc import Constraint, Imm, InSpec, Location, OpForm, Operands, OutSpec

ANY = R.ALLOCATABLE_MASK


class JumpCache:
    """Guest pc -> host entry of its block, probed inline by goto_ptr (indirect jumps, returns).

    A direct-mapped table of ENTRIES pairs (guest pc, host address) indexed by pc bits 1..;
    an empty entry holds an odd pc, which no RISC-V instruction has, and the address of the
    runtime's lookup exit, so that even a pc equal to the marker safely takes the miss path.
    """

    ENTRIES = 4096
    EMPTY_PC = (1 << 64) - 1

    def __init__(self, ffi, miss_address: int):
        self._table = ffi.new("uint64_t[]", 2 * self.ENTRIES)
        self.address = int(ffi.cast("uintptr_t", self._table))
        self.miss_address = miss_address
        self.clear()

    def _slot(self, guest_pc: int) -> int:
        return 2 * ((guest_pc >> 1) & (self.ENTRIES - 1))

    def set(self, guest_pc: int, host_addr: int) -> None:
        slot = self._slot(guest_pc)
        # Host address first: generated code compares the pc, then jumps through the address.
        self._table[slot + 1] = host_addr
        self._table[slot] = guest_pc

    def remove(self, guest_pc: int) -> None:
        slot = self._slot(guest_pc)
        if self._table[slot] == guest_pc:
            self._table[slot] = self.EMPTY_PC
            self._table[slot + 1] = self.miss_address

    def clear(self) -> None:
        for slot in range(0, 2 * self.ENTRIES, 2):
            self._table[slot] = self.EMPTY_PC
            self._table[slot + 1] = self.miss_address
NOT_RCX = ANY & ~R.mask_of(R.RCX)
NOT_RAX_RDX = ANY & ~R.mask_of(R.RAX, R.RDX)
ONLY_RAX = R.mask_of(R.RAX)
ONLY_RDX = R.mask_of(R.RDX)
ONLY_RCX = R.mask_of(R.RCX)
RAX_RDX = R.mask_of(R.RAX, R.RDX)

CONDITION_SUFFIX = {
    Cond.EQ: "e", Cond.NE: "ne", Cond.LT: "l", Cond.GE: "ge", Cond.LE: "le", Cond.GT: "g",
    Cond.LTU: "b", Cond.GEU: "ae", Cond.LEU: "be", Cond.GTU: "a",
}



def _always(value: int) -> bool:
    return True


def _fits_s8_as_16(value: int) -> bool:
    return -0x80 <= to_signed(sign_extend(value, 16)) <= 0x7F


# Immediate operand of a store of each size, and the number written into the instruction.
_STORE_IMM_OK = {1: _always, 2: _fits_s8_as_16, 4: _always, 8: fits_s32}


def _store_imm_value(value: int, size: int) -> int:
    return to_signed(sign_extend(value, 8 * size))


# Loads of each MemOp: (template with {dst} / {addr}, width of the register name used for dst).
_LOAD_TEMPLATES = {
    (0, False): ("movzx {dst}, byte ptr [{addr}]", 32),
    (0, True): ("movsx {dst}, byte ptr [{addr}]", 64),
    (1, False): ("movzx {dst}, word ptr [{addr}]", 32),
    (1, True): ("movsx {dst}, word ptr [{addr}]", 64),
    (2, False): ("mov {dst}, dword ptr [{addr}]", 32),
    (2, True): ("movsxd {dst}, dword ptr [{addr}]", 64),
    (3, False): ("mov {dst}, qword ptr [{addr}]", 64),
    (3, True): ("mov {dst}, qword ptr [{addr}]", 64),
}


class _Texts(dict):
    """Instruction texts built once per key and handed out again as the same string object:
    the encoder's caches are keyed by text, and a string built anew for every instruction
    would be formatted and hashed every time (a kept string caches its hash)."""

    __slots__ = ("build",)

    def __init__(self, build: Callable[[object], str]):
        super().__init__()
        self.build = build

    def __missing__(self, key) -> str:
        text = self[key] = self.build(key)
        return text


def _load_text(key: tuple) -> str:
    size_shift, signed, dst, addr = key
    template, bits = _LOAD_TEMPLATES[(size_shift, signed)]
    return template.format(dst=R.reg_name(dst, bits), addr=addr)


# (size shift, signed, register, address text) -> text; (bits, address, register or None) ->
# text. Address texts are the few fixed patterns of the callers (`rbp + %`, `r14 + rbx + %`).
_LOAD_TEXTS = _Texts(_load_text)
_STORE_TEXTS = _Texts(lambda key: f"mov {R.PTR_SIZE_BY_BITS[key[0]]} ptr [{key[1]}], "
                                  + ("%" if key[2] is None else R.reg_name(key[2], key[0])))


def load_text(memop: MemOp, dst: int, addr: str) -> str:
    return _LOAD_TEXTS[(memop.size_shift, memop.signed, dst, addr)]


def store_text(memop: MemOp, value, addr: str) -> tuple[str, tuple[int, ...]]:
    """Text and numbers of `mov size ptr [addr], value` (value: register or Imm)."""
    bits = memop.bits
    if isinstance(value, Imm):
        return _STORE_TEXTS[(bits, addr, None)], (_store_imm_value(value.value, memop.size),)
    return _STORE_TEXTS[(bits, addr, value)], ()


# --------------------------------------------------------------------------------------------
# Forms shared by many ops

IGNORED = InSpec(0, ignore=True)
REG = InSpec(ANY)
REG_OR_S32 = InSpec(ANY, fits_s32)
OUT_ANY = OutSpec(ANY)
OUT_FRESH = OutSpec(ANY, fresh=True)


def _alias(index: int) -> OutSpec:
    return OutSpec(ANY, alias=index)


# Instruction texts of constant loads and compares, per register (see _Texts).
_TEST_TEXT = tuple(f"test {R.r64(reg)}, {R.r64(reg)}" for reg in range(16))
_CMP_IMM_TEXT = tuple(f"cmp {R.r64(reg)}, %" for reg in range(16))
_CMP_TEXT = _Texts(lambda regs: f"cmp {R.r64(regs[0])}, {R.r64(regs[1])}")
_ZERO_REG_TEXT = tuple(f"xor {R.r32(reg)}, {R.r32(reg)}" for reg in range(16))
_MOV32_IMM_TEXT = tuple(f"mov {R.r32(reg)}, %" for reg in range(16))
_MOV64_IMM_TEXT = tuple(f"mov {R.r64(reg)}, %" for reg in range(16))
_MOVABS_TEXT = tuple(f"movabs {R.r64(reg)}, %" for reg in range(16))
_SHR_IMM_TEXT = tuple(f"shr {R.r64(reg)}, %" for reg in range(16))
_LEA_IMM_TEXT = _Texts(lambda regs: f"lea {R.r64(regs[0])}, [{R.r64(regs[1])} + %]")


class X86Target:
    """Target description for jit/regalloc.py plus the per-block code generation state."""

    allocation_order = R.ALLOCATION_ORDER
    spill_slots = SPILL_SLOTS

    def __init__(self, encoder: Encoder, runtime: Runtime, guest_limit: int,
                 helper_address: Callable[[object], int], jump_cache_address: int,
                 guest_guarded: bool = False):
        if guest_limit & (guest_limit - 1) or not 1 << 12 <= guest_limit < 1 << 63:
            raise ValueError("guest_limit must be a power of two between 2**12 and 2**62")
        self.encoder = encoder
        self.runtime = runtime
        self.epilogue_address = runtime.epilogue_address
        self.guest_limit = guest_limit
        self.guest_limit_shift = guest_limit.bit_length() - 1
        # Guard areas around the guest region let accesses check their base register once
        # (host_x86/guest_access.py) instead of every address.
        self.guest_guarded = guest_guarded
        # The accesses of the block whose base an earlier access checked (see
        # access_needs_no_check): None until a second access asks.
        self._unchecked_accesses: Optional[set[Op]] = None
        self._first_access: Optional[Op] = None
        self.helper_address = helper_address
        self.jump_cache_address = jump_cache_address
        self.asm: Assembler = Assembler(encoder)
        self.block: Optional[IRBlock] = None
        # Bytes of the allocator's moves, loads and stores (see emit_mov).
        self._move_code: dict[tuple, bytes] = {}
        self._load_code: dict[tuple, bytes] = {}
        self._store_code: dict[tuple, bytes] = {}
        # Shapes of the immediates that rarely repeat (see _emit_store_imm_uncached, exit_with).
        self._store_imm_shapes: dict[tuple, object] = {}
        self._exit_value_shape = None

    # ----------------------------------------------------------------------------------------
    # Block framing

    def begin_block(self, block: IRBlock, block_id: int) -> None:
        self.asm = Assembler(self.encoder)
        self.block = block
        self.block_id = block_id
        # Where the dirty globals are at each guest access that may fault: code offset of the
        # access -> the allocator's entries (see set_fault_state).
        self.fault_states: dict[int, tuple] = {}
        self.fault_state: tuple = ()
        self._unchecked_accesses = None
        self._first_access = None
        self.labels: dict[int, AsmLabel] = {}
        self.stubs: list[Callable[[], None]] = []
        self.insn_map: list[tuple[int, int]] = []
        self.slot_jumps: dict[int, int] = {}
        self.current_insn_pc: Optional[int] = None
        pc_global = block.globals.by_name.get("pc")
        self.pc_offset: Optional[int] = pc_global.offset if pc_global is not None else None
        # Block entry: leave at once when the dispatcher (or a signal, another thread) asked.
        stop = self.asm.new_label()
        self.asm.emit("cmp dword ptr [rbp + %], 0", ENV_EXIT_REQUEST)
        self.asm.jcc("ne", stop)
        self.stubs.append(lambda: self.stop_exit(stop, block.guest_pc))

    def finish_block(self) -> Assembler:
        for stub in self.stubs:
            stub()
        self.stubs = []
        return self.asm

    def label_for(self, label: Label) -> AsmLabel:
        asm_label = self.labels.get(label.id)
        if asm_label is None:
            asm_label = self.asm.new_label()
            self.labels[label.id] = asm_label
        return asm_label

    def exit_with(self, value: int) -> None:
        if value <= 0xFF:
            self.asm.emit("mov eax, %", value)
        elif value <= 0x7FFF_FFFF:    # names a block: (almost) unique, one width class
            shape = self._exit_value_shape
            if shape is None:
                shape = self._exit_value_shape = self.encoder.shape("mov eax, %", (0x8000,))
            self.asm.code += shape.patch((value,))
        elif value <= 0xFFFF_FFFF:
            self.asm.code += self.encoder.encode_uncached("mov eax, %", (value,))
        else:
            self.asm.emit("movabs rax, %", value)
        self.asm.jmp_absolute(self.epilogue_address)

    def _emit_store_imm_uncached(self, template: str, offset: int, value: int) -> None:
        """`template` (a store of an immediate at offset) for a u64 value that fits s32 and
        rarely repeats (a guest pc): values of the s32 width class patch the shape kept per
        (template, offset), other ones go through the encoder."""
        signed = value if value <= 0x7FFF_FFFF else value - (1 << 64)
        if signed >= 0x80 or signed < -0x80:
            shape = self._store_imm_shapes.get((template, offset))
            if shape is None:
                shape = self._store_imm_shapes[(template, offset)] = self.encoder.shape(
                    template, (offset, 0x8000))
            self.asm.code += shape.patch((offset, signed))
        else:
            self.asm.code += self.encoder.encode_uncached(template, (offset, signed))

    def stop_exit(self, label: AsmLabel, pc: Optional[int]) -> None:
        """Out-of-line ExitKind.STOP with env.pc = pc (the other globals are in env already:
        at block entry, and before MAY_STOP calls, which are sync points)."""
        asm = self.asm
        asm.bind(label)
        if pc is not None and self.pc_offset is not None:
            if fits_s32(pc):
                self._emit_store_imm_uncached("mov qword ptr [rbp + %], %", self.pc_offset, pc)
            else:
                asm.emit("movabs rax, %", pc)
                asm.emit("mov qword ptr [rbp + %], rax", self.pc_offset)
        self.exit_with(_STOP_EXIT_VALUE)

    # ----------------------------------------------------------------------------------------
    # Moves the allocator asks for

    # The allocator's moves repeat the same few register/home combinations over and over:
    # their bytes are kept per (registers, home) key, so that most moves cost one dict probe
    # instead of building instruction text and probing the encoder's caches with it.

    def emit_mov(self, dst: int, src: int) -> None:
        code = self._move_code.get((dst, src))
        if code is None:
            code = self._move_code[(dst, src)] = self.encoder.encode(
                f"mov {R.r64(dst)}, {R.r64(src)}")
        self.asm.code += code

    def emit_movi(self, dst: int, value: int) -> None:
        if value == 0:
            self.asm.emit(_ZERO_REG_TEXT[dst])
        elif value <= 0xFFFF_FFFF:
            self.asm.emit(_MOV32_IMM_TEXT[dst], value)
        elif fits_s32(value):
            self.asm.emit(_MOV64_IMM_TEXT[dst], to_signed(value))
        else:
            self.asm.emit(_MOVABS_TEXT[dst], value)

    @staticmethod
    def _memory(location: Location) -> tuple[str, int]:
        if location.in_env:
            return "rbp + %", location.offset
        return "rsp + %", spill_slot_offset(location.offset)

    def emit_load(self, dst: int, location: Location) -> None:
        key = (dst, location.in_env, location.offset)
        code = self._load_code.get(key)
        if code is None:
            base, offset = self._memory(location)
            code = self._load_code[key] = self.encoder.encode(
                f"mov {R.r64(dst)}, qword ptr [{base}]", (offset,))
        self.asm.code += code

    def emit_store(self, src: int, location: Location) -> None:
        key = (src, location.in_env, location.offset)
        code = self._store_code.get(key)
        if code is None:
            base, offset = self._memory(location)
            code = self._store_code[key] = self.encoder.encode(
                f"mov qword ptr [{base}], {R.r64(src)}", (offset,))
        self.asm.code += code

    def emit_store_imm(self, value: int, location: Location) -> bool:
        if not fits_s32(value):
            return False
        if location.in_env:
            template, offset = "mov qword ptr [rbp + %], %", location.offset
        else:
            template, offset = "mov qword ptr [rsp + %], %", spill_slot_offset(location.offset)
        if value > 0xFFFF:   # addresses (guest pcs) rarely repeat: not worth the exact cache
            self._emit_store_imm_uncached(template, offset, value)
        else:
            self.asm.emit(template, offset, to_signed(value))
        return True

    # ----------------------------------------------------------------------------------------
    # Markers

    def insn_start(self, pc: int) -> None:
        self.current_insn_pc = pc
        self.insn_map.append((len(self.asm.code), pc))

    def bind_label(self, label: Label) -> None:
        self.asm.bind(self.label_for(label))

    # ----------------------------------------------------------------------------------------
    # Instruction selection

    # Op definition -> selector, filled by selector_for (the allocator probes it first). Shared
    # by every target: a selector is a plain function of (target, op, known, dead inputs).
    selectors: dict = {}

    def selector_for(self, opdef) -> Callable[["X86Target", Op, list, int], OpForm]:
        """The selector of an op definition: selector(target, op, known, dead_inputs)."""
        selector = _SELECTORS.get(opdef.name)
        if selector is None:
            raise NotImplementedError(f"x86 backend: no instruction selection for {opdef.name}")
        self.selectors[opdef] = selector
        return selector

    # Compare helper shared by setcond/movcond/brcond: `cmp a, b` (or `test a, a`).
    def compare(self, a: int, b) -> None:
        if b.__class__ is Imm:
            if b.value == 0:
                self.asm.emit(_TEST_TEXT[a])
            else:
                self.asm.emit(_CMP_IMM_TEXT[a], to_signed(b.value))
        else:
            self.asm.emit(_CMP_TEXT[(a, b)])

    # Guest memory -------------------------------------------------------------------------

    def exit_check_stub(self, label: AsmLabel, entries: tuple, pc: int) -> None:
        """Out-of-line stop of an exit check: the dirty globals into env (registers first:
        a wide constant goes through rax), then the stop exit with env.pc = pc."""
        asm = self.asm
        asm.bind(label)
        for offset, reg, _ in entries:
            if reg is not None:
                asm.emit(f"mov qword ptr [rbp + %], {R.r64(reg)}", offset)
        for offset, reg, value in entries:
            if reg is None:
                if fits_s32(value):
                    asm.emit("mov qword ptr [rbp + %], %", offset, to_signed(value))
                else:
                    asm.emit("movabs rax, %", value)
                    asm.emit("mov qword ptr [rbp + %], rax", offset)
        self.stop_exit(asm.new_label(), pc)

    def access_needs_no_check(self, op: Op) -> bool:
        """Whether an earlier access of the block checked the base of guest access `op`
        (guarded region only; see host_x86/guest_access.py).

        The block is scanned only when a second access asks: the first access the walk
        reaches (the selectors ask for every access, absolute ones included) is never one
        of them (its base can only have been checked by an access before it, in the same
        stretch between labels, which the walk would have reached first), so blocks with
        at most one access skip the scan."""
        unchecked = self._unchecked_accesses
        if unchecked is None:
            if not self.guest_guarded:
                return False
            first = self._first_access
            if first is None or first is op:
                self._first_access = op
                return False
            unchecked = self._unchecked_accesses = accesses_without_check(self.block)
        return op in unchecked

    def set_fault_state(self, entries: tuple) -> None:
        """The register allocator's word, before a guest access, on where the dirty globals
        are: ((env offset, register or None, constant or None), ...)."""
        self.fault_state = entries

    def bind_access(self, access: AsmLabel) -> None:
        """Bind the label of the access instruction, and note the fault state for it: a fault
        there (a host fault, or the explicit check's exit, which reports the same host pc)
        finds the registers saved in env (ENV_FAULT_REGS) and `restore_fault_state` in the
        backend writes these globals back from them."""
        self.asm.bind(access)
        if self.fault_state:
            self.fault_states[len(self.asm.code)] = self.fault_state

    def guest_check(self, op: Op, check_reg: Optional[int], address_reg: int,
                    displacement: int, is_write: bool) -> AsmLabel:
        """Make sure the access of `op` at address_reg + displacement cannot reach host memory
        outside the guest reservation. Returns the label to bind at the access instruction
        (the host pc reported for a fault).

        Guarded region (see host_x86/guest_access.py): the base register is checked against
        guest_limit, once per base value (no code at all when an earlier access checked it),
        and displacement is always s32 here (wide offsets were added into address_reg).
        Unguarded region: the whole address is checked. check_reg is clobbered; it is None
        only for accesses that `unchecked_accesses` lists."""
        asm = self.asm
        access = AsmLabel()
        if self.access_needs_no_check(op):
            return access
        if self.guest_guarded:
            self.emit_mov(check_reg, address_reg)
        elif displacement:
            asm.emit(_LEA_IMM_TEXT[(check_reg, address_reg)], displacement)
        elif check_reg != address_reg:
            self.emit_mov(check_reg, address_reg)
        asm.emit(_SHR_IMM_TEXT[check_reg], self.guest_limit_shift)
        fault = AsmLabel()
        asm.jcc("ne", fault)
        self.stubs.append(lambda: self.fault_stub(fault, access, check_reg, address_reg,
                                                  displacement, is_write))
        return access

    def fault_stub(self, fault: AsmLabel, access: AsmLabel, check_reg: int, address_reg: int,
                   displacement: int, is_write: bool) -> None:
        """Out-of-line path of an access whose check failed. With guards only the base was
        checked: the address itself, base + displacement mod 2**64, may still be a guest
        address (a base above the limit wrapping around), and then the access goes ahead (the
        host address wraps the same way). Otherwise it is a guest fault."""
        asm = self.asm
        asm.bind(fault)
        if self.guest_guarded:
            asm.emit(_LEA_IMM_TEXT[(check_reg, address_reg)], displacement)
            asm.emit(_SHR_IMM_TEXT[check_reg], self.guest_limit_shift)
            asm.jcc("e", access)
        # rax may hold a dirty global: the tail saves the other registers.
        asm.emit("mov qword ptr [rbp + %], rax", ENV_FAULT_REGS + 8 * R.RAX)
        if displacement:
            asm.emit(_LEA_IMM_TEXT[(R.RAX, address_reg)], displacement)
        elif address_reg != R.RAX:
            self.emit_mov(R.RAX, address_reg)
        asm.emit("mov qword ptr [rbp + %], rax", ENV_FAULT_ADDR)
        asm.lea_rip(R.RAX, access)
        asm.jmp_absolute(self.runtime.write_fault_tail_address if is_write
                         else self.runtime.read_fault_tail_address)


def _guest_address(target: X86Target, address_reg: int, offset: int,
                   scratch: list[int]) -> tuple[int, int]:
    """(register, displacement) of guest address a + offset; a wide offset is added into the
    last scratch register."""
    if fits_s32(offset):
        return address_reg, to_signed(offset)
    wide = scratch[-1]
    target.asm.emit(f"movabs {R.r64(wide)}, %", offset)
    target.asm.emit(f"add {R.r64(wide)}, {R.r64(address_reg)}")
    return wide, 0


_STOP_EXIT_VALUE = encode_exit(ExitKind.STOP)
_LOOKUP_EXIT_VALUE = encode_exit(ExitKind.LOOKUP)
# The address operand of a guest access through each base register.
_HOST_OPERAND_TEXT = tuple(f"r14 + {R.r64(reg)} + %" for reg in range(16))


# --------------------------------------------------------------------------------------------
# Selectors and emitters, one per op (or family), registered in _SELECTORS below.

# Two-address ALU ops: (mnemonic, commutative).
_ALU_OPS = {
    "add": ("add", True),
    "sub": ("sub", False),
    "and": ("and", True),
    "or": ("or", True),
    "xor": ("xor", True),
    "mul": ("imul", True),
}


def _emit_alu(mnemonic: str, second: int):
    """`mnemonic dst, source`: dst is the register of the other input (the output's alias)."""
    with_imm = tuple(f"{mnemonic} {R.r64(dst)}, %" for dst in range(16))
    with_reg = _Texts(lambda regs: f"{mnemonic} {R.r64(regs[0])}, {R.r64(regs[1])}")

    def emit(target: X86Target, op: Op, operands: Operands) -> None:
        dst = operands.outs[0]
        source = operands.ins[second]
        if source.__class__ is Imm:
            target.asm.emit(with_imm[dst], to_signed(source.value))
        else:
            target.asm.emit(with_reg[(dst, source)])
    return emit


_LEA_REG_TEXT = _Texts(lambda regs: f"lea {R.r64(regs[0])}, [{R.r64(regs[1])} + "
                                    f"{R.r64(regs[2])}]")


def _emit_lea_add(first: int, second: int, negate: bool):
    def emit(target: X86Target, op: Op, operands: Operands) -> None:
        dst = operands.outs[0]
        base = operands.ins[first]
        source = operands.ins[second]
        if source.__class__ is Imm:
            value = -to_signed(source.value) if negate else to_signed(source.value)
            target.asm.emit(_LEA_IMM_TEXT[(dst, base)], value)
        else:
            target.asm.emit(_LEA_REG_TEXT[(dst, base, source)])
    return emit


_IMUL_IMM_TEXT = _Texts(lambda regs: f"imul {R.r64(regs[0])}, {R.r64(regs[1])}, %")


def _emit_imul_imm(first: int, second: int):
    def emit(target: X86Target, op: Op, operands: Operands) -> None:
        target.asm.emit(_IMUL_IMM_TEXT[(operands.outs[0], operands.ins[first])],
                        to_signed(operands.ins[second].value))
    return emit


def _fits_negated_s32(value: int) -> bool:
    return -0x8000_0000 <= -to_signed(value) <= 0x7FFF_FFFF


def _build_alu_forms():
    forms = {}
    for name, (mnemonic, commutative) in _ALU_OPS.items():
        for first in (0, 1):
            second = 1 - first
            ins = [None, None]
            ins[first] = REG
            ins[second] = REG_OR_S32
            forms[(name, "2addr", first)] = OpForm(
                Constraint(tuple(ins), (_alias(first),)),
                _emit_alu(mnemonic, second))
    for first in (0, 1):
        second = 1 - first
        ins = [REG, REG]
        ins[second] = REG_OR_S32
        forms[("add", "lea", first)] = OpForm(Constraint(tuple(ins), (OUT_ANY,)),
                                              _emit_lea_add(first, second, False))
        forms[("mul", "imm", first)] = OpForm(Constraint(tuple(ins), (OUT_ANY,)),
                                              _emit_imul_imm(first, second))
    forms[("sub", "lea", 0)] = OpForm(Constraint((REG, InSpec(ANY, _fits_negated_s32)),
                                                 (OUT_ANY,)),
                                      _emit_lea_add(0, 1, True))
    return forms


def _select_alu(target: X86Target, op: Op, known: list, dead: int) -> OpForm:
    name = op.opdef.name
    commutative = _ALU_OPS[name][1]
    first = 0
    if commutative:
        if known[0] is not None and known[1] is None:
            first = 1      # the constant goes second, where an immediate fits
        elif not dead & 1 and dead & 2 and known[0] is None and known[1] is None:
            first = 1      # reuse the register of the input that dies
    second = 1 - first
    first_dies = dead >> first & 1 and known[first] is None
    if name == "mul" and known[second] is not None and fits_s32(known[second]):
        return _ALU_FORMS[("mul", "imm", first)]
    if not first_dies and known[first] is None:
        # Three-address forms avoid copying an input that stays live.
        if name == "add":
            return _ALU_FORMS[("add", "lea", first)]
        if name == "sub" and known[1] is not None and _fits_negated_s32(known[1]):
            return _ALU_FORMS[("sub", "lea", 0)]
    return _ALU_FORMS[(name, "2addr", first)]


_ALU_FORMS = _build_alu_forms()


# andc: d = a & ~b
def _emit_andc_imm(target: X86Target, op: Op, operands: Operands) -> None:
    inverted = (~operands.ins[1].value) & ((1 << 64) - 1)
    target.asm.emit(f"and {R.r64(operands.outs[0])}, %", to_signed(inverted))


def _emit_andc_reg(target: X86Target, op: Op, operands: Operands) -> None:
    dst = R.r64(operands.outs[0])   # holds b
    target.asm.emit(f"not {dst}")
    source = operands.ins[0]
    if isinstance(source, Imm):
        target.asm.emit(f"and {dst}, %", to_signed(source.value))
    else:
        target.asm.emit(f"and {dst}, {R.r64(source)}")


def _emit_zero(target: X86Target, op: Op, operands: Operands) -> None:
    target.asm.emit(_ZERO_REG_TEXT[operands.outs[0]])


def _inverted_fits_s32(value: int) -> bool:
    return fits_s32(~value & ((1 << 64) - 1))


_ANDC_IMM = OpForm(Constraint((REG, InSpec(ANY, _inverted_fits_s32)), (_alias(0),)),
                   _emit_andc_imm)
_ANDC_REG = OpForm(Constraint((REG_OR_S32, REG), (_alias(1),)), _emit_andc_reg)
_ZERO_RESULT = OpForm(Constraint((IGNORED, IGNORED), (OUT_ANY,)), _emit_zero)


def _select_andc(target: X86Target, op: Op, known: list, dead: int) -> OpForm:
    if op.ins[0] is op.ins[1]:
        return _ZERO_RESULT
    if known[1] is not None and _inverted_fits_s32(known[1]):
        return _ANDC_IMM
    return _ANDC_REG


# neg / not
def _emit_unary(mnemonic: str):
    texts = tuple(f"{mnemonic} {R.r64(reg)}" for reg in range(16))

    def emit(target: X86Target, op: Op, operands: Operands) -> None:
        target.asm.emit(texts[operands.outs[0]])
    return emit


_UNARY_FORMS = {name: OpForm(Constraint((REG,), (_alias(0),)), _emit_unary(name))
                for name in ("neg", "not")}


def _select_unary(target: X86Target, op: Op, known: list, dead: int) -> OpForm:
    return _UNARY_FORMS[op.opdef.name]


# Shifts: count modulo 64, by immediate or by cl.
_SHIFT_MNEMONICS = {"shl": "shl", "shr": "shr", "sar": "sar"}


def _emit_shift(mnemonic: str):
    by_imm = tuple(f"{mnemonic} {R.r64(reg)}, %" for reg in range(16))
    by_cl = tuple(f"{mnemonic} {R.r64(reg)}, cl" for reg in range(16))

    def emit(target: X86Target, op: Op, operands: Operands) -> None:
        dst = operands.outs[0]
        count = operands.ins[1]
        if count.__class__ is Imm:
            if count.value & 63:
                target.asm.emit(by_imm[dst], count.value & 63)
        else:
            target.asm.emit(by_cl[dst])
    return emit


_SHIFT_FORMS = {
    name: (OpForm(Constraint((REG, InSpec(ANY, _always)), (_alias(0),)), _emit_shift(mnemonic)),
           OpForm(Constraint((InSpec(NOT_RCX), InSpec(ONLY_RCX)), (_alias(0),)),
                  _emit_shift(mnemonic)))
    for name, mnemonic in _SHIFT_MNEMONICS.items()
}


def _select_shift(target: X86Target, op: Op, known: list, dead: int) -> OpForm:
    by_immediate, by_cl = _SHIFT_FORMS[op.opdef.name]
    return by_immediate if known[1] is not None else by_cl


# Sign/zero extensions: (template, source width, destination width).
_EXTENSIONS = {
    "ext8s": ("movsx", 8, 64), "ext8u": ("movzx", 8, 32),
    "ext16s": ("movsx", 16, 64), "ext16u": ("movzx", 16, 32),
    "ext32s": ("movsxd", 32, 64), "ext32u": ("mov", 32, 32),
}


def _emit_extension(mnemonic: str, source_bits: int, dest_bits: int):
    texts = _Texts(lambda regs: f"{mnemonic} {R.reg_name(regs[0], dest_bits)}, "
                                f"{R.reg_name(regs[1], source_bits)}")

    def emit(target: X86Target, op: Op, operands: Operands) -> None:
        target.asm.emit(texts[(operands.outs[0], operands.ins[0])])
    return emit


_EXTENSION_FORMS = {name: OpForm(Constraint((REG,), (OUT_ANY,)), _emit_extension(*spec))
                    for name, spec in _EXTENSIONS.items()}


def _select_extension(target: X86Target, op: Op, known: list, dead: int) -> OpForm:
    return _EXTENSION_FORMS[op.opdef.name]


# High multiplications: rdx:rax = rax * b.
def _emit_mul_high(mnemonic: str):
    def emit(target: X86Target, op: Op, operands: Operands) -> None:
        target.asm.emit(f"{mnemonic} {R.r64(operands.ins[1])}")
    return emit


def _emit_mulsuh(target: X86Target, op: Op, operands: Operands) -> None:
    # mulhsu(a, b) = mulhu(a, b) - (a < 0 ? b : 0)
    asm = target.asm
    correction = R.r64(operands.scratch[0])
    b = R.r64(operands.ins[1])
    asm.emit(f"mov {correction}, rax")
    asm.emit(f"sar {correction}, %", 63)
    asm.emit(f"and {correction}, {b}")
    asm.emit(f"mul {b}")
    asm.emit(f"sub rdx, {correction}")


_MUL_HIGH_FORMS = {
    "mulsh": OpForm(Constraint((InSpec(ONLY_RAX), REG), (OutSpec(ONLY_RDX),), RAX_RDX),
                    _emit_mul_high("imul")),
    "muluh": OpForm(Constraint((InSpec(ONLY_RAX), REG), (OutSpec(ONLY_RDX),), RAX_RDX),
                    _emit_mul_high("mul")),
    "mulsuh": OpForm(Constraint((InSpec(ONLY_RAX), InSpec(NOT_RAX_RDX)), (OutSpec(ONLY_RDX),),
                                RAX_RDX, (NOT_RAX_RDX,)),
                     _emit_mulsuh),
}


def _select_mul_high(target: X86Target, op: Op, known: list, dead: int) -> OpForm:
    return _MUL_HIGH_FORMS[op.opdef.name]


# Division with RISC-V results for x/0 and INT64_MIN/-1: (signed, result register).
_DIVISIONS = {"div": (True, R.RAX), "rem": (True, R.RDX),
              "divu": (False, R.RAX), "remu": (False, R.RDX)}


def _emit_division(signed: bool, result: int, check_zero: bool, check_minus_one: bool):
    def emit(target: X86Target, op: Op, operands: Operands) -> None:
        asm = target.asm
        divisor = R.r64(operands.ins[1])
        done = asm.new_label()
        by_zero = asm.new_label()
        by_minus_one = asm.new_label()
        if check_zero:
            asm.emit(f"test {divisor}, {divisor}")
            asm.jcc("e", by_zero, short=True)
        if check_minus_one:
            asm.emit(f"cmp {divisor}, %", -1)
            asm.jcc("e", by_minus_one, short=True)
        if signed:
            asm.emit("cqo")
            asm.emit(f"idiv {divisor}")
        else:
            asm.emit("xor edx, edx")
            asm.emit(f"div {divisor}")
        if check_zero or check_minus_one:
            asm.jmp(done, short=True)
        if check_minus_one:
            # INT64_MIN / -1 would trap: the quotient is -a (wrapping), the remainder 0.
            asm.bind(by_minus_one)
            if result == R.RAX:
                asm.emit("neg rax")
            else:
                asm.emit("xor edx, edx")
            if check_zero:
                asm.jmp(done, short=True)
        if check_zero:
            asm.bind(by_zero)
            if result == R.RAX:
                asm.emit("mov rax, %", -1)        # x / 0 = all ones
            else:
                asm.emit("mov rdx, rax")          # x % 0 = x
        asm.bind(done)
    return emit


def _division_form(name: str, check_zero: bool, check_minus_one: bool) -> OpForm:
    signed, result = _DIVISIONS[name]
    return OpForm(Constraint((InSpec(ONLY_RAX), InSpec(NOT_RAX_RDX)),
                             (OutSpec(R.mask_of(result)),), RAX_RDX),
                  _emit_division(signed, result, check_zero, check_minus_one))


_DIVISION_FORMS = {(name, zero, minus_one): _division_form(name, zero, minus_one)
                   for name in _DIVISIONS for zero in (False, True) for minus_one in (False, True)}


def _emit_all_ones(target: X86Target, op: Op, operands: Operands) -> None:
    target.asm.emit(f"mov {R.r64(operands.outs[0])}, %", -1)


def _emit_nothing(target: X86Target, op: Op, operands: Operands) -> None:
    return None


_ALL_ONES_RESULT = OpForm(Constraint((IGNORED, IGNORED), (OUT_ANY,)), _emit_all_ones)
_DIVIDEND_RESULT = OpForm(Constraint((REG, IGNORED), (_alias(0),)), _emit_nothing)
_NEGATED_DIVIDEND = OpForm(Constraint((REG, IGNORED), (_alias(0),)), _emit_unary("neg"))


def _select_division(target: X86Target, op: Op, known: list, dead: int) -> OpForm:
    name = op.opdef.name
    signed, result = _DIVISIONS[name]
    divisor = known[1]
    if divisor == 0:
        return _ALL_ONES_RESULT if result == R.RAX else _DIVIDEND_RESULT
    if signed and divisor == (1 << 64) - 1:
        return _NEGATED_DIVIDEND if result == R.RAX else _ZERO_RESULT
    known_divisor = divisor is not None
    return _DIVISION_FORMS[(name, not known_divisor,
                                          signed and not known_divisor)]


# Comparisons.
def _compare_operands(op: Op, known: list) -> tuple[Cond, bool]:
    """The condition to test and whether the two compared inputs are swapped (constant first
    is swapped so that the constant becomes the immediate)."""
    cond = op.consts[0]
    if known[0] is not None and known[1] is None:
        return cond.swap(), True
    return cond, False


def _compare_specs(swapped: bool) -> tuple[InSpec, InSpec]:
    return (REG_OR_S32, REG) if swapped else (REG, REG_OR_S32)


def _emit_setcond(suffix: str, swapped: bool):
    set_texts = tuple(f"set{suffix} {R.r8(reg)}" for reg in range(16))

    def emit(target: X86Target, op: Op, operands: Operands) -> None:
        a, b = operands.ins[0], operands.ins[1]
        if swapped:
            a, b = b, a
        target.compare(a, b)
        dst = operands.outs[0]
        target.asm.emit(set_texts[dst])
        target.asm.emit(_ZERO_EXTEND_BYTE_TEXT[dst])
    return emit


_ZERO_EXTEND_BYTE_TEXT = tuple(f"movzx {R.r32(reg)}, {R.r8(reg)}" for reg in range(16))


def _select_setcond(target: X86Target, op: Op, known: list, dead: int) -> OpForm:
    cond, swapped = _compare_operands(op, known)
    form = _SETCOND_FORMS[(cond, swapped)]
    return form


_SETCOND_FORMS = {(cond, swapped): OpForm(Constraint(_compare_specs(swapped), (OUT_ANY,)),
                                          _emit_setcond(CONDITION_SUFFIX[cond], swapped))
                  for cond in Cond for swapped in (False, True)}


def _emit_movcond(suffix: str, swapped: bool, moved: int):
    texts = _Texts(lambda regs: f"cmov{suffix} {R.r64(regs[0])}, {R.r64(regs[1])}")

    def emit(target: X86Target, op: Op, operands: Operands) -> None:
        a, b = operands.ins[0], operands.ins[1]
        if swapped:
            a, b = b, a
        target.compare(a, b)
        target.asm.emit(texts[(operands.outs[0], operands.ins[moved])])
    return emit


def _movcond_form(cond: Cond, swapped: bool, into_true: bool) -> OpForm:
    """d = f, then cmov d, t when cond holds; or (into_true) d = t, cmov d, f when it fails."""
    first, second = _compare_specs(swapped)
    if into_true:
        return OpForm(Constraint((first, second, REG, REG), (_alias(2),)),
                      _emit_movcond(CONDITION_SUFFIX[cond.invert()], swapped, 3))
    return OpForm(Constraint((first, second, REG, REG), (_alias(3),)),
                  _emit_movcond(CONDITION_SUFFIX[cond], swapped, 2))


_MOVCOND_FORMS = {(cond, swapped, into_true): _movcond_form(cond, swapped, into_true)
                  for cond in Cond for swapped in (False, True) for into_true in (False, True)}
_MOVCOND_PICK = {index: OpForm(Constraint(tuple(REG if i == index else IGNORED
                                                for i in range(4)), (_alias(index),)),
                               _emit_nothing)
                 for index in (2, 3)}


def _select_movcond(target: X86Target, op: Op, known: list, dead: int) -> OpForm:
    if known[0] is not None and known[1] is not None:
        chosen = 2 if op.consts[0].evaluate(known[0], known[1]) else 3
        return _MOVCOND_PICK[chosen]
    cond, swapped = _compare_operands(op, known)
    into_true = bool(dead & 4) and not dead & 8
    return _MOVCOND_FORMS[(cond, swapped, into_true)]


def _emit_brcond(suffix: str, swapped: bool):
    def emit(target: X86Target, op: Op, operands: Operands) -> None:
        a, b = operands.ins[0], operands.ins[1]
        if swapped:
            a, b = b, a
        target.compare(a, b)
        target.asm.jcc(suffix, target.label_for(op.consts[1]))
    return emit


def _emit_jump(target: X86Target, op: Op, operands: Operands) -> None:
    target.asm.jmp(target.label_for(op.consts[-1]))


_BRCOND_FORMS = {(cond, swapped): OpForm(Constraint(_compare_specs(swapped)),
                                         _emit_brcond(CONDITION_SUFFIX[cond], swapped))
                 for cond in Cond for swapped in (False, True)}
_JUMP_ALWAYS = OpForm(Constraint((IGNORED, IGNORED)), _emit_jump)
_JUMP_NEVER = OpForm(Constraint((IGNORED, IGNORED)), _emit_nothing)
_BR = OpForm(Constraint(()), _emit_jump)


def _select_brcond(target: X86Target, op: Op, known: list, dead: int) -> OpForm:
    if known[0] is not None and known[1] is not None:
        taken = op.consts[0].evaluate(known[0], known[1])
        return _JUMP_ALWAYS if taken else _JUMP_NEVER
    cond, swapped = _compare_operands(op, known)
    return _BRCOND_FORMS[(cond, swapped)]


def _select_br(target: X86Target, op: Op, known: list, dead: int) -> OpForm:
    return _BR


# Guest memory.
def _emit_guest_ld(target: X86Target, op: Op, operands: Operands) -> None:
    offset, memop = op.consts
    dst = operands.outs[0]
    address_reg, displacement = _guest_address(target, operands.ins[0], offset,
                                               operands.scratch)
    access = target.guest_check(op, dst, address_reg, displacement, is_write=False)
    target.bind_access(access)
    target.asm.emit(_LOAD_TEXTS[(memop.size_shift, memop.signed, dst,
                                 _HOST_OPERAND_TEXT[address_reg])], displacement)


def _emit_guest_st(target: X86Target, op: Op, operands: Operands) -> None:
    offset, memop = op.consts
    value = operands.ins[0]
    address_reg, displacement = _guest_address(target, operands.ins[1], offset,
                                               operands.scratch)
    check_reg = operands.scratch[0] if operands.scratch else None
    access = target.guest_check(op, check_reg, address_reg, displacement, is_write=True)
    target.bind_access(access)
    operand = _HOST_OPERAND_TEXT[address_reg]
    bits = 8 << memop.size_shift
    if value.__class__ is Imm:
        target.asm.emit(_STORE_TEXTS[(bits, operand, None)], displacement,
                        _store_imm_value(value.value, bits >> 3))
    else:
        target.asm.emit(_STORE_TEXTS[(bits, operand, value)], displacement)


def _constant_guest_address(target: X86Target, base, offset: int) -> Optional[int]:
    """The address of an access whose base is a known constant, when it needs no check: below
    the guest limit (a fault can then only be the host's, on an unmapped page) and within a
    32-bit displacement of r14."""
    if base is None:
        return None
    address = (base + offset) & MASK64
    return address if address < min(target.guest_limit, 0x8000_0000) else None


def _emit_guest_ld_absolute(target: X86Target, op: Op, operands: Operands) -> None:
    address = _constant_guest_address(target, operands.ins[0].value, op.consts[0])
    target.bind_access(target.asm.new_label())
    target.asm.emit(load_text(op.consts[1], operands.outs[0], "r14 + %"), address)


def _emit_guest_st_absolute(target: X86Target, op: Op, operands: Operands) -> None:
    address = _constant_guest_address(target, operands.ins[1].value, op.consts[0])
    target.bind_access(target.asm.new_label())
    text, value_numbers = store_text(op.consts[1], operands.ins[0], "r14 + %")
    target.asm.emit(text, address, *value_numbers)


# The loaded register doubles as the check register (so it must not be the base's), unless
# the access needs no check.
_GUEST_LD = OpForm(Constraint((REG,), (OUT_FRESH,)), _emit_guest_ld)
_GUEST_LD_UNCHECKED = OpForm(Constraint((REG,), (OUT_ANY,)), _emit_guest_ld)
_GUEST_LD_WIDE = OpForm(Constraint((REG,), (OUT_FRESH,), 0, (ANY,)), _emit_guest_ld)
# A known base stays an immediate (the predicate holds for every value the selector allows).
_GUEST_LD_ABSOLUTE = OpForm(Constraint((InSpec(ANY, _always),), (OUT_ANY,)),
                            _emit_guest_ld_absolute)


def _select_guest_ld(target: X86Target, op: Op, known: list, dead: int) -> OpForm:
    # Asked first, whatever the form: every access the walk reaches counts for
    # access_needs_no_check's shortcut.
    needs_no_check = target.access_needs_no_check(op)
    if _constant_guest_address(target, known[0], op.consts[0]) is not None:
        return _GUEST_LD_ABSOLUTE
    if not fits_s32(op.consts[0]):
        return _GUEST_LD_WIDE
    return _GUEST_LD_UNCHECKED if needs_no_check else _GUEST_LD


def _select_guest_st(target: X86Target, op: Op, known: list, dead: int) -> OpForm:
    memop = op.consts[1]
    needs_no_check = target.access_needs_no_check(op)     # (see _select_guest_ld)
    if _constant_guest_address(target, known[1], op.consts[0]) is not None:
        return _GUEST_ST_ABSOLUTE_FORMS[memop.size]
    if not fits_s32(op.consts[0]):
        return _GUEST_ST_FORMS[(memop.size, 2)]
    return _GUEST_ST_FORMS[(memop.size, 0 if needs_no_check else 1)]


# By (access size, scratch registers): 0 for an access that needs no check, 1 for the check
# register, 2 for a wide displacement (its sum, then the check register).
_GUEST_ST_FORMS = {(size, scratch): OpForm(Constraint((InSpec(ANY, _STORE_IMM_OK[size]), REG),
                                                      (), 0, (ANY,) * scratch),
                                           _emit_guest_st)
                   for size in (1, 2, 4, 8) for scratch in (0, 1, 2)}
_GUEST_ST_ABSOLUTE_FORMS = {size: OpForm(Constraint((InSpec(ANY, _STORE_IMM_OK[size]),
                                                     InSpec(ANY, _always))),
                                         _emit_guest_st_absolute)
                            for size in (1, 2, 4, 8)}


# The exit request check of a loop inside the block: its stop path writes the dirty globals
# back (the allocator's fault state), then leaves like the block entry's check.
def _emit_exit_check(target: X86Target, op: Op, operands: Operands) -> None:
    asm = target.asm
    stop = asm.new_label()
    asm.emit("cmp dword ptr [rbp + %], 0", ENV_EXIT_REQUEST)
    asm.jcc("ne", stop)
    entries, pc = target.fault_state, op.consts[0]
    target.stubs.append(lambda: target.exit_check_stub(stop, entries, pc))


_EXIT_CHECK = OpForm(Constraint(()), _emit_exit_check)


def _select_exit_check(target: X86Target, op: Op, known: list, dead: int) -> OpForm:
    return _EXIT_CHECK


# env and host memory.
def _emit_add_env(target: X86Target, op: Op, operands: Operands) -> None:
    offset, imm = op.consts
    if fits_s32(imm):
        target.asm.emit("add qword ptr [rbp + %], %", offset, to_signed(imm))
    else:
        wide = operands.scratch[0]
        target.asm.emit(f"movabs {R.r64(wide)}, %", imm)
        target.asm.emit(f"add qword ptr [rbp + %], {R.r64(wide)}", offset)


_ADD_ENV_FORMS = {wide: OpForm(Constraint((), (), 0, (ANY,) if wide else ()), _emit_add_env)
                  for wide in (False, True)}


def _select_add_env(target: X86Target, op: Op, known: list, dead: int) -> OpForm:
    return _ADD_ENV_FORMS[not fits_s32(op.consts[1])]


def _emit_ld_env(target: X86Target, op: Op, operands: Operands) -> None:
    offset, memop = op.consts
    target.asm.emit(load_text(memop, operands.outs[0], "rbp + %"), offset)


def _emit_st_env(target: X86Target, op: Op, operands: Operands) -> None:
    offset, memop = op.consts
    text, numbers = store_text(memop, operands.ins[0], "rbp + %")
    target.asm.emit(text, offset, *numbers)


def _host_pointer(target: X86Target, operands: Operands, pointer_index: int,
                  offset: int) -> tuple[str, tuple[int, ...]]:
    pointer = operands.ins[pointer_index]
    if fits_s32(offset):
        return f"{R.r64(pointer)} + %", (to_signed(offset),)
    wide = operands.scratch[0]
    target.asm.emit(f"movabs {R.r64(wide)}, %", offset)
    return f"{R.r64(pointer)} + {R.r64(wide)}", ()


def _emit_ld_host(target: X86Target, op: Op, operands: Operands) -> None:
    offset, memop = op.consts
    address, numbers = _host_pointer(target, operands, 0, offset)
    target.asm.emit(load_text(memop, operands.outs[0], address), *numbers)


def _emit_st_host(target: X86Target, op: Op, operands: Operands) -> None:
    offset, memop = op.consts
    address, numbers = _host_pointer(target, operands, 1, offset)
    text, value_numbers = store_text(memop, operands.ins[0], address)
    target.asm.emit(text, *numbers, *value_numbers)


_LD_ENV = OpForm(Constraint((), (OUT_ANY,)), _emit_ld_env)
_ST_ENV_FORMS = {size: OpForm(Constraint((InSpec(ANY, _STORE_IMM_OK[size]),)), _emit_st_env)
                 for size in (1, 2, 4, 8)}
_LD_HOST_FORMS = {wide: OpForm(Constraint((REG,), (OUT_FRESH if wide else OUT_ANY,), 0,
                                          (ANY,) if wide else ()), _emit_ld_host)
                  for wide in (False, True)}
_ST_HOST_FORMS = {(size, wide): OpForm(Constraint((InSpec(ANY, _STORE_IMM_OK[size]), REG), (),
                                                  0, (ANY,) if wide else ()), _emit_st_host)
                  for size in (1, 2, 4, 8) for wide in (False, True)}


def _select_ld_env(target: X86Target, op: Op, known: list, dead: int) -> OpForm:
    return _LD_ENV


def _select_st_env(target: X86Target, op: Op, known: list, dead: int) -> OpForm:
    return _ST_ENV_FORMS[op.consts[1].size]


def _select_ld_host(target: X86Target, op: Op, known: list, dead: int) -> OpForm:
    return _LD_HOST_FORMS[not fits_s32(op.consts[0])]


def _select_st_host(target: X86Target, op: Op, known: list, dead: int) -> OpForm:
    return _ST_HOST_FORMS[(op.consts[1].size, not fits_s32(op.consts[0]))]


# Calls.
def _call_constraint(n_args: int, has_result: bool) -> Constraint:
    if n_args > MAX_HELPER_ARGS:
        raise NotImplementedError(f"helpers take at most {MAX_HELPER_ARGS} arguments")
    ins = []
    for index in range(n_args):
        if index < len(R.ARGUMENT_REGS):
            ins.append(InSpec(R.mask_of(R.ARGUMENT_REGS[index])))
        else:
            ins.append(REG_OR_S32)
    outs = (OutSpec(ONLY_RAX),) if has_result else ()
    return Constraint(tuple(ins), outs, R.CALLER_SAVED_MASK)


def _emit_call(target: X86Target, op: Op, operands: Operands) -> None:
    helper = op.consts[0]
    asm = target.asm
    for index in range(len(R.ARGUMENT_REGS), len(operands.ins)):
        slot = outgoing_arg_offset(index - len(R.ARGUMENT_REGS))
        argument = operands.ins[index]
        if isinstance(argument, Imm):
            asm.emit("mov qword ptr [rsp + %], %", slot, to_signed(argument.value))
        else:
            asm.emit(f"mov qword ptr [rsp + %], {R.r64(argument)}", slot)
    asm.emit("movabs rax, %", target.helper_address(helper))
    asm.emit("call rax")
    if helper.flags & CallFlag.MAY_STOP:
        # The helper asked the guest to stop (or a Python helper raised): leave with STOP.
        stop = asm.new_label()
        asm.emit("cmp dword ptr [rbp + %], 0", ENV_EXIT_REQUEST)
        asm.jcc("ne", stop)
        pc = target.current_insn_pc
        target.stubs.append(lambda: target.stop_exit(stop, pc))


_CALL_FORMS = {(n, has_result): OpForm(_call_constraint(n, has_result), _emit_call)
               for n in range(MAX_HELPER_ARGS + 1) for has_result in (False, True)}


def _select_call(target: X86Target, op: Op, known: list, dead: int) -> OpForm:
    if len(op.ins) > MAX_HELPER_ARGS:
        raise NotImplementedError(f"helpers take at most {MAX_HELPER_ARGS} arguments")
    return _CALL_FORMS[(len(op.ins), bool(op.outs))]


# Leaving the block.
def _emit_goto_tb(target: X86Target, op: Op, operands: Operands) -> None:
    asm = target.asm
    asm.align(4, extra=1)     # the rel32 is 4-byte aligned: patched with one aligned store
    target.slot_jumps[op.consts[0]] = len(asm.code)
    asm.raw(b"\xE9\x00\x00\x00\x00")   # jmp to the next instruction until chained


def _emit_exit_tb(target: X86Target, op: Op, operands: Operands) -> None:
    target.exit_with(op.consts[0])


def _emit_goto_ptr(target: X86Target, op: Op, operands: Operands) -> None:
    """Probe the jump cache inline: a hit jumps straight into the target block, a miss goes
    back to the dispatcher (which translates if needed and fills the entry)."""
    asm = target.asm
    pc = R.r64(operands.ins[0])
    index, entry = operands.scratch
    # Entry offset = ((pc >> 1) & (entries - 1)) * 16 = (pc & ((entries - 1) << 1)) << 3.
    asm.emit(f"mov {R.r32(index)}, {R.r32(operands.ins[0])}")
    asm.emit(f"and {R.r32(index)}, %", (JumpCache.ENTRIES - 1) << 1)
    asm.emit(f"shl {R.r32(index)}, 3")
    asm.emit(f"movabs {R.r64(entry)}, %", target.jump_cache_address)
    asm.emit(f"add {R.r64(entry)}, {R.r64(index)}")
    miss = asm.new_label()
    asm.emit(f"cmp {pc}, qword ptr [{R.r64(entry)}]")
    asm.jcc("ne", miss)
    asm.emit(f"jmp qword ptr [{R.r64(entry)} + 8]")
    asm.bind(miss)
    target.exit_with(_LOOKUP_EXIT_VALUE)


_NO_OPERANDS = Constraint(())
_GOTO_TB = OpForm(_NO_OPERANDS, _emit_goto_tb)
_EXIT_TB = OpForm(_NO_OPERANDS, _emit_exit_tb)
_GOTO_PTR = OpForm(Constraint((REG,), scratch=(ANY, ANY)), _emit_goto_ptr)


def _select_goto_tb(target: X86Target, op: Op, known: list, dead: int) -> OpForm:
    return _GOTO_TB


def _select_exit_tb(target: X86Target, op: Op, known: list, dead: int) -> OpForm:
    return _EXIT_TB


def _select_goto_ptr(target: X86Target, op: Op, known: list, dead: int) -> OpForm:
    return _GOTO_PTR


_SELECTORS: dict[str, Callable[[X86Target, Op, list, int], OpForm]] = {
    **{name: _select_alu for name in _ALU_OPS},
    "andc": _select_andc,
    "neg": _select_unary,
    "not": _select_unary,
    **{name: _select_shift for name in _SHIFT_MNEMONICS},
    **{name: _select_extension for name in _EXTENSIONS},
    **{name: _select_mul_high for name in _MUL_HIGH_FORMS},
    **{name: _select_division for name in _DIVISIONS},
    "setcond": _select_setcond,
    "movcond": _select_movcond,
    "brcond": _select_brcond,
    "br": _select_br,
    "guest_ld": _select_guest_ld,
    "guest_st": _select_guest_st,
    "exit_check": _select_exit_check,
    "ld_env": _select_ld_env,
    "st_env": _select_st_env,
    "add_env": _select_add_env,
    "ld_host": _select_ld_host,
    "st_host": _select_st_host,
    "call": _select_call,
    "goto_tb": _select_goto_tb,
    "exit_tb": _select_exit_tb,
    "goto_ptr": _select_goto_ptr,
}

# Floating point: host_x86/isel_fp.py (imported last: it uses nothing of this module).
from host_x86.isel_fp import fp_selectors  # noqa: E402

_SELECTORS.update(fp_selectors())

# Plugin ops: host_x86/isel_plugin.py.
from host_x86.isel_plugin import plugin_selectors  # noqa: E402

_SELECTORS.update(plugin_selectors())
