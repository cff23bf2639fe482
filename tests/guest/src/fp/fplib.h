/* Shared helpers of the per-instruction F/D tests (freestanding RV64GC, linked
 * with tests/guest/src/c/start.S + rt.c and fplib.c).
 *
 * Every tested instruction is wrapped in a function `void f(const u64 *in,
 * u64 *out, u64 frm)` that loads its operands into ft0..ft2 (fmv.d.x, so a
 * single-precision operand is given as its full 64-bit register value and can
 * be NaN-boxed or not), sets frm, clears fflags (fsflags zero), executes the
 * instruction, reads fflags (frflags) and the result register (fmv.x.d for a
 * float result, so a single result shows whether it was NaN-boxed).
 * out[0] = result, out[1] = fflags.
 *
 * RM6(KIND, name, "insn") defines name_rne .. name_rmm (static rounding modes)
 * and name_dyn (dynamic; the driver sets frm to each valid mode) plus the
 * table `name[6]`. NORM(KIND, name, "insn") defines one function for an
 * instruction without a rounding-mode field, table `name[1]`.
 */
#ifndef FPLIB_H
#define FPLIB_H

#include "rt.h"

typedef void fpfn_t(const u64 *in, u64 *out, u64 frm);

/* --- instruction wrappers --------------------------------------------- */

/* two float operands -> float */
#define K_FF_F(ID, INSN, RMS)                                                   \
    static void ID(const u64 *in, u64 *out, u64 frm)                            \
    {                                                                           \
        u64 r, f;                                                               \
        __asm__ volatile("fsrm %[m]\n\t"                                        \
                         "fmv.d.x ft0, %[a]\n\t"                                \
                         "fmv.d.x ft1, %[b]\n\t"                                \
                         "fsflags zero\n\t" INSN " ft2, ft0, ft1" RMS "\n\t"    \
                         "frflags %[f]\n\t"                                     \
                         "fmv.x.d %[r], ft2\n\t"                                \
                         "fsrm zero"                                            \
                         : [r] "=r"(r), [f] "=&r"(f)                            \
                         : [a] "r"(in[0]), [b] "r"(in[1]), [m] "r"(frm)         \
                         : "ft0", "ft1", "ft2");                                \
        out[0] = r;                                                             \
        out[1] = f;                                                             \
    }

/* three float operands -> float */
#define K_FFF_F(ID, INSN, RMS)                                                  \
    static void ID(const u64 *in, u64 *out, u64 frm)                            \
    {                                                                           \
        u64 r, f;                                                               \
        __asm__ volatile("fsrm %[m]\n\t"                                        \
                         "fmv.d.x ft0, %[a]\n\t"                                \
                         "fmv.d.x ft1, %[b]\n\t"                                \
                         "fmv.d.x ft2, %[c]\n\t"                                \
                         "fsflags zero\n\t" INSN " ft3, ft0, ft1, ft2" RMS "\n\t" \
                         "frflags %[f]\n\t"                                     \
                         "fmv.x.d %[r], ft3\n\t"                                \
                         "fsrm zero"                                            \
                         : [r] "=r"(r), [f] "=&r"(f)                            \
                         : [a] "r"(in[0]), [b] "r"(in[1]), [c] "r"(in[2]),      \
                           [m] "r"(frm)                                         \
                         : "ft0", "ft1", "ft2", "ft3");                         \
        out[0] = r;                                                             \
        out[1] = f;                                                             \
    }

/* one float operand -> float */
#define K_F_F(ID, INSN, RMS)                                                    \
    static void ID(const u64 *in, u64 *out, u64 frm)                            \
    {                                                                           \
        u64 r, f;                                                               \
        __asm__ volatile("fsrm %[m]\n\t"                                        \
                         "fmv.d.x ft0, %[a]\n\t"                                \
                         "fsflags zero\n\t" INSN " ft2, ft0" RMS "\n\t"         \
                         "frflags %[f]\n\t"                                     \
                         "fmv.x.d %[r], ft2\n\t"                                \
                         "fsrm zero"                                            \
                         : [r] "=r"(r), [f] "=&r"(f)                            \
                         : [a] "r"(in[0]), [m] "r"(frm)                         \
                         : "ft0", "ft2");                                       \
        out[0] = r;                                                             \
        out[1] = f;                                                             \
    }

/* one float operand -> integer register */
#define K_F_X(ID, INSN, RMS)                                                    \
    static void ID(const u64 *in, u64 *out, u64 frm)                            \
    {                                                                           \
        u64 r, f;                                                               \
        __asm__ volatile("fsrm %[m]\n\t"                                        \
                         "fmv.d.x ft0, %[a]\n\t"                                \
                         "li %[r], 0x5555\n\t"                                  \
                         "fsflags zero\n\t" INSN " %[r], ft0" RMS "\n\t"        \
                         "frflags %[f]\n\t"                                     \
                         "fsrm zero"                                            \
                         : [r] "=&r"(r), [f] "=&r"(f)                           \
                         : [a] "r"(in[0]), [m] "r"(frm)                         \
                         : "ft0");                                              \
        out[0] = r;                                                             \
        out[1] = f;                                                             \
    }

/* two float operands -> integer register (comparisons) */
#define K_FF_X(ID, INSN, RMS)                                                   \
    static void ID(const u64 *in, u64 *out, u64 frm)                            \
    {                                                                           \
        u64 r, f;                                                               \
        __asm__ volatile("fsrm %[m]\n\t"                                        \
                         "fmv.d.x ft0, %[a]\n\t"                                \
                         "fmv.d.x ft1, %[b]\n\t"                                \
                         "li %[r], 0x5555\n\t"                                  \
                         "fsflags zero\n\t" INSN " %[r], ft0, ft1" RMS "\n\t"   \
                         "frflags %[f]\n\t"                                     \
                         "fsrm zero"                                            \
                         : [r] "=&r"(r), [f] "=&r"(f)                           \
                         : [a] "r"(in[0]), [b] "r"(in[1]), [m] "r"(frm)         \
                         : "ft0", "ft1");                                       \
        out[0] = r;                                                             \
        out[1] = f;                                                             \
    }

/* integer register -> float */
#define K_X_F(ID, INSN, RMS)                                                    \
    static void ID(const u64 *in, u64 *out, u64 frm)                            \
    {                                                                           \
        u64 r, f;                                                               \
        __asm__ volatile("fsrm %[m]\n\t"                                        \
                         "fmv.d.x ft2, %[junk]\n\t"                             \
                         "fsflags zero\n\t" INSN " ft2, %[a]" RMS "\n\t"        \
                         "frflags %[f]\n\t"                                     \
                         "fmv.x.d %[r], ft2\n\t"                                \
                         "fsrm zero"                                            \
                         : [r] "=r"(r), [f] "=&r"(f)                            \
                         : [a] "r"(in[0]), [m] "r"(frm),                        \
                           [junk] "r"(0x5555555555555555UL)                     \
                         : "ft2");                                              \
        out[0] = r;                                                             \
        out[1] = f;                                                             \
    }

/* Forms the assembler accepts only without a rounding-mode operand
 * (fcvt.d.s, fcvt.d.w, fcvt.d.wu) are encoded with .insn r so that every
 * rm value can be given: .insn r OP-FP, rm, funct7, rd, rs1, rs2. */
#define K_INSN_F_F(ID, F7, RS2, RM)                                             \
    static void ID(const u64 *in, u64 *out, u64 frm)                            \
    {                                                                           \
        u64 r, f;                                                               \
        __asm__ volatile("fsrm %[m]\n\t"                                        \
                         "fmv.d.x ft0, %[a]\n\t"                                \
                         "fsflags zero\n\t"                                     \
                         ".insn r 0x53, " #RM ", " #F7 ", ft2, ft0, x" #RS2 "\n\t" \
                         "frflags %[f]\n\t"                                     \
                         "fmv.x.d %[r], ft2\n\t"                                \
                         "fsrm zero"                                            \
                         : [r] "=r"(r), [f] "=&r"(f)                            \
                         : [a] "r"(in[0]), [m] "r"(frm)                         \
                         : "ft0", "ft2");                                       \
        out[0] = r;                                                             \
        out[1] = f;                                                             \
    }

#define K_INSN_X_F(ID, F7, RS2, RM)                                             \
    static void ID(const u64 *in, u64 *out, u64 frm)                            \
    {                                                                           \
        u64 r, f;                                                               \
        __asm__ volatile("fsrm %[m]\n\t"                                        \
                         "fmv.d.x ft2, %[junk]\n\t"                             \
                         "fsflags zero\n\t"                                     \
                         ".insn r 0x53, " #RM ", " #F7 ", ft2, %[a], x" #RS2 "\n\t" \
                         "frflags %[f]\n\t"                                     \
                         "fmv.x.d %[r], ft2\n\t"                                \
                         "fsrm zero"                                            \
                         : [r] "=r"(r), [f] "=&r"(f)                            \
                         : [a] "r"(in[0]), [m] "r"(frm),                        \
                           [junk] "r"(0x5555555555555555UL)                     \
                         : "ft2");                                              \
        out[0] = r;                                                             \
        out[1] = f;                                                             \
    }

#define RM6(KIND, ID, INSN)                                                     \
    KIND(ID##_rne, INSN, ", rne")                                               \
    KIND(ID##_rtz, INSN, ", rtz")                                               \
    KIND(ID##_rdn, INSN, ", rdn")                                               \
    KIND(ID##_rup, INSN, ", rup")                                               \
    KIND(ID##_rmm, INSN, ", rmm")                                               \
    KIND(ID##_dyn, INSN, ", dyn")                                               \
    static fpfn_t *const ID[6] = {ID##_rne, ID##_rtz, ID##_rdn,                 \
                                  ID##_rup, ID##_rmm, ID##_dyn};

#define RM6_INSN(KIND, ID, F7, RS2)                                             \
    KIND(ID##_rne, F7, RS2, 0)                                                  \
    KIND(ID##_rtz, F7, RS2, 1)                                                  \
    KIND(ID##_rdn, F7, RS2, 2)                                                  \
    KIND(ID##_rup, F7, RS2, 3)                                                  \
    KIND(ID##_rmm, F7, RS2, 4)                                                  \
    KIND(ID##_dyn, F7, RS2, 7)                                                  \
    static fpfn_t *const ID[6] = {ID##_rne, ID##_rtz, ID##_rdn,                 \
                                  ID##_rup, ID##_rmm, ID##_dyn};

#define NORM(KIND, ID, INSN)                                                    \
    KIND(ID##_1, INSN, "")                                                      \
    static fpfn_t *const ID[1] = {ID##_1};

/* one function with a fixed static rounding mode (RMS e.g. ", rne") */
#define NORM_RM(KIND, ID, INSN, RMS)                                            \
    KIND(ID##_1, INSN, RMS)                                                     \
    static fpfn_t *const ID[1] = {ID##_1};

/* --- operand / result kinds ------------------------------------------- */
/* 's': single in a 64-bit f register: 8 hex digits when NaN-boxed, else all 16
 * 'd': double, 16 hex digits;  'x': 64-bit integer register, 16 hex digits
 * 'c': small integer result (comparison, fclass), minimal hex */

void put_val(u64 v, char kind);

/* One line: NAME OPERANDS: results for rne rtz rdn rup rmm (static rm, with frm
 * set to some other value, 3..7, which must not matter) and for dyn with frm =
 * each mode. When all ten agree: `NAME OPS: R/F`. Otherwise the five static
 * results `rne R/F rtz R/F ...`, followed by `| dyn rne R/F ...` only when a
 * dynamic result differs from the static one of the same mode. */
void rm_case(const char *name, fpfn_t *const fns[6], const u64 *in, int nin,
             const char *in_kinds, char out_kind);
/* rm_case over every value / pair / triple of a table */
void rm_each1(const char *name, fpfn_t *const fns[6], const u64 *vals, int n,
              char in_kind, char out_kind);
void rm_cross2(const char *name, fpfn_t *const fns[6], const u64 *vals, int n,
               char in_kind, char out_kind);
void rm_cross3(const char *name, fpfn_t *const fns[6], const u64 *vals, int n,
               char in_kind, char out_kind);
/* rm_case over a list of tuples (nin values each) */
void rm_list(const char *name, fpfn_t *const fns[6], const u64 *tuples, int count,
             int nin, char in_kind, char out_kind);

/* Instructions without rounding mode: several ops on one line,
 * `PREFIX OPERANDS: op1 R/F op2 R/F ...`, run with frm = 7 (invalid, which
 * must not matter to them). */
struct nr_op {
    const char *name;
    fpfn_t *const *fn;
    char out_kind;
};
void nr_case(const char *prefix, const struct nr_op *ops, int nops, const u64 *in,
             int nin, const char *in_kinds);
void nr_each1(const char *prefix, const struct nr_op *ops, int nops, const u64 *vals,
              int n, char in_kind);
void nr_cross2(const char *prefix, const struct nr_op *ops, int nops, const u64 *vals,
               int n, char in_kind);

/* --- value tables (fplib.c) ------------------------------------------- */
#define BOX(x) (0xffffffff00000000UL | (u32)(x))
extern const u64 sv_all[];   /* singles (boxed): edge values, conversion limits */
extern const int n_sv_all;
extern const u64 sv_arith[]; /* smaller set for the binary cross products */
extern const int n_sv_arith;
extern const u64 sv_fma[];   /* still smaller set for the fused multiply-adds */
extern const int n_sv_fma;
extern const u64 dv_all[];
extern const int n_dv_all;
extern const u64 dv_arith[];
extern const int n_dv_arith;
extern const u64 dv_fma[];
extern const int n_dv_fma;
extern const u64 iv_all[];   /* integer operands of fcvt.{s,d}.{w,wu,l,lu} / fmv */
extern const int n_iv_all;
extern const u64 unboxed[];  /* 64-bit register values that are not NaN-boxed singles */
extern const int n_unboxed;

/* frm / fflags access */
u64 get_frm(void);
u64 get_fflags(void);

#endif
