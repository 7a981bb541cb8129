/* backend.c: the kernel queue, whichever backend fills it.
 *
 * Waiting, coalescing and reading are the same for an inotify and a
 * fanotify fd (both support poll, both hand out whole events);
 * watching a directory and decoding what was read are each backend's own,
 * chosen here by w->backend. */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

/* One read takes up to this much at first: the default queue limit of
 * 16384 events of ~32 bytes fits in 512 KiB, so a quarter of it per read
 * keeps syscalls few without holding much memory. */
#define IW_READ_INITIAL (128u * 1024)
/* A read that leaves at least this much of the buffer unused took all that
 * was queued: the largest inotify event is a header plus NAME_MAX + 1; a
 * fanotify rename carries two handles (up to MAX_HANDLE_SZ) and two names. */
#define IW_EVENT_MAX 1024u
/* While draining the queue during a rescan the buffer may grow this far;
 * past it, the kernel queue takes the load again (and may overflow). */
#define IW_READ_MAX (64u * 1024 * 1024)
/* Coalescing's first look at the queue comes this soon; later naps are
 * as long as the batch, at the rate it has been filling, takes to reach
 * the threshold (at least IW_COALESCE_MIN_MS, at most what is left of the
 * latency). */
#define IW_COALESCE_STEP_MS 2
#define IW_COALESCE_MIN_MS 1

int iw_backend_init(inowatch *w, enum inowatch_backend which)
{
    if (which != INOWATCH_BACKEND_INOTIFY) {
        int fd = iw_fanotify_init(w);
        if (fd >= 0) {
            w->backend = INOWATCH_BACKEND_FANOTIFY;
            return fd;
        }
        if (which == INOWATCH_BACKEND_FANOTIFY)
            return fd;
        /* auto: fanotify is missing or not permitted here; inotify is */
    }
    w->backend = INOWATCH_BACKEND_INOTIFY;
    return iw_inotify_init();
}

int iw_backend_watch_fd(inowatch *w, int fd, int is_dir)
{
    if (w->backend == INOWATCH_BACKEND_FANOTIFY)
        return iw_fanotify_watch_fd(w, fd, is_dir);
    return iw_inotify_watch_fd(w, fd, is_dir);
}

/* A root: watched like a directory, and with fanotify also marked itself
 * for the events about its own deletion or move. */
int iw_backend_watch_root(inowatch *w, int fd, int is_dir)
{
    if (w->backend == INOWATCH_BACKEND_FANOTIFY)
        return iw_fanotify_watch_root(w, fd, is_dir);
    return iw_inotify_watch_fd(w, fd, is_dir);
}

void iw_backend_unwatch(inowatch *w, int wd)
{
    if (w->backend == INOWATCH_BACKEND_FANOTIFY)
        iw_fanotify_unwatch(w, wd);
    else
        iw_inotify_unwatch(w, wd);
}

int iw_apply_buffer(inowatch *w)
{
    if (w->backend == INOWATCH_BACKEND_FANOTIFY)
        return iw_fanotify_apply_buffer(w);
    return iw_inotify_apply_buffer(w);
}

int iw_backend_wait(inowatch *w, int timeout_ms)
{
    struct pollfd p = {.fd = w->fd, .events = POLLIN};
    int r = poll(&p, 1, timeout_ms);
    if (r < 0)
        return -errno;
    return r;
}

static long ms_between(const struct timespec *a, const struct timespec *b)
{
    return (b->tv_sec - a->tv_sec) * 1000 + (b->tv_nsec - a->tv_nsec) / 1000000;
}

/* Sleeps ms milliseconds; returns -EINTR when a signal cut the nap short. */
static int nap_ms(long ms)
{
    struct timespec nap = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
    return nanosleep(&nap, NULL) < 0 && errno == EINTR ? -EINTR : 0;
}

/* The next nap of a wait: as long as the last `to_go` bytes take to come at
 * the rate seen so far (`grown` bytes in `spent` ms), or the rest of the
 * latency when nothing came; at least IW_COALESCE_MIN_MS, at most `left`.
 * Napping in fixed short steps cost a slow workload (an rm -rf, a build)
 * five wake-ups per batch, each a context switch: half of them go, and
 * the CPU of an rm -rf of the kernel tree with it. */
static long next_nap(size_t to_go, long spent, size_t grown, long left)
{
    long step = grown && spent > 0 ? (long)(to_go * (size_t)spent / grown) : left;
    if (step > left)
        step = left;
    return step < IW_COALESCE_MIN_MS ? IW_COALESCE_MIN_MS : step;
}

/* Lets the kernel gather a batch: while fewer than threshold bytes are
 * queued, wait (up to the latency). The kernel merges an event identical to
 * the last one queued, so waiting also shrinks what there is to read. */
int inowatch_coalesce(int fd, size_t threshold, int latency_ms)
{
    if (latency_ms <= 0)
        return 0;
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    long step = IW_COALESCE_STEP_MS;
    int first = -1;
    for (;;) {
        int queued = 0;
        if (ioctl(fd, FIONREAD, &queued) < 0 || (size_t)queued >= threshold)
            return 0;
        clock_gettime(CLOCK_MONOTONIC, &now);
        long spent = ms_between(&start, &now), left = latency_ms - spent;
        if (left <= 0)
            return 0;
        if (first < 0)
            first = queued; /* the first look, IW_COALESCE_STEP_MS in */
        else
            step = next_nap(threshold - (size_t)queued, spent,
                            queued > first ? (size_t)(queued - first) : 0, left);
        if (nap_ms(step) < 0)
            return -EINTR;
    }
}

/* The watcher's own coalescing reads while it waits, instead of asking the
 * queue's size (inowatch_coalesce): FIONREAD walks the whole queue under
 * the lock the writers take to queue their events, so on a build-like
 * churn each look cost the watcher a tenth of its CPU and slowed the
 * writers; and every byte read during the wait had to be read anyway. A
 * queue drained at every nap holds one nap's worth, not the whole batch's,
 * so the threshold bounds the batch (and the paths the library holds for
 * it) more than the queue. The kernel still merges a repeated event while
 * it is the last one queued; the batch's own coalescing (batch.c) merges
 * the rest. */
int inowatch_gather(inowatch *w, int latency_ms)
{
    if (!w)
        return -EINVAL;
    if (latency_ms <= 0)
        return 0;
    if (w->backend == INOWATCH_BACKEND_FANOTIFY)
        /* fanotify's queue has no limit, and each read takes its lock
         * once per event: one nap of the whole latency, then one read. */
        return nap_ms(latency_ms);
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    size_t before = w->rd_end - w->rd_start;
    long step = IW_COALESCE_STEP_MS;
    for (;;) {
        int interrupted = nap_ms(step);
        int r = iw_backend_read_more(w, 0); /* what came is kept either way */
        if (r < 0)
            return r;
        if (interrupted)
            return interrupted;
        size_t held = w->rd_end - w->rd_start;
        if (held >= w->threshold)
            return 0;
        clock_gettime(CLOCK_MONOTONIC, &now);
        long spent = ms_between(&start, &now), left = latency_ms - spent;
        if (left <= 0)
            return 0;
        step = next_nap(w->threshold - held, spent, held - before, left);
    }
}

/* Makes room at the end of the read buffer: unprocessed events move to the
 * front (keeping their 16-byte alignment), and the buffer grows when
 * draining needs it. */
static int make_room(inowatch *w)
{
    if (w->rd_start > 0) {
        memmove(w->rd, w->rd + w->rd_start, w->rd_end - w->rd_start);
        w->rd_end -= w->rd_start;
        w->rd_start = 0;
    }
    if (w->rd_cap - w->rd_end >= IW_EVENT_MAX * 16)
        return 0;
    size_t ncap = w->rd_cap ? w->rd_cap * 2 : IW_READ_INITIAL;
    if (ncap > IW_READ_MAX)
        return w->rd_cap - w->rd_end >= IW_EVENT_MAX ? 0 : -ENOBUFS;
    char *p = realloc(w->rd, ncap);
    if (!p)
        return -ENOMEM;
    w->rd = p;
    w->rd_cap = ncap;
    return 0;
}

/* Appends what the kernel has queued to the read buffer. When nothing is
 * queued and wait_ms > 0, waits that long once for something to come.
 * Returns the bytes read, 0 for none, or a negative errno. */
int iw_backend_read_more(inowatch *w, int wait_ms)
{
    int r = make_room(w);
    if (r < 0)
        return r == -ENOBUFS ? 0 : r;
    for (int attempt = 0;; attempt++) {
        struct timespec t;
        clock_gettime(CLOCK_REALTIME_COARSE, &t);
        size_t space = w->rd_cap - w->rd_end;
        ssize_t n = read(w->fd, w->rd + w->rd_end, space);
        if (n > 0) {
            w->rd_end += (size_t)n;
            w->read_started = t;
            w->read_drained = space - (size_t)n >= IW_EVENT_MAX;
            return (int)(n > INT32_MAX ? INT32_MAX : n);
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno != EAGAIN)
            return -errno;
        if (attempt > 0 || wait_ms <= 0)
            return 0;
        r = iw_backend_wait(w, wait_ms);
        if (r <= 0)
            return r == -EINTR ? 0 : r;
    }
}

int iw_backend_read(inowatch *w, int wait_ms)
{
    return iw_backend_read_more(w, wait_ms);
}
