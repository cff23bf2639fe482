// Writes one line to stdout and one to stderr, then exit(42).
#include "macros.inc"

    .section .rodata
out: .ascii "exit42: stdout line\n"
    .set out_len, . - out
err: .ascii "exit42: stderr line\n"
    .set err_len, . - err

    .text
    .globl _start
_start:
    li a0, 1
    lla a1, out
    li a2, out_len
    li a7, SYS_write
    ecall
    li a0, 2
    lla a1, err
    li a2, err_len
    li a7, SYS_write
    ecall
    li a0, 42
    li a7, SYS_exit
    ecall
    ebreak

