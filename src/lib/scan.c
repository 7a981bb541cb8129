/* scan.c: reading directories into the model.
 *
 * One routine serves three moments: the initial scan of a root (quiet: it
 * is the state at "ready"), a directory that just appeared (every entry
 * found is a create), and the rescan after an overflow (every difference
 * between the model and the disk is an event). In each case the order is
 * the one that closes the new-directory race: open the directory, put the
 * watch on the inode that was opened (through /proc/PID/fd, so a path
 * swapped underneath cannot mislead it), and only then list it. An entry
 * created before the watch is in the listing; one created after it is in
 * the event queue; one created in between is in both, and apply.c drops the
 * second report by comparing inodes. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

/* Directories deeper than this are reopened by path instead of keeping
 * their ancestors' fds open, so a deep tree cannot exhaust RLIMIT_NOFILE. */
#define IW_MAX_OPEN_DEPTH 32

/* During a rescan, the kernel queue is drained into our buffer every this
 * many directories, so that a long rescan does not overflow it again. */
#define IW_DRAIN_EVERY 64


int iw_type_from_mode(unsigned mode)
{
    switch (mode & S_IFMT) {
    case S_IFDIR:
        return INOWATCH_TYPE_DIR;
    case S_IFREG:
        return INOWATCH_TYPE_FILE;
    case S_IFLNK:
        return INOWATCH_TYPE_SYMLINK;
    default:
        return INOWATCH_TYPE_OTHER;
    }
}

int iw_type_from_dtype(unsigned char t)
{
    switch (t) {
    case DT_DIR:
        return INOWATCH_TYPE_DIR;
    case DT_REG:
        return INOWATCH_TYPE_FILE;
    case DT_LNK:
        return INOWATCH_TYPE_SYMLINK;
    case DT_UNKNOWN:
        return INOWATCH_TYPE_NONE;
    default:
        return INOWATCH_TYPE_OTHER;
    }
}

int iw_entry_excluded_by(const inowatch *w, const struct iw_dir *parent, const char *name,
                         size_t len, int is_dir)
{
    if (!iw_excludes_need_relpath(w->excludes))
        return iw_excluded(w->excludes, name, len, NULL, 0, is_dir);
    inowatch *mw = (inowatch *)w; /* relbuf is scratch space, not state */
    size_t base = iw_relpath_len(&parent->node);
    size_t total = base + (base ? 1 : 0) + len;
    if (iw_grow(&mw->relbuf, &mw->relbuf_cap, total + 1, 1) < 0)
        return 0;
    iw_relpath_write(&parent->node, mw->relbuf, base);
    size_t at = base;
    if (base)
        mw->relbuf[at++] = '/';
    memcpy(mw->relbuf + at, name, len);
    mw->relbuf[total] = '\0';
    return iw_excluded(w->excludes, name, len, mw->relbuf, total, is_dir);
}

/* Opens a directory of the model by its path. A path longer than PATH_MAX
 * cannot be given to open(), so then the nearest ancestor whose path fits
 * is opened and the rest is walked down with openat(), one name at a time.
 * Roots are opened following symlinks (the user named them); everything
 * below with O_NOFOLLOW, as inotify and getdents see it. */
int iw_open_dir(inowatch *w, const struct iw_dir *d, int flags)
{
    flags |= O_DIRECTORY | O_CLOEXEC;
    if (iw_path_len(&d->node) < PATH_MAX) {
        char *path;
        int r = iw_scratch_path(w, &d->node, NULL, 0, &path);
        if (r < 0)
            return r;
        int fd = open(path, flags | (d->node.parent ? O_NOFOLLOW : 0));
        return fd < 0 ? -errno : fd;
    }
    int pfd = iw_open_dir(w, d->node.parent, O_PATH);
    if (pfd < 0)
        return pfd;
    int fd = openat(pfd, iw_name(&d->node), flags | O_NOFOLLOW);
    int err = errno;
    close(pfd);
    return fd < 0 ? -err : fd;
}

int iw_lstat_child(inowatch *w, const struct iw_dir *parent, const char *name, size_t len,
                   struct stat *st)
{
    int fd = iw_dirfd_for_stat(w, parent);
    if (fd >= 0 && len <= NAME_MAX) {
        char nm[NAME_MAX + 1];
        memcpy(nm, name, len);
        nm[len] = '\0';
        return fstatat(fd, nm, st, AT_SYMLINK_NOFOLLOW) < 0 ? -errno : 0;
    }
    char *path;
    int r = iw_scratch_path(w, &parent->node, name, len, &path);
    if (r < 0)
        return r;
    if (r < PATH_MAX)
        return fstatat(AT_FDCWD, path, st, AT_SYMLINK_NOFOLLOW) < 0 ? -errno : 0;
    fd = iw_open_dir(w, parent, O_PATH);
    if (fd < 0)
        return fd;
    r = fstatat(fd, name, st, AT_SYMLINK_NOFOLLOW) < 0 ? -errno : 0;
    close(fd);
    return r;
}

static int ts_after(const struct timespec *a, const struct timespec *b)
{
    return a->tv_sec > b->tv_sec || (a->tv_sec == b->tv_sec && a->tv_nsec >= b->tv_nsec);
}

/* After an overflow, a file that is still there may have been written while
 * its events were lost: its times say so (see rescan_since in watcher.c). */
static int report_lost_changes(inowatch *w, struct iw_node *n, int dirfd)
{
    struct stat st;
    if (fstatat(dirfd, iw_name(n), &st, AT_SYMLINK_NOFOLLOW) < 0)
        return 0; /* gone again: its delete event is queued */
    if (n->type != INOWATCH_TYPE_DIR && ts_after(&st.st_mtim, &w->rescan_since))
        return iw_emit(w, INOWATCH_MODIFY, n, 0);
    if (ts_after(&st.st_ctim, &w->rescan_since) && !ts_after(&st.st_mtim, &w->rescan_since))
        return iw_emit(w, INOWATCH_ATTRIB, n, 0);
    return 0;
}

/* A regular file met by a quiet scan of the directories-only model: only
 * its name's hash is kept (unlisted.c), once the listing is complete. */
static int keep_unlisted(inowatch *w, const struct iw_dir *d, const char *name, size_t len)
{
    if (iw_entry_excluded(w, d, name, len, 0))
        return 0;
    int r = iw_grow(&w->hashes, &w->hashes_cap, w->nhashes + 1, sizeof(*w->hashes));
    if (r < 0)
        return r;
    w->hashes[w->nhashes++] = iw_hash_name(name, len);
    return 0;
}

/* What the model already has under an entry's name: 1 when it is that
 * entry (marked seen), 0 when the entry is new to the model (a different
 * one that had the name is gone, and reported so), or a negative errno. */
static int match_known(inowatch *w, struct iw_dir *d, int fd, const struct dirent64 *e,
                       size_t len, int type, enum iw_scan_mode mode)
{
    struct iw_node *c = iw_child_find(d, e->d_name, len);
    if (!c && d->unlisted && iw_unlisted_has(d, e->d_name, len)) {
        if (type == INOWATCH_TYPE_FILE)
            return 1; /* listed before, kept as a hash: the same file */
        int err = 0; /* the listed file is gone: another kind of entry has its name */
        c = iw_child_get(w, d, e->d_name, len, 0, &err);
        if (err < 0)
            return err;
    }
    if (c && c->type == type && (c->ino == 0 || c->ino == e->d_ino)) {
        c->flags |= IW_NODE_SEEN;
        if (!c->ino)
            c->ino = e->d_ino;
        int r = w->rescanning ? report_lost_changes(w, c, fd) : 0;
        return r < 0 ? r : 1;
    }
    if (c) { /* same name, another entry: the old one is gone */
        int r = mode == IW_SCAN_EMIT ? iw_emit(w, INOWATCH_DELETE, c, 0) : 0;
        iw_remove_subtree(w, c);
        if (r < 0)
            return r;
    }
    return 0;
}

/* One entry of a listing: matches it against the model and records what
 * changed. In a fresh listing (the model had nothing in d) every entry is
 * new: there is nothing to match, and nothing left to sweep afterwards. */
static int list_entry(inowatch *w, struct iw_dir *d, int fd, const struct dirent64 *e,
                      enum iw_scan_mode mode, int fresh)
{
    const char *name = e->d_name;
    int type = iw_type_from_dtype(e->d_type);
    if (type == INOWATCH_TYPE_NONE) { /* filesystems without d_type */
        struct stat st;
        if (fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
            return 0; /* vanished: its delete event is queued */
        type = iw_type_from_mode(st.st_mode);
    }
    size_t len = strlen(name);
    if (type == INOWATCH_TYPE_FILE && mode == IW_SCAN_QUIET && iw_dirs_only(w))
        return keep_unlisted(w, d, name, len);
    if (!fresh) {
        int known = match_known(w, d, fd, e, len, type, mode);
        if (known != 0)
            return known < 0 ? known : 0;
    }
    if (iw_entry_excluded(w, d, name, len, type == INOWATCH_TYPE_DIR))
        return 0;
    int err = 0;
    struct iw_node *c = iw_child_new(w, d, name, len, type, e->d_ino, &err);
    if (!c)
        return err;
    if (!fresh)
        c->flags |= IW_NODE_SEEN;
    return mode == IW_SCAN_EMIT ? iw_emit(w, INOWATCH_CREATE, c, 0) : 0;
}

/* Sizes d's child table for the n bytes of entries just read, so that a
 * fresh listing inserts without rehashing. Not for a quiet listing of the
 * directories-only model, whose files do not become nodes. */
static int reserve_for(inowatch *w, struct iw_dir *d, ssize_t n, enum iw_scan_mode mode)
{
    if (mode == IW_SCAN_QUIET && iw_dirs_only(w))
        return 0;
    size_t count = 0;
    for (ssize_t off = 0; off < n; off += ((const struct dirent64 *)(w->dents + off))->d_reclen)
        count++;
    return iw_child_reserve(w, d, count);
}

/* Entries of the model that the listing did not find are gone. */
static int sweep_unseen(inowatch *w, struct iw_dir *d, enum iw_scan_mode mode)
{
    size_t ngone = 0;
    for (uint32_t i = 0; i < d->cap; i++) {
        struct iw_node *c = d->slots[i];
        if (!c)
            continue;
        if (c->flags & IW_NODE_SEEN) {
            c->flags &= (uint8_t)~IW_NODE_SEEN;
            continue;
        }
        int r = iw_grow(&w->gone, &w->gone_cap, ngone + 1, sizeof(*w->gone));
        if (r < 0)
            return r;
        w->gone[ngone++] = c;
    }
    int err = 0;
    for (size_t i = 0; i < ngone; i++) {
        int r = mode == IW_SCAN_EMIT ? iw_emit(w, INOWATCH_DELETE, w->gone[i], 0) : 0;
        if (r < 0 && !err)
            err = r;
        iw_remove_subtree(w, w->gone[i]);
    }
    return err;
}

/* Marks every child of d seen: a fresh listing turning into a matched one. */
static void mark_all_seen(struct iw_dir *d)
{
    for (uint32_t i = 0; i < d->cap; i++)
        if (d->slots[i])
            d->slots[i]->flags |= IW_NODE_SEEN;
}

/* The longest entry getdents64 can return: header, NAME_MAX bytes of name
 * and its terminator, rounded up to 8 bytes. */
#define IW_DIRENT_MAX ((offsetof(struct dirent64, d_name) + NAME_MAX + 1 + 7) & ~(size_t)7)

/* Whether a getdents64 call that returned n bytes, `last` the last entry,
 * ended the listing. The call after the end returns 0; it costs a syscall
 * per directory (0.4 us here, 2 ms of an untar of the kernel tree), which
 * the filesystem can spare us: the last entry's d_off is where a next call
 * would begin, and at the end ext4's hashed directories put INT64_MAX
 * there (INT32_MAX for 32-bit callers), btrfs INT32_MAX (INT64_MAX past
 * it), tmpfs and sysfs INT32_MAX. A filesystem that fills less
 * than the buffer per call (FUSE fills a page) might pass such a value on
 * as an ordinary position, so the call must also have stopped with room to
 * spare for an entry with the longest name. Entries made after the call are
 * not lost either way: the watch is already in place. */
int iw_listing_ended(const inowatch *w, ssize_t n, const struct dirent64 *last)
{
    if ((size_t)n + IW_DIRENT_MAX > w->dents_cap)
        return 0;
    return last->d_off == INT64_MAX || last->d_off == INT32_MAX;
}

/* Lists d into the model. A directory the model has nothing in (a new one,
 * or any at start-up) is listed fresh: its entries are inserted as they
 * come, with no lookup, no seen-marks and no sweep. That is only sound
 * within one getdents64 call, which holds the directory's lock, so that no
 * name comes twice; between calls a name may be removed and made again and
 * be listed twice. So a listing that takes a second call matches from then
 * on, as a listing of a known directory does. */
static int list_dir(inowatch *w, struct iw_dir *d, int fd, enum iw_scan_mode mode)
{
    w->nhashes = 0;
    int fresh = d->count == 0 && !d->unlisted, first = 1;
    for (;;) {
        ssize_t n = getdents64(fd, w->dents, w->dents_cap);
        int r = n < 0 ? -errno : 0;
        if (r == -EINTR)
            continue;
        if (r == 0 && n > 0 && fresh && !first) {
            mark_all_seen(d);
            fresh = 0;
        }
        if (r == 0 && n > 0 && fresh)
            r = reserve_for(w, d, n, mode);
        if (r < 0) {
            if (!fresh)
                sweep_unseen(w, d, IW_SCAN_QUIET); /* keep the flags clean */
            return r;
        }
        if (n == 0)
            break;
        first = 0;
        const struct dirent64 *e = NULL;
        for (ssize_t off = 0; off < n;) {
            e = (const void *)(w->dents + off);
            off += e->d_reclen;
            if (e->d_name[0] == '.' &&
                (e->d_name[1] == '\0' || (e->d_name[1] == '.' && e->d_name[2] == '\0'))) {
                /* "." is d itself: a directory known by its create event
                 * learns its inode here rather than by an fstat (one per
                 * new directory: 5,000 in an untar of the kernel). */
                if (e->d_name[1] == '\0' && !d->node.ino)
                    d->node.ino = e->d_ino;
                continue;
            }
            r = list_entry(w, d, fd, e, mode, fresh);
            if (r < 0) {
                if (!fresh)
                    sweep_unseen(w, d, IW_SCAN_QUIET);
                return r;
            }
        }
        if (iw_listing_ended(w, n, e))
            break;
    }
    int r = fresh ? 0 : sweep_unseen(w, d, mode);
    if (r == 0 && w->nhashes)
        r = iw_unlisted_set(w, d, w->hashes, w->nhashes);
    return r;
}

/* Puts d's watch on the directory open at fd. Returns 0, IW_SCAN_GONE when
 * d must not be descended into (a bind mount of one of its own ancestors),
 * or a negative errno for a failure the caller reports. */
static int watch_dir(inowatch *w, struct iw_dir *d, int fd)
{
    if (w->limit_hit) {
        w->stats.watches_missing++;
        return 0;
    }
    int wd = iw_backend_watch_fd(w, fd, 1);
    if (wd == -ENOSPC) {
        /* The watch limit: report it once, then keep scanning so that the
         * model (and the count of missing watches) is complete. */
        w->limit_hit = 1;
        w->stats.watches_missing++;
        return iw_emit_error(w, &d->node, NULL, 0, ENOSPC);
    }
    if (wd < 0)
        return iw_emit_error(w, &d->node, NULL, 0, -wd);
    struct iw_dir *owner = iw_wd_find(&w->wds, wd);
    if (owner && owner != d && iw_is_ancestor(&owner->node, &d->node)) {
        int r = iw_emit_error(w, &d->node, NULL, 0, ELOOP);
        return r < 0 ? r : IW_SCAN_GONE;
    }
    return iw_wd_bind(w, d, wd);
}

static int open_failed(inowatch *w, struct iw_dir *d, int err)
{
    if (err == -ENOENT || err == -ENOTDIR || err == -ELOOP)
        return IW_SCAN_GONE;
    return iw_emit_error(w, &d->node, NULL, 0, -err);
}

static int drain_during_rescan(inowatch *w)
{
    if (!w->rescanning || ++w->rescan_dirs % IW_DRAIN_EVERY)
        return 0;
    int r = iw_backend_read_more(w, 0);
    return r == -ENOMEM ? r : 0;
}

/* Opens d for listing. O_NOATIME: a watcher that only looks must not write
 * anything back. Without it, a listing after the directory changed
 * updates its atime (relatime), and each update dirties the inode for the
 * journal: about a tenth of the watcher's CPU while a tree is untarred
 * into it, and a write per directory when a tree not read for a day is
 * first scanned. The kernel allows the flag only to the directory's owner
 * (or CAP_FOWNER); the first refusal turns it off for the watcher, so that
 * a tree owned by others costs one extra open, not one per directory. */
static int open_for_listing(inowatch *w, const struct iw_dir *d, int parent_fd)
{
    for (;;) {
        int flags = O_RDONLY | (w->noatime_refused ? 0 : O_NOATIME);
        int fd = parent_fd >= 0 ? openat(parent_fd, iw_name(&d->node),
                                         flags | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
                                : iw_open_dir(w, d, flags);
        if (parent_fd >= 0 && fd < 0)
            fd = -errno;
        if (fd != -EPERM || w->noatime_refused)
            return fd;
        w->noatime_refused = 1;
    }
}

int iw_open_listing(inowatch *w, const struct iw_dir *d)
{
    return open_for_listing(w, d, -1);
}

static int scan_dir(inowatch *w, struct iw_dir *d, int parent_fd, enum iw_scan_mode mode,
                    unsigned depth)
{
    int fd = open_for_listing(w, d, parent_fd);
    if (fd < 0)
        return open_failed(w, d, fd);
    int r = watch_dir(w, d, fd);
    if (r == 0)
        r = list_dir(w, d, fd, mode);
    if (r == 0 && !d->node.ino) { /* a filesystem whose listing has no "." */
        struct stat st;
        if (fstat(fd, &st) == 0)
            d->node.ino = st.st_ino;
    }
    if (r == -ENOENT) /* deleted while we listed it: its delete is queued */
        r = IW_SCAN_GONE;
    if (r == 0)
        r = drain_during_rescan(w);
    if (r != 0) {
        close(fd);
        if (r == IW_SCAN_GONE)
            return 0;
        if (r == -ENOMEM)
            return r;
        return iw_emit_error(w, &d->node, NULL, 0, -r);
    }
    if (w->no_recursive && (depth > 0 || !d->node.parent)) {
        close(fd);
        return 0;
    }
    if (depth >= IW_MAX_OPEN_DEPTH) {
        close(fd);
        fd = -1;
    }
    /* Children are only added to d by the listing above: the table is
     * stable while we descend. The count of subdirectories ends the walk
     * of the table early (at once in a directory of files only): each
     * slot looked at is a node read from memory, cold in a big tree. */
    uint32_t left = d->subdirs;
    for (uint32_t i = 0; i < d->cap && left > 0 && r >= 0; i++) {
        struct iw_dir *c = d->slots[i] ? iw_as_dir(d->slots[i]) : NULL;
        if (!c || c->node.type != INOWATCH_TYPE_DIR)
            continue;
        left--;
        r = scan_dir(w, c, fd, mode, depth + 1);
        /* Listed, then gone before it could be opened: renamed or deleted
         * in between. The event saying which is queued on d's watch; until
         * it is applied, c is a directory nobody has read. It waits on the
         * pending list, to be read at its new path (or dropped with its
         * delete); left unlisted, whatever it holds would never be
         * reported. */
        if (r == IW_SCAN_GONE)
            r = iw_list_add(&w->pending, &c->node);
    }
    if (fd >= 0)
        close(fd);
    return r < 0 ? r : 0;
}

/* Scans d and everything below it. Returns 0, IW_SCAN_GONE when d itself
 * could not be opened because it vanished or changed type, or a fatal
 * negative errno (-ENOMEM). Other problems become error events. */
int iw_scan_tree(inowatch *w, struct iw_dir *d, int parent_fd, enum iw_scan_mode mode)
{
    return scan_dir(w, d, parent_fd, mode, 0);
}

/* Directories that appeared (or were disturbed) during the batch. One whose
 * path no longer leads to it stays pending: the event that explains why
 * (its delete, or the rename of an ancestor) is queued, and the next batch
 * either removes it or gives it its new path. */
int iw_scan_pending(inowatch *w)
{
    struct iw_nodelist *l = &w->pending;
    int err = 0;
    /* A scan can free other listed nodes (a listing that finds an entry
     * replaced drops its subtree), so positions are looked up again after
     * each scan; the nodes before position i are the ones kept. */
    for (size_t i = 0; i < l->count && !err;) {
        struct iw_node *n = l->items[i];
        int r = iw_scan_tree(w, (struct iw_dir *)n, -1, IW_SCAN_EMIT);
        if (r == IW_SCAN_GONE) {
            int c = iw_root_check(w, n); /* may drop n with its root */
            if (c < 0)
                r = c;
        }
        if (r < 0)
            err = r;
        size_t at = 0;
        while (at < l->count && l->items[at] != n)
            at++;
        if (at == l->count) {
            i = at < i ? at : i; /* n itself was dropped: nothing to keep */
        } else if (r == IW_SCAN_GONE) {
            i = at + 1;
        } else {
            iw_list_drop(l, n);
            i = at;
        }
    }
    return err;
}

/* Entries whose type or inode the model may have wrong: one created and
 * renamed (or replaced) before its IN_CREATE was read was lstat'ed under a
 * name that no longer led to it. Now that the batch's renames are applied,
 * the disk is asked again; a mismatch is corrected with delete + create. */
int iw_verify_renamed(inowatch *w)
{
    struct iw_nodelist *l = &w->verify;
    for (size_t i = 0; i < l->count;) {
        struct iw_node *n = l->items[i];
        struct iw_dir *d = n->parent;
        struct stat st;
        if (!d || iw_lstat_child(w, d, iw_name(n), n->name_len, &st) < 0) {
            i++; /* its path is stale or it is gone: a queued event says which */
            continue;
        }
        /* The disk has the last word (iw_rule_settle): the same entry
         * learns its inode; another one replaces it, delete + create. */
        char name[256];
        size_t len = n->name_len;
        memcpy(name, iw_name(n), len); /* n may be freed by the settling */
        iw_list_drop(l, n);
        int r = iw_rule_settle(w, d, name, len, &st);
        if (r < 0)
            return r;
    }
    return 0;
}

/* After an overflow: every root is listed again and compared with the
 * model, reporting every difference. */
int iw_rescan_all(inowatch *w)
{
    w->rescanning = 1;
    w->rescan_dirs = 0;
    int err = 0;
    for (size_t i = 0; i < w->nroots && !err; i++) {
        struct iw_dir *root = w->roots[i];
        if (root->node.type != INOWATCH_TYPE_DIR) {
            struct stat st;
            if (stat(iw_name(&root->node), &st) == 0 && ts_after(&st.st_mtim, &w->rescan_since))
                err = iw_emit(w, INOWATCH_MODIFY, &root->node, 0);
            continue;
        }
        int r = iw_scan_tree(w, root, -1, IW_SCAN_EMIT);
        if (r < 0)
            err = r;
    }
    w->rescanning = 0;
    return err;
}
