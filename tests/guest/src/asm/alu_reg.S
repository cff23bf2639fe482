// RV64I register-register ALU ops: add sub sll slt sltu xor srl sra or and.
// Cross product over the edge-value table (runtime operands) and a set of
// constant-operand cases (foldable), each with register-aliasing checks.
#include "macros.inc"

    .text
    .globl _start
_start:
    CROSS add
    CROSS sub
    CROSS sll
    CROSS slt
    CROSS sltu
    CROSS xor
    CROSS srl
    CROSS sra
    CROSS or
    CROSS and

    TRR add, 0x7fffffffffffffff, 1
    TRR add, -1, 1
    TRR add, 0x8000000000000000, -1
    TRR sub, 0, 1
    TRR sub, 0x8000000000000000, 1
    TRR sub, 5, 5
    TRR sll, 1, 63
    TRR sll, 1, 64
    TRR sll, 0x123456789, 0xffffffffffffffc4
    TRR slt, -1, 0
    TRR slt, 0, -1
    TRR slt, 0x8000000000000000, 0x7fffffffffffffff
    TRR slt, 3, 3
    TRR sltu, -1, 0
    TRR sltu, 0, -1
    TRR sltu, 0, 0
    TRR sltu, 0x7fffffffffffffff, 0x8000000000000000
    TRR xor, 0x5555555555555555, -1
    TRR srl, 0x8000000000000000, 63
    TRR srl, 0x8000000000000000, 127
    TRR srl, -1, 32
    TRR sra, 0x8000000000000000, 63
    TRR sra, 0x8000000000000000, 0xffffffffffffff00
    TRR sra, 0x4000000000000000, 62
    TRR or, 0xf0f0, 0x0f0f0000
    TRR and, 0xff00ff00ff00ff00, 0x0ff00ff00ff00ff0

    // x0 as an operand
    li s2, 1234
    add s4, zero, s2
    REPORT "add zero s2", s4
    sub s4, zero, s2
    REPORT "sub zero s2", s4
    sltu s4, zero, s2
    REPORT "sltu zero s2 (snez)", s4
    sltu s4, s2, zero
    REPORT "sltu s2 zero", s4
    slt s4, s2, zero
    REPORT "slt s2 zero", s4
    li s2, -5
    slt s4, s2, zero
    REPORT "slt -5 zero (sltz)", s4
    slt s4, zero, s2
    REPORT "slt zero -5 (sgtz)", s4

    EXIT 0
