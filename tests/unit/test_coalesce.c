/* test_coalesce.c: inowatch_coalesce(), the wait that lets the kernel merge
 * events before a read, on a real inotify instance. What a caller relies
 * on: it returns once the threshold is queued (not after the latency),
 * returns -EINTR when a signal arrives (so a loop can run its handlers),
 * never reads the queue itself, and is a no-op at latency 0. Each case that
 * must return early is given a latency of minutes: broken, it would hang
 * until ctest's timeout rather than pass. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "check.h"
#include "files.h"
#include "inowatch.h"

#define MINUTES (10 * 60 * 1000)

static int queued(int fd)
{
    int n = -1;
    return ioctl(fd, FIONREAD, &n) < 0 ? -1 : n;
}

/* A fresh directory watched by a fresh instance, with `files` created in
 * it (one IN_CREATE each, at least 16 bytes apiece). */
static int watched_dir(char *dir, int files)
{
    int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (fd < 0 || !mkdtemp(dir) || inotify_add_watch(fd, dir, IN_CREATE) < 0)
        return -1;
    make_files(dir, files);
    return fd;
}

static void on_alarm(int sig)
{
    (void)sig;
}

static void test_threshold_reached(struct iw_check *t)
{
    char dir[] = "/tmp/inowatch-coalesce-XXXXXX";
    int fd = watched_dir(dir, 4);
    CHECK(fd >= 0);
    if (fd < 0)
        return;
    int before = queued(fd);
    CHECK(before >= 4 * 16);
    /* Already past the threshold: back at once, the queue untouched. */
    CHECK_EQ(inowatch_coalesce(fd, 16, MINUTES), 0);
    CHECK_EQ(queued(fd), before);
    close(fd);
    remove_dir(dir, 4);
}

static void test_latency_zero(struct iw_check *t)
{
    char dir[] = "/tmp/inowatch-coalesce-XXXXXX";
    int fd = watched_dir(dir, 1);
    CHECK(fd >= 0);
    if (fd < 0)
        return;
    CHECK_EQ(inowatch_coalesce(fd, 1u << 30, 0), 0);
    close(fd);
    remove_dir(dir, 1);
}

static void test_latency_passes(struct iw_check *t)
{
    char dir[] = "/tmp/inowatch-coalesce-XXXXXX";
    int fd = watched_dir(dir, 1);
    CHECK(fd >= 0);
    if (fd < 0)
        return;
    int before = queued(fd);
    /* Far below the threshold and nothing more coming: the latency ends it. */
    CHECK_EQ(inowatch_coalesce(fd, 1u << 30, 30), 0);
    CHECK_EQ(queued(fd), before);
    close(fd);
    remove_dir(dir, 1);
}

static void test_signal_interrupts(struct iw_check *t)
{
    char dir[] = "/tmp/inowatch-coalesce-XXXXXX";
    int fd = watched_dir(dir, 1);
    CHECK(fd >= 0);
    if (fd < 0)
        return;
    struct sigaction sa = {.sa_handler = on_alarm}; /* no SA_RESTART */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGALRM, &sa, NULL);
    alarm(1);
    CHECK_EQ(inowatch_coalesce(fd, 1u << 30, MINUTES), -EINTR);
    alarm(0);
    close(fd);
    remove_dir(dir, 1);
}

static void test_bad_fd(struct iw_check *t)
{
    /* FIONREAD fails: nothing to wait for, back at once. */
    CHECK_EQ(inowatch_coalesce(-1, 1u << 30, MINUTES), 0);
}

int main(void)
{
    struct iw_check t = {0};
    test_threshold_reached(&t);
    test_latency_zero(&t);
    test_latency_passes(&t);
    test_signal_interrupts(&t);
    test_bad_fd(&t);
    return iw_check_done(&t, "coalesce");
}
