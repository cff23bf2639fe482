/* Integer matrix multiply (i64 and wrapping u32), transpose, identity
 * check and a modular matrix power (Fibonacci numbers mod a prime). */
#include "rt.h"

#define N 20

static i64 A[N][N], B[N][N], C[N][N], T[N][N];
static u32 P[N][N], Q[N][N], R[N][N];

static void mul64(i64 (*x)[N], i64 (*y)[N], i64 (*z)[N])
{
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++) {
            i64 s = 0;
            for (int k = 0; k < N; k++)
                s += x[i][k] * y[k][j];
            z[i][j] = s;
        }
}

static u64 hash64(i64 (*m)[N])
{
    u64 h = 0;
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++)
            h = (h ^ (u64)m[i][j]) * 0x100000001b3UL;
    return h;
}

typedef struct {
    u64 a, b, c, d;
} mat2;

static mat2 mat2_mul(mat2 x, mat2 y, u64 m)
{
    mat2 r;
    r.a = (x.a * y.a + x.b * y.c) % m;
    r.b = (x.a * y.b + x.b * y.d) % m;
    r.c = (x.c * y.a + x.d * y.c) % m;
    r.d = (x.c * y.b + x.d * y.d) % m;
    return r;
}

static u64 fib_mod(u64 n, u64 m)
{
    mat2 r = {1, 0, 0, 1}, b = {1, 1, 1, 0};
    while (n) {
        if (n & 1)
            r = mat2_mul(r, b, m);
        b = mat2_mul(b, b, m);
        n >>= 1;
    }
    return r.b;
}

int main(void)
{
    rng_seed(31337);
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++) {
            A[i][j] = (i64)(rng_next() % 2001) - 1000;
            B[i][j] = (i64)(rng_next() % 2001) - 1000;
            P[i][j] = (u32)rng_next();
            Q[i][j] = (u32)rng_next();
        }
    mul64(A, B, C);
    i64 trace = 0;
    for (int i = 0; i < N; i++)
        trace += C[i][i];
    show_dec("trace(A*B)", trace);
    show_dec("C[0][0]", C[0][0]);
    show_dec("C[N-1][0]", C[N - 1][0]);
    show_hex("hash(A*B)", hash64(C));
    /* (A*B)^T == B^T * A^T */
    i64 At[N][N], Bt[N][N];
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++) {
            At[i][j] = A[j][i];
            Bt[i][j] = B[j][i];
        }
    mul64(Bt, At, T);
    int ok = 1;
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++)
            if (T[i][j] != C[j][i])
                ok = 0;
    show_dec("transpose identity holds", ok);
    /* wrapping u32 product */
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++) {
            u32 s = 0;
            for (int k = 0; k < N; k++)
                s += P[i][k] * Q[k][j];
            R[i][j] = s;
        }
    u64 h = 0;
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++)
            h = h * 31 + R[i][j];
    show_hex("hash(P*Q) u32", h);
    show_hex("R[3][7]", R[3][7]);
    static const u64 ns[] = {0, 1, 2, 10, 50, 90, 1000, 123456789, 1000000000000UL};
    for (u32 i = 0; i < ARRAY_SIZE(ns); i++) {
        put_str("fib(");
        put_udec(ns[i]);
        put_str(") mod 1000000007 = ");
        put_udec(fib_mod(ns[i], 1000000007UL));
        put_nl();
    }
    return 0;
}
