/* CRC-32 (table-driven and bitwise), Adler-32 and FNV-1a over generated
 * data, including the standard check value of "123456789". */
#include "rt.h"

static u32 table[256];
static u8 data[32768];

static void make_table(void)
{
    for (u32 i = 0; i < 256; i++) {
        u32 c = i;
        for (int k = 0; k < 8; k++)
            c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
        table[i] = c;
    }
}

static u32 crc32_table(const u8 *p, size_t n)
{
    u32 c = 0xffffffffu;
    while (n--)
        c = table[(c ^ *p++) & 0xff] ^ (c >> 8);
    return c ^ 0xffffffffu;
}

static u32 crc32_bitwise(const u8 *p, size_t n)
{
    u32 c = 0xffffffffu;
    while (n--) {
        c ^= *p++;
        for (int k = 0; k < 8; k++)
            c = (c >> 1) ^ (0xedb88320u & -(c & 1));
    }
    return ~c;
}

static u32 adler32(const u8 *p, size_t n)
{
    u32 a = 1, b = 0;
    while (n--) {
        a = (a + *p++) % 65521;
        b = (b + a) % 65521;
    }
    return (b << 16) | a;
}

static u64 fnv1a64(const u8 *p, size_t n)
{
    u64 h = 0xcbf29ce484222325UL;
    while (n--) {
        h ^= *p++;
        h *= 0x100000001b3UL;
    }
    return h;
}

int main(void)
{
    make_table();
    show_hex("table[1]", table[1]);
    show_hex("table[255]", table[255]);
    const char *check = "123456789";
    show_hex("crc32(\"123456789\") table", crc32_table((const u8 *)check, 9));
    show_hex("crc32(\"123456789\") bitwise", crc32_bitwise((const u8 *)check, 9));
    show_hex("adler32(\"123456789\")", adler32((const u8 *)check, 9));
    show_hex("fnv1a64(\"123456789\")", fnv1a64((const u8 *)check, 9));
    show_hex("crc32(\"\")", crc32_table((const u8 *)check, 0));

    rng_seed(4242);
    for (size_t i = 0; i < sizeof(data); i += 8) {
        u64 r = rng_next();
        memcpy(data + i, &r, 8);
    }
    show_hex("crc32(data) table", crc32_table(data, sizeof(data)));
    show_hex("crc32(data) bitwise", crc32_bitwise(data, 8192));
    show_hex("crc32(data[:8192]) table", crc32_table(data, 8192));
    show_hex("adler32(data)", adler32(data, sizeof(data)));
    show_hex("fnv1a64(data)", fnv1a64(data, sizeof(data)));
    /* crc of every prefix length 0..64 folded together */
    u32 fold = 0;
    for (size_t n = 0; n <= 64; n++)
        fold = (fold << 1 | fold >> 31) ^ crc32_table(data + 3, n);
    show_hex("prefix fold", fold);
    /* all-zero and all-ones buffers */
    memset(data, 0, 4096);
    show_hex("crc32(4096 x 00)", crc32_table(data, 4096));
    memset(data, 0xff, 4096);
    show_hex("crc32(4096 x ff)", crc32_table(data, 4096));
    return 0;
}
