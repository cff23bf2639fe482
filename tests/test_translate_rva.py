"""RV64A, translated and interpreted (jit/interp.py), against a model of the spec written here:
every AMO over edge values, LR/SC success and failure paths, the reservation's life, precise
state on faults, and misaligned addresses (the address-misaligned exception: ExitKind.MISALIGNED with
env.pc exact, matching qemu-user's SIGBUS point)."""
from __future__ import annotations

import random
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_translate import (BASE, BLOCK_ID, MASK, SparseMemory, code_bytes,  # noqa: E402
                            enc_i, enc_s, native_comparison, new_env, run, run_code)

from guest.errors import GuestFault  # noqa: E402
from guest.riscv.cpu import (NO_RESERVATION, OFF_INSTRET, OFF_RESERVATION,  # noqa: E402
                             OFF_RESERVATION_VALUE, gpr_offset)
from jit.env import ENV_FAULT_ADDR, ENV_FAULT_HOST_PC, ENV_FAULT_IS_WRITE  # noqa: E402
from jit.exits import ExitKind, decode_exit, encode_exit  # noqa: E402

DATA = 0x300000
AMO_OPCODE = 0x2F
FUNCT5 = {"lr": 0b00010, "sc": 0b00011, "amoswap": 0b00001, "amoadd": 0b00000,
          "amoxor": 0b00100, "amoand": 0b01100, "amoor": 0b01000, "amomin": 0b10000,
          "amomax": 0b10100, "amominu": 0b11000, "amomaxu": 0b11100}
WIDTH_FUNCT3 = {"w": 2, "d": 3}


def enc_amo(name: str, rd: int, rs1: int, rs2: int = 0, aq: int = 0, rl: int = 0) -> int:
    """name like "amoadd.w", "lr.d" (the spec's AMO format)."""
    operation, width = name.split(".")
    return ((FUNCT5[operation] << 27) | (aq << 26) | (rl << 25) | (rs2 << 20) | (rs1 << 15)
            | (WIDTH_FUNCT3[width] << 12) | (rd << 7) | AMO_OPCODE)


# --------------------------------------------------------------------------------------------
# Model


def s64(value: int) -> int:
    value &= MASK
    return value - (1 << 64) if value >> 63 else value


def sign_extend(value: int, bits: int) -> int:
    value &= (1 << bits) - 1
    return (value - (1 << bits) if value >> (bits - 1) else value) & MASK


def amo_model(operation: str, bits: int, memory_value: int, operand: int) -> int:
    """The new memory value (low `bits` bits matter) of AMO<operation> on `bits`-bit data."""
    mask = (1 << bits) - 1
    old, new = memory_value & mask, operand & mask
    signed = lambda v: v - (1 << bits) if v >> (bits - 1) else v   # noqa: E731
    return {
        "amoswap": new,
        "amoadd": old + new,
        "amoxor": old ^ new,
        "amoand": old & new,
        "amoor": old | new,
        "amomin": old if signed(old) < signed(new) else new,
        "amomax": old if signed(old) > signed(new) else new,
        "amominu": min(old, new),
        "amomaxu": max(old, new),
    }[operation] & mask


AMO_OPERATIONS = ["amoswap", "amoadd", "amoxor", "amoand", "amoor", "amomin", "amomax",
                  "amominu", "amomaxu"]
EDGE_VALUES = [0, 1, 2, 0x7F, 0x80, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 0x100000000,
               0x7FFFFFFFFFFFFFFF, 0x8000000000000000, MASK, MASK - 1, 0xFFFFFFFF7FFFFFFF,
               0x123456789ABCDEF0, 0x00000000FFFFFFFE, 0xFFFFFFFF00000001]


def data_memory(initial: bytes = bytes(64)) -> SparseMemory:
    memory = SparseMemory()
    memory.map(DATA, initial)
    return memory


class ReadOnlySparseMemory(SparseMemory):
    """Writes to [DATA, DATA + 64) fault: the load of an AMO succeeds, its store faults."""

    def write(self, addr: int, data: bytes) -> None:
        if DATA <= addr < DATA + 64:
            raise GuestFault(addr)
        super().write(addr, data)


# --------------------------------------------------------------------------------------------
# AMOs


@pytest.mark.parametrize("width", ["w", "d"])
@pytest.mark.parametrize("operation", AMO_OPERATIONS)
def test_amo_over_edge_values(operation, width):
    bits = 32 if width == "w" else 64
    size = bits // 8
    name = f"{operation}.{width}"
    rng = random.Random(name)
    values = EDGE_VALUES + [rng.getrandbits(64) for _ in range(4)]
    register_choices = [(10, 11, 12), (12, 11, 12), (11, 11, 12), (0, 11, 12), (10, 11, 0),
                        (10, 11, 11)]
    for index, (memory_value, operand) in enumerate((m, v) for m in values for v in values):
        rd, rs1, rs2 = register_choices[index % len(register_choices)]
        offset = 8 * (index % 4)            # aligned for both widths
        sentinel = 0xA5A5A5A5A5A5A5A5
        initial = bytearray(sentinel.to_bytes(8, "little") * 8)
        initial[offset:offset + 8] = memory_value.to_bytes(8, "little")
        memory = data_memory(bytes(initial))
        regs = {rs1: DATA + offset, rs2: operand} if rs2 != rs1 else {rs1: DATA + offset}
        effective_operand = regs.get(rs2, 0) if rs2 else 0
        result = run([enc_amo(name, rd, rs1, rs2, aq=index & 1, rl=(index >> 1) & 1)], regs,
                     memory)
        label = (f"{name} x{rd}, x{rs2}, (x{rs1}) mem={memory_value:#x} "
                 f"operand={effective_operand:#x}")
        assert result.kind is ExitKind.CHAIN and result.pc == BASE + 4, label
        expected_memory = bytearray(initial)
        new_value = amo_model(operation, bits, memory_value, effective_operand)
        expected_memory[offset:offset + size] = new_value.to_bytes(size, "little")
        assert memory.read(DATA, 64) == bytes(expected_memory), label
        if rd:
            assert result.x(rd) == sign_extend(memory_value, bits), label
        if rs1 != rd:
            assert result.x(rs1) == DATA + offset, label


def test_amo_orderings_translate_alike():
    words = [enc_amo("amoadd.d", 10, 11, 12, aq, rl) for aq in (0, 1) for rl in (0, 1)]
    bodies = set()
    for word in words:
        result = run([word], {11: DATA, 12: 5}, data_memory())
        bodies.add(tuple(repr(op) for op in result.block.ops if op.name != "insn_start"))
    assert len(bodies) == 1


def test_amo_with_x0_address_is_aligned_and_faults_on_page_zero():
    result = run([enc_amo("amoswap.d", 10, 0, 12)], {10: 77, 12: 1})
    assert result.kind is ExitKind.FAULT and result.env.read_u64(ENV_FAULT_ADDR) == 0
    assert result.x(10) == 77


def test_amo_load_fault_leaves_the_state():
    result = run([enc_i("addi", 5, 0, 1), enc_amo("amoadd.w", 10, 11, 12)],
                 {10: 123, 11: 0x900000, 12: 1}, env_fields={OFF_INSTRET: 50})
    assert result.kind is ExitKind.FAULT
    assert result.env.read_u64(ENV_FAULT_ADDR) == 0x900000
    assert result.env.read_u64(ENV_FAULT_IS_WRITE) == 0
    assert (result.x(5), result.x(10)) == (1, 123)


def test_amo_store_fault_does_not_write_rd():
    memory = ReadOnlySparseMemory()
    memory.map(DATA, (0x1122334455667788).to_bytes(8, "little") + bytes(56))
    result = run([enc_amo("amoswap.d", 10, 11, 12)], {10: 123, 11: DATA, 12: 9}, memory)
    assert result.kind is ExitKind.FAULT
    assert result.env.read_u64(ENV_FAULT_IS_WRITE) == 1
    assert result.env.read_u64(ENV_FAULT_ADDR) == DATA
    assert result.x(10) == 123                      # the loaded value never reached rd
    assert memory.read(DATA, 8) == (0x1122334455667788).to_bytes(8, "little")


# --------------------------------------------------------------------------------------------
# Misaligned addresses: the address-misaligned exception, precise


MISALIGNED_CASES = [
    ("amoadd.w", 2, True), ("amoswap.w", 1, True), ("amoor.d", 4, True), ("amomaxu.d", 7, True),
    ("lr.w", 2, False), ("lr.d", 4, False),
]


@pytest.mark.parametrize("name,misalignment,is_write", MISALIGNED_CASES)
def test_misaligned_atomic_exits_with_a_precise_fault(name, misalignment, is_write):
    address = DATA + 8 + misalignment
    rs2 = 0 if name.startswith("lr") else 12       # LR's rs2 field must be 0
    words = [enc_i("addi", 5, 0, 1), enc_i("addi", 6, 0, 2), enc_amo(name, 10, 11, rs2),
             enc_i("addi", 7, 0, 3)]
    memory = data_memory(bytes(range(64)))
    result = run(words, {10: 123, 11: address, 12: 0xFF},
                 memory, env_fields={OFF_INSTRET: 1000})
    assert result.kind is ExitKind.MISALIGNED
    assert result.pc == BASE + 8                                 # the atomic instruction
    assert result.env.read_u64(ENV_FAULT_ADDR) == address
    assert result.env.read_u64(ENV_FAULT_IS_WRITE) == int(is_write)
    assert result.env.read_u64(ENV_FAULT_HOST_PC) == 0           # env.pc is exact
    assert (result.x(5), result.x(6), result.x(7), result.x(10)) == (1, 2, 0, 123)
    assert result.env.read_u64(OFF_INSTRET) == 1002               # the two addi retired
    assert memory.read(DATA, 64) == bytes(range(64))
    assert result.env.read_u64(OFF_RESERVATION) == NO_RESERVATION
    # The exit is out of line: after the block's main exit.
    names = [op.name for op in result.block.ops]
    assert names.index("set_label") > names.index("exit_tb")


def test_aligned_atomic_in_the_same_block_runs_to_the_end():
    words = [enc_amo("amoadd.d", 10, 11, 12), enc_i("addi", 7, 0, 3)]
    result = run(words, {11: DATA + 8, 12: 5}, data_memory(), env_fields={OFF_INSTRET: 10})
    assert (result.kind, result.pc, result.x(7)) == (ExitKind.CHAIN, BASE + 8, 3)
    assert result.env.read_u64(OFF_INSTRET) == 12


# --------------------------------------------------------------------------------------------
# LR/SC


def reservation(result) -> tuple[int, int]:
    return (result.env.read_u64(OFF_RESERVATION), result.env.read_u64(OFF_RESERVATION_VALUE))


@pytest.mark.parametrize("width", ["w", "d"])
def test_lr_loads_sign_extended_and_reserves(width):
    value = 0x80000000_87654321
    memory = data_memory(value.to_bytes(8, "little") + bytes(56))
    result = run([enc_amo(f"lr.{width}", 11, 11)], {11: DATA}, memory)
    loaded = 0xFFFFFFFF87654321 if width == "w" else value
    assert result.x(11) == loaded                     # rd == rs1: the address was used first
    assert reservation(result) == (DATA, loaded)


@pytest.mark.parametrize("width", ["w", "d"])
def test_lr_then_sc_succeeds_once(width):
    memory = data_memory()
    words = [enc_amo(f"lr.{width}", 10, 11), enc_amo(f"sc.{width}", 12, 11, 13),
             enc_amo(f"sc.{width}", 14, 11, 15)]
    result = run(words, {11: DATA + 8, 13: 0x1111111122222222, 15: 0x3333},
                 memory)
    size = 4 if width == "w" else 8
    assert (result.x(12), result.x(14)) == (0, 1)
    assert memory.read(DATA + 8, 8) == (0x1111111122222222).to_bytes(8, "little")[:size] \
        + bytes(8 - size)
    assert reservation(result)[0] == NO_RESERVATION


def test_sc_without_reservation_fails_without_touching_memory():
    """As in qemu-user: no access, so no fault even at an unmapped or misaligned address."""
    for address in (DATA, 0, 0x900000, DATA + 3):
        memory = data_memory()
        result = run([enc_amo("sc.d", 10, 11, 12)], {10: 55, 11: address, 12: 7}, memory)
        assert (result.kind, result.x(10)) == (ExitKind.CHAIN, 1), hex(address)
        assert memory.read(DATA, 64) == bytes(64)


def test_sc_to_another_address_fails_and_clears_the_reservation():
    memory = data_memory()
    words = [enc_amo("lr.d", 10, 11), enc_amo("sc.d", 12, 13, 14), enc_amo("sc.d", 15, 11, 14)]
    result = run(words, {11: DATA, 13: DATA + 8, 14: 9}, memory)
    assert (result.x(12), result.x(15)) == (1, 1)
    assert memory.read(DATA, 16) == bytes(16)
    assert reservation(result)[0] == NO_RESERVATION


def test_sc_fails_when_memory_changed_since_lr():
    memory = data_memory()
    words = [enc_amo("lr.d", 10, 11), enc_s("sd", 12, 11, 0), enc_amo("sc.d", 13, 11, 14)]
    result = run(words, {11: DATA, 12: 5, 14: 9}, memory)
    assert result.x(13) == 1
    assert memory.read(DATA, 8) == (5).to_bytes(8, "little")


def test_sc_succeeds_when_memory_was_rewritten_with_the_same_value():
    """The QEMU-style compare: the reservation holds the value, not a coherence granule."""
    memory = data_memory((42).to_bytes(8, "little") + bytes(56))
    words = [enc_amo("lr.d", 10, 11), enc_s("sd", 10, 11, 0), enc_amo("sc.d", 13, 11, 14)]
    result = run(words, {11: DATA, 14: 9}, memory)
    assert result.x(13) == 0 and memory.read(DATA, 8) == (9).to_bytes(8, "little")


def test_reservation_survives_across_blocks_and_is_cleared_by_sc():
    memory = data_memory()
    first = run([enc_amo("lr.w", 10, 11)], {11: DATA + 4}, memory)
    assert reservation(first) == (DATA + 4, 0)
    env = first.env
    env.write_u64(gpr_offset(13), 0x1234567877)
    second = run_code(code_bytes([enc_amo("sc.w", 12, 11, 13)]), memory=memory, pc=BASE + 0x100,
                      env=env)
    assert second.x(12) == 0
    assert memory.read(DATA, 12) == bytes(4) + (0x34567877).to_bytes(4, "little") + bytes(4)
    assert reservation(second)[0] == NO_RESERVATION


def test_sc_rd_aliases_the_value_register():
    memory = data_memory()
    words = [enc_amo("lr.d", 10, 11), enc_amo("sc.d", 12, 11, 12)]
    result = run(words, {11: DATA, 12: 0xABCDEF}, memory)
    assert result.x(12) == 0 and memory.read(DATA, 8) == (0xABCDEF).to_bytes(8, "little")


def test_sc_with_a_reservation_at_a_misaligned_address_faults():
    """A reservation for the address (here LR.W's 4-aligned one) but SC.D needs 8: misaligned,
    as qemu-user (its cmpxchg checks alignment once the address matches)."""
    memory = data_memory()
    words = [enc_amo("lr.w", 10, 11), enc_amo("sc.d", 12, 11, 13)]
    result = run(words, {11: DATA + 4, 12: 77}, memory)
    assert result.kind is ExitKind.MISALIGNED and result.pc == BASE + 4
    assert result.env.read_u64(ENV_FAULT_ADDR) == DATA + 4
    assert result.env.read_u64(ENV_FAULT_IS_WRITE) == 1
    assert result.x(12) == 77
    assert reservation(result)[0] == DATA + 4         # the SC did not happen


def test_sc_store_fault_leaves_rd_and_the_reservation():
    memory = ReadOnlySparseMemory()
    memory.map(DATA, bytes(64))
    env_fields = {OFF_RESERVATION: DATA, OFF_RESERVATION_VALUE: 0}
    result = run([enc_amo("sc.d", 10, 11, 12)], {10: 5, 11: DATA, 12: 1}, memory,
                 env_fields=env_fields)
    assert result.kind is ExitKind.FAULT and result.env.read_u64(ENV_FAULT_IS_WRITE) == 1
    assert result.x(10) == 5 and reservation(result) == (DATA, 0)


def test_a_new_env_holds_no_reservation():
    assert new_env().read_u64(OFF_RESERVATION) == NO_RESERVATION
    result = run([enc_amo("sc.d", 10, 0, 12)], {12: 1})   # SC to address 0: no reservation
    assert (result.kind, result.x(10)) == (ExitKind.CHAIN, 1)


# --------------------------------------------------------------------------------------------
# Native code agrees with the interpreter


def test_native_atomics_agree_with_the_interpreter():
    rng = random.Random(31)
    initial = b"".join(rng.choice(EDGE_VALUES).to_bytes(8, "little") for _ in range(8))
    for name in [f"{operation}.{width}" for operation in AMO_OPERATIONS for width in "wd"]:
        words = [enc_amo(name, 10, 11, 12), enc_amo(name, 13, 14, 13), enc_amo(name, 0, 11, 12)]
        regs = {11: DATA + 8, 12: rng.choice(EDGE_VALUES), 13: rng.choice(EDGE_VALUES),
                14: DATA + 16}
        value, env = native_comparison().check(code_bytes(words), DATA, initial, regs)
        assert value == encode_exit(ExitKind.CHAIN, 0, BLOCK_ID), name


@pytest.mark.parametrize("words,regs,kind", [
    # LR/SC success then failure, a reservation elsewhere, a changed value
    ([enc_amo("lr.d", 10, 11), enc_amo("sc.d", 12, 11, 13), enc_amo("sc.d", 14, 11, 13)],
     {11: DATA, 13: 0x55}, ExitKind.CHAIN),
    ([enc_amo("lr.w", 10, 11), enc_amo("sc.w", 12, 15, 13)], {11: DATA, 13: 5, 15: DATA + 8},
     ExitKind.CHAIN),
    ([enc_amo("lr.w", 10, 11), enc_s("sw", 13, 11, 0), enc_amo("sc.w", 12, 11, 13)],
     {11: DATA + 4, 13: 7}, ExitKind.CHAIN),
    # misaligned: the out-of-line exit, with instret rewound
    ([enc_i("addi", 5, 0, 1), enc_amo("amoadd.d", 10, 11, 12), enc_i("addi", 6, 0, 1)],
     {11: DATA + 4, 12: 1}, ExitKind.MISALIGNED),
    ([enc_amo("lr.w", 10, 11), enc_amo("sc.d", 12, 11, 13)], {11: DATA + 4},
     ExitKind.MISALIGNED),
    # a host fault on the load
    ([enc_i("addi", 5, 0, 1), enc_amo("amoswap.w", 10, 11, 12)], {10: 3, 11: 0x900000},
     ExitKind.FAULT),
])
def test_native_lr_sc_and_faults_agree_with_the_interpreter(words, regs, kind):
    initial = bytes(range(1, 65))
    value, env = native_comparison().check(code_bytes(words), DATA, initial, regs,
                                           env_fields={OFF_INSTRET: 100})
    assert decode_exit(value)[0] is kind


def test_native_amo_store_fault_on_a_read_only_page():
    value, env = native_comparison().check(code_bytes([enc_amo("amoadd.d", 10, 11, 12)]), DATA,
                                           bytes(64), {10: 9, 11: DATA, 12: 1},
                                           read_only_data=True)
    assert decode_exit(value)[0] is ExitKind.FAULT
    assert env.read_u64(ENV_FAULT_IS_WRITE) == 1 and env.read_u64(gpr_offset(10)) == 9
