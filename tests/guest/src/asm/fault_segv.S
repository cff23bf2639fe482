// Prints a line, then loads from an unmapped address: killed by SIGSEGV
// (shell status 139). Output written before the fault must not be lost.
#include "macros.inc"

    .text
    .globl _start
_start:
    PSTR "before the fault"
    PNL
    li t0, 0x10
    ld t1, 0(t0)
    PSTR "not reached"
    PNL
    EXIT 0
