/* Quicksort, mergesort, insertion sort and heapsort of pseudo-random arrays
 * (signed 64-bit, unsigned 32-bit, with duplicates), checked against each
 * other, with checksums. */
#include "rt.h"

#define N 3000

static i64 a[N], b[N], c[N], d[N], tmp[N];
static u32 u[N];

static void quicksort(i64 *v, long lo, long hi)
{
    while (lo < hi) {
        i64 pivot = v[lo + (hi - lo) / 2];
        long i = lo, j = hi;
        while (i <= j) {
            while (v[i] < pivot)
                i++;
            while (v[j] > pivot)
                j--;
            if (i <= j) {
                i64 t = v[i];
                v[i] = v[j];
                v[j] = t;
                i++;
                j--;
            }
        }
        /* recurse into the smaller part, loop on the larger */
        if (j - lo < hi - i) {
            quicksort(v, lo, j);
            lo = i;
        } else {
            quicksort(v, i, hi);
            hi = j;
        }
    }
}

static void mergesort(i64 *v, long n)
{
    for (long width = 1; width < n; width *= 2) {
        for (long lo = 0; lo < n; lo += 2 * width) {
            long mid = lo + width < n ? lo + width : n;
            long hi = lo + 2 * width < n ? lo + 2 * width : n;
            long i = lo, j = mid, k = lo;
            while (i < mid && j < hi)
                tmp[k++] = v[i] <= v[j] ? v[i++] : v[j++];
            while (i < mid)
                tmp[k++] = v[i++];
            while (j < hi)
                tmp[k++] = v[j++];
        }
        memcpy(v, tmp, (size_t)n * sizeof(i64));
    }
}

static void insertion_sort(i64 *v, long n)
{
    for (long i = 1; i < n; i++) {
        i64 x = v[i];
        long j = i - 1;
        while (j >= 0 && v[j] > x) {
            v[j + 1] = v[j];
            j--;
        }
        v[j + 1] = x;
    }
}

static void sift_down(u32 *v, long start, long end)
{
    long root = start;
    while (2 * root + 1 <= end) {
        long child = 2 * root + 1;
        if (child + 1 <= end && v[child] < v[child + 1])
            child++;
        if (v[root] < v[child]) {
            u32 t = v[root];
            v[root] = v[child];
            v[child] = t;
            root = child;
        } else {
            return;
        }
    }
}

static void heapsort_u32(u32 *v, long n)
{
    for (long start = (n - 2) / 2; start >= 0; start--)
        sift_down(v, start, n - 1);
    for (long end = n - 1; end > 0; end--) {
        u32 t = v[end];
        v[end] = v[0];
        v[0] = t;
        sift_down(v, 0, end - 1);
    }
}

static u64 checksum(const i64 *v, long n)
{
    u64 h = 0;
    for (long i = 0; i < n; i++)
        h = h * 0x100000001b3UL + (u64)v[i] + (u64)i;
    return h;
}

static int is_sorted(const i64 *v, long n)
{
    for (long i = 1; i < n; i++)
        if (v[i - 1] > v[i])
            return 0;
    return 1;
}

/* mod == 0: full 64-bit range; mod == 1: ascending input with runs of
 * duplicates; otherwise values in [-mod/2, mod/2) */
static void run(const char *name, u64 seed, u64 mod)
{
    rng_seed(seed);
    for (long i = 0; i < N; i++) {
        u64 r = rng_next();
        if (mod == 1)
            a[i] = i / 3 * 1000 - 700000;
        else
            a[i] = mod ? (i64)(r % mod) - (i64)(mod / 2) : (i64)r;
    }
    memcpy(b, a, sizeof(a));
    memcpy(c, a, sizeof(a));
    memcpy(d, a, 500 * sizeof(i64));
    put_str(name);
    put_nl();
    show_hex("  input checksum", checksum(a, N));
    quicksort(b, 0, N - 1);
    mergesort(c, N);
    insertion_sort(d, 500);
    show_dec("  quicksort sorted", is_sorted(b, N));
    show_dec("  mergesort sorted", is_sorted(c, N));
    show_dec("  quick == merge", memcmp(b, c, sizeof(b)) == 0);
    show_dec("  insertion(500) sorted", is_sorted(d, 500));
    show_hex("  sorted checksum", checksum(b, N));
    show_hex("  insertion checksum", checksum(d, 500));
    show_dec("  min", b[0]);
    show_dec("  median", b[N / 2]);
    show_dec("  max", b[N - 1]);
}

int main(void)
{
    run("full-range values", 12345, 0);
    run("small values with duplicates", 777, 100);
    run("already sorted input", 1, 1);
    run("full-range values, second seed", 5, 0);
    /* sort the already sorted result again */
    quicksort(b, 0, N - 1);
    show_hex("re-sort checksum", checksum(b, N));
    rng_seed(99);
    u64 x = 0;
    for (long i = 0; i < N; i++) {
        u[i] = (u32)(rng_next() >> 32);
        x ^= u[i];
    }
    heapsort_u32(u, N);
    int ok = 1;
    u64 y = 0, h = 0;
    for (long i = 0; i < N; i++) {
        y ^= u[i];
        h = h * 31 + u[i];
        if (i && u[i - 1] > u[i])
            ok = 0;
    }
    show_dec("heapsort u32 sorted", ok);
    show_dec("heapsort keeps elements", x == y);
    show_hex("heapsort checksum", h);
    show_hex("u32 min", u[0]);
    show_hex("u32 max", u[N - 1]);
    return 0;
}
