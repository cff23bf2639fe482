"""The frontend's translation-speed shortcuts give exactly what the general paths give: the
word-keyed caches (dispatch, loop-scan landmarks) follow guest code that changes between
translations, the inlined fetch reads the same instructions at fetch-window edges, the loop
scan agrees with a plain decode of each instruction, translations leave no cyclic garbage, and
the value emitters still reject malformed ops."""
from __future__ import annotations

import gc

import pytest

from guest.riscv.cpu import make_globals
from guest.riscv.decode import DECODER
from guest.riscv.insn_table import FMT_B, FMT_C_BRANCH, FMT_C_J, FMT_C_JALR, FMT_C_JR, FMT_J
from guest.riscv.translate import RiscvFrontend
from jit import emit as E

from tests.test_translate import (BASE, SparseMemory, code_bytes, enc_b, enc_i, enc_jal, enc_r,
                                  enc_s)

GLOBALS = make_globals()
C_NOP = 0x0001                  # c.nop (c.addi x0, 0)
C_ADDI_A0_1 = 0x0505            # c.addi a0, 1


def _memory_with(code: bytes, at: int = BASE) -> SparseMemory:
    memory = SparseMemory()
    memory.map(at & ~0xFFF, bytes(0x2000))
    memory.write(at, code)
    return memory


def _guest_ops(block) -> list[str]:
    return [str(op) for op in block.ops]


def test_a_rewritten_instruction_is_translated_anew():
    """The caches are keyed by instruction word, not by pc: code that changes between two
    translations of the same pc is translated as it is now (a pc-keyed cache would replay the
    old instruction)."""
    memory = _memory_with(code_bytes([enc_i("addi", 10, 10, 1), enc_jal(0, 0)]))
    frontend = RiscvFrontend(GLOBALS, memory.read)
    first = _guest_ops(frontend.translate(BASE))
    memory.write(BASE, code_bytes([enc_r("sub", 10, 11, 12)]))
    second = _guest_ops(frontend.translate(BASE))
    fresh = _guest_ops(RiscvFrontend(GLOBALS, memory.read).translate(BASE))
    assert second == fresh
    assert second != first
    assert any(text.startswith("sub ") for text in second)


def test_a_rewritten_loop_body_is_scanned_anew():
    """The loop-body scan reads the code as it is at each translation: a back edge that is
    rewritten into a forward branch no longer makes the block a loop body."""
    loop = [enc_i("addi", 10, 10, 1),
            enc_b("beq", 11, 0, 12),                  # forward: the scan starts after it
            enc_i("addi", 12, 12, 1),
            enc_b("bne", 10, 13, -12)]                # back to BASE
    memory = _memory_with(code_bytes(loop + [enc_jal(0, 0)]))
    frontend = RiscvFrontend(GLOBALS, memory.read)
    looping = frontend.translate(BASE)
    assert any(op.name == "set_label" for op in looping.ops[:1])     # the loop head
    memory.write(BASE + 12, code_bytes([enc_b("bne", 10, 13, 8)]))
    rewritten = _guest_ops(frontend.translate(BASE))
    assert rewritten == _guest_ops(RiscvFrontend(GLOBALS, memory.read).translate(BASE))
    assert rewritten != _guest_ops(looping)


def _reference_back_edge_follows(memory: SparseMemory, start: int, pc: int, limit: int) -> bool:
    """back_edge_follows's definition, decoding every instruction on its own."""
    page_end = (pc | 0xFFF) + 1
    insn_pc = start
    for _ in range(min(limit, RiscvFrontend.LOOP_SCAN_INSNS)):
        low = int.from_bytes(memory.read(insn_pc, 2), "little")
        size = 4 if low & 3 == 3 else 2
        if insn_pc + size > page_end:
            return False
        word = int.from_bytes(memory.read(insn_pc, size), "little")
        insn = DECODER.decode(word)
        if insn is None:
            return False
        fmt = insn.pattern.format
        if fmt is FMT_B or fmt is FMT_C_BRANCH:
            if insn_pc + insn.args.imm == pc:
                return True
        elif fmt in (FMT_J, FMT_C_J, FMT_C_JR, FMT_C_JALR):
            return False
        insn_pc += size
    return False


def _halfwords(code: bytes) -> list[int]:
    return [int.from_bytes(code[i:i + 2], "little") for i in range(0, len(code), 2)]


@pytest.mark.parametrize("seed", range(40))
def test_loop_scan_agrees_with_plain_decoding(seed):
    """Random mixes of 32-bit and compressed instructions, branches back and forward, jumps and
    illegal words, scanned from every instruction: the landmark cache and the inlined window
    reads give the plain scan's answer (windows are crossed: the code spans 300 bytes)."""
    import random
    rng = random.Random(seed)
    pc = BASE + 0xE00
    chunks: list[bytes] = []
    offset = 0
    while offset < 300:
        kind = rng.randrange(10)
        if kind < 4:
            chunk = enc_i("addi", rng.randrange(32), rng.randrange(32),
                          rng.randrange(-2048, 2048)).to_bytes(4, "little")
        elif kind < 6:
            chunk = rng.choice([C_NOP, C_ADDI_A0_1]).to_bytes(2, "little")
        elif kind < 8:
            target = rng.choice([0, -offset, 8, -4])
            back = -offset if rng.random() < 0.6 else target
            chunk = enc_b("bne", 10, 11, back & ~1).to_bytes(4, "little")
        elif kind == 8:
            chunk = enc_s("sd", 10, 2, 8).to_bytes(4, "little")
        else:
            chunk = rng.choice([enc_jal(0, 16).to_bytes(4, "little"), b"\0\0\0\0"])
        chunks.append(chunk)
        offset += len(chunk)
    code = b"".join(chunks)
    memory = _memory_with(code, pc)
    frontend = RiscvFrontend(GLOBALS, memory.read)
    frontend.translate(pc)          # sets up the fetch window as a translation does
    starts = [pc]
    for chunk in chunks:
        starts.append(starts[-1] + len(chunk))
    for start in starts[1:-1]:
        for limit in (3, 32):
            assert frontend.back_edge_follows(start, pc, limit) == \
                _reference_back_edge_follows(memory, start, pc, limit), (start, limit)


def test_instructions_straddling_the_fetch_window_are_read_whole():
    """A block longer than the fetch window, with a 32-bit instruction across every window
    edge (a compressed instruction first shifts them by two bytes)."""
    body = code_bytes([enc_i("addi", 11, 11, 3)] * 80)
    code = C_ADDI_A0_1.to_bytes(2, "little") + body + code_bytes([enc_jal(0, 0)])
    memory = _memory_with(code)
    block = RiscvFrontend(GLOBALS, memory.read).translate(BASE)
    starts = [op.consts[0] for op in block.ops if op.name == "insn_start"]
    assert starts == [BASE] + [BASE + 2 + 4 * i for i in range(81)]
    assert block.guest_size == len(code)            # (the jump ends the block)


def test_translations_leave_no_cyclic_garbage():
    """Out-of-line exits are closures over the translation context: once emitted they are
    dropped, so a translation is freed by reference counting alone."""
    code = code_bytes([enc_b("beq", 10, 11, 8),                 # a side exit (loop body)
                       enc_i("addi", 10, 10, 1),
                       enc_b("bne", 10, 12, -8),                # a back edge: loop exit
                       enc_jal(0, 0)])
    memory = _memory_with(code)
    frontend = RiscvFrontend(GLOBALS, memory.read)
    gc.collect()
    gc.disable()
    try:
        for _ in range(3):
            block = frontend.translate(BASE)
            assert any(op.name == "set_label" for op in block.ops)
        del block
        assert gc.collect() == 0
    finally:
        gc.enable()


@pytest.mark.parametrize("emit", [
    lambda a: E.gen_add(a, a),                  # an input missing
    lambda a: E.gen_add(a, a, a, a),            # one too many
    lambda a: E.gen_mov(a),
    lambda a: E.gen_mov(a, 5),                  # not a temp
    lambda a: E.gen_neg(E.const(1), a),         # a constant output
    lambda a: E.gen_sub(a, a, None),
])
def test_value_emitters_reject_malformed_ops(emit):
    E.begin_block(GLOBALS)
    try:
        with pytest.raises(ValueError):
            emit(GLOBALS.by_name["a0"])
        assert E.current_block().ops == []
    finally:
        E.end_block()


def test_constants_are_one_temp_per_value_and_wrap_to_u64():
    E.begin_block(GLOBALS)
    try:
        first = E.const(-1)
        assert first is E.const((1 << 64) - 1) is E.current_block().const(-1)
        assert first.is_const and first.value == (1 << 64) - 1
        assert E.current_block().temps[first.index] is first
    finally:
        E.end_block()
