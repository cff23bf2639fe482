// RV64M: mul mulh mulhsu mulhu div divu rem remu mulw divw divuw remw remuw,
// cross product over the edge values (0, 1, -1, INT64_MIN/MAX, INT32_MIN/MAX,
// ...), i.e. including division by zero and signed overflow.
#include "macros.inc"

    .text
    .globl _start
_start:
    CROSS mul
    CROSS mulh
    CROSS mulhsu
    CROSS mulhu
    CROSS div
    CROSS divu
    CROSS rem
    CROSS remu
    CROSS mulw
    CROSS divw
    CROSS divuw
    CROSS remw
    CROSS remuw
    EXIT 0
