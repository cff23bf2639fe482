// Writes to x0 are ignored by every instruction class; x0 reads as 0, also
// right after a write to it in the same block.
#include "macros.inc"

// execute `insn` (which writes x0), then report x0; s5 collects x0 reads
// (and zero+1-1), so it must stay 0
.macro XZ insn
    \insn
    or s5, s5, zero
    addi s4, zero, 1
    addi s4, s4, -1
    or s5, s5, s4
    REPORT "\insn", zero
.endm

    .text
    .globl _start
_start:
    li s5, 0
    li t0, 0x123456789abcdef0
    li t1, -7
    lla t2, data
    XZ "lui zero, 0x12345"
    XZ "lui zero, 0x80000"
    XZ "auipc zero, 1"
    XZ "addi zero, t0, 1"
    XZ "addi zero, zero, 5"
    XZ "slti zero, t1, 0"
    XZ "sltiu zero, t1, -1"
    XZ "xori zero, t0, -1"
    XZ "ori zero, t0, 1"
    XZ "andi zero, t0, -1"
    XZ "slli zero, t0, 3"
    XZ "srli zero, t0, 3"
    XZ "srai zero, t1, 3"
    XZ "add zero, t0, t1"
    XZ "sub zero, t0, t1"
    XZ "sll zero, t0, t1"
    XZ "slt zero, t1, t0"
    XZ "sltu zero, t0, t1"
    XZ "xor zero, t0, t1"
    XZ "srl zero, t0, t1"
    XZ "sra zero, t0, t1"
    XZ "or zero, t0, t1"
    XZ "and zero, t0, t1"
    XZ "addiw zero, t0, 1"
    XZ "slliw zero, t0, 1"
    XZ "srliw zero, t0, 1"
    XZ "sraiw zero, t0, 1"
    XZ "addw zero, t0, t1"
    XZ "subw zero, t0, t1"
    XZ "sllw zero, t0, t1"
    XZ "srlw zero, t0, t1"
    XZ "sraw zero, t0, t1"
    XZ "mul zero, t0, t1"
    XZ "mulh zero, t0, t1"
    XZ "mulhsu zero, t0, t1"
    XZ "mulhu zero, t0, t1"
    XZ "div zero, t0, t1"
    XZ "div zero, t0, zero"
    XZ "divu zero, t0, t1"
    XZ "rem zero, t0, t1"
    XZ "remu zero, t0, zero"
    XZ "mulw zero, t0, t1"
    XZ "divw zero, t0, t1"
    XZ "divuw zero, t0, t1"
    XZ "remw zero, t0, t1"
    XZ "remuw zero, t0, t1"
    XZ "lb zero, 0(t2)"
    XZ "lh zero, 0(t2)"
    XZ "lw zero, 0(t2)"
    XZ "ld zero, 0(t2)"
    XZ "lbu zero, 0(t2)"
    XZ "lhu zero, 0(t2)"
    XZ "lwu zero, 0(t2)"

    // jal / jalr with rd = x0 do not link
    jal zero, 1f
1:  or s5, s5, zero
    REPORT "jal zero", zero
    lla t3, 2f
    jalr zero, 0(t3)
2:  or s5, s5, zero
    REPORT "jalr zero", zero

    // x0 as a store source stores zero
    li t3, -1
    sd t3, 8(t2)
    sw zero, 8(t2)
    ld s4, 8(t2)
    REPORT "sw zero over -1", s4
    sd zero, 8(t2)
    ld s4, 8(t2)
    REPORT "sd zero", s4

    // x0 written then read within one straight-line sequence
    addi zero, zero, 100
    add s4, zero, zero
    addi s4, s4, 3
    sub zero, s4, zero
    add s4, s4, zero
    REPORT "mixed sequence (expect 3)", s4

    REPORT "or of all x0 reads", s5
    EXIT 0

    .data
    .balign 8
data: .dword 0x8081828384858687, 0
