/* String and memory functions from libc: strlen, strchr, strstr, strcmp, memcmp, memcpy,
 * memmove, memset, memchr, strcpy and strcat over generated text. */
#include <string.h>

#include "bench.h"

#define TEXT_SIZE (64 * 1024)
#define N_LINES 1024

static const char *const words[] = {
    "alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india",
    "juliett", "kilo", "lima", "mike", "november", "oscar", "papa", "quebec", "romeo",
    "sierra", "tango", "uniform", "victor", "whiskey", "xray", "yankee", "zulu",
    "translation", "block", "register", "dispatcher", "qemu", "riscv",
};
#define N_WORDS (sizeof words / sizeof words[0])

static char text[TEXT_SIZE + 64];
static char *lines[N_LINES];
static char scratch[TEXT_SIZE + 64];
static char joined[4096];

static const char *const needles[] = {
    "qemu riscv", "block register", "zulu alpha", "dispatcher translation", "kilo lima mike",
    "xray yankee zulu", "tango", "echo foxtrot golf hotel",
};
#define N_NEEDLES (sizeof needles / sizeof needles[0])

int main(int argc, char **argv)
{
    long rounds = bench_scale(argc, argv, 450);
    uint64_t state = 5, sum = 0;

    /* lines of random words, each terminated by a NUL inside one big buffer */
    size_t pos = 0;
    int n_lines = 0;
    while (n_lines < N_LINES && pos < TEXT_SIZE - 200) {
        lines[n_lines++] = text + pos;
        int n = 3 + (int)(rng_next(&state) % 12);
        for (int w = 0; w < n; w++) {
            const char *word = words[rng_next(&state) % N_WORDS];
            size_t len = strlen(word);
            memcpy(text + pos, word, len);
            pos += len;
            text[pos++] = w + 1 < n ? ' ' : '\0';
        }
    }

    for (long r = 0; r < rounds; r++) {
        for (int i = 0; i < n_lines; i++) {
            const char *line = lines[i];
            size_t len = strlen(line);
            sum += len;
            for (size_t k = 0; k < N_NEEDLES; k++) {
                const char *hit = strstr(line, needles[k]);
                if (hit)
                    sum += (uint64_t)(hit - line) * (k + 1);
            }
            const char *sp = strchr(line, ' ');
            sum += sp ? (uint64_t)(sp - line) : 0;
            const char *rq = strrchr(line, 'q');
            sum += rq ? (uint64_t)(rq - line) : 1;
            const void *z = memchr(line, 'z', len);
            sum += z ? 3 : 5;
            if (i > 0) {
                int c = strcmp(line, lines[i - 1]);
                sum += c < 0 ? 7 : c > 0 ? 11 : 13;
                size_t m = len < strlen(lines[i - 1]) ? len : strlen(lines[i - 1]);
                c = memcmp(line, lines[i - 1], m);
                sum += c < 0 ? 17 : c > 0 ? 19 : 23;
                sum += strncmp(line, lines[i - 1], 4) == 0;
            }
        }
        /* bulk moves: copy the text around at varying offsets */
        size_t off = (size_t)(r % 31);
        memcpy(scratch + off, text, pos);
        memmove(scratch + off + 17, scratch + off, pos - 64);
        sum += (uint64_t)memcmp(scratch + off + 17, text, pos - 64) == 0;
        memset(scratch, (int)(r & 0x7f), TEXT_SIZE / 2);
        sum += (uint8_t)scratch[TEXT_SIZE / 4 + off];
        /* string building */
        joined[0] = '\0';
        size_t jl = 0;
        for (int i = (int)(r % 50); i < n_lines && jl + 200 < sizeof joined; i += 37) {
            strcat(joined, lines[i]);
            jl = strlen(joined);
        }
        strcpy(scratch, joined);
        sum = sum * 1000003 + strlen(scratch);
    }
    printf("strings lines %d bytes %zu rounds %ld\n", n_lines, pos, rounds);
    bench_checksum("strings", sum);
    return 0;
}
