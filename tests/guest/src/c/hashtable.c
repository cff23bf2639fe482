/* An open-addressing hash table (linear probing, tombstones) and a chained
 * hash table over a static node pool: inserts, lookups, deletes, checksums. */
#include "rt.h"

#define CAP 4096
#define EMPTY 0UL
#define TOMB 1UL

static u64 keys[CAP];
static u64 values[CAP];
static long used;

static u64 hash64(u64 x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdUL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53UL;
    x ^= x >> 33;
    return x;
}

static int oa_insert(u64 key, u64 value)
{
    u64 i = hash64(key) & (CAP - 1);
    long first_tomb = -1;
    for (;;) {
        if (keys[i] == EMPTY) {
            if (first_tomb >= 0)
                i = (u64)first_tomb;
            keys[i] = key;
            values[i] = value;
            used++;
            return 1;
        }
        if (keys[i] == TOMB) {
            if (first_tomb < 0)
                first_tomb = (long)i;
        } else if (keys[i] == key) {
            values[i] = value;
            return 0;
        }
        i = (i + 1) & (CAP - 1);
    }
}

static u64 *oa_find(u64 key)
{
    u64 i = hash64(key) & (CAP - 1);
    while (keys[i] != EMPTY) {
        if (keys[i] == key)
            return &values[i];
        i = (i + 1) & (CAP - 1);
    }
    return NULL;
}

static int oa_delete(u64 key)
{
    u64 i = hash64(key) & (CAP - 1);
    while (keys[i] != EMPTY) {
        if (keys[i] == key) {
            keys[i] = TOMB;
            used--;
            return 1;
        }
        i = (i + 1) & (CAP - 1);
    }
    return 0;
}

struct node {
    struct node *next;
    const char *word;
    u32 count;
};

#define NBUCKETS 64
static struct node pool[512];
static int pool_used;
static struct node *buckets[NBUCKETS];

static u32 str_hash(const char *s)
{
    u32 h = 5381;
    while (*s)
        h = h * 33 + (u8)*s++;
    return h;
}

static int str_eq(const char *a, const char *b)
{
    while (*a && *a == *b) {
        a++;
        b++;
    }
    return *a == *b;
}

static void count_word(const char *w)
{
    u32 b = str_hash(w) % NBUCKETS;
    for (struct node *n = buckets[b]; n; n = n->next) {
        if (str_eq(n->word, w)) {
            n->count++;
            return;
        }
    }
    struct node *n = &pool[pool_used++];
    n->word = w;
    n->count = 1;
    n->next = buckets[b];
    buckets[b] = n;
}

static const char *words[] = {
    "the", "quick", "brown", "fox", "jumps", "over", "the", "lazy", "dog",
    "and", "the", "dog", "sleeps", "while", "the", "fox", "runs", "away",
    "quick", "quick", "slow", "a", "b", "c", "a", "b", "a",
};

int main(void)
{
    rng_seed(2024);
    u64 inserted_sum = 0;
    int new_keys = 0;
    for (int i = 0; i < 3000; i++) {
        u64 k = (rng_next() % 5000) + 2;
        u64 v = k * 7 + (u64)i;
        new_keys += oa_insert(k, v);
        inserted_sum += k;
    }
    show_dec("distinct keys inserted", new_keys);
    show_dec("table used", used);
    int hits = 0;
    u64 vsum = 0;
    for (u64 k = 2; k < 5002; k++) {
        u64 *v = oa_find(k);
        if (v) {
            hits++;
            vsum += *v;
        }
    }
    show_dec("lookup hits", hits);
    show_hex("value sum", vsum);
    int deleted = 0;
    for (u64 k = 2; k < 5002; k += 3)
        deleted += oa_delete(k);
    show_dec("deleted", deleted);
    show_dec("table used after delete", used);
    int reinserted = 0;
    for (u64 k = 2; k < 5002; k += 6)
        reinserted += oa_insert(k, k);
    show_dec("reinserted", reinserted);
    hits = 0;
    vsum = 0;
    for (u64 k = 0; k < 6000; k++) {
        u64 *v = oa_find(k);
        if (v) {
            hits++;
            vsum = vsum * 3 + *v;
        }
    }
    show_dec("final hits", hits);
    show_hex("final checksum", vsum);
    u64 slots = 0;
    for (int i = 0; i < CAP; i++)
        slots = slots * 5 + (keys[i] == TOMB ? 1 : keys[i] == EMPTY ? 2 : 3);
    show_hex("slot-state hash", slots);

    for (u32 i = 0; i < ARRAY_SIZE(words); i++)
        count_word(words[i]);
    show_dec("distinct words", pool_used);
    for (int b = 0; b < NBUCKETS; b++) {
        for (struct node *n = buckets[b]; n; n = n->next) {
            if (n->count > 1) {
                put_str("  ");
                put_str(n->word);
                put_char(' ');
                put_udec(n->count);
                put_nl();
            }
        }
    }
    return 0;
}
