"""x86-64 machine code from instruction text, with keystone called once per instruction *shape*.

keystone costs about 25 us per call, far too much per emitted instruction. Instruction text here is
a template in which every number that varies between uses (displacements, immediates, addresses)
is written as `%` and passed separately. The cache key is the template plus the width class of each
number; the first time a key is seen keystone encodes it with sentinel numbers of that class, the
byte offset and width of each number's field are found by encoding again with a second sentinel
whose bytes all differ, and later uses copy the cached bytes and patch the real numbers in.

Branches to labels and to absolute targets are not encoded by keystone at all (it mis-encodes
rel32 targets 2-4 GB away); `jmp_rel32`/`jcc_rel32` below build them, with range checks.

The shapes learned (and the encodings of number-free instructions) are kept across runs in a small
file under $XDG_CACHE_HOME/tcgjit (default ~/.cache/tcgjit) by the process-wide encoder, so that a
fresh process calls keystone only for shapes no earlier run needed (see `PersistentShapes`).
keystone itself is imported on the first call it is needed for.
"""
from __future__ import annotations

import atexit
import hashlib
import json
import os
import tempfile
from typing import Optional

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


def fits_s32(value: int) -> bool:
    """Does the u64 value (any int, taken mod 2**64) equal a sign-extended 32-bit immediate?"""
    value &= (1 << 64) - 1
    return value <= 0x7FFF_FFFF or value >= (1 << 64) - 0x8000_0000


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


_FIELD_MASKS = {1: 0xFF, 2: 0xFFFF, 4: 0xFFFF_FFFF, 8: (1 << 64) - 1}


# Width classes by number (1-based, so that packing them per number below keeps the count of
# numbers in the key): the encoder's shape cache is keyed by (template, packed class codes),
# which hashes much faster than a tuple of class names.
_CLASS_NAMES_BY_CODE = (None, "=0", "=1", "i8", "i32", "u32", "i64")
_CLASS_CODES = {name: code for code, name in enumerate(_CLASS_NAMES_BY_CODE) if name}
_CLASS_BITS = 3


def _class_code(value: int) -> int:
    """The code of width_class(value), with the common small numbers first."""
    if 0x7F >= value >= -0x80:
        return 1 if value == 0 else 2 if value == 1 else 3
    if 0x7FFF_FFFF >= value >= -0x8000_0000:
        return 4
    return _CLASS_CODES[width_class(value)]


def _class_codes(numbers) -> int:
    """The width-class codes of the numbers packed into one int (the shape cache's key)."""
    code = 0
    shift = 0
    for number in numbers:
        code |= _class_code(number) << shift
        shift += _CLASS_BITS
    return code


_CLASSES_OF_CODE: dict[tuple[int, int], tuple[str, ...]] = {}


def _classes_of_code(code: int, count: int) -> tuple[str, ...]:
    """The class names packed in `code` for `count` numbers."""
    classes = _CLASSES_OF_CODE.get((code, count))
    if classes is None:
        classes = _CLASSES_OF_CODE[(code, count)] = tuple(
            _CLASS_NAMES_BY_CODE[code >> (_CLASS_BITS * index) & 7] for index in range(count))
    return classes


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

    __slots__ = ("code", "fields", "_single", "_double", "_pieces")

    def __init__(self, code: bytes, fields: list[tuple[int, int]]):
        self.code = code
        self.fields = fields   # (byte offset, width) per placeholder; width 0 for a literal
        self._prepare()

    def _prepare(self) -> None:
        """How `patch` rebuilds the code: with one field, (index, prefix, width, mask, suffix);
        else the code's pieces in order, literal bytes or (index, width, mask), when the
        fields do not overlap (both None: patch field by field)."""
        self._single = None
        self._double = None
        self._pieces = None
        code = self.code
        fields = self.fields
        if len(fields) == 1 and fields[0][1]:      # the common shape, without the general sort
            offset, width = fields[0]
            self._single = (0, code[:offset], width, _FIELD_MASKS[width], code[offset + width:])
            return
        patched = sorted((offset, width, index)
                         for index, (offset, width) in enumerate(self.fields) if width)
        end = 0
        pieces: list = []
        for offset, width, index in patched:
            if offset < end:
                return          # overlapping fields: the general loop
            if offset > end:
                pieces.append(code[end:offset])
            pieces.append((index, width, _FIELD_MASKS[width]))
            end = offset + width
        if end < len(code):
            pieces.append(code[end:])
        if len(patched) == 1:
            offset, width, index = patched[0]
            self._single = (index, code[:offset], width, _FIELD_MASKS[width],
                            code[offset + width:])
        elif len(patched) == 2:     # e.g. a displacement and an immediate
            (offset, width, index), (offset2, width2, index2) = patched
            self._double = (index, code[:offset], width, _FIELD_MASKS[width],
                            code[offset + width:offset2], index2, width2, _FIELD_MASKS[width2],
                            code[offset2 + width2:])
        else:
            self._pieces = pieces

    def patch(self, numbers: tuple[int, ...]) -> bytes:
        """The code with `numbers` written into their fields (little-endian, truncated)."""
        single = self._single
        if single is not None:
            index, prefix, width, mask, suffix = single
            return prefix + (numbers[index] & mask).to_bytes(width, "little") + suffix
        double = self._double
        if double is not None:
            index, prefix, width, mask, middle, index2, width2, mask2, suffix = double
            return (prefix + (numbers[index] & mask).to_bytes(width, "little") + middle
                    + (numbers[index2] & mask2).to_bytes(width2, "little") + suffix)
        pieces = self._pieces
        if pieces is not None:
            return b"".join([piece if piece.__class__ is bytes
                             else (numbers[piece[0]] & piece[2]).to_bytes(piece[1], "little")
                             for piece in pieces])
        code = self.code
        for number, (offset, width) in zip(numbers, self.fields):
            if width:
                code = code[:offset] + (number & _FIELD_MASKS[width]).to_bytes(
                    width, "little") + code[offset + width:]
        return code


class Encoder:
    """Instruction text -> bytes, with the per-shape cache described in the module docstring.

    `persistent`: where learned shapes are loaded from (on the first encoding that misses the
    in-memory caches) and saved to (`save_persistent`, at exit for the shared encoder)."""

    def __init__(self, persistent: Optional["PersistentShapes"] = None):
        self._ks = None
        self._ks_error = None
        self._shapes: dict[tuple, _Shape] = {}    # (template, packed class codes) -> shape
        # Encodings of number-free instructions (templates without `%`).
        self._plain: dict[str, bytes] = {}
        # Exact instructions seen before (template and numbers): most env offsets, exit values
        # and displacements repeat, and a hit skips the patching entirely. template -> bytes
        # (a template without numbers) or {numbers: bytes}; the Assembler probes it itself
        # before calling `encode`.
        self._exact: dict[str, object] = {}
        self._exact_count = 0
        self.keystone_calls = 0
        self._persistent = persistent
        self._loaded = persistent is None
        self._learned = 0          # shapes/plain encodings learned since the load (to save)
        # The persistent file's entries, as stored (checked and decoded on first use).
        self._stored_shapes: dict[str, str] = {}
        self._stored_plain: dict[str, str] = {}

    def _keystone(self, text: str) -> bytes:
        if self._ks is None:
            from keystone import KS_ARCH_X86, KS_MODE_64, Ks, KsError
            self._ks = Ks(KS_ARCH_X86, KS_MODE_64)
            self._ks_error = KsError
        self.keystone_calls += 1
        try:
            encoding, _ = self._ks.asm(text)
        except self._ks_error as error:
            raise EncodingError(f"keystone cannot encode {text!r}: {error}") from None
        if not encoding:
            raise EncodingError(f"keystone produced no bytes for {text!r}")
        return bytes(encoding)

    def encode(self, template: str, numbers: tuple[int, ...] = ()) -> bytes:
        """Bytes of one instruction; `template` has one `%` per entry of `numbers`."""
        entry = self._exact.get(template)
        if entry is not None:
            if not numbers:
                if entry.__class__ is bytes:
                    return entry
            elif entry.__class__ is dict:
                code = entry.get(numbers)
                if code is not None:
                    return code
        code = self._encode_new(template, numbers)
        if self._exact_count >= EXACT_CACHE_LIMIT:
            self._exact.clear()
            self._exact_count = 0
        if numbers:
            entry = self._exact.get(template)
            if entry is None:
                entry = self._exact[template] = {}
            entry[numbers] = code
        else:
            self._exact[template] = code
        self._exact_count += 1
        return code

    def encode_uncached(self, template: str, numbers: tuple[int, ...]) -> bytes:
        """Like `encode`, for numbers that rarely repeat (guest addresses, exit values naming a
        block): skips the exact-instruction cache, which they would only fill."""
        return self._encode_new(template, numbers)

    def shape(self, template: str, numbers: tuple[int, ...]) -> _Shape:
        """The shape `encode` patches for `numbers` (and for any numbers of the same width
        classes): callers that emit one template over and over with numbers of one class keep
        it and call `patch` themselves."""
        if not numbers:
            raise EncodingError(f"{template!r}: a shape needs numbers")
        if not self._loaded:
            self._load_persistent()
        code = _class_codes(numbers)
        shape = self._shapes.get((template, code))
        if shape is None:
            shape = self._shape(template, code, len(numbers))
        return shape

    def _encode_new(self, template: str, numbers: tuple[int, ...]) -> bytes:
        if not self._loaded:
            self._load_persistent()
        if not numbers:
            code = self._plain.get(template)
            if code is None:
                if PLACEHOLDER in template:
                    raise EncodingError(f"{template!r}: placeholders without numbers")
                stored = self._stored_plain.get(template)
                if stored is not None:
                    code = self._from_store(_decode_plain, template, stored)
                if code is None:
                    code = self._keystone(template)
                    self._learned += 1
                self._plain[template] = code
            return code
        if len(numbers) == 1:
            number = numbers[0]
            if 0x7F >= number >= -0x80:
                code = 1 if number == 0 else 2 if number == 1 else 3
            else:
                code = _class_code(number)
        elif len(numbers) == 2:
            code = _class_code(numbers[0]) | _class_code(numbers[1]) << _CLASS_BITS
        else:
            code = _class_codes(numbers)
        shape = self._shapes.get((template, code))
        if shape is None:
            shape = self._shape(template, code, len(numbers))
        return shape.patch(numbers)

    def _shape(self, template: str, code: int, count: int) -> _Shape:
        """The shape of (template, packed class codes), from the stored file or keystone."""
        classes = _classes_of_code(code, count)
        shape = None
        if self._stored_shapes:
            stored = self._stored_shapes.get(_shape_key(template, classes))
            if stored is not None:
                shape = self._from_store(_decode_shape, (template, classes), stored)
        if shape is None:
            shape = self._learn_shape(template, classes)
            self._learned += 1
        self._shapes[(template, code)] = shape
        return shape

    def _from_store(self, decode, key, stored: str):
        """An entry of the persistent file, checked; an entry that fails the checks makes the
        rest of the file untrusted (None: learn it with keystone)."""
        try:
            return decode(key, stored)
        except (ValueError, TypeError, IndexError, KeyError):
            self._stored_shapes = {}
            self._stored_plain = {}
            return None

    def _learn_shape(self, template: str, classes: tuple[str, ...]) -> _Shape:
        if template.count(PLACEHOLDER) != len(classes):
            raise EncodingError(f"{template!r}: {template.count(PLACEHOLDER)} placeholders, "
                                f"{len(classes)} numbers")
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
        return len(self._shapes) + len(self._plain)

    # ----------------------------------------------------------------------------------------
    # The persistent cache

    def _load_persistent(self) -> None:
        self._loaded = True
        entries = self._persistent.load()
        if entries is not None:
            self._stored_shapes, self._stored_plain = entries

    def save_persistent(self) -> None:
        """Write the shapes learned in this process to the persistent cache (if any and if
        anything new was learned). Never raises for an unwritable cache."""
        if self._persistent is None or not self._learned:
            return
        shapes = {_shape_key(template, _classes_of_code(code, template.count(PLACEHOLDER))):
                  _encode_shape(shape) for (template, code), shape in self._shapes.items()}
        plain = {template: code.hex() for template, code in self._plain.items()}
        if self._persistent.save(shapes, plain):
            self._learned = 0


# The persistent cache's entries, stored as strings (json.loads then builds two flat dicts at
# C speed; an entry is checked and decoded only when the encoder needs it):
#   shapes: "TEMPLATE\tCLASS,CLASS" -> "CODEHEX OFFSET:WIDTH OFFSET:WIDTH"
#   plain:  "TEMPLATE" -> "CODEHEX"
_CLASS_NAMES = frozenset(_SENTINELS) | {f"={value}" for value in _LITERAL_VALUES}
_MAX_INSN_BYTES = 15
_MAX_TEMPLATE = 200
_MAX_ENTRIES = 50_000          # a file with more is not loaded
# Saving merges with the file's entries up to this many; beyond, only the entries this process
# used are written (the file's load time stays small: a run needs about 2000).
_SAVE_MERGE_LIMIT = 6_000


def _shape_key(template: str, classes: tuple[str, ...]) -> str:
    return template + "\t" + ",".join(classes)


def _encode_shape(shape: _Shape) -> str:
    return " ".join([shape.code.hex()] + [f"{offset}:{width}" for offset, width in shape.fields])


def _checked_code(code_hex: str) -> bytes:
    code = bytes.fromhex(code_hex)
    if not 1 <= len(code) <= _MAX_INSN_BYTES:
        raise ValueError("instruction length")
    return code


def _decode_shape(key: tuple, stored: str) -> _Shape:
    """A stored shape, checked: one field per `%` of the template and per width class, each
    inside the code with a valid width (0 exactly for the literal classes)."""
    template, classes = key
    if len(template) > _MAX_TEMPLATE or template.count(PLACEHOLDER) != len(classes):
        raise ValueError("template")
    parts = stored.split(" ")
    code = _checked_code(parts[0])
    if len(parts) != len(classes) + 1:
        raise ValueError("fields")
    fields = []
    for cls, text in zip(classes, parts[1:]):
        offset_text, width_text = text.split(":")
        offset, width = int(offset_text), int(width_text)
        if cls not in _CLASS_NAMES:
            raise ValueError("class")
        if cls.startswith("="):
            if width != 0:
                raise ValueError("literal field")
        elif width not in _FIELD_WIDTHS or not 0 <= offset <= len(code) - width:
            raise ValueError("field")
        fields.append((offset, width))
    return _Shape(code, fields)


def _decode_plain(template: str, stored: str) -> bytes:
    if len(template) > _MAX_TEMPLATE or PLACEHOLDER in template:
        raise ValueError("template")
    return _checked_code(stored)


def _keystone_identity() -> Optional[str]:
    """Which keystone build encodings come from, without importing it: the size and mtime of
    its shared library (a rebuilt or reinstalled keystone invalidates the cache)."""
    try:
        from importlib.util import find_spec
        spec = find_spec("keystone")
        if spec is None or not spec.submodule_search_locations:
            return None
        for directory in spec.submodule_search_locations:
            for name in sorted(os.listdir(directory)):
                if name.startswith("libkeystone") and ".so" in name or name.endswith(".dylib"):
                    info = os.stat(os.path.join(directory, name))
                    return f"{name}:{info.st_size}:{info.st_mtime_ns}"
    except (OSError, ImportError, ValueError):
        return None
    return None


def default_cache_path() -> Optional[str]:
    """$XDG_CACHE_HOME/tcgjit (else ~/.cache/tcgjit)/x86-encodings.json; None when disabled
    (TCGJIT_ENCODING_CACHE=0) or when no home directory is known."""
    if os.environ.get("TCGJIT_ENCODING_CACHE", "1").lower() in ("0", "off", "no", "false"):
        return None
    base = os.environ.get("XDG_CACHE_HOME")
    if not base or not os.path.isabs(base):
        home = os.path.expanduser("~")
        if not home or home == "~":
            return None
        base = os.path.join(home, ".cache")
    return os.path.join(base, "tcgjit", "x86-encodings.json")


class PersistentShapes:
    """A file of learned encodings, never trusted blindly.

    Format: a header line (JSON: format version, keystone identity, SHA-256 of the payload
    line), then the payload line (JSON: {"shapes": {...}, "plain": {...}}, see `_shape_key`).
    A file whose header does not match this encoder's format and keystone, or whose checksum
    is wrong, is ignored. Each entry is checked when it is first used (known width classes, one
    class per `%`, 1-15 code bytes, every field inside the code with a valid width); one that
    fails makes the encoder stop using the file. It is written atomically (a temporary file
    renamed over it), merging what another process may have saved meanwhile; an unreadable or
    unwritable cache directory just means no persistence."""

    FORMAT = 2

    def __init__(self, path: str):
        self.path = path
        self._identity: Optional[str] = None
        self._identity_known = False
        self._pid = os.getpid()

    def _keystone(self) -> Optional[str]:
        if not self._identity_known:
            self._identity = _keystone_identity()
            self._identity_known = True
        return self._identity

    def load(self) -> Optional[tuple[dict, dict]]:
        """(stored shapes, stored plain encodings) as in the file, or None."""
        identity = self._keystone()
        if identity is None:
            return None
        try:
            with open(self.path, "rb") as file:
                header_line = file.readline(1024)
                payload = file.read(16 << 20)
        except OSError:
            return None
        try:
            header = json.loads(header_line)
            if (not isinstance(header, dict) or header.get("format") != self.FORMAT
                    or header.get("keystone") != identity
                    or header.get("sha256") != hashlib.sha256(payload).hexdigest()):
                return None
            data = json.loads(payload)
            shapes, plain = data["shapes"], data["plain"]
        except (ValueError, TypeError, KeyError, IndexError, AttributeError):
            return None
        if not isinstance(shapes, dict) or not isinstance(plain, dict) \
                or len(shapes) + len(plain) > _MAX_ENTRIES:
            return None
        for table in (shapes, plain):
            for value in table.values():
                if value.__class__ is not str:
                    return None
        return shapes, plain

    def save(self, shapes: dict, plain: dict) -> bool:
        """Write the stored form of `shapes`/`plain` merged with the file's current entries."""
        if os.getpid() != self._pid:
            return False       # a forked child: the parent saves
        identity = self._keystone()
        if identity is None:
            return False
        previous = self.load()
        if previous is not None:
            old_shapes, old_plain = previous
            merged_shapes = {**old_shapes, **shapes}
            merged_plain = {**old_plain, **plain}
            if len(merged_shapes) + len(merged_plain) <= _SAVE_MERGE_LIMIT:
                shapes, plain = merged_shapes, merged_plain
        payload = json.dumps({"shapes": shapes, "plain": plain},
                             separators=(",", ":")).encode()
        header = json.dumps({"format": self.FORMAT, "keystone": identity,
                             "sha256": hashlib.sha256(payload).hexdigest()}).encode()
        directory = os.path.dirname(self.path)
        temporary = None
        try:
            os.makedirs(directory, mode=0o700, exist_ok=True)
            descriptor, temporary = tempfile.mkstemp(prefix=".encodings-", dir=directory)
            with os.fdopen(descriptor, "wb") as file:
                file.write(header + b"\n" + payload)
            os.replace(temporary, self.path)
            temporary = None
            return True
        except OSError:
            return False
        finally:
            if temporary is not None:
                try:
                    os.unlink(temporary)
                except OSError:
                    pass


_shared_encoder: Optional[Encoder] = None


def shared_encoder() -> Encoder:
    """One encoder (one cache) for the process: every backend emits the same shapes. Its
    shapes persist across runs (`default_cache_path`), saved at exit."""
    global _shared_encoder
    if _shared_encoder is None:
        path = default_cache_path()
        _shared_encoder = Encoder(PersistentShapes(path) if path is not None else None)
        if path is not None:
            atexit.register(_shared_encoder.save_persistent)
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
