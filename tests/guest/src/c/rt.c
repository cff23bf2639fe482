/* Tiny runtime for the freestanding RV64IM C test programs (no libc). */
#include "rt.h"

#define SYS_write 64
#define SYS_exit 93

/* keep gcc from turning the loops below into calls to themselves */
#define NOPATTERN __attribute__((optimize("no-tree-loop-distribute-patterns")))

long rt_syscall3(long nr, long a0, long a1, long a2)
{
    register long r_a0 __asm__("a0") = a0;
    register long r_a1 __asm__("a1") = a1;
    register long r_a2 __asm__("a2") = a2;
    register long r_a7 __asm__("a7") = nr;
    __asm__ volatile("ecall"
                     : "+r"(r_a0)
                     : "r"(r_a1), "r"(r_a2), "r"(r_a7)
                     : "memory");
    return r_a0;
}

long rt_write(int fd, const void *buf, size_t len)
{
    return rt_syscall3(SYS_write, fd, (long)buf, (long)len);
}

static char outbuf[4096];
static size_t outlen;

void flush(void)
{
    size_t off = 0;
    while (off < outlen) {
        long n = rt_write(1, outbuf + off, outlen - off);
        if (n <= 0)
            break;
        off += (size_t)n;
    }
    outlen = 0;
}

void rt_exit(int status)
{
    flush();
    for (;;)
        rt_syscall3(SYS_exit, status, 0, 0);
}

void put_char(char c)
{
    if (outlen == sizeof(outbuf))
        flush();
    outbuf[outlen++] = c;
}

void put_str(const char *s)
{
    while (*s)
        put_char(*s++);
}

void put_udec(u64 v)
{
    char tmp[24];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        put_char(tmp[--n]);
}

void put_dec(i64 v)
{
    if (v < 0) {
        put_char('-');
        put_udec(-(u64)v);
    } else {
        put_udec((u64)v);
    }
}

void put_hexn(u64 v, int n)
{
    static const char digits[] = "0123456789abcdef";
    for (int i = n - 1; i >= 0; i--)
        put_char(digits[(v >> (4 * i)) & 15]);
}

void put_hex(u64 v)
{
    put_hexn(v, 16);
}

void put_nl(void)
{
    put_char('\n');
}

void show_dec(const char *label, i64 v)
{
    put_str(label);
    put_char(' ');
    put_dec(v);
    put_nl();
}

void show_hex(const char *label, u64 v)
{
    put_str(label);
    put_char(' ');
    put_hex(v);
    put_nl();
}

void err_str(const char *s)
{
    rt_write(2, s, strlen(s));
}

NOPATTERN void *memcpy(void *dst, const void *src, size_t n)
{
    u8 *d = dst;
    const u8 *s = src;
    if ((((u64)d | (u64)s) & 7) == 0) {
        for (; n >= 8; n -= 8, d += 8, s += 8)
            *(u64 *)d = *(const u64 *)s;
    }
    while (n--)
        *d++ = *s++;
    return dst;
}

NOPATTERN void *memmove(void *dst, const void *src, size_t n)
{
    u8 *d = dst;
    const u8 *s = src;
    if (d == s || n == 0)
        return dst;
    if (d < s) {
        while (n--)
            *d++ = *s++;
    } else {
        d += n;
        s += n;
        while (n--)
            *--d = *--s;
    }
    return dst;
}

NOPATTERN void *memset(void *dst, int c, size_t n)
{
    u8 *d = dst;
    while (n--)
        *d++ = (u8)c;
    return dst;
}

int memcmp(const void *a, const void *b, size_t n)
{
    const u8 *x = a, *y = b;
    for (; n; n--, x++, y++)
        if (*x != *y)
            return *x < *y ? -1 : 1;
    return 0;
}

size_t strlen(const char *s)
{
    size_t n = 0;
    while (s[n])
        n++;
    return n;
}

static u64 rng_state = 0x9e3779b97f4a7c15UL;

void rng_seed(u64 seed)
{
    rng_state = seed ? seed : 0x9e3779b97f4a7c15UL;
}

u64 rng_next(void)
{
    u64 x = rng_state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    rng_state = x;
    return x * 0x2545f4914f6cdd1dUL;
}
