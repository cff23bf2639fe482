# A freestanding RV64IM Linux program that walks through the syscalls a libc start-up and
# abort() use, for end-to-end and -strace tests (see tests/data/README.md to rebuild).
#
# Output: "riscv64\n" (uname's machine field), "mapped\n" (copied into an anonymous mmap and
# written from there), "exe ok\n" (readlink("/proc/self/exe") gave an absolute path),
# "still alive\n" (SIGABRT sent with tgkill while blocked stays pending), then unblocking
# SIGABRT kills the process: status 134 (128 + SIGABRT), as glibc's abort() ends.
# Anything unexpected exits with the status in s11 (the step that failed) instead.

    .section .rodata
machine_newline:
    .ascii  "\n"
mapped_text:
    .ascii  "mapped\n"
mapped_text_end:
exe_ok_text:
    .ascii  "exe ok\n"
exe_ok_text_end:
alive_text:
    .ascii  "still alive\n"
alive_text_end:
missing_path:
    .asciz  "/nonexistent/tcgjit-syscall-tour"
proc_self_exe:
    .asciz  "/proc/self/exe"
    .set    MAPPED_LENGTH, mapped_text_end - mapped_text
    .set    EXE_OK_LENGTH, exe_ok_text_end - exe_ok_text
    .set    ALIVE_LENGTH, alive_text_end - alive_text

    .set    SYS_GETPID, 172
    .set    SYS_GETTID, 178
    .set    SYS_UNAME, 160
    .set    SYS_WRITE, 64
    .set    SYS_MMAP, 222
    .set    SYS_MUNMAP, 215
    .set    SYS_OPENAT, 56
    .set    SYS_READLINKAT, 78
    .set    SYS_CLOCK_GETTIME, 113
    .set    SYS_RT_SIGPROCMASK, 135
    .set    SYS_TGKILL, 131
    .set    SYS_EXIT_GROUP, 94
    .set    AT_FDCWD, -100
    .set    ENOENT, 2
    .set    SIGABRT_BIT, 1 << 5          # sigset bit of signal 6
    .set    FRAME, 512

    .section .text
    .globl _start
    .type _start, @function
_start:
    addi    sp, sp, -FRAME
    li      a7, SYS_GETPID
    ecall
    mv      s0, a0
    li      a7, SYS_GETTID
    ecall
    mv      s1, a0

    li      s11, 10                     # step 10: uname, print the machine field
    mv      a0, sp
    li      a7, SYS_UNAME
    ecall
    bnez    a0, fail
    li      a0, 1
    addi    a1, sp, 4 * 65              # utsname.machine
    li      a2, 7                       # "riscv64"
    li      a7, SYS_WRITE
    ecall
    li      a0, 1
    lla     a1, machine_newline
    li      a2, 1
    li      a7, SYS_WRITE
    ecall

    li      s11, 11                     # step 11: anonymous mmap, fill, write, munmap
    li      a0, 0
    li      a1, 8192
    li      a2, 3                       # PROT_READ | PROT_WRITE
    li      a3, 0x22                    # MAP_PRIVATE | MAP_ANONYMOUS
    li      a4, -1
    li      a5, 0
    li      a7, SYS_MMAP
    ecall
    li      t0, -4096
    bgeu    a0, t0, fail
    mv      s2, a0
    lla     t0, mapped_text
    li      t1, MAPPED_LENGTH
    mv      t2, s2
copy:
    lbu     t3, 0(t0)
    sb      t3, 0(t2)
    addi    t0, t0, 1
    addi    t2, t2, 1
    addi    t1, t1, -1
    bnez    t1, copy
    li      a0, 1
    mv      a1, s2
    li      a2, MAPPED_LENGTH
    li      a7, SYS_WRITE
    ecall
    mv      a0, s2
    li      a1, 8192
    li      a7, SYS_MUNMAP
    ecall
    bnez    a0, fail

    li      s11, 12                     # step 12: openat of a missing file is -ENOENT
    li      a0, AT_FDCWD
    lla     a1, missing_path
    li      a2, 0                       # O_RDONLY
    li      a3, 0
    li      a7, SYS_OPENAT
    ecall
    li      t0, -ENOENT
    bne     a0, t0, fail

    li      s11, 13                     # step 13: /proc/self/exe is an absolute path
    li      a0, AT_FDCWD
    lla     a1, proc_self_exe
    mv      a2, sp
    li      a3, 256
    li      a7, SYS_READLINKAT
    ecall
    blez    a0, fail
    lbu     t0, 0(sp)
    li      t1, '/'
    bne     t0, t1, fail
    li      a0, 1
    lla     a1, exe_ok_text
    li      a2, EXE_OK_LENGTH
    li      a7, SYS_WRITE
    ecall

    li      s11, 14                     # step 14: clock_gettime(CLOCK_MONOTONIC)
    li      a0, 1
    mv      a1, sp
    li      a7, SYS_CLOCK_GETTIME
    ecall
    bnez    a0, fail

    li      s11, 15                     # step 15: block SIGABRT, send it: it stays pending
    li      t0, SIGABRT_BIT
    sd      t0, 0(sp)
    li      a0, 0                       # SIG_BLOCK
    mv      a1, sp
    li      a2, 0
    li      a3, 8
    li      a7, SYS_RT_SIGPROCMASK
    ecall
    bnez    a0, fail
    mv      a0, s0
    mv      a1, s1
    li      a2, 6                       # SIGABRT
    li      a7, SYS_TGKILL
    ecall
    bnez    a0, fail
    li      a0, 1
    lla     a1, alive_text
    li      a2, ALIVE_LENGTH
    li      a7, SYS_WRITE
    ecall

    li      s11, 16                     # step 16: unblocking it kills the process
    li      a0, 1                       # SIG_UNBLOCK
    mv      a1, sp
    li      a2, 0
    li      a3, 8
    li      a7, SYS_RT_SIGPROCMASK
    ecall

fail:
    mv      a0, s11
    li      a7, SYS_EXIT_GROUP
    ecall
