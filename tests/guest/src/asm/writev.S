// writev with several iovecs (one of length 0) to stdout and stderr; the
// returned byte counts are printed.
#include "macros.inc"

    .text
    .globl _start
_start:
    li a0, 1
    lla a1, iov1
    li a2, 4
    li a7, SYS_writev
    ecall
    mv s4, a0
    REPORT "writev(1, iov1, 4) returned", s4
    li a0, 2
    lla a1, iov2
    li a2, 2
    li a7, SYS_writev
    ecall
    mv s4, a0
    REPORT "writev(2, iov2, 2) returned", s4
    li a0, 1
    lla a1, iov1
    li a2, 0
    li a7, SYS_writev
    ecall
    mv s4, a0
    REPORT "writev(1, iov1, 0) returned", s4
    li a0, 0
    li a7, SYS_exit_group
    ecall
    ebreak

    .section .rodata
s1: .ascii "first part, "
    .set s1_len, . - s1
s2: .ascii "second part, "
    .set s2_len, . - s2
s3: .ascii "third part\n"
    .set s3_len, . - s3
e1: .ascii "to stderr: "
    .set e1_len, . - e1
e2: .ascii "via writev\n"
    .set e2_len, . - e2
    .balign 8
iov1:
    .dword s1, s1_len
    .dword s2, 0
    .dword s2, s2_len
    .dword s3, s3_len
iov2:
    .dword e1, e1_len
    .dword e2, e2_len
