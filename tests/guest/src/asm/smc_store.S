// Stores into code that has already run, with no fence.i: qemu-riscv64 (like tcgjit) notices
// the write and runs the new code. Two cases:
//  1. code in an RWX page, rewritten by a store from elsewhere, called again;
//  2. the same page rewritten through a read() syscall into it (from a pipe).
// (Code that patches an instruction of the block it is running is left out: without fence.i
// RISC-V lets either the old or the new instruction run, and qemu runs the old one.)
#include "macros.inc"

#define SYS_pipe2 59
#define SYS_read 63

    .text
    .globl _start
_start:
    MMAP_RWX_PAGE s0

    // Case 1: "li a0, 11; ret", run it, then store "li a0, 22" over the li and run again.
    li t0, 0x00b00513           // addi a0, zero, 11
    sw t0, 0(s0)
    li t0, 0x00008067           // jalr zero, 0(ra)
    sw t0, 4(s0)
    .word 0x0000100f            // fence.i (the asm tests are built for rv64im)
    jalr s0
    REPORT "first", a0
    li t0, 0x01600513           // addi a0, zero, 22
    sw t0, 0(s0)
    jalr s0
    REPORT "after a store", a0

    // Case 2: read() the instruction "li a0, 33" from a pipe over the first instruction.
    addi sp, sp, -16
    mv a0, sp
    li a1, 0
    li a7, SYS_pipe2
    ecall
    lw a0, 4(sp)                // write end
    lla a1, li33
    li a2, 4
    li a7, SYS_write
    ecall
    lw a0, 0(sp)                // read end
    mv a1, s0
    li a2, 4
    li a7, SYS_read
    ecall
    addi sp, sp, 16
    jalr s0
    REPORT "after read()", a0
    EXIT 0

    .section .rodata
    .p2align 2
li33: .word 0x02100513          // addi a0, zero, 33
