"""RISC-V instruction decoder, built from the pattern table (guest/riscv/insn_table.py) at import.

The patterns of each instruction size are arranged in a decision tree: a node looks at the bits
that every pattern below it fixes (first the major opcode, then e.g. funct3, then funct7) and
dispatches on their value through a dict; a leaf holds the few patterns left, most specific
first, and checks them with mask/match. Decoding one instruction is a couple of dict look-ups.
"""
from __future__ import annotations

from collections import namedtuple
from typing import Iterable, Optional, Union

from guest.riscv.insn_table import PATTERNS, Field, Format, Pattern


def insn_size(low_bits: int) -> int:
    """Size in bytes of the instruction whose first 16 bits are given.

    Bits [1:0] == 0b11 mark a 32-bit instruction, anything else a compressed one. The longer
    encodings (bits [4:2] == 0b111) share no major opcode with any pattern, so they decode as
    illegal 32-bit instructions, as in QEMU.
    """
    return 4 if low_bits & 3 == 3 else 2


class DecodedInsn:
    """One decoded instruction. `args` holds the operands of its format as attributes
    (`args.rd`, `args.imm`, ...; immediates already sign-extended and scaled). For a compressed
    instruction they are the operands of the instruction it expands to (`pattern.expands_to`)."""

    __slots__ = ("pattern", "args", "raw")

    def __init__(self, pattern: Pattern, args, raw: int):
        self.pattern = pattern
        self.args = args
        self.raw = raw

    @property
    def name(self) -> str:
        return self.pattern.name

    @property
    def size(self) -> int:
        return self.pattern.size

    @property
    def extension(self) -> str:
        return self.pattern.extension

    @property
    def fields(self) -> dict[str, int]:
        return self.args._asdict()

    def __repr__(self) -> str:
        operands = ", ".join(f"{name}={value}" for name, value in self.fields.items())
        return f"<{self.name} {operands} raw={self.raw:#0{2 + 2 * self.size}x}>"


class _Leaf:
    """Candidates as (mask, match, pattern), most specific first; `make_args` filled in by the
    Decoder once the tree is built."""

    __slots__ = ("candidates",)

    def __init__(self, patterns: list[Pattern]):
        self.candidates = [(p.mask, p.match, p, None) for p in patterns]


class _Branch:
    __slots__ = ("mask", "children")

    def __init__(self, mask: int, children: dict[int, "_Node"]):
        self.mask = mask
        self.children = children


_Node = Union[_Leaf, _Branch]


def _popcount(value: int) -> int:
    return bin(value).count("1")


def _check_overlaps(patterns: list[Pattern]) -> None:
    """Two patterns that can match the same word must be ordered by specificity: one must fix a
    strict superset of the other's bits, or - when they cross - their intersection (the words
    matching both) must be a pattern of its own, which is more specific than either. Anything
    else is an ambiguity in the table."""
    cubes = {(p.mask, p.match) for p in patterns}
    for index, first in enumerate(patterns):
        for second in patterns[index + 1:]:
            common = first.mask & second.mask
            if (first.match ^ second.match) & common:
                continue  # they differ on a bit both fix: disjoint
            if first.mask == second.mask:
                raise ValueError(f"patterns {first.name} and {second.name} are the same encoding")
            if common == first.mask or common == second.mask:
                continue  # nested: the more specific one wins
            intersection = (first.mask | second.mask, first.match | second.match)
            if intersection not in cubes:
                raise ValueError(f"patterns {first.name} and {second.name} overlap ambiguously")


def _build_tree(patterns: list[Pattern], consumed: int) -> _Node:
    """Dispatch on the bits every pattern here fixes and that no ancestor dispatched on yet."""
    common = ~consumed
    for pattern in patterns:
        common &= pattern.mask
    if len(patterns) <= 1 or common == 0:
        _check_overlaps(patterns)
        return _Leaf(sorted(patterns, key=lambda p: -_popcount(p.mask)))
    groups: dict[int, list[Pattern]] = {}
    for pattern in patterns:
        groups.setdefault(pattern.match & common, []).append(pattern)
    return _Branch(common, {key: _build_tree(group, consumed | common)
                            for key, group in groups.items()})


def _leaves(node: _Node):
    if type(node) is _Leaf:
        yield node
    else:
        for child in node.children.values():
            yield from _leaves(child)


def _args_maker(fmt: Format):
    """A function word -> the format's operand tuple (compiled: see _compiled_args_maker)."""
    args_type = namedtuple(f"Args{fmt.name.title().replace('-', '')}", fmt.field_names)
    return _compiled_args_maker(fmt, args_type)


def _reference_args_maker(fmt: Format, args_type):
    """The definition: every field's own `extract`."""
    extractors = tuple(fld.extract for fld in fmt.fields)

    def make_args(word: int):
        return args_type._make([extract(word) for extract in extractors])

    return make_args


def _field_expression(fld: Field, index: int, env: dict) -> str:
    """Python source computing `fld.extract(word)` in one expression (Field.extract: the
    segments concatenated most significant first, sign-extended, shifted, adjusted)."""
    if type(fld) is not Field:         # a field with its own extraction: call it
        env[f"_extract{index}"] = fld.extract
        return f"_extract{index}(word)"
    if fld.constant is not None:
        env[f"_constant{index}"] = fld.constant
        return f"_constant{index}"
    parts = []
    remaining = fld.width
    for pos, length in fld.segments:
        remaining -= length
        piece = f"((word >> {pos}) & {(1 << length) - 1:#x})"
        parts.append(f"({piece} << {remaining})" if remaining else piece)
    expression = " | ".join(parts)
    if fld.signed:
        sign = 1 << (fld.width - 1)
        expression = f"((({expression}) ^ {sign:#x}) - {sign:#x})"
    if fld.shift:
        expression = f"(({expression}) << {fld.shift})"
    if fld.adjust is not None:
        env[f"_adjust{index}"] = fld.adjust
        expression = f"_adjust{index}({expression})"
    return expression


def _compiled_args_maker(fmt: Format, args_type):
    """make_args as one generated function: decoding a new word is on the translator's path,
    and a call per field (plus a list) costs several times the arithmetic."""
    env: dict = {"_Args": args_type}
    expressions = [_field_expression(fld, index, env) for index, fld in enumerate(fmt.fields)]
    source = f"def make_args(word):\n    return _Args({', '.join(expressions)})\n"
    exec(compile(source, f"<decoder args {fmt.name}>", "exec"), env)   # noqa: S102
    return env["make_args"]


DECODE_CACHE_LIMIT = 1 << 16
_NOT_CACHED = object()


class Decoder:
    """A decoder for the given patterns (all of the table by default), optionally limited to a
    set of extensions (the guest's misa)."""

    def __init__(self, patterns: Iterable[Pattern] = PATTERNS,
                 extensions: Optional[Iterable[str]] = None):
        allowed = None if extensions is None else frozenset(extensions)
        selected = [p for p in patterns if allowed is None or p.extension in allowed]
        names = [p.name for p in selected]
        if len(names) != len(set(names)):
            raise ValueError("an instruction name appears twice in the pattern table")
        self.patterns: tuple[Pattern, ...] = tuple(selected)
        # The instructions (the table without its reserved encodings).
        self.instructions: tuple[Pattern, ...] = tuple(p for p in selected if not p.illegal)
        makers: dict[Format, object] = {}
        self._make_args = {}
        for pattern in self.instructions:
            if pattern.format not in makers:
                makers[pattern.format] = _args_maker(pattern.format)
            self._make_args[pattern] = makers[pattern.format]
        self._cache: dict[int, Optional[DecodedInsn]] = {}
        # The cache's probe, for callers that hold instruction words already cut to their size
        # (as `decode` cuts them): the DecodedInsn, or None (not decoded yet, or illegal).
        self.cached = self._cache.get
        self._root32 = _build_tree([p for p in selected if p.size == 4], 0)
        self._root16 = _build_tree([p for p in selected if p.size == 2], 0)
        for root in (self._root32, self._root16):
            for leaf in _leaves(root):
                # A reserved encoding has no operand maker: matching it decodes as illegal.
                leaf.candidates = [(mask, match, pattern,
                                    None if pattern.illegal else self._make_args[pattern])
                                   for mask, match, pattern, _ in leaf.candidates]

    def decode(self, word: int) -> Optional[DecodedInsn]:
        """Decode the instruction at the start of `word` (its bytes read little-endian; bits past
        the instruction's size are ignored). None: illegal or reserved encoding.

        Results are cached by word (a DecodedInsn is immutable): code repeats instruction words
        a lot (register saves, returns, common immediates)."""
        word &= 0xFFFFFFFF if word & 3 == 3 else 0xFFFF
        cache = self._cache
        insn = cache.get(word, _NOT_CACHED)
        if insn is not _NOT_CACHED:     # (a sentinel: None is a cached illegal encoding)
            return insn
        insn = self._decode(word)
        if len(cache) >= DECODE_CACHE_LIMIT:
            cache.clear()
        cache[word] = insn
        return insn

    def _decode(self, word: int) -> Optional[DecodedInsn]:
        if word & 3 == 3:
            word &= 0xFFFFFFFF
            node = self._root32
        else:
            word &= 0xFFFF
            node = self._root16
        while type(node) is _Branch:
            node = node.children.get(word & node.mask)
            if node is None:
                return None
        for mask, match, pattern, make_args in node.candidates:
            if word & mask == match:
                if make_args is None:
                    return None
                return DecodedInsn(pattern, make_args(word), word)
        return None


DECODER = Decoder()


def decode(word: int) -> Optional[DecodedInsn]:
    """Decode with every extension of the table enabled."""
    return DECODER.decode(word)
