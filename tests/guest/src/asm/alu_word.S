// RV64I word ops: addiw slliw srliw sraiw addw subw sllw srlw sraw.
// Results are the sign-extended low 32 bits; shift amounts use 5 bits.
#include "macros.inc"

    .text
    .globl _start
_start:
    CROSS addw
    CROSS subw
    CROSS sllw
    CROSS srlw
    CROSS sraw
    .irp imm, 0, 1, -1, 2047, -2048
    CROSSI addiw, \imm
    .endr
    .irp sh, 0, 1, 16, 31
    CROSSI slliw, \sh
    CROSSI srliw, \sh
    CROSSI sraiw, \sh
    .endr

    TRI addiw, 0x7fffffff, 1
    TRI addiw, 0xffffffff, 0
    TRI addiw, 0x123456789abcdef0, 0
    TRI addiw, 0x80000000, -1
    TRI slliw, 1, 31
    TRI slliw, 0x00000000ffffffff, 16
    TRI srliw, 0xffffffff80000000, 31
    TRI srliw, 0xffffffff80000000, 0
    TRI srliw, 0x1234567880000000, 4
    TRI sraiw, 0x0000000080000000, 31
    TRI sraiw, 0x0000000080000000, 0
    TRI sraiw, 0x7fffffff00000000, 4
    TRR addw, 0x7fffffff, 1
    TRR addw, 0xffffffff, 1
    TRR addw, 0x100000000, 0x100000000
    TRR subw, 0x80000000, 1
    TRR subw, 0, 0x80000000
    TRR sllw, 1, 31
    TRR sllw, 1, 32
    TRR sllw, 1, 63
    TRR srlw, 0x80000000, 31
    TRR srlw, 0xffffffff80000000, 32
    TRR srlw, -1, 0
    TRR sraw, 0x80000000, 31
    TRR sraw, 0x80000000, 33
    TRR sraw, 0x17fffffff, 4
    EXIT 0
