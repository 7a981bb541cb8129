/* follow_out.c: what "inowatch follow" prints, and where it starts.
 *
 * File data is read straight into one output buffer and written with as
 * few write(2) calls as possible: a burst of appends becomes one write, and
 * no line is formatted. Messages go to stderr only after stdout is flushed,
 * so that "replaced" comes after the last bytes of the old file. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"
#include "follow_state.h"

static void write_all(struct follow *fw, const char *p, size_t n)
{
    while (n > 0 && !fw->out_err) {
        ssize_t w = write(STDOUT_FILENO, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0) {
            fw->out_err = errno;
            break;
        }
        p += w;
        n -= (size_t)w;
    }
}

int iw_follow_flush(struct follow *fw)
{
    write_all(fw, fw->out, fw->len);
    fw->len = 0;
    return fw->out_err ? -fw->out_err : 0;
}

void iw_follow_say(struct follow *fw, const char *fmt, ...)
{
    char line[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    iw_follow_flush(fw);
    iw_complain("follow: %s", line);
}

/* Appends n bytes; what does not fit even in an empty buffer is written
 * directly (a FILE name longer than the buffer, in a header). */
static void put(struct follow *fw, const char *s, size_t n)
{
    if (FOLLOW_OUT_CAP - fw->len < n)
        iw_follow_flush(fw);
    if (n > FOLLOW_OUT_CAP) {
        write_all(fw, s, n);
        return;
    }
    memcpy(fw->out + fw->len, s, n);
    fw->len += n;
}

static void put_header(struct follow *fw, const struct follow_file *f)
{
    if (fw->any_header)
        put(fw, "\n", 1);
    put(fw, "==> ", 4);
    put(fw, f->name, strlen(f->name));
    put(fw, " <==\n", 5);
    fw->any_header = 1;
}

/* A size below what was read means the file was truncated. Whatever was
 * appended since then starts at offset 0 (copytruncate: the writer goes on
 * writing after the truncation), so reading goes on from there. */
static void check_truncated(struct follow *fw, struct follow_file *f)
{
    struct stat st;
    if (fstat(f->fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size >= f->off)
        return;
    iw_follow_say(fw, "%s: truncated; following it from its start", f->name);
    if (lseek(f->fd, 0, SEEK_SET) == 0)
        f->off = 0;
}

/* Reads what f's file holds past f->off into the buffer: at most limit
 * bytes, then sets f->readable so that the loop comes back. A header goes
 * first when output switches files (or always, with header set); it is
 * taken back if there was nothing to read. Returns 0 or -errno of a
 * failed read. */
int iw_follow_pump(struct follow *fw, struct follow_file *f, unsigned long long limit, int header)
{
    f->readable = 0;
    if (f->fd < 0)
        return 0;
    check_truncated(fw, f);
    int want_header = fw->headers && (header || fw->last != f);
    if (want_header && FOLLOW_OUT_CAP - fw->len < strlen(f->name) + 16)
        iw_follow_flush(fw);
    size_t mark = fw->len;
    int had_header = fw->any_header;
    if (want_header)
        put_header(fw, f);
    unsigned long long got = 0;
    int err = 0;
    while (got < limit) {
        if (fw->len == FOLLOW_OUT_CAP && iw_follow_flush(fw) < 0)
            break;
        size_t room = FOLLOW_OUT_CAP - fw->len;
        if (room > limit - got)
            room = (size_t)(limit - got);
        ssize_t n = read(f->fd, fw->out + fw->len, room);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            err = n < 0 && errno != EAGAIN ? errno : 0;
            break;
        }
        fw->len += (size_t)n;
        f->off += n;
        got += (unsigned long long)n;
    }
    if (got >= limit)
        f->readable = 1;
    if (got > 0 || header) {
        fw->last = f;
    } else if (want_header && fw->len >= mark) {
        /* Nothing to show under it: the header was never needed. */
        fw->len = mark;
        fw->any_header = had_header;
    }
    return -err;
}

/* Reads `len` bytes at `pos`, short only at end of file. */
static ssize_t pread_full(int fd, char *buf, size_t len, off_t pos)
{
    size_t done = 0;
    while (done < len) {
        ssize_t n = pread(fd, buf + done, len - done, pos + (off_t)done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        if (n == 0)
            break;
        done += (size_t)n;
    }
    return (ssize_t)done;
}

/* Where the last `n` lines start: reads backwards from the end, a block at
 * a time, so a 10 GB log costs a block or two, not 10 GB. A last line
 * without its newline counts as a line; the file's final newline does not
 * start one. */
static off_t last_lines(int fd, off_t size, long long n)
{
    char buf[16384];
    off_t pos = size;
    long long seen = 0;
    if (n == 0)
        return size;
    while (pos > 0) {
        size_t len = pos < (off_t)sizeof(buf) ? (size_t)pos : sizeof(buf);
        pos -= (off_t)len;
        ssize_t got = pread_full(fd, buf, len, pos);
        if (got < (ssize_t)len)
            return 0; /* shrank meanwhile: print it all rather than guess */
        for (size_t i = len; i-- > 0;) {
            if (buf[i] != '\n' || pos + (off_t)i == size - 1)
                continue;
            if (++seen == n)
                return pos + (off_t)i + 1;
        }
    }
    return 0;
}

/* Where line k (from 1) starts, reading forwards. */
static off_t from_line(int fd, off_t size, long long k)
{
    char buf[16384];
    off_t pos = 0;
    long long seen = 1;
    while (seen < k && pos < size) {
        ssize_t got = pread_full(fd, buf, sizeof(buf), pos);
        if (got <= 0)
            return size;
        for (ssize_t i = 0; i < got; i++) {
            if (buf[i] == '\n' && ++seen == k)
                return pos + i + 1;
        }
        pos += got;
    }
    return seen < k ? size : pos;
}

off_t iw_follow_start_offset(int fd, const struct stat *st, const struct follow_start *how)
{
    /* Only a regular file has a size and an end to count back from; a FIFO
     * or a device is read from where it is. */
    if (!S_ISREG(st->st_mode))
        return 0;
    off_t size = st->st_size;
    long long k = how->count;
    if (how->bytes && how->from_start)
        return k <= 1 ? 0 : (k - 1 < size ? (off_t)(k - 1) : size);
    if (how->bytes)
        return k >= size ? 0 : size - (off_t)k;
    if (how->from_start)
        return k <= 1 ? 0 : from_line(fd, size, k);
    return last_lines(fd, size, k);
}
