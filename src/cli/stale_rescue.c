/* stale_rescue.c: copying orphaned files out through /proc/PID/fd/N. */
#include "stale_rescue.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* How many names iw_rescue() tries before giving up: enough for every
 * rerun a person makes, few enough to stop a loop from filling the disk. */
#define RESCUE_COPIES_MAX 1000

int iw_rescue_dir_open(const char *dir)
{
    if (mkdir(dir, 0700) < 0 && errno != EEXIST)
        return -errno;
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    return fd < 0 ? -errno : fd;
}

/* '/' cannot be in a name and '%' starts an escape; control bytes (a
 * newline) would break every script that lists the directory. */
static int needs_escape(unsigned char c)
{
    return c == '/' || c == '%' || c < 0x20 || c == 0x7f;
}

static size_t encoded_len(unsigned char c)
{
    return needs_escape(c) ? 3 : 1;
}

static size_t encode(char *out, const char *s, size_t n)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (needs_escape((unsigned char)s[i])) {
            o += (size_t)sprintf(out + o, "%%%02X", (unsigned)(unsigned char)s[i]);
        } else {
            out[o++] = s[i];
        }
    }
    return o;
}

void iw_rescue_name(const struct iw_stale_fd *f, unsigned copy, char out[NAME_MAX + 1])
{
    int n = copy ? snprintf(out, NAME_MAX + 1, "%ld-%d.%u-", (long)f->pid, f->fd, copy)
                 : snprintf(out, NAME_MAX + 1, "%ld-%d-", (long)f->pid, f->fd);
    size_t used = (size_t)n, len = strlen(f->path), start = 0, need = 0;
    for (size_t i = 0; i < len; i++)
        need += encoded_len((unsigned char)f->path[i]);
    if (used + need > NAME_MAX) {
        /* The end of a path (the file's own name) says the most. Whole
         * bytes are dropped from the front, then any UTF-8 continuation
         * bytes, so that no character is cut in half. */
        memcpy(out + used, "...", 3);
        used += 3;
        while (start < len && used + need > NAME_MAX)
            need -= encoded_len((unsigned char)f->path[start++]);
        while (start < len && ((unsigned char)f->path[start] & 0xc0) == 0x80)
            need -= encoded_len((unsigned char)f->path[start++]);
    }
    used += encode(out + used, f->path + start, len - start);
    out[used] = '\0';
}

/* Copies in (from offset 0) to the end of out. copy_file_range keeps the
 * data in the kernel, and shares extents where the filesystem can; where it
 * cannot be used (another filesystem on older kernels, filesystems without
 * it) or stops short, read and write go on from where it stopped. Returns
 * the bytes copied or a negative errno. */
static long long copy_all(int in, int out)
{
    off64_t off = 0;
    for (;;) {
        ssize_t n = copy_file_range(in, &off, out, NULL, (size_t)1 << 30, 0);
        if (n > 0)
            continue;
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno != EXDEV && errno != EINVAL && errno != ENOSYS && errno != EOPNOTSUPP &&
            errno != EBADF)
            return -errno;
        break;
    }
    char buf[65536];
    for (;;) {
        ssize_t n = pread(in, buf, sizeof(buf), off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        if (n == 0)
            return (long long)off;
        for (ssize_t done = 0; done < n;) {
            ssize_t w = write(out, buf + done, (size_t)(n - done));
            if (w < 0 && errno != EINTR)
                return -errno;
            done += w > 0 ? w : 0;
        }
        off += n;
    }
}

/* Opens the file f names through the process's fd, checking that the fd
 * still holds it (it may have been closed and reused since the scan). */
static int open_source(const struct iw_stale_fd *f)
{
    char src[64];
    snprintf(src, sizeof(src), "/proc/%ld/fd/%d", (long)f->pid, f->fd);
    int in = open(src, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (in < 0)
        return -errno;
    struct stat st;
    if (fstat(in, &st) < 0 || st.st_dev != f->dev || st.st_ino != f->ino) {
        close(in);
        return -ESTALE;
    }
    return in;
}

/* Creates the first free name in dirfd; O_EXCL never opens an existing
 * file, O_NOFOLLOW never follows a symlink planted under a free name. */
static int create_target(int dirfd, const struct iw_stale_fd *f, char name[NAME_MAX + 1])
{
    for (unsigned copy = 0; copy < RESCUE_COPIES_MAX; copy++) {
        iw_rescue_name(f, copy, name);
        int out = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (out >= 0 || errno != EEXIST)
            return out < 0 ? -errno : out;
    }
    return -EEXIST;
}

int iw_rescue(int dirfd, const struct iw_stale_fd *f, char ret_name[NAME_MAX + 1],
              long long *ret_bytes, const char **ret_step)
{
    *ret_step = "opening it through /proc";
    int in = open_source(f);
    if (in < 0)
        return in;
    *ret_step = "creating the copy";
    int out = create_target(dirfd, f, ret_name);
    if (out < 0) {
        close(in);
        return out;
    }
    *ret_step = "copying";
    long long n = copy_all(in, out);
    close(in);
    /* The copy is what is left of the data: make sure it is on disk. */
    int r = n < 0 ? (int)n : fsync(out) < 0 ? -errno : 0;
    if (close(out) < 0 && r == 0)
        r = -errno;
    if (r < 0) {
        /* The process still holds the file: a later try can do better
         * than a truncated copy that looks complete. */
        unlinkat(dirfd, ret_name, 0);
        return r;
    }
    *ret_bytes = n;
    return 0;
}
