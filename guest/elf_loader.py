"""Loading RISC-V 64 ELF images into guest memory.

Two steps, so that the same code loads a main program and (next issue) its PT_INTERP interpreter:
- `read_elf(path)` reads and validates the file completely (nothing is mapped yet) and returns an
  `ElfExecutable`; any problem raises `GuestLoadError` with a one-line message.
- `load_elf(memory, elf, dyn_base)` maps its PT_LOAD segments and returns a `LoadedImage`.
  ET_EXEC images go at their link addresses; ET_DYN ones (static-pie, the interpreter) at
  `dyn_base`, or wherever `memory.find_free` finds room when dyn_base is None.

Segments are loaded by copying: each run of pages gets a fresh zero-filled anonymous mapping with
the union of the protections of the segments sharing those pages, then the p_filesz file bytes are
copied in. The bss (p_filesz..p_memsz, including the rest of the partial page after the file
bytes) is therefore zero without any special case.

The file is untrusted input: every offset and size is bounds-checked before pyelftools reads it,
and the pyelftools calls are wrapped so that a corrupt file can only produce GuestLoadError. The
symbol table is only for symbolisation (plugins, -d): a corrupt one is dropped, as the kernel and
qemu ignore sections when executing.
"""
from __future__ import annotations

import bisect
import io
import os
import stat
import struct
from dataclasses import dataclass, field

from elftools.common.exceptions import ELFError
from elftools.elf.elffile import ELFFile

from guest.memory import (
    GUEST_ADDRESS_SPACE_SIZE, PAGE_SIZE, PROT_EXEC, PROT_NONE, PROT_READ, PROT_WRITE, GuestMemory,
    GuestMemoryError, page_align_down, page_align_up,
)

EM_RISCV = 243
ET_EXEC = 2
ET_DYN = 3
ELF64_EHDR_SIZE = 64
ELF64_PHDR_SIZE = 56
ELF64_SHDR_SIZE = 64
ELF64_SYM_SIZE = 24
EF_RISCV_RVE = 0x8
SHN_LORESERVE = 0xFF00

# Where ET_DYN executables (static-pie) go: two thirds of the Sv39 user space, like Linux's
# ELF_ET_DYN_BASE on riscv64 (0x2aaaaaaaaa rounded down to a page); leaves room below for brk.
PIE_LOAD_BASE = 0x2AAAAAA000

# Largest p_align honoured when placing an ET_DYN image; bigger values (or corrupt ones) fall
# back to this, which keeps the placement inside the address space.
MAX_HONOURED_ALIGNMENT = 1 << 21

_ELF_TYPE_NAMES = {0: "ET_NONE", 1: "ET_REL", 2: "ET_EXEC", 3: "ET_DYN", 4: "ET_CORE"}
_MACHINE_NAMES = {3: "x86", 8: "MIPS", 20: "PowerPC", 21: "PowerPC64", 22: "S390", 40: "ARM",
                  50: "IA-64", 62: "x86-64", 183: "AArch64", 243: "RISC-V", 258: "LoongArch"}

PF_X = 1
PF_W = 2
PF_R = 4

# What pyelftools (and its vendored construct) raise on malformed input that slipped past our own
# bounds checks; anything else would be a bug in this module and is left to propagate.
_PARSER_ERRORS = (ELFError, struct.error, ValueError, IndexError, KeyError, TypeError,
                  UnicodeDecodeError, OverflowError, EOFError)


class GuestLoadError(Exception):
    """The program cannot be loaded. str(error) is one line, without the program name."""


@dataclass(frozen=True)
class Symbol:
    name: str
    address: int          # load bias applied
    size: int
    kind: str             # "func", "object", "notype", "tls", "ifunc", ...


class SymbolTable:
    """Symbols sorted by address, for symbolising guest addresses."""

    def __init__(self, symbols: list[Symbol] | None = None, end: int | None = None):
        """`end`: addresses at or above it (past the image) match no symbol."""
        self.end = end
        self._symbols = sorted(symbols or [], key=lambda symbol: (symbol.address, symbol.name))
        self._addresses = [symbol.address for symbol in self._symbols]
        self._by_name: dict[str, Symbol] = {}
        for symbol in self._symbols:
            self._by_name.setdefault(symbol.name, symbol)
        # Bounds the backward walk in lookup(): no symbol further back can contain an address.
        self._max_size = max((symbol.size for symbol in self._symbols), default=0)

    def __len__(self) -> int:
        return len(self._symbols)

    def __iter__(self):
        return iter(self._symbols)

    def by_name(self, name: str) -> Symbol | None:
        return self._by_name.get(name)

    def lookup(self, address: int) -> tuple[Symbol, int] | None:
        """The symbol containing address and the offset into it, or None.

        A sized symbol containing the address wins (so a local label inside a function does not
        hide the function); otherwise a zero-sized code label (assembler labels have no size) at
        the closest address at or below covers the addresses up to the next symbol.
        """
        if self.end is not None and address >= self.end:
            return None
        index = bisect.bisect_right(self._addresses, address) - 1
        if index < 0:
            return None
        closest = self._symbols[index]
        while index >= 0 and address - self._addresses[index] < self._max_size:
            symbol = self._symbols[index]
            if address - symbol.address < symbol.size:
                return symbol, address - symbol.address
            index -= 1
        if closest.size == 0 and (closest.address == address
                                  or closest.kind in ("func", "notype")):
            return closest, address - closest.address
        return None

@dataclass(frozen=True)
class LoadSegment:
    """One PT_LOAD segment as found in the file (addresses without load bias)."""
    vaddr: int
    memsz: int
    file_offset: int
    filesz: int
    prot: int
    align: int


@dataclass
class ElfExecutable:
    """A validated ELF file, not loaded yet. Addresses are link-time addresses."""
    path: str
    data: bytes = field(repr=False)
    elf_type: int                  # ET_EXEC or ET_DYN
    entry: int
    flags: int                     # e_flags (RISC-V float ABI bits)
    phoff: int
    phnum: int
    segments: list[LoadSegment]
    phdr_vaddr: int                # address of the program headers once loaded, 0 if not loaded
    interpreter: str | None        # PT_INTERP path
    symbols: list[Symbol]          # link-time addresses
    symbols_error: str | None      # why the symbol table was dropped, if it was

    @property
    def is_dynamic_type(self) -> bool:
        return self.elf_type == ET_DYN

    @property
    def low_page(self) -> int:
        return page_align_down(min(segment.vaddr for segment in self.segments))

    @property
    def high_page(self) -> int:
        return page_align_up(max(segment.vaddr + segment.memsz for segment in self.segments))


@dataclass
class LoadedImage:
    """An ELF image mapped into guest memory. All addresses include the load bias."""
    path: str
    elf_type: int
    load_bias: int
    entry: int
    phdr_address: int              # AT_PHDR
    phent: int                     # AT_PHENT
    phnum: int                     # AT_PHNUM
    start: int                     # lowest mapped address (page aligned)
    end: int                       # highest segment end (vaddr + memsz), not page aligned
    segments: list[LoadSegment]    # biased addresses
    interpreter: str | None
    symbols: SymbolTable
    flags: int

    @property
    def brk_start(self) -> int:
        """Where the heap starts: the page after the highest segment."""
        return page_align_up(self.end)


def _elf_prot(p_flags: int) -> int:
    prot = PROT_NONE
    if p_flags & PF_R:
        prot |= PROT_READ
    if p_flags & PF_W:
        prot |= PROT_WRITE
    if p_flags & PF_X:
        prot |= PROT_EXEC
    return prot


def _read_file(path: str) -> bytes:
    try:
        info = os.stat(path)
    except OSError as error:
        raise GuestLoadError(error.strerror or str(error)) from None
    if stat.S_ISDIR(info.st_mode):
        raise GuestLoadError("Is a directory")
    if not stat.S_ISREG(info.st_mode):
        raise GuestLoadError("Permission denied (not a regular file)")
    # The kernel (and qemu) refuse to execute a file without execute permission.
    if not os.access(path, os.X_OK):
        raise GuestLoadError("Permission denied")
    try:
        with open(path, "rb") as file:
            return file.read()
    except OSError as error:
        raise GuestLoadError(error.strerror or str(error)) from None


def _check_identification(data: bytes) -> None:
    if len(data) == 0:
        raise GuestLoadError("Exec format error: empty file")
    if data[:4] != b"\x7fELF":
        raise GuestLoadError("Exec format error: not an ELF file")
    if len(data) < ELF64_EHDR_SIZE:
        raise GuestLoadError(f"Exec format error: truncated ELF header ({len(data)} bytes)")
    elf_class, data_encoding, version = data[4], data[5], data[6]
    if elf_class == 1:
        raise GuestLoadError("Exec format error: 32-bit ELF file, need ELF64")
    if elf_class != 2:
        raise GuestLoadError(f"Exec format error: bad ELF class {elf_class}")
    if data_encoding == 2:
        raise GuestLoadError("Exec format error: big-endian ELF file, need little-endian")
    if data_encoding != 1:
        raise GuestLoadError(f"Exec format error: bad ELF data encoding {data_encoding}")
    if version != 1:
        raise GuestLoadError(f"Exec format error: bad ELF version {version}")
    elf_type, machine = struct.unpack_from("<HH", data, 16)
    if machine != EM_RISCV:
        name = _MACHINE_NAMES.get(machine, f"machine {machine}")
        raise GuestLoadError(f"Exec format error: {name} ELF file, need RISC-V (EM_RISCV)")
    if elf_type not in (ET_EXEC, ET_DYN):
        name = _ELF_TYPE_NAMES.get(elf_type, f"type {elf_type}")
        raise GuestLoadError(f"Exec format error: {name} file is not an executable")


def _read_segments(elf: ELFFile, data: bytes, space_size: int
                   ) -> tuple[list[LoadSegment], str | None, int | None]:
    """The PT_LOAD segments, the PT_INTERP path and the PT_PHDR address, all bounds-checked."""
    phoff, phnum, phentsize = elf["e_phoff"], elf["e_phnum"], elf["e_phentsize"]
    if phnum == 0:
        raise GuestLoadError("Exec format error: no program headers")
    if phentsize != ELF64_PHDR_SIZE:
        raise GuestLoadError(f"Exec format error: program header size {phentsize}, "
                             f"expected {ELF64_PHDR_SIZE}")
    if phoff + phnum * ELF64_PHDR_SIZE > len(data):
        raise GuestLoadError("Exec format error: truncated file (program headers past the end)")
    segments: list[LoadSegment] = []
    interpreter: str | None = None
    explicit_phdr_vaddr: int | None = None
    for index in range(phnum):
        # The raw header, not elf.get_segment(): segment objects parse their contents eagerly.
        header_offset = phoff + index * ELF64_PHDR_SIZE
        header = elf.structs.Elf_Phdr.parse(data[header_offset:header_offset + ELF64_PHDR_SIZE])
        p_type = header["p_type"]
        if p_type == "PT_LOAD":
            vaddr, memsz = header["p_vaddr"], header["p_memsz"]
            offset, filesz = header["p_offset"], header["p_filesz"]
            if filesz > memsz:
                raise GuestLoadError(f"Exec format error: segment {index} has p_filesz > p_memsz")
            if offset + filesz > len(data):
                raise GuestLoadError(f"Exec format error: truncated file (segment {index} data "
                                     f"past the end)")
            if vaddr + memsz > space_size:
                raise GuestLoadError(f"segment {index} at 0x{vaddr:x}+0x{memsz:x} does not fit "
                                     f"in the guest address space (0x{space_size:x})")
            if memsz == 0:
                continue
            segments.append(LoadSegment(vaddr=vaddr, memsz=memsz, file_offset=offset,
                                        filesz=filesz, prot=_elf_prot(header["p_flags"]),
                                        align=header["p_align"]))
        elif p_type == "PT_INTERP":
            interpreter = _read_interpreter_path(header, data, index)
        elif p_type == "PT_PHDR":
            explicit_phdr_vaddr = header["p_vaddr"]
    if not segments:
        raise GuestLoadError("Exec format error: no loadable segments")
    return segments, interpreter, explicit_phdr_vaddr


def _read_interpreter_path(header, data: bytes, index: int) -> str:
    offset, size = header["p_offset"], header["p_filesz"]
    if size == 0 or size > 4096 or offset + size > len(data):
        raise GuestLoadError(f"Exec format error: bad PT_INTERP (segment {index})")
    raw = data[offset:offset + size]
    if raw[-1] != 0 or 0 in raw[:-1]:
        raise GuestLoadError(f"Exec format error: PT_INTERP (segment {index}) is not a C string")
    return os.fsdecode(raw[:-1])


def _phdr_vaddr(explicit: int | None, segments: list[LoadSegment], phoff: int, phnum: int) -> int:
    """AT_PHDR: PT_PHDR when present, else the loaded copy of the headers inside a PT_LOAD
    (what the kernel does), else 0 (the program then has no access to its headers)."""
    if explicit is not None:
        return explicit
    table_end = phoff + phnum * ELF64_PHDR_SIZE
    for segment in segments:
        if segment.file_offset <= phoff and table_end <= segment.file_offset + segment.filesz:
            return segment.vaddr + (phoff - segment.file_offset)
    return 0


_SYMBOL_KINDS = {"STT_FUNC": "func", "STT_OBJECT": "object", "STT_NOTYPE": "notype",
                 "STT_TLS": "tls", "STT_GNU_IFUNC": "ifunc", "STT_COMMON": "object"}


def _read_symbols(elf: ELFFile, data: bytes) -> list[Symbol]:
    """The symbols of .symtab (or .dynsym when stripped). Raises GuestLoadError when the section
    table is corrupt; the caller drops the symbols then."""
    shoff, shnum, shentsize = elf["e_shoff"], elf["e_shnum"], elf["e_shentsize"]
    if shoff == 0 or shnum == 0:
        return []
    if shentsize != ELF64_SHDR_SIZE or shnum >= SHN_LORESERVE:
        raise GuestLoadError("unsupported section header table")
    if shoff + shnum * ELF64_SHDR_SIZE > len(data):
        raise GuestLoadError("section header table past the end of the file")
    headers = [elf.structs.Elf_Shdr.parse(data[shoff + index * ELF64_SHDR_SIZE:
                                                shoff + (index + 1) * ELF64_SHDR_SIZE])
               for index in range(shnum)]
    symbol_table_index = None
    for wanted in ("SHT_SYMTAB", "SHT_DYNSYM"):
        symbol_table_index = next(
            (index for index, header in enumerate(headers) if header["sh_type"] == wanted), None)
        if symbol_table_index is not None:
            break
    if symbol_table_index is None:
        return []
    table = headers[symbol_table_index]
    if table["sh_entsize"] != ELF64_SYM_SIZE or table["sh_offset"] + table["sh_size"] > len(data):
        raise GuestLoadError("bad symbol table section")
    link = table["sh_link"]
    if link >= shnum or headers[link]["sh_type"] != "SHT_STRTAB":
        raise GuestLoadError("symbol table has no string table")
    strings = headers[link]
    if strings["sh_offset"] + strings["sh_size"] > len(data):
        raise GuestLoadError("symbol string table past the end of the file")
    section = elf.get_section(symbol_table_index)
    symbols = []
    for entry in section.iter_symbols():
        kind = _SYMBOL_KINDS.get(entry["st_info"]["type"])
        name = entry.name
        if (kind is None or not name or entry["st_shndx"] in ("SHN_UNDEF", "SHN_ABS")
                or name.startswith(("$", ".L"))):    # RISC-V mapping symbols, local labels
            continue
        symbols.append(Symbol(name=name, address=entry["st_value"], size=entry["st_size"],
                              kind=kind))
    return symbols


def read_elf(path: str, space_size: int = GUEST_ADDRESS_SPACE_SIZE) -> ElfExecutable:
    """Read and validate a RISC-V 64 executable (ET_EXEC or ET_DYN). Nothing is mapped."""
    data = _read_file(path)
    _check_identification(data)
    try:
        elf = ELFFile(io.BytesIO(data))
        segments, interpreter, explicit_phdr = _read_segments(elf, data, space_size)
        entry, flags = elf["e_entry"], elf["e_flags"]
        phoff, phnum = elf["e_phoff"], elf["e_phnum"]
    except _PARSER_ERRORS as error:
        raise GuestLoadError(f"Exec format error: corrupt ELF file ({error})".splitlines()[0]) \
            from None
    if flags & EF_RISCV_RVE:
        raise GuestLoadError("Exec format error: RVE (16-register) binaries are not supported")
    if entry >= space_size:
        raise GuestLoadError(f"Exec format error: entry point 0x{entry:x} outside the guest "
                             f"address space")
    symbols_error = None
    try:
        symbols = _read_symbols(elf, data)
    except GuestLoadError as error:
        symbols, symbols_error = [], str(error)
    except _PARSER_ERRORS as error:
        symbols, symbols_error = [], f"corrupt symbol table ({error})".splitlines()[0]
    return ElfExecutable(
        path=path, data=data, elf_type=struct.unpack_from("<H", data, 16)[0], entry=entry,
        flags=flags, phoff=phoff, phnum=phnum, segments=segments,
        phdr_vaddr=_phdr_vaddr(explicit_phdr, segments, phoff, phnum), interpreter=interpreter,
        symbols=symbols, symbols_error=symbols_error)


def _page_protections(segments: list[LoadSegment], bias: int) -> list[tuple[int, int, int]]:
    """(start, end, prot) page runs covering the segments; pages shared by two segments get the
    union of their protections. Pages between segments stay unmapped."""
    spans = [(page_align_down(segment.vaddr + bias), page_align_up(segment.vaddr + segment.memsz
                                                                    + bias), segment.prot)
             for segment in segments]
    boundaries = sorted({point for start, end, _prot in spans for point in (start, end)})
    runs: list[tuple[int, int, int]] = []
    for start, end in zip(boundaries, boundaries[1:]):
        covering = [prot for span_start, span_end, prot in spans
                    if span_start < end and start < span_end]
        if not covering:
            continue
        prot = PROT_NONE
        for segment_prot in covering:
            prot |= segment_prot
        if runs and runs[-1][1] == start and runs[-1][2] == prot:
            runs[-1] = (runs[-1][0], end, prot)
        else:
            runs.append((start, end, prot))
    return runs


def _dyn_alignment(segments: list[LoadSegment]) -> int:
    alignment = PAGE_SIZE
    for segment in segments:
        align = segment.align
        if align > alignment and align & (align - 1) == 0:
            alignment = align
    return min(alignment, MAX_HONOURED_ALIGNMENT)


def load_elf(memory: GuestMemory, elf: ElfExecutable, dyn_base: int | None = None) -> LoadedImage:
    """Map `elf` into `memory`. ET_EXEC: at its link addresses. ET_DYN: its lowest page at
    `dyn_base` rounded up to the image's alignment, or where find_free finds room if None."""
    low, high = elf.low_page, elf.high_page
    span = high - low
    if elf.is_dynamic_type:
        alignment = _dyn_alignment(elf.segments)
        if dyn_base is None:
            found = memory.find_free(span + alignment)
            if found is None:
                raise GuestLoadError(f"no room for a 0x{span:x}-byte image in guest memory")
            base = (found + alignment - 1) & ~(alignment - 1)
        else:
            base = (dyn_base + alignment - 1) & ~(alignment - 1)
        bias = base - low
    else:
        bias = 0
    if low + bias < 0 or high + bias > memory.size:
        raise GuestLoadError(f"image at 0x{low + bias:x}-0x{high + bias:x} does not fit in the "
                             f"guest address space")
    if not memory.is_free(low + bias, span):
        raise GuestLoadError(f"image at 0x{low + bias:x}-0x{high + bias:x} overlaps memory "
                             f"that is already mapped")
    try:
        for start, end, prot in _page_protections(elf.segments, bias):
            memory.map(start, end - start, prot)
        for segment in elf.segments:
            file_bytes = elf.data[segment.file_offset:segment.file_offset + segment.filesz]
            memory.write_unchecked(segment.vaddr + bias, file_bytes)
    except OSError as error:
        raise GuestLoadError(f"cannot map the image: {error.strerror or error}") from None
    except GuestMemoryError as error:      # cannot happen after map(); kept one-line if it does
        raise GuestLoadError(f"cannot load the image: {error}") from None
    biased_segments = [LoadSegment(vaddr=segment.vaddr + bias, memsz=segment.memsz,
                                   file_offset=segment.file_offset, filesz=segment.filesz,
                                   prot=segment.prot, align=segment.align)
                       for segment in elf.segments]
    end = max(segment.vaddr + segment.memsz for segment in biased_segments)
    symbols = SymbolTable([Symbol(symbol.name, symbol.address + bias, symbol.size, symbol.kind)
                           for symbol in elf.symbols], end=page_align_up(end))
    return LoadedImage(
        path=elf.path, elf_type=elf.elf_type, load_bias=bias, entry=elf.entry + bias,
        phdr_address=elf.phdr_vaddr + bias if elf.phdr_vaddr else 0,
        phent=ELF64_PHDR_SIZE, phnum=elf.phnum, start=low + bias,
        end=end,
        segments=biased_segments, interpreter=elf.interpreter, symbols=symbols, flags=elf.flags)
