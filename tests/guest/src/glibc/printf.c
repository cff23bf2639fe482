/* printf family: integer conversions with flags / widths / precisions and
 * length modifiers, floating point in %f %e %g %a (and upper case) over
 * precisions and special values (inf, nan, -0.0, subnormals, DBL_MAX, ties),
 * long double (software quad), %c %s %p %% %n, positional arguments, return
 * values, snprintf truncation, fprintf to stderr. */
#include <float.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* values come from a volatile table so nothing is folded at compile time */
static volatile double dvals[] = {
    0.0, -0.0, 1.0, -1.0, 0.5, 0.1, 1.0 / 3.0, 2.0 / 3.0, 123.456, -987654.321,
    1e22, 1e23, 1e-5, 123456789012345678.0, 0.125, 0.375, 2.5, 3.5, -2.5, 1e100,
    DBL_MAX, DBL_MIN, DBL_MIN / 4, 4.9406564584124654e-324, DBL_EPSILON,
    9.999999999999999e22, 0.000123456789, 65536.0, 1.5e-7,
};

static void ints(void)
{
    static volatile int iv[] = {0, 1, -1, 42, -42, 255, 65535, INT_MAX, INT_MIN, 1000000};
    static volatile long lv[] = {0, -1, LONG_MAX, LONG_MIN, 0x123456789abcdefL, -1234567890123L};
    static const char *const ifmts[] = {
        "%d", "%i", "%5d", "%-5d|", "%05d", "%+d", "% d", "%.3d", "%8.3d", "%-+8.3d|",
        "%x", "%X", "%#x", "%#o", "%o", "%u", "%08x", "%#010x", "%.0d", "%hhd", "%hd",
        "%hhu", "%hx", "%c",
    };
    for (size_t f = 0; f < sizeof(ifmts) / sizeof(ifmts[0]); f++) {
        printf("[%s]", ifmts[f]);
        for (size_t i = 0; i < sizeof(iv) / sizeof(iv[0]); i++) {
            int v = iv[i];
            if (!strcmp(ifmts[f], "%c") && (v < 32 || v > 126))
                continue;
            putchar(' ');
            printf(ifmts[f], v);
        }
        putchar('\n');
    }
    static const char *const lfmts[] = {"%ld", "%lu", "%lx", "%#lo", "%20ld", "%-20ld|", "%+.25ld",
                                        "%lld", "%llX"};
    for (size_t f = 0; f < sizeof(lfmts) / sizeof(lfmts[0]); f++) {
        printf("[%s]", lfmts[f]);
        for (size_t i = 0; i < sizeof(lv) / sizeof(lv[0]); i++) {
            putchar(' ');
            printf(lfmts[f], lv[i]);
        }
        putchar('\n');
    }
    size_t z = sizeof(long double);
    ptrdiff_t pd = -12345;
    intmax_t im = INTMAX_MIN;
    uintmax_t um = UINTMAX_MAX;
    printf("%%zu %zu %%zd %zd %%td %td %%jd %jd %%ju %ju\n", z, (ssize_t)-7, pd, im, um);
    printf("PRId64 %" PRId64 " PRIx32 %" PRIx32 " PRIu16 %" PRIu16 "\n", (int64_t)-5,
           (uint32_t)0xdeadbeef, (uint16_t)65535);
    printf("star width [%*d] [%-*d] prec [%.*d] [%*.*x]\n", 6, 42, 6, 42, 5, 42, 8, 4, 0xab);
    printf("positional %2$s %1$s %3$05d\n", "world", "hello", 7);
}

static void floats(void)
{
    static const char *const ffmts[] = {"%f", "%.0f", "%.1f", "%.17f", "%e", "%.0e", "%.3e",
                                        "%.17e", "%g", "%.0g", "%.3g", "%.17g", "%#g", "%#.0f",
                                        "%a", "%.0a", "%.3a", "%A", "%E", "%G", "%F", "%+12.4f",
                                        "%-12.2e|", "%012.3f", "% .2f"};
    for (size_t f = 0; f < sizeof(ffmts) / sizeof(ffmts[0]); f++) {
        printf("[%s]", ffmts[f]);
        for (size_t i = 0; i < sizeof(dvals) / sizeof(dvals[0]); i++) {
            double v = dvals[i];
            if (v > 1e30 && (strchr(ffmts[f], 'f') || strchr(ffmts[f], 'F')))
                continue; /* %f of DBL_MAX is 309 digits: skip the huge ones */
            putchar(' ');
            printf(ffmts[f], v);
        }
        putchar('\n');
    }
    /* special values in every conversion */
    volatile double zero = 0.0;
    double specials[] = {INFINITY, -INFINITY, NAN, -NAN, zero / zero, -0.0};
    static const char *const sfmts[] = {"%f", "%e", "%g", "%a", "%F", "%E", "%G", "%A",
                                        "%10.3f", "%-10f|", "%+f", "%010f"};
    for (size_t f = 0; f < sizeof(sfmts) / sizeof(sfmts[0]); f++) {
        printf("special [%s]", sfmts[f]);
        for (size_t i = 0; i < sizeof(specials) / sizeof(specials[0]); i++) {
            putchar(' ');
            printf(sfmts[f], specials[i]);
        }
        putchar('\n');
    }
    /* DBL_MAX and the smallest subnormal in full */
    printf("DBL_MAX %.0f\n", dvals[20]);
    printf("DBL_TRUE_MIN %.1074e\n", dvals[23]);
    /* floats are promoted to double */
    volatile float fv[] = {1.1f, 16777217.0f, -0.0f, 3.4028235e38f, 1.4e-45f};
    for (int i = 0; i < 5; i++)
        printf("float %.9g %a\n", fv[i], fv[i]);
    /* round-half-even on exactly representable ties */
    static volatile double ties[] = {0.5, 1.5, 2.5, 0.125, 0.375, 1.0625, -0.5, 1e15 + 0.5};
    for (int i = 0; i < 8; i++)
        printf("tie %.17g: %.0f %.2f %.3f %.0e\n", ties[i], ties[i], ties[i], ties[i], ties[i]);
}

static void long_doubles(void)
{
    volatile long double a = 1.0L, b = 3.0L;
    long double third = a / b;
    long double big = (long double)dvals[20] * 16.0L;
    printf("ld 1/3 %.36Lg\n", third);
    printf("ld 1/3 %La\n", third);
    printf("ld DBL_MAX*16 %Le\n", big);
    printf("ld LDBL_MAX %Lg LDBL_MIN %Lg LDBL_EPSILON %Lg\n", LDBL_MAX, LDBL_MIN, LDBL_EPSILON);
    printf("ld %Lf %.30Lf\n", (long double)dvals[8], (long double)dvals[5]);
    printf("ld sum %.30Lg\n", third + (long double)dvals[5] * 7.0L - 2.0L);
}

static void misc(void)
{
    int n1 = -1, n2 = -1;
    int r = printf("chars [%c%c%c] str [%s] [%10s] [%-10s] [%.3s] [%10.2s] %% %n[%p]%n\n", 'a', 'B',
                   '0', "text", "right", "left", "truncated", "xy", &n1, (void *)0, &n2);
    printf("printf returned %d, %%n %d %d\n", r, n1, n2);
    char buf[16];
    const char *volatile longer = "truncate me please";
    int w = snprintf(buf, sizeof(buf), "%s-%d-%f", longer, 12345, 1.5);
    printf("snprintf returned %d buf \"%s\" len %zu\n", w, buf, strlen(buf));
    w = snprintf(NULL, 0, "%0*d", 100, 1);
    printf("snprintf(NULL, 0) returned %d\n", w);
    char big[512];
    w = sprintf(big, "%s|%-40s|%40s|%.20f", "x", "left", "right", 1.0 / 7.0);
    printf("sprintf %d %s\n", w, big);
    fprintf(stderr, "stderr: %d %s %.3f\n", 42, "to stderr", 2.0 / 3.0);
    printf("puts next\n");
    puts("puts line");
    fputs("fputs line\n", stdout);
    fwrite("fwrite line\n", 1, 12, stdout);
}

int main(void)
{
    ints();
    floats();
    long_doubles();
    misc();
    return 0;
}
