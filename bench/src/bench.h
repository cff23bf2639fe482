/*
 * Shared helpers of the tcgjit benchmark programs (the .c files of bench/src).
 *
 * Every program is deterministic and prints a checksum that must be identical when it is built
 * for riscv64 and for x86-64 from the same source: only fixed-width integer types, no plain
 * `char` arithmetic (char is unsigned on RISC-V, signed on x86-64), no libm function other than
 * sqrt (correctly rounded on both), and -ffp-contract=off (no fused multiply-add on one side
 * only). The optional first argument scales the amount of work (default: the size the suite is
 * tuned to, about 0.5-2 s under qemu-riscv64).
 */
#ifndef BENCH_H
#define BENCH_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* splitmix64: a small, fast, well-mixed deterministic generator */
static inline uint64_t rng_next(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static inline uint64_t rotl64(uint64_t x, int r)
{
    return (x << r) | (x >> (64 - r));
}

/* the work factor: argv[1] if given and positive, else the default */
static inline long bench_scale(int argc, char **argv, long dflt)
{
    if (argc > 1) {
        long v = strtol(argv[1], NULL, 10);
        if (v > 0)
            return v;
    }
    return dflt;
}

static inline void bench_checksum(const char *name, uint64_t sum)
{
    printf("%s checksum %016llx\n", name, (unsigned long long)sum);
}

#endif
