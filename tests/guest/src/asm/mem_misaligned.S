// Misaligned loads and stores (allowed for plain loads/stores in Linux user
// mode), including accesses that straddle a page boundary.
#include "macros.inc"

.macro LROW op, step
    PSTR "\op:"
    li s1, 1
.Ll\@:
    lla t0, pattern
    add t0, t0, s1
    \op s4, 0(t0)
    PCHR ' '
    PHEX s4
    addi s1, s1, \step
    li t0, 16
    bltu s1, t0, .Ll\@
    PNL
.endm

    .text
    .globl _start
_start:
    LROW lh, 2
    LROW lhu, 2
    LROW lw, 1
    LROW lwu, 1
    LROW ld, 1

    // stores at every misaligned offset, dumped after each
    li s3, 0x8877665544332211
    li s1, 1
1:  lla t0, area
    sd zero, 0(t0)
    sd zero, 8(t0)
    add t1, t0, s1
    sd s3, 0(t1)
    sw s3, -1(t1)
    sh s3, 5(t1)
    ld s4, 0(t0)
    PSTR "stores at "
    PHEX s1
    PCHR ':'
    PCHR ' '
    PHEX s4
    ld s4, 8(t0)
    PCHR ' '
    PHEX s4
    PNL
    addi s1, s1, 2
    li t0, 8
    bltu s1, t0, 1b

    // accesses straddling a page boundary
    lla t0, page_end
    ld s4, -4(t0)
    REPORT "ld across page", s4
    lw s4, -2(t0)
    REPORT "lw across page", s4
    lhu s4, -1(t0)
    REPORT "lhu across page", s4
    li s2, 0x0102030405060708
    sd s2, -3(t0)
    ld s4, -8(t0)
    REPORT "after sd across page (low)", s4
    ld s4, 0(t0)
    REPORT "after sd across page (high)", s4
    EXIT 0

    .data
    .balign 8
pattern:
    .byte 0x81, 0x7f, 0xff, 0x00, 0x80, 0x01, 0xfe, 0x7e
    .byte 0x00, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x80
    .byte 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88
area: .space 24
    .balign 4096
    .space 4096 - 16
    .byte 0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7
    .byte 0xa8, 0xa9, 0xaa, 0xab, 0xac, 0xad, 0xae, 0xaf
page_end:
    .byte 0xb0, 0xb1, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7
