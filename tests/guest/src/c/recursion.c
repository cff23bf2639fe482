/* Recursion: fib, Ackermann, Towers of Hanoi, mutual recursion, N-queens,
 * recursive permutation generation and a recursive-descent expression
 * evaluator. */
#include "rt.h"

static u64 fib(u32 n)
{
    return n < 2 ? n : fib(n - 1) + fib(n - 2);
}

static u64 ack(u64 m, u64 n)
{
    if (m == 0)
        return n + 1;
    if (n == 0)
        return ack(m - 1, 1);
    return ack(m - 1, ack(m, n - 1));
}

static u64 hanoi_moves, hanoi_hash;

static void hanoi(int n, int from, int to, int via)
{
    if (n == 0)
        return;
    hanoi(n - 1, from, via, to);
    hanoi_moves++;
    hanoi_hash = hanoi_hash * 7 + (u64)(from * 3 + to);
    hanoi(n - 1, via, to, from);
}

static int is_odd(u32 n);
static int is_even(u32 n) { return n == 0 ? 1 : is_odd(n - 1); }
static int is_odd(u32 n) { return n == 0 ? 0 : is_even(n - 1); }

static int queens(int n, int row, u32 cols, u32 d1, u32 d2)
{
    if (row == n)
        return 1;
    int count = 0;
    for (int c = 0; c < n; c++) {
        u32 a = 1u << c, b = 1u << (row + c), d = 1u << (row - c + n);
        if ((cols & a) || (d1 & b) || (d2 & d))
            continue;
        count += queens(n, row + 1, cols | a, d1 | b, d2 | d);
    }
    return count;
}

static int perm[8];
static u64 perm_count, perm_hash;

static void permute(int k, int n)
{
    if (k == n) {
        perm_count++;
        u64 v = 0;
        for (int i = 0; i < n; i++)
            v = v * 10 + (u64)perm[i];
        perm_hash ^= v * perm_count;
        return;
    }
    for (int i = k; i < n; i++) {
        int t = perm[k];
        perm[k] = perm[i];
        perm[i] = t;
        permute(k + 1, n);
        t = perm[k];
        perm[k] = perm[i];
        perm[i] = t;
    }
}

/* expr := term (('+'|'-') term)* ; term := factor (('*'|'/'|'%') factor)* ;
 * factor := number | '-' factor | '(' expr ')' */
static const char *ep;
static i64 expr(void);

static i64 factor(void)
{
    if (*ep == '-') {
        ep++;
        return -factor();
    }
    if (*ep == '(') {
        ep++;
        i64 v = expr();
        ep++; /* ')' */
        return v;
    }
    i64 v = 0;
    while (*ep >= '0' && *ep <= '9')
        v = v * 10 + (*ep++ - '0');
    return v;
}

static i64 term(void)
{
    i64 v = factor();
    while (*ep == '*' || *ep == '/' || *ep == '%') {
        char op = *ep++;
        i64 r = factor();
        v = op == '*' ? v * r : op == '/' ? v / r : v % r;
    }
    return v;
}

static i64 expr(void)
{
    i64 v = term();
    while (*ep == '+' || *ep == '-') {
        char op = *ep++;
        i64 r = term();
        v = op == '+' ? v + r : v - r;
    }
    return v;
}

static i64 eval(const char *s)
{
    ep = s;
    return expr();
}

int main(void)
{
    show_dec("fib(20)", (i64)fib(20));
    show_dec("ack(2,3)", (i64)ack(2, 3));
    show_dec("ack(3,3)", (i64)ack(3, 3));
    show_dec("ack(3,5)", (i64)ack(3, 5));
    hanoi(12, 0, 2, 1);
    show_dec("hanoi(12) moves", (i64)hanoi_moves);
    show_hex("hanoi(12) hash", hanoi_hash);
    show_dec("is_even(1001)", is_even(1001));
    show_dec("is_odd(777)", is_odd(777));
    for (int n = 4; n <= 8; n++) {
        put_str("queens(");
        put_udec((u64)n);
        put_str(") = ");
        put_udec((u64)queens(n, 0, 0, 0, 0));
        put_nl();
    }
    for (int i = 0; i < 7; i++)
        perm[i] = i + 1;
    permute(0, 7);
    show_dec("permutations of 7", (i64)perm_count);
    show_hex("permutation hash", perm_hash);
    static const char *exprs[] = {
        "1+2*3", "(1+2)*3", "100/7", "100%7", "-100/7", "-100%7",
        "2*(3+4)*(5-6)", "((((((1))))))", "123456789*1000000007", "7-(-3)",
    };
    for (u32 i = 0; i < ARRAY_SIZE(exprs); i++) {
        put_str(exprs[i]);
        put_str(" = ");
        put_dec(eval(exprs[i]));
        put_nl();
    }
    return 0;
}
