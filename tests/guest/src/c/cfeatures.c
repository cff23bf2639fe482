/* Assorted C code shapes: switch jump tables, function pointers, struct
 * copies and returns, bitfields, varargs, narrow signed/unsigned arithmetic,
 * bit tricks, 128-bit multiply, computed goto, volatile and long long shifts. */
#include "rt.h"
#include <stdarg.h>

static int classify(int v)
{
    switch (v) {
    case 0: return 100;
    case 1: return 101;
    case 2: return 205;
    case 3: return 3;
    case 4: return -4;
    case 5: return 55;
    case 6: return 600;
    case 7: return 7000;
    case 9: return 9;
    case 10: return -10;
    case 12: return 1212;
    default: return -1;
    }
}

static const char *name_of(u32 v)
{
    switch (v & 7) {
    case 0: return "zero";
    case 1: return "one";
    case 2: return "two";
    case 3: return "three";
    case 4: return "four";
    case 5: return "five";
    case 6: return "six";
    default: return "seven";
    }
}

static i64 op_add(i64 a, i64 b) { return a + b; }
static i64 op_sub(i64 a, i64 b) { return a - b; }
static i64 op_mul(i64 a, i64 b) { return a * b; }
static i64 op_xor(i64 a, i64 b) { return a ^ b; }
static i64 op_shl(i64 a, i64 b) { return (i64)((u64)a << (b & 63)); }
static i64 (*const ops[])(i64, i64) = {op_add, op_sub, op_mul, op_xor, op_shl};

struct rec {
    i64 id;
    char name[12];
    u16 flags;
    i8 small;
    u64 values[5];
};

static struct rec make_rec(i64 id)
{
    struct rec r;
    memset(&r, 0, sizeof(r));
    r.id = id;
    for (int i = 0; i < 11; i++)
        r.name[i] = (char)('a' + (id + i) % 26);
    r.flags = (u16)(id * 4099);
    r.small = (i8)(id * 37);
    for (int i = 0; i < 5; i++)
        r.values[i] = (u64)id << (i * 8);
    return r;
}

struct bits {
    unsigned a : 3;
    unsigned b : 7;
    signed c : 5;
    unsigned d : 17;
    u64 e : 33;
    i64 f : 31;
};

static i64 sum_va(int n, ...)
{
    va_list ap;
    va_start(ap, n);
    i64 s = 0;
    for (int i = 0; i < n; i++)
        s = s * 10 + va_arg(ap, i64);
    va_end(ap);
    return s;
}

static int popcount64(u64 x)
{
    int n = 0;
    while (x) {
        x &= x - 1;
        n++;
    }
    return n;
}

static int clz64(u64 x)
{
    int n = 0;
    if (!x)
        return 64;
    while (!(x >> 63)) {
        x <<= 1;
        n++;
    }
    return n;
}

static u64 bswap64(u64 x)
{
    u64 r = 0;
    for (int i = 0; i < 8; i++) {
        r = (r << 8) | (x & 0xff);
        x >>= 8;
    }
    return r;
}

static u64 rotl(u64 x, int k) { return (x << (k & 63)) | (x >> ((64 - k) & 63)); }

static int run_machine(const char *prog)
{
    static void *const labels[] = {&&op_inc, &&op_dbl, &&op_neg, &&op_end};
    int acc = 1;
    const char *pc = prog;
#define NEXT goto *labels[*pc++ - '0']
    NEXT;
op_inc:
    acc++;
    NEXT;
op_dbl:
    acc *= 2;
    NEXT;
op_neg:
    acc = -acc;
    NEXT;
op_end:
    return acc;
#undef NEXT
}

int main(void)
{
    i64 acc = 0;
    for (int v = -2; v < 16; v++)
        acc = acc * 7 + classify(v);
    show_dec("switch accumulator", acc);
    for (u32 v = 0; v < 9; v++) {
        put_str(name_of(v * 5));
        put_char(v == 8 ? '\n' : ' ');
    }

    i64 x = 3;
    for (int i = 0; i < 20; i++)
        x = ops[i % 5](x, i + 1);
    show_hex("function pointer chain", (u64)x);

    struct rec r1 = make_rec(5), r2;
    r2 = r1;
    r2.values[4]++;
    struct rec arr[3] = {make_rec(1), r2, make_rec(300)};
    u64 h = 0;
    for (int i = 0; i < 3; i++) {
        h = h * 131 + (u64)arr[i].id + arr[i].flags + (u64)(i64)arr[i].small;
        for (int j = 0; j < 5; j++)
            h = h * 3 + arr[i].values[j];
        for (int j = 0; j < 12; j++)
            h = h * 5 + (u8)arr[i].name[j];
    }
    show_hex("struct hash", h);
    put_str(arr[2].name);
    put_nl();
    show_dec("sizeof(struct rec)", sizeof(struct rec));

    struct bits b;
    memset(&b, 0, sizeof(b));
    volatile unsigned thirteen = 13;
    b.a = thirteen;  /* truncated to 5 */
    b.b = 100;
    b.c = -9;
    b.d = 0x1ffff;
    b.e = 0x1ffffffffUL;
    b.f = -123456789;
    show_dec("bits.a", b.a);
    show_dec("bits.b", b.b);
    show_dec("bits.c", b.c);
    show_dec("bits.d", b.d);
    show_hex("bits.e", b.e);
    show_dec("bits.f", b.f);
    b.c += 20;      /* wraps in 5 bits */
    b.e += 1;
    show_dec("bits.c after +20", b.c);
    show_hex("bits.e after +1", b.e);
    show_dec("sizeof(struct bits)", sizeof(struct bits));

    show_dec("varargs", sum_va(6, (i64)1, (i64)2, (i64)3, (i64)4, (i64)5, (i64)6));
    show_dec("varargs 10", sum_va(10, (i64)9, (i64)8, (i64)7, (i64)6, (i64)5,
                                  (i64)4, (i64)3, (i64)2, (i64)1, (i64)0));

    volatile i8 c8 = 127;
    volatile u8 u8v = 250;
    volatile i16 s16 = -32768;
    volatile u16 u16v = 65535;
    volatile i32 s32 = INT32_MAX;
    c8 = (i8)(c8 + 1);
    u8v = (u8)(u8v + 10);
    s16 = (i16)(s16 - 1);
    u16v = (u16)(u16v * u16v);
    s32 = (i32)((u32)s32 + 1u);
    show_dec("i8 127+1", c8);
    show_dec("u8 250+10", u8v);
    show_dec("i16 -32768-1", s16);
    show_dec("u16 65535*65535", u16v);
    show_dec("i32 max+1", s32);
    volatile i32 neg = -17;
    show_dec("i32 -17 >> 2", neg >> 2);
    show_dec("u32 -17 >> 2", (i64)((u32)neg >> 2));
    show_dec("i32 -17 / 4", neg / 4);
    show_dec("i32 -17 % 4", neg % 4);
    show_hex("i32 -17 to u64", (u64)(i64)neg);
    show_hex("u32 -17 to u64", (u64)(u32)neg);

    static const u64 bitvals[] = {0, 1, 0x8000000000000000UL, 0xffffffffffffffffUL,
                                  0x0123456789abcdefUL, 0x00000000f0000000UL};
    for (u32 i = 0; i < ARRAY_SIZE(bitvals); i++) {
        u64 v = bitvals[i];
        put_hex(v);
        put_str(" pop ");
        put_udec((u64)popcount64(v));
        put_str(" clz ");
        put_udec((u64)clz64(v));
        put_str(" bswap ");
        put_hex(bswap64(v));
        put_str(" rotl13 ");
        put_hex(rotl(v, 13));
        put_nl();
    }

    volatile u64 m1 = 0xfedcba9876543210UL, m2 = 0x0f0f0f0f0f0f0f0fUL;
    unsigned __int128 p = (unsigned __int128)m1 * m2;
    show_hex("u128 product hi", (u64)(p >> 64));
    show_hex("u128 product lo", (u64)p);
    __int128 sp = (__int128)(i64)m1 * (i64)m2;
    show_hex("i128 product hi", (u64)((unsigned __int128)sp >> 64));

    volatile int sh = 40;
    show_hex("1 << 40", 1UL << sh);
    show_hex("-1 >> 40 (arith)", (u64)(-1L >> sh));
    show_hex("~0 >> 40 (logical)", ~0UL >> sh);

    show_dec("computed goto machine", run_machine("0101210213"));
    return 0;
}
