/* LZ77 compression with a hash table of 4-byte prefixes, decompression and CRC-32: branchy
 * byte-oriented code with unpredictable control flow. */
#include <string.h>

#include "bench.h"

#define IN_SIZE (128 * 1024)
#define HASH_BITS 13
#define MIN_MATCH 4
#define MAX_OFFSET 65535

static uint8_t input[IN_SIZE];
static uint8_t packed[IN_SIZE + IN_SIZE / 8 + 16];
static uint8_t unpacked[IN_SIZE];
static uint32_t table[1 << HASH_BITS];
static uint32_t crc_table[256];

static void crc_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        crc_table[i] = c;
    }
}

static uint32_t crc32(const uint8_t *p, size_t n)
{
    uint32_t c = 0xFFFFFFFFu;
    while (n--)
        c = crc_table[(c ^ *p++) & 0xff] ^ (c >> 8);
    return c ^ 0xFFFFFFFFu;
}

static inline uint32_t hash4(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return (v * 2654435761u) >> (32 - HASH_BITS);
}

/* format: a token byte; 0x00-0x7f: 1+t literals follow; 0x80-0xff: match of length
 * (t & 0x7f) + MIN_MATCH, then a 16-bit little-endian offset */
static size_t compress(const uint8_t *in, size_t n, uint8_t *out)
{
    size_t ip = 0, op = 0, lit_start = 0;
    memset(table, 0, sizeof table);
    while (ip + MIN_MATCH <= n) {
        uint32_t h = hash4(in + ip);
        size_t cand = table[h];
        table[h] = (uint32_t)ip;
        if (cand < ip && ip - cand <= MAX_OFFSET && memcmp(in + cand, in + ip, MIN_MATCH) == 0) {
            size_t len = MIN_MATCH;
            while (ip + len < n && len < 127 + MIN_MATCH && in[cand + len] == in[ip + len])
                len++;
            while (lit_start < ip) {
                size_t run = ip - lit_start < 128 ? ip - lit_start : 128;
                out[op++] = (uint8_t)(run - 1);
                memcpy(out + op, in + lit_start, run);
                op += run;
                lit_start += run;
            }
            size_t off = ip - cand;
            out[op++] = (uint8_t)(0x80 | (len - MIN_MATCH));
            out[op++] = (uint8_t)off;
            out[op++] = (uint8_t)(off >> 8);
            ip += len;
            lit_start = ip;
        } else {
            ip++;
        }
    }
    while (lit_start < n) {
        size_t run = n - lit_start < 128 ? n - lit_start : 128;
        out[op++] = (uint8_t)(run - 1);
        memcpy(out + op, in + lit_start, run);
        op += run;
        lit_start += run;
    }
    return op;
}

static size_t decompress(const uint8_t *in, size_t n, uint8_t *out)
{
    size_t ip = 0, op = 0;
    while (ip < n) {
        uint8_t t = in[ip++];
        if (t < 0x80) {
            memcpy(out + op, in + ip, (size_t)t + 1);
            ip += (size_t)t + 1;
            op += (size_t)t + 1;
        } else {
            size_t len = (size_t)(t & 0x7f) + MIN_MATCH;
            size_t off = in[ip] | (size_t)in[ip + 1] << 8;
            ip += 2;
            for (size_t k = 0; k < len; k++, op++)   /* overlapping copies: byte by byte */
                out[op] = out[op - off];
        }
    }
    return op;
}

int main(int argc, char **argv)
{
    long rounds = bench_scale(argc, argv, 600);
    uint64_t state = 17, sum = 0;
    static const char *const words[] = {"the ", "quick ", "brown ", "fox ", "jumps ", "over ",
                                        "lazy ", "dog ", "and ", "translated ", "block ", "\n"};
    crc_init();
    /* text-like input: words, some random bytes, and repeated earlier stretches */
    size_t pos = 0;
    while (pos < IN_SIZE) {
        uint64_t r = rng_next(&state);
        if (r % 10 < 6) {
            const char *w = words[(r >> 8) % 12];
            for (size_t k = 0; w[k] && pos < IN_SIZE; k++)
                input[pos++] = (uint8_t)w[k];
        } else if (r % 10 < 8 || pos < 1024) {
            input[pos++] = (uint8_t)(r >> 16);
        } else {
            size_t from = (size_t)((r >> 20) % pos), len = 8 + (size_t)((r >> 40) % 64);
            for (size_t k = 0; k < len && pos < IN_SIZE; k++)
                input[pos++] = input[from + k];
        }
    }
    for (long r = 0; r < rounds; r++) {
        size_t n = IN_SIZE - (size_t)(r % 64) * 1024;
        size_t c = compress(input, n, packed);
        size_t d = decompress(packed, c, unpacked);
        if (d != n || memcmp(input, unpacked, n) != 0) {
            printf("compress: round trip failed in round %ld\n", r);
            return 1;
        }
        uint32_t crc = crc32(packed, c);
        sum = sum * 1000003 + c * 65536 + crc;
        input[(crc >> 3) % IN_SIZE] ^= (uint8_t)crc;   /* a different input next round */
        if (r == 0)
            printf("compress %zu -> %zu bytes, crc %08x\n", n, c, crc);
    }
    bench_checksum("compress", sum);
    return 0;
}
