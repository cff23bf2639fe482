/* <string.h> and number parsing / formatting: strlen strcmp strncmp strcpy
 * strncpy strcat strchr strrchr strstr strtok strtok_r strspn strcspn strpbrk
 * memchr memrchr memmove memcpy memcmp memset strdup strndup strcasecmp
 * sprintf snprintf sscanf strtol strtoul strtoll strtod strtof atoi strerror,
 * over all alignments / lengths that select different code paths, plus
 * strings that end right before an inaccessible page. */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

static uint64_t hash = 14695981039346656037ULL;
static void mix(uint64_t v)
{
    for (int i = 0; i < 8; i++)
        hash = (hash ^ ((v >> (8 * i)) & 0xff)) * 0x100000001b3ULL;
}

static int sgn(int v) { return (v > 0) - (v < 0); }

static void alignment_sweep(void)
{
    static char a[256], b[256];
    /* strlen / strchr / memchr / strcmp / memcmp / memcpy / memmove / memset
     * for every source offset 0..15 and length 0..80 */
    for (int off = 0; off < 16; off++) {
        for (int len = 0; len <= 80; len++) {
            memset(a, 'x', sizeof(a));
            for (int i = 0; i < len; i++)
                a[off + i] = (char)('A' + (i * 7 + off) % 26);
            a[off + len] = 0;
            mix(strlen(a + off));
            mix((uint64_t)(strchr(a + off, 'Q') ? strchr(a + off, 'Q') - (a + off) : -1));
            mix((uint64_t)(strrchr(a + off, 'H') ? strrchr(a + off, 'H') - (a + off) : -1));
            mix((uint64_t)(memchr(a + off, 'Z', (size_t)len) ? (char *)memchr(a + off, 'Z', (size_t)len) - (a + off) : -1));
            mix((uint64_t)(memrchr(a + off, 'C', (size_t)len) ? (char *)memrchr(a + off, 'C', (size_t)len) - (a + off) : -1));
            mix(strnlen(a + off, 40));
            for (int boff = 0; boff < 8; boff++) {
                memcpy(b + boff, a + off, (size_t)len + 1);
                mix((uint64_t)sgn(strcmp(a + off, b + boff)));
                if (len) {
                    b[boff + len - 1]++;
                    mix((uint64_t)sgn(strcmp(a + off, b + boff)));
                    mix((uint64_t)sgn(memcmp(a + off, b + boff, (size_t)len)));
                    mix((uint64_t)sgn(strncmp(a + off, b + boff, (size_t)len - 1)));
                    b[boff + len - 1] = (char)0xe9; /* high bit: unsigned compare */
                    mix((uint64_t)sgn(strcmp(a + off, b + boff)));
                    mix((uint64_t)sgn(memcmp(a + off, b + boff, (size_t)len)));
                }
            }
            /* overlapping moves in both directions */
            memmove(a + off + 3, a + off, (size_t)len);
            mix(a[off + len / 2 + 3]);
            memmove(a + off, a + off + 5, (size_t)len);
            mix(a[off + len / 3]);
            memset(a + off, off, (size_t)len);
            mix((uint64_t)(unsigned char)a[off + len] + (len ? (unsigned char)a[off + len - 1] : 0));
        }
    }
    printf("alignment sweep hash %016llx\n", (unsigned long long)hash);
}

static void page_edge(void)
{
    /* a string whose terminator is the last byte of a page followed by an
     * inaccessible page: the word-at-a-time routines must not fault */
    long pg = 4096;
    char *m = mmap(NULL, 2 * (size_t)pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    mprotect(m + pg, (size_t)pg, PROT_NONE);
    for (int len = 0; len < 40; len++) {
        char *s = m + pg - 1 - len;
        memset(s, 'k', (size_t)len);
        s[len] = 0;
        size_t l1 = strlen(s);
        char *c = strchr(s, 0);
        char *d = memchr(s, 0, (size_t)len + 1);
        char *dup = strdup(s);
        int eq = strcmp(s, dup) == 0;
        char *r = strrchr(s, 'k');
        size_t sp = strspn(s, "k");
        if (l1 != (size_t)len || c != s + len || d != s + len || !eq || sp != (size_t)len ||
            (len && r != s + len - 1))
            printf("page edge len %d: WRONG\n", len);
        free(dup);
    }
    printf("page edge: done\n");
    munmap(m, 2 * (size_t)pg);
}

static void basics(void)
{
    char buf[128];
    strcpy(buf, "hello");
    strcat(buf, ", ");
    strncat(buf, "world!!!", 5);
    printf("strcpy/strcat: \"%s\" len %zu\n", buf, strlen(buf));
    char n[8];
    memset(n, '#', sizeof(n));
    strncpy(n, "abc", sizeof(n));
    printf("strncpy pads: %d %d %d\n", n[3], n[7], n[2]);
    strncpy(n, "abcdefghijk", sizeof(n));
    printf("strncpy truncates: %.8s\n", n);
    const char *hay = "the quick brown fox jumps over the lazy dog";
    const char *needles[] = {"fox", "the", "dog", "", "cat", "lazy dog", "o", "the lazy dog!"};
    for (int i = 0; i < 8; i++) {
        const char *p = strstr(hay, needles[i]);
        printf("strstr(\"%s\") = %ld\n", needles[i], p ? (long)(p - hay) : -1L);
    }
    printf("strcasestr %ld strspn %zu strcspn %zu strpbrk %s\n",
           (long)(strcasestr(hay, "BROWN") - hay), strspn(hay, "the "), strcspn(hay, "xyz"),
           strpbrk(hay, "jz"));
    printf("strcasecmp %d %d %d strncasecmp %d\n", sgn(strcasecmp("Hello", "hELLO")),
           sgn(strcasecmp("abc", "ABD")), sgn(strcasecmp("b", "A")),
           sgn(strncasecmp("ABCdef", "abcXYZ", 3)));
    char text[] = "  alpha,beta;;gamma , delta,,epsilon  ";
    printf("strtok:");
    for (char *t = strtok(text, " ,;"); t; t = strtok(NULL, " ,;"))
        printf(" [%s]", t);
    printf("\n");
    char text2[] = "a=1&b=22&&c=333";
    char *save1, *save2;
    printf("strtok_r:");
    for (char *kv = strtok_r(text2, "&", &save1); kv; kv = strtok_r(NULL, "&", &save1)) {
        char *k = strtok_r(kv, "=", &save2), *v = strtok_r(NULL, "=", &save2);
        printf(" %s->%s", k, v ? v : "(null)");
    }
    printf("\n");
    char *d = strndup("truncate-here", 8);
    printf("strndup \"%s\"\n", d);
    free(d);
    char up[32];
    const char *mixed = "MiXeD 123 cAsE!";
    size_t i;
    for (i = 0; mixed[i]; i++)
        up[i] = (char)toupper((unsigned char)mixed[i]);
    up[i] = 0;
    printf("toupper \"%s\" isalpha %d isdigit %d isspace %d\n", up, !!isalpha('q'),
           !!isdigit('7'), !!isspace('\t'));
    printf("strerror(EINVAL) \"%s\" strerror(ENOENT) \"%s\"\n", strerror(EINVAL), strerror(ENOENT));
}

static void numbers(void)
{
    static const char *const ints[] = {"0", "42", "-42", "  +17xyz", "0x1fG", "0777", "9223372036854775807",
                                       "9223372036854775808", "-9223372036854775809", "junk", "",
                                       "-0", "18446744073709551615", "18446744073709551616", "1e5"};
    for (size_t i = 0; i < sizeof(ints) / sizeof(ints[0]); i++) {
        char *end;
        errno = 0;
        long v = strtol(ints[i], &end, 0);
        int e1 = errno;
        errno = 0;
        unsigned long u = strtoul(ints[i], NULL, 10);
        int e2 = errno;
        long long ll = strtoll(ints[i], NULL, 16);
        printf("strtol(\"%s\", 0) = %ld end+%ld errno %d; strtoul10 = %lu errno %d; strtoll16 = %lld;"
               " atoi = %d\n", ints[i], v, (long)(end - ints[i]), e1, u, e2, ll,
               (int)strtol(ints[i], NULL, 10) /* atoi is undefined on overflow */);
    }
    printf("strtol base 2 %ld base 36 %ld base 7 %ld\n", strtol("101101", NULL, 2),
           strtol("zZ", NULL, 36), strtol("666", NULL, 7));
    static const char *const dbls[] = {"0", "-0", "1.5", "  3.14159265358979323846264338327950288",
                                       "1e308", "1e309", "-1e309", "1e-320", "1e-400", "0x1.8p3",
                                       "inf", "-Infinity", "nan", "NAN(123)", ".5e1x", "1.7976931348623157e308",
                                       "2.2250738585072011e-308", "123456789012345678901234567890",
                                       "0.1", "4.9406564584124654e-324", "2.4703282292062328e-324",
                                       "abc", "1e"};
    for (size_t i = 0; i < sizeof(dbls) / sizeof(dbls[0]); i++) {
        char *end;
        errno = 0;
        double v = strtod(dbls[i], &end);
        int e = errno;
        float f = strtof(dbls[i], NULL);
        printf("strtod(\"%s\") = %a (%.17g) end+%ld errno %d; strtof = %a\n", dbls[i], v, v,
               (long)(end - dbls[i]), e, (double)f);
    }
    int a, b, got;
    char w[16];
    double x;
    got = sscanf("  12 -7 word 2.5e3 rest", "%d %d %15s %lf", &a, &b, w, &x);
    printf("sscanf got %d: %d %d %s %g\n", got, a, b, w, x);
    unsigned hx;
    got = sscanf("ff:10", "%x:%d", &hx, &a);
    printf("sscanf got %d: %u %d\n", got, hx, a);
    char buf[64];
    int len = sprintf(buf, "%d|%s|%5.2f|%x", -12, "ab", 3.14159, 255u);
    printf("sprintf %d \"%s\"\n", len, buf);
    len = snprintf(buf, 8, "%s", "0123456789abcdef");
    printf("snprintf %d \"%s\"\n", len, buf);
}

int main(void)
{
    basics();
    numbers();
    alignment_sweep();
    page_edge();
    return 0;
}
