/* batch.c: the events of one batch.
 *
 * A batch is what one inowatch_read() produced. Events go into an array and
 * their paths into one byte arena; both are kept and reused from batch to
 * batch, so after warm-up an event costs no allocation. The arena may move
 * while it grows, so events hold offsets and inowatch_next() turns them
 * into pointers. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

void iw_batch_reset(struct iw_batch *b)
{
    b->count = b->next = b->used = 0;
    b->pc_gen++;
    b->id++;
    if (b->id == 0) /* 0 is what fresh nodes carry: never a live batch */
        b->id = 1;
}

void iw_batch_free(struct iw_batch *b)
{
    free(b->events);
    free(b->arena);
    memset(b, 0, sizeof(*b));
}

const char *iw_batch_str(const inowatch *w, size_t off)
{
    return w->batch.arena + off;
}

static int arena_reserve(struct iw_batch *b, size_t len, size_t *ret_off)
{
    int r = iw_grow(&b->arena, &b->arena_cap, b->used + len + 1, 1);
    if (r < 0)
        return r;
    *ret_off = b->used;
    b->used += len + 1;
    return 0;
}

static struct iw_path_slot *path_slot(struct iw_batch *b, const struct iw_dir *d)
{
    uintptr_t a = (uintptr_t)d;
    return &b->pc[((a >> 4) ^ (a >> 10)) & (IW_PATH_SLOTS - 1)];
}

void iw_path_cache_forget(inowatch *w, const struct iw_dir *d)
{
    struct iw_path_slot *s = path_slot(&w->batch, d);
    if (s->dir == d)
        s->dir = NULL;
}

/* Whether d's children's paths have a '/' after d's path: only the root
 * "/" ends with one already. */
static size_t sep_after(const struct iw_dir *d)
{
    const struct iw_node *n = &d->node;
    return n->parent || iw_name(n)[iw_name_len(n) - 1] != '/';
}

/* The cached path of d, or NULL. */
static const struct iw_path_slot *path_cached(struct iw_batch *b, const struct iw_dir *d)
{
    const struct iw_path_slot *s = path_slot(b, d);
    return s->dir == d && s->gen == b->pc_gen ? s : NULL;
}

static void path_remember(struct iw_batch *b, const struct iw_dir *d, size_t off, size_t len)
{
    if (len > UINT32_MAX)
        return;
    struct iw_path_slot *s = path_slot(b, d);
    *s = (struct iw_path_slot){.dir = d, .gen = b->pc_gen, .len = (uint32_t)len, .off = off};
}

int iw_path_reserve(inowatch *w, const struct iw_node *n, size_t *ret_off, size_t *ret_len)
{
    struct iw_batch *b = &w->batch;
    size_t len, off;
    int r;
    const struct iw_path_slot *s = n->parent ? path_cached(b, n->parent) : NULL;
    if (s) {
        size_t sep = sep_after(n->parent), plen = s->len, poff = s->off;
        len = plen + sep + n->name_len;
        r = arena_reserve(b, len, &off);
        if (r < 0)
            return r;
        char *p = b->arena + off;
        memcpy(p, b->arena + poff, plen);
        if (sep)
            p[plen] = '/';
        memcpy(p + plen + sep, iw_name(n), n->name_len);
        p[len] = '\0';
    } else {
        len = iw_path_len(n);
        r = arena_reserve(b, len, &off);
        if (r < 0)
            return r;
        iw_path_write(n, b->arena + off, len);
        if (n->parent) /* its siblings are likely next */
            path_remember(b, n->parent, off, len - n->name_len - sep_after(n->parent));
    }
    struct iw_dir *d = iw_as_dir((struct iw_node *)n);
    if (d && n->type == INOWATCH_TYPE_DIR) /* and its children */
        path_remember(b, d, off, len);
    *ret_off = off;
    *ret_len = len;
    return 0;
}

static int push(inowatch *w, unsigned kind, int type, unsigned flags, int error, size_t off,
                size_t len)
{
    struct iw_batch *b = &w->batch;
    int r = iw_grow(&b->events, &b->cap, b->count + 1, sizeof(*b->events));
    if (r < 0)
        return r;
    b->events[b->count++] = (struct iw_event){
        .kind = (uint8_t)kind,
        .type = (uint8_t)type,
        .flags = (uint8_t)flags,
        .error = error,
        .path_off = off,
        .path_len = len,
        .from_off = SIZE_MAX,
    };
    return 0;
}

static int wanted(const inowatch *w, unsigned kind)
{
    return (w->events_wanted & kind) || (kind & (INOWATCH_OVERFLOW | INOWATCH_ERROR));
}

/* Repeated modifies (and attribs) of one node within a batch are one event:
 * a consumer wants to know that the file changed, not how many write()s.
 * A create covers the modifies and attribs that follow it in its batch:
 * the consumer looks at the entry after the batch, when they have already
 * happened (an untar writes and stamps each file right after making it:
 * without this, a third of its lines said so again). */
static int coalesced(inowatch *w, struct iw_node *n, unsigned kind)
{
    if (kind == INOWATCH_CREATE) {
        n->batch = w->batch.id;
        n->batch_kinds = INOWATCH_MODIFY | INOWATCH_ATTRIB;
        return 0;
    }
    if (!(kind & (INOWATCH_MODIFY | INOWATCH_ATTRIB)))
        return 0;
    if (n->batch != w->batch.id) {
        n->batch = w->batch.id;
        n->batch_kinds = 0;
    }
    if (n->batch_kinds & kind)
        return 1;
    n->batch_kinds |= (uint8_t)kind;
    return 0;
}

int iw_emit(inowatch *w, enum inowatch_kind kind, struct iw_node *n, unsigned flags)
{
    if (!wanted(w, kind) || coalesced(w, n, kind))
        return 0;
    size_t off, len;
    int r = iw_path_reserve(w, n, &off, &len);
    if (r < 0)
        return r;
    return push(w, kind, n->type, flags, 0, off, len);
}

int iw_emit_path(inowatch *w, enum inowatch_kind kind, int type, const char *path, size_t len,
                 int error, unsigned flags)
{
    if (!wanted(w, kind))
        return 0;
    size_t off;
    int r = arena_reserve(&w->batch, len, &off);
    if (r < 0)
        return r;
    memcpy(w->batch.arena + off, path, len);
    w->batch.arena[off + len] = '\0';
    return push(w, kind, type, flags, error, off, len);
}

/* An error about node n, or about its child `child` when that is given. */
int iw_emit_error(inowatch *w, const struct iw_node *n, const char *child, size_t child_len,
                  int error)
{
    char *path;
    int len = iw_scratch_path(w, n, child, child_len, &path);
    if (len < 0)
        return len;
    if (error < 0)
        error = -error;
    unsigned flags = inowatch_is_fatal(error) ? INOWATCH_FLAG_FATAL : 0;
    return iw_emit_path(w, INOWATCH_ERROR, INOWATCH_TYPE_NONE, path, (size_t)len, error, flags);
}

/* A rename whose old path was reserved (iw_path_reserve) before the node
 * moved. */
int iw_emit_rename(inowatch *w, const struct iw_node *n, size_t from_off, size_t from_len)
{
    if (!wanted(w, INOWATCH_RENAME))
        return 0;
    size_t off, len;
    int r = iw_path_reserve(w, n, &off, &len);
    if (r < 0)
        return r;
    r = push(w, INOWATCH_RENAME, n->type, 0, 0, off, len);
    if (r < 0)
        return r;
    w->batch.events[w->batch.count - 1].from_off = from_off;
    w->batch.events[w->batch.count - 1].from_len = from_len;
    return 0;
}

int inowatch_next(inowatch *w, const struct inowatch_event **ret)
{
    struct iw_batch *b = &w->batch;
    if (!w || b->next >= b->count)
        return 0;
    const struct iw_event *e = &b->events[b->next++];
    b->out = (struct inowatch_event){
        .kind = (enum inowatch_kind)e->kind,
        .type = (enum inowatch_type)e->type,
        .flags = e->flags,
        .error = e->error,
        .path = b->arena + e->path_off,
        .path_len = e->path_len,
        .from = e->from_off == SIZE_MAX ? NULL : b->arena + e->from_off,
        .from_len = e->from_off == SIZE_MAX ? 0 : e->from_len,
    };
    *ret = &b->out;
    return 1;
}
