/* typecache.c: the types of a batch's new files, from one listing of their
 * directory instead of an lstat() each.
 *
 * inotify's IN_CREATE says whether the entry is a directory, nothing more;
 * a file, a symlink and a fifo look the same. Each create therefore costs
 * an lstat() (for the type, and the inode the rename rules compare), a
 * path lookup in a directory the creator is busy filling: 0.5-1 us each,
 * 10,000 of them in an untar of the kernel tree (files made in a directory
 * after it was listed), 8% of the watcher's CPU.
 *
 * Before a batch is applied, its creates are counted per directory. A
 * directory that gets many, relative to what the model has in it, is
 * listed once (getdents64 gives each name's type and inode, about 0.15 us
 * an entry), and the creates in it are answered from that listing. The
 * listing is as good as the lstat() it replaces: both look after the
 * events were read, so an entry the event names exists in it unless it has
 * gone since (the lstat() would have failed too: the rules then fall back
 * to it). A listing is used only if its "." is the directory's inode: a
 * path made stale by a rename still queued may lead elsewhere.
 *
 * Everything here lives for one buffer's worth of events; the tables are
 * kept for the next batch. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

/* A directory is listed when it gets at least this many creates in a
 * batch, and they are at least 1/IW_TC_SHARE of its entries: a listing
 * costs ~0.15 us an entry plus ~1.5 us to open, an lstat() 0.3 us warm
 * (bench/relist.c, ext4) to 0.8 us in a directory being filled, so below
 * that share the lstat()s are cheaper. */
#define IW_TC_MIN_CREATES 8
#define IW_TC_SHARE 4
/* Directories counted per batch: beyond, the rest keep their lstat()s. */
#define IW_TC_DIRS 256
/* Entries listed per batch at most, so that the table a watcher keeps
 * stays below 32768 slots of 40 bytes (1.3 MiB) whatever a batch meets;
 * an untar of the kernel tree lists a few thousand per batch. */
#define IW_TC_MAX_ENTRIES 16384u

struct iw_tc_count {
    struct iw_dir *dir;
    uint32_t creates;
};

/* A listed entry, keyed by its directory and name. The directory is known
 * by address and inode: a directory freed during the batch may give its
 * address to another (a rename that reallocates a node), never with the
 * same inode while both were alive. */
struct iw_tc_entry {
    const struct iw_dir *dir;
    uint64_t dir_ino;
    uint64_t ino;
    uint32_t gen; /* in use while it equals iw_typecache.gen */
    uint32_t hash;
    uint32_t name_off; /* in names */
    uint8_t len;
    uint8_t type;
};

static uint32_t dir_slot(const struct iw_dir *d, uint32_t mask)
{
    uintptr_t a = (uintptr_t)d;
    return (uint32_t)((a >> 4) ^ (a >> 12)) & mask;
}

void iw_typecache_reset(inowatch *w)
{
    struct iw_typecache *tc = &w->typecache;
    if (tc->ndirs)
        memset(tc->counts, 0, IW_TC_DIRS * sizeof(*tc->counts));
    if (tc->nentries && ++tc->gen == 0) { /* wrapped: no slot may look in use */
        memset(tc->entries, 0, (size_t)tc->cap * sizeof(*tc->entries));
        tc->gen = 1;
    }
    tc->ndirs = tc->nentries = 0;
    tc->names_len = 0;
}

/* Counts a create (of a non-directory) in d. */
int iw_typecache_count(inowatch *w, struct iw_dir *d)
{
    struct iw_typecache *tc = &w->typecache;
    if (!tc->counts) {
        tc->counts = calloc(IW_TC_DIRS, sizeof(*tc->counts));
        if (!tc->counts)
            return -ENOMEM;
    }
    uint32_t mask = IW_TC_DIRS - 1;
    for (uint32_t i = dir_slot(d, mask), n = 0; n < IW_TC_DIRS; i = (i + 1) & mask, n++) {
        struct iw_tc_count *c = &tc->counts[i];
        if (c->dir == d) {
            c->creates++;
            return 0;
        }
        if (!c->dir) {
            if (tc->ndirs >= IW_TC_DIRS / 2)
                return 0; /* kept sparse for short probes */
            c->dir = d;
            c->creates = 1;
            tc->ndirs++;
            return 0;
        }
    }
    return 0;
}

static int grow_entries(struct iw_typecache *tc)
{
    uint32_t ncap = tc->cap ? tc->cap * 2 : 1024;
    struct iw_tc_entry *old = tc->entries;
    struct iw_tc_entry *e = calloc(ncap, sizeof(*e));
    if (!e)
        return -ENOMEM;
    for (uint32_t i = 0; i < tc->cap; i++) {
        if (old[i].gen != tc->gen)
            continue;
        uint32_t j = (old[i].hash ^ dir_slot(old[i].dir, UINT32_MAX)) & (ncap - 1);
        while (e[j].gen == tc->gen)
            j = (j + 1) & (ncap - 1);
        e[j] = old[i];
    }
    free(old);
    tc->entries = e;
    tc->cap = ncap;
    return 0;
}

static int put_entry(inowatch *w, const struct iw_dir *d, const struct dirent64 *de, size_t len,
                     int type)
{
    struct iw_typecache *tc = &w->typecache;
    if (!tc->gen)
        tc->gen = 1; /* the zeroed slots of a new table are free */
    if ((tc->nentries + 1) * 4 > (size_t)tc->cap * 3) {
        int r = grow_entries(tc);
        if (r < 0)
            return r;
    }
    int r = iw_grow(&tc->names, &tc->names_cap, tc->names_len + len, 1);
    if (r < 0)
        return r;
    uint32_t h = iw_hash_name(de->d_name, len), mask = tc->cap - 1;
    uint32_t i = (h ^ dir_slot(d, UINT32_MAX)) & mask;
    while (tc->entries[i].gen == tc->gen)
        i = (i + 1) & mask;
    memcpy(tc->names + tc->names_len, de->d_name, len);
    tc->entries[i] = (struct iw_tc_entry){.dir = d, .dir_ino = d->node.ino, .ino = de->d_ino,
                                          .gen = tc->gen, .hash = h,
                                          .name_off = (uint32_t)tc->names_len,
                                          .len = (uint8_t)len, .type = (uint8_t)type};
    tc->names_len += len;
    tc->nentries++;
    return 0;
}

/* Whether a listing's first getdents64 call (n bytes in w->dents) is of
 * d: its "." is d's inode, as the model learnt it (from a "." too). A path
 * made stale by a rename still queued may lead to another directory. */
static int lists_d(const inowatch *w, const struct iw_dir *d, ssize_t n)
{
    const struct dirent64 *e;
    for (ssize_t off = 0; off < n; off += e->d_reclen) {
        e = (const void *)(w->dents + off);
        if (e->d_name[0] == '.' && e->d_name[1] == '\0')
            return e->d_ino == d->node.ino;
    }
    return 0;
}

/* Lists d into the cache. Returns 0 (also when d could not be listed: its
 * creates keep their lstat()s), or -ENOMEM. */
static int list_into(inowatch *w, const struct iw_dir *d)
{
    if (!d->node.ino)
        return 0; /* nothing to check the directory against */
    int fd = iw_open_listing(w, d);
    if (fd < 0)
        return 0;
    int r = 0;
    for (int first = 1;; first = 0) {
        ssize_t n = getdents64(fd, w->dents, w->dents_cap);
        if (n <= 0 || (first && !lists_d(w, d, n)))
            break; /* an error keeps what was listed: each entry is true */
        const struct dirent64 *e = NULL;
        for (ssize_t off = 0; off < n && r == 0; off += e->d_reclen) {
            e = (const void *)(w->dents + off);
            int type = iw_type_from_dtype(e->d_type);
            if (type == INOWATCH_TYPE_NONE || type == INOWATCH_TYPE_DIR)
                continue; /* no d_type: lstat(); "." and "..": directories */
            r = put_entry(w, d, e, strlen(e->d_name), type);
        }
        if (r < 0 || iw_listing_ended(w, n, e))
            break;
    }
    close(fd);
    return r;
}

/* Lists the directories whose creates in this batch make it worth it. */
int iw_typecache_fill(inowatch *w)
{
    struct iw_typecache *tc = &w->typecache;
    for (uint32_t i = 0; tc->ndirs && i < IW_TC_DIRS; i++) {
        const struct iw_tc_count *c = &tc->counts[i];
        if (!c->dir || c->creates < IW_TC_MIN_CREATES ||
            (size_t)c->creates * IW_TC_SHARE < (size_t)c->dir->count + c->creates ||
            tc->nentries + c->dir->count + c->creates > IW_TC_MAX_ENTRIES)
            continue;
        int r = list_into(w, c->dir);
        if (r < 0)
            return r;
    }
    return 0;
}

/* The type and inode of d's entry `name` as listed in this batch; 0 when
 * it was not (then the caller asks the disk). */
int iw_typecache_get(const inowatch *w, const struct iw_dir *d, const char *name, size_t len,
                     int *ret_type, uint64_t *ret_ino)
{
    const struct iw_typecache *tc = &w->typecache;
    if (!tc->nentries)
        return 0;
    uint32_t h = iw_hash_name(name, len), mask = tc->cap - 1;
    for (uint32_t i = (h ^ dir_slot(d, UINT32_MAX)) & mask;; i = (i + 1) & mask) {
        const struct iw_tc_entry *e = &tc->entries[i];
        if (e->gen != tc->gen)
            return 0;
        if (e->dir == d && e->dir_ino == d->node.ino && e->hash == h && e->len == len &&
            memcmp(tc->names + e->name_off, name, len) == 0) {
            *ret_type = e->type;
            *ret_ino = e->ino;
            return 1;
        }
    }
}

void iw_typecache_free(inowatch *w)
{
    struct iw_typecache *tc = &w->typecache;
    free(tc->counts);
    free(tc->entries);
    free(tc->names);
    memset(tc, 0, sizeof(*tc));
}
