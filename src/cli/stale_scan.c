/* stale_scan.c: finding open files that were deleted or replaced, in /proc. */
#include "procfs.h"
#include "stale_scan.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

/* include/linux/sched.h */
#define PF_EXITING 0x00000004u
#define PF_KTHREAD 0x00200000u

/* What fs/d_path.c appends to the name of an unlinked dentry. */
static const char deleted_suffix[] = " (deleted)";
#define DELETED_SUFFIX_LEN (sizeof(deleted_suffix) - 1)

/* One process being scanned: its /proc directory and the fds under it.
 * Every lookup goes through pidfd, so a process that exits (and a new one
 * that reuses its pid) makes the lookups fail instead of reading the wrong
 * process. */
struct proc_scan {
    pid_t pid;
    int pidfd, fddir, infodir;
    int rootfd; /* /proc/PID/root, opened when first needed; -1 before */
    char comm[64];
};

/* Kernel threads hold no files, and exiting processes and zombies have
 * closed theirs; their fd directories refuse even root (no mm to check
 * access against), so they must not be counted as processes we could not
 * inspect. */
static int holds_no_files(int pidfd)
{
    char buf[512];
    if (iw_read_small(pidfd, "stat", buf, sizeof(buf)) <= 0)
        return 1; /* gone */
    /* comm, in parentheses, may hold spaces and ')': the last ')' ends it. */
    const char *p = strrchr(buf, ')');
    char state;
    int ppid, pgrp, session, tty, tpgid;
    unsigned flags;
    if (!p || sscanf(p + 1, " %c %d %d %d %d %d %u", &state, &ppid, &pgrp, &session, &tty, &tpgid,
                     &flags) != 7)
        return 0;
    return state == 'Z' || state == 'X' || (flags & (PF_KTHREAD | PF_EXITING)) != 0;
}

static void read_comm(struct proc_scan *ps)
{
    ssize_t n = iw_read_small(ps->pidfd, "comm", ps->comm, sizeof(ps->comm));
    if (n > 0 && ps->comm[n - 1] == '\n')
        ps->comm[--n] = '\0';
    if (n <= 0)
        snprintf(ps->comm, sizeof(ps->comm), "?");
}

/* The "pos:", "flags:" (octal) and "ino:" lines of fdinfo/N. ino is 0 on
 * kernels before 5.14, which do not show it. Returns 0, or -1 when the fd
 * is gone. */
static int read_fdinfo(int infodir, const char *name, long long *ret_pos, unsigned *ret_flags,
                       unsigned long long *ret_ino)
{
    char buf[1024];
    if (iw_read_small(infodir, name, buf, sizeof(buf)) <= 0)
        return -1;
    const char *p = strstr(buf, "pos:");
    const char *f = strstr(buf, "flags:");
    const char *i = strstr(buf, "\nino:");
    if (!p || !f || sscanf(p + 4, "%lld", ret_pos) != 1 || sscanf(f + 6, "%o", ret_flags) != 1)
        return -1;
    if (!i || sscanf(i + 5, "%llu", ret_ino) != 1)
        *ret_ino = 0;
    return 0;
}

static int root_of(struct proc_scan *ps)
{
    if (ps->rootfd < 0)
        ps->rootfd = openat(ps->pidfd, "root", O_PATH | O_DIRECTORY | O_CLOEXEC);
    return ps->rootfd;
}

/* What path names now, as the process would see it: inside its root and
 * mount namespace. Plain lookups below /proc/PID/root would follow absolute
 * symlinks (a container's /etc/resolv.conf) into our own root instead, and
 * find another file; openat2's RESOLVE_IN_ROOT keeps them inside. Where
 * openat2 is missing (before 5.6, or filtered by seccomp) the plain lookup
 * is the best left. Returns 0 or a negative errno. */
static int lookup_in_root(struct proc_scan *ps, const char *path, struct stat *ret_st)
{
    int rootfd = root_of(ps);
    if (rootfd < 0)
        return -errno;
    while (*path == '/')
        path++;
    if (!*path)
        path = ".";
    struct open_how how = {
        .flags = O_PATH | O_CLOEXEC,
        .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
    };
    int fd = (int)syscall(SYS_openat2, rootfd, path, &how, sizeof(how));
    if (fd >= 0) {
        int r = fstat(fd, ret_st) < 0 ? -errno : 0;
        close(fd);
        return r;
    }
    if (errno != ENOSYS && errno != EPERM && errno != E2BIG)
        return -errno;
    return fstatat(rootfd, path, ret_st, 0) < 0 ? -errno : 0;
}

static int same_file(const struct stat *a, const struct stat *b)
{
    return a->st_dev == b->st_dev && a->st_ino == b->st_ino;
}

/* Anonymous by design: a memfd, or POSIX shared memory after shm_unlink()
 * (the portable memfd). Their programs never meant them to have a name,
 * they hold memory rather than disk, and a browser alone keeps dozens. */
static int is_anonymous_memory(const char *name)
{
    return strncmp(name, "/memfd:", 7) == 0 || strncmp(name, "/dev/shm/", 9) == 0;
}

/* Decides whether the open file fst, linked from /proc as link (len bytes,
 * NUL-terminated, writable), is stale. On return link holds the file's
 * name, without the suffix. Returns 1 and sets *ret_state when it is, 0
 * when it is not or cannot be told. */
static int classify(struct proc_scan *ps, char *link, size_t len, const struct stat *fst,
                    enum iw_stale_state *ret_state)
{
    struct stat st;
    int suffixed = len > DELETED_SUFFIX_LEN &&
                   memcmp(link + len - DELETED_SUFFIX_LEN, deleted_suffix, DELETED_SUFFIX_LEN) == 0;
    /* A file may really be called "x (deleted)": then the name with the
     * suffix still leads to it. */
    if (suffixed && fst->st_nlink > 0 && lookup_in_root(ps, link, &st) == 0 && same_file(&st, fst))
        return 0;
    int unlinked = suffixed || fst->st_nlink == 0;
    if (suffixed)
        link[len - DELETED_SUFFIX_LEN] = '\0';
    if (unlinked && is_anonymous_memory(link))
        return 0;
    /* A rename over the file unlinks it too (the kernel then shows it as
     * deleted), but its path still names a file: the new one. */
    int r = lookup_in_root(ps, link, &st);
    if (r == 0 && !same_file(&st, fst)) {
        *ret_state = IW_STALE_REPLACED;
        return 1;
    }
    if (r < 0 && unlinked) {
        *ret_state = IW_STALE_DELETED;
        return 1;
    }
    /* Found and the same file, or not found although still linked (a
     * lazily unmounted filesystem, a name outside the process's root). */
    return 0;
}

static void mode_string(unsigned flags, char *out)
{
    unsigned acc = flags & O_ACCMODE;
    strcpy(out, acc == O_WRONLY ? "w" : acc == O_RDWR ? "rw" : "r");
    if (flags & O_APPEND)
        strcat(out, "a");
}

static int add_fd(struct iw_stale_list *l, const struct iw_stale_fd *f)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        struct iw_stale_fd *fds = realloc(l->fds, cap * sizeof(*fds));
        if (!fds)
            return -ENOMEM;
        l->fds = fds;
        l->cap = cap;
    }
    l->fds[l->n++] = *f;
    return 0;
}

/* Looks at one fd of a process. Returns 0 (listed or not) or -ENOMEM. An
 * fd closed meanwhile is not listed. */
static int scan_fd(struct iw_stale_list *l, struct proc_scan *ps, const char *name)
{
    struct stat fst;
    /* The kernel's limit for these links is one page, suffix included. */
    char link[PATH_MAX + DELETED_SUFFIX_LEN + 1];
    if (fstatat(ps->fddir, name, &fst, 0) < 0 || !S_ISREG(fst.st_mode))
        return 0; /* closed, or a socket, pipe, device, anonymous inode */
    ssize_t n = readlinkat(ps->fddir, name, link, sizeof(link));
    if (n <= 0 || (size_t)n >= sizeof(link) || link[0] != '/')
        return 0;
    link[n] = '\0';
    struct iw_stale_fd f = {.pid = ps->pid, .fd = atoi(name)};
    if (!classify(ps, link, (size_t)n, &fst, &f.state))
        return 0;
    unsigned flags;
    unsigned long long ino;
    if (read_fdinfo(ps->infodir, name, &f.offset, &flags, &ino) < 0)
        return 0;
    if (ino != 0 && ino != (unsigned long long)fst.st_ino)
        return 0; /* closed and reused for another file while we looked */
    mode_string(flags, f.mode);
    snprintf(f.command, sizeof(f.command), "%s", ps->comm);
    f.size = (long long)fst.st_size;
    f.dev = fst.st_dev;
    f.ino = fst.st_ino;
    if (!(f.path = strdup(link)))
        return -ENOMEM;
    int r = add_fd(l, &f);
    if (r < 0)
        free(f.path);
    return r;
}

static int scan_fds(struct iw_stale_list *l, struct proc_scan *ps)
{
    int dfd = dup(ps->fddir);
    DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
    if (!d) {
        if (dfd >= 0)
            close(dfd);
        return errno == ENOMEM ? -ENOMEM : 0;
    }
    struct dirent *e;
    int r = 0;
    while (r == 0 && (e = readdir(d)))
        if (iw_is_number(e->d_name))
            r = scan_fd(l, ps, e->d_name);
    closedir(d);
    return r;
}

/* Opens the process's fd and fdinfo directories. Returns 0, -ESRCH when it
 * is gone or holds no files, -EACCES when we may not look. */
static int open_process(struct proc_scan *ps)
{
    ps->fddir = openat(ps->pidfd, "fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (ps->fddir < 0) {
        int e = errno;
        if (e == ENOENT || e == ESRCH || holds_no_files(ps->pidfd))
            return -ESRCH;
        return -EACCES;
    }
    ps->infodir = openat(ps->pidfd, "fdinfo", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (ps->infodir < 0)
        return errno == EACCES || errno == EPERM ? -EACCES : -ESRCH;
    read_comm(ps);
    return 0;
}

static void close_process(struct proc_scan *ps)
{
    int fds[] = {ps->rootfd, ps->infodir, ps->fddir, ps->pidfd};
    for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
        if (fds[i] >= 0)
            close(fds[i]);
}

/* Scans process name (a decimal pid) under procfd. Returns 0, -ENOMEM, or
 * (when only is set: this process was asked for) -ESRCH or -EACCES. */
static int scan_process(struct iw_stale_list *l, int procfd, const char *name, int only)
{
    struct proc_scan ps = {.pid = (pid_t)atol(name), .fddir = -1, .infodir = -1, .rootfd = -1};
    ps.pidfd = openat(procfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (ps.pidfd < 0)
        return only ? -ESRCH : 0;
    int r = open_process(&ps);
    if (r == 0)
        r = scan_fds(l, &ps);
    close_process(&ps);
    if (r == -EACCES && !only) {
        l->uninspectable++;
        return 0;
    }
    /* A process that exited meanwhile, or a zombie, has nothing stale;
     * only a pid that names no process at all is an error (above). */
    return r == -ESRCH ? 0 : r;
}

int iw_stale_scan(struct iw_stale_list *l, pid_t pid)
{
    memset(l, 0, sizeof(*l));
    int procfd = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (procfd < 0)
        return -errno;
    int r = 0;
    if (pid > 0) {
        char name[32];
        snprintf(name, sizeof(name), "%ld", (long)pid);
        r = scan_process(l, procfd, name, 1);
        close(procfd);
        return r;
    }
    DIR *d = fdopendir(procfd);
    if (!d) {
        r = -errno;
        close(procfd);
        return r;
    }
    struct dirent *e;
    while (r == 0 && (e = readdir(d)))
        if (iw_is_number(e->d_name))
            r = scan_process(l, dirfd(d), e->d_name, 0);
    closedir(d);
    return r;
}

void iw_stale_list_free(struct iw_stale_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->fds[i].path);
    free(l->fds);
    memset(l, 0, sizeof(*l));
}

const char *iw_stale_state_name(enum iw_stale_state s)
{
    return s == IW_STALE_REPLACED ? "replaced" : "deleted";
}

int iw_stale_is_writer(const struct iw_stale_fd *f)
{
    return strchr(f->mode, 'w') != NULL;
}
