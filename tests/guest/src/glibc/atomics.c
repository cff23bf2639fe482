/* RV64A: every AMO (swap add xor and or min max minu maxu, .w and .d, plain
 * / .aq / .rl / .aqrl) over a table of (memory, operand) pairs, printing
 * the old value returned in rd, the new memory value and a neighbour word
 * (must be untouched); rd = x0 and rd = rs2 forms; LR/SC (.w and .d):
 * success returns 0, sc after a successful sc fails, sc to another address
 * fails, sc.w of a sign-extended value, CAS loops; GCC __atomic builtins
 * (which compile to AMOs and LR/SC loops); threads are not used. */
#include <stdint.h>
#include <stdio.h>

#define N(a) (sizeof(a) / sizeof((a)[0]))

static const uint64_t mem_vals[] = {
    0, 1, 0xffffffffffffffffULL, 0x7fffffffffffffffULL, 0x8000000000000000ULL,
    0x000000007fffffffULL, 0x0000000080000000ULL, 0x00000000ffffffffULL,
    0xffffffff80000000ULL, 0x123456789abcdef0ULL,
};
static const uint64_t op_vals[] = {
    0, 1, 0xffffffffffffffffULL, 0x8000000000000000ULL, 0x0000000080000000ULL,
    0x00000000ffffffffULL, 0xfedcba9876543210ULL,
};

static uint64_t cell[4] __attribute__((aligned(16)));

#define AMO_D(NAME, INSN)                                                       \
    static uint64_t NAME(uint64_t *p, uint64_t v)                               \
    {                                                                           \
        uint64_t old;                                                           \
        __asm__ volatile(INSN " %0, %2, (%1)" : "=&r"(old) : "r"(p), "r"(v) : "memory"); \
        return old;                                                             \
    }
#define AMO_W(NAME, INSN)                                                       \
    static uint64_t NAME(uint64_t *p, uint64_t v)                               \
    {                                                                           \
        uint64_t old;                                                           \
        __asm__ volatile(INSN " %0, %2, (%1)" : "=&r"(old) : "r"(p), "r"(v) : "memory"); \
        return old;                                                             \
    }

#define AMO_SET(OP)                                                             \
    AMO_D(OP##_d, "amo" #OP ".d") AMO_D(OP##_d_aq, "amo" #OP ".d.aq")           \
    AMO_D(OP##_d_rl, "amo" #OP ".d.rl") AMO_D(OP##_d_aqrl, "amo" #OP ".d.aqrl") \
    AMO_W(OP##_w, "amo" #OP ".w") AMO_W(OP##_w_aq, "amo" #OP ".w.aq")           \
    AMO_W(OP##_w_rl, "amo" #OP ".w.rl") AMO_W(OP##_w_aqrl, "amo" #OP ".w.aqrl")

AMO_SET(swap)
AMO_SET(add)
AMO_SET(xor)
AMO_SET(and)
AMO_SET(or)
AMO_SET(min)
AMO_SET(max)
AMO_SET(minu)
AMO_SET(maxu)

typedef uint64_t (*amo_fn)(uint64_t *, uint64_t);
struct amo {
    const char *name;
    amo_fn f[8]; /* d d.aq d.rl d.aqrl w w.aq w.rl w.aqrl */
};
#define ENTRY(OP)                                                               \
    {#OP, {OP##_d, OP##_d_aq, OP##_d_rl, OP##_d_aqrl, OP##_w, OP##_w_aq, OP##_w_rl, OP##_w_aqrl}}
static const struct amo amos[] = {
    ENTRY(swap), ENTRY(add), ENTRY(xor), ENTRY(and), ENTRY(or),
    ENTRY(min),  ENTRY(max), ENTRY(minu), ENTRY(maxu),
};

static void amo_table(void)
{
    for (size_t a = 0; a < N(amos); a++) {
        for (int w = 0; w < 2; w++) {
            for (size_t i = 0; i < N(mem_vals); i++) {
                printf("amo%s.%c %016llx:", amos[a].name, w ? 'w' : 'd',
                       (unsigned long long)mem_vals[i]);
                for (size_t j = 0; j < N(op_vals); j++) {
                    uint64_t res[4][2];
                    for (int ord = 0; ord < 4; ord++) {
                        cell[0] = 0x5555555555555555ULL;
                        cell[1] = mem_vals[i];
                        cell[2] = 0xaaaaaaaaaaaaaaaaULL;
                        uint64_t old = amos[a].f[w * 4 + ord](&cell[1], op_vals[j]);
                        res[ord][0] = old;
                        res[ord][1] = cell[1];
                        if (cell[0] != 0x5555555555555555ULL || cell[2] != 0xaaaaaaaaaaaaaaaaULL)
                            printf(" NEIGHBOUR-CLOBBERED");
                    }
                    int same = 1;
                    for (int ord = 1; ord < 4; ord++)
                        same &= res[ord][0] == res[0][0] && res[ord][1] == res[0][1];
                    printf(" %llx/%llx%s", (unsigned long long)res[0][0],
                           (unsigned long long)res[0][1], same ? "" : "(ORDERING-VARIANTS-DIFFER)");
                }
                printf("\n");
            }
        }
    }
}

static void amo_forms(void)
{
    /* rd = x0 (result discarded, memory still updated) */
    cell[1] = 40;
    __asm__ volatile("amoadd.d zero, %1, (%0)" : : "r"(&cell[1]), "r"(2L) : "memory");
    printf("amoadd.d rd=x0: mem %llu\n", (unsigned long long)cell[1]);
    /* rd = rs2: old value replaces the operand register */
    uint64_t v = 5;
    __asm__ volatile("amoadd.d %0, %0, (%1)" : "+r"(v) : "r"(&cell[1]) : "memory");
    printf("amoadd.d rd=rs2: rd %llu mem %llu\n", (unsigned long long)v, (unsigned long long)cell[1]);
    v = 0xffffffff;
    __asm__ volatile("amoswap.w %0, %0, (%1)" : "+r"(v) : "r"(&cell[1]) : "memory");
    printf("amoswap.w rd=rs2: rd %llx mem %llx\n", (unsigned long long)v, (unsigned long long)cell[1]);
    /* the upper word of a 64-bit cell via amo*.w at offset 4 */
    cell[1] = 0x00000001ffffffffULL;
    uint32_t *hi = (uint32_t *)&cell[1] + 1;
    uint64_t old;
    __asm__ volatile("amoadd.w %0, %2, (%1)" : "=r"(old) : "r"(hi), "r"(0x7fffffffL) : "memory");
    printf("amoadd.w on the upper half: old %llx mem %016llx\n", (unsigned long long)old,
           (unsigned long long)cell[1]);
}

static uint64_t lr_d(uint64_t *p)
{
    uint64_t v;
    __asm__ volatile("lr.d %0, (%1)" : "=r"(v) : "r"(p) : "memory");
    return v;
}
static uint64_t sc_d(uint64_t *p, uint64_t v)
{
    uint64_t r;
    __asm__ volatile("sc.d %0, %2, (%1)" : "=&r"(r) : "r"(p), "r"(v) : "memory");
    return r;
}
static uint64_t lr_w(uint32_t *p)
{
    uint64_t v;
    __asm__ volatile("lr.w %0, (%1)" : "=r"(v) : "r"(p) : "memory");
    return v;
}
static uint64_t sc_w(uint32_t *p, uint64_t v)
{
    uint64_t r;
    __asm__ volatile("sc.w %0, %2, (%1)" : "=&r"(r) : "r"(p), "r"(v) : "memory");
    return r;
}

static uint64_t other[16] __attribute__((aligned(64)));

static void lrsc(void)
{
    cell[1] = 0x1111111111111111ULL;
    uint64_t v = lr_d(&cell[1]);
    uint64_t r = sc_d(&cell[1], v + 1);
    printf("lr.d %llx, sc.d -> %llu, mem %llx\n", (unsigned long long)v, (unsigned long long)r,
           (unsigned long long)cell[1]);
    r = sc_d(&cell[1], 99);
    printf("second sc.d without lr -> nonzero %d, mem %llx\n", r != 0, (unsigned long long)cell[1]);
    v = lr_d(&cell[1]);
    r = sc_d(&other[8], 77);
    printf("sc.d to another address (other line) -> nonzero %d, other %llu\n", r != 0,
           (unsigned long long)other[8]);
    uint32_t *w = (uint32_t *)&cell[2];
    cell[2] = 0x00000000fffffffeULL;
    uint64_t lw = lr_w(w);
    r = sc_w(w, 0x123456780000000fULL);
    printf("lr.w sign-extends %llx, sc.w -> %llu stores the low word: mem %016llx\n",
           (unsigned long long)lw, (unsigned long long)r, (unsigned long long)cell[2]);
    /* aq / rl variants */
    uint64_t a, b;
    __asm__ volatile("lr.d.aq %0, (%2)\n\tsc.d.rl %1, %3, (%2)"
                     : "=&r"(a), "=&r"(b) : "r"(&cell[1]), "r"(5L) : "memory");
    printf("lr.d.aq / sc.d.rl: %llx %llu mem %llu\n", (unsigned long long)a, (unsigned long long)b,
           (unsigned long long)cell[1]);
    __asm__ volatile("lr.w.aqrl %0, (%2)\n\tsc.w.aqrl %1, %3, (%2)"
                     : "=&r"(a), "=&r"(b) : "r"(w), "r"(-3L) : "memory");
    printf("lr.w.aqrl / sc.w.aqrl: %llx %llu mem %016llx\n", (unsigned long long)a,
           (unsigned long long)b, (unsigned long long)cell[2]);
    /* a CAS-based increment loop written with lr/sc (retries on failure) */
    cell[1] = 0;
    long fails = 0;
    for (int i = 0; i < 1000; i++) {
        uint64_t tmp, res;
        __asm__ volatile("1: lr.d %0, (%2)\n\t"
                         "addi %0, %0, 3\n\t"
                         "sc.d %1, %0, (%2)\n\t"
                         "bnez %1, 1b"
                         : "=&r"(tmp), "=&r"(res) : "r"(&cell[1]) : "memory");
        fails += res != 0;
    }
    printf("lr/sc increment loop: %llu (fails seen %ld)\n", (unsigned long long)cell[1], fails);
}

static void builtins(void)
{
    static int64_t x64;
    static int32_t x32;
    static uint64_t u64v;
    x64 = 10;
    x32 = -5;
    int64_t o1 = __atomic_fetch_add(&x64, 5, __ATOMIC_SEQ_CST);
    int64_t o2 = __atomic_fetch_sub(&x64, 20, __ATOMIC_ACQ_REL);
    int32_t o3 = __atomic_fetch_and(&x32, 0x0f, __ATOMIC_RELAXED);
    int32_t o4 = __atomic_fetch_or(&x32, 0x100, __ATOMIC_RELEASE);
    int32_t o5 = __atomic_exchange_n(&x32, 77, __ATOMIC_ACQUIRE);
    printf("fetch_add %lld fetch_sub %lld -> %lld; fetch_and %d fetch_or %d exchange %d -> %d\n",
           (long long)o1, (long long)o2, (long long)x64, o3, o4, o5, x32);
    int64_t expected = -5;
    int ok1 = __atomic_compare_exchange_n(&x64, &expected, 100, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
    expected = 1;
    int ok2 = __atomic_compare_exchange_n(&x64, &expected, 200, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
    printf("cas(-5 -> 100) %d, cas(1 -> 200) %d expected now %lld, value %lld\n", ok1, ok2,
           (long long)expected, (long long)x64);
    int32_t e32 = 77;
    int ok3 = __atomic_compare_exchange_n(&x32, &e32, -1, 1, __ATOMIC_SEQ_CST, __ATOMIC_RELAXED);
    printf("weak cas32 %d value %d\n", ok3, x32);
    u64v = 0;
    for (int i = 0; i < 64; i++)
        __atomic_fetch_or(&u64v, 1ULL << i, __ATOMIC_SEQ_CST);
    printf("fetch_or all bits %llx, test_and_set %d %d\n", (unsigned long long)u64v,
           __sync_lock_test_and_set(&x32, 1), __sync_lock_test_and_set(&x32, 2));
    __sync_synchronize();
    printf("__sync_fetch_and_add %ld __sync_val_compare_and_swap %ld\n",
           (long)__sync_fetch_and_add(&x64, 1), (long)__sync_val_compare_and_swap(&x64, 101, 5));
    printf("final x64 %lld\n", (long long)x64);
}

int main(void)
{
    amo_table();
    amo_forms();
    lrsc();
    builtins();
    return 0;
}
