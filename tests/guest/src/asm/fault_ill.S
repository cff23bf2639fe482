// Prints a line, then executes an illegal instruction (all-zero word):
// killed by SIGILL (shell status 132).
#include "macros.inc"

    .text
    .globl _start
_start:
    PSTR "before the illegal instruction"
    PNL
    .word 0
    PSTR "not reached"
    PNL
    EXIT 0
