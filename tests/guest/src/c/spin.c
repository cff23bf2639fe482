/* A guest that spins in one tight loop (a single block chained to itself), for Ctrl-C tests
 * (tests/test_interrupt.py). Without arguments it spins a fixed number of rounds and prints
 * the result; with "forever" it prints "spinning" and spins until it is killed; with "read"
 * it prints "reading" and blocks reading stdin. */
#include "rt.h"

#define NR_READ 63
#define ROUNDS 3000000

static int same(const char *a, const char *b)
{
    while (*a && *a == *b) {
        a++;
        b++;
    }
    return *a == *b;
}

static u64 spin(u64 rounds)
{
    u64 x = 1;
    for (u64 i = 0; i != rounds; i++)
        x = x * 6364136223846793005UL + 1442695040888963407UL;
    return x;
}

int main(int argc, char **argv, char **envp)
{
    (void)envp;
    if (argc > 1 && same(argv[1], "forever")) {
        put_str("spinning\n");
        flush();
        show_hex("never", spin(~0UL)); /* 2^64 - 1 rounds: centuries */
        return 1;
    }
    if (argc > 1 && same(argv[1], "read")) {
        char c;
        put_str("reading\n");
        flush();
        show_dec("read", rt_syscall3(NR_READ, 0, (long)&c, 1));
        return 1;
    }
    show_hex("spin", spin(ROUNDS));
    return 0;
}
