/* tree.c: the model of the watched trees.
 *
 * Every entry under a root is one node; a node knows its parent, so a path
 * is built by walking up instead of being stored (renaming a directory with
 * a million entries below it changes one node). Directories keep their
 * children in an open-addressing table hashed by name: events name a child
 * of a watched directory, so "find the child called X" is the hot lookup. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

int iw_grow_to(void *arrp, size_t *cap, size_t need, size_t elem)
{
    void **arr = arrp;
    size_t ncap = *cap ? *cap : 8;
    while (ncap < need)
        ncap *= 2;
    void *p = realloc(*arr, ncap * elem);
    if (!p)
        return -ENOMEM;
    *arr = p;
    *cap = ncap;
    return 0;
}

static inline uint64_t load64(const char *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof(v));
    return v;
}

static inline uint64_t load32(const char *p)
{
    uint32_t v;
    memcpy(&v, p, sizeof(v));
    return v;
}

/* One multiply per 8 bytes of name, then the murmur3 finaliser so that the
 * low bits (the ones a table's mask keeps) depend on every byte. */
static inline uint64_t hash_round(uint64_t h, uint64_t v)
{
    h = (h ^ v) * UINT64_C(0x9e3779b97f4a7c15);
    return h ^ (h >> 32);
}

/* This runs several times per event (lookups, inserts, and the entries
 * that backward-shift deletion moves), so it reads the name a word at a
 * time: FNV-1a, byte at a time, is one dependent multiply per byte. The
 * reads never go past the name: the tail is an overlapping word (or two
 * half words) ending at its last byte. */
uint32_t iw_hash_name(const char *name, size_t len)
{
    uint64_t h = UINT64_C(0xcbf29ce484222325) ^ len;
    if (len >= 8) {
        for (; len > 8; len -= 8, name += 8)
            h = hash_round(h, load64(name));
        h = hash_round(h, load64(name + len - 8));
    } else if (len >= 4) {
        h = hash_round(h, load32(name) | load32(name + len - 4) << 32);
    } else if (len > 0) {
        h = hash_round(h, (uint64_t)(unsigned char)name[0] |
                              (uint64_t)(unsigned char)name[len / 2] << 8 |
                              (uint64_t)(unsigned char)name[len - 1] << 16);
    }
    h ^= h >> 33;
    h *= UINT64_C(0xff51afd7ed558ccd);
    h ^= h >> 33;
    h *= UINT64_C(0xc4ceb9fe1a85ec53);
    return (uint32_t)(h ^ (h >> 33));
}

/* Whether two names of len bytes are the same. Every probe of a lookup
 * compares one, nearly always a short name: comparing words inline spares
 * a call into libc per probe. Like the hash, the loads never go past the
 * names (an overlapping last word, or two half words). */
static inline int same_name(const char *a, const char *b, size_t len)
{
    if (len >= 8) {
        for (; len > 8; len -= 8, a += 8, b += 8)
            if (load64(a) != load64(b))
                return 0;
        return load64(a + len - 8) == load64(b + len - 8);
    }
    if (len >= 4)
        return load32(a) == load32(b) && load32(a + len - 4) == load32(b + len - 4);
    return len == 0 || (a[0] == b[0] && a[len / 2] == b[len / 2] && a[len - 1] == b[len - 1]);
}

/* Every node but a root's comes from the pool, the widest included. */
_Static_assert(sizeof(struct iw_dir) + UINT8_MAX + 1 <= IW_POOL_MAX,
               "a directory with a 255-byte name must fit the pool");

static size_t node_bytes(int wide, size_t len)
{
    return (wide ? sizeof(struct iw_dir) : sizeof(struct iw_node)) + len + 1;
}

size_t iw_node_size(const struct iw_node *n)
{
    return node_bytes((n->flags & IW_NODE_WIDE) != 0, iw_name_len(n));
}

/* A detached node; root: its name is a path of any length, and its memory
 * comes from malloc rather than the pool (pool.c). */
static struct iw_node *node_new(inowatch *w, const char *name, size_t len, int type, int wide,
                                int root)
{
    size_t head = wide ? sizeof(struct iw_dir) : sizeof(struct iw_node);
    if (len > (root ? UINT32_MAX : UINT8_MAX))
        return NULL;
    struct iw_node *n = root ? malloc(head + len + 1) : iw_pool_take(w, head + len + 1);
    if (!n)
        return NULL;
    if (wide) /* constant sizes: stores, not a call */
        memset(n, 0, sizeof(struct iw_dir));
    else
        memset(n, 0, sizeof(struct iw_node));
    n->type = (uint8_t)type;
    if (wide) {
        n->flags = IW_NODE_WIDE;
        ((struct iw_dir *)n)->wd = -1;
    }
    if (root) {
        n->flags |= IW_NODE_ROOT;
        ((struct iw_dir *)n)->root_len = (uint32_t)len;
    }
    else
        n->name_len = (uint8_t)len;
    memcpy(iw_name(n), name, len);
    iw_name(n)[len] = '\0';
    return n;
}

static void node_free(inowatch *w, struct iw_node *n)
{
    if (n->flags & IW_NODE_ROOT)
        free(n);
    else
        iw_pool_free(&w->nodes, n, iw_node_size(n));
}

static uint32_t node_hash(const struct iw_node *n)
{
    return iw_hash_name(iw_name(n), n->name_len);
}

static void account(inowatch *w, const struct iw_node *n, int sign);

/* A new node for an entry called name in parent (NULL: a root, which is not
 * inserted anywhere). Directories and roots are wide. */
struct iw_node *iw_child_new(inowatch *w, struct iw_dir *parent, const char *name, size_t len,
                             int type, uint64_t ino, int *ret_err)
{
    struct iw_node *n = node_new(w, name, len, type, type == INOWATCH_TYPE_DIR || !parent, !parent);
    if (!n) {
        *ret_err = (parent && len > UINT8_MAX) ? -ENAMETOOLONG : -ENOMEM;
        return NULL;
    }
    n->ino = ino;
    if (parent) {
        int r = iw_child_insert(w, parent, n);
        if (r < 0) {
            node_free(w, n);
            *ret_err = r;
            return NULL;
        }
    }
    account(w, n, +1);
    return n;
}

/* ---- child tables ------------------------------------------------------- */

struct iw_node *iw_child_find(const struct iw_dir *d, const char *name, size_t len)
{
    if (!d->slots)
        return NULL;
    uint32_t h = iw_hash_name(name, len), mask = d->cap - 1;
    for (uint32_t i = h & mask;; i = (i + 1) & mask) {
        struct iw_node *c = d->slots[i];
        if (!c)
            return NULL;
        if (c->name_len == len && same_name(iw_name(c), name, len))
            return c;
    }
}

/* Asks the cache for what iw_child_find(d, name) will read first, the name
 * hashing to h: the table slot where the probe starts, then (the slot in
 * hand) the node that slot holds now. Hints only: a prefetch never
 * faults, and a lookup that probes further or finds the table changed by
 * then is merely not helped. */
void iw_child_prefetch_slot(const struct iw_dir *d, uint32_t h)
{
    __builtin_prefetch(&d->slots[h & (d->cap - 1)]);
}

void iw_child_prefetch_node(const struct iw_dir *d, uint32_t h)
{
    __builtin_prefetch(d->slots[h & (d->cap - 1)]);
}

static void table_put(struct iw_node **slots, uint32_t cap, struct iw_node *n)
{
    uint32_t mask = cap - 1, i = node_hash(n) & mask;
    while (slots[i])
        i = (i + 1) & mask;
    slots[i] = n;
}

/* A table of up to IW_POOL_MAX bytes (32 slots, enough for most
 * directories) comes from the pool like a node, and goes back to it as
 * cheaply when its directory goes; a bigger one from malloc, counted in
 * model_bytes (the pool counts its own). */
static struct iw_node **table_alloc(inowatch *w, uint32_t cap)
{
    size_t bytes = (size_t)cap * sizeof(struct iw_node *);
    if (bytes > IW_POOL_MAX) {
        struct iw_node **t = calloc(cap, sizeof(*t));
        if (t)
            w->stats.model_bytes += bytes;
        return t;
    }
    struct iw_node **t = iw_pool_take(w, bytes);
    if (t)
        memset(t, 0, bytes);
    return t;
}

void iw_table_free(inowatch *w, struct iw_node **t, uint32_t cap)
{
    size_t bytes = (size_t)cap * sizeof(*t);
    if (!t)
        return;
    if (bytes > IW_POOL_MAX) {
        w->stats.model_bytes -= bytes;
        free(t);
    } else {
        iw_pool_free(&w->nodes, t, bytes);
    }
}

static int table_resize(inowatch *w, struct iw_dir *d, uint32_t ncap)
{
    struct iw_node **ns = table_alloc(w, ncap);
    if (!ns)
        return -ENOMEM;
    for (uint32_t i = 0; i < d->cap; i++)
        if (d->slots[i])
            table_put(ns, ncap, d->slots[i]);
    iw_table_free(w, d->slots, d->cap);
    d->slots = ns;
    d->cap = ncap;
    return 0;
}

/* The table size that holds count children within the 3/4 load. */
static size_t table_cap_for(size_t count, uint32_t cap)
{
    size_t c = cap ? cap : 4;
    while (count * 4 > c * 3)
        c *= 2;
    return c;
}

/* Makes room for `more` children at once, so that inserting them rehashes
 * nothing on the way (the size reached is the one inserting them one by
 * one would reach). */
int iw_child_reserve(inowatch *w, struct iw_dir *d, size_t more)
{
    size_t cap = table_cap_for((size_t)d->count + more, d->cap);
    if (cap == d->cap || more == 0)
        return 0;
    if (cap > (1u << 30))
        return -ENOMEM;
    return table_resize(w, d, (uint32_t)cap);
}

int iw_child_insert(inowatch *w, struct iw_dir *d, struct iw_node *n)
{
    /* Room for one more within the 3/4 load, the usual case, needs no
     * size computation. */
    int r = d->cap && ((size_t)d->count + 1) * 4 <= (size_t)d->cap * 3 ? 0
                                                                       : iw_child_reserve(w, d, 1);
    if (r < 0)
        return r;
    table_put(d->slots, d->cap, n);
    d->count++;
    d->subdirs += n->type == INOWATCH_TYPE_DIR;
    n->parent = d;
    return 0;
}

/* Linear probing with backward-shift deletion: no tombstones, so a
 * directory that sees heavy churn never degrades. */
void iw_child_remove(struct iw_dir *d, struct iw_node *n)
{
    uint32_t mask = d->cap - 1, i = node_hash(n) & mask;
    while (d->slots[i] != n)
        i = (i + 1) & mask;
    for (uint32_t j = (i + 1) & mask; d->slots[j]; j = (j + 1) & mask) {
        uint32_t home = node_hash(d->slots[j]) & mask;
        /* Move slots[j] into the hole at i unless its home lies cyclically
         * in (i, j]: then it would become unreachable. */
        int stays = (i <= j) ? (home > i && home <= j) : (home > i || home <= j);
        if (!stays) {
            d->slots[i] = d->slots[j];
            i = j;
        }
    }
    d->slots[i] = NULL;
    d->count--;
    d->subdirs -= n->type == INOWATCH_TYPE_DIR;
    n->parent = NULL;
}

/* ---- paths -------------------------------------------------------------- */

/* Only the root "/" ends with '/': its children must not get a second one. */
static int needs_sep(const struct iw_node *parent)
{
    return parent->parent || iw_name(parent)[iw_name_len(parent) - 1] != '/';
}

size_t iw_path_len(const struct iw_node *n)
{
    size_t len = 0;
    for (; n->parent; n = &n->parent->node)
        len += n->name_len + (size_t)needs_sep(&n->parent->node);
    return len + iw_name_len(n);
}

void iw_path_write(const struct iw_node *n, char *out, size_t len)
{
    char *p = out + len;
    *p = '\0';
    for (; n->parent; n = &n->parent->node) {
        p -= n->name_len;
        memcpy(p, iw_name(n), n->name_len);
        if (needs_sep(&n->parent->node))
            *--p = '/';
    }
    memcpy(out, iw_name(n), iw_name_len(n));
}

size_t iw_relpath_len(const struct iw_node *n)
{
    size_t len = 0;
    for (; n->parent; n = &n->parent->node)
        len += n->name_len + 1;
    return len ? len - 1 : 0;
}

void iw_relpath_write(const struct iw_node *n, char *out, size_t len)
{
    char *p = out + len;
    *p = '\0';
    for (; n->parent; n = &n->parent->node) {
        p -= n->name_len;
        memcpy(p, iw_name(n), n->name_len);
        if (p > out)
            *--p = '/';
    }
}

int iw_is_ancestor(const struct iw_node *a, const struct iw_node *n)
{
    for (; n; n = n->parent ? &n->parent->node : NULL)
        if (n == a)
            return 1;
    return 0;
}

/* Path of a node (or of its child `child`) in w->scratch, for syscalls. */
int iw_scratch_path(inowatch *w, const struct iw_node *n, const char *child, size_t child_len,
                    char **ret)
{
    size_t base = iw_path_len(n);
    size_t len = child ? base + (size_t)needs_sep(n) + child_len : base;
    int r = iw_grow(&w->scratch, &w->scratch_cap, len + 1, 1);
    if (r < 0)
        return r;
    iw_path_write(n, w->scratch, base);
    if (child) {
        size_t at = base;
        if (needs_sep(n))
            w->scratch[at++] = '/';
        memcpy(w->scratch + at, child, child_len);
        w->scratch[len] = '\0';
    }
    *ret = w->scratch;
    return (int)(len > INT32_MAX ? INT32_MAX : len);
}

/* ---- the wd map --------------------------------------------------------- */

static uint32_t wd_hash(int wd)
{
    return (uint32_t)wd * 2654435761u;
}

struct iw_dir *iw_wd_peek(const struct iw_wdmap *m, int wd)
{
    if (m->last && m->last->wd == wd)
        return m->last;
    if (!m->slots)
        return NULL;
    uint32_t mask = m->cap - 1;
    for (uint32_t i = wd_hash(wd) & mask;; i = (i + 1) & mask) {
        const struct iw_wd_slot *s = &m->slots[i];
        if (!s->dir || s->wd == wd)
            return s->dir;
    }
}

struct iw_dir *iw_wd_find(struct iw_wdmap *m, int wd)
{
    struct iw_dir *d = iw_wd_peek(m, wd);
    if (d)
        m->last = d;
    return d;
}

static void wd_put(struct iw_wd_slot *slots, uint32_t cap, int wd, struct iw_dir *d)
{
    uint32_t mask = cap - 1, i = wd_hash(wd) & mask;
    while (slots[i].dir)
        i = (i + 1) & mask;
    slots[i] = (struct iw_wd_slot){.wd = wd, .dir = d};
}

static int wdmap_grow(struct iw_wdmap *m)
{
    uint32_t ncap = m->cap ? m->cap * 2 : 64;
    struct iw_wd_slot *ns = calloc(ncap, sizeof(*ns));
    if (!ns)
        return -ENOMEM;
    for (uint32_t i = 0; i < m->cap; i++)
        if (m->slots[i].dir)
            wd_put(ns, ncap, m->slots[i].wd, m->slots[i].dir);
    free(m->slots);
    m->slots = ns;
    m->cap = ncap;
    return 0;
}

static void wd_remove_slot(struct iw_wdmap *m, int wd)
{
    m->last = NULL;
    uint32_t mask = m->cap - 1, i = wd_hash(wd) & mask;
    while (m->slots[i].wd != wd || !m->slots[i].dir)
        i = (i + 1) & mask;
    for (uint32_t j = (i + 1) & mask; m->slots[j].dir; j = (j + 1) & mask) {
        uint32_t home = wd_hash(m->slots[j].wd) & mask;
        int stays = (i <= j) ? (home > i && home <= j) : (home > i || home <= j);
        if (!stays) {
            m->slots[i] = m->slots[j];
            i = j;
        }
    }
    m->slots[i] = (struct iw_wd_slot){.wd = 0, .dir = NULL};
    m->count--;
}

/* inotify returns the same wd for an inode that is already watched. When
 * that wd belongs to another node, the other node is stale (the directory
 * moved and the event saying so is still queued) or an alias (a bind
 * mount): the newest scan is the truth, so the wd moves to d and the other
 * node is left unwatched. */
int iw_wd_bind(inowatch *w, struct iw_dir *d, int wd)
{
    struct iw_dir *owner = iw_wd_find(&w->wds, wd);
    if (owner == d)
        return 0;
    if (owner) {
        wd_remove_slot(&w->wds, wd);
        owner->wd = -1;
        w->stats.watches--;
        /* The same directory, met elsewhere by a listing: one of the two
         * places is stale (or a bind mount), told at the batch's end. */
        int r = owner->node.parent ? iw_list_add(&w->stale, &owner->node) : 0;
        if (r < 0)
            return r;
    }
    if (d->wd >= 0)
        iw_wd_unbind(w, d, 1);
    if ((size_t)(w->wds.count + 1) * 4 > (size_t)w->wds.cap * 3) {
        int r = wdmap_grow(&w->wds);
        if (r < 0)
            return r;
    }
    d->wd = wd;
    wd_put(w->wds.slots, w->wds.cap, wd, d);
    w->wds.count++;
    w->stats.watches++;
    return 0;
}

void iw_wd_unbind(inowatch *w, struct iw_dir *d, int remove_watch)
{
    if (d->wd < 0)
        return;
    wd_remove_slot(&w->wds, d->wd);
    if (remove_watch)
        iw_backend_unwatch(w, d->wd);
    d->wd = -1;
    w->stats.watches--;
}

void iw_wdmap_free(struct iw_wdmap *m)
{
    free(m->slots);
    m->slots = NULL;
    m->cap = m->count = 0;
    m->last = NULL;
}

/* ---- node lists ---------------------------------------------------------- */

int iw_list_add(struct iw_nodelist *l, struct iw_node *n)
{
    if (n->flags & l->flag)
        return 0;
    int r = iw_grow(&l->items, &l->cap, l->count + 1, sizeof(*l->items));
    if (r < 0)
        return r;
    l->items[l->count++] = n;
    n->flags |= l->flag;
    return 0;
}

/* Lists are short (what one batch created): a linear search is fine, and
 * order is kept so that parents are scanned before what was found later. */
void iw_list_drop(struct iw_nodelist *l, struct iw_node *n)
{
    if (!(n->flags & l->flag))
        return;
    for (size_t i = 0; i < l->count; i++) {
        if (l->items[i] == n) {
            memmove(l->items + i, l->items + i + 1, (l->count - i - 1) * sizeof(*l->items));
            l->count--;
            break;
        }
    }
    n->flags &= (uint8_t)~l->flag;
}

static void list_replace(struct iw_nodelist *l, struct iw_node *old, struct iw_node *nn)
{
    if (!(old->flags & l->flag))
        return;
    for (size_t i = 0; i < l->count; i++)
        if (l->items[i] == old)
            l->items[i] = nn;
}

void iw_list_free(struct iw_nodelist *l)
{
    free(l->items);
    l->items = NULL;
    l->count = l->cap = 0;
}

/* ---- removal and renames ------------------------------------------------ */

static void account(inowatch *w, const struct iw_node *n, int sign)
{
    /* A root's memory is its own; the others' is the pool's, which
     * inowatch_stats() adds whole (blocks, and the free nodes in them). */
    if (n->flags & IW_NODE_ROOT) {
        size_t bytes = iw_node_size(n);
        w->stats.model_bytes = sign > 0 ? w->stats.model_bytes + bytes : w->stats.model_bytes - bytes;
    }
    size_t *count = (n->type == INOWATCH_TYPE_DIR) ? &w->stats.dirs : &w->stats.files;
    *count = sign > 0 ? *count + 1 : *count - 1;
}

/* Frees n and everything below it; n must already be out of its parent's
 * table. Watches are removed too: a directory moved out of the roots still
 * exists and would go on reporting. */
void iw_node_free_tree(inowatch *w, struct iw_node *n)
{
    struct iw_dir *d = iw_as_dir(n);
    if (d) {
        iw_path_cache_forget(w, d); /* its address may come back */
        iw_bury_files(w, d); /* may leave d with no table */
        for (uint32_t i = 0; i < d->cap; i++) {
            struct iw_node *c = d->slots[i];
            if (!c)
                continue;
            if (c->flags & (IW_NODE_WIDE | IW_NODE_PENDING | IW_NODE_VERIFY)) {
                iw_node_free_tree(w, c);
            } else { /* a file on no list: nothing but its memory to let go */
                account(w, c, -1);
                node_free(w, c);
            }
        }
        iw_table_free(w, d->slots, d->cap);
        iw_unlisted_free(w, d);
        iw_wd_unbind(w, d, 1);
    }
    iw_list_drop(&w->pending, n);
    iw_list_drop(&w->verify, n);
    iw_list_drop(&w->stale, n);
    if (d)
        iw_dirfd_forget(w, d);
    account(w, n, -1);
    node_free(w, n);
}

static void roots_remove(inowatch *w, struct iw_node *n)
{
    for (size_t i = 0; i < w->nroots; i++) {
        if (&w->roots[i]->node == n) {
            memmove(w->roots + i, w->roots + i + 1, (w->nroots - i - 1) * sizeof(*w->roots));
            w->nroots--;
            return;
        }
    }
}

void iw_remove_subtree(inowatch *w, struct iw_node *n)
{
    if (n->parent)
        iw_child_remove(n->parent, n);
    else
        roots_remove(w, n);
    iw_node_free_tree(w, n);
    iw_graveyard_release_if_all(w);
}

/* Gives a node a new parent and name. The name lives inside the node, so a
 * longer name means a new allocation; then everything that points at the
 * node (its children, the wd map, the node lists) is pointed at the new
 * one. Returns the node, or NULL with *ret_err set (the node is then left
 * detached and freed, as if deleted). */
struct iw_node *iw_rename_node(inowatch *w, struct iw_node *n, struct iw_dir *to,
                               const char *name, size_t len, int *ret_err)
{
    iw_path_cache_clear(w); /* paths below n change */
    if (n->parent) /* a node may also come detached (an exchange) */
        iw_child_remove(n->parent, n);
    int wide = (n->flags & IW_NODE_WIDE) != 0;
    /* A name of another size class needs a node of that class: the pool
     * frees a node by the size its name gives. */
    if (iw_pool_size(node_bytes(wide, len)) != iw_pool_size(iw_node_size(n))) {
        struct iw_node *nn = node_new(w, name, len, n->type, n->flags & IW_NODE_WIDE, 0);
        if (!nn) {
            *ret_err = -ENOMEM;
            iw_node_free_tree(w, n);
            return NULL;
        }
        account(w, n, -1);
        account(w, nn, +1);
        nn->ino = n->ino;
        nn->flags = n->flags;
        nn->batch = n->batch;
        nn->batch_kinds = n->batch_kinds;
        struct iw_dir *od = iw_as_dir(n), *nd = iw_as_dir(nn);
        if (od) {
            nd->slots = od->slots;
            nd->cap = od->cap;
            nd->count = od->count;
            nd->subdirs = od->subdirs;
            nd->unlisted = od->unlisted;
            for (uint32_t i = 0; i < nd->cap; i++)
                if (nd->slots[i])
                    nd->slots[i]->parent = nd;
            if (od->wd >= 0) {
                int wd = od->wd;
                wd_remove_slot(&w->wds, wd);
                w->wds.count++; /* re-added just below without a new watch */
                nd->wd = wd;
                wd_put(w->wds.slots, w->wds.cap, wd, nd);
            }
        }
        list_replace(&w->pending, n, nn);
        list_replace(&w->verify, n, nn);
        list_replace(&w->stale, n, nn);
        if (od)
            iw_dirfd_forget(w, od); /* n's address may come back */
        node_free(w, n);
        n = nn;
    } else {
        n->name_len = (uint8_t)len;
        memcpy(iw_name(n), name, len);
        iw_name(n)[len] = '\0';
    }
    int r = iw_child_insert(w, to, n);
    if (r < 0) {
        *ret_err = r;
        iw_node_free_tree(w, n);
        return NULL;
    }
    return n;
}
