/* CPU-bound benchmark for speed measurement: repeated rounds of CRC-32,
 * a sieve, an insertion/quick sort and an integer matrix product. Prints one
 * checksum per round and a final combined checksum. */
#include "rt.h"

#ifndef ROUNDS
#define ROUNDS 300
#endif

static u32 crc_table[256];
static u8 buf[65536];
static u8 composite[150001];
#define NSORT 6000
static i64 arr[NSORT];
#define M 40
static i32 ma[M][M], mb[M][M], mc[M][M];

static u32 crc32(const u8 *p, size_t n)
{
    u32 c = 0xffffffffu;
    while (n--)
        c = crc_table[(c ^ *p++) & 0xff] ^ (c >> 8);
    return ~c;
}

static u32 sieve(u32 limit)
{
    memset(composite, 0, limit + 1);
    u32 count = 0;
    for (u32 i = 2; i <= limit; i++) {
        if (composite[i])
            continue;
        count++;
        for (u32 j = i * 2; j <= limit; j += i)
            composite[j] = 1;
    }
    return count;
}

static void qsort_i64(i64 *v, long lo, long hi)
{
    while (hi - lo > 16) {
        i64 p = v[(lo + hi) / 2];
        long i = lo, j = hi;
        while (i <= j) {
            while (v[i] < p)
                i++;
            while (v[j] > p)
                j--;
            if (i <= j) {
                i64 t = v[i];
                v[i++] = v[j];
                v[j--] = t;
            }
        }
        if (j - lo < hi - i) {
            qsort_i64(v, lo, j);
            lo = i;
        } else {
            qsort_i64(v, i, hi);
            hi = j;
        }
    }
    for (long i = lo + 1; i <= hi; i++) {
        i64 x = v[i];
        long j = i - 1;
        while (j >= lo && v[j] > x) {
            v[j + 1] = v[j];
            j--;
        }
        v[j + 1] = x;
    }
}

int main(void)
{
    for (u32 i = 0; i < 256; i++) {
        u32 c = i;
        for (int k = 0; k < 8; k++)
            c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
        crc_table[i] = c;
    }
    u64 total = 0;
    for (int round = 0; round < ROUNDS; round++) {
        rng_seed(1000 + (u64)round);
        for (size_t i = 0; i < sizeof(buf); i += 8) {
            u64 r = rng_next();
            memcpy(buf + i, &r, 8);
        }
        u32 crc = crc32(buf, sizeof(buf));
        u32 primes = sieve(100000 + (u32)(round % 100) * 500);
        for (int i = 0; i < NSORT; i++)
            arr[i] = (i64)rng_next();
        qsort_i64(arr, 0, NSORT - 1);
        u64 sorted_hash = 0;
        for (int i = 0; i < NSORT; i += 7)
            sorted_hash = sorted_hash * 31 + (u64)arr[i];
        for (int i = 0; i < M; i++)
            for (int j = 0; j < M; j++) {
                ma[i][j] = (i32)(rng_next() % 201) - 100;
                mb[i][j] = (i32)(rng_next() % 201) - 100;
            }
        for (int i = 0; i < M; i++)
            for (int j = 0; j < M; j++) {
                i32 s = 0;
                for (int k = 0; k < M; k++)
                    s += ma[i][k] * mb[k][j];
                mc[i][j] = s;
            }
        u64 mh = 0;
        for (int i = 0; i < M; i++)
            mh = mh * 1000003 + (u64)(i64)mc[i][(i * 7) % M];
        u64 round_sum = (u64)crc ^ ((u64)primes << 32) ^ sorted_hash ^ (mh * 3);
        total = total * 0x100000001b3UL ^ round_sum;
        put_str("round ");
        put_udec((u64)round);
        put_str(" crc ");
        put_hexn(crc, 8);
        put_str(" primes ");
        put_udec(primes);
        put_str(" sum ");
        put_hex(round_sum);
        put_nl();
    }
    show_hex("total", total);
    return 0;
}
