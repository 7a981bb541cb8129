/* rules.c: how the model follows a directory-entry event, whichever
 * backend decoded it.
 *
 * Kernel events are hints about a directory's entries, and they can be
 * stale by the time they are read: the entry may have been found already by
 * a scan, replaced, or moved on. So every rule here compares the event with
 * the model (and, where they disagree, with the disk) instead of trusting
 * it: a create for an entry the model has with the same inode is a
 * duplicate; a delete for an entry the model lacks is dropped; a rename
 * whose source is unknown is a create of its target. Applied in any
 * interleaving with scans, these rules leave the model equal to the disk,
 * and the events emitted describe exactly the model's changes. The
 * decoders (decode_inotify.c, decode_fanotify.c) only find the directory
 * an event is about and call these. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "internal.h"

static int emit_delete_and_remove(inowatch *w, struct iw_node *n, unsigned flags)
{
    int r = iw_emit(w, INOWATCH_DELETE, n, flags);
    iw_remove_subtree(w, n);
    return r;
}

/* A root that was deleted, moved away or unmounted. */
int iw_rule_root_gone(inowatch *w, struct iw_dir *root)
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
    int r = iw_rule_root_gone(w, (struct iw_dir *)n);
    return r < 0 ? r : 1;
}

/* Whether c, found where the disk now has st, is that same entry: the
 * event that found it there is a duplicate. A node made from a hash
 * (unlisted.c) has no inode number to compare: while the initial scan's
 * own events are read, an entry under its name may be the one the scan
 * listed; after them, or when a rename put it there, it is a new one. */
static int same_entry(const inowatch *w, const struct iw_node *c, const struct stat *st, int onto)
{
    if (iw_type_from_mode(st->st_mode) != c->type)
        return 0;
    if (c->ino)
        return c->ino == st->st_ino;
    return !(c->flags & IW_NODE_HASHED) || (w->scan_window && !onto);
}

/* A name the quiet scan listed as a regular file (a hash, unlisted.c) now
 * names something else: that file is gone, whatever became of the event
 * that said so, and its delete is told before the new entry's create. */
static int drop_listed_file(inowatch *w, struct iw_dir *d, const char *name, size_t len)
{
    if (!d->unlisted || !iw_unlisted_has(d, name, len))
        return 0;
    int err = 0;
    struct iw_node *old = iw_child_get(w, d, name, len, 0, &err);
    return old ? emit_delete_and_remove(w, old, 0) : err;
}

/* An entry appeared in d: created, moved in (onto: by a rename, which may
 * have replaced what had the name), or reported again because a scan
 * already found it. */
static int create_entry(inowatch *w, struct iw_dir *d, const char *name, size_t len, int isdir,
                        int onto)
{
    struct stat st;
    int have_st = 0;
    /* A file the quiet scan kept as a hash (unlisted.c) is looked for when
     * the event may be about it: a rename replaces it, and a create read
     * with the scan's own events may be for the file the scan listed
     * (made after the mark, before the listing). Any other create is for
     * a new entry: a hash matching its name belongs to another name. */
    int err = 0;
    struct iw_node *c = (w->scan_window || onto) ? iw_child_get(w, d, name, len, isdir, &err)
                                                 : iw_child_find(d, name, len);
    if (err < 0)
        return err;
    if (c) {
        if (iw_lstat_child(w, d, name, len, &st) < 0)
            return 0; /* gone again: its delete is queued */
        if (same_entry(w, c, &st, onto))
            return 0; /* found by a scan already: the same entry */
        int r = emit_delete_and_remove(w, c, 0);
        if (r < 0)
            return r;
        have_st = 1;
    }
    int type = INOWATCH_TYPE_DIR;
    uint64_t ino = 0;
    int known = 0;
    if (!have_st && !isdir) /* a listing of d made for this batch, else the disk */
        known = iw_typecache_get(w, d, name, len, &type, &ino);
    if (!have_st && !isdir && !known && iw_lstat_child(w, d, name, len, &st) == 0)
        have_st = 1;
    if (have_st) {
        type = iw_type_from_mode(st.st_mode);
        ino = st.st_ino;
        known = 1;
    } else if (!isdir && !known) {
        /* Gone already, or its path is stale because an ancestor's rename
         * is still queued: the entry existed, so report it; its delete or
         * the rename follows. */
        type = INOWATCH_TYPE_FILE;
    }
    if (iw_entry_excluded(w, d, name, len, type == INOWATCH_TYPE_DIR))
        return 0;
    int r = type == INOWATCH_TYPE_FILE ? 0 : drop_listed_file(w, d, name, len);
    if (r < 0)
        return r;
    c = iw_child_new(w, d, name, len, type, ino, &err);
    if (!c)
        return err;
    r = iw_emit(w, INOWATCH_CREATE, c, 0);
    if (r == 0 && type == INOWATCH_TYPE_DIR && !w->no_recursive)
        r = iw_list_add(&w->pending, c);
    /* Its type was a guess, or read through a path a directory's rename
     * further on may make stale (dir_moves_ahead): checked again at the
     * end of the batch. */
    if (r == 0 && !isdir && (!known || w->dir_moves_ahead))
        r = iw_list_add(&w->verify, c);
    return r;
}

int iw_rule_create(inowatch *w, struct iw_dir *d, const char *name, size_t len, int isdir)
{
    return create_entry(w, d, name, len, isdir, 0);
}

int iw_rule_delete(inowatch *w, struct iw_dir *d, const char *name, size_t len, int isdir)
{
    /* d's own deletion is further on in this batch (the decoders mark it
     * before applying a buffer): its delete will tell the whole subtree. */
    if (d->node.flags & IW_NODE_DOOMED)
        return 0;
    int err;
    struct iw_node *c = iw_child_get(w, d, name, len, isdir, &err);
    if (!c)
        return err;
    /* A directory where a file was deleted, or the reverse: the model met
     * the newer entry already (a listing or an lstat ahead of the queue),
     * and this delete is about the one before it. Removing the newer
     * entry would drop a directory whose watch another node of the model
     * may need (the same directory met at its old place too). */
    if ((c->type == INOWATCH_TYPE_DIR) != (isdir != 0))
        return 0;
    return emit_delete_and_remove(w, c, 0);
}

/* A directory's deletion, known by the directory itself rather than by a
 * name (fanotify reports its handle): removed wherever the model has it. */
int iw_rule_delete_dir(inowatch *w, struct iw_dir *gone)
{
    struct iw_dir *parent = gone->node.parent;
    if (!parent || (parent->node.flags & IW_NODE_DOOMED))
        return 0; /* a root (its own mark tells), or goes with its parent */
    return emit_delete_and_remove(w, &gone->node, 0);
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
 * inodes on disk at both names tell which. A node made from a hash has no
 * inode to compare: its rename is told as a replace, and a swap as two
 * renames that the end of the read settles (noisier, still exact). */
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
 * rescan needed, unless the model lacks its files: then it is read again,
 * as a directory moved in). */
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
    if (iw_has_unlisted(dst)) {
        iw_node_free_tree(w, dst);
        return r < 0 ? r : iw_rule_create(w, sd, sname, slen, 1);
    }
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
    if (td == iw_as_dir(src) || iw_is_ancestor(src, &td->node))
        return 0; /* the kernel refuses this; the model must not loop */
    int err = 0;
    /* A file kept as a hash is looked for even when a directory arrives:
     * an exchange swaps a directory with a file. */
    struct iw_node *dst = iw_child_get(w, td, name, len, 0, &err);
    if (err < 0)
        return err;
    if (dst == src)
        return 0;
    if (dst && iw_is_ancestor(dst, src)) {
        /* src lies inside the entry it would replace, which no rename can
         * do: the model is behind (a stale or reordered event). The old
         * target goes, src with it, and the disk says what is there. */
        int isdir = src->type == INOWATCH_TYPE_DIR;
        int r = emit_delete_and_remove(w, dst, 0);
        return r < 0 ? r : iw_rule_create(w, td, name, len, isdir);
    }
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
    size_t from_off, from_len;
    int r = iw_path_reserve(w, src, &from_off, &from_len);
    if (r < 0)
        return r;
    src = iw_rename_node(w, src, td, name, len, &err);
    if (!src)
        return err;
    r = iw_emit_rename(w, src, from_off, from_len);
    if (r == 0 && src->type != INOWATCH_TYPE_DIR)
        r = iw_list_add(&w->verify, src);
    return r;
}

int iw_rule_change(inowatch *w, struct iw_dir *d, const char *name, size_t len, int modify,
                   int isdir)
{
    int err;
    struct iw_node *c = iw_child_get(w, d, name, len, isdir, &err);
    if (!c)
        return err; /* excluded, or not known yet: a create will report it */
    if (modify)
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
int iw_rule_file_root(inowatch *w, struct iw_dir *root, int modify, int attrib, int only_data)
{
    int r = modify ? iw_emit(w, INOWATCH_MODIFY, &root->node, 0) : 0;
    if (r == 0 && attrib)
        r = iw_emit(w, INOWATCH_ATTRIB, &root->node, 0);
    /* A write says nothing about the name; anything else (attributes, the
     * link count among them, a move, a delete) may mean another file has
     * it now. */
    if (r < 0 || only_data)
        return r;
    struct stat st;
    if (stat(iw_name(&root->node), &st) < 0 || S_ISDIR(st.st_mode))
        return iw_rule_root_gone(w, root);
    if (st.st_ino == root->node.ino)
        return 0;
    r = iw_emit(w, INOWATCH_DELETE, &root->node, 0);
    root->node.ino = st.st_ino;
    root->node.type = (uint8_t)iw_type_from_mode(st.st_mode);
    if (r == 0)
        r = iw_emit(w, INOWATCH_CREATE, &root->node, 0);
    int fd = open(iw_name(&root->node), O_PATH | O_CLOEXEC);
    if (fd < 0)
        return r < 0 ? r : iw_rule_root_gone(w, root);
    int wd = iw_backend_watch_root(w, fd, 0);
    close(fd);
    if (wd < 0)
        return r < 0 ? r : iw_emit_error(w, &root->node, NULL, 0, -wd);
    iw_wd_unbind(w, root, 1);
    int b = iw_wd_bind(w, root, wd);
    return r < 0 ? r : b;
}


/* An entry moved from from/fname to to/tname. Either directory may be NULL:
 * outside the roots, excluded, or not read yet. A move out is a delete; a
 * move in, or a move whose source the model never knew, is a create (with
 * the directory's contents, scanned at the end of the batch). */
int iw_rule_move(inowatch *w, struct iw_dir *from, const char *fname, size_t flen,
                 struct iw_dir *to, const char *tname, size_t tlen, int isdir)
{
    int err = 0;
    struct iw_node *src = from ? iw_child_get(w, from, fname, flen, isdir, &err) : NULL;
    if (err < 0)
        return err;
    if (!to || to->node.type != INOWATCH_TYPE_DIR)
        return src ? emit_delete_and_remove(w, src, 0) : 0;
    if (!src)
        return create_entry(w, to, tname, tlen, isdir, 1);
    return do_rename(w, src, to, tname, tlen);
}

/* Directories whose watch a listing gave to another node of the model: the
 * same directory, met where it is now, while this node waits where queued
 * renames have not moved it from yet; or a bind mount, one directory at two
 * places. At the end of a batch, a node whose path no longer leads to that
 * directory is dropped, with its delete: kept, it would hold a directory
 * whose watch goes if the other node does (a stale delete can remove it),
 * and nothing would report what changes in it. Its queued events find the
 * other node, or nothing. */
int iw_rule_drop_stale_copies(inowatch *w)
{
    struct iw_nodelist *l = &w->stale;
    while (l->count > 0) {
        struct iw_node *n = l->items[l->count - 1];
        iw_list_drop(l, n);
        if (iw_as_dir(n)->wd >= 0 || !n->ino)
            continue; /* watched again, or nothing to compare */
        struct stat st;
        if (iw_lstat_child(w, n->parent, iw_name(n), n->name_len, &st) == 0 &&
            S_ISDIR(st.st_mode) && st.st_ino == n->ino)
            continue; /* still there too: a bind mount */
        int r = emit_delete_and_remove(w, n, 0);
        if (r < 0)
            return r;
    }
    return 0;
}

int iw_rule_overflow(inowatch *w)
{
    w->overflowed = 1;
    w->stats.overflows++;
    return iw_emit_path(w, INOWATCH_OVERFLOW, INOWATCH_TYPE_NONE, "", 0, 0, 0);
}

/* Makes the model's entry d/name what the disk says: st describes the entry
 * found there, or is NULL when there is none. For a decoder whose events
 * may arrive out of order (fanotify merges a later event into an earlier
 * one), this is the last word on a name the events left in doubt. The
 * caller has made sure that d's path leads to d. */
int iw_rule_settle(inowatch *w, struct iw_dir *d, const char *name, size_t len,
                   const struct stat *st)
{
    int err = 0;
    /* Whatever the model has under the name, a file kept only as a hash
     * (unlisted.c) included, even when a directory is there now: asked for
     * a directory, the hash would stay, and the directory's create would
     * come with no delete of the file before it. */
    struct iw_node *c = iw_child_get(w, d, name, len, 0, &err);
    if (err < 0)
        return err;
    if (!st)
        return c ? emit_delete_and_remove(w, c, 0) : 0;
    int type = iw_type_from_mode(st->st_mode);
    if (c && c->type == type && (!c->ino || c->ino == st->st_ino)) {
        c->ino = st->st_ino;
        return 0;
    }
    if (c) {
        int r = emit_delete_and_remove(w, c, 0);
        if (r < 0)
            return r;
    }
    if (iw_entry_excluded(w, d, name, len, type == INOWATCH_TYPE_DIR))
        return 0;
    c = iw_child_new(w, d, name, len, type, st->st_ino, &err);
    if (!c)
        return err;
    int r = iw_emit(w, INOWATCH_CREATE, c, 0);
    if (r == 0 && type == INOWATCH_TYPE_DIR && !w->no_recursive)
        r = iw_list_add(&w->pending, c);
    return r;
}
