/* backend_fanotify.c: fanotify's side of the backend.
 *
 * One FAN_MARK_FILESYSTEM mark per filesystem replaces inotify's watch per
 * directory: the kernel reports every change on that filesystem, naming the
 * directory by its file handle and the entry by its name. So "watching" a
 * directory here is only learning its handle (name_to_handle_at on the fd
 * the scan opened) and giving it a number that plays the part of inotify's
 * wd: the rest of the library (the wd map, ownership moving to the newest
 * scan, unwatching a removed subtree) works unchanged. Events for handles
 * nobody registered (other directories of the filesystem, excluded ones,
 * ones not read yet) are dropped by the decoder.
 *
 * Handles are compared as bytes together with the filesystem id: two
 * filesystems may hand out the same handle bytes. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fanotify.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "internal.h"

#ifndef AT_HANDLE_FID
#define AT_HANDLE_FID AT_REMOVEDIR /* Linux 6.5: the handle fanotify itself uses */
#endif

/* fsid, then the handle's type, then its bytes. */
#define IW_FSID_LEN 8
#define IW_KEY_MAX (IW_FSID_LEN + sizeof(int) + MAX_HANDLE_SZ)

struct iw_handle {
    uint32_t hash;
    int wd;
    uint16_t len;
    unsigned char key[];
};

/* A slot of the handle table: the hash and the wd (0: empty), so that a
 * probe reads the table alone; the entry (by_wd[wd - 1]) is read only when
 * the hash matches. Inserting 200,000 directories at a scan, a probe that
 * followed a pointer per slot was a cache miss each. */
struct iw_slot {
    uint32_t hash;
    int wd;
};

struct iw_mount {
    int mnt_id;
    unsigned char fsid[IW_FSID_LEN];
};

struct iw_fanotify {
    struct iw_slot *slots; /* open addressing by key hash */
    uint32_t cap, count;
    struct iw_handle **by_wd; /* wd - 1 -> entry; NULL when free */
    size_t nwd, wd_cap;
    int *free_wds; /* numbers given back, reused first */
    size_t nfree, free_cap;
    struct iw_mount *mounts; /* mount ids seen, with their filesystem */
    size_t nmounts, mounts_cap;
    unsigned char (*marked)[IW_FSID_LEN]; /* filesystems with our mark */
    int *marked_fd; /* for each, its mount's root, open (open_by_handle_at), or -1 */
    size_t nmarked, marked_cap, marked_fd_cap;
    int file_roots; /* a file's own handle was registered (a single-file root) */
};

/* What a filesystem mark asks for. FAN_RENAME reports both names of a
 * rename in one event (no pairing by cookie, as inotify needs). FAN_ONDIR:
 * directories' own events too. Not FAN_DELETE_SELF and FAN_MOVE_SELF: on
 * the whole filesystem they would double the events of every rm -rf, and
 * only a root's own are needed (an inode mark on each root asks for them,
 * iw_fanotify_watch_root). */
static uint64_t mark_mask(const inowatch *w)
{
    uint64_t m = FAN_CREATE | FAN_DELETE | FAN_RENAME | FAN_ATTRIB | FAN_ONDIR;
    if (w->events_wanted & INOWATCH_MODIFY)
        m |= FAN_MODIFY;
    return m;
}

/* FAN_UNLIMITED_QUEUE: a filesystem mark queues the events of the whole
 * filesystem, everyone's, and on a busy one a bounded queue (16384 events)
 * would overflow for changes that are not ours, each time costing a rescan
 * of the whole tree. Unbounded, the queue holds kernel memory (charged to
 * the watcher's memory cgroup) only while the watcher lags, and events
 * outside the tree cost one handle lookup each to drop.
 * FAN_REPORT_DFID_NAME: the directory's handle and the entry's name.
 * FAN_REPORT_FID + FAN_REPORT_TARGET_FID: the entry's own handle too. That
 * one matters beyond file roots: the kernel merges an event into an
 * earlier queued one about the same directory, name and object, so without
 * the object's handle a create of a new file could vanish into the create
 * of an older file of the same name (decode_fanotify.c has the rest). */
#define IW_FAN_INIT_FLAGS                                                                   \
    (FAN_CLASS_NOTIF | FAN_CLOEXEC | FAN_NONBLOCK | FAN_REPORT_DFID_NAME_TARGET |             \
     FAN_UNLIMITED_QUEUE)

/* Asks the kernel what this process may do before committing to fanotify:
 * a filesystem mark needs CAP_SYS_ADMIN (a flush of filesystem marks is
 * refused without it and touches nothing), and FAN_RENAME Linux 5.17 (an
 * inode mark on "/" with it is refused before; removed at once). */
static int probe(int fd)
{
    if (fanotify_mark(fd, FAN_MARK_FLUSH | FAN_MARK_FILESYSTEM, 0, AT_FDCWD, NULL) < 0)
        return -errno;
    if (fanotify_mark(fd, FAN_MARK_ADD | FAN_MARK_ONLYDIR, FAN_RENAME | FAN_ONDIR, AT_FDCWD, "/") < 0)
        return -errno;
    fanotify_mark(fd, FAN_MARK_REMOVE | FAN_MARK_ONLYDIR, FAN_RENAME | FAN_ONDIR, AT_FDCWD, "/");
    return 0;
}

int iw_fanotify_init(inowatch *w)
{
    int fd = fanotify_init(IW_FAN_INIT_FLAGS, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    int r = probe(fd);
    if (r == 0) {
        w->fan = calloc(1, sizeof(*w->fan));
        if (!w->fan)
            r = -ENOMEM;
    }
    if (r < 0) {
        close(fd);
        return r;
    }
    return fd;
}

void iw_fanotify_free(inowatch *w)
{
    struct iw_fanotify *f = w->fan;
    if (!f)
        return;
    for (size_t i = 0; i < f->nwd; i++)
        free(f->by_wd[i]);
    free(f->slots);
    free(f->by_wd);
    free(f->free_wds);
    free(f->mounts);
    for (size_t i = 0; i < f->nmarked; i++)
        if (f->marked_fd[i] >= 0)
            close(f->marked_fd[i]);
    free(f->marked);
    free(f->marked_fd);
    free(f);
    w->fan = NULL;
}

/* ---- the handle table ---------------------------------------------------- */

static uint32_t key_hash(const unsigned char *key, size_t len)
{
    return iw_hash_name((const char *)key, len);
}

static size_t key_make(unsigned char *key, const void *fsid, int type, const void *bytes,
                       size_t nbytes)
{
    memcpy(key, fsid, IW_FSID_LEN);
    memcpy(key + IW_FSID_LEN, &type, sizeof(type));
    memcpy(key + IW_FSID_LEN + sizeof(type), bytes, nbytes);
    return IW_FSID_LEN + sizeof(type) + nbytes;
}

static uint32_t slot_of(const struct iw_fanotify *f, const unsigned char *key, size_t len,
                        uint32_t hash)
{
    uint32_t mask = f->cap - 1, i = hash & mask;
    for (; f->slots[i].wd; i = (i + 1) & mask) {
        if (f->slots[i].hash != hash)
            continue;
        const struct iw_handle *e = f->by_wd[f->slots[i].wd - 1];
        if (e->len == len && memcmp(e->key, key, len) == 0)
            break;
    }
    return i;
}

static int table_grow(struct iw_fanotify *f)
{
    uint32_t ncap = f->cap ? f->cap * 2 : 256;
    struct iw_slot *ns = calloc(ncap, sizeof(*ns));
    if (!ns)
        return -ENOMEM;
    for (uint32_t i = 0; i < f->cap; i++) {
        if (!f->slots[i].wd)
            continue;
        uint32_t j = f->slots[i].hash & (ncap - 1);
        while (ns[j].wd)
            j = (j + 1) & (ncap - 1);
        ns[j] = f->slots[i];
    }
    free(f->slots);
    f->slots = ns;
    f->cap = ncap;
    return 0;
}

/* Backward-shift deletion: no tombstones, however much churn. */
static void table_remove(struct iw_fanotify *f, uint32_t i)
{
    uint32_t mask = f->cap - 1;
    for (uint32_t j = (i + 1) & mask; f->slots[j].wd; j = (j + 1) & mask) {
        uint32_t home = f->slots[j].hash & mask;
        int stays = (i <= j) ? (home > i && home <= j) : (home > i || home <= j);
        if (!stays) {
            f->slots[i] = f->slots[j];
            i = j;
        }
    }
    f->slots[i].wd = 0;
    f->count--;
}

static int wd_take(struct iw_fanotify *f)
{
    if (f->nfree)
        return f->free_wds[--f->nfree];
    int r = iw_grow(&f->by_wd, &f->wd_cap, f->nwd + 1, sizeof(*f->by_wd));
    if (r < 0)
        return r;
    f->by_wd[f->nwd++] = NULL;
    return (int)f->nwd; /* wds start at 1, as inotify's do */
}

static int handle_add(struct iw_fanotify *f, const unsigned char *key, size_t len)
{
    uint32_t hash = key_hash(key, len);
    if (f->cap) {
        uint32_t i = slot_of(f, key, len, hash);
        if (f->slots[i].wd)
            return f->slots[i].wd; /* known: the same directory */
    }
    if ((f->count + 1) * 4 > f->cap * 3 && table_grow(f) < 0)
        return -ENOMEM;
    /* Room for the wd's free list to take it back without allocating. */
    if (iw_grow(&f->free_wds, &f->free_cap, f->nwd + 1, sizeof(*f->free_wds)) < 0)
        return -ENOMEM;
    struct iw_handle *e = malloc(sizeof(*e) + len);
    if (!e)
        return -ENOMEM;
    int wd = wd_take(f);
    if (wd < 0) {
        free(e);
        return wd;
    }
    e->hash = hash;
    e->wd = wd;
    e->len = (uint16_t)len;
    memcpy(e->key, key, len);
    f->by_wd[wd - 1] = e;
    f->slots[slot_of(f, key, len, hash)] = (struct iw_slot){hash, wd};
    f->count++;
    return wd;
}

/* The table's key for a handle as an event record carries it. Returns its
 * length, or 0 for a handle no filesystem makes. */
static size_t record_key(unsigned char *key, const void *fsid, const void *fh)
{
    struct file_handle h;
    memcpy(&h, fh, sizeof(h)); /* records are only 4-byte aligned */
    if (h.handle_bytes > MAX_HANDLE_SZ)
        return 0;
    return key_make(key, fsid, h.handle_type, (const unsigned char *)fh + sizeof(h),
                    h.handle_bytes);
}

int iw_fanotify_wd(const inowatch *w, const void *fsid, const void *fh)
{
    const struct iw_fanotify *f = w->fan;
    unsigned char key[IW_KEY_MAX];
    size_t len = f->count ? record_key(key, fsid, fh) : 0;
    if (!len)
        return -1;
    uint32_t i = slot_of(f, key, len, key_hash(key, len));
    return f->slots[i].wd ? f->slots[i].wd : -1;
}

int iw_fanotify_adopt(inowatch *w, const void *fsid, const void *fh)
{
    unsigned char key[IW_KEY_MAX];
    size_t len = record_key(key, fsid, fh);
    return len ? handle_add(w->fan, key, len) : -EINVAL;
}

void iw_fanotify_unwatch(inowatch *w, int wd)
{
    struct iw_fanotify *f = w->fan;
    if (wd < 1 || (size_t)wd > f->nwd || !f->by_wd[wd - 1])
        return;
    struct iw_handle *e = f->by_wd[wd - 1];
    table_remove(f, slot_of(f, e->key, e->len, e->hash));
    f->by_wd[wd - 1] = NULL;
    f->free_wds[f->nfree++] = wd; /* room was made when it was given out */
    free(e);
}

/* ---- marks: one per filesystem ------------------------------------------- */

/* The index of the filesystem in the marked list, or -1. */
static int fs_marked(const struct iw_fanotify *f, const unsigned char *fsid)
{
    for (size_t i = 0; i < f->nmarked; i++)
        if (memcmp(f->marked[i], fsid, IW_FSID_LEN) == 0)
            return (int)i;
    return -1;
}

/* Undoes the octal escapes of a mountinfo field (\040 for a space...). */
static void unescape(char *s)
{
    char *o = s;
    for (; *s; s++) {
        if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' &&
            s[3] >= '0' && s[3] <= '7') {
            *o++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
            s += 3;
        } else {
            *o++ = *s;
        }
    }
    *o = '\0';
}

/* An fd on the root of mount mnt_id, for open_by_handle_at(), or -1. Not
 * an fd on a watched directory: held open, a directory's inode outlives
 * its rmdir, and its deletion would never be reported. Not O_PATH either:
 * open_by_handle_at() refuses an O_PATH mount fd with EBADF, and every
 * new directory would then be scanned instead of registered from its
 * create event (correct, but slower, and an attrib of the directory read
 * in the same batch as its create was lost with its unknown handle). */
static int open_mount_root(int mnt_id)
{
    FILE *m = fopen("/proc/self/mountinfo", "re");
    if (!m)
        return -1;
    char *line = NULL;
    size_t cap = 0;
    int fd = -1;
    while (fd < 0 && getline(&line, &cap, m) > 0) {
        int id;
        char point[4096];
        /* id parent major:minor root mount-point ... */
        if (sscanf(line, "%d %*d %*s %*s %4095s", &id, point) < 2 || id != mnt_id)
            continue;
        unescape(point);
        fd = open(point, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    }
    free(line);
    fclose(m);
    return fd;
}

/* The filesystem of the mount fd is on, marked if it is not yet. A mount
 * met again costs nothing; a new mount of a known filesystem (a bind
 * mount) only a statfs. */
static int mount_fsid(inowatch *w, int fd, int mnt_id, unsigned char *fsid)
{
    struct iw_fanotify *f = w->fan;
    for (size_t i = 0; i < f->nmounts; i++) {
        if (f->mounts[i].mnt_id == mnt_id) {
            memcpy(fsid, f->mounts[i].fsid, IW_FSID_LEN);
            return 0;
        }
    }
    struct statfs sfs;
    if (fstatfs(fd, &sfs) < 0)
        return -errno;
    memcpy(fsid, &sfs.f_fsid, IW_FSID_LEN);
    if (fs_marked(f, fsid) < 0) {
        int r = iw_grow(&f->marked, &f->marked_cap, f->nmarked + 1, sizeof(*f->marked));
        if (r == 0)
            r = iw_grow(&f->marked_fd, &f->marked_fd_cap, f->nmarked + 1, sizeof(int));
        if (r < 0)
            return r;
        char link[IW_FD_LINK_MAX];
        iw_fd_link(link, IW_FD_PREFIX_SELF, fd); /* O_PATH fds too */
        if (fanotify_mark(w->fd, FAN_MARK_ADD | FAN_MARK_FILESYSTEM, mark_mask(w), AT_FDCWD,
                          link) < 0)
            return -errno;
        f->marked_fd[f->nmarked] = open_mount_root(mnt_id);
        memcpy(f->marked[f->nmarked++], fsid, IW_FSID_LEN);
    }
    int r = iw_grow(&f->mounts, &f->mounts_cap, f->nmounts + 1, sizeof(*f->mounts));
    if (r < 0)
        return r;
    f->mounts[f->nmounts].mnt_id = mnt_id;
    memcpy(f->mounts[f->nmounts++].fsid, fsid, IW_FSID_LEN);
    return 0;
}

/* The handle of what is open at fd, as fanotify will report it. */
static int handle_of(int fd, struct file_handle *fh, int *mnt_id)
{
    fh->handle_bytes = MAX_HANDLE_SZ;
    if (name_to_handle_at(fd, "", fh, mnt_id, AT_EMPTY_PATH | AT_HANDLE_FID) == 0)
        return 0;
    if (errno != EINVAL)
        return -errno;
    fh->handle_bytes = MAX_HANDLE_SZ; /* before 6.5: the plain handle, the same bytes */
    return name_to_handle_at(fd, "", fh, mnt_id, AT_EMPTY_PATH) == 0 ? 0 : -errno;
}

/* The table's key for what is open at fd (marking its filesystem if it is
 * the first seen there). Returns the key's length or a negative errno. */
static int fd_key(inowatch *w, int fd, unsigned char *key)
{
    union {
        struct file_handle fh;
        unsigned char bytes[sizeof(struct file_handle) + MAX_HANDLE_SZ];
    } h;
    int mnt_id;
    int r = handle_of(fd, &h.fh, &mnt_id);
    if (r < 0)
        return r;
    unsigned char fsid[IW_FSID_LEN];
    r = mount_fsid(w, fd, mnt_id, fsid);
    if (r < 0)
        return r;
    return (int)key_make(key, fsid, h.fh.handle_type, h.fh.f_handle, h.fh.handle_bytes);
}

int iw_fanotify_watch_fd(inowatch *w, int fd, int is_dir)
{
    if (!is_dir) /* a file root's events carry its own handle: same table */
        w->fan->file_roots = 1;
    unsigned char key[IW_KEY_MAX];
    int len = fd_key(w, fd, key);
    return len < 0 ? len : handle_add(w->fan, key, (size_t)len);
}

int iw_fanotify_is(inowatch *w, int fd, int wd)
{
    struct iw_fanotify *f = w->fan;
    if (wd < 1 || (size_t)wd > f->nwd || !f->by_wd[wd - 1])
        return 0;
    unsigned char key[IW_KEY_MAX];
    int len = fd_key(w, fd, key);
    const struct iw_handle *e = f->by_wd[wd - 1];
    return len == (int)e->len && memcmp(key, e->key, e->len) == 0;
}

int iw_fanotify_has_file_roots(const inowatch *w)
{
    return w->fan->file_roots;
}

/* The inode number of the object a record's handle names, asked of the
 * filesystem by handle (no path involved, so no rename can mislead it).
 * Returns 0 or a negative errno (-ESTALE: it is gone already). */
int iw_fanotify_ino(inowatch *w, const void *fsid, const void *fh, uint64_t *ino)
{
    const struct iw_fanotify *f = w->fan;
    int i = fs_marked(f, fsid);
    if (i < 0 || f->marked_fd[i] < 0)
        return -ENOENT;
    union {
        struct file_handle fh;
        unsigned char bytes[sizeof(struct file_handle) + MAX_HANDLE_SZ];
    } h;
    memcpy(&h.fh, fh, sizeof(h.fh));
    if (h.fh.handle_bytes > MAX_HANDLE_SZ)
        return -EINVAL;
    memcpy(h.fh.f_handle, (const unsigned char *)fh + sizeof(h.fh), h.fh.handle_bytes);
    int fd = open_by_handle_at(f->marked_fd[i], &h.fh, O_PATH | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    struct stat st;
    int r = fstat(fd, &st) < 0 ? -errno : 0;
    close(fd);
    if (r == 0)
        *ino = st.st_ino;
    return r;
}

int iw_fanotify_watch_root(inowatch *w, int fd, int is_dir)
{
    int wd = iw_fanotify_watch_fd(w, fd, is_dir);
    if (wd < 0)
        return wd;
    char link[IW_FD_LINK_MAX];
    iw_fd_link(link, IW_FD_PREFIX_SELF, fd);
    uint64_t self = FAN_DELETE_SELF | FAN_MOVE_SELF | (is_dir ? FAN_ONDIR : 0);
    if (fanotify_mark(w->fd, FAN_MARK_ADD, self, AT_FDCWD, link) < 0) {
        int err = -errno;
        iw_fanotify_unwatch(w, wd);
        return err;
    }
    return wd;
}
