// fence variants, register preservation across ecall, a very long
// straight-line block crossing page boundaries, and li sequences.
#include "macros.inc"

    .section .rodata
msg: .ascii "hello from misc (raw write)\n"
    .set msg_len, . - msg

    .text
    .globl _start
_start:
    // fences are no-ops for a single-threaded program
    li s4, 11
    fence
    addi s4, s4, 1
    fence rw, rw
    addi s4, s4, 1
    fence r, r
    fence w, w
    fence iorw, iorw
    fence r, rw
    fence.tso
    addi s4, s4, 1
    REPORT "after fences (expect 0xe)", s4

    // all registers except a0 survive an ecall (write)
    li ra, 0x1001
    // sp and gp are not touched
    li tp, 0x1004
    li t0, 0x1005
    li t1, 0x1006
    li t2, 0x1007
    li s0, 0x1008
    li s1, 0x1009
    lla a1, msg
    li a2, msg_len
    li a3, 0x100d
    li a4, 0x100e
    li a5, 0x100f
    li a6, 0x1010
    li a7, SYS_write
    li s2, 0x1012
    li s3, 0x1013
    li s4, 0x1014
    li s5, 0x1015
    li s6, 0x1016
    li s7, 0x1017
    li s8, 0x1018
    li s9, 0x1019
    li s10, 0x101a
    li s11, 0x101b
    li t3, 0x101c
    li t4, 0x101d
    li t5, 0x101e
    li t6, 0x101f
    li a0, 1
    ecall
    REPORT "write returned", a0
    // checksum: sum of reg * (index), a1 replaced by its offset to msg
    lla t0, msg
    sub a1, a1, t0
    li t0, 0x1005       // restore the clobbered t0
    li a0, 0
    .irp r, ra, tp, t0, t1, t2, s0, s1, a1, a2, a3, a4, a5, a6, a7, s2, s3, s4, s5, s6, s7, s8, s9, s10, s11, t3, t4, t5, t6
    slli a0, a0, 5
    xor a0, a0, \r
    .endr
    REPORT "register checksum after ecall", a0

    // one long straight-line block (> 4 KiB of code, crosses pages)
    li t0, 1
    li t1, 0
    .rept 700
    addi t0, t0, 3
    xor t1, t1, t0
    slli t2, t1, 1
    add t1, t1, t2
    .endr
    REPORT "long block t0", t0
    REPORT "long block t1", t1

    // li expansions of assorted constants
    .irp c, 0, 1, -1, 2047, -2048, 2048, -2049, 0x7ff800, 0x7fffffff, 0x80000000, -0x80000000, -0x80000001, 0xffffffff, 0x100000000, 0x123456789abcdef0, 0x8000000000000000, 0x7fffffffffffffff, 0xdeadbeefdeadbeef, 0x0000ffff0000ffff
    li s4, \c
    REPORT "li \c", s4
    .endr

    EXIT 0

