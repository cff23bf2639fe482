// Loads and stores: lb lh lw ld lbu lhu lwu sb sh sw sd with sign/zero
// extension, positive / negative / extreme (+2047, -2048) offsets, rd == rs1,
// a store of the base register itself, store-then-load of overlapping sizes,
// .bss zero-fill and stack use.
#include "macros.inc"

// "op+imm:" then op at every `step`-aligned offset of the 16-byte pattern,
// addressed as base + imm with base = pattern + off - imm
.macro LROW op, step, imm
    PSTR "\op \imm:"
    li s1, 0
.Ll\@:
    lla t0, pattern
    add t0, t0, s1
    li t2, -(\imm)
    add t0, t0, t2
    \op s4, \imm(t0)
    PCHR ' '
    PHEX s4
    addi s1, s1, \step
    li t0, 16
    bltu s1, t0, .Ll\@
    PNL
.endm

// store s3 with `op` at offset off (and imm) into a cleared 24-byte area,
// then dump the area as three doublewords
.macro SROW op, off, imm
    lla t0, area
    sd zero, 0(t0)
    sd zero, 8(t0)
    sd zero, 16(t0)
    li t1, \off - (\imm)
    add t1, t1, t0
    \op s3, \imm(t1)
    PSTR "\op \off \imm:"
    ld s4, 0(t0)
    PCHR ' '
    PHEX s4
    ld s4, 8(t0)
    PCHR ' '
    PHEX s4
    ld s4, 16(t0)
    PCHR ' '
    PHEX s4
    PNL
.endm

    .text
    .globl _start
_start:
    .irp imm, 0, 16, -16, 2047, -2048
    LROW lb, 1, \imm
    LROW lbu, 1, \imm
    LROW lh, 2, \imm
    LROW lhu, 2, \imm
    LROW lw, 4, \imm
    LROW lwu, 4, \imm
    LROW ld, 8, \imm
    .endr

    li s3, 0x8877665544332211
    .irp off, 0, 1, 7, 8, 15
    SROW sb, \off, 0
    .endr
    .irp off, 0, 2, 6, 8, 14
    SROW sh, \off, 0
    .endr
    .irp off, 0, 4, 8, 12
    SROW sw, \off, 0
    .endr
    .irp off, 0, 8, 16
    SROW sd, \off, 0
    .endr
    SROW sd, 8, -2048
    SROW sw, 4, 2047
    SROW sh, 2, -1
    SROW sb, 3, 100
    li s3, 0xfedcba9876543210
    SROW sd, 0, 8
    SROW sw, 12, -12

    // store-then-load of overlapping sizes
    lla s0, area
    li s2, 0x0123456789abcdef
    sd s2, 0(s0)
    li s2, -1
    sb s2, 3(s0)
    lw s4, 0(s0)
    REPORT "sd,sb,lw", s4
    lwu s4, 0(s0)
    REPORT "sd,sb,lwu", s4
    sh zero, 6(s0)
    ld s4, 0(s0)
    REPORT "sh zero,ld", s4
    li s2, 0x80
    sw s2, 4(s0)
    lh s4, 4(s0)
    REPORT "sw 0x80,lh", s4
    lb s4, 4(s0)
    REPORT "sw 0x80,lb", s4
    lbu s4, 4(s0)
    REPORT "sw 0x80,lbu", s4
    ld s4, 0(s0)
    REPORT "final dword", s4

    // rd == rs1 loads: walk a linked list
    lla t0, node0
    li s4, 0
1:  ld t1, 8(t0)
    add s4, s4, t1
    ld t0, 0(t0)
    bnez t0, 1b
    REPORT "linked list sum", s4
    lla a0, node0
    ld a0, 0(a0)
    ld a0, 0(a0)
    lw a0, 12(a0)
    REPORT "ld a0,0(a0) chain + lw", a0

    // store the base register through itself
    lla t0, area
    sd t0, 0(t0)
    ld s4, 0(t0)
    sub s4, s4, t0
    REPORT "sd t0,0(t0) - t0", s4
    sw t0, 8(t0)
    lwu s4, 8(t0)
    slli s5, t0, 32
    srli s5, s5, 32
    sub s4, s4, s5
    REPORT "sw t0,8(t0) - low32(t0)", s4

    // .bss is zero-filled
    lla t0, zeroes
    ld s4, 0(t0)
    li t1, 4088
    add t1, t1, t0
    ld s5, 0(t1)
    or s4, s4, s5
    lb s5, 1000(t0)
    or s4, s4, s5
    REPORT "bss zero", s4

    // stack: push 16 values, pop and checksum in reverse order
    li s2, 0
1:  addi sp, sp, -8
    mul t0, s2, s2
    sd t0, 0(sp)
    addi s2, s2, 1
    li t1, 16
    bltu s2, t1, 1b
    li s4, 0
1:  ld t0, 0(sp)
    addi sp, sp, 8
    slli s4, s4, 3
    xor s4, s4, t0
    addi s2, s2, -1
    bnez s2, 1b
    REPORT "stack checksum", s4

    // byte copy loop with lbu/sb, then compare as dwords
    lla a0, pattern
    lla a1, area
    li a2, 16
1:  lbu t0, 0(a0)
    sb t0, 0(a1)
    addi a0, a0, 1
    addi a1, a1, 1
    addi a2, a2, -1
    bnez a2, 1b
    lla a0, pattern
    lla a1, area
    ld t0, 0(a0)
    ld t1, 0(a1)
    xor s4, t0, t1
    ld t0, 8(a0)
    ld t1, 8(a1)
    xor t0, t0, t1
    or s4, s4, t0
    REPORT "copy diff", s4

    EXIT 0

    .data
    .balign 8
pattern:
    .byte 0x81, 0x7f, 0xff, 0x00, 0x80, 0x01, 0xfe, 0x7e
    .byte 0x00, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x80
    .balign 8
node0: .dword node1, 0x100000001
node1: .dword node2, 2
node2: .dword node3, 0xffffffff00000000
node3: .dword 0, 40
    .balign 8
area: .space 32

    .bss
    .balign 8
zeroes: .space 4096
