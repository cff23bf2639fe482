/* A large code footprint, for the bounded code cache (tests/test_code_cache.py): 2048
 * distinct functions, made by the preprocessor (fn_000 .. fn_7ff, each with its own
 * constants), each with a loop and a branch, all called through a table, in rounds.
 * Translated, they need about 1.5 MiB of host code: the smallest cache (-tb-size 1) is flushed
 * in every round. */
#include "rt.h"

#define ROUNDS 2

#define FN(n)                                                                     \
    __attribute__((noinline)) static u64 fn_##n(u64 x)                            \
    {                                                                             \
        u64 acc = x ^ (0x##n##UL * 0x9E3779B97F4A7C15UL);                         \
        for (u64 i = 0; i < 0x##n % 5 + 2; i++) {                                 \
            if (acc & (1UL << (0x##n % 61)))                                      \
                acc = acc * (2 * 0x##n##UL + 3) + i;                              \
            else                                                                  \
                acc = ((acc >> (0x##n % 7 + 1)) | (acc << (63 - 0x##n % 7)))       \
                      ^ (0x##n##UL << 17);                                        \
        }                                                                         \
        return acc + 0x##n;                                                       \
    }
#define REF(n) fn_##n,

/* M(p0) .. M(pf); one such macro per level (a macro cannot expand inside itself). */
#define HEX16_A(M, p) M(p##0) M(p##1) M(p##2) M(p##3) M(p##4) M(p##5) M(p##6) M(p##7) \
                      M(p##8) M(p##9) M(p##a) M(p##b) M(p##c) M(p##d) M(p##e) M(p##f)
#define HEX16_B(M, p) M(p##0) M(p##1) M(p##2) M(p##3) M(p##4) M(p##5) M(p##6) M(p##7) \
                      M(p##8) M(p##9) M(p##a) M(p##b) M(p##c) M(p##d) M(p##e) M(p##f)
#define FN1(p) HEX16_A(FN, p)
#define FN2(p) HEX16_B(FN1, p)
#define REF1(p) HEX16_A(REF, p)
#define REF2(p) HEX16_B(REF1, p)

FN2(0) FN2(1) FN2(2) FN2(3) FN2(4) FN2(5) FN2(6) FN2(7)

static u64 (*const functions[])(u64) = {
    REF2(0) REF2(1) REF2(2) REF2(3) REF2(4) REF2(5) REF2(6) REF2(7)
};

int main(int argc, char **argv, char **envp)
{
    (void)argc;
    (void)argv;
    (void)envp;
    u64 total = 0;
    show_dec("functions", (i64)ARRAY_SIZE(functions));
    flush(); /* out before the long part (tests/test_interrupt.py waits for it) */
    for (int round = 0; round < ROUNDS; round++) {
        u64 acc = (u64)round;
        for (size_t i = 0; i < ARRAY_SIZE(functions); i++)
            acc = functions[i](acc);
        put_str("round ");
        put_dec(round);
        put_str(" ");
        put_hex(acc);
        put_nl();
        total ^= acc;
    }
    show_hex("total", total);
    return 0;
}
