/* run_proc.c: fork and exec for `inowatch run`, and process groups in /proc. */
#include "run_proc.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

/* Everything the child does between fork and exec. Returns 0 or the errno
 * to report. The program is single-threaded, so setenv's malloc is safe
 * here. */
static int child_setup(const struct iw_spawn *sp, pid_t parent)
{
    if (setpgid(0, 0) < 0)
        return errno;
    /* If inowatch dies without stopping CMD (SIGKILL), CMD gets SIGTERM
     * rather than running on unwatched. The check closes the race with a
     * parent that died before the prctl. */
    if (prctl(PR_SET_PDEATHSIG, SIGTERM) < 0 || getppid() != parent)
        return ESRCH;
    /* No close-on-exec here: with stdin closed, open() returns 0 itself. */
    int fd = open("/dev/null", O_RDONLY);
    if (fd < 0 || dup2(fd, STDIN_FILENO) < 0)
        return errno;
    if (fd != STDIN_FILENO)
        close(fd);
    if (setenv("INOWATCH_PATHS", sp->paths, 1) < 0)
        return errno;
    if (sp->truncated ? setenv("INOWATCH_PATHS_TRUNCATED", "1", 1) < 0
                      : unsetenv("INOWATCH_PATHS_TRUNCATED") < 0)
        return errno;
    /* Signals inowatch reads through its signalfd are blocked; a blocked
     * mask survives exec and CMD must start with the usual one. */
    if (sigprocmask(SIG_SETMASK, sp->mask, NULL) < 0)
        return errno;
    return 0;
}

static _Noreturn void run_child(const struct iw_spawn *sp, int errfd, pid_t parent)
{
    int err = child_setup(sp, parent);
    if (!err) {
        execvp(sp->argv[0], sp->argv);
        err = errno;
    }
    /* The pipe is close-on-exec: the parent reads either this errno or,
     * after a successful exec, end-of-file. */
    if (write(errfd, &err, sizeof(err)) < 0) {
        /* nothing left to tell it with */
    }
    _exit(127);
}

pid_t iw_spawn_group(const struct iw_spawn *sp)
{
    int pipefd[2];
    if (pipe2(pipefd, O_CLOEXEC) < 0)
        return -errno;
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        int err = errno;
        close(pipefd[0]);
        close(pipefd[1]);
        return -err;
    }
    if (pid == 0) {
        close(pipefd[0]);
        run_child(sp, pipefd[1], parent);
    }
    close(pipefd[1]);
    /* Reading until exec also orders things: by the time this returns,
     * the child has called setpgid(), so its group exists to be signalled
     * (no need for the usual second setpgid() in the parent). */
    int err = 0;
    ssize_t n;
    do
        n = read(pipefd[0], &err, sizeof(err));
    while (n < 0 && errno == EINTR);
    close(pipefd[0]);
    if (n == (ssize_t)sizeof(err)) {
        waitpid(pid, NULL, 0);
        return -(err ? err : EIO);
    }
    return pid;
}

/* The state letter and process group of one /proc/PID/stat, or -1. The
 * command name in parentheses may hold anything, ')' included: the fields
 * start after the last ')'. */
static int read_stat(int procfd, const char *pid, char *ret_state, pid_t *ret_pgrp)
{
    char path[sizeof(((struct dirent *)0)->d_name) + 8], buf[512];
    snprintf(path, sizeof(path), "%s/stat", pid);
    int fd = openat(procfd, path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return -1;
    buf[n] = '\0';
    char *p = strrchr(buf, ')');
    int ppid, pgrp;
    if (!p || sscanf(p + 1, " %c %d %d", ret_state, &ppid, &pgrp) != 3)
        return -1;
    *ret_pgrp = pgrp;
    return 0;
}

int iw_group_alive(pid_t pgid)
{
    DIR *d = opendir("/proc");
    if (!d)
        return 0;
    int alive = 0;
    struct dirent *e;
    while (!alive && (e = readdir(d))) {
        char state;
        pid_t pgrp;
        if (!isdigit((unsigned char)e->d_name[0]))
            continue;
        if (read_stat(dirfd(d), e->d_name, &state, &pgrp) == 0 && pgrp == pgid && state != 'Z' &&
            state != 'X')
            alive = 1;
    }
    closedir(d);
    return alive;
}

static void reap_listed(FILE *f, pid_t keep)
{
    long pid;
    while (fscanf(f, "%ld", &pid) == 1)
        if ((pid_t)pid != keep)
            waitpid((pid_t)pid, NULL, WNOHANG);
}

void iw_reap_others(pid_t keep)
{
    DIR *d = opendir("/proc/self/task");
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        char path[sizeof(e->d_name) + 16];
        if (!isdigit((unsigned char)e->d_name[0]))
            continue;
        snprintf(path, sizeof(path), "%s/children", e->d_name);
        int fd = openat(dirfd(d), path, O_RDONLY | O_CLOEXEC);
        FILE *f = fd < 0 ? NULL : fdopen(fd, "r");
        if (!f) {
            if (fd >= 0)
                close(fd);
            continue;
        }
        reap_listed(f, keep);
        fclose(f);
    }
    closedir(d);
}
