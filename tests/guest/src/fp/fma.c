/* fmadd fmsub fnmadd fnmsub (.s and .d) in every rounding mode: the full
 * cross product of a small edge-value table plus triples where the fused
 * result differs from a separate multiply and add, and the invalid cases
 * (inf * 0 + NaN must raise NV even for a quiet NaN addend). */
#include "fplib.h"

RM6(K_FFF_F, fmadd_s, "fmadd.s")
RM6(K_FFF_F, fmsub_s, "fmsub.s")
RM6(K_FFF_F, fnmadd_s, "fnmadd.s")
RM6(K_FFF_F, fnmsub_s, "fnmsub.s")
RM6(K_FFF_F, fmadd_d, "fmadd.d")
RM6(K_FFF_F, fmsub_d, "fmsub.d")
RM6(K_FFF_F, fnmadd_d, "fnmadd.d")
RM6(K_FFF_F, fnmsub_d, "fnmsub.d")

static const u64 s_triples[] = {
    /* (1 + 2^-23)(1 - 2^-23) - 1 = -2^-46 exactly; mul then add gives 0 */
    BOX(0x3f800001), BOX(0x3f7ffffe), BOX(0xbf800000),
    /* 1/3 * 3 - 1 */
    BOX(0x3eaaaaab), BOX(0x40400000), BOX(0xbf800000),
    /* max * 2 - max = max exactly; the product alone overflows */
    BOX(0x7f7fffff), BOX(0x40000000), BOX(0xff7fffff),
    /* (1 + 2^-23)^2 with a tiny addend that decides the rounding */
    BOX(0x3f800001), BOX(0x3f800001), BOX(0x00000001),
    BOX(0x3f800001), BOX(0x3f800001), BOX(0x80000001),
    /* product and addend cancel to zero: sign depends on rdn */
    BOX(0x3f800000), BOX(0x3f800000), BOX(0xbf800000),
    BOX(0x80000000), BOX(0x3f800000), BOX(0x00000000),
    /* inf * 0 + x: invalid, also with a quiet NaN addend */
    BOX(0x7f800000), BOX(0x00000000), BOX(0x3f800000),
    BOX(0x7f800000), BOX(0x00000000), BOX(0x7fc00000),
    BOX(0x00000000), BOX(0xff800000), BOX(0x7fc12345),
    BOX(0x7f800000), BOX(0x00000000), BOX(0x7f800001),
    /* inf * 1 - inf */
    BOX(0x7f800000), BOX(0x3f800000), BOX(0xff800000),
    /* signalling NaN in each position */
    BOX(0x7f800001), BOX(0x3f800000), BOX(0x3f800000),
    BOX(0x3f800000), BOX(0x7f800001), BOX(0x3f800000),
    BOX(0x3f800000), BOX(0x3f800000), BOX(0x7f800001),
    BOX(0x7fc12345), BOX(0x3f800000), BOX(0x7f800001),
    /* subnormal products */
    BOX(0x00800000), BOX(0x3f000000), BOX(0x00000001),
    BOX(0x00000003), BOX(0x3f000000), BOX(0x80000000),
    /* unboxed operands read as the canonical NaN */
    0x000000003f800000UL, BOX(0x3f800000), BOX(0x3f800000),
    BOX(0x3f800000), BOX(0x3f800000), 0x3ff0000000000000UL,
};

static const u64 d_triples[] = {
    0x3ff0000000000001UL, 0x3feffffffffffffeUL, 0xbff0000000000000UL,
    0x3fd5555555555555UL, 0x4008000000000000UL, 0xbff0000000000000UL,
    0x7fefffffffffffffUL, 0x4000000000000000UL, 0xffefffffffffffffUL,
    0x3ff0000000000001UL, 0x3ff0000000000001UL, 0x0000000000000001UL,
    0x3ff0000000000001UL, 0x3ff0000000000001UL, 0x8000000000000001UL,
    0x3ff0000000000000UL, 0x3ff0000000000000UL, 0xbff0000000000000UL,
    0x8000000000000000UL, 0x3ff0000000000000UL, 0x0000000000000000UL,
    0x7ff0000000000000UL, 0x0000000000000000UL, 0x3ff0000000000000UL,
    0x7ff0000000000000UL, 0x0000000000000000UL, 0x7ff8000000000000UL,
    0x0000000000000000UL, 0xfff0000000000000UL, 0x7ff8000000012345UL,
    0x7ff0000000000000UL, 0x0000000000000000UL, 0x7ff0000000000001UL,
    0x7ff0000000000000UL, 0x3ff0000000000000UL, 0xfff0000000000000UL,
    0x7ff0000000000001UL, 0x3ff0000000000000UL, 0x3ff0000000000000UL,
    0x3ff0000000000000UL, 0x7ff0000000000001UL, 0x3ff0000000000000UL,
    0x3ff0000000000000UL, 0x3ff0000000000000UL, 0x7ff0000000000001UL,
    0x7ff8000000012345UL, 0x3ff0000000000000UL, 0x7ff0000000000001UL,
    0x0010000000000000UL, 0x3fe0000000000000UL, 0x0000000000000001UL,
    0x0000000000000003UL, 0x3fe0000000000000UL, 0x8000000000000000UL,
};

#define NTRIPLES(a) ((int)(ARRAY_SIZE(a) / 3))

int main(void)
{
    put_str("# fp_fma: OP A B C: RESULT/FFLAGS (or per rounding mode)\n");
    rm_cross3("fmadd.s", fmadd_s, sv_fma, n_sv_fma, 's', 's');
    rm_list("fmadd.s", fmadd_s, s_triples, NTRIPLES(s_triples), 3, 's', 's');
    rm_cross3("fmsub.s", fmsub_s, sv_fma, n_sv_fma, 's', 's');
    rm_list("fmsub.s", fmsub_s, s_triples, NTRIPLES(s_triples), 3, 's', 's');
    rm_cross3("fnmadd.s", fnmadd_s, sv_fma, n_sv_fma, 's', 's');
    rm_list("fnmadd.s", fnmadd_s, s_triples, NTRIPLES(s_triples), 3, 's', 's');
    rm_cross3("fnmsub.s", fnmsub_s, sv_fma, n_sv_fma, 's', 's');
    rm_list("fnmsub.s", fnmsub_s, s_triples, NTRIPLES(s_triples), 3, 's', 's');

    rm_cross3("fmadd.d", fmadd_d, dv_fma, n_dv_fma, 'd', 'd');
    rm_list("fmadd.d", fmadd_d, d_triples, NTRIPLES(d_triples), 3, 'd', 'd');
    rm_cross3("fmsub.d", fmsub_d, dv_fma, n_dv_fma, 'd', 'd');
    rm_list("fmsub.d", fmsub_d, d_triples, NTRIPLES(d_triples), 3, 'd', 'd');
    rm_cross3("fnmadd.d", fnmadd_d, dv_fma, n_dv_fma, 'd', 'd');
    rm_list("fnmadd.d", fnmadd_d, d_triples, NTRIPLES(d_triples), 3, 'd', 'd');
    rm_cross3("fnmsub.d", fnmsub_d, dv_fma, n_dv_fma, 'd', 'd');
    rm_list("fnmsub.d", fnmsub_d, d_triples, NTRIPLES(d_triples), 3, 'd', 'd');
    return 0;
}
