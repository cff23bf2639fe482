/* Integer hashing: XXH64 and MurmurHash3's 64-bit finalizer over generated data. */
#include <string.h>

#include "bench.h"

#define BUF_SIZE (64 * 1024)

static const uint64_t P1 = 0x9E3779B185EBCA87ULL;
static const uint64_t P2 = 0xC2B2AE3D27D4EB4FULL;
static const uint64_t P3 = 0x165667B19E3779F9ULL;
static const uint64_t P4 = 0x85EBCA77C2B2AE63ULL;
static const uint64_t P5 = 0x27D4EB2F165667C5ULL;

static uint8_t buf[BUF_SIZE];

static inline uint64_t read64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);      /* both targets are little-endian */
    return v;
}

static inline uint32_t read32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

static inline uint64_t round64(uint64_t acc, uint64_t input)
{
    acc += input * P2;
    acc = rotl64(acc, 31);
    return acc * P1;
}

static inline uint64_t merge64(uint64_t acc, uint64_t val)
{
    acc ^= round64(0, val);
    return acc * P1 + P4;
}

static uint64_t xxh64(const uint8_t *p, size_t len, uint64_t seed)
{
    const uint8_t *end = p + len;
    uint64_t h;
    if (len >= 32) {
        const uint8_t *limit = end - 32;
        uint64_t v1 = seed + P1 + P2, v2 = seed + P2, v3 = seed, v4 = seed - P1;
        do {
            v1 = round64(v1, read64(p));
            v2 = round64(v2, read64(p + 8));
            v3 = round64(v3, read64(p + 16));
            v4 = round64(v4, read64(p + 24));
            p += 32;
        } while (p <= limit);
        h = rotl64(v1, 1) + rotl64(v2, 7) + rotl64(v3, 12) + rotl64(v4, 18);
        h = merge64(h, v1);
        h = merge64(h, v2);
        h = merge64(h, v3);
        h = merge64(h, v4);
    } else {
        h = seed + P5;
    }
    h += (uint64_t)len;
    while (p + 8 <= end) {
        h ^= round64(0, read64(p));
        h = rotl64(h, 27) * P1 + P4;
        p += 8;
    }
    if (p + 4 <= end) {
        h ^= (uint64_t)read32(p) * P1;
        h = rotl64(h, 23) * P2 + P3;
        p += 4;
    }
    while (p < end) {
        h ^= (*p) * P5;
        h = rotl64(h, 11) * P1;
        p++;
    }
    h ^= h >> 33;
    h *= P2;
    h ^= h >> 29;
    h *= P3;
    h ^= h >> 32;
    return h;
}

static inline uint64_t fmix64(uint64_t k)
{
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdULL;
    k ^= k >> 33;
    k *= 0xc4ceb9fe1a85ec53ULL;
    k ^= k >> 33;
    return k;
}

int main(int argc, char **argv)
{
    long rounds = bench_scale(argc, argv, 13000);
    uint64_t state = 1, sum = 0;
    for (size_t i = 0; i < BUF_SIZE; i += 8) {
        uint64_t r = rng_next(&state);
        memcpy(buf + i, &r, 8);
    }
    for (long r = 0; r < rounds; r++) {
        /* varying lengths and alignments exercise every tail path */
        size_t off = (size_t)(r % 13);
        size_t len = BUF_SIZE - off - (size_t)(r % 61);
        uint64_t h = xxh64(buf + off, len, (uint64_t)r);
        sum = rotl64(sum, 5) ^ h;
        buf[(h >> 7) % BUF_SIZE] ^= (uint8_t)h;
        /* a hash table style probe sequence with the murmur finalizer */
        uint64_t k = h;
        for (int i = 0; i < 2048; i++) {
            k = fmix64(k + (uint64_t)i);
            sum += k & 0xffff;
        }
    }
    printf("hash rounds %ld\n", rounds);
    bench_checksum("hash", sum);
    return 0;
}
