/* backend_inotify.c: the kernel interface. Everything that talks to the
 * inotify fd is here, so that another backend (fanotify) can stand beside
 * it behind the same few functions. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

/* One read takes up to this much at first: the default queue limit of
 * 16384 events of ~32 bytes fits in 512 KiB, so a quarter of it per read
 * keeps syscalls few without holding much memory. */
#define IW_READ_INITIAL (128u * 1024)
/* A read that leaves at least this much of the buffer unused took all that
 * was queued (the largest event is a header plus NAME_MAX + 1). */
#define IW_EVENT_MAX (sizeof(struct inotify_event) + 256)
/* While draining the queue during a rescan the buffer may grow this far;
 * past it, the kernel queue takes the load again (and may overflow). */
#define IW_READ_MAX (64u * 1024 * 1024)
/* Coalescing polls the queue size this often while waiting for latency. */
#define IW_COALESCE_STEP_MS 2

/* The events a directory watch asks for. IN_EXCL_UNLINK: a file that was
 * unlinked but is still open and written to must not report modifies under
 * a name that is gone. IN_ONLYDIR: the fd we name must still be a directory. */
static uint32_t dir_mask(const inowatch *w)
{
    uint32_t m = IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_DELETE_SELF |
                 IN_MOVE_SELF | IN_ONLYDIR | IN_EXCL_UNLINK | IN_ATTRIB;
    if (w->events_wanted & INOWATCH_MODIFY)
        m |= IN_MODIFY;
    return m;
}

int iw_backend_init(void)
{
    int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    return fd < 0 ? -errno : fd;
}

/* Watches the inode open at fd, through its /proc/self/fd link: the watch
 * lands on exactly what was opened, even if the path was swapped since. */
int iw_backend_watch_fd(inowatch *w, int fd, int is_dir)
{
    char link[32];
    snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
    uint32_t mask = is_dir ? dir_mask(w) : (IN_MODIFY | IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF);
    int wd = inotify_add_watch(w->fd, link, mask);
    return wd < 0 ? -errno : wd;
}

void iw_backend_unwatch(inowatch *w, int wd)
{
    /* EINVAL when the kernel already dropped it (the directory was
     * deleted): nothing to undo. */
    if (w->fd >= 0)
        (void)inotify_rm_watch(w->fd, wd);
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

/* Lets the kernel gather a batch: while fewer than threshold bytes are
 * queued, wait (up to the latency). The kernel merges an event identical to
 * the last one queued, so waiting also shrinks what there is to read. */
void iw_backend_coalesce(inowatch *w)
{
    if (w->latency_ms <= 0)
        return;
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (;;) {
        int queued = 0;
        if (ioctl(w->fd, FIONREAD, &queued) < 0 || (size_t)queued >= w->threshold)
            return;
        clock_gettime(CLOCK_MONOTONIC, &now);
        long left = w->latency_ms - ms_between(&start, &now);
        if (left <= 0)
            return;
        long step = left < IW_COALESCE_STEP_MS ? left : IW_COALESCE_STEP_MS;
        struct timespec nap = {.tv_sec = 0, .tv_nsec = step * 1000000L};
        nanosleep(&nap, NULL);
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
