/* output.c: formats events and writes them in batches.
 *
 * Events are formatted straight into one buffer (no printf per event) and
 * written once per batch, or when the buffer is full, so a reader of a pipe
 * sees a batch at once and the watcher makes one syscall per batch. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "json.h"
#include "output.h"

#define OUT_INITIAL (64u * 1024)
/* Past this, a batch is written out before more is formatted. */
#define OUT_FLUSH_AT (256u * 1024)

int iw_out_init(struct iw_out *o, int fd, int json)
{
    memset(o, 0, sizeof(*o));
    o->fd = fd;
    o->json = json;
    o->buf = malloc(OUT_INITIAL);
    if (!o->buf)
        return -ENOMEM;
    o->cap = OUT_INITIAL;
    return 0;
}

void iw_out_free(struct iw_out *o)
{
    free(o->buf);
    o->buf = NULL;
}

int iw_out_flush(struct iw_out *o)
{
    size_t done = 0;
    while (done < o->len && !o->error) {
        ssize_t n = write(o->fd, o->buf + done, o->len - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            o->error = errno;
        else
            done += (size_t)n;
    }
    o->len = 0;
    return o->error ? -o->error : 0;
}

/* Room for n more bytes: flushes a large buffer first, grows for one huge
 * line (a path far beyond PATH_MAX). */
static char *reserve(struct iw_out *o, size_t n)
{
    if (o->len + n > OUT_FLUSH_AT && o->len > 0)
        iw_out_flush(o);
    if (o->len + n > o->cap) {
        size_t ncap = o->cap;
        while (ncap < o->len + n)
            ncap *= 2;
        char *p = realloc(o->buf, ncap);
        if (!p)
            return NULL;
        o->buf = p;
        o->cap = ncap;
    }
    return o->buf + o->len;
}

int iw_out_raw(struct iw_out *o, const char *s, size_t n)
{
    char *p = reserve(o, n);
    if (!p)
        return -ENOMEM;
    memcpy(p, s, n);
    o->len += n;
    return 0;
}

static char *put(char *p, const char *s)
{
    size_t n = strlen(s);
    memcpy(p, s, n);
    return p + n;
}

static char *put_uint(char *p, unsigned v)
{
    char tmp[16];
    int i = 0;
    do {
        tmp[i++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (i)
        *p++ = tmp[--i];
    return p;
}

static size_t json_bound(const struct inowatch_event *ev)
{
    const char *msg = ev->kind == INOWATCH_ERROR ? inowatch_strerror(ev->error) : "";
    return 128 + iw_json_string_bound(ev->path_len) + iw_json_string_bound(ev->from_len) +
           iw_json_string_bound(strlen(msg));
}

/* The line of an event without `from` or an error, {"event":K,"path":P}
 * or {"event":K,"path":P,"type":T}, is a fixed head per kind and a fixed
 * tail per type around the path. This runs once per event, so both are
 * copied as blocks of a constant size (a few stores, where a copy of a
 * length known only at run time is a call): every head is 25 bytes, and a
 * tail is copied as its whole 24-byte slot, the bytes past its end
 * overwritten by the next line or left beyond the buffer's length. */
#define JSON_HEAD_LEN 25
#define JSON_TAIL_SLOT 24

#define JSON_HEAD(kind) "{\"event\":\"" kind "\",\"path\":"
#define JSON_HEAD_FITS(kind) (sizeof(JSON_HEAD(kind)) - 1 == JSON_HEAD_LEN)
_Static_assert(JSON_HEAD_FITS("create") && JSON_HEAD_FITS("modify") && JSON_HEAD_FITS("attrib") &&
                   JSON_HEAD_FITS("delete"),
               "every head of the plain form is JSON_HEAD_LEN bytes");

static const char *json_head(enum inowatch_kind kind)
{
    switch (kind) {
    case INOWATCH_CREATE: return JSON_HEAD("create");
    case INOWATCH_MODIFY: return JSON_HEAD("modify");
    case INOWATCH_ATTRIB: return JSON_HEAD("attrib");
    case INOWATCH_DELETE: return JSON_HEAD("delete");
    default: return NULL; /* the general form */
    }
}

static const struct {
    char s[JSON_TAIL_SLOT];
    unsigned char n;
} json_tails[] = {
#define JSON_TAIL(s) {s, sizeof(s) - 1}
    [INOWATCH_TYPE_NONE] = JSON_TAIL("}\n"),
    [INOWATCH_TYPE_FILE] = JSON_TAIL(",\"type\":\"file\"}\n"),
    [INOWATCH_TYPE_DIR] = JSON_TAIL(",\"type\":\"dir\"}\n"),
    [INOWATCH_TYPE_SYMLINK] = JSON_TAIL(",\"type\":\"symlink\"}\n"),
    [INOWATCH_TYPE_OTHER] = JSON_TAIL(",\"type\":\"other\"}\n"),
};

static int json_plain_event(struct iw_out *o, const struct inowatch_event *ev, const char *head)
{
    unsigned type = (unsigned)ev->type;
    if (type >= sizeof(json_tails) / sizeof(json_tails[0]))
        type = INOWATCH_TYPE_NONE;
    char *start = reserve(o, JSON_HEAD_LEN + iw_json_string_bound(ev->path_len) + JSON_TAIL_SLOT);
    char *p = start;
    if (!p)
        return -ENOMEM;
    memcpy(p, head, JSON_HEAD_LEN);
    p += JSON_HEAD_LEN;
    p += iw_json_string(p, ev->path, ev->path_len);
    memcpy(p, json_tails[type].s, JSON_TAIL_SLOT);
    p += json_tails[type].n;
    o->len += (size_t)(p - start);
    return 0;
}

static int json_event(struct iw_out *o, const struct inowatch_event *ev)
{
    const char *head = ev->from ? NULL : json_head(ev->kind);
    if (head)
        return json_plain_event(o, ev, head);
    char *start = reserve(o, json_bound(ev)), *p = start;
    if (!p)
        return -ENOMEM;
    p = put(p, "{\"event\":\"");
    p = put(p, inowatch_kind_name(ev->kind));
    *p++ = '"';
    if (ev->from) {
        p = put(p, ",\"from\":");
        p += iw_json_string(p, ev->from, ev->from_len);
    }
    if (ev->kind != INOWATCH_OVERFLOW) {
        p = put(p, ",\"path\":");
        p += iw_json_string(p, ev->path, ev->path_len);
    }
    if (ev->type != INOWATCH_TYPE_NONE) {
        p = put(p, ",\"type\":\"");
        p = put(p, inowatch_type_name(ev->type));
        *p++ = '"';
    }
    if (ev->kind == INOWATCH_ERROR) {
        p = put(p, ",\"errno\":");
        p = put_uint(p, (unsigned)ev->error);
        p = put(p, ",\"error\":\"");
        p = put(p, inowatch_errno_name(ev->error));
        p = put(p, "\",\"message\":");
        const char *msg = inowatch_strerror(ev->error);
        p += iw_json_string(p, msg, strlen(msg));
        if (ev->flags & INOWATCH_FLAG_FATAL)
            p = put(p, ",\"fatal\":true");
    }
    p = put(p, "}\n");
    o->len += (size_t)(p - start);
    return 0;
}

/* Human form: "create file PATH", "rename dir FROM -> PATH", "modify PATH",
 * "error EACCES PATH: message", "overflow". Control characters in names are
 * escaped so that one event stays one line. */
static int text_event(struct iw_out *o, const struct inowatch_event *ev)
{
    const char *msg = ev->kind == INOWATCH_ERROR ? inowatch_strerror(ev->error) : "";
    size_t bound = 64 + strlen(msg) + iw_text_escape_bound(ev->path_len) +
                   iw_text_escape_bound(ev->from_len);
    char *start = reserve(o, bound), *p = start;
    if (!p)
        return -ENOMEM;
    p = put(p, inowatch_kind_name(ev->kind));
    if (ev->kind == INOWATCH_OVERFLOW) {
        *p++ = '\n';
        o->len += (size_t)(p - start);
        return 0;
    }
    *p++ = ' ';
    if (ev->kind == INOWATCH_ERROR) {
        p = put(p, inowatch_errno_name(ev->error));
        *p++ = ' ';
    } else if (ev->kind != INOWATCH_MODIFY && ev->kind != INOWATCH_ATTRIB) {
        p = put(p, inowatch_type_name(ev->type));
        *p++ = ' ';
    }
    if (ev->from) {
        p += iw_text_escape(p, ev->from, ev->from_len);
        p = put(p, " -> ");
    }
    p += iw_text_escape(p, ev->path, ev->path_len);
    if (ev->kind == INOWATCH_ERROR) {
        p = put(p, ": ");
        p = put(p, msg);
    }
    *p++ = '\n';
    o->len += (size_t)(p - start);
    return 0;
}

int iw_out_event(struct iw_out *o, const struct inowatch_event *ev)
{
    return o->json ? json_event(o, ev) : text_event(o, ev);
}
