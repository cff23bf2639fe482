// RV64M with constant operands (foldable at translation time): division by
// zero, signed overflow, 0, 1, -1 and the 32/64-bit extremes.
#include "macros.inc"

    .text
    .globl _start
_start:
    .irp op, mul, mulh, mulhsu, mulhu, div, divu, rem, remu, mulw, divw, divuw, remw, remuw
    TRR \op, 0, 0
    TRR \op, 7, 0
    TRR \op, -7, 0
    TRR \op, 0x8000000000000000, -1
    TRR \op, 0x8000000000000000, 1
    TRR \op, 0x7fffffffffffffff, 0x7fffffffffffffff
    TRR \op, 0x8000000000000000, 0x8000000000000000
    TRR \op, -1, -1
    TRR \op, -1, 1
    TRR \op, 0xffffffff80000000, -1
    TRR \op, 0x80000000, -1
    TRR \op, 0x7fffffff, 0x7fffffff
    TRR \op, -7, 2
    TRR \op, 7, -2
    TRR \op, -7, -2
    TRR \op, 0x123456789abcdef0, 0x0fedcba987654321
    TRR \op, 0x100000007, 0x100000002
    .endr
    // the usual div/rem and mulh/mul pairs back to back
    li s2, 1000000007
    li s3, -12345
    div s4, s2, s3
    rem s5, s2, s3
    mul s6, s4, s3
    add s6, s6, s5
    REPORT "div/rem recombine", s6
    li s2, 0xfedcba9876543210
    li s3, 0x0123456789abcdef
    mulhu s4, s2, s3
    mul s5, s2, s3
    REPORT "mulhu pair hi", s4
    REPORT "mulhu pair lo", s5
    EXIT 0
