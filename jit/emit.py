"""Emitter functions: the only way frontends and the instrumentation code create ops.

They append to the block being built, set with `begin_block` (like QEMU's tcg_ctx). Every emitter
checks its arguments against the op table, so a malformed op cannot enter a block.
"""
from __future__ import annotations

from typing import Optional, Sequence

from jit.exits import MAX_EXIT_SLOTS
from jit.ir import (OPS, Cond, FpEnv, FpRm, GlobalSet, HelperInfo, IRBlock, Label, MemOp, Op,
                    OpDef, Temp, TempKind)

_block: Optional[IRBlock] = None
_NO_ARG = object()      # an emitter argument not given
_CONST_KIND = TempKind.CONST
_MASK64 = (1 << 64) - 1


def begin_block(globals_: GlobalSet, guest_pc: int = 0) -> IRBlock:
    """Start building a new block; later emitters append to it."""
    global _block
    _block = IRBlock(globals_, guest_pc)
    return _block


def resume_block(block: IRBlock) -> IRBlock:
    """Make later emitters append to an already translated block again, until end_block (the
    plugin injector emits there the template of an empty callback translation left out)."""
    global _block
    if _block is not None:
        raise RuntimeError("a block is being built already")
    _block = block
    return block


def current_block() -> IRBlock:
    if _block is None:
        raise RuntimeError("no block is being built: call begin_block first")
    return _block


def end_block() -> IRBlock:
    global _block
    block = current_block()
    _block = None
    return block


def new_temp(name: str = "") -> Temp:
    block = _block
    if block is None:
        block = current_block()
    return block.new_temp(name)


def const(value: int) -> Temp:
    block = _block
    if block is None:
        block = current_block()
    value &= _MASK64
    temp = block._consts.get(value)
    if temp is None:        # (IRBlock.const's miss path, without its repeated look-up)
        temps = block.temps
        temp = Temp(len(temps), _CONST_KIND, "", 0, value)
        temps.append(temp)
        block._consts[value] = temp
    return temp


def new_label() -> Label:
    return current_block().new_label()


def make_op(opdef: OpDef, outs: Sequence[Temp], ins: Sequence[Temp], consts: Sequence) -> Op:
    """Build an op after checking its shape against the table (used by emitters and copiers)."""
    if opdef.outputs is not None and len(outs) != opdef.outputs:
        raise ValueError(f"{opdef.name}: {len(outs)} outputs, table says {opdef.outputs}")
    if opdef.inputs is not None and len(ins) != opdef.inputs:
        raise ValueError(f"{opdef.name}: {len(ins)} inputs, table says {opdef.inputs}")
    if len(consts) != len(opdef.consts):
        raise ValueError(f"{opdef.name}: {len(consts)} constants, table says {len(opdef.consts)}")
    for temp in outs:
        if not isinstance(temp, Temp) or temp.kind is TempKind.CONST:
            raise ValueError(f"{opdef.name}: output {temp!r} is not a writable temp")
    for temp in ins:
        if not isinstance(temp, Temp):
            raise ValueError(f"{opdef.name}: input {temp!r} is not a temp")
    return Op(opdef, list(outs), list(ins), list(consts))


def _emit_no_temps(opdef: OpDef, consts: list) -> Op:
    """An op without temps (markers, exits, labels): the emitter's signature already fixes its
    constants, so there is nothing left to check."""
    block = _block
    if block is None:
        block = current_block()
    op = Op(opdef, [], [], consts)
    block.ops.append(op)
    return op


def _emit(name: str, outs: Sequence[Temp], ins: Sequence[Temp], consts: Sequence = ()) -> Op:
    op = make_op(OPS[name], outs, ins, consts)
    current_block().ops.append(op)
    return op


def _emit_fast(opdef: OpDef, outs: list, ins: list, consts: list) -> Op:
    """The emitters' fast path: outs/ins/consts are new lists of the table's lengths (the
    emitter's signature guarantees them), so only the temps' types are checked here; anything
    unusual goes through make_op, which reports it."""
    block = _block
    if block is not None:
        for temp in outs:
            if type(temp) is not Temp or temp.kind is _CONST_KIND:
                break
        else:
            for temp in ins:
                if type(temp) is not Temp:
                    break
            else:
                op = Op(opdef, outs, ins, consts)
                block.ops.append(op)
                return op
    op = make_op(opdef, outs, ins, consts)
    current_block().ops.append(op)
    return op


def _value_op(name: str):
    """An emitter for a pure value op of the table: gen_<name>(d, *inputs, *constants)."""
    opdef = OPS[name]
    n_inputs = opdef.inputs
    const_kind = _CONST_KIND

    # (Inputs as parameters with a default, not *args: no tuple per call. Anything unusual -
    # a missing or extra argument, a wrong type - goes through _emit, which reports it.)
    if n_inputs == 2 and not opdef.consts:
        def emitter(dst: Temp, a=_NO_ARG, b=_NO_ARG, *rest) -> Op:
            block = _block
            if block is not None and type(dst) is Temp and dst.kind is not const_kind \
                    and type(a) is Temp and type(b) is Temp and not rest:
                op = Op(opdef, [dst], [a, b], [])
                block.ops.append(op)
                return op
            args = tuple(arg for arg in (a, b) if arg is not _NO_ARG) + rest
            return _emit(name, [dst], args[:n_inputs], args[n_inputs:])
    elif n_inputs == 1 and not opdef.consts:
        def emitter(dst: Temp, a=_NO_ARG, *rest) -> Op:
            block = _block
            if block is not None and type(dst) is Temp and dst.kind is not const_kind \
                    and type(a) is Temp and not rest:
                op = Op(opdef, [dst], [a], [])
                block.ops.append(op)
                return op
            args = ((a,) if a is not _NO_ARG else ()) + rest
            return _emit(name, [dst], args[:n_inputs], args[n_inputs:])
    else:
        def emitter(dst: Temp, *args) -> Op:
            return _emit(name, [dst], args[:n_inputs], args[n_inputs:])

    emitter.__name__ = f"gen_{name}"
    emitter.__doc__ = f"Emit {name}: {opdef.doc or name}"
    return emitter


_MOV, _ADD, _AND, _OR, _XOR, _SHL, _SHR, _SAR = (
    OPS[name] for name in ("mov", "add", "and", "or", "xor", "shl", "shr", "sar"))
_SETCOND, _MOVCOND, _SET_LABEL, _BR, _BRCOND = (
    OPS[name] for name in ("setcond", "movcond", "set_label", "br", "brcond"))
_GUEST_LD, _GUEST_ST, _LD_ENV, _ST_ENV = (
    OPS[name] for name in ("guest_ld", "guest_st", "ld_env", "st_env"))
_EXIT_CHECK = OPS["exit_check"]
_ADD_ENV = OPS["add_env"]
_INSN_START, _GOTO_TB, _EXIT_TB, _GOTO_PTR = (
    OPS[name] for name in ("insn_start", "goto_tb", "exit_tb", "goto_ptr"))

gen_mov = _value_op("mov")
gen_add = _value_op("add")
gen_sub = _value_op("sub")
gen_and = _value_op("and")
gen_or = _value_op("or")
gen_xor = _value_op("xor")
gen_andc = _value_op("andc")
gen_neg = _value_op("neg")
gen_not = _value_op("not")
gen_shl = _value_op("shl")
gen_shr = _value_op("shr")
gen_sar = _value_op("sar")
gen_mul = _value_op("mul")
gen_mulsh = _value_op("mulsh")
gen_muluh = _value_op("muluh")
gen_mulsuh = _value_op("mulsuh")
gen_div = _value_op("div")
gen_divu = _value_op("divu")
gen_rem = _value_op("rem")
gen_remu = _value_op("remu")
gen_ext8s = _value_op("ext8s")
gen_ext8u = _value_op("ext8u")
gen_ext16s = _value_op("ext16s")
gen_ext16u = _value_op("ext16u")
gen_ext32s = _value_op("ext32s")
gen_ext32u = _value_op("ext32u")


def gen_movi(dst: Temp, value: int) -> Op:
    return _emit_fast(_MOV, [dst], [const(value)], [])


def gen_addi(dst: Temp, a: Temp, imm: int) -> Op:
    return _emit_fast(_ADD, [dst], [a, const(imm)], [])


def gen_andi(dst: Temp, a: Temp, imm: int) -> Op:
    return _emit_fast(_AND, [dst], [a, const(imm)], [])


def gen_ori(dst: Temp, a: Temp, imm: int) -> Op:
    return _emit_fast(_OR, [dst], [a, const(imm)], [])


def gen_xori(dst: Temp, a: Temp, imm: int) -> Op:
    return _emit_fast(_XOR, [dst], [a, const(imm)], [])


def gen_shli(dst: Temp, a: Temp, count: int) -> Op:
    return _emit_fast(_SHL, [dst], [a, const(count)], [])


def gen_shri(dst: Temp, a: Temp, count: int) -> Op:
    return _emit_fast(_SHR, [dst], [a, const(count)], [])


def gen_sari(dst: Temp, a: Temp, count: int) -> Op:
    return _emit_fast(_SAR, [dst], [a, const(count)], [])


def gen_setcond(cond: Cond, dst: Temp, a: Temp, b: Temp) -> Op:
    return _emit_fast(_SETCOND, [dst], [a, b], [cond])


def gen_movcond(cond: Cond, dst: Temp, a: Temp, b: Temp, if_true: Temp, if_false: Temp) -> Op:
    return _emit_fast(_MOVCOND, [dst], [a, b, if_true, if_false], [cond])


def gen_set_label(label: Label) -> Op:
    if label.present:
        raise ValueError(f"label {label} placed twice")
    label.present = True
    return _emit_no_temps(_SET_LABEL, [label])


def gen_loop_head(label: Label) -> Op:
    """Place `label` at the very start of the block: a loop head that a frontend finds only
    when it translates the back edge (a branch to the block's own first instruction)."""
    if label.present:
        raise ValueError(f"label {label} placed twice")
    label.present = True
    op = Op(_SET_LABEL, [], [], [label])
    current_block().ops.insert(0, op)
    return op


def gen_add_env(offset: int, imm: int) -> Op:
    """u64 env[offset] += imm, in place (a counter that is not a global, e.g. instret)."""
    return _emit_no_temps(_ADD_ENV, [offset, imm & _MASK64])


def gen_add_in_place_of(op: Op, dst: Temp, a: Temp, b: Temp) -> Op:
    """Make `op`, in the block being built, into `add dst, a, b` (the same op object, so that
    whatever refers to it, e.g. an instrumentation point, still finds it): for a choice the
    frontend can make only once the block is translated."""
    new = gen_add(dst, a, b)
    current_block().ops.pop()
    op.opdef, op.outs, op.ins, op.consts = new.opdef, new.outs, new.ins, new.consts
    return op


def gen_exit_check(pc: int) -> Op:
    """Leave with ExitKind.STOP and env.pc = pc if the dispatcher asked generated code to stop
    (the check a loop inside a block makes on each back edge)."""
    return _emit_no_temps(_EXIT_CHECK, [pc & _MASK64])


def gen_br(label: Label) -> Op:
    label.refs += 1
    return _emit_no_temps(_BR, [label])


def gen_brcond(cond: Cond, a: Temp, b: Temp, label: Label) -> Op:
    label.refs += 1
    return _emit_fast(_BRCOND, [], [a, b], [cond, label])


def gen_guest_ld(dst: Temp, addr: Temp, offset: int, memop: MemOp) -> Op:
    return _emit_fast(_GUEST_LD, [dst], [addr], [offset, memop])


def gen_guest_st(value: Temp, addr: Temp, offset: int, memop: MemOp) -> Op:
    return _emit_fast(_GUEST_ST, [], [value, addr], [offset, memop])


def gen_ld_env(dst: Temp, offset: int, memop: MemOp) -> Op:
    return _emit_fast(_LD_ENV, [dst], [], [offset, memop])


def gen_st_env(value: Temp, offset: int, memop: MemOp) -> Op:
    return _emit_fast(_ST_ENV, [], [value], [offset, memop])


def gen_ld_host(dst: Temp, ptr: Temp, offset: int, memop: MemOp) -> Op:
    return _emit("ld_host", [dst], [ptr], [offset, memop])


def gen_st_host(value: Temp, ptr: Temp, offset: int, memop: MemOp) -> Op:
    return _emit("st_host", [], [value, ptr], [offset, memop])


def gen_plugin_add_u64(ptr: Temp, offset: int, imm: int) -> Op:
    """*(u64 *)(ptr + offset) += imm: an inline plugin scoreboard add (not guest state)."""
    return _emit("plugin_add_u64", [], [ptr], [offset, imm & _MASK64])


def gen_call(helper: HelperInfo, result: Optional[Temp], args: Sequence[Temp]) -> Op:
    if len(args) != helper.n_args:
        raise ValueError(f"call {helper.name}: {len(args)} arguments, helper takes {helper.n_args}")
    if (result is not None) != helper.has_result:
        raise ValueError(f"call {helper.name}: result given does not match the helper")
    return _emit("call", [result] if result is not None else [], args, [helper])


def gen_insn_start(pc: int) -> Op:
    block = _block          # (_emit_no_temps inlined: one per guest instruction)
    if block is None:
        block = current_block()
    op = Op(_INSN_START, [], [], [pc])
    block.ops.append(op)
    return op


def gen_plugin_cb_start(from_, cb_type, rw: int) -> Op:
    return _emit("plugin_cb_start", [], [], [from_, cb_type, rw])


def gen_plugin_cb_end() -> Op:
    return _emit("plugin_cb_end", [], [], [])


def gen_goto_tb(slot: int) -> Op:
    if not 0 <= slot < MAX_EXIT_SLOTS:
        raise ValueError(f"goto_tb slot must be in 0..{MAX_EXIT_SLOTS - 1}")
    return _emit_no_temps(_GOTO_TB, [slot])


def gen_exit_tb(value: int) -> Op:
    return _emit_no_temps(_EXIT_TB, [value])


def gen_goto_ptr(pc: Temp) -> Op:
    return _emit_fast(_GOTO_PTR, [], [pc], [])


# --------------------------------------------------------------------------------------------
# Floating point (jit/ir.py "Floating point"; semantics in jit/softfloat.py)


def gen_fp_value(name: str, dst: Temp, *inputs: Temp) -> Op:
    """A pure FP value op: fsgnj{,n,x}_{s,d}, fclass_{s,d}, fcvt_d_w, fcvt_d_wu."""
    opdef = OPS[name]
    if opdef.fold is None or opdef.fp is not None or opdef.consts:
        raise ValueError(f"{name} is not a pure FP value op")
    return _emit(name, [dst], inputs)


def gen_fp_op(name: str, dst: Temp, inputs: Sequence[Temp], fpenv: FpEnv,
              rm: Optional[FpRm] = None) -> Op:
    """An FP op that rounds and/or raises exception flags: dst = name(inputs), flags accrued
    into the FP environment `fpenv`; rm (an FpRm, DYN included) for the ops that round."""
    opdef = OPS[name]
    if opdef.fp is None:
        raise ValueError(f"{name} is not an FP_ENV op")
    if "rm" in opdef.consts:
        if rm is None:
            raise ValueError(f"{name} needs a rounding mode")
        return _emit(name, [dst], inputs, [FpRm(rm), fpenv])
    if rm is not None:
        raise ValueError(f"{name} takes no rounding mode")
    return _emit(name, [dst], inputs, [fpenv])


def gen_fp_get_flags(dst: Temp, fpenv: FpEnv) -> Op:
    """dst = the accrued FP exception flags."""
    return _emit("fp_get_flags", [dst], [], [fpenv])


def gen_fp_set_flags(value: Temp, fpenv: FpEnv) -> Op:
    """accrued FP exception flags = value & 0x1f."""
    return _emit("fp_set_flags", [], [value], [fpenv])


def gen_fp_set_rm(value: Temp, fpenv: FpEnv) -> Op:
    """dynamic rounding mode = value & 7."""
    return _emit("fp_set_rm", [], [value], [fpenv])
