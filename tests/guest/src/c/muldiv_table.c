/* 64- and 32-bit multiply / divide / remainder over edge values, computed
 * with C operators (with RISC-V's results for division by zero and signed
 * overflow made explicit, as C leaves them undefined) and with the raw
 * instructions through inline asm. One line per operand pair. */
#include "rt.h"

static i64 vals[] = {
    0, 1, -1, 2, -3, 7,
    INT64_MIN, INT64_MAX, INT32_MIN, INT32_MAX,
    0xffffffffL, 0x123456789abcdef0L,
};

#define NV ((int)ARRAY_SIZE(vals))

static i64 c_div(i64 a, i64 b)
{
    if (b == 0)
        return -1;
    if (a == INT64_MIN && b == -1)
        return INT64_MIN;
    return a / b;
}

static i64 c_rem(i64 a, i64 b)
{
    if (b == 0)
        return a;
    if (a == INT64_MIN && b == -1)
        return 0;
    return a % b;
}

static u64 c_divu(u64 a, u64 b) { return b ? a / b : ~0UL; }
static u64 c_remu(u64 a, u64 b) { return b ? a % b : a; }

static i32 c_divw(i32 a, i32 b)
{
    if (b == 0)
        return -1;
    if (a == INT32_MIN && b == -1)
        return INT32_MIN;
    return a / b;
}

static i32 c_remw(i32 a, i32 b)
{
    if (b == 0)
        return a;
    if (a == INT32_MIN && b == -1)
        return 0;
    return a % b;
}

static u32 c_divuw(u32 a, u32 b) { return b ? a / b : ~0u; }
static u32 c_remuw(u32 a, u32 b) { return b ? a % b : a; }

#define ASM_OP(name)                                              \
    static i64 asm_##name(i64 a, i64 b)                           \
    {                                                             \
        i64 r;                                                    \
        __asm__ volatile(#name " %0, %1, %2" : "=r"(r) : "r"(a), "r"(b)); \
        return r;                                                 \
    }
ASM_OP(mul)
ASM_OP(mulh)
ASM_OP(mulhsu)
ASM_OP(mulhu)
ASM_OP(div)
ASM_OP(divu)
ASM_OP(rem)
ASM_OP(remu)
ASM_OP(mulw)
ASM_OP(divw)
ASM_OP(divuw)
ASM_OP(remw)
ASM_OP(remuw)

static void h(u64 v)
{
    put_char(' ');
    put_hex(v);
}

int main(void)
{
    put_str("a b: mul mulh mulhu mulhsu div rem divu remu mulw divw remw divuw remuw\n");
    u64 mismatches = 0;
    for (int i = 0; i < NV; i++) {
        for (int j = 0; j < NV; j++) {
            i64 a = vals[i], b = vals[j];
            u64 ua = (u64)a, ub = (u64)b;
            i64 r[13];
            r[0] = (i64)(ua * ub);
            r[1] = (i64)(((__int128)a * (__int128)b) >> 64);
            r[2] = (i64)(((unsigned __int128)ua * (unsigned __int128)ub) >> 64);
            r[3] = (i64)(((__int128)a * (__int128)(unsigned __int128)ub) >> 64);
            r[4] = c_div(a, b);
            r[5] = c_rem(a, b);
            r[6] = (i64)c_divu(ua, ub);
            r[7] = (i64)c_remu(ua, ub);
            r[8] = (i32)((u32)a * (u32)b);
            r[9] = c_divw((i32)a, (i32)b);
            r[10] = c_remw((i32)a, (i32)b);
            r[11] = (i32)c_divuw((u32)a, (u32)b);
            r[12] = (i32)c_remuw((u32)a, (u32)b);
            i64 s[13] = {
                asm_mul(a, b), asm_mulh(a, b), asm_mulhu(a, b), asm_mulhsu(a, b),
                asm_div(a, b), asm_rem(a, b), asm_divu(a, b), asm_remu(a, b),
                asm_mulw(a, b), asm_divw(a, b), asm_remw(a, b), asm_divuw(a, b),
                asm_remuw(a, b),
            };
            put_hex(ua);
            put_char(' ');
            put_hex(ub);
            put_char(':');
            for (int k = 0; k < 13; k++)
                h((u64)r[k]);
            for (int k = 0; k < 13; k++) {
                if (r[k] != s[k]) {
                    mismatches++;
                    put_str(" MISMATCH-");
                    put_udec((u64)k);
                }
            }
            put_nl();
        }
    }
    show_dec("C vs asm mismatches:", (i64)mismatches);

    /* typical compiler idioms: division by constants, modulo powers of two */
    i64 acc = 0;
    for (int i = 0; i < NV; i++) {
        i64 v = vals[i];
        acc = acc * 3 + v / 10 + v % 10 + v / 7 + v % 7 + v / 16 + v % 16;
        acc += (i64)((u64)v / 1000000007UL) + (i64)((u64)v % 3);
        acc ^= (i64)((u32)v / 5u) + (i32)v / -9;
    }
    show_hex("constant-divisor accumulator", (u64)acc);
    return 0;
}
