// RV64I immediate ALU ops (addi slti sltiu xori ori andi slli srli srai),
// lui and auipc. Immediates cover 0, 1, -1, 2047, -2048 and shift amounts
// 0, 1, 31, 32, 63.
#include "macros.inc"

    .text
    .globl _start
_start:
    .irp imm, 0, 1, -1, 2047, -2048, 0x555
    CROSSI addi, \imm
    CROSSI slti, \imm
    CROSSI sltiu, \imm
    CROSSI xori, \imm
    CROSSI ori, \imm
    CROSSI andi, \imm
    .endr
    .irp sh, 0, 1, 31, 32, 63
    CROSSI slli, \sh
    CROSSI srli, \sh
    CROSSI srai, \sh
    .endr

    TRI addi, 0x7fffffffffffffff, 1
    TRI addi, 0, -2048
    TRI addi, -1, 2047
    TRI slti, -1, 0
    TRI slti, 0, -1
    TRI slti, 0x8000000000000000, -2048
    TRI sltiu, 0, 1
    TRI sltiu, 5, 1
    TRI sltiu, -2, -1
    TRI sltiu, -1, -1
    TRI sltiu, 0x7fffffffffffffff, -2048
    TRI xori, 0x123456789abcdef0, -1
    TRI xori, 0x123456789abcdef0, 0x7ff
    TRI ori, 0x8000000000000000, -2048
    TRI andi, -1, -2048
    TRI andi, 0x123456789abcdef0, 0xff
    TRI slli, 1, 63
    TRI slli, 0xffffffff, 32
    TRI srli, 0x8000000000000000, 63
    TRI srli, -1, 1
    TRI srai, 0x8000000000000000, 63
    TRI srai, 0x8000000000000000, 1
    TRI srai, 0x7fffffffffffffff, 62

    // lui: sign-extension of bit 31 of the result
    lui s4, 0
    REPORT "lui 0x0", s4
    lui s4, 1
    REPORT "lui 0x1", s4
    lui s4, 0x7ffff
    REPORT "lui 0x7ffff", s4
    lui s4, 0x80000
    REPORT "lui 0x80000", s4
    lui s4, 0xfffff
    REPORT "lui 0xfffff", s4
    lui s4, 0x12345
    addi s4, s4, 0x678
    REPORT "lui 0x12345 + addi 0x678", s4
    lui s4, 0x12345
    addi s4, s4, -0x800
    REPORT "lui 0x12345 + addi -0x800", s4

    // auipc: position-relative results
.Lauipc0:
    auipc s4, 0
    lla s5, .Lauipc0
    sub s6, s4, s5
    REPORT "auipc 0 - label", s6
    REPORT "auipc 0 absolute", s4
.Lauipc1:
    auipc s4, 1
    lla s5, .Lauipc1
    sub s6, s4, s5
    REPORT "auipc 1 - label", s6
.Lauipc2:
    auipc s4, 0xfffff
    lla s5, .Lauipc2
    sub s6, s4, s5
    REPORT "auipc 0xfffff - label", s6
.Lauipc3:
    auipc s4, 0x80000
    lla s5, .Lauipc3
    sub s6, s4, s5
    REPORT "auipc 0x80000 - label", s6
.Lauipc4:
    auipc s4, 0x7ffff
    lla s5, .Lauipc4
    sub s6, s4, s5
    REPORT "auipc 0x7ffff - label", s6
    // auipc + addi/load pair as the compiler emits it
    lla s4, magic
    ld s4, 0(s4)
    REPORT "lla+ld magic", s4

    EXIT 0

    .section .rodata
    .balign 8
magic: .dword 0xfeedfacecafebeef
