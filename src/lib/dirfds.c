/* dirfds.c: fds on the directories a batch stats entries in.
 *
 * A created entry is lstat'ed for its type and inode. By path, each stat
 * walks every component from the root down; relative to an fd on its
 * directory, only the last. Builds create in many directories at once
 * (a compiler's outputs, round-robin over a tree), so the watcher keeps an
 * O_PATH fd on each directory it stats in more than once during a batch,
 * up to IW_DIRFDS of them, in a table indexed by the directory's address.
 * The first stat in a directory goes by path (a lone create would pay an
 * open for nothing); the second opens the fd, kept only when it is the
 * node's inode: a path that leads elsewhere (an ancestor's rename still
 * queued) is left to the by-path lookup and its checks. Every fd is closed
 * at the end of the batch: no fd is held between reads. */
#include <fcntl.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

enum { DIRFD_NONE = -1, DIRFD_FAILED = -2 };

static struct iw_dirfd *slot_of(inowatch *w, const struct iw_dir *d)
{
    uintptr_t a = (uintptr_t)d;
    return &w->dirfds[((a >> 4) ^ (a >> 10)) & (IW_DIRFDS - 1)];
}

static void slot_clear(struct iw_dirfd *s)
{
    if (s->dir && s->fd >= 0)
        close(s->fd);
    s->dir = NULL;
    s->fd = DIRFD_NONE;
}

static int open_checked(inowatch *w, const struct iw_dir *d)
{
    int fd = iw_open_dir(w, d, O_PATH);
    if (fd < 0)
        return DIRFD_FAILED;
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISDIR(st.st_mode) || (d->node.ino && st.st_ino != d->node.ino)) {
        close(fd);
        return DIRFD_FAILED;
    }
    return fd;
}

int iw_dirfd_for_stat(inowatch *w, const struct iw_dir *d)
{
    struct iw_dirfd *s = slot_of(w, d);
    if (s->dir != d) { /* first here (another directory may give way) */
        slot_clear(s);
        s->dir = d;
        return -1;
    }
    if (s->fd == DIRFD_NONE)
        s->fd = open_checked(w, d);
    return s->fd >= 0 ? s->fd : -1;
}

void iw_dirfd_forget(inowatch *w, const struct iw_dir *d)
{
    struct iw_dirfd *s = slot_of(w, d);
    if (s->dir == d)
        slot_clear(s); /* its address may come back as another directory */
}

void iw_dirfds_close(inowatch *w)
{
    for (size_t i = 0; i < IW_DIRFDS; i++)
        slot_clear(&w->dirfds[i]);
}
