/* Instructions without rounding mode: fsgnj fsgnjn fsgnjx fmin fmax feq flt
 * fle (.s and .d, cross products of edge values incl. signed zeros and
 * quiet / signalling NaNs), fclass; NaN-boxing (a single operand that is not
 * properly NaN-boxed reads as the canonical NaN; single results are boxed);
 * flw fsw fld fsd (also misaligned, +-2048 offsets, compressed c.fld c.fsd
 * c.fldsp c.fsdsp; loads and stores never change the bits). */
#include "fplib.h"

NORM(K_FF_F, fsgnj_s, "fsgnj.s")
NORM(K_FF_F, fsgnjn_s, "fsgnjn.s")
NORM(K_FF_F, fsgnjx_s, "fsgnjx.s")
NORM(K_FF_F, fmin_s, "fmin.s")
NORM(K_FF_F, fmax_s, "fmax.s")
NORM(K_FF_X, feq_s, "feq.s")
NORM(K_FF_X, flt_s, "flt.s")
NORM(K_FF_X, fle_s, "fle.s")
NORM(K_F_X, fclass_s, "fclass.s")
NORM(K_FF_F, fsgnj_d, "fsgnj.d")
NORM(K_FF_F, fsgnjn_d, "fsgnjn.d")
NORM(K_FF_F, fsgnjx_d, "fsgnjx.d")
NORM(K_FF_F, fmin_d, "fmin.d")
NORM(K_FF_F, fmax_d, "fmax.d")
NORM(K_FF_X, feq_d, "feq.d")
NORM(K_FF_X, flt_d, "flt.d")
NORM(K_FF_X, fle_d, "fle.d")
NORM(K_F_X, fclass_d, "fclass.d")
/* one-operand forms of the sign injections (fmv.s / fneg.s / fabs.s) */
NORM(K_F_F, fmv_s, "fmv.s")
NORM(K_F_F, fneg_s, "fneg.s")
NORM(K_F_F, fabs_s, "fabs.s")
NORM(K_F_F, fmv_d, "fmv.d")
NORM(K_F_F, fneg_d, "fneg.d")
NORM(K_F_F, fabs_d, "fabs.d")
/* rounding ones used in the NaN-boxing checks (static rm: frm is 7 here) */
NORM_RM(K_FF_F, fadd_s, "fadd.s", ", rne")
NORM_RM(K_F_F, fsqrt_s, "fsqrt.s", ", rne")
NORM_RM(K_FF_F, fadd_d, "fadd.d", ", rne")

static const struct nr_op ops_s[] = {
    {"sgnj", fsgnj_s, 's'}, {"sgnjn", fsgnjn_s, 's'}, {"sgnjx", fsgnjx_s, 's'},
    {"min", fmin_s, 's'},   {"max", fmax_s, 's'},     {"eq", feq_s, 'c'},
    {"lt", flt_s, 'c'},     {"le", fle_s, 'c'},
};
static const struct nr_op ops_d[] = {
    {"sgnj", fsgnj_d, 'd'}, {"sgnjn", fsgnjn_d, 'd'}, {"sgnjx", fsgnjx_d, 'd'},
    {"min", fmin_d, 'd'},   {"max", fmax_d, 'd'},     {"eq", feq_d, 'c'},
    {"lt", flt_d, 'c'},     {"le", fle_d, 'c'},
};
static const struct nr_op unary_s[] = {
    {"fclass.s", fclass_s, 'c'}, {"fmv.s", fmv_s, 's'}, {"fneg.s", fneg_s, 's'},
    {"fabs.s", fabs_s, 's'},     {"fsqrt.s", fsqrt_s, 's'},
};
static const struct nr_op unary_d[] = {
    {"fclass.d", fclass_d, 'c'}, {"fmv.d", fmv_d, 'd'}, {"fneg.d", fneg_d, 'd'},
    {"fabs.d", fabs_d, 'd'},
};
static const struct nr_op boxing_s[] = {
    {"fadd.s", fadd_s, 's'},    {"sgnj", fsgnj_s, 's'}, {"sgnjn", fsgnjn_s, 's'},
    {"sgnjx", fsgnjx_s, 's'},   {"min", fmin_s, 's'},   {"max", fmax_s, 's'},
    {"eq", feq_s, 'c'},         {"lt", flt_s, 'c'},     {"le", fle_s, 'c'},
    {"fadd.d", fadd_d, 'd'},
};

/* --- loads and stores ------------------------------------------------- */

/* page aligned: MID + 4092 / 4094 straddle the page boundary at buf + 8192 */
static u8 buf[3 * 4096] __attribute__((aligned(4096)));
#define MID (buf + 4096)

static u64 ld_flw(const u8 *p, int which)
{
    u64 r;
    switch (which) {
    case 0:
        __asm__ volatile("flw ft0, 0(%1)\n\tfmv.x.d %0, ft0" : "=r"(r) : "r"(p) : "ft0", "memory");
        break;
    case 1:
        __asm__ volatile("flw ft0, 2047(%1)\n\tfmv.x.d %0, ft0" : "=r"(r) : "r"(p - 2047) : "ft0", "memory");
        break;
    default:
        __asm__ volatile("flw ft0, -2048(%1)\n\tfmv.x.d %0, ft0" : "=r"(r) : "r"(p + 2048) : "ft0", "memory");
        break;
    }
    return r;
}

static u64 ld_fld(const u8 *p, int which)
{
    u64 r;
    switch (which) {
    case 0:
        __asm__ volatile("fld ft0, 0(%1)\n\tfmv.x.d %0, ft0" : "=r"(r) : "r"(p) : "ft0", "memory");
        break;
    case 1:
        __asm__ volatile("fld ft0, 2047(%1)\n\tfmv.x.d %0, ft0" : "=r"(r) : "r"(p - 2047) : "ft0", "memory");
        break;
    default:
        __asm__ volatile("fld ft0, -2048(%1)\n\tfmv.x.d %0, ft0" : "=r"(r) : "r"(p + 2048) : "ft0", "memory");
        break;
    }
    return r;
}

static void st_fsw(u8 *p, u64 v, int which)
{
    switch (which) {
    case 0:
        __asm__ volatile("fmv.d.x ft0, %1\n\tfsw ft0, 0(%0)" : : "r"(p), "r"(v) : "ft0", "memory");
        break;
    case 1:
        __asm__ volatile("fmv.d.x ft0, %1\n\tfsw ft0, 2047(%0)" : : "r"(p - 2047), "r"(v) : "ft0", "memory");
        break;
    default:
        __asm__ volatile("fmv.d.x ft0, %1\n\tfsw ft0, -2048(%0)" : : "r"(p + 2048), "r"(v) : "ft0", "memory");
        break;
    }
}

static void st_fsd(u8 *p, u64 v, int which)
{
    switch (which) {
    case 0:
        __asm__ volatile("fmv.d.x ft0, %1\n\tfsd ft0, 0(%0)" : : "r"(p), "r"(v) : "ft0", "memory");
        break;
    case 1:
        __asm__ volatile("fmv.d.x ft0, %1\n\tfsd ft0, 2047(%0)" : : "r"(p - 2047), "r"(v) : "ft0", "memory");
        break;
    default:
        __asm__ volatile("fmv.d.x ft0, %1\n\tfsd ft0, -2048(%0)" : : "r"(p + 2048), "r"(v) : "ft0", "memory");
        break;
    }
}

/* compressed forms: c.fld / c.fsd need x8..x15 and f8..f15 */
static u64 c_fsd_fld(u8 *p, u64 v)
{
    register u8 *base __asm__("a0") = p;
    register u64 val __asm__("a1") = v;
    u64 r;
    __asm__ volatile("fmv.d.x fa0, %[v]\n\t"
                     "c.fsd fa0, 8(%[b])\n\t"
                     "c.fld fa1, 8(%[b])\n\t"
                     "fmv.x.d %[r], fa1"
                     : [r] "=r"(r)
                     : [b] "r"(base), [v] "r"(val)
                     : "fa0", "fa1", "memory");
    return r;
}

static u64 c_fsdsp_fldsp(u64 v, u64 *mem)
{
    u64 r;
    __asm__ volatile("addi sp, sp, -32\n\t"
                     "fmv.d.x fa0, %[v]\n\t"
                     "c.fsdsp fa0, 16(sp)\n\t"
                     "c.fldsp fa1, 16(sp)\n\t"
                     "ld %[m], 16(sp)\n\t"
                     "addi sp, sp, 32\n\t"
                     "fmv.x.d %[r], fa1"
                     : [r] "=&r"(r), [m] "=&r"(*mem)
                     : [v] "r"(v)
                     : "fa0", "fa1", "memory");
    return r;
}

static u64 load_u64(const u8 *p)
{
    u64 v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static void store_u64(u8 *p, u64 v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (u8)(v >> (8 * i));
}

static void put_kv(const char *k, u64 v)
{
    put_char(' ');
    put_str(k);
    put_char(' ');
    put_hex(v);
}

static void loads_stores(void)
{
    static const u64 pats[] = {
        0x7f800001ffa00001UL, /* signalling NaN bits in both halves */
        0x3ff0000000000000UL, 0x00000000bf800000UL, 0xfff8000000012345UL,
        0x0123456789abcdefUL,
    };
    static const int offs[] = {0, 1, 3, 4, 6, 4092, 4094};
    static const char *const forms[] = {"0", "2047", "-2048"};
    for (unsigned p = 0; p < ARRAY_SIZE(pats); p++) {
        for (unsigned o = 0; o < ARRAY_SIZE(offs); o++) {
            for (int w = 0; w < 3; w++) {
                u8 *at = MID + offs[o];
                memset(buf, 0xa5, sizeof(buf));
                store_u64(at, pats[p]);
                u64 s = ld_flw(at, w), d = ld_fld(at, w);
                /* store a boxed value with fsw (low half), then an unboxed one
                 * (low half too: fsw ignores boxing) */
                st_fsw(at, 0xfffffffff0e1d2c3UL, w);
                u64 after_fsw = load_u64(at);
                st_fsw(at, pats[p], w);
                u64 after_fsw2 = load_u64(at);
                st_fsd(at, pats[p] ^ 0x8000000000000001UL, w);
                u64 after_fsd = load_u64(at);
                put_str("ldst ");
                put_hex(pats[p]);
                put_str(" +");
                put_udec((u64)offs[o]);
                put_str(" imm ");
                put_str(forms[w]);
                put_char(':');
                put_kv("flw", s);
                put_kv("fld", d);
                put_kv("fsw", after_fsw);
                put_kv("fsw-unboxed", after_fsw2);
                put_kv("fsd", after_fsd);
                put_kv("before", load_u64(at - 8));
                put_kv("after", load_u64(at + 8));
                put_nl();
            }
        }
        u64 mem;
        put_str("compressed ");
        put_hex(pats[p]);
        put_char(':');
        put_kv("c.fsd/c.fld", c_fsd_fld(buf, pats[p]));
        put_kv("mem", load_u64(buf + 8));
        put_kv("c.fsdsp/c.fldsp", c_fsdsp_fldsp(pats[p], &mem));
        put_kv("mem", mem);
        put_nl();
    }
}

int main(void)
{
    put_str("# fp_misc: PREFIX OPERANDS: op RESULT/FFLAGS ... (frm = 7 while running)\n");
    nr_cross2("s", ops_s, (int)ARRAY_SIZE(ops_s), sv_arith, n_sv_arith, 's');
    nr_cross2("d", ops_d, (int)ARRAY_SIZE(ops_d), dv_arith, n_dv_arith, 'd');
    nr_each1("s", unary_s, (int)ARRAY_SIZE(unary_s), sv_all, n_sv_all, 's');
    nr_each1("d", unary_d, (int)ARRAY_SIZE(unary_d), dv_all, n_dv_all, 'd');

    /* NaN-boxing: each not-properly-boxed value against boxed 1.0 and -0.0 */
    nr_each1("unboxed", unary_s, (int)ARRAY_SIZE(unary_s), unboxed, n_unboxed, 's');
    for (int i = 0; i < n_unboxed; i++) {
        static const u64 others[] = {BOX(0x3f800000), BOX(0x80000000), BOX(0x7f800001)};
        for (unsigned j = 0; j < ARRAY_SIZE(others); j++) {
            u64 in[2] = {unboxed[i], others[j]};
            nr_case("unboxed", boxing_s, (int)ARRAY_SIZE(boxing_s), in, 2, "ss");
            in[0] = others[j];
            in[1] = unboxed[i];
            nr_case("unboxed", boxing_s, (int)ARRAY_SIZE(boxing_s), in, 2, "ss");
        }
    }
    loads_stores();
    return 0;
}
