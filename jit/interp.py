"""Reference interpreter of the IR: the executable definition of what every op means.

Value ops take their meaning from the `fold` function of their table entry; the few ops with
effects are interpreted here. Native code must agree with this interpreter on globals, memory and
the exit value for every block (the property tests check exactly that).
"""
from __future__ import annotations

from typing import Optional, Protocol

from jit.env import ENV_EXIT_REQUEST, ENV_FAULT_ADDR, ENV_FAULT_HOST_PC, ENV_FAULT_IS_WRITE
from jit.exits import ExitKind, encode_exit
from jit.ir import MO_64, IRBlock, Label, MemOp, Op, Temp, TempKind, u64
from jit.softfloat import FLAGS_MASK, resolve_rm


class EnvAccess(Protocol):
    def read_u64(self, offset: int) -> int: ...
    def write_u64(self, offset: int, value: int) -> None: ...


class MemoryAccess(Protocol):
    def read(self, addr: int, size: int) -> bytes: ...
    def write(self, addr: int, data: bytes) -> None: ...


class InterpFault(Exception):
    """A guest memory access the memory object refused."""

    def __init__(self, addr: int, is_write: bool):
        super().__init__(f"guest fault at {addr:#x} ({'write' if is_write else 'read'})")
        self.addr = addr
        self.is_write = is_write


class StepLimitExceeded(Exception):
    pass


def _load(memory: MemoryAccess, addr: int, memop: MemOp) -> int:
    try:
        raw = memory.read(addr, memop.size)
    except Exception as exc:
        raise InterpFault(addr, False) from exc
    return memop.extend(int.from_bytes(raw, "little"))


def _store(memory: MemoryAccess, addr: int, memop: MemOp, value: int) -> None:
    data = (value & ((1 << memop.bits) - 1)).to_bytes(memop.size, "little")
    try:
        memory.write(addr, data)
    except Exception as exc:
        raise InterpFault(addr, True) from exc


def _env_load(env: EnvAccess, offset: int, memop: MemOp) -> int:
    # Sub-word env fields are read from the 8-byte-aligned word containing them.
    word_offset = offset & ~7
    shift = (offset - word_offset) * 8
    return memop.extend(env.read_u64(word_offset) >> shift)


def _env_store(env: EnvAccess, offset: int, memop: MemOp, value: int) -> None:
    word_offset = offset & ~7
    shift = (offset - word_offset) * 8
    mask = ((1 << memop.bits) - 1) << shift
    old = env.read_u64(word_offset)
    env.write_u64(word_offset, (old & ~mask) | ((value << shift) & mask))


def run_block(block: IRBlock, env: EnvAccess, memory: MemoryAccess, host_memory=None,
              max_steps: int = 1_000_000, position: Optional[list] = None) -> int:
    """Execute the block's ops; return the exit value (jit/exits.py encoding).

    Globals are read from and written back to `env` (at their offsets) as the ops run, so a fault
    leaves env exactly as the native code would: every global written before the faulting op is
    in env. A refused guest access returns encode_exit(FAULT) after setting env's fault_addr and
    fault_is_write, and fault_host_pc to 0 (there is no host pc).
    `host_memory` serves ld_host/st_host (a MemoryAccess over absolute addresses).
    `position`, when given ([0, 0] on entry), follows the instructions as they start: the guest
    pc of the one running and how many have started (after a fault: the faulting one, counted).
    """
    values: dict[int, int] = {}
    label_index = {op.consts[0].id: i for i, op in enumerate(block.ops) if op.name == "set_label"}

    def read(temp: Temp) -> int:
        if temp.kind is TempKind.CONST:
            return temp.value
        if temp.kind is TempKind.GLOBAL:
            return env.read_u64(temp.offset)
        if temp.index not in values:
            raise ValueError(f"local {temp!r} read before it was written")
        return values[temp.index]

    def write(temp: Temp, value: int) -> None:
        if temp.kind is TempKind.GLOBAL:
            env.write_u64(temp.offset, value)
        else:
            values[temp.index] = value

    pc = 0
    steps = 0
    ops = block.ops
    while pc < len(ops):
        steps += 1
        if steps > max_steps:
            raise StepLimitExceeded(f"block at {block.guest_pc:#x} ran {max_steps} ops")
        op: Op = ops[pc]
        opdef = op.opdef
        pc += 1
        if opdef.fold is not None:
            write(op.outs[0], u64(opdef.fold(*[read(t) for t in op.ins], *op.consts)))
            continue
        name = opdef.name
        if opdef.marker:
            if position is not None and name == "insn_start":
                position[0] = op.consts[0]
                position[1] += 1
            continue
        if name == "br":
            pc = _jump(label_index, op.consts[0])
        elif name == "brcond":
            cond, label = op.consts
            if cond.evaluate(read(op.ins[0]), read(op.ins[1])):
                pc = _jump(label_index, label)
        elif name == "guest_ld":
            offset, memop = op.consts
            try:
                write(op.outs[0], _load(memory, u64(read(op.ins[0]) + offset), memop))
            except InterpFault as fault:
                return _record_fault(env, fault)
        elif name == "guest_st":
            offset, memop = op.consts
            try:
                _store(memory, u64(read(op.ins[1]) + offset), memop, read(op.ins[0]))
            except InterpFault as fault:
                return _record_fault(env, fault)
        elif name == "ld_env":
            write(op.outs[0], _env_load(env, *op.consts))
        elif name == "st_env":
            _env_store(env, op.consts[0], op.consts[1], read(op.ins[0]))
        elif name == "ld_host":
            offset, memop = op.consts
            write(op.outs[0], _load(host_memory, u64(read(op.ins[0]) + offset), memop))
        elif name == "st_host":
            offset, memop = op.consts
            _store(host_memory, u64(read(op.ins[1]) + offset), memop, read(op.ins[0]))
        elif name == "plugin_add_u64":
            offset, imm = op.consts
            address = u64(read(op.ins[0]) + offset)
            _store(host_memory, address, MO_64, _load(host_memory, address, MO_64) + imm)
        elif name == "call":
            helper = op.consts[0]
            result = helper.py_func(*[read(t) for t in op.ins])
            if op.outs:
                write(op.outs[0], u64(result or 0))
        elif name == "add_env":
            offset, imm = op.consts
            env.write_u64(offset, u64(env.read_u64(offset) + imm))
        elif name == "exit_check":
            if env.read_u64(ENV_EXIT_REQUEST) & 0xFFFF_FFFF:
                env.write_u64(block.globals.by_name["pc"].offset, op.consts[0])
                return encode_exit(ExitKind.STOP)
        elif name == "goto_tb":
            continue  # unchained: falls through to the pc store and exit_tb after it
        elif name == "exit_tb":
            return op.consts[0]
        elif name == "goto_ptr":
            return encode_exit(ExitKind.LOOKUP)
        elif opdef.fp_env:
            _fp_op(op, env, read, write)
        else:
            raise NotImplementedError(f"interpreter has no rule for op {name}")
    raise ValueError(f"block at {block.guest_pc:#x} ends without an exit")



def _fp_op(op: Op, env: EnvAccess, read, write) -> None:
    """An FP_ENV op: the FP environment (accrued flags, dynamic rounding mode) is in env at the
    offsets of the op's FpEnv constant."""
    fpenv = op.consts[-1]
    name = op.opdef.name
    if name == "fp_get_flags":
        write(op.outs[0], env.read_u64(fpenv.flags_offset) & FLAGS_MASK)
    elif name == "fp_set_flags":
        env.write_u64(fpenv.flags_offset, read(op.ins[0]) & FLAGS_MASK)
    elif name == "fp_set_rm":
        env.write_u64(fpenv.rm_offset, read(op.ins[0]) & 7)
    else:
        rm = None
        if len(op.consts) == 2:
            rm = resolve_rm(op.consts[0], env.read_u64(fpenv.rm_offset))
        value, flags = op.opdef.fp(*[read(t) for t in op.ins], rm)
        if flags:
            env.write_u64(fpenv.flags_offset, env.read_u64(fpenv.flags_offset) | flags)
        write(op.outs[0], u64(value))


def _record_fault(env: EnvAccess, fault: InterpFault) -> int:
    env.write_u64(ENV_FAULT_ADDR, fault.addr)
    env.write_u64(ENV_FAULT_IS_WRITE, int(fault.is_write))
    env.write_u64(ENV_FAULT_HOST_PC, 0)
    return encode_exit(ExitKind.FAULT)


def _jump(label_index: dict[int, int], label: Label) -> int:
    return label_index[label.id]
