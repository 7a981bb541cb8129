/* fuzz_fanotify.c: the fanotify decoder, over a real model of a small
 * temporary tree, fed two ways. An input whose first byte is odd goes to
 * the decoder as it is (records cut short, lengths that lie, handles of
 * any size). Otherwise the bytes are a program that builds well-formed
 * events from the tree's real directory handles and a small alphabet of
 * names (existing ones, new ones, ".", "..", "a/b"), so that the rules
 * behind the decoder (creates, deletes, moves in, out and across, merged
 * bits, settling against the disk) are reached with meaningful input. The
 * decoder must never read past the buffer or crash, and the model must
 * stay consistent (checked by freeing it: ASan reports any corruption).
 *
 * Needs what fanotify needs (root, Linux 5.17); without it, it says so and
 * exits. */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fanotify.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "internal.h"
#include "fixture_tree.h"

#ifndef AT_HANDLE_FID
#define AT_HANDLE_FID AT_REMOVEDIR
#endif

#define RESET_EVERY 512
#define NDIRS FIXTURE_NDIRS
#define BUF_MAX 65536

static const char *const names[] = {"a", "b", "c", "d", "f", "g", "h", "i", "new", "x1",
                                    ".", "..", "a/b", "longer-name-here"};

struct handle {
    unsigned char fsid[8];
    union {
        struct file_handle fh;
        unsigned char bytes[sizeof(struct file_handle) + MAX_HANDLE_SZ];
    } h;
};

static struct {
    char root[64];
    inowatch *w;
    unsigned runs;
    struct handle dirs[NDIRS];
    unsigned char buf[BUF_MAX];
} fx;

static int take_handle(const char *path, struct handle *out)
{
    int mnt;
    struct statfs sfs;
    out->h.fh.handle_bytes = MAX_HANDLE_SZ;
    if (statfs(path, &sfs) < 0 ||
        (name_to_handle_at(AT_FDCWD, path, &out->h.fh, &mnt, AT_HANDLE_FID) < 0 &&
         (out->h.fh.handle_bytes = MAX_HANDLE_SZ,
          name_to_handle_at(AT_FDCWD, path, &out->h.fh, &mnt, 0) < 0)))
        return -1;
    memcpy(out->fsid, &sfs.f_fsid, sizeof(out->fsid));
    return 0;
}

static void start_watcher(void)
{
    inowatch_free(fx.w);
    fx.w = NULL;
    struct inowatch_options o = {.latency_ms = INOWATCH_LATENCY_NONE,
                                 .backend = INOWATCH_BACKEND_FANOTIFY};
    int r = inowatch_new(&fx.w, &o);
    if (r < 0) {
        fprintf(stderr, "fuzz_fanotify: fanotify cannot be used here (%s): nothing to fuzz\n",
                inowatch_strerror(r));
        exit(0);
    }
    if (inowatch_add(fx.w, fx.root) < 0)
        abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    snprintf(fx.root, sizeof(fx.root), "/tmp/inowatch-fuzzfan-XXXXXX");
    if (!mkdtemp(fx.root))
        abort();
    fixture_make_tree(fx.root);
    for (size_t i = 0; i < NDIRS; i++) {
        char p[128];
        snprintf(p, sizeof(p), "%s/%s", fx.root, fixture_dirs[i]);
        if (take_handle(p, &fx.dirs[i]) < 0)
            abort();
    }
    start_watcher();
    return 0;
}

/* ---- building events from a program -------------------------------------- */

struct reader {
    const uint8_t *p;
    size_t left;
};

static unsigned next(struct reader *r)
{
    if (!r->left)
        return 0;
    r->left--;
    return *r->p++;
}

/* Appends a record: a directory handle (one of the tree's, or made-up
 * bytes for "elsewhere") and, for the name-carrying types, a name. */
static size_t put_record(unsigned char *out, size_t room, uint8_t type, struct reader *r,
                         int with_name)
{
    unsigned pick = next(r);
    struct handle made, *h;
    if (pick % (NDIRS + 1) < NDIRS) {
        h = &fx.dirs[pick % (NDIRS + 1)];
    } else { /* a directory the watcher never saw */
        made = fx.dirs[0];
        made.h.fh.f_handle[0] ^= (unsigned char)(next(r) | 1);
        h = &made;
    }
    const char *name = with_name ? names[next(r) % (sizeof(names) / sizeof(names[0]))] : "";
    size_t nlen = with_name ? strlen(name) + 1 : 0;
    size_t fhlen = sizeof(struct file_handle) + h->h.fh.handle_bytes;
    size_t len = sizeof(struct fanotify_event_info_header) + 8 + fhlen + nlen;
    len = (len + 3) & ~(size_t)3;
    if (len > room)
        return 0;
    memset(out, 0, len);
    struct fanotify_event_info_header hdr = {.info_type = type, .len = (uint16_t)len};
    memcpy(out, &hdr, sizeof(hdr));
    memcpy(out + sizeof(hdr), h->fsid, 8);
    memcpy(out + sizeof(hdr) + 8, &h->h, fhlen);
    memcpy(out + sizeof(hdr) + 8 + fhlen, name, nlen);
    return len;
}

static const uint64_t mask_bits[] = {FAN_CREATE, FAN_DELETE, FAN_MODIFY, FAN_ATTRIB,
                                     FAN_DELETE_SELF, FAN_MOVE_SELF, FAN_ONDIR, FAN_Q_OVERFLOW};

static size_t build(const uint8_t *data, size_t size)
{
    struct reader r = {data, size};
    size_t used = 0;
    while (r.left && used + 1024 < BUF_MAX) {
        unsigned op = next(&r);
        uint64_t mask = 0;
        for (size_t b = 0; b < sizeof(mask_bits) / sizeof(mask_bits[0]); b++)
            if (op & (1u << b))
                mask |= mask_bits[b];
        int rename = (mask & FAN_Q_OVERFLOW) && (op & 1); /* overflow stays rarer */
        if (rename)
            mask = FAN_RENAME | (mask & FAN_ONDIR);
        unsigned char *ev = fx.buf + used;
        size_t len = sizeof(struct fanotify_event_metadata), room = BUF_MAX - used;
        if (mask != FAN_Q_OVERFLOW) {
            if (rename) {
                len += put_record(ev + len, room - len, FAN_EVENT_INFO_TYPE_OLD_DFID_NAME, &r, 1);
                len += put_record(ev + len, room - len, FAN_EVENT_INFO_TYPE_NEW_DFID_NAME, &r, 1);
            } else {
                len += put_record(ev + len, room - len, FAN_EVENT_INFO_TYPE_DFID_NAME, &r, 1);
            }
            if (next(&r) & 1)
                len += put_record(ev + len, room - len, FAN_EVENT_INFO_TYPE_FID, &r, 0);
        }
        struct fanotify_event_metadata md = {
            .event_len = (uint32_t)len,
            .vers = FANOTIFY_METADATA_VERSION,
            .metadata_len = sizeof(md),
            .mask = mask,
            .fd = FAN_NOFD,
        };
        memcpy(ev, &md, sizeof(md));
        used += len;
    }
    return used;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!size)
        return 0;
    if (++fx.runs % RESET_EVERY == 0 || inowatch_root_count(fx.w) == 0)
        start_watcher();
    inowatch *w = fx.w;
    const unsigned char *in = data + 1;
    size_t n = size - 1;
    if (!(data[0] & 1)) {
        n = build(data + 1, size - 1);
        in = fx.buf;
    }
    if (iw_grow(&w->rd, &w->rd_cap, n + 1, 1) < 0)
        return 0;
    memcpy(w->rd, in, n);
    w->rd_start = 0;
    w->rd_end = n;
    iw_batch_reset(&w->batch);
    if (iw_apply_buffer(w) == 0 && iw_scan_pending(w) == 0)
        iw_verify_renamed(w);
    w->rd_start = w->rd_end = 0;
    w->overflowed = 0; /* a rescan per input would only slow the fuzzer */
    const struct inowatch_event *ev;
    while (inowatch_next(w, &ev) > 0)
        if (ev->path_len != strlen(ev->path)) /* paths are whole strings */
            abort();
    return 0;
}
