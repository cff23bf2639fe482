// Process entry for the freestanding C test programs: set up gp, pass
// argc/argv/envp from the initial stack to main, exit with its result.
    .section .text.start, "ax", @progbits
    .globl _start
_start:
    .option push
    .option norelax
    lla gp, __global_pointer$
    .option pop
    ld a0, 0(sp)            // argc
    addi a1, sp, 8          // argv
    slli t0, a0, 3
    add a2, a1, t0
    addi a2, a2, 8          // envp = argv + argc + 1
    andi sp, sp, -16
    call main
    call rt_exit            // flushes stdout, never returns
1:  j 1b
