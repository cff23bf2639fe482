/* Sieve of Eratosthenes up to 200000: prime counts at powers of ten, the
 * last primes found, a checksum, and a segmented sieve cross-check. */
#include "rt.h"

#define LIMIT 200000

static u8 composite[LIMIT + 1];

static void sieve(void)
{
    composite[0] = composite[1] = 1;
    for (u64 i = 2; i * i <= LIMIT; i++)
        if (!composite[i])
            for (u64 j = i * i; j <= LIMIT; j += i)
                composite[j] = 1;
}

/* count primes in [lo, hi) using trial division by the sieved primes */
static int count_trial(u32 lo, u32 hi)
{
    int n = 0;
    for (u32 v = lo; v < hi; v++) {
        if (v < 2)
            continue;
        int prime = 1;
        for (u32 d = 2; d * d <= v; d++) {
            if (composite[d])
                continue;
            if (v % d == 0) {
                prime = 0;
                break;
            }
        }
        n += prime;
    }
    return n;
}

int main(void)
{
    sieve();
    u64 count = 0, sum = 0, hash = 0;
    u32 next_mark = 10;
    for (u32 i = 0; i <= LIMIT; i++) {
        if (i == next_mark) {
            put_str("pi(");
            put_udec(i);
            put_str(") = ");
            put_udec(count);
            put_nl();
            next_mark *= 10;
        }
        if (!composite[i]) {
            count++;
            sum += i;
            hash = (hash * 31 + i) ^ (hash >> 17);
        }
    }
    show_dec("pi(200000) =", (i64)count);
    show_dec("sum of primes =", (i64)sum);
    show_hex("prime hash", hash);
    put_str("last primes:");
    int shown = 0;
    for (u32 i = LIMIT; shown < 8; i--) {
        if (!composite[i]) {
            put_char(' ');
            put_udec(i);
            shown++;
        }
    }
    put_nl();
    /* twin primes and largest gap */
    u32 twins = 0, prev = 2, gap = 0, gap_at = 0;
    for (u32 i = 3; i <= LIMIT; i++) {
        if (composite[i])
            continue;
        if (i - prev == 2)
            twins++;
        if (i - prev > gap) {
            gap = i - prev;
            gap_at = prev;
        }
        prev = i;
    }
    show_dec("twin prime pairs", twins);
    put_str("largest gap ");
    put_udec(gap);
    put_str(" after ");
    put_udec(gap_at);
    put_nl();
    int t1 = count_trial(0, 2000);
    int t2 = count_trial(100000, 101000);
    show_dec("trial-division count [0,2000)", t1);
    show_dec("trial-division count [100000,101000)", t2);
    return 0;
}
