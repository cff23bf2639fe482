"""Guest disassembly for `-d in_asm`, through capstone (RV64 with compressed instructions)."""
from __future__ import annotations

from typing import TYPE_CHECKING, Optional

from guest.riscv.decode import insn_size

if TYPE_CHECKING:
    import capstone

_disassembler: Optional[capstone.Cs] = None


def _capstone() -> capstone.Cs:
    global _disassembler
    if _disassembler is None:
        # Imported on first use: most runs disassemble nothing, and importing capstone is a
        # noticeable part of start-up.
        import capstone
        _disassembler = capstone.Cs(capstone.CS_ARCH_RISCV,
                                    capstone.CS_MODE_RISCV64 | capstone.CS_MODE_RISCVC)
    return _disassembler


def _undecodable(code: bytes, offset: int) -> tuple[int, str]:
    """Size and text for bytes capstone cannot decode: `.insn` with the encoding when the whole
    instruction is there, `.byte` for a truncated one at the end of the buffer."""
    size = insn_size(code[offset])  # the length is encoded in the lowest bits
    chunk = code[offset:offset + size]
    if len(chunk) < size:
        return len(chunk), ".byte " + ", ".join(f"{byte:#04x}" for byte in chunk)
    value = int.from_bytes(chunk, "little")
    return size, f".insn {value:#0{2 + 2 * size}x}"


def disassemble(code: bytes, pc: int) -> list[tuple[int, int, str]]:
    """Disassemble guest code loaded at pc: a list of (pc, size, text)."""
    disassembler = _capstone()
    lines: list[tuple[int, int, str]] = []
    offset = 0
    while offset < len(code):
        for address, size, mnemonic, op_str in disassembler.disasm_lite(code[offset:],
                                                                         pc + offset):
            lines.append((address, size, f"{mnemonic:<8} {op_str}".rstrip()))
            offset += size
        if offset < len(code):
            # capstone stops at the first instruction it cannot decode.
            size, text = _undecodable(code, offset)
            lines.append((pc + offset, size, text))
            offset += size
    return lines


def format_listing(code: bytes, pc: int) -> str:
    """QEMU-style listing: one `0x<pc>:  <encoding>  <text>` line per instruction."""
    out = []
    for address, size, text in disassemble(code, pc):
        offset = address - pc
        encoding = int.from_bytes(code[offset:offset + size], "little")
        out.append(f"0x{address:016x}:  {encoding:0{2 * size}x}{' ' * (10 - 2 * size)}  {text}")
    return "\n".join(out)
