/* test_fork.c: a watcher used on both sides of a fork. Each watch goes
 * through the /proc name of an fd (/proc/PID/fd/N), and the PID part is
 * kept by the watcher: a child that adds a directory must use its own,
 * or the name would lead to the parent's fd N (another file, or none).
 * The parent adds a root and reads a batch first (so its PID is the one
 * kept), and the child adds a second root and must be told of a file
 * created in it. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "files.h"
#include "inowatch.h"

/* In the child: 0 when a create of dir/f0 is reported, else a code. */
static int child_watches(inowatch *w, const char *dir)
{
    /* Fds the parent does not have: the child's open of dir gets a number
     * that the parent's /proc/PID/fd does not list. */
    for (int i = 0; i < 4; i++)
        if (open("/dev/null", O_RDONLY | O_CLOEXEC) < 0)
            return 1;
    if (inowatch_add(w, dir) < 0)
        return 2;
    make_files(dir, 1);
    char want[512];
    snprintf(want, sizeof(want), "%s/f0", dir);
    for (int tries = 0; tries < 50; tries++) {
        int n = inowatch_read(w, 100);
        if (n < 0)
            return 3;
        const struct inowatch_event *ev;
        while (inowatch_next(w, &ev) > 0)
            if (ev->kind == INOWATCH_CREATE && strcmp(ev->path, want) == 0)
                return 0;
    }
    return 4; /* the spare fds go with the child */
}

static void test_child_adds_a_root(struct iw_check *t)
{
    char first[] = "/tmp/inowatch-fork-a-XXXXXX", second[] = "/tmp/inowatch-fork-b-XXXXXX";
    CHECK(mkdtemp(first) != NULL);
    CHECK(mkdtemp(second) != NULL);
    struct inowatch_options o = {.latency_ms = INOWATCH_LATENCY_NONE,
                                 .backend = INOWATCH_BACKEND_INOTIFY};
    inowatch *w = NULL;
    CHECK_EQ(inowatch_new(&w, &o), 0);
    if (!w)
        return;
    CHECK_EQ(inowatch_add(w, first), 0);
    make_files(first, 1); /* a batch, in which the parent's name is made */
    CHECK(inowatch_read(w, 1000) > 0);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0)
        _exit(child_watches(w, second));
    int status = 0;
    CHECK_EQ(waitpid(pid, &status, 0), pid);
    CHECK(WIFEXITED(status));
    CHECK_EQ(WEXITSTATUS(status), 0); /* 2: add failed, 3: read failed, 4: no create */
    inowatch_free(w);
    remove_dir(second, 1);
    remove_dir(first, 1);
}

int main(void)
{
    struct iw_check t = {0};
    test_child_adds_a_root(&t);
    return iw_check_done(&t, "fork");
}
