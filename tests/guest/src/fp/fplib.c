/* Drivers and value tables of the per-instruction F/D tests (see fplib.h). */
#include "fplib.h"

static const char *const rm_names[5] = {"rne", "rtz", "rdn", "rup", "rmm"};

u64 get_frm(void)
{
    u64 v;
    __asm__ volatile("frrm %0" : "=r"(v));
    return v;
}

u64 get_fflags(void)
{
    u64 v;
    __asm__ volatile("frflags %0" : "=r"(v));
    return v;
}

void put_val(u64 v, char kind)
{
    switch (kind) {
    case 's':
        if ((v >> 32) == 0xffffffffUL)
            put_hexn(v, 8);
        else
            put_hex(v);
        break;
    case 'c': {
        int n = 1;
        while (n < 16 && (v >> (4 * n)) != 0)
            n++;
        put_hexn(v, n);
        break;
    }
    default:
        put_hex(v);
    }
}

static void put_rf(const u64 *rf, char kind)
{
    put_val(rf[0], kind);
    put_char('/');
    put_hexn(rf[1], 2);
}

static void put_operands(const u64 *in, int nin, const char *kinds)
{
    for (int i = 0; i < nin; i++) {
        put_char(' ');
        put_val(in[i], kinds[i]);
    }
}

void rm_case(const char *name, fpfn_t *const fns[6], const u64 *in, int nin,
             const char *in_kinds, char out_kind)
{
    u64 st[5][2], dy[5][2];
    for (int m = 0; m < 5; m++) {
        fns[m](in, st[m], 7 - m); /* frm 7,6,5 invalid, 4,3: another mode */
        fns[5](in, dy[m], m);
    }
    int all_same = 1, dyn_differs = 0;
    for (int m = 0; m < 5; m++) {
        if (st[m][0] != st[0][0] || st[m][1] != st[0][1])
            all_same = 0;
        if (dy[m][0] != st[m][0] || dy[m][1] != st[m][1])
            dyn_differs = 1;
    }
    put_str(name);
    put_operands(in, nin, in_kinds);
    put_char(':');
    if (all_same && !dyn_differs) {
        put_char(' ');
        put_rf(st[0], out_kind);
    } else {
        for (int m = 0; m < 5; m++) {
            put_char(' ');
            put_str(rm_names[m]);
            put_char(' ');
            put_rf(st[m], out_kind);
        }
        if (dyn_differs) {
            put_str(" | dyn");
            for (int m = 0; m < 5; m++) {
                put_char(' ');
                put_str(rm_names[m]);
                put_char(' ');
                put_rf(dy[m], out_kind);
            }
        }
    }
    put_nl();
}

void rm_each1(const char *name, fpfn_t *const fns[6], const u64 *vals, int n,
              char in_kind, char out_kind)
{
    char k[2] = {in_kind, 0};
    for (int i = 0; i < n; i++)
        rm_case(name, fns, &vals[i], 1, k, out_kind);
}

void rm_cross2(const char *name, fpfn_t *const fns[6], const u64 *vals, int n,
               char in_kind, char out_kind)
{
    char k[3] = {in_kind, in_kind, 0};
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) {
            u64 in[2] = {vals[i], vals[j]};
            rm_case(name, fns, in, 2, k, out_kind);
        }
}

void rm_cross3(const char *name, fpfn_t *const fns[6], const u64 *vals, int n,
               char in_kind, char out_kind)
{
    char k[4] = {in_kind, in_kind, in_kind, 0};
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++)
            for (int l = 0; l < n; l++) {
                u64 in[3] = {vals[i], vals[j], vals[l]};
                rm_case(name, fns, in, 3, k, out_kind);
            }
}

void rm_list(const char *name, fpfn_t *const fns[6], const u64 *tuples, int count,
             int nin, char in_kind, char out_kind)
{
    char k[4] = {in_kind, in_kind, in_kind, 0};
    for (int i = 0; i < count; i++)
        rm_case(name, fns, tuples + i * nin, nin, k, out_kind);
}

void nr_case(const char *prefix, const struct nr_op *ops, int nops, const u64 *in,
             int nin, const char *in_kinds)
{
    put_str(prefix);
    put_operands(in, nin, in_kinds);
    put_char(':');
    for (int i = 0; i < nops; i++) {
        u64 rf[2];
        ops[i].fn[0](in, rf, 7);
        put_char(' ');
        put_str(ops[i].name);
        put_char(' ');
        put_rf(rf, ops[i].out_kind);
    }
    put_nl();
}

void nr_each1(const char *prefix, const struct nr_op *ops, int nops, const u64 *vals,
              int n, char in_kind)
{
    char k[2] = {in_kind, 0};
    for (int i = 0; i < n; i++)
        nr_case(prefix, ops, nops, &vals[i], 1, k);
}

void nr_cross2(const char *prefix, const struct nr_op *ops, int nops, const u64 *vals,
               int n, char in_kind)
{
    char k[3] = {in_kind, in_kind, 0};
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) {
            u64 in[2] = {vals[i], vals[j]};
            nr_case(prefix, ops, nops, in, 2, k);
        }
}

/* ---------------------------------------------------------------------- */

#define N(a) ((int)ARRAY_SIZE(a))

const u64 sv_all[] = {
    BOX(0x00000000), /* +0 */
    BOX(0x80000000), /* -0 */
    BOX(0x00000001), /* smallest subnormal */
    BOX(0x80000001),
    BOX(0x007fffff), /* largest subnormal */
    BOX(0x807fffff),
    BOX(0x00800000), /* smallest normal */
    BOX(0x3f800000), /* 1.0 */
    BOX(0xbf800000), /* -1.0 */
    BOX(0x3f000000), /* 0.5 */
    BOX(0xbf000000), /* -0.5 */
    BOX(0x3fc00000), /* 1.5 */
    BOX(0xbfc00000), /* -1.5 */
    BOX(0x40200000), /* 2.5 */
    BOX(0xc0200000), /* -2.5 */
    BOX(0x3f7fffff), /* 1 - 2^-24 */
    BOX(0x3f800001), /* 1 + 2^-23 */
    BOX(0x3eaaaaab), /* 1/3 */
    BOX(0x40490fdb), /* pi */
    BOX(0x4b000001), /* 2^23 + 1 */
    BOX(0x4effffff), /* 2^31 - 128, largest single below 2^31 */
    BOX(0x4f000000), /* 2^31 */
    BOX(0xcf000000), /* -2^31 */
    BOX(0xcf000001), /* -2^31 - 256 */
    BOX(0x4f7fffff), /* 2^32 - 256 */
    BOX(0x4f800000), /* 2^32 */
    BOX(0x5effffff), /* 2^63 - 2^39 */
    BOX(0x5f000000), /* 2^63 */
    BOX(0xdf000000), /* -2^63 */
    BOX(0xdf000001), /* -2^63 - 2^40 */
    BOX(0x5f7fffff), /* 2^64 - 2^40 */
    BOX(0x5f800000), /* 2^64 */
    BOX(0x7f7fffff), /* largest finite */
    BOX(0xff7fffff),
    BOX(0x7f800000), /* +inf */
    BOX(0xff800000), /* -inf */
    BOX(0x7fc00000), /* canonical quiet NaN */
    BOX(0xffc00000), /* negative quiet NaN */
    BOX(0x7fc12345), /* quiet NaN with payload */
    BOX(0xffd55555),
    BOX(0x7f800001), /* signalling NaNs */
    BOX(0x7fa00000),
    BOX(0xffbfffff),
};
const int n_sv_all = N(sv_all);

const u64 sv_arith[] = {
    BOX(0x00000000), BOX(0x80000000), BOX(0x00000001), BOX(0x007fffff),
    BOX(0x00800000), BOX(0x3f800000), BOX(0xbf800000), BOX(0x3f800001),
    BOX(0x3eaaaaab), BOX(0xc0400000) /* -3 */, BOX(0x33800000) /* 2^-24 */,
    BOX(0x7f7fffff), BOX(0xff7fffff), BOX(0x7f800000), BOX(0xff800000),
    BOX(0x7fc00000), BOX(0xffd55555), BOX(0x7f800001),
};
const int n_sv_arith = N(sv_arith);

const u64 sv_fma[] = {
    BOX(0x00000000), BOX(0x80000000), BOX(0x00000001), BOX(0x3f800000),
    BOX(0xbeaaaaab), BOX(0x7f7fffff), BOX(0x7f800000), BOX(0x7fc00000),
};
const int n_sv_fma = N(sv_fma);

const u64 dv_all[] = {
    0x0000000000000000UL, /* +0 */
    0x8000000000000000UL, /* -0 */
    0x0000000000000001UL, /* smallest subnormal */
    0x8000000000000001UL,
    0x000fffffffffffffUL, /* largest subnormal */
    0x800fffffffffffffUL,
    0x0010000000000000UL, /* smallest normal */
    0x3ff0000000000000UL, /* 1.0 */
    0xbff0000000000000UL, /* -1.0 */
    0x3fe0000000000000UL, /* 0.5 */
    0xbfe0000000000000UL, /* -0.5 */
    0x3ff8000000000000UL, /* 1.5 */
    0xbff8000000000000UL, /* -1.5 */
    0x4004000000000000UL, /* 2.5 */
    0xc004000000000000UL, /* -2.5 */
    0x3fefffffffffffffUL, /* 1 - 2^-53 */
    0x3ff0000000000001UL, /* 1 + 2^-52 */
    0x3fd5555555555555UL, /* 1/3 */
    0x400921fb54442d18UL, /* pi */
    0x3ff0000010000000UL, /* 1 + 2^-24: fcvt.s.d tie */
    0x3ff0000018000000UL, /* 1 + 3*2^-25 */
    0x3ff0000008000001UL, /* just above 1 + 2^-25 */
    0x41dfffffffc00000UL, /* 2^31 - 1 */
    0x41dfffffffe00000UL, /* 2^31 - 0.5 */
    0x41e0000000000000UL, /* 2^31 */
    0xc1e0000000000000UL, /* -2^31 */
    0xc1e0000000100000UL, /* -2^31 - 0.5 */
    0xc1e0000000200000UL, /* -2^31 - 1 */
    0x41efffffffe00000UL, /* 2^32 - 1 */
    0x41effffffff00000UL, /* 2^32 - 0.5 */
    0x41f0000000000000UL, /* 2^32 */
    0x43dfffffffffffffUL, /* 2^63 - 1024 */
    0x43e0000000000000UL, /* 2^63 */
    0xc3e0000000000000UL, /* -2^63 */
    0xc3e0000000000001UL, /* -2^63 - 2048 */
    0x43efffffffffffffUL, /* 2^64 - 2048 */
    0x43f0000000000000UL, /* 2^64 */
    0x47efffffe0000000UL, /* largest single */
    0x47efffffefffffffUL, /* rounds to largest single or inf */
    0x47effffff0000000UL, /* halfway largest single .. 2^128 */
    0x3810000000000000UL, /* smallest normal single */
    0x380fffffffffffffUL, /* just below */
    0x36a0000000000000UL, /* 2^-149 smallest subnormal single */
    0x3690000000000000UL, /* 2^-150 */
    0x3690000000000001UL,
    0x7fefffffffffffffUL, /* largest finite */
    0xffefffffffffffffUL,
    0x7ff0000000000000UL, /* +inf */
    0xfff0000000000000UL, /* -inf */
    0x7ff8000000000000UL, /* canonical quiet NaN */
    0xfff8000000000000UL,
    0x7ff8000000012345UL, /* quiet NaN with payload */
    0xfffaaaaaaaaaaaaaUL,
    0x7ff0000000000001UL, /* signalling NaNs */
    0x7ff4000000000000UL,
    0xfff7ffffffffffffUL,
};
const int n_dv_all = N(dv_all);

const u64 dv_arith[] = {
    0x0000000000000000UL, 0x8000000000000000UL, 0x0000000000000001UL,
    0x000fffffffffffffUL, 0x0010000000000000UL, 0x3ff0000000000000UL,
    0xbff0000000000000UL, 0x3ff0000000000001UL, 0x3fd5555555555555UL,
    0xc008000000000000UL /* -3 */, 0x3ca0000000000000UL /* 2^-53 */,
    0x7fefffffffffffffUL, 0xffefffffffffffffUL, 0x7ff0000000000000UL,
    0xfff0000000000000UL, 0x7ff8000000000000UL, 0xfffaaaaaaaaaaaaaUL,
    0x7ff0000000000001UL,
};
const int n_dv_arith = N(dv_arith);

const u64 dv_fma[] = {
    0x0000000000000000UL, 0x8000000000000000UL, 0x0000000000000001UL,
    0x3ff0000000000000UL, 0xbfd5555555555555UL, 0x7fefffffffffffffUL,
    0x7ff0000000000000UL, 0x7ff8000000000000UL,
};
const int n_dv_fma = N(dv_fma);

const u64 iv_all[] = {
    0x0000000000000000UL,
    0x0000000000000001UL,
    0xffffffffffffffffUL,
    0x0000000000000003UL,
    0x000000007fffffffUL,
    0x0000000080000000UL,
    0x00000000ffffffffUL,
    0xffffffff80000000UL,
    0x0000000100000000UL,
    0x0000000001000001UL, /* 2^24 + 1: not exact in single */
    0x0000000001000003UL, /* 2^24 + 3 */
    0xfffffffffeffffffUL, /* -(2^24 + 1) */
    0x000000007fffffc0UL, /* 2^31 - 64: tie in single */
    0x0020000000000001UL, /* 2^53 + 1: not exact in double */
    0x0020000000000003UL,
    0xffdfffffffffffffUL, /* -(2^53 + 1) */
    0x7fffffffffffffffUL,
    0x8000000000000000UL,
    0x7ffffffffffffc00UL, /* 2^63 - 1024: tie in double */
    0xfffffffffffffc00UL,
    0x123456789abcdef0UL, /* low word negative as w */
    0xdeadbeef00000001UL, /* upper bits must be ignored by .w forms */
    0xfedcba9876543210UL,
};
const int n_iv_all = N(iv_all);

const u64 unboxed[] = {
    0x000000003f800000UL, /* 1.0f with upper half zero */
    0x7fffffff3f800000UL, /* upper half not all ones */
    0xfffffffe3f800000UL,
    0x00000000ffffffffUL,
    0x3ff0000000000000UL, /* the double 1.0 */
    0x0000000000000000UL, /* the double +0.0 */
    0xfffffff000000000UL,
};
const int n_unboxed = N(unboxed);
