/* decode_inotify.c: inotify's event records, turned into the model's rules.
 *
 * An inotify event names a watch descriptor (one per directory) and, for
 * an entry event, the entry's name. The wd map gives the directory; the
 * only work of its own here is pairing the two halves of a rename by
 * cookie (rules.c does the rest). */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/inotify.h>

#include "internal.h"

/* How far ahead of an IN_MOVED_FROM to look for its IN_MOVED_TO. The kernel
 * queues the two back to back (fsnotify_move), but events for other
 * directories from other processes can slip in between. */
#define IW_PAIR_LOOKAHEAD 32

static struct inotify_event *event_at(const inowatch *w, size_t off)
{
    return (struct inotify_event *)(void *)(w->rd + off);
}

static size_t event_size(const struct inotify_event *e)
{
    return sizeof(*e) + e->len;
}

/* A whole, well-formed event lies at off. The kernel only writes whole
 * events padded to keep the next one aligned; anything else means the
 * buffer is corrupt, and nothing after it can be trusted. */
static int event_ok(const inowatch *w, size_t off)
{
    if (off + sizeof(struct inotify_event) > w->rd_end)
        return 0;
    const struct inotify_event *e = event_at(w, off);
    return e->len % _Alignof(struct inotify_event) == 0 && off + event_size(e) <= w->rd_end;
}

static size_t name_len(const struct inotify_event *e)
{
    return e->len ? strnlen(e->name, e->len) : 0;
}

/* Finds the IN_MOVED_TO that pairs with the IN_MOVED_FROM at *from_off,
 * reading more from the kernel when the read ended between the two halves.
 * Reading more may move the buffer: *from_off is updated. Returns the
 * offset of the pair, or SIZE_MAX. */
static size_t find_pair(inowatch *w, size_t *from_off)
{
    uint32_t cookie = event_at(w, *from_off)->cookie;
    size_t next = *from_off + event_size(event_at(w, *from_off));
    int tried_more = 0;
    for (int seen = 0; seen < IW_PAIR_LOOKAHEAD;) {
        if (next + sizeof(struct inotify_event) > w->rd_end) {
            if (tried_more)
                return SIZE_MAX;
            tried_more = 1;
            size_t before = w->rd_start;
            int r = iw_backend_read_more(w, w->pair_wait_ms);
            size_t shift = before - w->rd_start;
            *from_off -= shift;
            next -= shift;
            if (r <= 0)
                return SIZE_MAX;
            continue;
        }
        if (!event_ok(w, next))
            return SIZE_MAX;
        struct inotify_event *e = event_at(w, next);
        if ((e->mask & IN_MOVED_TO) && e->cookie == cookie)
            return next;
        next += event_size(e);
        seen++;
    }
    return SIZE_MAX;
}

/* The two halves of a rename, applied as one move. An IN_MOVED_FROM whose
 * IN_MOVED_TO is not found moved out of the roots. */
static int on_moved_from(inowatch *w, struct iw_dir *d, size_t *off)
{
    size_t to_off = find_pair(w, off);
    const struct inotify_event *from = event_at(w, *off);
    if (to_off == SIZE_MAX)
        return iw_rule_move(w, d, from->name, name_len(from), NULL, NULL, 0,
                           (from->mask & IN_ISDIR) != 0);
    struct inotify_event *to = event_at(w, to_off);
    int isdir = (to->mask & IN_ISDIR) != 0;
    to->mask = 0; /* consumed here: the main loop skips it */
    return iw_rule_move(w, d, from->name, name_len(from), iw_wd_find(&w->wds, to->wd), to->name,
                        name_len(to), isdir);
}

/* Events about a watched directory itself (no name). */
static int dir_self_event(inowatch *w, struct iw_dir *d, uint32_t mask)
{
    int is_root = d->node.parent == NULL;
    if (mask & (IN_DELETE_SELF | IN_MOVE_SELF | IN_UNMOUNT)) {
        if (is_root)
            return iw_rule_root_gone(w, d);
        /* A moved or deleted directory is reported through its parent's
         * events; an unmounted one now shows what it covered. */
        return (mask & IN_UNMOUNT) ? iw_list_add(&w->pending, &d->node) : 0;
    }
    /* Content and attribute changes of a subdirectory are reported by its
     * parent's watch, with a name; only a root has no watched parent. */
    if (is_root && (mask & IN_ATTRIB))
        return iw_emit(w, INOWATCH_ATTRIB, &d->node, 0);
    return 0;
}

/* An entry's delete inside a directory whose own deletion was read with it
 * (look_ahead marked it): the directory's delete tells the whole subtree,
 * so there is nothing to do. Nine events in ten of an rm -rf are this;
 * they are let go here, before any decoding, the directory being the one
 * the previous event named (the wd map's last answer) all through a
 * directory's unlinks. Anything else goes the whole way (apply_one). */
static inline int doomed_delete(const inowatch *w, const struct inotify_event *e)
{
    const struct iw_dir *last = w->wds.last;
    return (e->mask & ~(uint32_t)IN_ISDIR) == IN_DELETE && last && last->wd == e->wd &&
           (last->node.flags & IW_NODE_DOOMED);
}

static int apply_one(inowatch *w, size_t *off)
{
    const struct inotify_event *e = event_at(w, *off);
    uint32_t mask = e->mask;
    if (mask == 0)
        return 0; /* the second half of a rename, already applied */
    if (mask & IN_Q_OVERFLOW)
        return iw_rule_overflow(w);
    struct iw_dir *d = iw_wd_find(&w->wds, e->wd);
    if (!d)
        return 0; /* a watch we removed; its last events are moot */
    if (mask & IN_IGNORED) {
        iw_wd_unbind(w, d, 0);
        return d->node.parent ? 0 : iw_rule_root_gone(w, d);
    }
    if (d->node.type != INOWATCH_TYPE_DIR)
        return iw_rule_file_root(w, d, (mask & IN_MODIFY) != 0, (mask & IN_ATTRIB) != 0,
                                 mask == IN_MODIFY);
    /* iw_rule_delete drops it too; checked here first because an rm -rf
     * is nine events in ten of this kind, and they need not have their
     * names measured and checked. */
    if ((mask & IN_DELETE) && (d->node.flags & IW_NODE_DOOMED))
        return 0;
    size_t len = name_len(e);
    if (len == 0)
        return dir_self_event(w, d, mask);
    /* The kernel never sends these; a corrupt buffer must not make the
     * model leave its directory. */
    if (memchr(e->name, '/', len) || (e->name[0] == '.' && (len == 1 || (len == 2 && e->name[1] == '.'))))
        return 0;
    if (mask & IN_CREATE)
        return iw_rule_create(w, d, e->name, len, (mask & IN_ISDIR) != 0);
    if (mask & IN_DELETE)
        return iw_rule_delete(w, d, e->name, len, (mask & IN_ISDIR) != 0);
    if (mask & IN_MOVED_FROM)
        return on_moved_from(w, d, off);
    if (mask & IN_MOVED_TO) /* moved in from outside the roots */
        return iw_rule_create(w, d, e->name, len, (mask & IN_ISDIR) != 0);
    if (mask & (IN_MODIFY | IN_ATTRIB))
        return iw_rule_change(w, d, e->name, len, (mask & IN_MODIFY) != 0,
                              (mask & IN_ISDIR) != 0);
    return 0;
}

/* Looks ahead at the buffer before applying it: marks the directories
 * whose own deletion (IN_DELETE_SELF) is in it, so that the deletes inside
 * them are told by theirs (iw_rule_delete); notes whether a directory
 * moves in it (see dir_moves_ahead); and counts the files created per
 * directory, so that a directory filling up is listed once rather than
 * each file lstat()'ed (typecache.c). */
static int look_ahead(inowatch *w)
{
    iw_typecache_reset(w);
    w->dir_moves_ahead = 0;
    for (size_t off = w->rd_start; event_ok(w, off); off += event_size(event_at(w, off))) {
        const struct inotify_event *e = event_at(w, off);
        uint32_t mask = e->mask;
        /* Most events of a storm (a file's delete, modify, attrib) are of
         * no interest here: one test lets them pass. */
        if (!(mask & (IN_CREATE | IN_DELETE_SELF | IN_MOVE_SELF | IN_MOVED_FROM | IN_MOVED_TO)))
            continue;
        if ((mask & IN_MOVE_SELF) || ((mask & IN_ISDIR) && (mask & (IN_MOVED_FROM | IN_MOVED_TO))))
            w->dir_moves_ahead = 1;
        int self_deleted = (mask & IN_DELETE_SELF) != 0;
        if (!self_deleted && (mask & (IN_CREATE | IN_ISDIR)) != IN_CREATE)
            continue;
        struct iw_dir *d = iw_wd_find(&w->wds, e->wd);
        if (!d || d->node.type != INOWATCH_TYPE_DIR)
            continue;
        if (self_deleted) {
            d->node.flags |= IW_NODE_DOOMED;
        } else {
            int r = iw_typecache_count(w, d);
            if (r < 0)
                return r;
        }
    }
    return iw_typecache_fill(w);
}

/* How many events' lookups are asked for at once (prefetch_lookups). */
#define IW_PREFETCH 16

/* Nearly every event looks its entry up in its directory's child table: a
 * read of the table's slot, then of the node the slot points to. Between
 * two batches the model goes cold (the kernel's read path, the output's
 * write, and on a VM whatever ran on the core while the watcher napped),
 * and on a build-like churn, where each event is another file's modify,
 * every lookup was two cache misses in a row. So, before applying the next
 * IW_PREFETCH events, the slots of their lookups are asked for all at
 * once, then the nodes in those slots: the misses overlap instead of
 * queueing (W3's user time -15%, see bench/README.md). Only changes
 * (modify, attrib) are asked for: a create looks up a name that is not
 * there, in the table the previous creates warmed, and the deletes of an
 * rm -rf are mostly let go unread (doomed_delete); looking ahead at those
 * cost more than it saved. Every address is read from the model as it is now;
 * an event applied before one of these may change it, which makes that
 * prefetch useless, never wrong. Returns the offset after the events
 * looked at. */
static size_t prefetch_lookups(const inowatch *w, size_t off)
{
    const struct iw_dir *dir[IW_PREFETCH], *d = NULL;
    uint32_t hash[IW_PREFETCH];
    int n = 0, d_wd = -1;
    for (int seen = 0; seen < IW_PREFETCH && event_ok(w, off); seen++) {
        const struct inotify_event *e = event_at(w, off);
        off += event_size(e);
        if (!e->len || !(e->mask & (IN_MODIFY | IN_ATTRIB)))
            continue;
        if (e->wd != d_wd) {
            d_wd = e->wd;
            /* Not iw_wd_find: its memory of the last answer is
             * doomed_delete()'s. */
            d = iw_wd_peek(&w->wds, e->wd);
            if (d && (!d->slots || d->node.type != INOWATCH_TYPE_DIR))
                d = NULL;
        }
        if (!d)
            continue;
        dir[n] = d;
        hash[n] = iw_hash_name(e->name, name_len(e));
        iw_child_prefetch_slot(d, hash[n]);
        n++;
    }
    for (int i = 0; i < n; i++)
        iw_child_prefetch_node(dir[i], hash[i]);
    return off;
}

/* Applies every whole event in rd[rd_start, rd_end). Returns 0 or a fatal
 * negative errno (the model cannot be kept without memory). */
int iw_inotify_apply_buffer(inowatch *w)
{
    int ahead = look_ahead(w);
    if (ahead < 0)
        return ahead;
    size_t prefetched = w->rd_start; /* the events before it are asked for */
    while (w->rd_start < w->rd_end) {
        size_t off = w->rd_start;
        if (!event_ok(w, off)) {
            w->rd_start = w->rd_end; /* never from the kernel */
            break;
        }
        if (doomed_delete(w, event_at(w, off))) {
            w->rd_start = off + event_size(event_at(w, off));
            continue;
        }
        /* Started by a change only: where none comes (an untar, an rm -rf),
         * the look ahead would be all cost. */
        if (off >= prefetched && (event_at(w, off)->mask & (IN_MODIFY | IN_ATTRIB)))
            prefetched = prefetch_lookups(w, off);
        size_t before = off;
        int r = apply_one(w, &off);
        /* apply_one may have read more and moved the buffer (off follows). */
        size_t moved = before - off;
        prefetched = prefetched > moved ? prefetched - moved : 0;
        w->rd_start = off + event_size(event_at(w, off));
        if (r < 0)
            return r;
    }
    if (w->rd_start >= w->rd_end)
        w->rd_start = w->rd_end = 0;
    return 0;
}
