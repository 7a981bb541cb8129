/* pool.c: the memory of the model's nodes (and of its small child tables,
 * tree.c's table_alloc).
 *
 * A watcher holds a node per entry of its trees (85,000 for a kernel
 * tree), each 32 to 320 bytes, and a subtree that goes frees all of its
 * nodes at once. With malloc, an rm -rf of the kernel tree spent more of
 * the watcher's user time in the allocator than anywhere else: each free
 * put the node in a fast bin, and the next large allocation merged every
 * one of them with its neighbours (malloc_consolidate), reading all the
 * freed memory a second time, cold by then. Here nodes are cut in turn
 * from large blocks, and a freed node goes onto a list of the nodes of its
 * size (in steps of 8 bytes), where the next node of that size is taken
 * from: a free is two stores into memory the caller has just read. Nodes
 * cut in turn lie in the order the scan made them, as with malloc.
 *
 * Memory is kept for reuse: a model that shrinks holds its blocks until
 * nothing in them is in use (then they all go) or the watcher is freed.
 * A root's table usually lives here, so in practice a watcher keeps the
 * memory of its largest model, as malloc mostly does (it gives back only
 * what is free at the top of its heap).
 *
 * Under AddressSanitizer a freed node is poisoned, so that a use after
 * free is caught here as it would be with malloc. */
#include <stdint.h>
#include <stdlib.h>

#include "internal.h"

#define poison(p, n) iw_poison((p), (n))
#define unpoison(p, n) iw_unpoison((p), (n))

/* Blocks grow from 4 KiB (a watcher of one small directory) to 256 KiB
 * (a few hundred per kernel tree), each starting with the link to the
 * block before it. */
#define IW_POOL_FIRST_BLOCK 4096u
#define IW_POOL_LAST_BLOCK (256u * 1024u)

struct iw_pool_block {
    struct iw_pool_block *prev;
    /* 8 bytes, so that the nodes after it are 8-aligned, as the node's
     * uint64_t needs. */
};

size_t iw_pool_size(size_t bytes)
{
    return (bytes + IW_POOL_GRAIN - 1) & ~(size_t)(IW_POOL_GRAIN - 1);
}

static size_t class_of(size_t size)
{
    return size / IW_POOL_GRAIN - 1;
}

static int new_block(struct iw_pool *p)
{
    size_t bytes = p->block_bytes ? p->block_bytes * 2 : IW_POOL_FIRST_BLOCK;
    if (bytes > IW_POOL_LAST_BLOCK)
        bytes = IW_POOL_LAST_BLOCK;
    struct iw_pool_block *b = malloc(bytes);
    if (!b)
        return -1;
    b->prev = p->blocks;
    p->blocks = b;
    p->block_bytes = bytes;
    p->held += bytes;
    /* What is left of the block before is lost until the pool is emptied:
     * less than the largest node. */
    p->next = (char *)(b + 1);
    p->left = bytes - sizeof(*b);
    poison(p->next, p->left);
    return 0;
}

int iw_pool_has_free(const struct iw_pool *p, size_t bytes)
{
    size_t size = iw_pool_size(bytes);
    return size > IW_POOL_MAX || p->free[class_of(size)] != NULL;
}

void *iw_pool_alloc(struct iw_pool *p, size_t bytes)
{
    size_t size = iw_pool_size(bytes);
    if (size > IW_POOL_MAX)
        return NULL;
    void **head = &p->free[class_of(size)];
    void *obj = *head;
    if (obj) {
        unpoison(obj, size);
        *head = *(void **)obj;
    } else {
        if (p->left < size && new_block(p) < 0)
            return NULL;
        obj = p->next;
        unpoison(obj, size);
        p->next += size;
        p->left -= size;
    }
    p->live++;
    return obj;
}

void iw_pool_free(struct iw_pool *p, void *obj, size_t bytes)
{
    size_t size = iw_pool_size(bytes);
    void **head = &p->free[class_of(size)];
    *(void **)obj = *head;
    *head = obj;
    poison(obj, size);
    if (--p->live == 0)
        iw_pool_release(p); /* nothing points into the blocks any more */
}

void iw_pool_release(struct iw_pool *p)
{
    for (struct iw_pool_block *b = p->blocks; b;) {
        struct iw_pool_block *prev = b->prev;
        free(b);
        b = prev;
    }
    *p = (struct iw_pool){0};
}
