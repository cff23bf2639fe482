/* Every conversion and move between integer, single and double in every
 * rounding mode: fcvt.{w,wu,l,lu}.{s,d}, fcvt.{s,d}.{w,wu,l,lu}, fcvt.s.d,
 * fcvt.d.s (saturation, NaN inputs, ties, overflow / underflow of the
 * narrowing conversion), fmv.x.w fmv.w.x fmv.x.d fmv.d.x (bit-exact, NaN
 * payloads kept, fmv.x.w sign-extends, fmv.w.x NaN-boxes). */
#include "fplib.h"

RM6(K_F_X, fcvt_w_s, "fcvt.w.s")
RM6(K_F_X, fcvt_wu_s, "fcvt.wu.s")
RM6(K_F_X, fcvt_l_s, "fcvt.l.s")
RM6(K_F_X, fcvt_lu_s, "fcvt.lu.s")
RM6(K_F_X, fcvt_w_d, "fcvt.w.d")
RM6(K_F_X, fcvt_wu_d, "fcvt.wu.d")
RM6(K_F_X, fcvt_l_d, "fcvt.l.d")
RM6(K_F_X, fcvt_lu_d, "fcvt.lu.d")
RM6(K_X_F, fcvt_s_w, "fcvt.s.w")
RM6(K_X_F, fcvt_s_wu, "fcvt.s.wu")
RM6(K_X_F, fcvt_s_l, "fcvt.s.l")
RM6(K_X_F, fcvt_s_lu, "fcvt.s.lu")
/* fcvt.d.w / fcvt.d.wu are exact; binutils only takes them without rm */
RM6_INSN(K_INSN_X_F, fcvt_d_w, 0x69, 0)
RM6_INSN(K_INSN_X_F, fcvt_d_wu, 0x69, 1)
RM6(K_X_F, fcvt_d_l, "fcvt.d.l")
RM6(K_X_F, fcvt_d_lu, "fcvt.d.lu")
RM6(K_F_F, fcvt_s_d, "fcvt.s.d")
RM6_INSN(K_INSN_F_F, fcvt_d_s, 0x21, 0)

NORM(K_F_X, fmv_x_w, "fmv.x.w")
NORM(K_F_X, fmv_x_d, "fmv.x.d")
NORM(K_X_F, fmv_w_x, "fmv.w.x")
NORM(K_X_F, fmv_d_x, "fmv.d.x")

/* the same conversions written without rounding-mode operand: the assembler
 * encodes rm = dyn for the rounding ones and rne for the exact ones */
NORM(K_F_X, fcvt_w_s_def, "fcvt.w.s")
NORM(K_X_F, fcvt_s_l_def, "fcvt.s.l")
NORM(K_X_F, fcvt_d_w_def, "fcvt.d.w")
NORM(K_F_F, fcvt_d_s_def, "fcvt.d.s")

static const struct nr_op mv_from_f[] = {
    {"fmv.x.w", fmv_x_w, 'x'},
    {"fmv.x.d", fmv_x_d, 'x'},
};
static const struct nr_op mv_to_f[] = {
    {"fmv.w.x", fmv_w_x, 'd'},
    {"fmv.d.x", fmv_d_x, 'd'},
};

int main(void)
{
    put_str("# fp_cvt: OP OPERAND: RESULT/FFLAGS (or per rounding mode)\n");
    rm_each1("fcvt.w.s", fcvt_w_s, sv_all, n_sv_all, 's', 'x');
    rm_each1("fcvt.wu.s", fcvt_wu_s, sv_all, n_sv_all, 's', 'x');
    rm_each1("fcvt.l.s", fcvt_l_s, sv_all, n_sv_all, 's', 'x');
    rm_each1("fcvt.lu.s", fcvt_lu_s, sv_all, n_sv_all, 's', 'x');
    rm_each1("fcvt.w.d", fcvt_w_d, dv_all, n_dv_all, 'd', 'x');
    rm_each1("fcvt.wu.d", fcvt_wu_d, dv_all, n_dv_all, 'd', 'x');
    rm_each1("fcvt.l.d", fcvt_l_d, dv_all, n_dv_all, 'd', 'x');
    rm_each1("fcvt.lu.d", fcvt_lu_d, dv_all, n_dv_all, 'd', 'x');

    rm_each1("fcvt.s.w", fcvt_s_w, iv_all, n_iv_all, 'x', 's');
    rm_each1("fcvt.s.wu", fcvt_s_wu, iv_all, n_iv_all, 'x', 's');
    rm_each1("fcvt.s.l", fcvt_s_l, iv_all, n_iv_all, 'x', 's');
    rm_each1("fcvt.s.lu", fcvt_s_lu, iv_all, n_iv_all, 'x', 's');
    rm_each1("fcvt.d.w", fcvt_d_w, iv_all, n_iv_all, 'x', 'd');
    rm_each1("fcvt.d.wu", fcvt_d_wu, iv_all, n_iv_all, 'x', 'd');
    rm_each1("fcvt.d.l", fcvt_d_l, iv_all, n_iv_all, 'x', 'd');
    rm_each1("fcvt.d.lu", fcvt_d_lu, iv_all, n_iv_all, 'x', 'd');

    rm_each1("fcvt.s.d", fcvt_s_d, dv_all, n_dv_all, 'd', 's');
    rm_each1("fcvt.d.s", fcvt_d_s, sv_all, n_sv_all, 's', 'd');
    rm_each1("fcvt.d.s", fcvt_d_s, unboxed, n_unboxed, 's', 'd');
    rm_each1("fcvt.w.s", fcvt_w_s, unboxed, n_unboxed, 's', 'x');

    /* default-rm forms (frm = 7 must not matter to the exact ones) */
    nr_each1("fcvt.d.s(no rm)", (const struct nr_op[]){{"r", fcvt_d_s_def, 'd'}}, 1,
             sv_all, 8, 's');
    nr_each1("fcvt.d.w(no rm)", (const struct nr_op[]){{"r", fcvt_d_w_def, 'd'}}, 1,
             iv_all, 8, 'x');
    for (int m = 0; m < 5; m++) {
        /* rm = dyn: frm decides */
        u64 in[1] = {BOX(0x3fc00000)}, rf[2];
        fcvt_w_s_def[0](in, rf, (u64)m);
        put_str("fcvt.w.s(no rm) 3fc00000 frm ");
        put_udec((u64)m);
        put_str(": ");
        put_hex(rf[0]);
        put_char('/');
        put_hexn(rf[1], 2);
        put_nl();
        in[0] = 0x0000000001000001UL;
        fcvt_s_l_def[0](in, rf, (u64)m);
        put_str("fcvt.s.l(no rm) 0000000001000001 frm ");
        put_udec((u64)m);
        put_str(": ");
        put_val(rf[0], 's');
        put_char('/');
        put_hexn(rf[1], 2);
        put_nl();
    }

    nr_each1("mv", mv_from_f, (int)ARRAY_SIZE(mv_from_f), sv_all, n_sv_all, 'd');
    nr_each1("mv", mv_from_f, (int)ARRAY_SIZE(mv_from_f), dv_all, n_dv_all, 'd');
    nr_each1("mv", mv_from_f, (int)ARRAY_SIZE(mv_from_f), unboxed, n_unboxed, 'd');
    nr_each1("mv", mv_to_f, (int)ARRAY_SIZE(mv_to_f), iv_all, n_iv_all, 'x');
    nr_each1("mv", mv_to_f, (int)ARRAY_SIZE(mv_to_f), dv_all, n_dv_all, 'x');
    return 0;
}
