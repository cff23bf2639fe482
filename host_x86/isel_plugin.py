"""x86-64 instruction selection of the plugin ops (jit/ir.py `plugin_add_u64`).

An inline scoreboard add is one read-modify-write instruction on host memory,
`add qword ptr [pointer + offset], imm`: the entry is never loaded into a register, and the op
is HOST_EFFECT, not SIDE_EFFECTS, so no guest register is written back around it. An offset
or an immediate that does not fit a sign-extended 32-bit field goes through a scratch
register (never the case for the scoreboards' small entry offsets and counts, but the op
allows any u64).
"""
from __future__ import annotations

from typing import Callable

from host_x86 import regs as R
from host_x86.encoder import fits_s32
from jit.ir import Op, to_signed
from jit.regalloc import Constraint, InSpec, OpForm, Operands

ANY = R.ALLOCATABLE_MASK


def _emit_plugin_add_u64(target, op: Op, operands: Operands) -> None:
    offset, imm = op.consts
    asm = target.asm
    pointer = R.r64(operands.ins[0])
    scratch = list(operands.scratch)
    numbers: list[int] = []
    if fits_s32(offset):
        address = f"{pointer} + %"
        numbers.append(to_signed(offset))
    else:
        wide_offset = scratch.pop()
        asm.emit(f"movabs {R.r64(wide_offset)}, %", offset)
        address = f"{pointer} + {R.r64(wide_offset)}"
    if fits_s32(imm):
        asm.emit(f"add qword ptr [{address}], %", *numbers, to_signed(imm))
    else:
        wide_imm = scratch.pop()
        asm.emit(f"movabs {R.r64(wide_imm)}, %", imm)
        asm.emit(f"add qword ptr [{address}], {R.r64(wide_imm)}", *numbers)


# One form per number of scratch registers the constants need (0, 1 or 2).
_PLUGIN_ADD_FORMS = {n_scratch: OpForm(Constraint((InSpec(ANY),), (), 0, (ANY,) * n_scratch),
                                       _emit_plugin_add_u64)
                     for n_scratch in range(3)}


def _select_plugin_add_u64(target, op: Op, known: list, dead: int) -> OpForm:
    offset, imm = op.consts
    return _PLUGIN_ADD_FORMS[(not fits_s32(offset)) + (not fits_s32(imm))]


def plugin_selectors() -> dict[str, Callable]:
    """Selectors of the plugin ops, for host_x86/isel.py's table."""
    return {"plugin_add_u64": _select_plugin_add_u64}
