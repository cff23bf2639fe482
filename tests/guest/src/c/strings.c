/* String routines written out in C: length, compare, copy, concatenate,
 * search, reverse, integer <-> text conversions, case mapping, word counts,
 * overlapping memmove. */
#include "rt.h"

static int my_strcmp(const char *a, const char *b)
{
    while (*a && *a == *b) {
        a++;
        b++;
    }
    return (int)(u8)*a - (int)(u8)*b;
}

static char *my_strcpy(char *d, const char *s)
{
    char *r = d;
    while ((*d++ = *s++))
        ;
    return r;
}

static char *my_strcat(char *d, const char *s)
{
    my_strcpy(d + strlen(d), s);
    return d;
}

static const char *my_strchr(const char *s, int c)
{
    for (; *s; s++)
        if (*s == (char)c)
            return s;
    return c ? NULL : s;
}

static const char *my_strstr(const char *h, const char *n)
{
    size_t ln = strlen(n);
    for (; *h; h++)
        if (memcmp(h, n, ln) == 0)
            return h;
    return ln ? NULL : h;
}

static void reverse(char *s)
{
    size_t n = strlen(s);
    for (size_t i = 0; i < n / 2; i++) {
        char t = s[i];
        s[i] = s[n - 1 - i];
        s[n - 1 - i] = t;
    }
}

static char *to_base(i64 v, int base, char *buf)
{
    static const char dig[] = "0123456789abcdefghijklmnopqrstuvwxyz";
    u64 u = v < 0 ? -(u64)v : (u64)v;
    int n = 0;
    do {
        buf[n++] = dig[u % (u64)base];
        u /= (u64)base;
    } while (u);
    if (v < 0)
        buf[n++] = '-';
    buf[n] = 0;
    reverse(buf);
    return buf;
}

static i64 parse_int(const char *s)
{
    int neg = 0;
    u64 v = 0;
    while (*s == ' ')
        s++;
    if (*s == '-' || *s == '+')
        neg = *s++ == '-';
    while (*s >= '0' && *s <= '9')
        v = v * 10 + (u64)(*s++ - '0');
    return neg ? -(i64)v : (i64)v;
}

static void upper(char *s)
{
    for (; *s; s++)
        if (*s >= 'a' && *s <= 'z')
            *s -= 32;
}

static const char text[] =
    "It was the best of times, it was the worst of times, it was the age of "
    "wisdom, it was the age of foolishness, it was the epoch of belief, it was "
    "the epoch of incredulity, it was the season of Light, it was the season of "
    "Darkness.";

int main(void)
{
    char buf[256], num[80];
    show_dec("strlen(text)", (i64)strlen(text));
    show_dec("cmp abc abd", my_strcmp("abc", "abd"));
    show_dec("cmp abd abc", my_strcmp("abd", "abc"));
    show_dec("cmp ab abc", my_strcmp("ab", "abc") < 0);
    show_dec("cmp equal", my_strcmp("same", "same"));
    show_dec("cmp high byte", my_strcmp("\xff", "\x01") > 0);
    my_strcpy(buf, "Hello");
    my_strcat(buf, ", ");
    my_strcat(buf, "world");
    my_strcat(buf, "!");
    put_str(buf);
    put_nl();
    show_dec("strchr 'w' at", my_strchr(buf, 'w') - buf);
    show_dec("strchr 'z' found", my_strchr(buf, 'z') != NULL);
    show_dec("strstr \"age of\" at", my_strstr(text, "age of") - text);
    show_dec("strstr \"epoch\" at", my_strstr(text, "epoch") - text);
    show_dec("strstr \"nothing\" found", my_strstr(text, "nothing") != NULL);
    reverse(buf);
    put_str(buf);
    put_nl();
    upper(buf);
    put_str(buf);
    put_nl();

    static const i64 nums[] = {0, 7, -7, 255, -256, 1000000007, INT64_MAX, INT64_MIN, INT32_MIN};
    for (u32 i = 0; i < ARRAY_SIZE(nums); i++) {
        put_str(to_base(nums[i], 10, num));
        put_char(' ');
        put_str(to_base(nums[i], 16, num));
        put_char(' ');
        put_str(to_base(nums[i], 2, num));
        put_char(' ');
        put_str(to_base(nums[i], 36, num));
        to_base(nums[i], 10, num);
        put_str(parse_int(num) == nums[i] ? " roundtrip-ok" : " roundtrip-FAIL");
        put_nl();
    }
    show_dec("parse \"  -12345xyz\"", parse_int("  -12345xyz"));
    show_dec("parse \"+42\"", parse_int("+42"));

    /* words, letters and the most frequent letter */
    int words = 0, in_word = 0, freq[26] = {0};
    for (const char *p = text; *p; p++) {
        char ch = *p;
        int letter = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z');
        if (letter) {
            freq[(ch | 32) - 'a']++;
            if (!in_word)
                words++;
        }
        in_word = letter;
    }
    int best = 0;
    for (int i = 1; i < 26; i++)
        if (freq[i] > freq[best])
            best = i;
    show_dec("words", words);
    put_str("most frequent letter ");
    put_char((char)('a' + best));
    put_char(' ');
    put_udec((u64)freq[best]);
    put_nl();

    /* overlapping memmove both ways */
    my_strcpy(buf, "0123456789abcdef");
    memmove(buf + 3, buf, 10);
    put_str(buf);
    put_nl();
    my_strcpy(buf, "0123456789abcdef");
    memmove(buf, buf + 5, 11);
    put_str(buf);
    put_nl();
    memset(buf, 'x', 7);
    buf[7] = 0;
    put_str(buf);
    put_nl();
    return 0;
}
