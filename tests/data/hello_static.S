# A tiny freestanding RV64IM Linux program for the loader and end-to-end tests.
# Build (see tests/data/README.md): riscv64-linux-gnu-gcc -nostdlib -static ... hello_static.S
#
# It prints "hello, write\n" with write(1, ...) and "hello, writev\n" with writev(1, iov, 2),
# checks that the initialised .data word has its file value and that the whole .bss is zero,
# then exits with exit_group(42), or 1 if a check failed.
# The rodata comes first so that the string lengths are known constants for `li`.
# Only pc-relative addressing is used, so the same source also links as a static-pie.

    .section .rodata
message:
    .ascii  "hello, write\n"
message_end:
part1:
    .ascii  "hello, "
part2:
    .ascii  "writev\n"
part2_end:
    .set    MESSAGE_LENGTH, message_end - message
    .set    PART1_LENGTH, part2 - part1
    .set    PART2_LENGTH, part2_end - part2
    .balign 8
data_word_expected:
    .dword  0x1122334455667788


    .section .text
    .globl _start
    .type _start, @function
_start:
    li      a0, 1
    lla     a1, message
    li      a2, MESSAGE_LENGTH
    li      a7, 64                      # write
    ecall

    addi    sp, sp, -32                 # struct iovec iov[2] on the stack
    lla     t0, part1
    sd      t0, 0(sp)
    li      t0, PART1_LENGTH
    sd      t0, 8(sp)
    lla     t0, part2
    sd      t0, 16(sp)
    li      t0, PART2_LENGTH
    sd      t0, 24(sp)
    li      a0, 1
    mv      a1, sp
    li      a2, 2
    li      a7, 66                      # writev
    ecall
    addi    sp, sp, 32

    li      s0, 1                       # exit status if a check fails
    lla     t0, data_word
    ld      t1, 0(t0)
    lla     t0, data_word_expected
    ld      t2, 0(t0)
    bne     t1, t2, done

    lla     t0, bss_start
    lla     t1, bss_end
    li      t2, 0
scan_bss:
    bgeu    t0, t1, bss_scanned
    ld      t3, 0(t0)
    or      t2, t2, t3
    addi    t0, t0, 8
    j       scan_bss
bss_scanned:
    bnez    t2, done
    li      s0, 42
done:
    mv      a0, s0
    li      a7, 94                      # exit_group
    ecall
    .size   _start, . - _start


    .section .data
    .balign 8
    .globl  data_word
    .type   data_word, @object
    .size   data_word, 8
data_word:
    .dword  0x1122334455667788

    .section .bss
    .balign 8
    .globl  bss_start
bss_start:
    .skip   0x2348                      # crosses page boundaries; ends mid-page
bss_end:
