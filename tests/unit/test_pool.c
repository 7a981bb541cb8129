/* test_pool.c: the nodes' memory (pool.c). Objects of every size never
 * overlap, however allocations and frees interleave; a freed object is
 * reused by the next one of its size; sizes past the widest node are
 * refused; and the last free gives every block back. Under ASan, a read of
 * a freed object would be reported here. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "internal.h"

enum { OBJECTS = 30000 };

struct held {
    unsigned char *p;
    size_t bytes;
    unsigned char fill;
};

static size_t size_for(unsigned i)
{
    return 26 + (i * 2654435761u) % (IW_POOL_MAX - 26 + 1); /* 26 to IW_POOL_MAX */
}

/* Every live object still holds its own fill: none was handed out twice. */
static int all_intact(const struct held *h, size_t n)
{
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; h[i].p && k < h[i].bytes; k++)
            if (h[i].p[k] != h[i].fill)
                return 0;
    return 1;
}

static void take(struct iw_pool *p, struct held *h, unsigned i)
{
    h->bytes = size_for(i);
    h->fill = (unsigned char)(i * 31 + 7);
    h->p = iw_pool_alloc(p, h->bytes);
    if (h->p)
        memset(h->p, h->fill, h->bytes);
}

static void test_no_overlap_under_churn(struct iw_check *t)
{
    struct iw_pool p = {0};
    struct held *h = calloc(OBJECTS, sizeof(*h));
    for (unsigned i = 0; i < OBJECTS; i++) {
        take(&p, &h[i], i);
        CHECK(h[i].p != NULL);
        CHECK_EQ((uintptr_t)h[i].p % 8, 0); /* a node holds a uint64_t */
    }
    /* Free every third object, scattered, then allocate as many again of
     * other sizes: freed ones are reused, live ones left alone. */
    for (unsigned k = 0; k < OBJECTS; k++) {
        unsigned i = (unsigned)(((uint64_t)k * 7919) % OBJECTS);
        if (i % 3 == 0) {
            iw_pool_free(&p, h[i].p, h[i].bytes);
            h[i].p = NULL;
        }
    }
    CHECK_EQ(p.live, OBJECTS - (OBJECTS + 2) / 3);
    for (unsigned i = 0; i < OBJECTS; i += 3)
        take(&p, &h[i], i + 1);
    CHECK(all_intact(h, OBJECTS));
    CHECK_EQ(p.live, OBJECTS);
    for (unsigned i = 0; i < OBJECTS; i++)
        iw_pool_free(&p, h[i].p, h[i].bytes);
    CHECK_EQ(p.live, 0);
    CHECK_EQ(p.held, 0);
    CHECK(p.blocks == NULL);
    free(h);
}

static void test_reuse_by_size(struct iw_check *t)
{
    struct iw_pool p = {0};
    void *keep = iw_pool_alloc(&p, 40); /* keeps the blocks alive */
    void *a = iw_pool_alloc(&p, 37);
    iw_pool_free(&p, a, 37);
    /* 33 to 40 bytes share a class: the freed object comes back. */
    CHECK(iw_pool_alloc(&p, 33) == a);
    void *b = iw_pool_alloc(&p, 41); /* the next class: fresh memory */
    CHECK(b != a && b != keep);
    CHECK(iw_pool_alloc(&p, IW_POOL_MAX + 1) == NULL);
    CHECK_EQ(p.live, 3);
    iw_pool_free(&p, b, 41);
    iw_pool_free(&p, a, 33);
    CHECK(p.held > 0);
    iw_pool_free(&p, keep, 40);
    CHECK_EQ(p.held, 0);
}

/* Blocks grow, so that a big tree costs a few hundred mallocs, not one per
 * 4 KiB; what a watcher of one small directory holds stays small. */
static void test_blocks_grow(struct iw_check *t)
{
    struct iw_pool p = {0};
    void *first = iw_pool_alloc(&p, 64);
    CHECK(p.held <= 4096);
    enum { MANY = 100000 };
    void **v = malloc(MANY * sizeof(*v));
    for (int i = 0; i < MANY; i++)
        v[i] = iw_pool_alloc(&p, 64);
    size_t payload = (size_t)(MANY + 1) * 64;
    CHECK(p.held >= payload);
    CHECK(p.held < payload + payload / 8); /* slack: the block being cut */
    for (int i = 0; i < MANY; i++)
        iw_pool_free(&p, v[i], 64);
    iw_pool_free(&p, first, 64);
    CHECK_EQ(p.held, 0);
    free(v);
}

int main(void)
{
    struct iw_check t = {0};
    test_no_overlap_under_churn(&t);
    test_reuse_by_size(&t);
    test_blocks_grow(&t);
    return iw_check_done(&t, "pool");
}
