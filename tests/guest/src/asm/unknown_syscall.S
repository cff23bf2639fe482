// Unknown syscall numbers return -ENOSYS (-38); tcgjit warns once per number on stderr.
#include "macros.inc"

    .text
    .globl _start
_start:
    li a7, 999
    ecall
    REPORT "syscall 999", a0
    li a7, 999
    ecall
    REPORT "syscall 999 again", a0
    li a7, 4321
    li a0, 1
    ecall
    REPORT "syscall 4321", a0
    EXIT 0
