// Conditional branches (taken / not taken, forward / backward, signed and
// unsigned edge values), jal and jalr (link value, rd == rs1, odd target bit
// cleared, negative / odd offsets, jump table), loops and recursion.
#include "macros.inc"

// One line per (op, a): for each b, two digits: forward-branch taken,
// backward-branch taken ("1" = taken).
.macro BRCROSS op
    li s0, 0
.Lbi\@:
    lla t0, vals
    add t0, t0, s0
    ld s2, 0(t0)
    PSTR "\op "
    PHEX s2
    PCHR ':'
    li s1, 0
.Lbj\@:
    lla t0, vals
    add t0, t0, s1
    ld s3, 0(t0)
    PCHR ' '
    li s4, 0
    \op s2, s3, .Lbt\@
    j .Lbn\@
.Lbt\@:
    li s4, 1
.Lbn\@:
    PDIGIT s4
    li s4, 0
    j .Lbb\@
.Lbtk\@:
    li s4, 1
    j .Lbd\@
.Lbb\@:
    \op s2, s3, .Lbtk\@
.Lbd\@:
    PDIGIT s4
    addi s1, s1, 8
    li t0, NVALS*8
    bltu s1, t0, .Lbj\@
    PNL
    addi s0, s0, 8
    li t0, NVALS*8
    bltu s0, t0, .Lbi\@
.endm

// constant operands: "op a b: 1" if taken
.macro TBR op, a, b
    li s2, \a
    li s3, \b
    li s4, 0
    \op s2, s3, .Ltb\@
    j .Ltbn\@
.Ltb\@:
    li s4, 1
.Ltbn\@:
    REPORT "\op \a \b", s4
.endm

    .text
    .globl _start
_start:
    BRCROSS beq
    BRCROSS bne
    BRCROSS blt
    BRCROSS bge
    BRCROSS bltu
    BRCROSS bgeu

    .irp op, beq, bne, blt, bge, bltu, bgeu
    TBR \op, 0, 0
    TBR \op, -1, 0
    TBR \op, 0, -1
    TBR \op, 0x8000000000000000, 0x7fffffffffffffff
    TBR \op, 0x7fffffffffffffff, 0x8000000000000000
    TBR \op, 0xffffffff, 0xffffffffffffffff
    TBR \op, 0x80000000, 0xffffffff80000000
    .endr

    // same register on both sides
    li s2, -3
    li s4, 0
    beq s2, s2, 1f
    li s4, 9
1:  bge s2, s2, 2f
    li s4, 9
2:  bgeu s2, s2, 3f
    li s4, 9
3:  blt s2, s2, 4f
    addi s4, s4, 1
4:  bltu s2, s2, 5f
    addi s4, s4, 1
5:  bne s2, s2, 6f
    addi s4, s4, 1
6:  REPORT "same-register branches (expect 3)", s4

    // comparisons against x0 (beqz/bnez/bltz/bgez/blez/bgtz)
    li s4, 0
    li s2, -1
    bltz s2, 1f
    ori s4, s4, 1
1:  bgez s2, 2f
    ori s4, s4, 2
2:  blez s2, 3f
    ori s4, s4, 4
3:  bgtz s2, 4f
    ori s4, s4, 8
4:  beqz zero, 5f
    ori s4, s4, 16
5:  bnez zero, 6f
    ori s4, s4, 32
6:  bltu zero, s2, 7f
    ori s4, s4, 64
7:  bgeu zero, s2, 8f
    ori s4, s4, 128
8:  REPORT "zero-operand branches mask", s4

    // a branch over ~3 KiB of code (still within the +-4 KiB range)
    li s4, 1
    j 1f
0:  li s4, 2
    j 2f
1:  beq zero, zero, 3f
    li s4, 99
    .fill 760, 4, 0x00000013         // nops
3:  bne s4, zero, 0b
2:  REPORT "long branch", s4

    // loop with a backward branch: sum 1..1000
    li s2, 1000
    li s4, 0
1:  add s4, s4, s2
    addi s2, s2, -1
    bnez s2, 1b
    REPORT "sum 1..1000", s4

    // nested loops: count (i, j) with i, j < 37 and i*j % 7 == 3
    li s2, 0
    li s4, 0
    li s6, 7
1:  li s3, 0
2:  mul t0, s2, s3
    remu t0, t0, s6
    addi t0, t0, -3
    bnez t0, 3f
    addi s4, s4, 1
3:  addi s3, s3, 1
    li t1, 37
    blt s3, t1, 2b
    addi s2, s2, 1
    blt s2, t1, 1b
    REPORT "nested loop count", s4

    // ---- jal ----
    jal ra, fn_link
.Ljal_ret:
    lla s5, .Ljal_ret
    sub s6, s4, s5
    REPORT "jal link - return label", s6
    jal s7, fn_link_s7
.Ljal_ret2:
    lla s5, .Ljal_ret2
    sub s6, s4, s5
    REPORT "jal s7 link - return label", s6
    li s4, 0
    jal zero, 1f
    li s4, 1
1:  REPORT "jal x0 skips", s4
    // backward jal
    li s4, 0
    j 2f
1:  addi s4, s4, 10
    j 3f
2:  addi s4, s4, 1
    jal zero, 1b
3:  REPORT "backward jal (expect 0xb)", s4

    // ---- jalr ----
    lla t1, fn_link
    jalr ra, 0(t1)
.Ljalr_ret:
    lla s5, .Ljalr_ret
    sub s6, s4, s5
    REPORT "jalr link - return label", s6

    // rd == rs1: target uses the old value, link is written afterwards
    lla t1, fn_link_t1
    jalr t1, 0(t1)
.Ljalr_ret_t1:
    lla s5, .Ljalr_ret_t1
    sub s6, s4, s5
    REPORT "jalr t1,0(t1) link - return label", s6
    sub s6, t1, s5
    REPORT "jalr t1,0(t1) t1 - return label", s6

    // odd target: bit 0 of the computed target is cleared
    lla t1, fn_link
    addi t1, t1, 1
    jalr ra, 0(t1)
.Ljalr_odd1:
    lla s5, .Ljalr_odd1
    sub s6, s4, s5
    REPORT "jalr odd register target", s6
    lla t1, fn_link
    jalr ra, 1(t1)
.Ljalr_odd2:
    lla s5, .Ljalr_odd2
    sub s6, s4, s5
    REPORT "jalr odd immediate", s6
    lla t1, fn_link + 2
    jalr ra, -1(t1)
.Ljalr_odd3:
    lla s5, .Ljalr_odd3
    sub s6, s4, s5
    REPORT "jalr fn+2 with imm -1", s6
    lla t1, fn_link + 16
    jalr ra, -16(t1)
.Ljalr_neg:
    lla s5, .Ljalr_neg
    sub s6, s4, s5
    REPORT "jalr negative offset", s6
    lla t1, fn_link - 2047
    jalr ra, 2047(t1)
.Ljalr_big:
    lla s5, .Ljalr_big
    sub s6, s4, s5
    REPORT "jalr offset 2047 (odd)", s6
    lla t1, fn_link + 2048
    jalr ra, -2048(t1)
.Ljalr_mbig:
    lla s5, .Ljalr_mbig
    sub s6, s4, s5
    REPORT "jalr offset -2048", s6
    // jalr x0 (plain indirect jump)
    li s4, 0
    lla t1, 1f
    jalr zero, 0(t1)
    li s4, 1
1:  REPORT "jalr x0 skips", s4

    // jump table dispatch
    li s2, 0              // index
    li s4, 0              // accumulator
.Ljt_loop:
    lla t0, jump_table
    andi t1, s2, 3
    slli t1, t1, 3
    add t0, t0, t1
    ld t0, 0(t0)
    jr t0
.Lcase0:
    addi s4, s4, 1
    j .Ljt_next
.Lcase1:
    slli s4, s4, 1
    j .Ljt_next
.Lcase2:
    xori s4, s4, 0x55
    j .Ljt_next
.Lcase3:
    addi s4, s4, -3
.Ljt_next:
    addi s2, s2, 1
    li t0, 23
    bltu s2, t0, .Ljt_loop
    REPORT "jump table accumulator", s4

    // recursion with a stack frame
    li a0, 18
    call fib
    REPORT "fib(18)", a0

    EXIT 0

// s4 = ra at entry
fn_link:
    mv s4, ra
    ret
fn_link_s7:
    mv s4, s7
    jr s7
fn_link_t1:
    mv s4, t1
    jr t1

// a0 = fib(a0), naive recursion
fib:
    li t0, 2
    bltu a0, t0, 1f
    addi sp, sp, -32
    sd ra, 0(sp)
    sd s0, 8(sp)
    sd s1, 16(sp)
    mv s0, a0
    addi a0, a0, -1
    call fib
    mv s1, a0
    addi a0, s0, -2
    call fib
    add a0, a0, s1
    ld ra, 0(sp)
    ld s0, 8(sp)
    ld s1, 16(sp)
    addi sp, sp, 32
1:  ret

    .section .rodata
    .balign 8
jump_table:
    .dword .Lcase0, .Lcase1, .Lcase2, .Lcase3
