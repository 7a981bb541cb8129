/* graveyard.c: the file nodes of removed directories, set aside unread.
 *
 * Freeing a node writes the pool's free-list link into it: when a subtree
 * goes, that is a cache miss per file, its node cold since the scan made
 * it, and in an rm -rf of the kernel tree it was 40% of the watcher's own
 * CPU. A directory without subdirectories (three in four of that tree's
 * files are in one) holds file nodes alone, which nothing else points at
 * once the verify list does not: its child table is set aside whole, and
 * none of its nodes is read. iw_pool_take digs buried nodes out when the pool
 * has no free one of the size it needs, each read then, just before a new
 * node is written (the allocation would miss on it anyway). Memory the
 * model does not need again is never read again: it goes with the pool,
 * when the watcher is freed or its model empties. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* How many buried nodes one allocation moves to the pool's free lists at
 * most while looking for one of its size: a bound on its latency; the
 * nodes of other sizes it meets are free for the allocations after it. */
#define IW_DIG_BUDGET 16

/* Whether a verify-list node is a child of d. The list is short (its
 * nodes are checked and dropped at the end of each batch); when it is not,
 * iw_bury_files does not walk it per directory and frees as before. */
static int verify_holds_child_of(const inowatch *w, const struct iw_dir *d)
{
    for (size_t i = 0; i < w->verify.count; i++)
        if (w->verify.items[i]->parent == d)
            return 1;
    return 0;
}

static int table_is_malloced(uint32_t cap)
{
    return (size_t)cap * sizeof(struct iw_node *) > IW_POOL_MAX;
}

/* Sets d's children aside if they can all go unread (then d is left with
 * no table). */
void iw_bury_files(inowatch *w, struct iw_dir *d)
{
    struct iw_graveyard *g = &w->grave;
    if (d->subdirs || !d->count || w->verify.count > 64 || verify_holds_child_of(w, d) ||
        iw_grow(&g->items, &g->cap, g->count + 1, sizeof(*g->items)) < 0)
        return;
#ifdef IW_ASAN
    for (uint32_t i = 0; i < d->cap; i++)
        if (d->slots[i])
            iw_poison(d->slots[i], iw_node_size(d->slots[i]));
#endif
    g->items[g->count++] = (struct iw_grave){.slots = d->slots, .cap = d->cap, .next = 0};
    g->nodes += d->count + !table_is_malloced(d->cap);
    w->stats.files -= d->count;
    d->slots = NULL;
    d->cap = d->count = 0;
}

/* Gives buried nodes back to the pool until one has the size class of
 * `bytes`, or the budget is spent. */
static void dig(inowatch *w, size_t bytes)
{
    struct iw_graveyard *g = &w->grave;
    size_t want = iw_pool_size(bytes);
    for (int budget = IW_DIG_BUDGET; budget > 0 && g->count > 0;) {
        struct iw_grave *gr = &g->items[g->count - 1];
        while (gr->next < gr->cap && !gr->slots[gr->next])
            gr->next++;
        if (gr->next == gr->cap) {
            struct iw_node **t = gr->slots;
            uint32_t cap = gr->cap;
            g->count--;
            g->nodes -= !table_is_malloced(cap);
            iw_table_free(w, t, cap);
            continue;
        }
        struct iw_node *n = gr->slots[gr->next++];
        iw_unpoison(n, sizeof(*n));
        size_t size = iw_pool_size(iw_node_size(n));
        g->nodes--;
        iw_pool_free(&w->nodes, n, size);
        budget--;
        if (size == want)
            return;
    }
}

void *iw_pool_take(inowatch *w, size_t bytes)
{
    if (w->grave.count && !iw_pool_has_free(&w->nodes, bytes))
        dig(w, bytes);
    return iw_pool_alloc(&w->nodes, bytes);
}

/* Forgets every grave (their pool memory goes with the pool). */
void iw_graveyard_free(inowatch *w)
{
    struct iw_graveyard *g = &w->grave;
    for (size_t i = 0; i < g->count; i++)
        if (table_is_malloced(g->items[i].cap))
            iw_table_free(w, g->items[i].slots, g->items[i].cap);
    free(g->items);
    memset(g, 0, sizeof(*g));
}

/* All that the pool still gives out is buried: the model is empty (its
 * roots gone, or their tables malloc'ed). The memory goes, as the pool's
 * does when its last node is freed. */
void iw_graveyard_release_if_all(inowatch *w)
{
    if (w->grave.count && w->nodes.live == w->grave.nodes) {
        iw_graveyard_free(w);
        iw_pool_release(&w->nodes);
    }
}
