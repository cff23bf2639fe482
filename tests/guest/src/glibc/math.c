/* libm over interesting arguments, printed exactly (%a) with errno and the
 * fenv exception flags each call raised: sin cos tan asin acos atan atan2
 * exp exp2 expm1 log log2 log10 log1p pow sqrt cbrt hypot fma floor ceil
 * round trunc rint nearbyint lround llrint fmod remainder modf frexp ldexp
 * sinh cosh tanh, single-precision variants, rint/lrint/nearbyint under all
 * four fesetround modes (this reaches frm through glibc), and fenv itself. */
#include <errno.h>
#include <fenv.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#define N(a) (sizeof(a) / sizeof((a)[0]))

static volatile double args[] = {
    0.0, -0.0, 4.9406564584124654e-324, DBL_MIN, 1e-10, 0.1, 0.5, 0.7853981633974483,
    1.0, -1.0, 1.5707963267948966, 2.0, 2.5, 3.141592653589793, -3.5, 10.0, 100.5, 709.78,
    710.0, -745.2, 1e22, 1e300, DBL_MAX, INFINITY, -INFINITY, NAN,
};

static void flags_str(char *buf)
{
    int e = fetestexcept(FE_ALL_EXCEPT);
    buf[0] = 0;
    if (e & FE_INVALID)
        strcat(buf, "I");
    if (e & FE_DIVBYZERO)
        strcat(buf, "Z");
    if (e & FE_OVERFLOW)
        strcat(buf, "O");
    if (e & FE_UNDERFLOW)
        strcat(buf, "U");
    if (e & FE_INEXACT)
        strcat(buf, "X");
    if (!buf[0])
        strcpy(buf, "-");
}

typedef double (*f1_t)(double);
typedef double (*f2_t)(double, double);

static void show(const char *name, double x, double r)
{
    char fl[8];
    flags_str(fl);
    printf("%s(%a) = %a errno %d flags %s\n", name, x, r, errno, fl);
}

static void run1(const char *name, f1_t f)
{
    for (size_t i = 0; i < N(args); i++) {
        double x = args[i];
        errno = 0;
        feclearexcept(FE_ALL_EXCEPT);
        double r = f(x);
        show(name, x, r);
    }
}

static void run2(const char *name, f2_t f, const double *ys, size_t ny)
{
    for (size_t i = 0; i < N(args); i += 2)
        for (size_t j = 0; j < ny; j++) {
            double x = args[i], y = ys[j];
            char fl[8];
            errno = 0;
            feclearexcept(FE_ALL_EXCEPT);
            double r = f(x, y);
            flags_str(fl);
            printf("%s(%a, %a) = %a errno %d flags %s\n", name, x, y, r, errno, fl);
        }
}

static void fenv_tests(void)
{
    static const int modes[] = {FE_TONEAREST, FE_TOWARDZERO, FE_DOWNWARD, FE_UPWARD};
    static const char *const names[] = {"nearest", "towardzero", "downward", "upward"};
    static volatile double vals[] = {2.5, 3.5, -2.5, -0.5, 0.5000000000000001, 1e16 + 1, -7.75};
    for (int m = 0; m < 4; m++) {
        int rc = fesetround(modes[m]);
        printf("fesetround(%s) = %d, fegetround %s\n", names[m], rc,
               fegetround() == modes[m] ? "matches" : "DIFFERS");
        for (size_t i = 0; i < N(vals); i++) {
            double v = vals[i];
            printf("  %-5s %a: rint %a nearbyint %a lrint %ld llrint %lld round %a lround %ld\n",
                   names[m], v, rint(v), nearbyint(v), lrint(v), llrint(v), round(v), lround(v));
        }
        volatile double one = 1.0, three = 3.0, big = 1e308;
        volatile float onef = 1.0f, threef = 3.0f;
        printf("  1/3 %a  -1/3 %a  1/3f %a  big*10 %a  sqrt(2) %a  (float)0.1 %a\n",
               one / three, -one / three, (double)(onef / threef), big * 10.0, sqrt(2.0 * one),
               (double)(float)(0.1 * one));
    }
    fesetround(FE_TONEAREST);
    volatile double zero = 0.0, one = 1.0;
    char fl[8];
    feclearexcept(FE_ALL_EXCEPT);
    volatile double r = one / zero;
    flags_str(fl);
    printf("1/0 = %a flags %s\n", r, fl);
    feclearexcept(FE_ALL_EXCEPT);
    r = zero / zero;
    flags_str(fl);
    printf("0/0 = %a flags %s\n", r, fl);
    feclearexcept(FE_ALL_EXCEPT);
    r = DBL_MIN * 0.5 * one;
    flags_str(fl);
    printf("DBL_MIN/2 = %a flags %s\n", r, fl);
    feraiseexcept(FE_OVERFLOW | FE_INEXACT);
    flags_str(fl);
    printf("after feraiseexcept(O|X) flags %s\n", fl);
    fenv_t env;
    fegetenv(&env);
    feclearexcept(FE_ALL_EXCEPT);
    fesetround(FE_UPWARD);
    fesetenv(&env);
    flags_str(fl);
    printf("fesetenv restores flags %s round %s\n", fl,
           fegetround() == FE_TONEAREST ? "nearest" : "other");
    fexcept_t saved;
    fegetexceptflag(&saved, FE_ALL_EXCEPT);
    feclearexcept(FE_ALL_EXCEPT);
    fesetexceptflag(&saved, FE_OVERFLOW);
    flags_str(fl);
    printf("fesetexceptflag(O) flags %s\n", fl);
    feclearexcept(FE_ALL_EXCEPT);
}

static void misc(void)
{
    static volatile double xs[] = {-0.0, 0.75, 5.5, -1e300, 123.456, 4.9406564584124654e-324, INFINITY, NAN};
    for (size_t i = 0; i < N(xs); i++) {
        double x = xs[i], ip;
        int e;
        double fr = frexp(x, &e);
        double fp = modf(x, &ip);
        printf("x %a: frexp %a,%d modf %a,%a ldexp(x,-1074) %a ldexp(x,1000) %a ilogb %d logb %a"
               " scalbn(x,3) %a copysign(1,x) %a signbit %d isnan %d isinf %d fpclassify %d\n",
               x, fr, e, fp, ip, ldexp(x, -1074), ldexp(x, 1000), ilogb(x), logb(x),
               scalbn(x, 3), copysign(1.0, x), signbit(x) != 0, isnan(x) != 0, isinf(x),
               fpclassify(x));
    }
    static volatile double fa[][3] = {
        {1.0 + 0x1p-52, 1.0 - 0x1p-52, -1.0}, {0.1, 10.0, -1.0}, {DBL_MAX, 2.0, -DBL_MAX},
        {INFINITY, 0.0, NAN}, {1e-300, 1e-300, 0.0}, {-0.0, 0.0, -0.0}, {3.0, 1.0 / 3.0, -1.0},
    };
    for (size_t i = 0; i < N(fa); i++) {
        char fl[8];
        feclearexcept(FE_ALL_EXCEPT);
        double r = fma(fa[i][0], fa[i][1], fa[i][2]);
        flags_str(fl);
        volatile double p = fa[i][0] * fa[i][1];
        printf("fma(%a, %a, %a) = %a flags %s; mul+add %a\n", fa[i][0], fa[i][1], fa[i][2], r,
               fl, p + fa[i][2]);
    }
    static volatile float fs[] = {0.0f, 0.5f, 1.0f, 2.0f, 3.14159265f, 100.0f, -1.0f, 1e30f};
    for (size_t i = 0; i < N(fs); i++) {
        float x = fs[i];
        printf("float %a: sinf %a cosf %a expf %a logf %a sqrtf %a powf(x,2.5) %a "
               "floorf %a roundf %a fmaf(x,x,-1) %a\n",
               (double)x, (double)sinf(x), (double)cosf(x), (double)expf(x), (double)logf(x),
               (double)sqrtf(x), (double)powf(x, 2.5f), (double)floorf(x), (double)roundf(x),
               (double)fmaf(x, x, -1.0f));
    }
    long double l = 2.0L;
    printf("sqrtl(2) %La expl(1) %La\n", sqrtl(l), expl(l / 2.0L));
}

static const double pow_y[] = {0.0, 0.5, -1.0, 2.0, 1e10, -INFINITY, NAN};
static const double atan2_y[] = {0.0, -0.0, 1.0, -1.0, INFINITY};
static const double fmod_y[] = {1.0, -0.3, 0.0, INFINITY, 1e-300};
static const double hypot_y[] = {0.0, 3.0, 1e300, INFINITY, NAN};

int main(void)
{
    run1("sin", sin);
    run1("cos", cos);
    run1("tan", tan);
    run1("asin", asin);
    run1("acos", acos);
    run1("atan", atan);
    run1("exp", exp);
    run1("exp2", exp2);
    run1("expm1", expm1);
    run1("log", log);
    run1("log2", log2);
    run1("log10", log10);
    run1("log1p", log1p);
    run1("sqrt", sqrt);
    run1("cbrt", cbrt);
    run1("sinh", sinh);
    run1("cosh", cosh);
    run1("tanh", tanh);
    run1("floor", floor);
    run1("ceil", ceil);
    run1("round", round);
    run1("trunc", trunc);
    run1("rint", rint);
    run2("pow", pow, pow_y, N(pow_y));
    run2("atan2", atan2, atan2_y, N(atan2_y));
    run2("fmod", fmod, fmod_y, N(fmod_y));
    run2("remainder", remainder, fmod_y, N(fmod_y));
    run2("hypot", hypot, hypot_y, N(hypot_y));
    fenv_tests();
    misc();
    return 0;
}
