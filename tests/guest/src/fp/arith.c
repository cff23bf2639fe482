/* fadd fsub fmul fdiv fsqrt (.s and .d) in every rounding mode: cross products
 * over edge-value tables plus hand-picked rounding / underflow / overflow
 * cases. One line per operand tuple, see fplib.h for the format. */
#include "fplib.h"

RM6(K_FF_F, fadd_s, "fadd.s")
RM6(K_FF_F, fsub_s, "fsub.s")
RM6(K_FF_F, fmul_s, "fmul.s")
RM6(K_FF_F, fdiv_s, "fdiv.s")
RM6(K_F_F, fsqrt_s, "fsqrt.s")
RM6(K_FF_F, fadd_d, "fadd.d")
RM6(K_FF_F, fsub_d, "fsub.d")
RM6(K_FF_F, fmul_d, "fmul.d")
RM6(K_FF_F, fdiv_d, "fdiv.d")
RM6(K_F_F, fsqrt_d, "fsqrt.d")

/* pairs where the rounding direction, tininess or overflow matter */
static const u64 s_pairs[] = {
    BOX(0x3f800000), BOX(0x33800000), /* 1 + 2^-24: tie, even stays */
    BOX(0x3f800001), BOX(0x33800000), /* tie, odd rounds up */
    BOX(0xbf800001), BOX(0xb3800000), /* negative tie */
    BOX(0x3f800000), BOX(0x33c00000), /* 1 + 1.5*2^-24 */
    BOX(0x3f800000), BOX(0x33000000), /* 1 + 2^-25 */
    BOX(0x7f7fffff), BOX(0x73800000), /* max + half ulp: overflow in rne/rmm/rup */
    BOX(0x7f7fffff), BOX(0x7f7fffff), /* overflow */
    BOX(0xff7fffff), BOX(0xff7fffff),
    BOX(0x00800000), BOX(0x3f7fffff), /* tiny before rounding, normal after (mul) */
    BOX(0x00800001), BOX(0x3f000000), /* subnormal result, inexact (mul) */
    BOX(0x00000001), BOX(0x3f000000), /* half the smallest subnormal (mul) */
    BOX(0x00000003), BOX(0x3f000000), /* 1.5 * smallest subnormal (mul) */
    BOX(0x00800000), BOX(0x80000001), /* exact subnormal difference */
    BOX(0x3f800000), BOX(0x40400000), /* 1/3 (div) */
    BOX(0x40000000), BOX(0x40400000), /* 2/3 */
    BOX(0x3f800000), BOX(0x00000001), /* 1 / smallest subnormal: overflow */
    BOX(0x00000000), BOX(0x00000000), /* 0/0 */
    BOX(0x3f800000), BOX(0x80000000), /* 1/-0 */
    BOX(0x7f800000), BOX(0xff800000), /* inf - inf */
    BOX(0x3f800000), BOX(0xbf800000), /* x + -x: -0 only in rdn */
    BOX(0x4b7fffff), BOX(0x3f000000), /* 2^24 - 1 + 0.5 */
    BOX(0x4b800000), BOX(0x3f800000), /* 2^24 + 1 */
};

static const u64 d_pairs[] = {
    0x3ff0000000000000UL, 0x3ca0000000000000UL, /* 1 + 2^-53: tie */
    0x3ff0000000000001UL, 0x3ca0000000000000UL,
    0xbff0000000000001UL, 0xbca0000000000000UL,
    0x3ff0000000000000UL, 0x3ca8000000000000UL,
    0x3ff0000000000000UL, 0x3c90000000000000UL,
    0x7fefffffffffffffUL, 0x7c90000000000000UL, /* max + half ulp */
    0x7fefffffffffffffUL, 0x7fefffffffffffffUL,
    0xffefffffffffffffUL, 0xffefffffffffffffUL,
    0x0010000000000000UL, 0x3fefffffffffffffUL,
    0x0010000000000001UL, 0x3fe0000000000000UL,
    0x0000000000000001UL, 0x3fe0000000000000UL,
    0x0000000000000003UL, 0x3fe0000000000000UL,
    0x0010000000000000UL, 0x8000000000000001UL,
    0x3ff0000000000000UL, 0x4008000000000000UL,
    0x4000000000000000UL, 0x4008000000000000UL,
    0x3ff0000000000000UL, 0x0000000000000001UL,
    0x0000000000000000UL, 0x0000000000000000UL,
    0x3ff0000000000000UL, 0x8000000000000000UL,
    0x7ff0000000000000UL, 0xfff0000000000000UL,
    0x3ff0000000000000UL, 0xbff0000000000000UL,
    0x433fffffffffffffUL, 0x3fe0000000000000UL,
    0x4340000000000000UL, 0x3ff0000000000000UL,
};

static const u64 s_sqrt[] = {
    BOX(0x40000000), BOX(0x40400000), BOX(0x3f800001), BOX(0x3f7fffff),
    BOX(0x00000002), BOX(0x4b7fffff), BOX(0xbf800000) /* invalid */,
};
static const u64 d_sqrt[] = {
    0x4000000000000000UL, 0x4008000000000000UL, 0x3ff0000000000001UL,
    0x3fefffffffffffffUL, 0x0000000000000002UL, 0x433fffffffffffffUL,
};

#define NPAIRS(a) ((int)(ARRAY_SIZE(a) / 2))

int main(void)
{
    put_str("# fp_arith: OP OPERANDS: RESULT/FFLAGS (or per rounding mode)\n");
    rm_cross2("fadd.s", fadd_s, sv_arith, n_sv_arith, 's', 's');
    rm_list("fadd.s", fadd_s, s_pairs, NPAIRS(s_pairs), 2, 's', 's');
    rm_cross2("fsub.s", fsub_s, sv_arith, n_sv_arith, 's', 's');
    rm_list("fsub.s", fsub_s, s_pairs, NPAIRS(s_pairs), 2, 's', 's');
    rm_cross2("fmul.s", fmul_s, sv_arith, n_sv_arith, 's', 's');
    rm_list("fmul.s", fmul_s, s_pairs, NPAIRS(s_pairs), 2, 's', 's');
    rm_cross2("fdiv.s", fdiv_s, sv_arith, n_sv_arith, 's', 's');
    rm_list("fdiv.s", fdiv_s, s_pairs, NPAIRS(s_pairs), 2, 's', 's');
    rm_each1("fsqrt.s", fsqrt_s, sv_all, n_sv_all, 's', 's');
    rm_each1("fsqrt.s", fsqrt_s, s_sqrt, (int)ARRAY_SIZE(s_sqrt), 's', 's');

    rm_cross2("fadd.d", fadd_d, dv_arith, n_dv_arith, 'd', 'd');
    rm_list("fadd.d", fadd_d, d_pairs, NPAIRS(d_pairs), 2, 'd', 'd');
    rm_cross2("fsub.d", fsub_d, dv_arith, n_dv_arith, 'd', 'd');
    rm_list("fsub.d", fsub_d, d_pairs, NPAIRS(d_pairs), 2, 'd', 'd');
    rm_cross2("fmul.d", fmul_d, dv_arith, n_dv_arith, 'd', 'd');
    rm_list("fmul.d", fmul_d, d_pairs, NPAIRS(d_pairs), 2, 'd', 'd');
    rm_cross2("fdiv.d", fdiv_d, dv_arith, n_dv_arith, 'd', 'd');
    rm_list("fdiv.d", fdiv_d, d_pairs, NPAIRS(d_pairs), 2, 'd', 'd');
    rm_each1("fsqrt.d", fsqrt_d, dv_all, n_dv_all, 'd', 'd');
    rm_each1("fsqrt.d", fsqrt_d, d_sqrt, (int)ARRAY_SIZE(d_sqrt), 'd', 'd');
    return 0;
}
