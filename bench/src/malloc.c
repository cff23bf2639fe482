/* malloc-heavy data structures: binary trees (allocate, walk, free) and a chained hash map with
 * malloc'd nodes and keys, many inserts, lookups, deletions and reallocs of its bucket array. */
#include <string.h>

#include "bench.h"

typedef struct tree {
    struct tree *left, *right;
} tree_t;

static tree_t *tree_make(int depth)
{
    tree_t *t = malloc(sizeof *t);
    if (!t)
        exit(2);
    if (depth > 0) {
        t->left = tree_make(depth - 1);
        t->right = tree_make(depth - 1);
    } else {
        t->left = t->right = NULL;
    }
    return t;
}

static uint64_t tree_check(const tree_t *t)
{
    return 1 + (t->left ? tree_check(t->left) + tree_check(t->right) : 0);
}

static void tree_free(tree_t *t)
{
    if (t->left) {
        tree_free(t->left);
        tree_free(t->right);
    }
    free(t);
}

typedef struct node {
    struct node *next;
    uint64_t hash;
    uint64_t value;
    char *key;
} node_t;

typedef struct {
    node_t **buckets;
    size_t n_buckets, count;
} map_t;

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ULL;   /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 1099511628211ULL;
    return h;
}

static void map_grow(map_t *m)
{
    size_t nb = m->n_buckets ? m->n_buckets * 2 : 16;
    node_t **b = calloc(nb, sizeof *b);
    if (!b)
        exit(2);
    for (size_t i = 0; i < m->n_buckets; i++) {
        node_t *n = m->buckets[i];
        while (n) {
            node_t *next = n->next;
            n->next = b[n->hash & (nb - 1)];
            b[n->hash & (nb - 1)] = n;
            n = next;
        }
    }
    free(m->buckets);
    m->buckets = b;
    m->n_buckets = nb;
}

static node_t **map_find(map_t *m, const char *key, uint64_t h)
{
    node_t **p = &m->buckets[h & (m->n_buckets - 1)];
    while (*p && ((*p)->hash != h || strcmp((*p)->key, key) != 0))
        p = &(*p)->next;
    return p;
}

static void map_put(map_t *m, const char *key, uint64_t value)
{
    if (m->count * 4 >= m->n_buckets * 3)
        map_grow(m);
    uint64_t h = hash_str(key);
    node_t **p = map_find(m, key, h);
    if (*p) {
        (*p)->value += value;
        return;
    }
    node_t *n = malloc(sizeof *n);
    size_t len = strlen(key);
    char *copy = malloc(len + 1);
    if (!n || !copy)
        exit(2);
    n->key = copy;
    memcpy(n->key, key, len + 1);
    n->hash = h;
    n->value = value;
    n->next = NULL;
    *p = n;
    m->count++;
}

static int map_del(map_t *m, const char *key)
{
    node_t **p = map_find(m, key, hash_str(key));
    if (!*p)
        return 0;
    node_t *n = *p;
    *p = n->next;
    free(n->key);
    free(n);
    m->count--;
    return 1;
}

static void map_free(map_t *m)
{
    for (size_t i = 0; i < m->n_buckets; i++) {
        node_t *n = m->buckets[i];
        while (n) {
            node_t *next = n->next;
            free(n->key);
            free(n);
            n = next;
        }
    }
    free(m->buckets);
    m->buckets = NULL;
    m->n_buckets = m->count = 0;
}

static void make_key(char *out, uint64_t v)
{
    /* "k" + variable-length base-26 digits: keys of 2-14 characters */
    int n = 1 + (int)(v % 13);
    out[0] = 'k';
    v /= 13;
    for (int i = 1; i <= n; i++) {
        out[i] = (char)('a' + v % 26);
        v = v / 26 + (uint64_t)i * 7;
    }
    out[n + 1] = '\0';
}

int main(int argc, char **argv)
{
    long scale = bench_scale(argc, argv, 8);
    uint64_t sum = 0, state = 13;
    char key[32];

    for (long r = 0; r < scale; r++) {
        for (int depth = 4; depth <= 14; depth += 2) {
            int iterations = 1 << (16 - depth);
            for (int i = 0; i < iterations; i++) {
                tree_t *t = tree_make(depth);
                sum += tree_check(t);
                tree_free(t);
            }
        }

        map_t m = {NULL, 0, 0};
        for (int i = 0; i < 20000; i++) {
            make_key(key, rng_next(&state) % 50000);
            map_put(&m, key, (uint64_t)i);
            if (i % 3 == 0) {
                make_key(key, rng_next(&state) % 50000);
                sum += (uint64_t)map_del(&m, key);
            }
        }
        uint64_t total = 0;
        for (size_t i = 0; i < m.n_buckets; i++)
            for (node_t *n = m.buckets[i]; n; n = n->next)
                total += n->value ^ n->hash;
        sum = sum * 1000003 + total + m.count;
        map_free(&m);
    }
    printf("malloc rounds %ld\n", scale);
    bench_checksum("malloc", sum);
    return 0;
}
