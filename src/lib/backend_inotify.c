/* backend_inotify.c: inotify's side of the backend: one watch per
 * directory, put on the inode that was opened. */
#include <errno.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "internal.h"

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

int iw_inotify_init(void)
{
    int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    return fd < 0 ? -errno : fd;
}

/* Makes w->fd_prefix "/proc/PID/fd/" for the calling process, PID as
 * /proc itself numbers it (readlink of /proc/self: in a PID namespace whose
 * /proc was not mounted again, getpid() is another number). Called once
 * per batch and per inowatch_add(), not per watch: a getpid() there would
 * cost a third of what the prefix saves. A fork's child gets its own at
 * its first call; where /proc/self cannot be read, the prefix stays empty
 * and watches go through /proc/self. */
void iw_inotify_fd_prefix_update(inowatch *w)
{
    pid_t pid = getpid();
    if (w->fd_prefix_pid == pid)
        return;
    w->fd_prefix_pid = pid;
    w->fd_prefix[0] = '\0';
    char self[16];
    ssize_t n = readlink("/proc/self", self, sizeof(self));
    if (n <= 0 || (size_t)n + sizeof("/proc//fd/") > sizeof(w->fd_prefix))
        return;
    memcpy(w->fd_prefix, "/proc/", 6);
    memcpy(w->fd_prefix + 6, self, (size_t)n);
    memcpy(w->fd_prefix + 6 + n, "/fd/", sizeof("/fd/"));
}

/* Watches the inode open at fd, through its /proc link: the watch lands on
 * exactly what was opened, even if the path was swapped since. */
int iw_inotify_watch_fd(inowatch *w, int fd, int is_dir)
{
    char link[IW_FD_LINK_MAX];
    const char *prefix = w->fd_prefix[0] ? w->fd_prefix : IW_FD_PREFIX_SELF;
    uint32_t mask = is_dir ? dir_mask(w) : (IN_MODIFY | IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF);
    int wd = inotify_add_watch(w->fd, iw_fd_link(link, prefix, fd), mask);
    return wd < 0 ? -errno : wd;
}

void iw_inotify_unwatch(inowatch *w, int wd)
{
    /* EINVAL when the kernel already dropped it (the directory was
     * deleted): nothing to undo. */
    if (w->fd >= 0)
        (void)inotify_rm_watch(w->fd, wd);
}

