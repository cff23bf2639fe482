// Runtime shared by the assembly test programs: line-buffered output on
// fd 1 and exit. Every public routine preserves all registers except ra.
#include "macros.inc"

#define BUFSZ 512

    .text

// save / restore the registers the routines use
.macro SAVE
    addi sp, sp, -80
    sd t0, 0(sp)
    sd t1, 8(sp)
    sd t2, 16(sp)
    sd a0, 24(sp)
    sd a1, 32(sp)
    sd a2, 40(sp)
    sd a7, 48(sp)
    sd ra, 56(sp)
    sd t3, 64(sp)
.endm
.macro RESTORE
    ld t0, 0(sp)
    ld t1, 8(sp)
    ld t2, 16(sp)
    ld a0, 24(sp)
    ld a1, 32(sp)
    ld a2, 40(sp)
    ld a7, 48(sp)
    ld ra, 56(sp)
    ld t3, 64(sp)
    addi sp, sp, 80
.endm

// internal: append byte a1 to the buffer; clobbers t0-t2, a0, a2, a7
append:
    lla t0, outlen
    ld t1, 0(t0)
    li t2, BUFSZ
    bltu t1, t2, 1f
    mv t3, ra
    mv t2, a1
    call flush_raw
    mv a1, t2
    mv ra, t3
    lla t0, outlen
    li t1, 0
1:  lla t2, outbuf
    add t2, t2, t1
    sb a1, 0(t2)
    addi t1, t1, 1
    sd t1, 0(t0)
    ret

// internal: write(1, outbuf, outlen); outlen = 0; clobbers t0, t1, a0-a2, a7
flush_raw:
    lla t0, outlen
    ld a2, 0(t0)
    beqz a2, 2f
    li a0, 1
    lla a1, outbuf
    li a7, SYS_write
    ecall
    lla t0, outlen
    sd zero, 0(t0)
2:  ret

    .globl put_char
put_char:                   // a0 = byte
    SAVE
    mv a1, a0
    call append
    RESTORE
    ret

    .globl put_str
put_str:                    // a0 = NUL-terminated string
    SAVE
    mv t3, a0
1:  lbu a1, 0(t3)
    beqz a1, 2f
    addi sp, sp, -16
    sd t3, 0(sp)
    call append
    ld t3, 0(sp)
    addi sp, sp, 16
    addi t3, t3, 1
    j 1b
2:  RESTORE
    ret

    .globl put_hex
put_hex:                    // a0 = value, printed as 16 lowercase hex digits
    SAVE
    mv t3, a0
    li a0, 60               // shift
1:  srl a1, t3, a0
    andi a1, a1, 15
    li t0, 10
    bltu a1, t0, 2f
    addi a1, a1, 'a' - '0' - 10
2:  addi a1, a1, '0'
    addi sp, sp, -16
    sd t3, 0(sp)
    sd a0, 8(sp)
    call append
    ld t3, 0(sp)
    ld a0, 8(sp)
    addi sp, sp, 16
    addi a0, a0, -4
    bgez a0, 1b
    RESTORE
    ret

    .globl put_report
put_report:                 // a1 = label string, a0 = value: "label: hex\n"
    addi sp, sp, -16
    sd ra, 0(sp)
    sd a0, 8(sp)
    mv a0, a1
    call put_str
    li a0, ':'
    call put_char
    li a0, ' '
    call put_char
    ld a0, 8(sp)
    call put_hex
    call put_nl
    ld ra, 0(sp)
    addi sp, sp, 16
    ret

    .globl put_nl
put_nl:                     // newline, then flush
    SAVE
    li a1, '\n'
    call append
    call flush_raw
    RESTORE
    ret

    .globl flush
flush:
    SAVE
    call flush_raw
    RESTORE
    ret

    .globl exit_prog
exit_prog:                  // a0 = status; flushes, never returns
    mv s11, a0
    call flush_raw
    mv a0, s11
    li a7, SYS_exit
    ecall
    ebreak                  // not reached

    .section .rodata
    .balign 8
    .globl vals
vals:                       // NVALS edge values used by the cross-product tests
    .dword 0
    .dword 1
    .dword -1
    .dword 2
    .dword -7
    .dword 31
    .dword 32
    .dword 63
    .dword 0x8000000000000000   // INT64_MIN
    .dword 0x7fffffffffffffff   // INT64_MAX
    .dword 0xffffffff80000000   // INT32_MIN
    .dword 0x000000007fffffff   // INT32_MAX
    .dword 0x00000000ffffffff
    .dword 0x0000000080000000
    .dword 0x123456789abcdef0

    .bss
    .balign 8
outlen: .dword 0
outbuf: .space BUFSZ
