/* Floating point (double): dense matrix multiply, repeated, with a bit-exact checksum. */
#include <string.h>

#include "bench.h"

#define N 96

static double a[N][N], b[N][N], c[N][N];

static void matmul(double (*x)[N], double (*y)[N], double (*z)[N])
{
    for (int i = 0; i < N; i++) {
        for (int j = 0; j < N; j++)
            z[i][j] = 0.0;
        for (int k = 0; k < N; k++) {
            double xik = x[i][k];
            for (int j = 0; j < N; j++)
                z[i][j] += xik * y[k][j];
        }
    }
}

int main(int argc, char **argv)
{
    long rounds = bench_scale(argc, argv, 90);
    uint64_t state = 11, bits = 0;
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++) {
            a[i][j] = (double)(int64_t)(rng_next(&state) % 2001 - 1000) / 1000.0;
            b[i][j] = (double)(int64_t)(rng_next(&state) % 2001 - 1000) / 977.0;
        }
    double trace = 0;
    for (long r = 0; r < rounds; r++) {
        matmul(a, b, c);
        /* keep the values bounded: a = c / (row norm), b unchanged */
        for (int i = 0; i < N; i++) {
            double norm = 0;
            for (int j = 0; j < N; j++)
                norm += c[i][j] < 0 ? -c[i][j] : c[i][j];
            norm = norm > 1e-300 ? norm : 1.0;
            for (int j = 0; j < N; j++)
                a[i][j] = c[i][j] / norm;
        }
        trace = 0;
        for (int i = 0; i < N; i++)
            trace += c[i][i];
        uint64_t t;
        memcpy(&t, &trace, 8);
        bits = rotl64(bits, 9) ^ t;
    }
    printf("matmul n %d rounds %ld trace %.12e\n", N, rounds, trace);
    bench_checksum("matmul", bits);
    return 0;
}
