/* primes [N]: print the primes below N (default 100, at most 1000000) in
 * rows of ten, then a summary line.
 *
 * A freestanding RV64IM Linux program (no libc: the tiny runtime from
 * tests/guest/src/c provides _start, buffered output and exit). Build it with
 * `python -m tools.build_guests --group examples`, run it with
 * `tcgjit examples/primes 50` or `qemu-riscv64 examples/primes 50`. */
#include "rt.h"

#define MAX_N 1000000

static u8 composite[MAX_N];

static int parse_n(const char *s, u64 *out)
{
    u64 v = 0;
    if (!*s)
        return 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return 0;
        v = v * 10 + (u64)(*s - '0');
        if (v > MAX_N)
            return 0;
    }
    *out = v;
    return 1;
}

static void put_padded(u64 v, int width)
{
    char tmp[24];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (int i = n; i < width; i++)
        put_char(' ');
    while (n)
        put_char(tmp[--n]);
}

static int digits(u64 v)
{
    int n = 1;
    while (v >= 10) {
        v /= 10;
        n++;
    }
    return n;
}

int main(int argc, char **argv)
{
    u64 n = 100;
    if (argc > 2 || (argc == 2 && !parse_n(argv[1], &n))) {
        err_str("usage: primes [N]   (0 <= N <= 1000000)\n");
        return 2;
    }
    for (u64 i = 2; i * i < n; i++)
        if (!composite[i])
            for (u64 j = i * i; j < n; j += i)
                composite[j] = 1;

    put_str("Primes below ");
    put_udec(n);
    put_str(":\n");
    int width = digits(n > 0 ? n - 1 : 0) + 1;
    u64 count = 0, largest = 0, sum = 0;
    for (u64 i = 2; i < n; i++) {
        if (composite[i])
            continue;
        put_padded(i, width);
        if (++count % 10 == 0)
            put_nl();
        largest = i;
        sum += i;
    }
    if (count % 10 != 0)
        put_nl();
    put_udec(count);
    put_str(count == 1 ? " prime" : " primes");
    if (count) {
        put_str(", largest ");
        put_udec(largest);
        put_str(", sum ");
        put_udec(sum);
    }
    put_nl();
    return 0;
}
