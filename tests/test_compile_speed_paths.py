"""The compile pass's shortcuts give exactly the code the general paths give.

- the allocator's path for ops without operands (`_BlockAllocator._bare_op`) and the x86
  target's lazy scan for accesses that need no check (`access_needs_no_check`, which skips the
  scan for blocks with at most one access): every block of a whole glibc program compiled with
  and without them gives the same bytes, instruction map, goto_tb slots and fault states;
- the encoder's shape cache keyed by packed width-class codes: its patched shapes, the shapes
  the target keeps for immediates that rarely repeat (stored guest pcs, exit values), and the
  persistent file's keys are what they were with class names;
- the code cache's writes through the writable view.
"""
from __future__ import annotations

import json

import pytest

import guest_runner as gr
from host_x86 import encoder as enc
from host_x86.assembler import AsmLabel, spill_slot_offset
from host_x86.codebuf import CodeBuffer
from host_x86.guest_access import accesses_without_check
from host_x86.isel import X86Target
from jit import regalloc
from jit.regalloc import Location, allocate_block

# Numbers of every width class the encoder distinguishes, both signs, and u64 views of
# negative numbers.
NUMBERS = [0, 1, 2, -1, 0x7F, -0x80, 0x80, -0x81, 0x1234, -0x1234, 0x7FFF_FFFF, -0x8000_0000,
           0x8000_0000, 0xFFFF_FFFF, 0x1_0000_0000, (1 << 64) - 1, (1 << 64) - 0x100,
           (1 << 64) - 0x8000_0000, 0x1234_5678_9ABC]


class _Runtime:
    epilogue_address = 0x1000
    read_fault_tail_address = 0x2000
    write_fault_tail_address = 0x3000


def _target(encoder: enc.Encoder, guarded: bool = True, runtime=None) -> X86Target:
    return X86Target(encoder, runtime or _Runtime(), 1 << 38, lambda helper: 0x5000, 0x4000,
                     guest_guarded=guarded)


def _compiled(target: X86Target, block) -> tuple:
    target.begin_block(block, 7)
    allocate_block(block, target)
    asm = target.finish_block()
    return (bytes(asm.code), list(target.insn_map), dict(target.slot_jumps),
            dict(target.fault_states), [(field, end, label.offset, width)
                                        for field, end, label, width in asm._label_fixups],
            list(asm._absolute_fixups))


# --------------------------------------------------------------------------------------------
# Whole-program blocks, with and without the shortcuts


@pytest.fixture(scope="module")
def program_blocks():
    """The optimized IR blocks of a glibc program's run (start-up code included)."""
    from tools.machine import Machine
    name = "alloc_static_O2"
    path = str(gr.LINUX.binary_path(name))
    machine = Machine.create(path, [path, *gr.LINUX.guest_args(name)], [])
    blocks = []
    compile_block = machine.backend.compile

    def recording(block, block_id):
        blocks.append(block)
        return compile_block(block, block_id)

    machine.backend.compile = recording
    machine.run()
    assert len(blocks) > 300
    return blocks, machine.backend.runtime


def _general_paths(monkeypatch) -> None:
    """Turn the shortcuts off: every op through _op, the access scan done eagerly."""
    monkeypatch.setattr(regalloc._BlockAllocator, "_bare_op",
                        lambda self, op, index, info: self._op(op, index, info))

    def eager(self, op):
        if not self.guest_guarded:
            return False
        if self._unchecked_accesses is None:
            self._unchecked_accesses = accesses_without_check(self.block)
        return op in self._unchecked_accesses

    monkeypatch.setattr(X86Target, "access_needs_no_check", eager)


@pytest.mark.parametrize("guarded", [True, False], ids=["guarded", "unguarded"])
def test_program_blocks_compile_to_the_same_code_without_the_shortcuts(program_blocks,
                                                                       monkeypatch, capfd,
                                                                       guarded):
    blocks, runtime = program_blocks
    encoder = enc.Encoder()
    fast = [_compiled(_target(encoder, guarded, runtime), block) for block in blocks]
    _general_paths(monkeypatch)
    general = [_compiled(_target(encoder, guarded, runtime), block) for block in blocks]
    differing = [index for index, (a, b) in enumerate(zip(fast, general)) if a != b]
    assert not differing, f"{len(differing)} blocks differ, first {differing[0]}"
    if guarded:
        # The blocks exercise the shortcuts: many accesses go without a check, some blocks
        # have one access only (no scan), and most blocks end in ops without operands.
        unchecked = sum(len(accesses_without_check(block)) for block in blocks)
        assert unchecked > 50


def test_the_first_access_is_never_one_the_scan_lists(program_blocks):
    """What access_needs_no_check assumes for the first access a block's walk reaches."""
    from jit.ir import OPS
    accesses = (OPS["guest_ld"], OPS["guest_st"])
    for block in program_blocks[0]:
        first = next((op for op in block.ops if op.opdef in accesses), None)
        if first is not None:
            assert first not in accesses_without_check(block)


# --------------------------------------------------------------------------------------------
# The encoder's packed width classes


@pytest.mark.parametrize("number", NUMBERS)
def test_class_codes_name_the_width_classes(number):
    code = enc._class_code(number)
    assert enc._classes_of_code(code, 1) == (enc.width_class(number),)
    other = enc._class_code(0x1234)
    packed = code | other << enc._CLASS_BITS
    assert enc._classes_of_code(packed, 2) == (enc.width_class(number), "i32")


def test_shapes_patch_to_keystones_encodings():
    encoder = enc.Encoder()
    reference = enc.Encoder()
    for template in ("mov qword ptr [rbp + %], %", "mov eax, %", "lea rbx, [r12 + %]"):
        count = template.count("%")
        for first in NUMBERS:
            numbers = (0x100, first) if count == 2 else (first,)
            if "qword ptr" in template and enc.width_class(first) in ("u32", "i64"):
                continue        # no such immediate
            if template == "mov eax, %" and enc.width_class(first) == "i64":
                continue
            if template.startswith("lea") and enc.width_class(first) in ("u32", "i64"):
                continue
            signed = tuple(n - (1 << 64) if n >= 1 << 63 else n for n in numbers)
            expected = reference._keystone(enc._fill(template, signed))
            assert encoder.shape(template, numbers).patch(numbers) == expected
            assert encoder.encode_uncached(template, numbers) == expected


def test_saved_shapes_keep_their_class_names(tmp_path):
    path = tmp_path / "encodings.json"
    encoder = enc.Encoder(enc.PersistentShapes(str(path)))
    encoder.encode("mov qword ptr [rbp + %], %", (0x100, -5))
    encoder.encode("mov eax, %", (0x12345,))
    encoder.save_persistent()
    if not path.exists():
        pytest.skip("no keystone identity: nothing persists")
    payload = json.loads(path.read_bytes().split(b"\n", 1)[1])
    assert "mov qword ptr [rbp + %], %\ti32,i8" in payload["shapes"]
    assert "mov eax, %\ti32" in payload["shapes"]
    fresh = enc.Encoder(enc.PersistentShapes(str(path)))
    assert fresh.encode("mov qword ptr [rbp + %], %", (0x200, -7)) == \
        enc.Encoder().encode("mov qword ptr [rbp + %], %", (0x200, -7))
    assert fresh.keystone_calls == 0


# --------------------------------------------------------------------------------------------
# The target's kept shapes for immediates that rarely repeat


def _bytes_of(target: X86Target, emit) -> bytes:
    start = len(target.asm.code)
    emit()
    return bytes(target.asm.code[start:])


@pytest.mark.parametrize("value", [0x100, 0xFFFF, 0x1_0000, 0x12_3456, 0x7FFF_FFFF, 0x8000_0000,
                                   0xFFFF_FFFF, 0x1_0000_0000])
def test_exit_values_encode_as_their_text(value):
    target = _target(enc.Encoder())
    reference = enc.Encoder()
    for _ in range(2):          # the second time with the kept shape
        code = _bytes_of(target, lambda: target.exit_with(value))
        text = "mov eax, %" if value <= 0xFFFF_FFFF else "movabs rax, %"
        move = reference.encode(text, (value,))
        assert code[:len(move)] == move and len(code) == len(move) + 5


@pytest.mark.parametrize("value", [0x1_0000, 0x7FFF_FFFF, (1 << 64) - 1, (1 << 64) - 0x80,
                                   (1 << 64) - 0x81, (1 << 64) - 0x8000_0000, 0x12_3456])
def test_stores_of_rare_immediates_encode_as_their_text(value):
    target = _target(enc.Encoder())
    reference = enc.Encoder()
    signed = value - (1 << 64) if value >> 63 else value
    for location in (Location(True, 0x100), Location(True, 8), Location(False, 3)):
        base, offset = (("rbp", location.offset) if location.in_env
                        else ("rsp", spill_slot_offset(location.offset)))
        expected = reference.encode(f"mov qword ptr [{base} + %], %", (offset, signed))
        for _ in range(2):
            assert _bytes_of(target, lambda: target.emit_store_imm(value, location)) == expected


def test_stop_exits_store_the_pc_as_their_text():
    target = _target(enc.Encoder())
    reference = enc.Encoder()
    target.pc_offset = 0x100
    for pc in (0x10, 0x1_0000, 0x7FFF_FFF0, (1 << 64) - 0x40):
        code = _bytes_of(target, lambda: target.stop_exit(AsmLabel(), pc))
        signed = pc - (1 << 64) if pc >> 63 else pc
        store = reference.encode("mov qword ptr [rbp + %], %", (0x100, signed))
        assert code.startswith(store)


# --------------------------------------------------------------------------------------------
# Code cache writes


def test_code_cache_writes_land_where_reads_find_them():
    buffer = CodeBuffer(4 << 20)
    if not buffer.dual_mapped:
        pytest.skip("no dual mapping here")
    first = buffer.allocate_block(100)
    second = buffer.allocate_block(3000)
    buffer.write(first, bytes(range(100)))
    data = bytes((index * 7) & 0xFF for index in range(3000))
    buffer.write(second, data)
    buffer.write(second + 10, b"\xAA\xBB")       # a patch inside existing code
    assert buffer.read(first, 100) == bytes(range(100))
    assert buffer.read(second, 3000) == data[:10] + b"\xAA\xBB" + data[12:]
    with pytest.raises(ValueError):
        buffer.write(buffer.end - 1, b"\x00\x00")


def test_labels_start_unbound():
    label = AsmLabel()
    assert label.offset is None
    label.offset = 5
    assert AsmLabel().offset is None
