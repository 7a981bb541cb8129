/* writer.c: appending to a path that may be renamed away, replaced or
 * deleted under the open file (see inowatch_writer in inowatch.h).
 *
 * The file's own watch says when its inode stops being the one the path
 * names: IN_MOVE_SELF (renamed away: logrotate), IN_ATTRIB (its link count
 * changed: unlinked, or another file was renamed over it, an editor's
 * save; also chmod and friends, hence the check), IN_DELETE_SELF. The
 * directory's watch says when the name was taken by a new entry
 * (IN_CREATE, IN_MOVED_TO), e.g. a logrotate that creates the new file
 * before we wrote again, or that the directory itself moved (its own
 * IN_MOVE_SELF: the path may now lead into another directory). Only when
 * one of these is queued does the writer
 * compare the path with its fd; otherwise the cost per record is one
 * non-blocking read that returns EAGAIN. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "inowatch.h"

#define WRITER_EVENTS_BUF 4096

struct inowatch_writer {
    int fd;        /* the data file, O_APPEND */
    int ifd;       /* our own inotify instance */
    int file_wd;   /* watch on the open file's inode */
    int dir_wd;    /* watch on the directory, for the name */
    unsigned mode; /* for re-creation */
    unsigned long reopens;
    int must_check; /* a reopen failed, or its file kept losing its name: check again
                     * before the next write */
    char *path;
    const char *name; /* the last component of path */
};

static const char *last_component(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

static int watch_fd(int ifd, int fd, uint32_t mask)
{
    char link[32];
    snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
    int wd = inotify_add_watch(ifd, link, mask);
    return wd < 0 ? -errno : wd;
}

/* Whether path names the file open at fd, and that file still has a link. */
static int names_fd(const char *path, int fd)
{
    struct stat at_path, ours;
    if (fstat(fd, &ours) < 0 || ours.st_nlink == 0)
        return 0;
    if (stat(path, &at_path) < 0)
        return 0;
    return at_path.st_dev == ours.st_dev && at_path.st_ino == ours.st_ino;
}

/* How many times a reopen tries to get a file the path still names. */
#define WRITER_OPEN_TRIES 64

/* Opens the path and watches what was opened. Returns 0, 1 when after
 * WRITER_OPEN_TRIES the file kept losing its name before its watch was in
 * place (it is used, and checked again before the next write), or a
 * negative errno.
 *
 * The check after the watch is what makes the watch enough: whatever
 * happens to the name later is an event on it, and what happened before
 * is seen by the check. Two ways to open a file already on its way out:
 * a rename or unlink between open() and inotify_add_watch() sends its
 * IN_MOVE_SELF / IN_ATTRIB before the watch exists; and since Linux 6.x an
 * open with O_CREAT looks the name up without the directory's lock, so it
 * can return the very inode an unlink has just taken to 0 links (after
 * its IN_ATTRIB, before the name is gone from the dentry cache): the
 * watch is then the old one, whose events were all read already, and
 * every later record would go into the unlinked file with nothing left to
 * say so. */
static int open_and_watch(inowatch_writer *wr)
{
    for (int tries = 1;; tries++) {
        int fd = open(wr->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, wr->mode);
        if (fd < 0)
            return -errno;
        int wd = watch_fd(wr->ifd, fd, IN_MOVE_SELF | IN_ATTRIB | IN_DELETE_SELF);
        if (wd < 0) {
            close(fd);
            return wd;
        }
        int named = names_fd(wr->path, fd);
        if (named || tries == WRITER_OPEN_TRIES) {
            if (wr->file_wd >= 0 && wr->file_wd != wd)
                inotify_rm_watch(wr->ifd, wr->file_wd);
            wr->file_wd = wd;
            if (wr->fd >= 0)
                close(wr->fd);
            wr->fd = fd;
            return named ? 0 : 1;
        }
        if (wd != wr->file_wd) /* not the file still in use */
            inotify_rm_watch(wr->ifd, wd);
        close(fd);
    }
}

static int watch_dir(inowatch_writer *wr)
{
    size_t dlen = (size_t)(wr->name - wr->path);
    char *dir = dlen ? strndup(wr->path, dlen > 1 ? dlen - 1 : 1) : strdup(".");
    if (!dir)
        return -ENOMEM;
    int wd = inotify_add_watch(wr->ifd, dir,
                               IN_CREATE | IN_MOVED_TO | IN_MOVE_SELF | IN_DELETE_SELF | IN_ONLYDIR);
    int err = errno;
    free(dir);
    if (wd < 0)
        return -err;
    if (wr->dir_wd >= 0 && wr->dir_wd != wd)
        inotify_rm_watch(wr->ifd, wr->dir_wd);
    wr->dir_wd = wd;
    return 0;
}

int inowatch_writer_open(inowatch_writer **ret, const char *path, unsigned mode)
{
    if (!ret || !path || !*path)
        return -EINVAL;
    inowatch_writer *wr = calloc(1, sizeof(*wr));
    if (!wr)
        return -ENOMEM;
    wr->fd = wr->file_wd = wr->dir_wd = -1;
    wr->mode = mode;
    wr->path = strdup(path);
    wr->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    int r = !wr->path ? -ENOMEM : wr->ifd < 0 ? -errno : 0;
    if (r == 0) {
        wr->name = last_component(wr->path);
        r = watch_dir(wr);
    }
    if (r == 0)
        r = open_and_watch(wr);
    if (r < 0) {
        inowatch_writer_close(wr);
        return r;
    }
    wr->must_check = r;
    *ret = wr;
    return 0;
}

/* Drains our queue; 1 if anything in it may mean the path changed. */
static int path_may_have_changed(inowatch_writer *wr)
{
    _Alignas(struct inotify_event) char buf[WRITER_EVENTS_BUF];
    int changed = 0;
    for (;;) {
        ssize_t n = read(wr->ifd, buf, sizeof(buf));
        if (n <= 0)
            return changed || (n < 0 && errno != EAGAIN && errno != EINTR);
        for (ssize_t off = 0; off + (ssize_t)sizeof(struct inotify_event) <= n;) {
            const struct inotify_event *e = (const void *)(buf + off);
            off += (ssize_t)(sizeof(*e) + e->len);
            if (e->wd == wr->dir_wd && e->len && strncmp(e->name, wr->name, e->len) != 0)
                continue; /* another name in the directory */
            changed = 1;
        }
    }
}

long inowatch_writer_write(inowatch_writer *wr, const void *buf, size_t len)
{
    if (!wr)
        return -EINVAL;
    /* The events that said so are consumed by the check: after a failed
     * reopen (its directory gone, say) the next write must try again
     * rather than fall back into the old inode. */
    if ((path_may_have_changed(wr) || wr->must_check) && !names_fd(wr->path, wr->fd)) {
        int r = watch_dir(wr); /* the directory may be another one now */
        if (r == 0)
            r = open_and_watch(wr);
        wr->must_check = r != 0;
        if (r < 0)
            return r;
        wr->reopens++;
    } else {
        wr->must_check = 0;
    }
    for (;;) {
        ssize_t n = write(wr->fd, buf, len);
        if (n >= 0)
            return n > LONG_MAX ? LONG_MAX : (long)n;
        if (errno != EINTR)
            return -errno;
    }
}

int inowatch_writer_fd(const inowatch_writer *wr)
{
    return wr ? wr->fd : -EINVAL;
}

unsigned long inowatch_writer_reopens(const inowatch_writer *wr)
{
    return wr ? wr->reopens : 0;
}

void inowatch_writer_close(inowatch_writer *wr)
{
    if (!wr)
        return;
    if (wr->fd >= 0)
        close(wr->fd);
    if (wr->ifd >= 0)
        close(wr->ifd);
    free(wr->path);
    free(wr);
}
