"""x86-64 machine code from instruction text, with keystone called once per instruction *shape*.

keystone costs about 25 us per call, far too much per emitted instruction. Instruction text here is
a template in which every number that varies between uses (displacements, immediates, addresses)
is written as `%` and passed separately. The cache key is the template plus the width class of each
number; the first time a key is seen keystone encodes it with sentinel numbers of that class, the
byte offset and width of each number's field are found by encoding again with a second sentinel
whose bytes all differ, and later uses copy the cached bytes and patch the real numbers in.

Branches to labels and to absolute targets are not encoded by keystone at all (it mis-encodes
rel32 targets 2-4 GB away); `jmp_rel32`/`jcc_rel32` below build them, with range checks.
"""
from __future__ import annotations

from typing import Optional

from keystone import KS_ARCH_X86, KS_MODE_64, Ks, KsError

PLACEHOLDER = "%"

# Width classes of a number in instruction text. keystone picks the shortest encoding form for
# the number, so numbers of one class share an encoding layout. 0 and 1 have special forms
# (`[rax + 0]` drops the displacement, `shl rax, 1` has its own opcode): they are encoded as
# literals, i.e. cached under their own value.
_LITERAL_VALUES = (0, 1)
# Two sentinels per class whose field bytes all differ (the second is the bitwise complement of
# the first), so comparing the two encodings shows exactly which bytes hold the number, whatever
# the field width keystone chose (an imm8 sentinel in an imm32 field reads 5a000000 vs a5ffffff).
_SENTINELS = {
    "i8": (0x5A, -0x5B),
    "i32": (0x12345678, -0x12345679),
    "u32": (0x87654321, 0x789ABCDE),     # only meaningful where the field is an imm32 (mov r32, imm)
    "i64": (0x123456789ABCDEF0, -0x123456789ABCDEF1),
}
_FIELD_WIDTHS = (1, 2, 4, 8)
EXACT_CACHE_LIMIT = 200_000


class EncodingError(Exception):
    """An instruction that cannot be encoded, or a branch target out of range."""


def width_class(value: int) -> str:
    """The encoding class of a number: literal 0/1, signed 8 bits, signed 32, unsigned 32, 64."""
    if value >= 1 << 63:
        value -= 1 << 64   # u64 views of negative numbers read as the negative number
    if value in _LITERAL_VALUES:
        return f"={value}"
    if -0x80 <= value <= 0x7F:
        return "i8"
    if -0x8000_0000 <= value <= 0x7FFF_FFFF:
        return "i32"
    if 0 <= value <= 0xFFFF_FFFF:
        return "u32"
    if -(1 << 63) <= value < 1 << 63:
        return "i64"
    raise EncodingError(f"number {value:#x} does not fit 64 bits")


def _format_number(value: int) -> str:
    return f"-{-value:#x}" if value < 0 else f"{value:#x}"


def _fill(template: str, numbers) -> str:
    pieces = template.split(PLACEHOLDER)
    if len(pieces) != len(numbers) + 1:
        raise EncodingError(f"{template!r}: {len(pieces) - 1} placeholders, {len(numbers)} numbers")
    out = [pieces[0]]
    for number, piece in zip(numbers, pieces[1:]):
        out.append(_format_number(number))
        out.append(piece)
    return "".join(out)


class _Shape:
    """The cached encoding of one template + width classes: bytes and where each number goes."""

    __slots__ = ("code", "fields")

    def __init__(self, code: bytes, fields: list[tuple[int, int]]):
        self.code = code
        self.fields = fields   # (byte offset, width) per placeholder; width 0 for a literal


class Encoder:
    """Instruction text -> bytes, with the per-shape cache described in the module docstring."""

    def __init__(self):
        self._ks = Ks(KS_ARCH_X86, KS_MODE_64)
        self._shapes: dict[tuple, _Shape] = {}
        # Exact instructions seen before (template and numbers): most env offsets, exit values
        # and displacements repeat, and a hit skips the patching entirely.
        self._exact: dict[tuple, bytes] = {}
        self.keystone_calls = 0

    def _keystone(self, text: str) -> bytes:
        self.keystone_calls += 1
        try:
            encoding, _ = self._ks.asm(text)
        except KsError as error:
            raise EncodingError(f"keystone cannot encode {text!r}: {error}") from None
        if not encoding:
            raise EncodingError(f"keystone produced no bytes for {text!r}")
        return bytes(encoding)

    def encode(self, template: str, numbers: tuple[int, ...] = ()) -> bytes:
        """Bytes of one instruction; `template` has one `%` per entry of `numbers`."""
        exact_key = (template, numbers)
        code = self._exact.get(exact_key)
        if code is not None:
            return code
        code = self._encode_new(template, numbers)
        if len(self._exact) >= EXACT_CACHE_LIMIT:
            self._exact.clear()
        self._exact[exact_key] = code
        return code

    def _encode_new(self, template: str, numbers: tuple[int, ...]) -> bytes:
        if not numbers:
            return self._keystone(template)
        classes = tuple(map(width_class, numbers))
        key = (template, classes)
        shape = self._shapes.get(key)
        if shape is None:
            shape = self._learn_shape(template, classes)
            self._shapes[key] = shape
        code = bytearray(shape.code)
        for number, (offset, width) in zip(numbers, shape.fields):
            if width:
                code[offset:offset + width] = (number & ((1 << (8 * width)) - 1)).to_bytes(
                    width, "little")
        return bytes(code)

    def _learn_shape(self, template: str, classes: tuple[str, ...]) -> _Shape:
        first = [int(cls[1:]) if cls.startswith("=") else _SENTINELS[cls][0] for cls in classes]
        base = self._keystone(_fill(template, first))
        fields: list[tuple[int, int]] = []
        for index, cls in enumerate(classes):
            if cls.startswith("="):
                fields.append((0, 0))
                continue
            varied = list(first)
            varied[index] = _SENTINELS[cls][1]
            other = self._keystone(_fill(template, varied))
            fields.append(self._locate_field(template, base, other))
        return _Shape(base, fields)

    @staticmethod
    def _locate_field(template: str, base: bytes, other: bytes) -> tuple[int, int]:
        if len(base) != len(other):
            raise EncodingError(f"{template!r}: sentinels of one class encode to different lengths")
        diff = [i for i in range(len(base)) if base[i] != other[i]]
        if not diff or len(diff) not in _FIELD_WIDTHS or diff[-1] - diff[0] + 1 != len(diff):
            raise EncodingError(f"{template!r}: cannot locate the number's field")
        return diff[0], len(diff)

    @property
    def cached_shapes(self) -> int:
        return len(self._shapes) + sum(1 for template, numbers in self._exact if not numbers)


_shared_encoder: Optional[Encoder] = None


def shared_encoder() -> Encoder:
    """One encoder (one cache) for the process: every backend emits the same shapes."""
    global _shared_encoder
    if _shared_encoder is None:
        _shared_encoder = Encoder()
    return _shared_encoder


# --------------------------------------------------------------------------------------------
# Hand-encoded branches

# x86 condition codes (the low nibble of Jcc/SETcc/CMOVcc opcodes).
CONDITION_CODES = {
    "o": 0x0, "no": 0x1, "b": 0x2, "ae": 0x3, "e": 0x4, "ne": 0x5, "be": 0x6, "a": 0x7,
    "s": 0x8, "ns": 0x9, "p": 0xA, "np": 0xB, "l": 0xC, "ge": 0xD, "le": 0xE, "g": 0xF,
}
JMP_REL32_SIZE = 5
JCC_REL32_SIZE = 6
JMP_REL8_SIZE = 2
JCC_REL8_SIZE = 2


def check_rel32(displacement: int) -> int:
    if not -0x8000_0000 <= displacement <= 0x7FFF_FFFF:
        raise EncodingError(f"branch displacement {displacement:#x} does not fit rel32")
    return displacement


def check_rel8(displacement: int) -> int:
    if not -0x80 <= displacement <= 0x7F:
        raise EncodingError(f"branch displacement {displacement} does not fit rel8")
    return displacement


def rel32_bytes(displacement: int) -> bytes:
    return (check_rel32(displacement) & 0xFFFF_FFFF).to_bytes(4, "little")


def jmp_rel32(displacement: int) -> bytes:
    """`jmp rel32`; displacement counted from the end of the 5-byte instruction."""
    return b"\xE9" + rel32_bytes(displacement)


def jcc_rel32(condition: str, displacement: int) -> bytes:
    """`jcc rel32`; displacement counted from the end of the 6-byte instruction."""
    return bytes((0x0F, 0x80 | CONDITION_CODES[condition])) + rel32_bytes(displacement)


def jmp_rel8(displacement: int) -> bytes:
    return bytes((0xEB, check_rel8(displacement) & 0xFF))


def jcc_rel8(condition: str, displacement: int) -> bytes:
    return bytes((0x70 | CONDITION_CODES[condition], check_rel8(displacement) & 0xFF))


def lea_rip_rel32(reg: int, displacement: int) -> bytes:
    """`lea reg64, [rip + rel32]` (7 bytes); displacement from the end of the instruction."""
    rex = 0x48 | (0x04 if reg >= 8 else 0)
    modrm = 0x05 | ((reg & 7) << 3)
    return bytes((rex, 0x8D, modrm)) + rel32_bytes(displacement)


LEA_RIP_SIZE = 7
