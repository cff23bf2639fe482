/* Sorting with a comparator callback: glibc qsort over records and over strings. */
#include <string.h>

#include "bench.h"

#define N_RECS 50000
#define N_STRS 8000

typedef struct {
    uint32_t key;
    uint32_t idx;
    uint64_t payload;
} rec_t;

static rec_t recs[N_RECS];
static uint8_t strbuf[N_STRS][16];
static const uint8_t *strs[N_STRS];

/* a total order (ties broken by the original index): every sort algorithm gives one result */
static int cmp_rec(const void *a, const void *b)
{
    const rec_t *x = a, *y = b;
    if (x->key != y->key)
        return x->key < y->key ? -1 : 1;
    return (x->idx > y->idx) - (x->idx < y->idx);
}

static int cmp_str(const void *a, const void *b)
{
    const uint8_t *x = *(const uint8_t *const *)a, *y = *(const uint8_t *const *)b;
    int c = memcmp(x, y, 16);
    if (c != 0)
        return c < 0 ? -1 : 1;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    long rounds = bench_scale(argc, argv, 28);
    uint64_t state = 7, sum = 0;
    for (long r = 0; r < rounds; r++) {
        for (uint32_t i = 0; i < N_RECS; i++) {
            uint64_t v = rng_next(&state);
            recs[i].key = (uint32_t)(v % (N_RECS / 4));   /* many duplicate keys */
            recs[i].idx = i;
            recs[i].payload = v;
        }
        qsort(recs, N_RECS, sizeof recs[0], cmp_rec);
        for (uint32_t i = 0; i < N_RECS; i++)
            sum = sum * 31 + (recs[i].payload ^ recs[i].idx);

        for (uint32_t i = 0; i < N_STRS; i++) {
            for (int j = 0; j < 16; j++)
                strbuf[i][j] = (uint8_t)('a' + rng_next(&state) % 4);
            strs[i] = strbuf[i];
        }
        qsort(strs, N_STRS, sizeof strs[0], cmp_str);
        for (uint32_t i = 0; i < N_STRS; i++)
            sum = sum * 131 + (uint64_t)(strs[i] - strbuf[0]);
    }
    printf("sort rounds %ld\n", rounds);
    bench_checksum("sort", sum);
    return 0;
}
