/* errors.c: words for errors, limits, kinds and types. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

const char *inowatch_strerror(int error)
{
    int e = error < 0 ? -error : error;
    switch (e) {
    case 0:
        return "Success";
    case ENOSPC:
        /* inotify_add_watch says ENOSPC for the watch limit; the libc text
         * ("No space left on device") sends people to df. */
        return "inotify watch limit reached";
    default:
#if defined(__GLIBC__) && (__GLIBC__ > 2 || __GLIBC_MINOR__ >= 32)
    {
        const char *s = strerrordesc_np(e);
        return s ? s : "Unknown error";
    }
#else
        return strerror(e);
#endif
    }
}

const char *inowatch_errno_name(int error)
{
    int e = error < 0 ? -error : error;
    switch (e) {
    case ENOENT: return "ENOENT";
    case EACCES: return "EACCES";
    case EPERM: return "EPERM";
    case ENOTDIR: return "ENOTDIR";
    case ELOOP: return "ELOOP";
    case ENOSPC: return "ENOSPC";
    case EMFILE: return "EMFILE";
    case ENFILE: return "ENFILE";
    case ENOMEM: return "ENOMEM";
    case EINVAL: return "EINVAL";
    case ENAMETOOLONG: return "ENAMETOOLONG";
    case EIO: return "EIO";
    case EBADF: return "EBADF";
    case EINTR: return "EINTR";
    case EAGAIN: return "EAGAIN";
    case EEXIST: return "EEXIST";
    case ENODEV: return "ENODEV";
    case ESTALE: return "ESTALE";
    case ENOSYS: return "ENOSYS";
    case EOVERFLOW: return "EOVERFLOW";
    case ENOBUFS: return "ENOBUFS";
    case ENXIO: return "ENXIO";
    default:
#if defined(__GLIBC__) && (__GLIBC__ > 2 || __GLIBC_MINOR__ >= 32)
    {
        const char *s = strerrorname_np(e);
        return s ? s : "E?";
    }
#else
        return "E?";
#endif
    }
}

int inowatch_is_fatal(int error)
{
    switch (error < 0 ? -error : error) {
    case ENOSPC: /* the watch limit */
    case EMFILE: /* the instance limit, or the process's fds */
    case ENFILE:
    case ENOMEM:
    case EBADF:
        return 1;
    default:
        return 0;
    }
}

static int read_ulong(const char *path, unsigned long *ret)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    char buf[32];
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    int err = errno;
    close(fd);
    if (n <= 0)
        return n < 0 ? -err : -EIO;
    buf[n] = '\0';
    char *end;
    unsigned long v = strtoul(buf, &end, 10);
    if (end == buf)
        return -EIO;
    *ret = v;
    return 0;
}

/* Inside a user namespace the kernel enforces both the namespace's own
 * user.max_inotify_* and the initial namespace's fs.inotify.max_user_*:
 * the smaller one is the one that was hit. Outside, they are one value. */
int inowatch_limit_for(int error, struct inowatch_limit *ret)
{
    static const struct inowatch_limit watches[2] = {
        {"fs.inotify.max_user_watches", "/proc/sys/fs/inotify/max_user_watches", 0},
        {"user.max_inotify_watches", "/proc/sys/user/max_inotify_watches", 0},
    };
    static const struct inowatch_limit instances[2] = {
        {"fs.inotify.max_user_instances", "/proc/sys/fs/inotify/max_user_instances", 0},
        {"user.max_inotify_instances", "/proc/sys/user/max_inotify_instances", 0},
    };
    int e = error < 0 ? -error : error;
    const struct inowatch_limit *pair = e == ENOSPC ? watches : e == EMFILE ? instances : NULL;
    if (!pair || !ret)
        return -EINVAL;
    unsigned long global = 0, userns = 0;
    int r = read_ulong(pair[0].path, &global);
    int ru = read_ulong(pair[1].path, &userns);
    if (r < 0 && ru < 0)
        return r;
    if (ru == 0 && (r < 0 || userns < global)) {
        *ret = pair[1];
        ret->value = userns;
    } else {
        *ret = pair[0];
        ret->value = global;
    }
    return 0;
}

const char *inowatch_kind_name(enum inowatch_kind kind)
{
    switch (kind) {
    case INOWATCH_CREATE: return "create";
    case INOWATCH_MODIFY: return "modify";
    case INOWATCH_ATTRIB: return "attrib";
    case INOWATCH_DELETE: return "delete";
    case INOWATCH_RENAME: return "rename";
    case INOWATCH_OVERFLOW: return "overflow";
    case INOWATCH_ERROR: return "error";
    default: return "unknown";
    }
}

const char *inowatch_type_name(enum inowatch_type type)
{
    switch (type) {
    case INOWATCH_TYPE_FILE: return "file";
    case INOWATCH_TYPE_DIR: return "dir";
    case INOWATCH_TYPE_SYMLINK: return "symlink";
    case INOWATCH_TYPE_OTHER: return "other";
    default: return "";
    }
}
