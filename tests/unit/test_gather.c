/* test_gather.c: inowatch_gather(), the wait in which a watcher's batch
 * gathers, on a real watcher. What a caller relies on: it reads while it
 * waits (the kernel's queue is empty afterwards, and inowatch_read(w, 0)
 * delivers what was gathered without waiting), it returns once the
 * watcher's threshold is read rather than after the latency, -EINTR when a
 * signal arrives, and at once at latency 0. Each case that must return
 * early is given a latency of minutes: broken, it would hang until ctest's
 * timeout rather than pass. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "check.h"
#include "files.h"
#include "inowatch.h"

#define MINUTES (10 * 60 * 1000)
#define FILES 8

static int queued(int fd)
{
    int n = -1;
    return ioctl(fd, FIONREAD, &n) < 0 ? -1 : n;
}

/* A watcher (latency none: the test does the waiting) on a fresh directory. */
static inowatch *watcher_on(char *dir, size_t threshold)
{
    struct inowatch_options o = {.latency_ms = INOWATCH_LATENCY_NONE,
                                 .threshold_bytes = threshold,
                                 .backend = INOWATCH_BACKEND_INOTIFY};
    inowatch *w = NULL;
    if (!mkdtemp(dir) || inowatch_new(&w, &o) < 0)
        return NULL;
    if (inowatch_add(w, dir) < 0) {
        inowatch_free(w);
        return NULL;
    }
    return w;
}

/* The creates of f0..f(files-1), each once, are the batch. */
static int creates_in_batch(inowatch *w)
{
    int n = inowatch_read(w, 0), creates = 0;
    if (n < 0)
        return n;
    const struct inowatch_event *ev;
    while (inowatch_next(w, &ev) > 0)
        creates += ev->kind == INOWATCH_CREATE;
    return creates;
}

static void test_threshold_reached(struct iw_check *t)
{
    char dir[] = "/tmp/inowatch-gather-XXXXXX";
    inowatch *w = watcher_on(dir, 16);
    CHECK(w != NULL);
    if (!w)
        return;
    make_files(dir, FILES);
    CHECK(queued(inowatch_fd(w)) >= FILES * 16);
    /* One read takes more than 16 bytes: back after the first nap. */
    CHECK_EQ(inowatch_gather(w, MINUTES), 0);
    CHECK_EQ(queued(inowatch_fd(w)), 0);
    CHECK_EQ(inowatch_has_backlog(w), 1);
    CHECK_EQ(creates_in_batch(w), FILES);
    inowatch_free(w);
    remove_dir(dir, FILES);
}

static void test_latency_passes(struct iw_check *t)
{
    char dir[] = "/tmp/inowatch-gather-XXXXXX";
    inowatch *w = watcher_on(dir, 1u << 30);
    CHECK(w != NULL);
    if (!w)
        return;
    make_files(dir, FILES);
    /* Far below the threshold and nothing more coming: the latency ends
     * it, and what came is in the watcher, not in the kernel. */
    CHECK_EQ(inowatch_gather(w, 30), 0);
    CHECK_EQ(queued(inowatch_fd(w)), 0);
    CHECK_EQ(creates_in_batch(w), FILES);
    inowatch_free(w);
    remove_dir(dir, FILES);
}

static void test_latency_zero(struct iw_check *t)
{
    char dir[] = "/tmp/inowatch-gather-XXXXXX";
    inowatch *w = watcher_on(dir, 1u << 30);
    CHECK(w != NULL);
    if (!w)
        return;
    make_files(dir, 1);
    int before = queued(inowatch_fd(w));
    CHECK_EQ(inowatch_gather(w, 0), 0);
    CHECK_EQ(queued(inowatch_fd(w)), before); /* nothing read */
    CHECK_EQ(inowatch_has_backlog(w), 0);
    CHECK_EQ(creates_in_batch(w), 1);
    inowatch_free(w);
    remove_dir(dir, 1);
}

static void on_alarm(int sig)
{
    (void)sig;
}

static void test_signal_interrupts(struct iw_check *t)
{
    char dir[] = "/tmp/inowatch-gather-XXXXXX";
    inowatch *w = watcher_on(dir, 1u << 30);
    CHECK(w != NULL);
    if (!w)
        return;
    struct sigaction sa = {.sa_handler = on_alarm}; /* no SA_RESTART */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGALRM, &sa, NULL);
    alarm(1);
    CHECK_EQ(inowatch_gather(w, MINUTES), -EINTR);
    alarm(0);
    inowatch_free(w);
    remove_dir(dir, 0);
}

static void test_null(struct iw_check *t)
{
    CHECK_EQ(inowatch_gather(NULL, MINUTES), -EINVAL);
}

int main(void)
{
    struct iw_check t = {0};
    test_threshold_reached(&t);
    test_latency_passes(&t);
    test_latency_zero(&t);
    test_signal_interrupts(&t);
    test_null(&t);
    return iw_check_done(&t, "gather");
}
