/* limits_scan.c: counting inotify instances and watches in /proc. */
#include "procfs.h"
#include "limits_scan.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PF_KTHREAD 0x00200000u /* include/linux/sched.h */

static long long read_sysctl(const char *path)
{
    char buf[64];
    if (iw_read_small(AT_FDCWD, path, buf, sizeof(buf)) <= 0)
        return -1;
    char *end;
    errno = 0;
    long long v = strtoll(buf, &end, 10);
    return errno || end == buf ? -1 : v;
}

long long iw_limit_min(long long a, long long b)
{
    if (a < 0)
        return b;
    if (b < 0)
        return a;
    return a < b ? a : b;
}

static void read_limits(struct iw_inotify_limits *l)
{
    l->max_user_watches = read_sysctl("/proc/sys/fs/inotify/max_user_watches");
    l->max_user_instances = read_sysctl("/proc/sys/fs/inotify/max_user_instances");
    l->max_queued_events = read_sysctl("/proc/sys/fs/inotify/max_queued_events");
    l->ns_max_watches = read_sysctl("/proc/sys/user/max_inotify_watches");
    l->ns_max_instances = read_sysctl("/proc/sys/user/max_inotify_instances");
}

/* Kernel threads hold no files, and their fd directories are root's only:
 * they are not "unreadable" processes worth a mention. */
static int is_kernel_thread(int pidfd)
{
    char buf[512];
    if (iw_read_small(pidfd, "stat", buf, sizeof(buf)) <= 0)
        return 0;
    char *p = strrchr(buf, ')');
    unsigned flags;
    char state;
    int ppid, pgrp, session, tty, tpgid;
    if (!p || sscanf(p + 1, " %c %d %d %d %d %d %u", &state, &ppid, &pgrp, &session, &tty, &tpgid,
                     &flags) != 7)
        return 0;
    return (flags & PF_KTHREAD) != 0;
}

/* Number of "inotify wd:" lines in fdinfo/FD (each is one watch). */
static unsigned long count_watches(int infofd, const char *fd)
{
    FILE *f = NULL;
    int ffd = infofd < 0 ? -1 : openat(infofd, fd, O_RDONLY | O_CLOEXEC);
    if (ffd >= 0 && !(f = fdopen(ffd, "r")))
        close(ffd);
    if (!f)
        return 0; /* closed meanwhile: it no longer counts */
    unsigned long n = 0;
    char line[256];
    int at_start = 1;
    /* Lines can be longer than the buffer: only a line's start counts. */
    while (fgets(line, sizeof(line), f)) {
        if (at_start && strncmp(line, "inotify wd:", 11) == 0)
            n++;
        at_start = strchr(line, '\n') != NULL;
    }
    fclose(f);
    return n;
}

static int is_inotify(int fddir, const char *fd)
{
    static const char inotify_link[] = "anon_inode:inotify";
    char target[sizeof(inotify_link) + 1];
    ssize_t n = readlinkat(fddir, fd, target, sizeof(target));
    return n == (ssize_t)sizeof(inotify_link) - 1 && memcmp(target, inotify_link, (size_t)n) == 0;
}

/* Counts the inotify instances and watches of one process. Returns 0, or
 * -1 when its fd directory cannot be read. */
static int count_inotify(int pidfd, unsigned long *ret_instances, unsigned long *ret_watches)
{
    int dfd = openat(pidfd, "fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
    if (!d) {
        if (dfd >= 0)
            close(dfd);
        return -1;
    }
    int infofd = -1; /* fdinfo, opened for the first inotify fd found */
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!iw_is_number(e->d_name) || !is_inotify(dirfd(d), e->d_name))
            continue;
        if (infofd < 0)
            infofd = openat(pidfd, "fdinfo", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        (*ret_instances)++;
        *ret_watches += count_watches(infofd, e->d_name);
    }
    if (infofd >= 0)
        close(infofd);
    closedir(d);
    return 0;
}

/* The effective uid from status ("Uid:\treal\teffective\t..."). */
static int read_uid(int pidfd, uid_t *ret)
{
    char buf[4096];
    if (iw_read_small(pidfd, "status", buf, sizeof(buf)) <= 0)
        return -1;
    const char *p = strstr(buf, "\nUid:");
    unsigned long real, eff;
    if (!p || sscanf(p + 5, "%lu %lu", &real, &eff) != 2)
        return -1;
    *ret = (uid_t)eff;
    return 0;
}

/* Backs len up so that it does not end inside a UTF-8 sequence. */
static size_t utf8_boundary(const char *s, size_t len, size_t full)
{
    if (len >= full)
        return full;
    while (len > 0 && ((unsigned char)s[len] & 0xc0) == 0x80)
        len--;
    return len;
}

/* The command line with NULs as spaces, or "[comm]" for a process without
 * one (a kernel thread, a zombie). */
static char *read_command(int pidfd)
{
    char buf[IW_COMMAND_MAX + 2];
    ssize_t n = iw_read_small(pidfd, "cmdline", buf, sizeof(buf));
    if (n > 0) {
        size_t len = utf8_boundary(buf, n > IW_COMMAND_MAX ? IW_COMMAND_MAX : (size_t)n, (size_t)n);
        while (len > 0 && buf[len - 1] == '\0')
            len--;
        for (size_t i = 0; i < len; i++)
            if (buf[i] == '\0')
                buf[i] = ' ';
        buf[len] = '\0';
        if (len > 0)
            return strdup(buf);
    }
    char comm[64];
    n = iw_read_small(pidfd, "comm", comm, sizeof(comm));
    if (n > 0 && comm[n - 1] == '\n')
        comm[--n] = '\0';
    snprintf(buf, sizeof(buf), "[%s]", n > 0 ? comm : "?");
    return strdup(buf);
}

static int add_proc(struct iw_inotify_usage *u, const struct iw_inotify_proc *p)
{
    if (u->nprocs == u->cap) {
        size_t cap = u->cap ? u->cap * 2 : 32;
        struct iw_inotify_proc *procs = realloc(u->procs, cap * sizeof(*procs));
        if (!procs)
            return -ENOMEM;
        u->procs = procs;
        u->cap = cap;
    }
    u->procs[u->nprocs++] = *p;
    return 0;
}

/* Reads one process. Returns 0 (counted, listed or not) or -ENOMEM. */
static int scan_process(struct iw_inotify_usage *u, int procfd, const char *name)
{
    int pidfd = openat(procfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (pidfd < 0) {
        u->unreadable++; /* gone since /proc was listed */
        return 0;
    }
    struct iw_inotify_proc p = {.pid = (pid_t)atol(name)};
    int r = 0;
    if (count_inotify(pidfd, &p.instances, &p.watches) < 0) {
        if (!is_kernel_thread(pidfd))
            u->unreadable++;
    } else if (p.instances > 0) {
        if (read_uid(pidfd, &p.uid) < 0) {
            u->unreadable++; /* it exited while being read */
        } else {
            p.command = read_command(pidfd);
            r = !p.command ? -ENOMEM : add_proc(u, &p);
            if (r < 0)
                free(p.command);
        }
    }
    close(pidfd);
    return r;
}

int iw_inotify_scan(struct iw_inotify_usage *u)
{
    memset(u, 0, sizeof(*u));
    read_limits(&u->limits);
    DIR *d = opendir("/proc");
    if (!d)
        return -errno;
    struct dirent *e;
    int r = 0;
    while (r == 0 && (e = readdir(d)))
        if (iw_is_number(e->d_name))
            r = scan_process(u, dirfd(d), e->d_name);
    closedir(d);
    return r;
}

void iw_inotify_usage_free(struct iw_inotify_usage *u)
{
    for (size_t i = 0; i < u->nprocs; i++)
        free(u->procs[i].command);
    free(u->procs);
    memset(u, 0, sizeof(*u));
}
