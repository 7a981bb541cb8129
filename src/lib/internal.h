/* internal.h: the watcher's state, shared by the library's files.
 *
 * The pieces, one file each:
 *   tree.c     the model: one node per entry, per-directory child tables,
 *              the wd -> directory map, path building
 *   unlisted.c regular files kept as hashes, not nodes (fanotify)
 *   batch.c    the events of one batch: an array plus a byte arena for paths,
 *              coalescing, and inowatch_next()
 *   dirfds.c   fds on the directories a batch stats entries in
 *   scan.c     reading directories (getdents64) into the model, for roots,
 *              new directories and rescans after an overflow
 *   rules.c    how the model follows an entry event (create, delete,
 *              move, change), whichever backend decoded it: duplicate
 *              suppression, replace and exchange, moves in and out
 *   backend.c  the kernel queue: wait, coalesce, read; picks the backend
 *   backend_inotify.c, decode_inotify.c   one watch per directory; events
 *              by wd, renames paired by cookie
 *   backend_fanotify.c, decode_fanotify.c one mark per filesystem;
 *              directories known by file handle, renames whole
 *   watcher.c  the public entry points: new/free/add/read/next
 *   errors.c   error words, limits, kind and type names
 */
#ifndef IW_INTERNAL_H
#define IW_INTERNAL_H

#include <stdint.h>
#include <string.h>
#include <stddef.h>
#include <time.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "inowatch.h"
#include "glob.h"

#define IW_HIDDEN __attribute__((visibility("hidden")))

/* ---- the model ---------------------------------------------------------- */

enum iw_node_flags {
    IW_NODE_WIDE = 1u << 0,    /* allocated as struct iw_dir (dirs and roots) */
    IW_NODE_ROOT = 1u << 1,    /* one of the roots given to inowatch_add() */
    IW_NODE_PENDING = 1u << 2, /* listed in w->pending: to be scanned at batch end */
    IW_NODE_SEEN = 1u << 3,    /* found again by the current scan (diffing) */
    IW_NODE_VERIFY = 1u << 4,  /* listed in w->verify: type and inode to check at batch end */
    IW_NODE_HASHED = 1u << 5,  /* made from a listed file's hash (unlisted.c): inode unknown */
    IW_NODE_DOOMED = 1u << 6,  /* a directory whose own deletion was read: its subtree goes whole */
    IW_NODE_STALE = 1u << 7,   /* listed in w->stale: its watch went to another node (rules.c) */
};

/* One entry of a watched tree: 24 bytes plus the name. Files are this
 * header plus their name, stored right after the struct (after struct
 * iw_dir for wide nodes), NUL-terminated, so that a node is one allocation.
 * Names below a root are at most NAME_MAX (255) bytes; a root's name is the
 * path as given, whose length lives in struct iw_dir. */
struct iw_node {
    struct iw_dir *parent; /* NULL for roots */
    uint64_t ino;          /* 0 when unknown */
    uint32_t batch;        /* the batch in which batch_kinds were emitted */
    uint8_t name_len;      /* 0 for roots: see iw_name_len() */
    uint8_t type;          /* enum inowatch_type */
    uint8_t flags;         /* enum iw_node_flags */
    uint8_t batch_kinds;   /* kinds already emitted for it in that batch */
};

/* A directory (or a root): the node plus its children and its watch. The
 * child table is open addressing with linear probing, a power of two in
 * size, at most 3/4 full; NULL until the first child arrives. */
struct iw_dir {
    struct iw_node node;
    struct iw_node **slots;
    uint32_t cap;
    uint32_t count;
    uint32_t subdirs;  /* children that are directories (a scan descends) */
    int wd;            /* -1 when not watched */
    uint32_t root_len; /* roots only: the length of the name */
    /* The directories-only model: the hashes of regular files listed but
     * given no node (unlisted.c), or NULL. */
    uint32_t *unlisted;
};

static inline char *iw_name(const struct iw_node *n)
{
    return (char *)n + ((n->flags & IW_NODE_WIDE) ? sizeof(struct iw_dir) : sizeof(struct iw_node));
}

static inline size_t iw_name_len(const struct iw_node *n)
{
    return (n->flags & IW_NODE_ROOT) ? ((const struct iw_dir *)(const void *)n)->root_len
                                     : n->name_len;
}

static inline struct iw_dir *iw_as_dir(struct iw_node *n)
{
    return (n && (n->flags & IW_NODE_WIDE)) ? (struct iw_dir *)n : NULL;
}

/* Nodes marked with one flag bit, to visit at the end of a batch. The list
 * follows a node that is reallocated and forgets one that is freed. */
struct iw_nodelist {
    struct iw_node **items;
    size_t count, cap;
    uint8_t flag; /* enum iw_node_flags */
};

/* A slot of the wd map holds the wd beside its directory, so that a probe
 * reads the slots alone: comparing d->wd instead read a directory node,
 * a cache miss, at every probe (a new watch's lookup misses through a
 * whole run of slots). dir NULL: a free slot. */
struct iw_wd_slot {
    int wd;
    struct iw_dir *dir;
};

/* wd -> watched node, open addressing on the wd. Events come in runs from
 * one directory, so the last answer is kept (last: NULL when none); any
 * removal from the map forgets it. */
struct iw_wdmap {
    struct iw_wd_slot *slots;
    uint32_t cap;
    uint32_t count;
    struct iw_dir *last;
};

/* The types of a batch's new files, listed per directory (typecache.c). */
struct iw_typecache {
    struct iw_tc_count *counts; /* creates per directory, IW_TC_DIRS slots */
    uint32_t ndirs;
    struct iw_tc_entry *entries; /* open addressing on (directory, name) */
    uint32_t cap, gen;
    size_t nentries;
    char *names;
    size_t names_len, names_cap;
};

/* ---- events of one batch ------------------------------------------------ */

/* An event as recorded while the batch is built: the arena may move while
 * it grows, so paths are offsets until inowatch_next() hands them out. */
struct iw_event {
    uint8_t kind; /* enum inowatch_kind */
    uint8_t type;
    uint8_t flags;
    int error;
    size_t path_off, path_len;
    size_t from_off, from_len; /* SIZE_MAX: none */
};

/* A directory whose path was written into the arena during this batch. */
struct iw_path_slot {
    const struct iw_dir *dir;
    uint32_t gen; /* valid while it equals iw_batch.pc_gen */
    uint32_t len;
    size_t off;
};

/* Slots of the path cache: a power of two. Events come in runs from a few
 * directories at a time (a scan's parent and its subdirectories, a build
 * writing into several in turn), so a few dozen slots keep most paths a
 * prefix copy plus a name instead of a walk up the tree. */
#define IW_PATH_SLOTS 64

struct iw_batch {
    struct iw_event *events;
    size_t count, cap, next;
    char *arena;
    size_t used, arena_cap;
    uint32_t id; /* increments per batch; nodes compare their ->batch to it */
    /* Directory -> the offset of its path in the arena, direct-mapped on
     * the node's address. Bumping pc_gen empties it: at each batch (the
     * arena is reused) and at any rename (paths below change); a freed
     * directory drops its own slot (iw_path_cache_forget), since its
     * address may come back as another node. */
    uint32_t pc_gen;
    struct iw_path_slot pc[IW_PATH_SLOTS];
    struct inowatch_event out; /* what inowatch_next() handed out last */
};

/* An O_PATH fd on a directory whose entries the batch lstat's (dirfds.c):
 * fd -1 when it was stat'ed in once, -2 when it could not be opened; fd
 * means nothing while dir is NULL (a zeroed slot is an empty one). */
struct iw_dirfd {
    const struct iw_dir *dir;
    int fd;
};

/* Directories whose fds a batch keeps at most: a power of two. A build
 * writes into a few dozen at once; each fd lives until the batch ends. */
#define IW_DIRFDS 64

/* Under AddressSanitizer, memory the pool holds but has not given out is
 * poisoned, so that a use after free is caught as it would be with malloc
 * (pool.c, and graveyard.c). */
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define IW_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) && !defined(IW_ASAN)
#define IW_ASAN 1
#endif
#ifdef IW_ASAN
#include <sanitizer/asan_interface.h>
#define iw_poison(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define iw_unpoison(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define iw_poison(p, n) ((void)(p), (void)(n))
#define iw_unpoison(p, n) ((void)(p), (void)(n))
#endif

/* The nodes' memory (pool.c): blocks cut in turn, and a free list per
 * size in steps of IW_POOL_GRAIN up to IW_POOL_MAX (the widest node, a
 * directory's with a 255-byte name). Zeroed: empty. */
#define IW_POOL_GRAIN 8
#define IW_POOL_MAX 320
struct iw_pool_block;
struct iw_pool {
    void *free[IW_POOL_MAX / IW_POOL_GRAIN];
    struct iw_pool_block *blocks; /* the newest; each links to the one before */
    char *next;                   /* where the newest block's unused part begins */
    size_t left, block_bytes;     /* its unused bytes, and its size */
    size_t held;                  /* bytes of all blocks */
    size_t live;                  /* nodes given out and not freed */
};

/* The file nodes of deleted directories, not yet given back to the pool
 * (graveyard.c): each grave is a deleted directory's child
 * table, kept whole, its slots from `next` on still to be dug. */
struct iw_grave {
    struct iw_node **slots;
    uint32_t cap, next;
};

struct iw_graveyard {
    struct iw_grave *items;
    size_t count, cap;
    size_t nodes; /* pool objects it holds: buried nodes, and tables from the pool */
};

/* ---- the watcher -------------------------------------------------------- */

/* Writes prefix and the decimal fd, the name of the inode open at fd under
 * /proc, into out (IW_FD_LINK_MAX bytes; the prefix is at most
 * IW_FD_PREFIX_MAX). Watching through it puts the watch on exactly what was
 * opened. By hand rather than snprintf: an untar of the kernel tree
 * watches 5,000 new directories, and printf's machinery was 0.5% of the
 * watcher's CPU. */
#define IW_FD_PREFIX_MAX 24
#define IW_FD_LINK_MAX (IW_FD_PREFIX_MAX + 12)
#define IW_FD_PREFIX_SELF "/proc/self/fd/"
static inline const char *iw_fd_link(char *out, const char *prefix, int fd)
{
    char digits[12];
    size_t n = 0, len = strlen(prefix);
    unsigned v = fd < 0 ? 0u : (unsigned)fd;
    do
        digits[n++] = (char)('0' + v % 10);
    while ((v /= 10) != 0);
    memcpy(out, prefix, len);
    char *p = out + len;
    while (n)
        *p++ = digits[--n];
    *p = '\0';
    return out;
}

struct iw_fanotify; /* backend_fanotify.c */

struct inowatch {
    int fd;
    enum inowatch_backend backend; /* never AUTO once created */
    struct iw_fanotify *fan;       /* fanotify's handles and marks */
    unsigned events_wanted; /* enum inowatch_kind bits */
    int no_recursive;
    /* Events queued during a quiet scan (of the first root, or of a root
     * added later) are still being read: a create may name a file the
     * scan listed already. Cleared by a read that emptied the queue. */
    int scan_window;
    int latency_ms;
    size_t threshold;
    struct iw_excludes *excludes;
    /* "/proc/PID/fd/", the process's own fd directory by number: 0.3 us
     * cheaper per watch than through /proc/self, a symlink the kernel
     * reads and resolves each time. Made for process fd_prefix_pid at the
     * start of each batch and inowatch_add() (backend_inotify.c); empty
     * before, or when /proc/self cannot be read. */
    char fd_prefix[IW_FD_PREFIX_MAX];
    pid_t fd_prefix_pid;

    struct iw_dir **roots;
    size_t nroots, roots_cap;
    struct iw_wdmap wds;
    struct iw_pool nodes; /* every node but the roots' */
    struct iw_graveyard grave;

    /* Directories created or disturbed during a batch, scanned at its end
     * (when every rename of the batch has been applied, so paths are
     * current). */
    struct iw_nodelist pending;
    /* Non-directories whose type came from an lstat() that may have seen
     * another entry of the same name (created and renamed or replaced
     * before the event was read), and every renamed one: checked against
     * the disk at the end of the batch. */
    struct iw_nodelist verify;
    /* Directories whose watch a listing gave to another node, the same
     * directory met elsewhere: checked at the end of the batch
     * (iw_rule_drop_stale_copies). */
    struct iw_nodelist stale;
    struct iw_typecache typecache;
    /* The buffer being applied moves a directory. Until that rename is
     * applied, the model's paths below it lead to whatever took its place
     * (a build renames its output directory away and makes a new one with
     * the same names), so an lstat() or a listing by such a path describes
     * another entry: every entry created from this buffer is checked again
     * at its end, when the renames are applied (rules.c). Not an inode
     * check of the directory: the inode a listing's "." gives is not the
     * one stat() gives on every filesystem (an overlay of two), nor is it
     * stable there across a copy-up. */
    int dir_moves_ahead;

    struct iw_batch batch;

    /* The kernel read buffer, aligned for struct inotify_event. rd_start..
     * rd_end is what is still to be processed. */
    char *rd;
    size_t rd_cap, rd_start, rd_end;

    char *dents; /* getdents64 buffer */
    size_t dents_cap;
    char *scratch; /* a path buffer for syscalls */
    size_t scratch_cap;
    char *relbuf; /* a relative path for exclude patterns */
    size_t relbuf_cap;
    struct iw_node **gone; /* entries a scan did not find again */
    size_t gone_cap;
    uint32_t *hashes; /* the unlisted files of the directory being listed */
    size_t nhashes, hashes_cap;
    /* Names to check against the disk at the end of the batch, as
     * [int wd][uint8_t len][name]: fanotify events that may have been
     * merged out of order (decode_fanotify.c). */
    char *settle;
    size_t settle_len, settle_cap;

    /* How long to wait for the second half of a rename whose first half
     * ended a read: rename() queues it microseconds later, but the renaming
     * task can be preempted in between. A real move out of the roots costs
     * this wait once per batch at most. */
    int pair_wait_ms;
    /* O_PATH fds on the directories this batch lstat's entries in
     * (dirfds.c), closed at the end of each batch. */
    struct iw_dirfd dirfds[IW_DIRFDS];
    int overflowed;           /* an IN_Q_OVERFLOW was read in this batch */
    int limit_hit;            /* ENOSPC from inotify_add_watch during this scan */
    int rescanning;           /* a rescan after an overflow is under way */
    /* Directories are listed with O_NOATIME until the kernel refuses it
     * (EPERM: not their owner, no CAP_FOWNER); then without, for good. */
    int noatime_refused;
    size_t rescan_dirs;       /* directories it has listed so far */
    struct timespec clean_at; /* when the last read that emptied the queue began */
    struct timespec read_started; /* when the current batch's read began */
    int read_drained;             /* it took everything that was queued */
    struct timespec rescan_since; /* changes after this may have been lost */

    struct inowatch_stats stats;
};

/* tree.c */
IW_HIDDEN struct iw_node *iw_child_new(inowatch *w, struct iw_dir *parent, const char *name,
                                       size_t len, int type, uint64_t ino, int *ret_err);
IW_HIDDEN void iw_node_free_tree(inowatch *w, struct iw_node *n);
IW_HIDDEN struct iw_node *iw_child_find(const struct iw_dir *d, const char *name, size_t len);
IW_HIDDEN void iw_child_prefetch_slot(const struct iw_dir *d, uint32_t h);
IW_HIDDEN void iw_child_prefetch_node(const struct iw_dir *d, uint32_t h);
IW_HIDDEN int iw_child_insert(inowatch *w, struct iw_dir *d, struct iw_node *n);
IW_HIDDEN int iw_child_reserve(inowatch *w, struct iw_dir *d, size_t more);
IW_HIDDEN void iw_child_remove(struct iw_dir *d, struct iw_node *n);
IW_HIDDEN uint32_t iw_hash_name(const char *name, size_t len);
IW_HIDDEN size_t iw_path_len(const struct iw_node *n);
IW_HIDDEN void iw_path_write(const struct iw_node *n, char *out, size_t len);
IW_HIDDEN size_t iw_relpath_len(const struct iw_node *n);
IW_HIDDEN void iw_relpath_write(const struct iw_node *n, char *out, size_t len);
IW_HIDDEN int iw_is_ancestor(const struct iw_node *a, const struct iw_node *n);
IW_HIDDEN struct iw_node *iw_rename_node(inowatch *w, struct iw_node *n, struct iw_dir *to,
                                         const char *name, size_t len, int *ret_err);
IW_HIDDEN struct iw_dir *iw_wd_find(struct iw_wdmap *m, int wd);
IW_HIDDEN struct iw_dir *iw_wd_peek(const struct iw_wdmap *m, int wd);
IW_HIDDEN int iw_wd_bind(inowatch *w, struct iw_dir *d, int wd);
IW_HIDDEN void iw_wd_unbind(inowatch *w, struct iw_dir *d, int remove_watch);
IW_HIDDEN void iw_wdmap_free(struct iw_wdmap *m);
IW_HIDDEN int iw_list_add(struct iw_nodelist *l, struct iw_node *n);
IW_HIDDEN void iw_list_drop(struct iw_nodelist *l, struct iw_node *n);
IW_HIDDEN void iw_list_free(struct iw_nodelist *l);
IW_HIDDEN void iw_remove_subtree(inowatch *w, struct iw_node *n);
IW_HIDDEN int iw_scratch_path(inowatch *w, const struct iw_node *n, const char *child,
                              size_t child_len, char **ret);

/* Whether a quiet scan gives nodes to directories (and to entries that
 * are neither directories nor regular files) but keeps regular files as
 * hashes (unlisted.c): with fanotify, which needs no per-file state to
 * tell its events apart (no overflow to diff against, the queue being
 * unbounded; no new-directory race, a directory being known from its
 * create event; events that name a file's directory, name and kind). */
static inline int iw_dirs_only(const inowatch *w)
{
    return w->backend == INOWATCH_BACKEND_FANOTIFY;
}

/* unlisted.c: regular files of the directories-only model */
IW_HIDDEN int iw_unlisted_set(inowatch *w, struct iw_dir *d, uint32_t *hashes, size_t n);
IW_HIDDEN void iw_unlisted_free(inowatch *w, struct iw_dir *d);
IW_HIDDEN int iw_unlisted_has(const struct iw_dir *d, const char *name, size_t len);
IW_HIDDEN struct iw_node *iw_child_get(inowatch *w, struct iw_dir *d, const char *name, size_t len,
                                       int isdir, int *ret_err);
IW_HIDDEN int iw_has_unlisted(const struct iw_node *n);

/* batch.c */
IW_HIDDEN void iw_batch_reset(struct iw_batch *b);
static inline void iw_path_cache_clear(inowatch *w)
{
    w->batch.pc_gen++;
}
IW_HIDDEN void iw_path_cache_forget(inowatch *w, const struct iw_dir *d);
IW_HIDDEN void iw_batch_free(struct iw_batch *b);
IW_HIDDEN int iw_emit(inowatch *w, enum inowatch_kind kind, struct iw_node *n, unsigned flags);
IW_HIDDEN int iw_emit_path(inowatch *w, enum inowatch_kind kind, int type, const char *path,
                           size_t len, int error, unsigned flags);
IW_HIDDEN int iw_emit_error(inowatch *w, const struct iw_node *n, const char *child,
                            size_t child_len, int error);
IW_HIDDEN int iw_path_reserve(inowatch *w, const struct iw_node *n, size_t *ret_off,
                              size_t *ret_len);
IW_HIDDEN int iw_emit_rename(inowatch *w, const struct iw_node *n, size_t from_off, size_t from_len);
IW_HIDDEN const char *iw_batch_str(const inowatch *w, size_t off);

/* pool.c */
IW_HIDDEN size_t iw_pool_size(size_t bytes);
IW_HIDDEN void *iw_pool_alloc(struct iw_pool *p, size_t bytes);
IW_HIDDEN void iw_pool_free(struct iw_pool *p, void *obj, size_t bytes);
IW_HIDDEN void iw_pool_release(struct iw_pool *p);
IW_HIDDEN int iw_pool_has_free(const struct iw_pool *p, size_t bytes);
IW_HIDDEN size_t iw_node_size(const struct iw_node *n);
IW_HIDDEN void iw_table_free(inowatch *w, struct iw_node **t, uint32_t cap);
IW_HIDDEN void *iw_pool_take(inowatch *w, size_t bytes);
IW_HIDDEN void iw_bury_files(inowatch *w, struct iw_dir *d);
IW_HIDDEN void iw_graveyard_free(inowatch *w);
IW_HIDDEN void iw_graveyard_release_if_all(inowatch *w);

/* scan.c */
enum iw_scan_mode {
    IW_SCAN_QUIET, /* initial scan of a root: the state at "ready", no events */
    IW_SCAN_EMIT,  /* new or disturbed directory: report every difference */
};
#define IW_SCAN_GONE 1 /* the directory vanished or changed type: retry later */
IW_HIDDEN int iw_scan_tree(inowatch *w, struct iw_dir *d, int parent_fd, enum iw_scan_mode mode);
IW_HIDDEN int iw_open_dir(inowatch *w, const struct iw_dir *d, int flags);
IW_HIDDEN int iw_open_listing(inowatch *w, const struct iw_dir *d);
IW_HIDDEN int iw_lstat_child(inowatch *w, const struct iw_dir *parent, const char *name,
                             size_t len, struct stat *st);
IW_HIDDEN int iw_dirfd_for_stat(inowatch *w, const struct iw_dir *d);
IW_HIDDEN void iw_dirfd_forget(inowatch *w, const struct iw_dir *d);
IW_HIDDEN void iw_dirfds_close(inowatch *w);
IW_HIDDEN int iw_type_from_mode(unsigned mode);
IW_HIDDEN int iw_type_from_dtype(unsigned char d_type);
struct dirent64;
IW_HIDDEN int iw_listing_ended(const inowatch *w, ssize_t n, const struct dirent64 *last);
IW_HIDDEN int iw_entry_excluded_by(const inowatch *w, const struct iw_dir *parent,
                                   const char *name, size_t len, int is_dir);

/* Whether the entry `name` of parent matches an exclude pattern. Inline for
 * the common case, a watcher without patterns: it is asked for every entry
 * listed and every entry created. */
static inline int iw_entry_excluded(const inowatch *w, const struct iw_dir *parent,
                                    const char *name, size_t len, int is_dir)
{
    return w->excludes ? iw_entry_excluded_by(w, parent, name, len, is_dir) : 0;
}
IW_HIDDEN int iw_scan_pending(inowatch *w);
IW_HIDDEN int iw_verify_renamed(inowatch *w);
IW_HIDDEN int iw_rescan_all(inowatch *w);

/* rules.c: the model's answer to each kind of entry event */
IW_HIDDEN int iw_rule_create(inowatch *w, struct iw_dir *d, const char *name, size_t len, int isdir);
IW_HIDDEN int iw_rule_delete(inowatch *w, struct iw_dir *d, const char *name, size_t len,
                             int isdir);
IW_HIDDEN int iw_rule_delete_dir(inowatch *w, struct iw_dir *gone);
IW_HIDDEN int iw_rule_drop_stale_copies(inowatch *w);
IW_HIDDEN int iw_rule_move(inowatch *w, struct iw_dir *from, const char *fname, size_t flen,
                           struct iw_dir *to, const char *tname, size_t tlen, int isdir);
IW_HIDDEN int iw_rule_change(inowatch *w, struct iw_dir *d, const char *name, size_t len,
                             int modify, int isdir);
IW_HIDDEN int iw_rule_file_root(inowatch *w, struct iw_dir *root, int modify, int attrib,
                                int only_data);
IW_HIDDEN int iw_rule_root_gone(inowatch *w, struct iw_dir *root);
IW_HIDDEN int iw_rule_overflow(inowatch *w);
IW_HIDDEN int iw_rule_settle(inowatch *w, struct iw_dir *d, const char *name, size_t len,
                             const struct stat *st);
IW_HIDDEN int iw_root_check(inowatch *w, struct iw_node *n);

/* typecache.c: new files' types from one listing of their directory */
IW_HIDDEN void iw_typecache_reset(inowatch *w);
IW_HIDDEN int iw_typecache_count(inowatch *w, struct iw_dir *d);
IW_HIDDEN int iw_typecache_fill(inowatch *w);
IW_HIDDEN int iw_typecache_get(const inowatch *w, const struct iw_dir *d, const char *name,
                               size_t len, int *ret_type, uint64_t *ret_ino);
IW_HIDDEN void iw_typecache_free(inowatch *w);

/* backend.c: the queue (wait, coalesce, read) and the choice of backend */
IW_HIDDEN int iw_backend_init(inowatch *w, enum inowatch_backend which);
IW_HIDDEN int iw_backend_watch_fd(inowatch *w, int fd, int is_dir);
IW_HIDDEN int iw_backend_watch_root(inowatch *w, int fd, int is_dir);
IW_HIDDEN void iw_backend_unwatch(inowatch *w, int wd);
IW_HIDDEN int iw_backend_wait(inowatch *w, int timeout_ms);
IW_HIDDEN int iw_backend_read(inowatch *w, int wait_ms);
IW_HIDDEN int iw_backend_read_more(inowatch *w, int wait_ms);
IW_HIDDEN int iw_apply_buffer(inowatch *w);

/* backend_inotify.c, decode_inotify.c */
IW_HIDDEN int iw_inotify_init(void);
IW_HIDDEN void iw_inotify_fd_prefix_update(inowatch *w);
IW_HIDDEN int iw_inotify_watch_fd(inowatch *w, int fd, int is_dir);
IW_HIDDEN void iw_inotify_unwatch(inowatch *w, int wd);
IW_HIDDEN int iw_inotify_apply_buffer(inowatch *w);

/* backend_fanotify.c, decode_fanotify.c */
IW_HIDDEN int iw_fanotify_init(inowatch *w);
IW_HIDDEN void iw_fanotify_free(inowatch *w);
IW_HIDDEN int iw_fanotify_watch_fd(inowatch *w, int fd, int is_dir);
IW_HIDDEN int iw_fanotify_watch_root(inowatch *w, int fd, int is_dir);
IW_HIDDEN void iw_fanotify_unwatch(inowatch *w, int wd);
IW_HIDDEN int iw_fanotify_wd(const inowatch *w, const void *fsid, const void *fh);
IW_HIDDEN int iw_fanotify_adopt(inowatch *w, const void *fsid, const void *fh);
IW_HIDDEN int iw_fanotify_is(inowatch *w, int fd, int wd);
IW_HIDDEN int iw_fanotify_has_file_roots(const inowatch *w);
IW_HIDDEN int iw_fanotify_ino(inowatch *w, const void *fsid, const void *fh, uint64_t *ino);
IW_HIDDEN int iw_fanotify_apply_buffer(inowatch *w);

IW_HIDDEN int iw_grow_to(void *arrp, size_t *cap, size_t need, size_t elem);

/* Makes room for need elements of elem bytes in *arrp (capacity *cap),
 * doubling it: 0, or -ENOMEM (the array is left as it was). Inline for the
 * check, which passes for nearly every event. */
static inline int iw_grow(void *arrp, size_t *cap, size_t need, size_t elem)
{
    return need <= *cap ? 0 : iw_grow_to(arrp, cap, need, elem);
}

#endif /* IW_INTERNAL_H */
