/* Self-modifying and generated code: instructions written into an RWX
 * mmap'd page and executed after fence.i (and after __builtin___clear_cache,
 * which glibc implements with the riscv_flush_icache syscall); rewritten
 * and executed again many times (a stale translation would return the old
 * value); code that patches the instruction right after its own fence.i in
 * the same straight-line block; W^X flipping with mprotect; munmap + mmap of
 * new code at the same address; a compressed-instruction function; and a
 * generated loop executed many times between rewrites. */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* RV64 encoders */
enum { ZERO = 0, RA = 1, T0 = 5, T1 = 6, A0 = 10, A1 = 11, A2 = 12 };
static uint32_t i_type(int imm, int rs1, int f3, int rd, int op)
{
    return ((uint32_t)(imm & 0xfff) << 20) | (uint32_t)rs1 << 15 | (uint32_t)f3 << 12 |
           (uint32_t)rd << 7 | (uint32_t)op;
}
static uint32_t addi(int rd, int rs1, int imm) { return i_type(imm, rs1, 0, rd, 0x13); }
static uint32_t r_type(int f7, int rs2, int rs1, int f3, int rd, int op)
{
    return (uint32_t)f7 << 25 | (uint32_t)rs2 << 20 | (uint32_t)rs1 << 15 | (uint32_t)f3 << 12 |
           (uint32_t)rd << 7 | (uint32_t)op;
}
static uint32_t add(int rd, int a, int b) { return r_type(0, b, a, 0, rd, 0x33); }
static uint32_t mul(int rd, int a, int b) { return r_type(1, b, a, 0, rd, 0x33); }
static uint32_t ret(void) { return i_type(0, RA, 0, ZERO, 0x67); }
static uint32_t fence_i(void) { return 0x0000100f; }
static uint32_t auipc(int rd, int imm20) { return (uint32_t)imm20 << 12 | (uint32_t)rd << 7 | 0x17; }
static uint32_t sw(int rs2, int rs1, int imm)
{
    return (uint32_t)((imm >> 5) & 0x7f) << 25 | (uint32_t)rs2 << 20 | (uint32_t)rs1 << 15 |
           2u << 12 | (uint32_t)(imm & 0x1f) << 7 | 0x23;
}
static uint32_t bne(int rs1, int rs2, int off)
{
    uint32_t o = (uint32_t)off;
    return ((o >> 12) & 1) << 31 | ((o >> 5) & 0x3f) << 25 | (uint32_t)rs2 << 20 |
           (uint32_t)rs1 << 15 | 1u << 12 | ((o >> 1) & 0xf) << 8 | ((o >> 11) & 1) << 7 | 0x63;
}

typedef long (*fn0)(void);
typedef long (*fn1)(long);
typedef long (*fn2)(long, long);

static void sync_icache(void *p, size_t n, int how)
{
    if (how == 0)
        __asm__ volatile("fence.i" ::: "memory");
    else
        __builtin___clear_cache((char *)p, (char *)p + n);
}

static void emit(uint32_t *code, const uint32_t *insns, int n)
{
    for (int i = 0; i < n; i++)
        code[i] = insns[i];
}

static void rewrite_loop(uint32_t *code)
{
    /* long f(void) { return K; } rewritten with K = 0..299, each called 20
     * times; half the time synchronised with fence.i, half via the syscall */
    long sum = 0, wrong = 0;
    for (int k = 0; k < 300; k++) {
        uint32_t insns[] = {addi(A0, ZERO, k - 150), ret()};
        emit(code, insns, 2);
        sync_icache(code, sizeof(insns), k & 1);
        for (int rep = 0; rep < 20; rep++) {
            long v = ((fn0)code)();
            sum += v;
            wrong += v != k - 150;
        }
    }
    printf("rewrite loop: sum %ld wrong %ld\n", sum, wrong);
}

static void same_block_patch(uint32_t *code)
{
    /* auipc t0, 0 ; sw a1, 16(t0) ; fence.i ; nop ; addi a0, zero, 1 ; ret
     * The sw overwrites the addi (offset 16) with the instruction passed in
     * a1; the fence.i between makes the new instruction visible. */
    uint32_t insns[] = {auipc(T0, 0), sw(A1, T0, 16), fence_i(), addi(ZERO, ZERO, 0),
                        addi(A0, ZERO, 1), ret()};
    emit(code, insns, 6);
    sync_icache(code, sizeof(insns), 0);
    long wrong = 0;
    for (int k = 0; k < 50; k++) {
        long v = ((fn2)code)(0, (long)(int32_t)addi(A0, ZERO, 100 + k));
        if (v != 100 + k)
            wrong++;
        if (k < 3 || k == 49)
            printf("same-block patch %d: %ld\n", k, v);
    }
    printf("same-block patch wrong %ld\n", wrong);
    /* patch an instruction in a loop body that is executing */
    /* loop: addi a0,a0,STEP ; addi t1,t1,-1 ; bne t1,zero,loop ; ret
     * called with t1 preset via a prologue: addi t1, zero, 10 */
    uint32_t loop[] = {addi(T1, ZERO, 10), addi(A0, A0, 1), addi(T1, T1, -1), bne(T1, ZERO, -8), ret()};
    emit(code, loop, 5);
    sync_icache(code, sizeof(loop), 0);
    long a = ((fn1)code)(0);
    code[1] = addi(A0, A0, 7);
    sync_icache(code, sizeof(loop), 1);
    long b = ((fn1)code)(0);
    code[0] = addi(T1, ZERO, 3);
    code[1] = mul(A0, A0, A0);
    sync_icache(code, sizeof(loop), 0);
    long c = ((fn1)code)(3);
    printf("loop step 1: %ld, step 7: %ld, squared 3x from 3: %ld\n", a, b, c);
}

static void wx_flip(void)
{
    long pg = sysconf(_SC_PAGESIZE);
    uint32_t *code = mmap(NULL, (size_t)pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    long results[6];
    for (int k = 0; k < 6; k++) {
        mprotect(code, (size_t)pg, PROT_READ | PROT_WRITE);
        uint32_t insns[] = {addi(A0, A0, k), add(A0, A0, A0), ret()};
        emit(code, insns, 3);
        mprotect(code, (size_t)pg, PROT_READ | PROT_EXEC);
        __builtin___clear_cache((char *)code, (char *)(code + 3));
        results[k] = ((fn1)code)(10);
    }
    printf("W^X flip: %ld %ld %ld %ld %ld %ld\n", results[0], results[1], results[2], results[3],
           results[4], results[5]);
    /* munmap, then map new code at the same address */
    void *addr = code;
    long before = ((fn1)code)(1);
    munmap(code, (size_t)pg);
    code = mmap(addr, (size_t)pg, PROT_READ | PROT_WRITE | PROT_EXEC,
                MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    uint32_t insns[] = {mul(A0, A0, A0), addi(A0, A0, -1), ret()};
    emit(code, insns, 3);
    sync_icache(code, sizeof(insns), 0);
    long after = ((fn1)code)(9);
    printf("remap at the same address: same %d, before %ld after %ld\n", (void *)code == addr,
           before, after);
    munmap(code, (size_t)pg);
}

static void compressed(uint16_t *code)
{
    /* c.li a0, 5 ; c.addi a0, 3 ; c.slli a0, 2 ; c.jr ra  -> (5+3)<<2 = 32
     * then patch the c.li immediate */
    uint16_t c_li = 0x4515;   /* c.li a0, 5 */
    uint16_t c_addi = 0x050d; /* c.addi a0, 3 */
    uint16_t c_slli = 0x050a; /* c.slli a0, 2 */
    uint16_t c_jr = 0x8082;   /* c.jr ra (ret) */
    code[0] = c_li;
    code[1] = c_addi;
    code[2] = c_slli;
    code[3] = c_jr;
    sync_icache(code, 8, 0);
    long a = ((fn0)code)();
    code[0] = (uint16_t)((c_li & ~0x107c) | (11 << 2)); /* c.li a0, 11 */
    sync_icache(code, 8, 1);
    long b = ((fn0)code)();
    printf("compressed: %ld then %ld\n", a, b);
}

static void generated_loops(uint32_t *code)
{
    /* sum_{i=1..n} (i*M + C) with M and C patched between batches of calls */
    long total = 0;
    for (int m = 1; m <= 8; m++) {
        int cst = m * 3 - 10;
        /* a1 = n ; a0 = 0 ; loop: t0 = a1 * m ; t0 += cst ; a0 += t0 ; a1 -= 1 ; bne a1, 0 */
        uint32_t insns[] = {
            addi(A1, A0, 0), addi(A0, ZERO, 0), addi(T1, ZERO, m),
            mul(T0, A1, T1), addi(T0, T0, cst), add(A0, A0, T0), addi(A1, A1, -1),
            bne(A1, ZERO, -16), ret(),
        };
        emit(code, insns, 9);
        sync_icache(code, sizeof(insns), m & 1);
        for (int rep = 0; rep < 50; rep++)
            total += ((fn1)code)(100 + rep);
    }
    printf("generated loops: total %ld\n", total);
}

int main(void)
{
    long pg = sysconf(_SC_PAGESIZE);
    void *page = mmap(NULL, 2 * (size_t)pg, PROT_READ | PROT_WRITE | PROT_EXEC,
                      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    printf("RWX mmap ok %d\n", page != MAP_FAILED);
    uint32_t *code = page;
    uint32_t insns[] = {addi(A0, ZERO, 42), ret()};
    emit(code, insns, 2);
    sync_icache(code, sizeof(insns), 0);
    printf("first generated function: %ld\n", ((fn0)code)());
    code[0] = addi(A0, ZERO, -7);
    sync_icache(code, 4, 1);
    printf("after rewrite + __builtin___clear_cache: %ld\n", ((fn0)code)());
    rewrite_loop(code);
    same_block_patch(code + 64);
    compressed((uint16_t *)(code + 128));
    generated_loops(code + 256);
    /* code that straddles the two pages */
    uint32_t *edge = (uint32_t *)((char *)page + pg - 8);
    uint32_t straddle[] = {addi(A0, A0, 1), addi(A0, A0, 2), addi(A0, A0, 4), ret()};
    emit(edge, straddle, 4);
    sync_icache(edge, sizeof(straddle), 0);
    long s1 = ((fn1)edge)(100);
    edge[2] = addi(A0, A0, 40); /* second page */
    sync_icache(edge, sizeof(straddle), 1);
    long s2 = ((fn1)edge)(100);
    printf("across the page boundary: %ld then %ld\n", s1, s2);
    wx_flip();
    munmap(page, 2 * (size_t)pg);
    return 0;
}
