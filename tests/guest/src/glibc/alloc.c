/* malloc-heavy code: many mallocs / frees / reallocs of random sizes with
 * content checks, calloc zeroing, large (mmap'd) blocks and realloc growing
 * them (mremap), aligned allocation; a linked list (build, reverse, merge
 * sort, delete), an AVL tree (insert, delete, in-order walk, height), qsort
 * of ints / doubles / strings / structs and bsearch. Prints checksums only
 * (never addresses). */
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rng = 0x2545f4914f6cdd1dULL;
static uint64_t next(void)
{
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return rng * 0x2545f4914f6cdd1dULL;
}

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
    const unsigned char *c = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ c[i]) * 0x100000001b3ULL;
    return h;
}

/* --- random allocation churn ----------------------------------------- */
#define SLOTS 2000
static unsigned char *slot[SLOTS];
static size_t slot_len[SLOTS];

/* The first 256 bytes and every 61st byte after that carry a pattern that
 * depends only on the block id and the position (filling whole multi-KiB
 * blocks byte by byte would dominate the run time). */
static void fill(unsigned char *p, size_t n, size_t id)
{
    for (size_t i = 0; i < n; i = i < 256 ? i + 1 : i + 61)
        p[i] = (unsigned char)(id * 31 + i);
}

static int check(const unsigned char *p, size_t n, size_t id)
{
    for (size_t i = 0; i < n; i = i < 256 ? i + 1 : i + 61)
        if (p[i] != (unsigned char)(id * 31 + i))
            return 0;
    return 1;
}

static void churn(void)
{
    unsigned long ops[4] = {0}, bad = 0, total = 0;
    for (int round = 0; round < 12000; round++) {
        size_t i = next() % SLOTS;
        uint64_t r = next();
        if (!slot[i]) {
            size_t n = (r & 3) == 0 ? r % 20000 : r % 300;
            slot[i] = (r & 64) ? calloc(1, n + 1) : malloc(n + 1);
            if (r & 64) {
                for (size_t k = 0; k <= n; k++)
                    bad += slot[i][k] != 0;
            }
            slot_len[i] = n;
            fill(slot[i], n, i);
            ops[0]++;
        } else if (r & 1) {
            bad += !check(slot[i], slot_len[i], i);
            free(slot[i]);
            slot[i] = NULL;
            ops[1]++;
        } else {
            size_t n = (r >> 8) % ((r & 2) ? 50000 : 500);
            unsigned char *p = realloc(slot[i], n + 1);
            size_t keep = n < slot_len[i] ? n : slot_len[i];
            bad += !check(p, keep, i);
            slot[i] = p;
            slot_len[i] = n;
            fill(p, n, i);
            ops[2]++;
        }
        if ((round & 1023) == 0) {
            /* a batch of short-lived small blocks */
            void *tmp[64];
            for (int k = 0; k < 64; k++) {
                tmp[k] = malloc((size_t)k * 8 + 1);
                memset(tmp[k], k, (size_t)k * 8 + 1);
            }
            for (int k = 63; k >= 0; k -= 2)
                free(tmp[k]);
            for (int k = 0; k < 64; k += 2)
                free(tmp[k]);
            ops[3]++;
        }
    }
    for (size_t i = 0; i < SLOTS; i++) {
        if (slot[i]) {
            bad += !check(slot[i], slot_len[i], i);
            total += slot_len[i];
            free(slot[i]);
        }
    }
    printf("churn: %lu mallocs %lu frees %lu reallocs %lu batches, %lu bytes live at end, %lu bad\n",
           ops[0], ops[1], ops[2], ops[3], total, bad);
}

static void big_blocks(void)
{
    size_t n = 1 << 20;
    unsigned char *p = malloc(n);
    fill(p, n, 7);
    for (int step = 0; step < 3; step++) {
        n *= 2;
        p = realloc(p, n);
        int ok = check(p, n / 2, 7);
        fill(p, n, 7);
        printf("big realloc to %zu KiB: contents kept %d\n", n >> 10, ok);
    }
    p = realloc(p, 4096);
    printf("shrunk: contents kept %d\n", check(p, 4096, 7));
    free(p);
    int aligned_ok = 1;
    for (size_t al = 16; al <= 65536; al *= 4) {
        void *q = NULL;
        if (posix_memalign(&q, al, 1000) != 0 || ((uintptr_t)q & (al - 1)))
            aligned_ok = 0;
        free(q);
        q = aligned_alloc(al, al * 2);
        if (!q || ((uintptr_t)q & (al - 1)))
            aligned_ok = 0;
        free(q);
        q = memalign(al, 10);
        if (!q || ((uintptr_t)q & (al - 1)))
            aligned_ok = 0;
        free(q);
    }
    printf("aligned allocations ok %d\n", aligned_ok);
    void *z = malloc(0);
    printf("malloc(0) non-null %d\n", z != NULL);
    free(z);
    free(NULL);
    void *huge = malloc((size_t)1 << 62);
    printf("malloc(2^62) fails %d\n", huge == NULL);
}

/* --- linked list ------------------------------------------------------- */
struct node {
    struct node *next;
    long key;
    char name[12];
};

static struct node *merge(struct node *a, struct node *b)
{
    struct node head, *t = &head;
    while (a && b) {
        if (a->key <= b->key) {
            t->next = a;
            a = a->next;
        } else {
            t->next = b;
            b = b->next;
        }
        t = t->next;
    }
    t->next = a ? a : b;
    return head.next;
}

static struct node *msort(struct node *h)
{
    if (!h || !h->next)
        return h;
    struct node *slow = h, *fast = h->next;
    while (fast && fast->next) {
        slow = slow->next;
        fast = fast->next->next;
    }
    struct node *b = slow->next;
    slow->next = NULL;
    return merge(msort(h), msort(b));
}

static void list_test(void)
{
    struct node *head = NULL;
    for (int i = 0; i < 8000; i++) {
        struct node *n = malloc(sizeof(*n));
        n->key = (long)(next() % 100000) - 50000;
        snprintf(n->name, sizeof(n->name), "n%d", i);
        n->next = head;
        head = n;
    }
    struct node *prev = NULL;
    while (head) {
        struct node *nx = head->next;
        head->next = prev;
        prev = head;
        head = nx;
    }
    head = msort(prev);
    long count = 0, sorted = 1, sum = 0;
    uint64_t h = 14695981039346656037ULL;
    for (struct node *n = head; n; n = n->next) {
        count++;
        sum += n->key;
        h = fnv(h, n->name, strlen(n->name));
        if (n->next && n->next->key < n->key)
            sorted = 0;
    }
    /* delete every node with an odd key */
    struct node **pp = &head;
    long removed = 0;
    while (*pp) {
        if ((*pp)->key & 1) {
            struct node *d = *pp;
            *pp = d->next;
            free(d);
            removed++;
        } else {
            pp = &(*pp)->next;
        }
    }
    long left = 0;
    while (head) {
        struct node *nx = head->next;
        free(head);
        head = nx;
        left++;
    }
    printf("list: %ld nodes sorted %ld sum %ld names %016llx removed %ld left %ld\n", count,
           sorted, sum, (unsigned long long)h, removed, left);
}

/* --- AVL tree ---------------------------------------------------------- */
struct avl {
    struct avl *l, *r;
    long key;
    int h;
    char *payload;
};

static int ht(struct avl *t) { return t ? t->h : 0; }
static void upd(struct avl *t) { t->h = 1 + (ht(t->l) > ht(t->r) ? ht(t->l) : ht(t->r)); }

static struct avl *rot_r(struct avl *t)
{
    struct avl *l = t->l;
    t->l = l->r;
    l->r = t;
    upd(t);
    upd(l);
    return l;
}

static struct avl *rot_l(struct avl *t)
{
    struct avl *r = t->r;
    t->r = r->l;
    r->l = t;
    upd(t);
    upd(r);
    return r;
}

static struct avl *balance(struct avl *t)
{
    upd(t);
    int b = ht(t->l) - ht(t->r);
    if (b > 1) {
        if (ht(t->l->l) < ht(t->l->r))
            t->l = rot_l(t->l);
        return rot_r(t);
    }
    if (b < -1) {
        if (ht(t->r->r) < ht(t->r->l))
            t->r = rot_r(t->r);
        return rot_l(t);
    }
    return t;
}

static struct avl *insert(struct avl *t, long key, int *added)
{
    if (!t) {
        t = calloc(1, sizeof(*t));
        t->key = key;
        t->h = 1;
        t->payload = malloc(1 + (size_t)(key & 63));
        memset(t->payload, 'a' + (int)(key % 26), (size_t)(key & 63));
        t->payload[key & 63] = 0;
        *added = 1;
        return t;
    }
    if (key < t->key)
        t->l = insert(t->l, key, added);
    else if (key > t->key)
        t->r = insert(t->r, key, added);
    return balance(t);
}

static struct avl *remove_min(struct avl *t, struct avl **min)
{
    if (!t->l) {
        *min = t;
        return t->r;
    }
    t->l = remove_min(t->l, min);
    return balance(t);
}

static struct avl *erase(struct avl *t, long key, int *removed)
{
    if (!t)
        return NULL;
    if (key < t->key) {
        t->l = erase(t->l, key, removed);
    } else if (key > t->key) {
        t->r = erase(t->r, key, removed);
    } else {
        struct avl *l = t->l, *r = t->r;
        free(t->payload);
        free(t);
        *removed = 1;
        if (!r)
            return l;
        struct avl *m;
        r = remove_min(r, &m);
        m->l = l;
        m->r = r;
        return balance(m);
    }
    return balance(t);
}

static void walk(struct avl *t, long *count, uint64_t *h, long *prev, int *ordered)
{
    if (!t)
        return;
    walk(t->l, count, h, prev, ordered);
    if (t->key <= *prev)
        *ordered = 0;
    *prev = t->key;
    (*count)++;
    *h = fnv(*h, &t->key, sizeof(t->key));
    *h = fnv(*h, t->payload, strlen(t->payload));
    walk(t->r, count, h, prev, ordered);
}

static void destroy(struct avl *t)
{
    if (!t)
        return;
    destroy(t->l);
    destroy(t->r);
    free(t->payload);
    free(t);
}

static void tree_test(void)
{
    struct avl *root = NULL;
    long added = 0, removed = 0;
    for (int i = 0; i < 12000; i++) {
        int a = 0;
        root = insert(root, (long)(next() % 20000), &a);
        added += a;
    }
    for (int i = 0; i < 8000; i++) {
        int r = 0;
        root = erase(root, (long)(next() % 20000), &r);
        removed += r;
    }
    long count = 0, prev = -1;
    int ordered = 1;
    uint64_t h = 14695981039346656037ULL;
    walk(root, &count, &h, &prev, &ordered);
    printf("avl: added %ld removed %ld count %ld height %d ordered %d hash %016llx\n", added,
           removed, count, ht(root), ordered, (unsigned long long)h);
    destroy(root);
}

/* --- qsort / bsearch --------------------------------------------------- */
static int cmp_int(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

static int cmp_dbl(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

struct rec {
    int major;
    unsigned minor;
    char tag[20];
};

static int cmp_rec(const void *a, const void *b)
{
    const struct rec *x = a, *y = b;
    if (x->major != y->major)
        return x->major < y->major ? -1 : 1;
    return (x->minor > y->minor) - (x->minor < y->minor);
}

static void sort_test(void)
{
    enum { NI = 20000, NS = 2000, NR = 3000 };
    int *iv = malloc(NI * sizeof(int));
    for (int i = 0; i < NI; i++)
        iv[i] = (int)(next() % 2000001) - 1000000;
    qsort(iv, NI, sizeof(int), cmp_int);
    int ok = 1;
    uint64_t h = 14695981039346656037ULL;
    for (int i = 1; i < NI; i++)
        ok &= iv[i - 1] <= iv[i];
    h = fnv(h, iv, NI * sizeof(int));
    int found = 0;
    for (int k = -1000000; k <= 1000000; k += 397)
        found += bsearch(&k, iv, NI, sizeof(int), cmp_int) != NULL;
    printf("qsort ints: sorted %d min %d max %d median %d hash %016llx bsearch hits %d\n", ok,
           iv[0], iv[NI - 1], iv[NI / 2], (unsigned long long)h, found);
    free(iv);

    double *dv = malloc(NI * sizeof(double));
    for (int i = 0; i < NI; i++)
        dv[i] = (double)(int64_t)next() / 3.0;
    qsort(dv, NI, sizeof(double), cmp_dbl);
    ok = 1;
    for (int i = 1; i < NI; i++)
        ok &= dv[i - 1] <= dv[i];
    printf("qsort doubles: sorted %d first %a last %a\n", ok, dv[0], dv[NI - 1]);
    free(dv);

    char **sv = malloc(NS * sizeof(char *));
    for (int i = 0; i < NS; i++) {
        char buf[32];
        int len = 1 + (int)(next() % 12);
        for (int c = 0; c < len; c++)
            buf[c] = (char)('a' + next() % 26);
        buf[len] = 0;
        sv[i] = strdup(buf);
    }
    qsort(sv, NS, sizeof(char *), cmp_str);
    ok = 1;
    h = 14695981039346656037ULL;
    for (int i = 0; i < NS; i++) {
        if (i)
            ok &= strcmp(sv[i - 1], sv[i]) <= 0;
        h = fnv(h, sv[i], strlen(sv[i]) + 1);
    }
    printf("qsort strings: sorted %d first %s last %s hash %016llx\n", ok, sv[0], sv[NS - 1],
           (unsigned long long)h);
    for (int i = 0; i < NS; i++)
        free(sv[i]);
    free(sv);

    struct rec *rv = malloc(NR * sizeof(struct rec));
    for (int i = 0; i < NR; i++) {
        rv[i].major = (int)(next() % 50);
        rv[i].minor = (unsigned)i;
        snprintf(rv[i].tag, sizeof(rv[i].tag), "r%d.%d", rv[i].major, i);
    }
    qsort(rv, NR, sizeof(struct rec), cmp_rec);
    ok = 1;
    h = 14695981039346656037ULL;
    for (int i = 0; i < NR; i++) {
        if (i)
            ok &= cmp_rec(&rv[i - 1], &rv[i]) < 0;
        h = fnv(h, rv[i].tag, strlen(rv[i].tag));
    }
    printf("qsort structs: sorted %d first %s last %s hash %016llx\n", ok, rv[0].tag,
           rv[NR - 1].tag, (unsigned long long)h);
    free(rv);
    int small[] = {5, 3, 9, 1, 7, 3, 0, -2};
    qsort(small, 8, sizeof(int), cmp_int);
    printf("small:");
    for (int i = 0; i < 8; i++)
        printf(" %d", small[i]);
    printf("\n");
}

int main(void)
{
    churn();
    big_blocks();
    list_test();
    tree_test();
    sort_test();
    return 0;
}
