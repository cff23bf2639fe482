"""The translator's speed devices keep its results exact: the persistent encoding cache (never
trusted blindly, harmless when unwritable), the compiled operand extractors and the decode cache
of the RISC-V decoder, the frontend's code read-ahead, and the allocator/encoder fast paths
(identical code with and without the shape cache)."""
from __future__ import annotations

import json
import os
import random
import stat
from collections import namedtuple
from pathlib import Path

import pytest
from elftools.elf.elffile import ELFFile

from guest.errors import GuestFault
from guest.riscv import decode as D
from guest.riscv.cpu import make_globals
from guest.riscv.translate import RiscvFrontend
from host_x86 import encoder as enc
from host_x86.assembler import Assembler
from jit.ir import OPS, Cond

REPO = Path(__file__).resolve().parent.parent
GLOBALS = make_globals()

TEMPLATES = [("mov rax, qword ptr [rbp + %]", (0x48,)), ("mov qword ptr [rbp + %], %", (0x100, 7)),
             ("lea rdx, [r12 + %]", (-0x1234,)), ("movabs rcx, %", (0x1234_5678_9ABC,)),
             ("cmp rbx, %", (1,)), ("mov rbx, r12", ()), ("cqo", ())]


# --------------------------------------------------------------------------------------------
# Persistent encoding cache


def _fill(encoder: enc.Encoder) -> list[bytes]:
    return [encoder.encode(template, numbers) for template, numbers in TEMPLATES]


def test_a_fresh_encoder_reuses_the_saved_shapes_without_keystone(tmp_path):
    path = str(tmp_path / "cache" / "x86-encodings.json")
    first = enc.Encoder(enc.PersistentShapes(path))
    expected = _fill(first)
    assert first.keystone_calls > 0
    first.save_persistent()
    assert os.path.exists(path)
    second = enc.Encoder(enc.PersistentShapes(path))
    assert _fill(second) == expected
    assert second.keystone_calls == 0
    # Other numbers of the same shapes are patched, still without keystone, and are right.
    reference = enc.Encoder()
    for template, numbers in TEMPLATES:
        other = tuple(n + 3 if n > 1 else n for n in numbers)
        assert second.encode(template, other) == reference.encode(template, other)
    assert second.keystone_calls == 0


def _payload_and_header(path: str) -> tuple[dict, dict]:
    header_line, payload_line = Path(path).read_bytes().split(b"\n", 1)
    return json.loads(header_line), json.loads(payload_line)


def _write(path: str, header: dict, payload: dict, checksum: bool = True) -> None:
    body = json.dumps(payload).encode()
    if checksum:
        import hashlib
        header = dict(header, sha256=hashlib.sha256(body).hexdigest())
    Path(path).write_bytes(json.dumps(header).encode() + b"\n" + body)


FIRST_KEY = "mov rax, qword ptr [rbp + %]\ti8"     # the stored shape _fill needs first


@pytest.mark.parametrize("damage", ["flip_byte", "truncate", "format", "keystone",
                                    "field_outside_code", "bad_class", "placeholder_count",
                                    "not_json"])
def test_a_damaged_or_foreign_cache_is_ignored(tmp_path, damage):
    path = str(tmp_path / "x86-encodings.json")
    writer = enc.Encoder(enc.PersistentShapes(path))
    expected = _fill(writer)
    writer.save_persistent()
    header, payload = _payload_and_header(path)
    raw = Path(path).read_bytes()
    if damage == "flip_byte":
        index = raw.index(b'"shapes"') + 20
        Path(path).write_bytes(raw[:index] + bytes([raw[index] ^ 1]) + raw[index + 1:])
    elif damage == "truncate":
        Path(path).write_bytes(raw[:-10])
    elif damage == "format":
        _write(path, dict(header, format=header["format"] + 1), payload)
    elif damage == "keystone":
        _write(path, dict(header, keystone="another build"), payload)
    elif damage == "field_outside_code":
        # (a valid checksum: the entry itself is checked when it is used)
        payload["shapes"][FIRST_KEY] = payload["shapes"][FIRST_KEY].split(" ")[0] + " 40:4"
        _write(path, header, payload)
    elif damage == "bad_class":
        payload["shapes"][FIRST_KEY.replace("i8", "i16")] = payload["shapes"].pop(FIRST_KEY)
        payload["shapes"][FIRST_KEY] = payload["shapes"][FIRST_KEY.replace("i8", "i16")]
        payload["shapes"][FIRST_KEY] += " 0:1"     # two fields for one placeholder
        _write(path, header, payload)
    elif damage == "placeholder_count":
        payload["shapes"][FIRST_KEY] = payload["shapes"][FIRST_KEY] + " 1:1"
        _write(path, header, payload)
    elif damage == "not_json":
        Path(path).write_bytes(b"\x00\xff garbage\nmore")
    reader = enc.Encoder(enc.PersistentShapes(path))
    assert _fill(reader) == expected
    assert reader.keystone_calls > 0          # nothing was taken from the file


@pytest.mark.parametrize("key, stored", [
    (("mov eax, %", ("i16",)), "b878563412 1:4"),          # unknown width class
    (("mov eax, %", ("i32",)), "b878563412 2:4"),          # field past the code
    (("mov eax, %", ("i32",)), "b878563412 1:3"),          # impossible width
    (("mov eax, %", ("=1",)), "b801000000 1:4"),           # a literal has no field
    (("mov eax, %", ("i32", "i8")), "b878563412 1:4 0:1"),  # one placeholder, two numbers
    (("mov eax, %", ("i32",)), "b8" + "00" * 15 + " 1:4"),   # 16 bytes
    (("mov eax, %", ("i32",)), "zz 1:4"),
    (("mov eax, %", ("i32",)), "b878563412"),
])
def test_stored_entries_are_checked(key, stored):
    with pytest.raises((ValueError, TypeError, IndexError)):
        enc._decode_shape(key, stored)


def test_stored_entries_that_pass_the_checks_decode():
    shape = enc._decode_shape(("mov eax, %", ("i32",)), "b878563412 1:4")
    assert shape.patch((0x11223344,)) == bytes.fromhex("b844332211")
    assert enc._decode_plain("cqo", "4899") == bytes.fromhex("4899")
    with pytest.raises(ValueError):
        enc._decode_plain("mov eax, %", "b8")


def test_an_unwritable_cache_directory_is_harmless(tmp_path):
    directory = tmp_path / "ro"
    directory.mkdir()
    directory.chmod(stat.S_IRUSR | stat.S_IXUSR)
    try:
        path = str(directory / "sub" / "x86-encodings.json")
        encoder = enc.Encoder(enc.PersistentShapes(path))
        expected = _fill(encoder)
        encoder.save_persistent()             # must not raise
        assert _fill(encoder) == expected
        if os.geteuid() != 0:                 # root writes anyway
            assert not os.path.exists(path)
    finally:
        directory.chmod(stat.S_IRWXU)
    assert enc.PersistentShapes("/proc/version/x/y.json").save({}, {}) is False


def test_saving_merges_what_another_process_saved(tmp_path):
    path = str(tmp_path / "x86-encodings.json")
    one = enc.Encoder(enc.PersistentShapes(path))
    one.encode(*TEMPLATES[0])
    two = enc.Encoder(enc.PersistentShapes(path))
    two.encode(*TEMPLATES[1])
    one.save_persistent()
    two.save_persistent()
    three = enc.Encoder(enc.PersistentShapes(path))
    three.encode(*TEMPLATES[0])
    three.encode(*TEMPLATES[1])
    assert three.keystone_calls == 0


def test_cache_location_follows_xdg_and_can_be_disabled(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.delenv("TCGJIT_ENCODING_CACHE", raising=False)
    assert enc.default_cache_path() == str(tmp_path / "tcgjit" / "x86-encodings.json")
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/dir")     # ignored, as the spec says
    assert enc.default_cache_path().endswith(os.path.join(".cache", "tcgjit",
                                                          "x86-encodings.json"))
    monkeypatch.setenv("TCGJIT_ENCODING_CACHE", "0")
    assert enc.default_cache_path() is None


def test_encoder_errors_are_unchanged_by_the_caches():
    encoder = enc.Encoder()
    with pytest.raises(enc.EncodingError):
        encoder.encode("mov eax, %, %", (1,))
    with pytest.raises(enc.EncodingError):
        encoder.encode("mov eax, %")
    with pytest.raises(enc.EncodingError):
        encoder.encode("mov eax, ebx", (1,))


def test_assembler_emits_what_the_encoder_encodes():
    encoder = enc.Encoder()
    asm = Assembler(encoder)
    expected = b""
    for _ in range(2):                          # second round: the exact-cache hits
        for template, numbers in TEMPLATES:
            asm.emit(template, *numbers)
            expected += enc.Encoder().encode(template, numbers)
    assert bytes(asm.code) == expected


# --------------------------------------------------------------------------------------------
# Decoder


def test_compiled_operand_extraction_equals_the_fields_own():
    rng = random.Random(7)
    formats = {pattern.format for pattern in D.DECODER.instructions}
    for fmt in formats:
        args_type = namedtuple("Args", fmt.field_names)
        reference = D._reference_args_maker(fmt, args_type)
        compiled = D._compiled_args_maker(fmt, args_type)
        words = [0, 0xFFFF_FFFF, 0xFFFF, 0x8000_0000] + [rng.getrandbits(32) for _ in range(500)]
        for word in words:
            assert compiled(word) == reference(word), (fmt.name, hex(word))


def test_cached_decoding_equals_fresh_decoding():
    rng = random.Random(11)
    decoder = D.Decoder()
    uncached = D.Decoder()
    for _ in range(3000):
        word = rng.getrandbits(32)
        for value in (word, word | 3, word & 0xFFFF):
            first = decoder.decode(value)
            again = decoder.decode(value)
            fresh = uncached._decode(value)
            assert first is again
            assert (first is None) == (fresh is None)
            if first is not None:
                assert (first.pattern, first.args, first.raw) == (fresh.pattern, fresh.args,
                                                                  fresh.raw)


# --------------------------------------------------------------------------------------------
# Frontend read-ahead


def _text_of(path: Path) -> tuple[int, bytes]:
    with open(path, "rb") as file:
        section = ELFFile(file).get_section_by_name(".text")
        return section["sh_addr"], section.data()


@pytest.mark.parametrize("program", ["sort_O2", "strings_O0", "cfeatures_O2"])
def test_read_ahead_translates_exactly_what_instruction_reads_do(program):
    start, text = _text_of(REPO / "tests" / "guest" / "bin" / program)

    def whole(pc: int, size: int) -> bytes:
        if not (start <= pc and pc + size <= start + len(text)):
            raise GuestFault(max(pc, start + len(text)))
        return text[pc - start:pc - start + size]

    def small_reads_only(pc: int, size: int) -> bytes:
        if size > 4:
            raise GuestFault(pc)               # the read-ahead never succeeds
        return whole(pc, size)

    rng = random.Random(program)
    ahead = RiscvFrontend(GLOBALS, whole)
    alone = RiscvFrontend(GLOBALS, small_reads_only)
    pcs = sorted({start + 2 * rng.randrange(len(text) // 2) for _ in range(150)}
                 | {start + len(text) - 2, start + len(text) - 4})
    for pc in pcs:
        results = []
        for frontend in (ahead, alone):
            try:
                block = frontend.translate(pc, 3, 64)
                results.append((block.dump(), block.guest_size, block.n_insns))
            except GuestFault as fault:
                results.append(("fault", fault.args))
        assert results[0] == results[1], hex(pc)


# --------------------------------------------------------------------------------------------
# IR objects used as table keys


def test_op_definitions_and_conditions_hash_by_identity():
    table = {opdef: opdef.name for opdef in OPS.values()}
    assert all(table[opdef] == name for name, opdef in OPS.items())
    assert {cond: cond.value for cond in Cond}[Cond.LTU] == "ltu"
    assert Cond("eq") is Cond.EQ and hash(Cond.EQ) == hash(Cond("eq"))
