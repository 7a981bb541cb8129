/* watcher.c: the public entry points. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

#define IW_DENTS_SIZE (32u * 1024)
#define IW_PAIR_WAIT_MS 5 /* see inowatch.pair_wait_ms */
/* Changes this long before the last moment the queue was known empty are
 * taken as seen: it covers coarse filesystem timestamps. A rescan may
 * therefore report a modify that was already reported; never the reverse. */
#define IW_RESCAN_SLACK_SEC 1
/* A flood that overflows the queue again during a rescan is rescanned at
 * most this often per inowatch_read(); the rest waits for the next call,
 * so the caller gets the events found so far. */
#define IW_RESCAN_ROUNDS 4

int inowatch_new(inowatch **ret, const struct inowatch_options *options)
{
    if (!ret)
        return -EINVAL;
    struct inowatch_options defaults = {0};
    const struct inowatch_options *o = options ? options : &defaults;
    inowatch *w = calloc(1, sizeof(*w));
    if (!w)
        return -ENOMEM;
    w->fd = -1;
    /* No patterns, no set: a NULL set is the quick "excluded? no" for
     * every entry scanned or created. */
    int r = o->exclude && o->exclude[0] ? iw_excludes_new(&w->excludes, o->exclude, NULL) : 0;
    if (r < 0)
        goto fail;
    w->dents = malloc(IW_DENTS_SIZE);
    if (!w->dents) {
        r = -ENOMEM;
        goto fail;
    }
    w->dents_cap = IW_DENTS_SIZE;
    w->events_wanted = o->events ? (o->events & INOWATCH_ALL) : INOWATCH_ALL;
    w->no_recursive = o->no_recursive;
    w->latency_ms = o->latency_ms == 0 ? INOWATCH_LATENCY_DEFAULT_MS : o->latency_ms;
    w->threshold = o->threshold_bytes ? o->threshold_bytes : INOWATCH_THRESHOLD_DEFAULT_BYTES;
    w->batch.id = 1;
    w->pair_wait_ms = IW_PAIR_WAIT_MS;
    w->pending.flag = IW_NODE_PENDING;
    w->verify.flag = IW_NODE_VERIFY;
    w->stale.flag = IW_NODE_STALE;
    if (o->backend < INOWATCH_BACKEND_INOTIFY || o->backend > INOWATCH_BACKEND_AUTO) {
        r = -EINVAL;
        goto fail;
    }
    r = iw_backend_init(w, (enum inowatch_backend)o->backend);
    if (r < 0)
        goto fail;
    w->fd = r;
    *ret = w;
    return 0;
fail:
    inowatch_free(w);
    return r;
}

void inowatch_free(inowatch *w)
{
    if (!w)
        return;
    /* Closing the fd drops every watch at once; no rm_watch per directory. */
    if (w->fd >= 0)
        close(w->fd);
    w->fd = -1;
    iw_dirfds_close(w);
    while (w->nroots)
        iw_remove_subtree(w, &w->roots[w->nroots - 1]->node);
    iw_graveyard_free(w);
    iw_pool_release(&w->nodes); /* empty by now, unless a node leaked */
    free(w->roots);
    iw_wdmap_free(&w->wds);
    iw_list_free(&w->pending);
    iw_list_free(&w->verify);
    iw_list_free(&w->stale);
    iw_typecache_free(w);
    iw_batch_free(&w->batch);
    free(w->rd);
    free(w->dents);
    free(w->scratch);
    free(w->relbuf);
    free(w->gone);
    free(w->hashes);
    free(w->settle);
    iw_fanotify_free(w);
    iw_excludes_free(w->excludes);
    free(w);
}

int inowatch_backend(const inowatch *w)
{
    return w ? (int)w->backend : -EINVAL;
}

int inowatch_fd(const inowatch *w)
{
    return w ? w->fd : -EINVAL;
}

size_t inowatch_root_count(const inowatch *w)
{
    return w ? w->nroots : 0;
}

void inowatch_stats(const inowatch *w, struct inowatch_stats *ret)
{
    if (w && ret) {
        *ret = w->stats;
        ret->model_bytes += w->nodes.held;
    }
}

/* The root's own watch, placed before the scan so that its failure is the
 * caller's error rather than an error event. */
static int watch_root(inowatch *w, struct iw_dir *root, int fd, int is_dir)
{
    int wd = iw_backend_watch_root(w, fd, is_dir);
    if (wd == -ENOSPC && is_dir) {
        w->limit_hit = 1; /* the scan goes on, counting what is missing */
        return 0;
    }
    return wd < 0 ? wd : iw_wd_bind(w, root, wd);
}

static int add_root(inowatch *w, const char *path, size_t len)
{
    /* O_PATH: opening a fifo or a device for real could block or act on
     * it; the watch needs only the inode, and a directory is reopened for
     * reading by the scan. */
    int fd = open(path, O_PATH | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    struct stat st;
    if (fstat(fd, &st) < 0) {
        int err = -errno;
        close(fd);
        return err;
    }
    int is_dir = S_ISDIR(st.st_mode);
    int r = 0;
    struct iw_node *n = iw_child_new(w, NULL, path, len, iw_type_from_mode(st.st_mode), st.st_ino, &r);
    if (!n) {
        close(fd);
        return r;
    }
    struct iw_dir *root = (struct iw_dir *)n;
    r = iw_grow(&w->roots, &w->roots_cap, w->nroots + 1, sizeof(*w->roots));
    if (r == 0) {
        w->roots[w->nroots++] = root;
        r = watch_root(w, root, fd, is_dir);
    } else {
        iw_node_free_tree(w, n);
        n = NULL;
    }
    close(fd);
    if (r == 0 && is_dir) {
        w->scan_window = iw_dirs_only(w);
        r = iw_scan_tree(w, root, -1, IW_SCAN_QUIET);
        if (r == IW_SCAN_GONE)
            r = -ENOENT;
    }
    if (r == 0 && w->limit_hit)
        r = -ENOSPC;
    if (r < 0 && n)
        iw_remove_subtree(w, n);
    return r;
}

int inowatch_add(inowatch *w, const char *path)
{
    if (!w || !path || !*path)
        return -EINVAL;
    size_t len = strlen(path);
    while (len > 1 && path[len - 1] == '/')
        len--;
    if (len > UINT16_MAX)
        return -ENAMETOOLONG;
    char *name = strndup(path, len);
    if (!name)
        return -ENOMEM;
    size_t events_before = w->batch.count, arena_before = w->batch.used;
    iw_inotify_fd_prefix_update(w);
    w->limit_hit = 0;
    w->stats.watches_missing = 0;
    clock_gettime(CLOCK_REALTIME_COARSE, &w->clean_at);
    int r = add_root(w, name, len);
    free(name);
    w->limit_hit = 0;
    if (r < 0) {
        /* Nothing was added, so nothing it found is reported. */
        w->batch.count = events_before;
        w->batch.used = arena_before;
        iw_path_cache_clear(w); /* paths past arena_before will be overwritten */
    }
    return r;
}

/* Applies what was read, then what waits for the batch's end: new
 * directories scanned, guessed types checked, stale copies dropped (each
 * after the batch's renames, so that paths are current). */
static int apply_batch(inowatch *w)
{
    int r = iw_apply_buffer(w);
    if (r == 0)
        r = iw_scan_pending(w);
    if (r == 0)
        r = iw_verify_renamed(w);
    if (r == 0)
        r = iw_rule_drop_stale_copies(w);
    return r;
}

/* Applies what was read, scans new directories, and recovers from
 * overflows by rescanning; the queue is drained while rescanning and what
 * was drained is applied in turn. */
static int process(inowatch *w)
{
    int had_overflow = w->overflowed;
    iw_inotify_fd_prefix_update(w); /* a fork's child has other fds */
    /* Each batch tries the watch limit again, and reports it again, rather
     * than leaving new directories silently unwatched. */
    w->limit_hit = 0;
    int r = apply_batch(w);
    for (int round = 0; r == 0 && w->overflowed && round < IW_RESCAN_ROUNDS; round++) {
        had_overflow = 1;
        w->overflowed = 0;
        w->rescan_since = w->clean_at;
        w->rescan_since.tv_sec -= IW_RESCAN_SLACK_SEC;
        r = iw_rescan_all(w);
        if (r == 0)
            r = apply_batch(w);
    }
    if (r == 0 && !had_overflow && !w->overflowed && w->read_drained)
        w->clean_at = w->read_started;
    iw_dirfds_close(w);
    return r;
}

int inowatch_read(inowatch *w, int timeout_ms)
{
    if (!w)
        return -EINVAL;
    iw_batch_reset(&w->batch);
    int backlog = inowatch_has_backlog(w);
    if (!backlog) {
        int r = iw_backend_wait(w, timeout_ms);
        if (r <= 0)
            return r;
        /* A signal ends the wait early: what was gathered is processed,
         * and the caller's next wait sees the signal. */
        int g = inowatch_gather(w, w->latency_ms);
        if (g < 0 && g != -EINTR)
            return g;
    }
    int r = iw_backend_read(w, 0);
    if (r < 0)
        return r;
    r = process(w);
    if (r < 0)
        return r;
    return w->batch.count > INT32_MAX ? INT32_MAX : (int)w->batch.count;
}

int inowatch_has_backlog(const inowatch *w)
{
    return w && (w->rd_end > w->rd_start || w->overflowed);
}

int inowatch_check_pattern(const char *pattern)
{
    if (!pattern)
        return -EINVAL;
    const char *one[2] = {pattern, NULL};
    struct iw_excludes *ex = NULL;
    int r = iw_excludes_new(&ex, one, NULL);
    iw_excludes_free(ex);
    return r;
}
