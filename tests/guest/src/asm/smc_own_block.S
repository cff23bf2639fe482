// A routine that stores into its own code, ahead of the store and in the same block, with no
// fence.i. RISC-V then lets either the old or the new instruction run (qemu-riscv64 runs the
// old one; tcgjit stops the block after the store and goes on with the rewritten code). The
// store writes the encoding that is already there, so both give the same result, and the run
// compares with qemu's; tests/test_cold_blocks.py also checks that tcgjit counts the same
// instructions whether the routine runs compiled or in the interpreter.
#include "macros.inc"


    .text
    .globl _start
_start:
    MMAP_RWX_PAGE s0

    // The routine: a0 = its own address, a1 = the word to store at a0 + 12.
    li t0, 0x00b52623           // sw a1, 12(a0)
    sw t0, 0(s0)
    li t0, 0x00500513           // addi a0, zero, 5
    sw t0, 4(s0)
    li t0, 0x00150513           // addi a0, a0, 1
    sw t0, 8(s0)
    sw t0, 12(s0)               // addi a0, a0, 1 (the one rewritten)
    li t0, 0x00008067           // jalr zero, 0(ra)
    sw t0, 16(s0)
    .word 0x0000100f            // fence.i (the asm tests are built for rv64im)

    li s1, 3
1:  mv a0, s0
    li a1, 0x00150513           // the same addi a0, a0, 1
    jalr s0
    REPORT "own block", a0
    addi s1, s1, -1
    bnez s1, 1b
    EXIT 0
