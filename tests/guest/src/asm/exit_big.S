// exit_group with a status above 255: the parent sees status & 0xff (0x45).
#include "macros.inc"

    .text
    .globl _start
_start:
    PSTR "exit_group(0x12345)"
    PNL
    li a0, 0x12345
    li a7, SYS_exit_group
    ecall
    ebreak
