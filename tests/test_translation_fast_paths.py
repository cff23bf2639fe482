"""The translation-speed shortcuts give exactly what the general paths give: the encoder's
two-field patching and uncached encoding, the x86 target's move/load/store byte caches and kept
instruction texts, the single-pass dead-code removal (backward branches included), the
frontend's decode-cache probe and the optimizer's lazily made constants."""
from __future__ import annotations

import random

import pytest

from guest.riscv import decode as D
from guest.riscv.cpu import ENV_ARCH_SIZE, make_globals
from host_x86 import encoder as enc
from host_x86 import regs as R
from host_x86.isel import X86Target
from host_x86.assembler import spill_slot_offset
from jit import emit as E
from jit.cpustate import CpuEnv
from jit.interp import run_block
from jit.ir import Cond
from jit.optimize import optimize, remove_dead_code
from jit.regalloc import Imm, Location

G = make_globals()
A0, A1, A2 = (G.by_name[name] for name in ("a0", "a1", "a2"))

# Numbers of every width class the encoder distinguishes.
NUMBERS = [0, 1, -1, 0x7F, -0x80, 0x80, -0x81, 0x1234, -0x1234, 0x7FFF_FFFF, -0x8000_0000,
           0x8000_0000, 0xFFFF_FFFF]


def _two_number_cases():
    rng = random.Random(5)
    templates = ["mov qword ptr [rbp + %], %", "mov qword ptr [rsp + %], %",
                 "mov dword ptr [r14 + rbx + %], %", "imul r12, r13, %"]
    cases = []
    for template in templates:
        for _ in range(12):
            count = template.count("%")
            numbers = tuple(rng.choice(NUMBERS[:11]) for _ in range(count))
            cases.append((template, numbers))
    return cases


@pytest.mark.parametrize("template, numbers", _two_number_cases())
def test_patched_encodings_equal_keystone(template, numbers):
    """A shape learned from one pair of numbers, patched with other numbers of the same
    classes (the two-field fast path), gives keystone's own encoding."""
    learner = enc.Encoder()
    classes = tuple(enc.width_class(n) for n in numbers)
    learner.encode(template, numbers)
    rng = random.Random(str(numbers))
    reference = enc.Encoder()
    for _ in range(5):
        other = tuple(rng.choice([m for m in NUMBERS if enc.width_class(m) == cls] or [n])
                      for n, cls in zip(numbers, classes))
        expected = reference._keystone(enc._fill(template, other))
        assert learner.encode_uncached(template, other) == expected
        assert learner.encode(template, other) == expected


def test_uncached_encoding_leaves_the_exact_cache_alone():
    encoder = enc.Encoder()
    code = encoder.encode_uncached("mov eax, %", (0x12345,))
    assert code == enc.Encoder().encode("mov eax, %", (0x12345,))
    assert "mov eax, %" not in encoder._exact


class _Runtime:
    epilogue_address = 0x1000
    read_fault_tail_address = 0x2000
    write_fault_tail_address = 0x3000


def _target() -> X86Target:
    return X86Target(enc.Encoder(), _Runtime(), 1 << 38, lambda helper: 0, 0x4000)


def _bytes_of(target: X86Target, emit) -> bytes:
    start = len(target.asm.code)
    emit()
    return bytes(target.asm.code[start:])


def test_cached_moves_loads_and_stores_are_the_encodings_of_their_text():
    target = _target()
    reference = enc.Encoder()
    locations = [Location(True, 0x10), Location(True, 0x218), Location(False, 0),
                 Location(False, 40)]
    for _ in range(2):                       # the second round takes the cached bytes
        for dst in R.ALLOCATION_ORDER:
            for src in R.ALLOCATION_ORDER[:4]:
                assert _bytes_of(target, lambda: target.emit_mov(dst, src)) == \
                    reference.encode(f"mov {R.r64(dst)}, {R.r64(src)}")
            for location in locations:
                base, offset = (("rbp", location.offset) if location.in_env
                                else ("rsp", spill_slot_offset(location.offset)))
                assert _bytes_of(target, lambda: target.emit_load(dst, location)) == \
                    reference.encode(f"mov {R.r64(dst)}, qword ptr [{base} + %]", (offset,))
                assert _bytes_of(target, lambda: target.emit_store(dst, location)) == \
                    reference.encode(f"mov qword ptr [{base} + %], {R.r64(dst)}", (offset,))
    for value in (0, 5, 0x1_0000, 0x7FFF_FFFF, (1 << 64) - 8):
        for location in locations:
            base, offset = (("rbp", location.offset) if location.in_env
                            else ("rsp", spill_slot_offset(location.offset)))
            code = _bytes_of(target, lambda: target.emit_store_imm(value, location))
            signed = value - (1 << 64) if value >> 63 else value
            assert code == reference.encode(f"mov qword ptr [{base} + %], %", (offset, signed))
    assert target.emit_store_imm(1 << 40, locations[0]) is False


def test_compares_use_the_texts_they_always_used():
    target = _target()
    reference = enc.Encoder()
    for a in R.ALLOCATION_ORDER:
        assert _bytes_of(target, lambda: target.compare(a, Imm(0))) == \
            reference.encode(f"test {R.r64(a)}, {R.r64(a)}")
        assert _bytes_of(target, lambda: target.compare(a, Imm(7))) == \
            reference.encode(f"cmp {R.r64(a)}, %", (7,))
        for b in R.ALLOCATION_ORDER[:3]:
            assert _bytes_of(target, lambda: target.compare(a, b)) == \
                reference.encode(f"cmp {R.r64(a)}, {R.r64(b)}")


# --------------------------------------------------------------------------------------------
# Dead-code removal in one pass, and again when a backward branch needs it


def test_a_value_read_only_around_a_backward_branch_is_kept():
    E.begin_block(G, 0)
    counter, carried = E.new_temp(), E.new_temp()
    E.gen_movi(counter, 3)
    E.gen_movi(carried, 0)
    top = E.new_label()
    E.gen_set_label(top)
    E.gen_add(A0, A0, carried)                # the value of the previous iteration
    E.gen_add(carried, A1, E.const(1))        # read only by the next iteration
    E.gen_sub(counter, counter, E.const(1))
    E.gen_brcond(Cond.NE, counter, E.const(0), top)
    unused = E.new_temp()
    E.gen_add(unused, A1, A2)                 # never read: removed
    E.gen_exit_tb(7)
    block = E.end_block()
    remove_dead_code(block)
    names = [op.name for op in block.ops]
    assert names == ["mov", "mov", "set_label", "add", "add", "sub", "brcond", "exit_tb"]
    assert top.refs == 1
    env = CpuEnv(ENV_ARCH_SIZE)
    env.write_u64(A0.offset, 100)
    env.write_u64(A1.offset, 10)
    assert run_block(block, env, memory=None) == 7
    assert env.read_u64(A0.offset) == 122


def test_forward_branches_need_no_second_pass(monkeypatch):
    from jit import optimize as O
    passes = []
    real_pass = O._dce_pass

    def counting_pass(block, live_at_label):
        passes.append(1)
        return real_pass(block, live_at_label)

    monkeypatch.setattr(O, "_dce_pass", counting_pass)
    E.begin_block(G, 0)
    skip = E.new_label()
    value = E.new_temp()
    E.gen_add(value, A1, E.const(4))
    E.gen_brcond(Cond.EQ, A2, E.const(0), skip)
    E.gen_mov(A0, value)
    E.gen_set_label(skip)
    E.gen_mov(A1, value)                      # read after the label: live across the branch
    E.gen_exit_tb(0)
    block = E.end_block()
    O.remove_dead_code(block)
    assert passes == [1]
    assert [op.name for op in block.ops][0] == "add"


def test_no_unused_constants_are_made_by_the_optimizer():
    E.begin_block(G, 0)
    E.gen_add(A0, A1, A2)
    E.gen_exit_tb(0)
    block = E.end_block()
    temps_before = len(block.temps)
    optimize(block)
    assert len(block.temps) == temps_before
    # ... but an identity that needs one still gets it.
    E.begin_block(G, 0)
    E.gen_xor(A0, A1, A1)
    E.gen_exit_tb(0)
    block = optimize(E.end_block())
    assert block.ops[0].name == "mov" and block.ops[0].ins[0].is_const
    assert block.ops[0].ins[0].value == 0


# --------------------------------------------------------------------------------------------
# The frontend's probe of the decode cache


def test_decode_cache_probe_agrees_with_decode():
    decoder = D.Decoder()
    rng = random.Random(3)
    for _ in range(2000):
        word = rng.getrandbits(32)
        word = word if word & 3 == 3 else word & 0xFFFF
        assert decoder.cached(word) is None or decoder.cached(word) is decoder.decode(word)
        decoded = decoder.decode(word)
        assert decoder.cached(word) is decoded
