/* apply.c: turns one read of kernel events into model changes and events.
 *
 * inotify events are hints about a directory's entries, and they can be
 * stale by the time they are read: the entry may have been found already by
 * a scan, replaced, or moved on. So every rule here compares the event with
 * the model (and, where they disagree, with the disk) instead of trusting
 * it: a create for an entry the model has with the same inode is a
 * duplicate; a delete for an entry the model lacks is dropped; a rename
 * whose source is unknown is a create of its target. Applied in any
 * interleaving with scans, these rules leave the model equal to the disk,
 * and the events emitted describe exactly the model's changes. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <sys/inotify.h>
#include <sys/stat.h>

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

static int emit_delete_and_remove(inowatch *w, struct iw_node *n, unsigned flags)
{
    int r = iw_emit(w, INOWATCH_DELETE, n, flags);
    iw_remove_subtree(w, n);
    return r;
}

/* A root that was deleted, moved away or unmounted. */
static int root_gone(inowatch *w, struct iw_dir *root)
{
    return emit_delete_and_remove(w, &root->node, INOWATCH_FLAG_ROOT);
}

/* inotify says nothing when an ancestor of a root is renamed or deleted:
 * the root's watch still works but its path leads elsewhere. When a path
 * below a root fails, ask whether the root's own path still leads to it;
 * if not, the root has moved away. Returns 1 when it was dropped. */
int iw_root_check(inowatch *w, struct iw_node *n)
{
    while (n->parent)
        n = &n->parent->node;
    struct stat st;
    if (stat(iw_name(n), &st) == 0 && st.st_ino == n->ino)
        return 0;
    int r = root_gone(w, (struct iw_dir *)n);
    return r < 0 ? r : 1;
}

/* An entry appeared in d: created, moved in, or reported again because a
 * scan already found it. */
static int on_create(inowatch *w, struct iw_dir *d, const char *name, size_t len, int isdir)
{
    struct stat st;
    int have_st = 0;
    struct iw_node *c = iw_child_find(d, name, len);
    if (c) {
        if (iw_lstat_child(w, d, name, len, &st) < 0)
            return 0; /* gone again: its delete is queued */
        if (iw_type_from_mode(st.st_mode) == c->type && (!c->ino || c->ino == st.st_ino))
            return 0; /* found by a scan already: the same entry */
        int r = emit_delete_and_remove(w, c, 0);
        if (r < 0)
            return r;
        have_st = 1;
    }
    int type = INOWATCH_TYPE_DIR;
    uint64_t ino = 0;
    if (!have_st && !isdir && iw_lstat_child(w, d, name, len, &st) == 0)
        have_st = 1;
    if (have_st) {
        type = iw_type_from_mode(st.st_mode);
        ino = st.st_ino;
    } else if (!isdir) {
        /* Gone already, or its path is stale because an ancestor's rename
         * is still queued: the entry existed, so report it; its delete or
         * the rename follows. */
        type = INOWATCH_TYPE_FILE;
    }
    if (iw_entry_excluded(w, d, name, len, type == INOWATCH_TYPE_DIR))
        return 0;
    int err = 0;
    c = iw_child_new(w, d, name, len, type, ino, &err);
    if (!c)
        return err;
    int r = iw_emit(w, INOWATCH_CREATE, c, 0);
    if (r == 0 && type == INOWATCH_TYPE_DIR && !w->no_recursive)
        r = iw_list_add(&w->pending, c);
    if (r == 0 && !have_st && !isdir)
        r = iw_list_add(&w->verify, c); /* its type was a guess */
    return r;
}

static int on_delete(inowatch *w, struct iw_dir *d, const char *name, size_t len)
{
    struct iw_node *c = iw_child_find(d, name, len);
    return c ? emit_delete_and_remove(w, c, 0) : 0;
}

/* Reports n and everything the model has below it as created. */
static int emit_creates(inowatch *w, struct iw_node *n)
{
    int r = iw_emit(w, INOWATCH_CREATE, n, 0);
    struct iw_dir *d = iw_as_dir(n);
    for (uint32_t i = 0; d && r == 0 && i < d->cap; i++)
        if (d->slots[i])
            r = emit_creates(w, d->slots[i]);
    return r;
}

enum replace_kind { REPLACE_OVER, REPLACE_EXCHANGE, REPLACE_STALE };

/* A rename onto a name the model has: rename(2) replaced that entry, or
 * renameat2(RENAME_EXCHANGE) swapped the two (it queues two renames, one
 * each way), or this is the second half of a swap already applied. The
 * inodes on disk at both names tell which. */
static enum replace_kind classify_replace(inowatch *w, struct iw_node *src, struct iw_node *dst,
                                          struct iw_dir *td, const char *name, size_t len)
{
    struct stat at_src, at_dst;
    if (!dst->ino || !src->ino ||
        iw_lstat_child(w, src->parent, iw_name(src), src->name_len, &at_src) < 0 ||
        iw_lstat_child(w, td, name, len, &at_dst) < 0)
        return REPLACE_OVER;
    if (at_src.st_ino == dst->ino && at_dst.st_ino == src->ino)
        return REPLACE_EXCHANGE;
    if (at_src.st_ino == src->ino && at_dst.st_ino == dst->ino)
        return REPLACE_STALE;
    return REPLACE_OVER;
}

/* The swap is told as: the destination's delete, the rename, then the
 * destination's subtree created at the source's name (from the model: no
 * rescan needed). */
static int do_exchange(inowatch *w, struct iw_node *src, struct iw_node *dst)
{
    struct iw_dir *sd = src->parent, *td = dst->parent;
    char sname[256], tname[256];
    size_t slen = src->name_len, tlen = dst->name_len;
    memcpy(sname, iw_name(src), slen);
    memcpy(tname, iw_name(dst), tlen);
    size_t from_off, from_len;
    int r = iw_emit(w, INOWATCH_DELETE, dst, 0);
    if (r == 0)
        r = iw_path_reserve(w, src, &from_off, &from_len);
    if (r < 0)
        return r;
    iw_child_remove(td, dst);
    int err = 0;
    src = iw_rename_node(w, src, td, tname, tlen, &err);
    if (!src) {
        iw_node_free_tree(w, dst);
        return err;
    }
    r = iw_emit_rename(w, src, from_off, from_len);
    dst = iw_rename_node(w, dst, sd, sname, slen, &err);
    if (!dst)
        return err;
    return r < 0 ? r : emit_creates(w, dst);
}

/* Moves src to td/name, as rename(2) did. */
static int do_rename(inowatch *w, struct iw_node *src, struct iw_dir *td, const char *name,
                     size_t len)
{
    if (iw_entry_excluded(w, td, name, len, src->type == INOWATCH_TYPE_DIR))
        return emit_delete_and_remove(w, src, 0);
    struct iw_node *dst = iw_child_find(td, name, len);
    if (dst == src)
        return 0;
    if (dst && dst->ino && dst->ino == src->ino) /* a scan saw it arrive: src is stale */
        return emit_delete_and_remove(w, src, 0);
    if (dst) {
        enum replace_kind kind = classify_replace(w, src, dst, td, name, len);
        if (kind == REPLACE_STALE)
            return 0;
        if (kind == REPLACE_EXCHANGE)
            return do_exchange(w, src, dst);
        /* rename over an existing entry (an editor's save): the replaced
         * entry's delete comes first, so a rename never lands on a path
         * that exists. */
        int r = emit_delete_and_remove(w, dst, 0);
        if (r < 0)
            return r;
    }
    if (td == iw_as_dir(src) || iw_is_ancestor(src, &td->node))
        return 0; /* the kernel refuses this; the model must not loop */
    size_t from_off, from_len;
    int r = iw_path_reserve(w, src, &from_off, &from_len);
    if (r < 0)
        return r;
    int err = 0;
    src = iw_rename_node(w, src, td, name, len, &err);
    if (!src)
        return err;
    r = iw_emit_rename(w, src, from_off, from_len);
    if (r == 0 && src->type != INOWATCH_TYPE_DIR)
        r = iw_list_add(&w->verify, src);
    return r;
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

static int on_moved_from(inowatch *w, struct iw_dir *d, size_t *off)
{
    size_t to_off = find_pair(w, off);
    const struct inotify_event *from = event_at(w, *off);
    struct iw_node *src = iw_child_find(d, from->name, name_len(from));
    if (to_off == SIZE_MAX) /* moved out of the roots */
        return src ? emit_delete_and_remove(w, src, 0) : 0;
    struct inotify_event *to = event_at(w, to_off);
    int isdir = (to->mask & IN_ISDIR) != 0;
    to->mask = 0; /* consumed here: the main loop skips it */
    struct iw_dir *td = iw_wd_find(&w->wds, to->wd);
    if (!td || td->node.type != INOWATCH_TYPE_DIR)
        return src ? emit_delete_and_remove(w, src, 0) : 0;
    if (!src) /* the source was never known: the target is simply new */
        return on_create(w, td, to->name, name_len(to), isdir);
    return do_rename(w, src, td, to->name, name_len(to));
}

static int on_change(inowatch *w, struct iw_dir *d, const char *name, size_t len, uint32_t mask)
{
    struct iw_node *c = iw_child_find(d, name, len);
    if (!c)
        return 0; /* excluded, or not known yet: a create will report it */
    if (mask & IN_MODIFY)
        return c->type == INOWATCH_TYPE_DIR ? 0 : iw_emit(w, INOWATCH_MODIFY, c, 0);
    int r = iw_emit(w, INOWATCH_ATTRIB, c, 0);
    /* A directory that could not be read may have just become readable. */
    struct iw_dir *cd = iw_as_dir(c);
    if (r == 0 && cd && c->type == INOWATCH_TYPE_DIR && cd->wd < 0 && !w->no_recursive)
        r = iw_list_add(&w->pending, c);
    return r;
}

/* A root that is a single file: its own watch reports it. When the path
 * now names another file (an editor saved by renaming over it), the watch
 * moves to the new file; when nothing is there any more, the root is gone. */
static int file_root_event(inowatch *w, struct iw_dir *root, uint32_t mask)
{
    if (mask & IN_MODIFY)
        return iw_emit(w, INOWATCH_MODIFY, &root->node, 0);
    if (mask & IN_ATTRIB) {
        int r = iw_emit(w, INOWATCH_ATTRIB, &root->node, 0);
        if (r < 0)
            return r;
    }
    struct stat st;
    if (stat(iw_name(&root->node), &st) < 0 || S_ISDIR(st.st_mode))
        return root_gone(w, root);
    if (st.st_ino == root->node.ino)
        return 0;
    int r = iw_emit(w, INOWATCH_DELETE, &root->node, 0);
    root->node.ino = st.st_ino;
    root->node.type = (uint8_t)iw_type_from_mode(st.st_mode);
    if (r == 0)
        r = iw_emit(w, INOWATCH_CREATE, &root->node, 0);
    int fd = open(iw_name(&root->node), O_PATH | O_CLOEXEC);
    if (fd < 0)
        return r < 0 ? r : root_gone(w, root);
    int wd = iw_backend_watch_fd(w, fd, 0);
    close(fd);
    if (wd < 0)
        return r < 0 ? r : iw_emit_error(w, &root->node, NULL, 0, -wd);
    iw_wd_unbind(w, root, 1);
    int b = iw_wd_bind(w, root, wd);
    return r < 0 ? r : b;
}

/* Events about a watched directory itself (no name). */
static int dir_self_event(inowatch *w, struct iw_dir *d, uint32_t mask)
{
    int is_root = d->node.parent == NULL;
    if (mask & (IN_DELETE_SELF | IN_MOVE_SELF | IN_UNMOUNT)) {
        if (is_root)
            return root_gone(w, d);
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

static int apply_one(inowatch *w, size_t *off)
{
    const struct inotify_event *e = event_at(w, *off);
    uint32_t mask = e->mask;
    if (mask == 0)
        return 0; /* the second half of a rename, already applied */
    if (mask & IN_Q_OVERFLOW) {
        w->overflowed = 1;
        w->stats.overflows++;
        return iw_emit_path(w, INOWATCH_OVERFLOW, INOWATCH_TYPE_NONE, "", 0, 0, 0);
    }
    struct iw_dir *d = iw_wd_find(&w->wds, e->wd);
    if (!d)
        return 0; /* a watch we removed; its last events are moot */
    if (mask & IN_IGNORED) {
        iw_wd_unbind(w, d, 0);
        return d->node.parent ? 0 : root_gone(w, d);
    }
    if (d->node.type != INOWATCH_TYPE_DIR)
        return file_root_event(w, d, mask);
    size_t len = name_len(e);
    if (len == 0)
        return dir_self_event(w, d, mask);
    /* The kernel never sends these; a corrupt buffer must not make the
     * model leave its directory. */
    if (memchr(e->name, '/', len) || (e->name[0] == '.' && (len == 1 || (len == 2 && e->name[1] == '.'))))
        return 0;
    if (mask & IN_CREATE)
        return on_create(w, d, e->name, len, (mask & IN_ISDIR) != 0);
    if (mask & IN_DELETE)
        return on_delete(w, d, e->name, len);
    if (mask & IN_MOVED_FROM)
        return on_moved_from(w, d, off);
    if (mask & IN_MOVED_TO) /* moved in from outside the roots */
        return on_create(w, d, e->name, len, (mask & IN_ISDIR) != 0);
    if (mask & (IN_MODIFY | IN_ATTRIB))
        return on_change(w, d, e->name, len, mask);
    return 0;
}

/* Applies every whole event in rd[rd_start, rd_end). Returns 0 or a fatal
 * negative errno (the model cannot be kept without memory). */
int iw_apply_buffer(inowatch *w)
{
    while (w->rd_start < w->rd_end) {
        size_t off = w->rd_start;
        if (!event_ok(w, off)) {
            w->rd_start = w->rd_end; /* never from the kernel */
            break;
        }
        int r = apply_one(w, &off);
        /* apply_one may have read more and moved the buffer (off follows). */
        w->rd_start = off + event_size(event_at(w, off));
        if (r < 0)
            return r;
    }
    if (w->rd_start >= w->rd_end)
        w->rd_start = w->rd_end = 0;
    return 0;
}
